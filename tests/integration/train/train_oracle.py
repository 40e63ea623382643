"""Test-only oracle: checks what `carprice train` left in MLflow with the
official mlflow client, and that its registered model, loaded by PySpark
(Spark Connect client) from the version's model_path, reproduces the holdout
metric the run logged.

    train_oracle.py TRACKING_URI REMOTE RUN_ID MODEL_NAME FOLDS RAW_URI SQL_DIR

Prints "pred<TAB>listing_id<TAB>prediction" for 20 holdout rows (for the C
test to compare with its own transform) and "ok" last. Exit status 0 when
every check passed, 1 with a message otherwise.
"""

import math
import sys


def fail(msg: str) -> None:
    raise SystemExit(f"oracle: {msg}")


def check(cond: bool, msg: str) -> None:
    if not cond:
        fail(msg)


def main() -> None:
    uri, remote, run_id, name, folds, raw_uri, sql_dir = sys.argv[1:8]
    folds = int(folds)
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)
    c = MlflowClient(uri)
    run = c.get_run(run_id)
    check(run.info.status == "FINISHED", f"run status {run.info.status}")
    p, m, t = run.data.params, run.data.metrics, run.data.tags
    for key in ("holdout", "seed", "folds", "parallelism", "base_models", "min_category_count"):
        check(key in p, f"parent param {key} missing")
    check(p["folds"] == str(folds), "folds param")
    for key in ("secs_etl", "secs_features", "secs_cv", "secs_stack", "secs_refit",
                "secs_validation", "secs_total", "holdout_rmse_log", "holdout_r2_log",
                "holdout_rmse", "holdout_mae", "holdout_r2", "rows_read", "rows_dropped"):
        check(key in m, f"parent metric {key} missing")
    for key in ("carprice.batches", "carprice.inputs", "carprice.rows_read",
                "carprice.rows_dropped", "carprice.spark_version", "carprice.model_path",
                "carprice.gate", "carprice.model_version"):
        check(key in t, f"parent tag {key} missing")
    check(t["carprice.spark_version"].startswith("4."), "spark version tag")
    dropped = sum(int(v) for k, v in t.items() if k.startswith("carprice.dropped."))
    check(dropped == int(t["carprice.rows_dropped"]), "dropped by reason != rows_dropped")
    check(int(m["rows_read"]) == int(t["carprice.rows_read"]), "rows_read metric vs tag")

    # Nested runs: one per base model and the stacker.
    exp = run.info.experiment_id
    children = c.search_runs([exp], f"tags.mlflow.parentRunId = '{run_id}'")
    names = sorted(r.info.run_name for r in children)
    bases = p["base_models"].split(",")
    check(names == sorted(bases + ["stack"]), f"nested runs {names}")
    for r in children:
        check(r.info.status == "FINISHED", f"{r.info.run_name} status")
        rm = r.data.metrics
        for key in ("holdout_rmse_log", "holdout_r2_log", "holdout_rmse", "holdout_mae"):
            check(key in rm, f"{r.info.run_name}: metric {key} missing")
        if r.info.run_name == "stack":
            check(all(f"coef.{b}" in rm for b in bases), "stack coefficients")
            continue
        rp = r.data.params
        grid = {k[5:]: v.split(",") for k, v in rp.items() if k.startswith("grid.")}
        check(grid, f"{r.info.run_name}: no grid params")
        for k, values in grid.items():
            check(rp.get(k) in values, f"{r.info.run_name}: chosen {k} not in its grid")
        hist = c.get_metric_history(r.info.run_id, "cv_rmse_log")
        steps = sorted(h.step for h in hist)
        check(steps == list(range(folds)), f"{r.info.run_name}: cv folds {steps}")
        mean = sum(h.value for h in hist) / folds
        check(abs(mean - rm["cv_rmse_log_mean"]) < 1e-9 * max(1.0, mean),
              f"{r.info.run_name}: cv mean {rm['cv_rmse_log_mean']} != {mean}")
        for key in ("secs_cv", "secs_final_fit", "cv_rmse_log_std"):
            check(key in rm, f"{r.info.run_name}: metric {key} missing")

    # Artifacts: the plots and the spark-flavor model.
    plots = [f.path for f in c.list_artifacts(run_id, "plots")]
    for want in ("predicted_vs_actual.png", "residuals_histogram.png",
                 "residuals_vs_predicted.png", "feature_importances.png"):
        check(f"plots/{want}" in plots, f"plot {want} missing ({plots})")
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="plots")
    with open(f"{local}/predicted_vs_actual.png", "rb") as f:
        check(f.read(8) == b"\x89PNG\r\n\x1a\n", "not a PNG")
    from mlflow.models import Model
    mm = Model.load(f"runs:/{run_id}/model")
    check("spark" in mm.flavors, f"flavors {list(mm.flavors)}")

    # The registered version and its model_path.
    version = t["carprice.model_version"]
    mv = c.get_model_version(name, version)
    check(mv.run_id == run_id, "version's run id")
    path = mv.tags.get("model_path")
    check(path == t["carprice.model_path"], "model_path tag")

    # PySpark loads the model from HDFS and reproduces the logged holdout
    # RMSE on the same rows (the hash split of train_rows.sql's output).
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(remote).getOrCreate()
    with open(f"{sql_dir}/raw_schema.ddl") as f:
        ddl = " ".join(l.strip() for l in f if l.strip() and not l.lstrip().startswith("--"))
    raw = (spark.read.schema(ddl).option("header", "true").option("multiLine", "true")
           .option("escape", '"').csv(raw_uri))
    raw.createOrReplaceTempView("raw_listings")
    spark.sql(open(f"{sql_dir}/features.sql").read()).createOrReplaceTempView("listing_features")
    rows = spark.sql(open(f"{sql_dir}/train_rows.sql").read())
    seed = int(p["seed"])
    cut = int(float(p["holdout"]) * 10000 + 0.5)
    hold = rows.where(f"drop_reason IS NULL AND pmod(xxhash64(coalesce(nullif(listing_id, ''),"
                      f" vin), {seed}), 10000) < {cut}")
    model = PipelineModel.load(path)
    scored = model.transform(hold)
    got = scored.selectExpr("sqrt(avg(pow(label - prediction, 2)))", "count(*)").collect()[0]
    want = m["holdout_rmse_log"]
    check(abs(got[0] - want) < 1e-9 * max(1.0, want),
          f"PySpark holdout rmse {got[0]} != logged {want}")
    for r in scored.select("listing_id", "prediction").orderBy("listing_id").limit(20).collect():
        check(math.isfinite(r["prediction"]), "non-finite prediction")
        print(f"pred\t{r['listing_id']}\t{r['prediction']!r}")
    spark.stop()
    print("ok")


if __name__ == "__main__":
    main()
