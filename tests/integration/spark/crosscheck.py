"""Test oracle: runs the queries of crosscheck_queries.sql through the official
PySpark Connect client and compares every cell with the dump written by
test_spark_types (our C client). Exit 0 when identical, 1 with the first
difference otherwise, 77 (skip) when the oracle is not installed."""
import base64
import datetime
import decimal
import os
import struct
import sys

try:
    from pyspark.sql import SparkSession
except ImportError:
    print("pyspark-client not installed; run scripts/bootstrap python")
    sys.exit(77)

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def canon(v):
    """The same canonical text the C test prints."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "f:" + struct.pack(">d", v).hex()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        d = v - EPOCH
        return "ts:%d" % (d.days * 86400 * 1000000 + d.seconds * 1000000 + d.microseconds)
    if isinstance(v, datetime.date):
        return "date:%d" % (v - datetime.date(1970, 1, 1)).days
    if isinstance(v, str):
        return "str:" + base64.b64encode(v.encode()).decode()
    raise TypeError(type(v))


def main():
    remote, queries_file, dump_file = sys.argv[1:4]
    remote = os.environ.get("CARPRICE_SPARK_REMOTE") or remote
    spark = SparkSession.builder.remote(remote).getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    queries = [q for q in open(queries_file, encoding="utf-8").read().splitlines() if q.strip()]
    ours = open(dump_file, encoding="utf-8").read().splitlines()
    theirs = []
    for qi, q in enumerate(queries):
        rows = spark.sql(q).collect()
        theirs.append("query %d rows %d" % (qi, len(rows)))
        for ri, row in enumerate(rows):
            theirs.append("%d.%d " % (qi, ri) + "|".join(canon(v) for v in row))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            print("line %d differs:\n  C:       %s\n  PySpark: %s" % (i, a, b))
            return 1
    if len(ours) != len(theirs):
        print("C wrote %d lines, PySpark %d" % (len(ours), len(theirs)))
        return 1
    print("identical: %d lines over %d queries" % (len(ours), len(queries)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
