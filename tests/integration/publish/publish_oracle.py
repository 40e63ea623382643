"""Test-only oracle: checks a model that carprice published and registered,
with the official mlflow client and the PySpark Spark Connect client, and
prints its predictions so that the C test can compare them with its own.

    publish_oracle.py TRACKING_URI REMOTE NAME VERSION ALIAS RUN_ID ROWS_SQL

Checks: the run's artifacts hold model/MLmodel with the spark flavor and the
environment files; the version's tags and source; MLflow's own parser reads
the MLmodel behind models:/NAME/VERSION; the run's mlflow.log-model.history
tag lists the model. Then it loads the model three ways
and predicts ROWS_SQL (a query with an `id` column) with each:

  mlflow.spark.load_model("models:/NAME/VERSION")  the official loader; with
      the pure Spark Connect client it is expected to fail (it needs a JVM
      SparkContext), and the outcome is reported, not asserted;
  download_artifacts("models:/NAME@ALIAS") then PipelineModel.load of the
      downloaded sparkml/ (the server runs on this host and reads it);
  PipelineModel.load of the version's model_path tag (the HDFS copy that
      serving uses).

Output lines (tab-separated): "loader<TAB>ok|failed<TAB>detail",
"files<TAB>N" (files under the downloaded sparkml/), then
"pred<TAB>SOURCE<TAB>id<TAB>prediction" with SOURCE one of load_model,
artifacts, hdfs and the prediction as repr(float). Exit status 0 when every
check passed, 1 with a message on stderr otherwise.
"""

import json
import os
import sys
import tempfile


def fail(msg: str) -> None:
    raise SystemExit(f"oracle: {msg}")


def predictions(model, spark, rows_sql):
    out = model.transform(spark.sql(rows_sql)).select("id", "prediction").orderBy("id")
    return [(r["id"], r["prediction"]) for r in out.collect()]


def main() -> int:
    if len(sys.argv) != 8:
        print(__doc__, file=sys.stderr)
        return 2
    tracking_uri, remote, name, version, alias, run_id, rows_sql = sys.argv[1:]

    import mlflow
    import yaml
    from mlflow import MlflowClient
    from mlflow.models import Model
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient()

    # The run's artifacts: the layout of a spark-flavor model.
    listed = {f.path: f.is_dir for f in client.list_artifacts(run_id, "model")}
    for want, is_dir in [
        ("model/MLmodel", False),
        ("model/sparkml", True),
        ("model/conda.yaml", False),
        ("model/python_env.yaml", False),
        ("model/requirements.txt", False),
    ]:
        if listed.get(want) is not is_dir:
            fail(f"run {run_id} artifacts: {want} missing or wrong kind; have {sorted(listed)}")
    sparkml = {f.path for f in client.list_artifacts(run_id, "model/sparkml")}
    if "model/sparkml/metadata" not in sparkml or "model/sparkml/stages" not in sparkml:
        fail(f"model/sparkml is not a PipelineModel directory: {sorted(sparkml)}")

    # The registered version.
    mv = client.get_model_version(name, version)
    if mv.status != "READY":
        fail(f"version {version} status {mv.status}")
    if mv.run_id != run_id or mv.tags.get("run_id") != run_id:
        fail(f"version {version}: run_id {mv.run_id}, tag {mv.tags.get('run_id')}, want {run_id}")
    model_path = mv.tags.get("model_path", "")
    if not model_path.startswith("hdfs://"):
        fail(f"version {version}: tag model_path is {model_path!r}")
    if not mv.source.endswith(f"/{run_id}/artifacts/model"):
        fail(f"version {version}: source {mv.source}")
    if client.get_model_version_by_alias(name, alias).version != version:
        fail(f"alias {alias} does not point to version {version}")

    # MLflow's own reading of the MLmodel behind models:/NAME/VERSION.
    uri = f"models:/{name}/{version}"
    meta = Model.load(uri)
    spark_flavor = meta.flavors.get("spark") or fail(f"{uri}: no spark flavor: {meta.flavors}")
    pyfunc = meta.flavors.get("python_function") or fail(f"{uri}: no python_function flavor")
    if spark_flavor.get("model_data") != "sparkml" or not spark_flavor.get("pyspark_version"):
        fail(f"{uri}: spark flavor {spark_flavor}")
    if pyfunc.get("loader_module") != "mlflow.spark" or pyfunc.get("data") != "sparkml":
        fail(f"{uri}: python_function flavor {pyfunc}")
    if meta.run_id != run_id or meta.artifact_path != "model" or len(meta.model_uuid) != 32:
        fail(f"{uri}: run_id {meta.run_id} artifact_path {meta.artifact_path} "
             f"model_uuid {meta.model_uuid}")
    if (meta.metadata or {}).get("carprice_model_path") != model_path:
        fail(f"{uri}: metadata {meta.metadata} does not name {model_path}")
    if not meta.model_size_bytes or meta.model_size_bytes <= 0:
        fail(f"{uri}: model_size_bytes {meta.model_size_bytes}")
    if not str(meta.utc_time_created).startswith("20"):
        fail(f"{uri}: utc_time_created {meta.utc_time_created!r}")

    # The run lists the model as mlflow.spark.log_model would.
    history = json.loads(client.get_run(run_id).data.tags.get("mlflow.log-model.history", "[]"))
    if not any(
        h.get("model_uuid") == meta.model_uuid
        and h.get("artifact_path") == "model"
        and h.get("flavors", {}).get("spark", {}).get("model_data") == "sparkml"
        for h in history
    ):
        fail(f"run {run_id}: mlflow.log-model.history lacks the model: {history}")

    spark = SparkSession.builder.remote(remote).getOrCreate()
    try:
        results = {}
        # 1. The official loader.
        with tempfile.TemporaryDirectory(prefix="mlflow-dfs-") as dfs_tmp:
            try:
                model = mlflow.spark.load_model(uri, dfs_tmpdir=dfs_tmp)
                results["load_model"] = predictions(model, spark, rows_sql)
                print("loader\tok\tmlflow.spark.load_model works over Spark Connect")
            except Exception as e:  # noqa: BLE001 - the outcome is what we report
                detail = f"{type(e).__name__}: {e}".replace("\n", " ")[:300]
                print(f"loader\tfailed\t{detail}")

        # 2. The artifacts, downloaded through the registry by alias.
        with tempfile.TemporaryDirectory(prefix="publish-oracle-") as tmp:
            local = mlflow.artifacts.download_artifacts(f"models:/{name}@{alias}", dst_path=tmp)
            with open(os.path.join(local, "MLmodel")) as f:
                if yaml.safe_load(f)["flavors"]["spark"]["model_data"] != "sparkml":
                    fail("downloaded MLmodel differs")
            with open(os.path.join(local, "requirements.txt")) as f:
                reqs = f.read().split()
            if not any(r.startswith("pyspark==") for r in reqs):
                fail(f"requirements.txt: {reqs}")
            nfiles = sum(len(fs) for _, _, fs in os.walk(os.path.join(local, "sparkml")))
            print(f"files\t{nfiles}")
            model = PipelineModel.load(os.path.join(local, "sparkml"))
            results["artifacts"] = predictions(model, spark, rows_sql)

        # 3. The HDFS copy named by the version's tag.
        results["hdfs"] = predictions(PipelineModel.load(model_path), spark, rows_sql)

        for source, rows in results.items():
            if not rows:
                fail(f"{source}: no predictions")
            for i, p in rows:
                print(f"pred\t{source}\t{i}\t{p!r}")
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
