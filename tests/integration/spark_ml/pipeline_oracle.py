"""Test-only oracle: loads a PipelineModel directory with the official PySpark
Connect client and prints its predictions, so the C test can compare them
with its own.

    pipeline_oracle.py REMOTE PIPELINE_PATH ROWS_PATH

ROWS_PATH is a Parquet directory with an `id` column. Output: one line per
row, "id<TAB>prediction" ordered by id, the prediction as repr(float) (exact
round trip through strtod). Exit status 0 on success, 1 with a message on
stderr otherwise.
"""

import sys


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    remote, pipeline_path, rows_path = sys.argv[1:]

    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(remote).getOrCreate()
    try:
        model = PipelineModel.load(pipeline_path)
        stages = [type(s).__name__ for s in model.stages]
        print("stages: " + ",".join(stages), file=sys.stderr)
        rows = spark.read.parquet(rows_path)
        out = model.transform(rows).select("id", "prediction").orderBy("id").collect()
        for r in out:
            print(f"{r['id']}\t{r['prediction']!r}")
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
