"""Benchmark baseline: the same collect with the official PySpark Connect client.
mode 'collect' builds Row objects (df.collect()); 'arrow' keeps Arrow tables
(df.toArrow()), PySpark's leanest path."""
import os
import sys
import time

from pyspark.sql import SparkSession

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
mode = sys.argv[2] if len(sys.argv) > 2 else "collect"
remote = os.environ.get("CARPRICE_SPARK_REMOTE", "sc://127.0.0.1:15002")
spark = SparkSession.builder.remote(remote).getOrCreate()
df = spark.sql(
    "SELECT id, id * 1.5D AS d, CAST(id AS STRING) AS s, id % 2 = 0 AS b, "
    "date_add(DATE'2020-01-01', CAST(id % 1000 AS INT)) AS dt FROM range(" + str(rows) + ")")
t0 = time.monotonic()
if mode == "arrow":
    t = df.toArrow()
    n = t.num_rows
else:
    res = df.collect()
    n = len(res)
t1 = time.monotonic()
print("client=pyspark-%s rows=%d collect_s=%.3f" % (mode, n, t1 - t0))
