#!/usr/bin/env python3
"""Writes the small Arrow IPC stream fixtures test_arrow.c reads.

Run with the project venv (pyarrow comes with pyspark-client):
    ~/.cache/carprice/venv/bin/python tests/unit/sparkconnect_arrow/make_fixtures.py
The .arrows files are committed; rerun only to change them, and update the
expected values in test_arrow.c to match.
"""
import datetime as dt
import decimal
import os
import sys

import pyarrow as pa
import pyarrow.ipc as ipc

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
UTC = dt.timezone.utc


def write(name, table, max_chunksize=None, empty_batch=False, **opts):
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema, options=ipc.IpcWriteOptions(**opts)) as w:
        if empty_batch:
            w.write_batch(pa.RecordBatch.from_pylist([], schema=table.schema))
        elif table.num_rows:
            w.write_table(table, max_chunksize=max_chunksize)
    data = sink.getvalue().to_pybytes()
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes", file=sys.stderr)


def all_types():
    """Every type Spark sends for plain columns, a NULL in each, 5 rows."""
    D = decimal.Decimal
    return pa.table({
        "b": pa.array([True, False, None, True, False], pa.bool_()),
        "i8": pa.array([-128, 127, None, 0, 1], pa.int8()),
        "i16": pa.array([-32768, 32767, None, 0, -1], pa.int16()),
        "i32": pa.array([-2147483648, 2147483647, None, 0, 42], pa.int32()),
        "i64": pa.array([-(2**63), 2**63 - 1, None, 0, 1234567890123], pa.int64()),
        "f32": pa.array([1.5, -0.1, None, float("inf"), float("nan")], pa.float32()),
        "f64": pa.array([0.1, -2.5e-300, None, float("-inf"), 1.0], pa.float64()),
        "dec": pa.array([D("12345678.90"), D("-0.05"), None, D("0.00"), D("-99999999.99")],
                        pa.decimal128(10, 2)),
        "s": pa.array(["hello", "", None, "żółw €", "x" * 40], pa.utf8()),
        "bin": pa.array([b"\x00\x01\xff", b"", None, b"abc", b"\x7f"], pa.binary()),
        "d": pa.array([dt.date(2024, 2, 29), dt.date(1969, 12, 31), None, dt.date(1970, 1, 1),
                       dt.date(1, 1, 1)], pa.date32()),
        "ts": pa.array([dt.datetime(2024, 2, 29, 13, 45, 6, 789000, tzinfo=UTC),
                        dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), None,
                        dt.datetime(1970, 1, 1, tzinfo=UTC),
                        dt.datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC)],
                       pa.timestamp("us", tz="UTC")),
        "ts_ntz": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5), None, None,
                            dt.datetime(1970, 1, 1), dt.datetime(1900, 6, 15, 12, 0, 0, 500000)],
                           pa.timestamp("us")),
        "n": pa.array([None] * 5, pa.null()),
    })


def other_types():
    """Large string/binary, date64, other timestamp units, small decimals."""
    D = decimal.Decimal
    return pa.table({
        "ls": pa.array(["large", None, ""], pa.large_utf8()),
        "lb": pa.array([b"\x01\x02", None, b""], pa.large_binary()),
        "d64": pa.array([dt.date(2024, 2, 29), None, dt.date(1969, 12, 31)], pa.date64()),
        "ts_s": pa.array([1, None, -1], pa.timestamp("s")),
        "ts_ms": pa.array([1500, None, -1500], pa.timestamp("ms", tz="+01:00")),
        "ts_ns": pa.array([1999, None, -1], pa.timestamp("ns")),
        "dec32": pa.array([D("1.23"), None, D("-9.99")], pa.decimal32(3, 2)),
        "dec64": pa.array([D("123456789012.345678"), None, D("-0.000001")], pa.decimal64(18, 6)),
        "dec38": pa.array([D("9" * 38), None, D("-" + "9" * 38)], pa.decimal128(38, 0)),
        "decneg": pa.array([D("12300"), None, D("-500")], pa.decimal128(5, -2)),
    })


def unsupported_types():
    """Types we do not decode, each followed by an int column that must still decode."""
    cols = {}
    n = 3
    nested = {
        "list": pa.array([[1, 2], None, []], pa.list_(pa.int32())),
        "large_list": pa.array([[1], [2, 3], None], pa.large_list(pa.int64())),
        "fsl": pa.array([[1, 2], None, [5, 6]], pa.list_(pa.int16(), 2)),
        "struct": pa.array([{"a": 1, "b": "x"}, None, {"a": None, "b": "z"}],
                           pa.struct([("a", pa.int32()), ("b", pa.utf8())])),
        "map": pa.array([[("k", 1)], None, []], pa.map_(pa.utf8(), pa.int64())),
        "sparse": pa.UnionArray.from_sparse(pa.array([0, 1, 0], pa.int8()),
                                            [pa.array([1, 2, 3]), pa.array(["a", "b", "c"])]),
        "dense": pa.UnionArray.from_dense(pa.array([0, 1, 0], pa.int8()),
                                          pa.array([0, 0, 1], pa.int32()),
                                          [pa.array([1, 2]), pa.array(["a"])]),
        "ree": pa.RunEndEncodedArray.from_arrays(pa.array([2, 3], pa.int32()),
                                                 pa.array(["a", "b"])),
        "list_view": pa.array([[1], None, [2, 3]], pa.list_view(pa.int32())),
        "time": pa.array([1, None, 3], pa.time32("ms")),
        "duration": pa.array([1, None, 3], pa.duration("us")),
        "interval": pa.array([pa.scalar((1, 2, 3), pa.month_day_nano_interval()).as_py(), None,
                              None], pa.month_day_nano_interval()),
        "fsb": pa.array([b"ab", None, b"cd"], pa.binary(2)),
        "uint8": pa.array([1, None, 255], pa.uint8()),
        "f16": pa.array([None, None, None], pa.float16()),
        "dec256": pa.array([decimal.Decimal("1.5"), None, None], pa.decimal256(40, 1)),
    }
    for i, (name, arr) in enumerate(nested.items()):
        assert len(arr) == n, name
        cols[name] = arr
        cols[f"after_{name}"] = pa.array([i * 10, None, i * 10 + 2], pa.int32())
    return pa.table(cols)


def main():
    os.makedirs(HERE, exist_ok=True)
    t = all_types()
    write("all_types.arrows", t, max_chunksize=2)  # batches of 2, 2, 1 rows
    write("all_types_legacy.arrows", t, use_legacy_format=True)
    write("schema_only.arrows", t.slice(0, 0))
    write("empty_batch.arrows", t, empty_batch=True)
    write("other_types.arrows", other_types())
    write("unsupported.arrows", unsupported_types())

    # Same names as all_types, one type changed: streams may not disagree.
    changed = t.set_column(t.schema.get_field_index("i32"), "i32",
                           pa.array([1, 2, None, 3, 4], pa.int64()))
    write("mismatch.arrows", changed)

    small = pa.table({"s": pa.array(["a" * 100, "b" * 100, None])})
    write("zstd.arrows", small, compression="zstd")
    dict_t = pa.table({"k": pa.array(["a", "b", "a"]).dictionary_encode()})
    write("dictionary.arrows", dict_t)
    view_t = pa.table({"v": pa.array(["a", None, "c"], pa.string_view()),
                       "after": pa.array([1, 2, 3], pa.int32())})
    write("view.arrows", view_t)


if __name__ == "__main__":
    main()
