"""Baselines for the serving benchmark (bench/run-serve, docs/serve-benchmark.md).

Two classic PySpark Structured Streaming jobs (their own local JVM, not Spark
Connect) doing what `carprice serve` does: Kafka requests -> parse ->
sql/features.sql -> the registered MLflow model -> Kafka predictions, with the
same prediction JSON (request_id, predicted_price, model_name, model_version,
request_ts_ms, predicted_at_ms):

  spark  (a) the usual way: mlflow.spark.load_model + model.transform
  pyfunc (b) the generic MLflow way: mlflow.pyfunc.spark_udf on the feature columns

Simplifications against serve (they make the baselines' work lighter, not
heavier): requests are parsed with from_json and a fixed schema instead of
the VARIANT checks, and a request that fails the year/mileage rules is
dropped instead of written to a dead-letter topic.

`stats` is the measurement: it reads `kcat -f '%k\\t%T\\t%s\\n'` lines of a
predictions topic and prints count, p50/p99 latency (Kafka timestamp of the
prediction minus request_ts_ms) and the answered rate for one run id, plus
window_per_s: predictions of any run written in a time window per second
(what a saturated system really processes while it still works off an
earlier backlog).
"""
import argparse
import json
import os
import signal
import sys
import time


def baseline(a):
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    import mlflow

    spark = (SparkSession.builder.master("local[%d]" % a.cores)
             .appName("carprice-bench-" + a.mode)
             .config("spark.jars", a.jars)
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", str(a.cores))
             .config("spark.driver.memory", a.memory)
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    mlflow.set_tracking_uri(a.tracking_uri)

    ddl_path = os.path.join(a.sql_dir, "raw_schema.ddl")
    with open(ddl_path) as f:
        cols = [ln.strip().rstrip(",") for ln in f
                if ln.strip() and not ln.lstrip().startswith("--")]
    cols = [c for c in cols if not c.startswith("`price`")]
    req_schema = ("request_id STRING, sent_at_ms BIGINT, record STRUCT<%s>"
                  % ", ".join(c.replace(" STRING", ": STRING") for c in cols))
    with open(os.path.join(a.sql_dir, "features.sql")) as f:
        features_sql = f.read()

    t0 = time.monotonic()
    if a.mode == "spark":
        model = mlflow.spark.load_model(a.model_uri)
    else:
        udf = mlflow.pyfunc.spark_udf(spark, a.model_uri, result_type="double",
                                      env_manager="local")
    print("model loaded in %.1f s" % (time.monotonic() - t0), flush=True)

    raw = (spark.readStream.format("kafka")
           .option("kafka.bootstrap.servers", a.bootstrap)
           .option("subscribe", a.requests_topic)
           .option("startingOffsets", "earliest")
           .load())
    req = (raw.select(F.from_json(F.col("value").cast("string"), req_schema).alias("m"))
           .select("m.request_id", "m.sent_at_ms", "m.record.*")
           .where("request_id IS NOT NULL AND sent_at_ms IS NOT NULL"
                  " AND try_cast(year AS INT) BETWEEN 1950 AND"
                  " year(coalesce(try_cast(listed_date AS DATE), current_date())) + 1"
                  " AND (mileage IS NULL OR try_cast(mileage AS DOUBLE) BETWEEN 0 AND 1000000)"))
    req.createOrReplaceTempView("raw_listings")
    feats = spark.sql(features_sql)
    if a.mode == "spark":
        scored = model.transform(feats)
    else:
        fcols = [c for c in feats.columns if c.startswith("f_")]
        # One struct argument: spark_udf hands the model a pandas DataFrame with
        # these names (separate columns would arrive named 0, 1, 2, ...).
        scored = feats.withColumn("prediction", udf(F.struct(*fcols)))
    now_ms = F.expr("CAST(java_method('java.lang.System', 'currentTimeMillis') AS BIGINT)")
    out = scored.select(
        F.col("request_id").alias("key"),
        F.to_json(F.struct(
            F.col("request_id"),
            F.exp("prediction").alias("predicted_price"),
            F.lit(a.model_name).alias("model_name"),
            F.lit(a.model_version).alias("model_version"),
            F.col("sent_at_ms").alias("request_ts_ms"),
            now_ms.alias("predicted_at_ms"))).alias("value"))
    q = (out.writeStream.format("kafka")
         .option("kafka.bootstrap.servers", a.bootstrap)
         .options(**({"kafka.linger.ms": str(a.linger_ms)} if a.linger_ms is not None else {}))
         .option("topic", a.predictions_topic)
         .option("checkpointLocation", a.checkpoint)
         .trigger(processingTime="%d milliseconds" % a.trigger_ms)
         .queryName("carprice_bench_" + a.mode)
         .start())
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    ready = False
    while not stop and q.isActive:
        time.sleep(0.5)
        if not ready and q.lastProgress is not None:
            ready = True
            with open(a.ready_file, "w") as f:
                f.write("ready\n")
            print("query running (first batch done)", flush=True)
    if not q.isActive:
        print("query died: %s" % q.exception(), file=sys.stderr, flush=True)
        return 1
    q.stop()
    spark.stop()
    return 0


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[i]


def stats(a):
    """One result line for the run id a.run_id from kcat lines on stdin/file."""
    seen = set()
    lat = []
    first_sent = None
    last_answer = None
    in_window = 0
    with open(a.file, errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 2)
            if len(parts) == 3 and parts[0] != "init" and parts[1].isdigit() \
                    and a.from_ms <= int(parts[1]) <= a.to_ms:
                in_window += 1
            if len(parts) != 3 or not parts[0].startswith(a.run_id + "-"):
                continue
            if parts[0] in seen:
                continue
            seen.add(parts[0])
            try:
                ts = int(parts[1])
                sent = int(json.loads(parts[2])["request_ts_ms"])
            except (ValueError, KeyError, TypeError):
                continue
            lat.append(ts - sent)
            first_sent = sent if first_sent is None else min(first_sent, sent)
            last_answer = ts if last_answer is None else max(last_answer, ts)
    lat.sort()
    n = len(lat)
    span = (last_answer - first_sent) / 1000.0 if n else 0.0
    rate = n / span if span > 0 else 0.0
    window = (a.to_ms - a.from_ms) / 1000.0
    print(json.dumps({"run_id": a.run_id, "answered": n, "sent": a.sent,
                      "answered_per_s": round(rate, 1),
                      "window_per_s": round(in_window / window, 1) if window > 0 else 0.0,
                      "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
                      "max_ms": lat[-1] if lat else None}))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("run")
    b.add_argument("--mode", choices=["spark", "pyfunc"], required=True)
    b.add_argument("--model-uri", required=True)
    b.add_argument("--model-name", default="carprice")
    b.add_argument("--model-version", default="unknown")
    b.add_argument("--bootstrap", default=os.environ.get("CARPRICE_KAFKA_BOOTSTRAP",
                                                         "127.0.0.1:9092"))
    b.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI",
                                                            "http://127.0.0.1:5000"))
    b.add_argument("--requests-topic", required=True)
    b.add_argument("--predictions-topic", required=True)
    b.add_argument("--checkpoint", required=True)
    b.add_argument("--sql-dir", required=True)
    b.add_argument("--jars", required=True, help="comma-separated Kafka connector jars")
    b.add_argument("--ready-file", required=True)
    b.add_argument("--trigger-ms", type=int, default=500)
    b.add_argument("--linger-ms", type=int,
                   help="kafka.linger.ms of the sink's producer (default: the client's)")
    b.add_argument("--cores", type=int, default=2)
    b.add_argument("--memory", default="2g")
    s = sub.add_parser("stats")
    s.add_argument("--file", required=True)
    s.add_argument("--run-id", required=True)
    s.add_argument("--sent", type=int, default=0)
    s.add_argument("--from-ms", type=int, default=0,
                   help="window_per_s: answers of any run with a Kafka timestamp in FROM..TO")
    s.add_argument("--to-ms", type=int, default=0)
    a = ap.parse_args()
    return baseline(a) if a.cmd == "run" else stats(a)


if __name__ == "__main__":
    sys.exit(main())
