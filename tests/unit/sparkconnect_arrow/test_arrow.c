/* Arrow IPC reader and result API: decoding pyarrow-written fixtures (see
 * make_fixtures.py) of every type Spark sends, multi-batch and multi-stream
 * results, schema checks, limits and API misuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "arrow_internal.h"
#include "arrow_test_util.h"
#include "sparkconnect/result.h"

static sc_result_t *load(const char *fixture)
{
    bytes_t b = load_fixture(fixture);
    sc_result_t *r = sc_result_new();
    assert_non_null(r);
    sc_error_t *err = sc_error_new();
    sc_code_t rc = sc_result_append_ipc(r, b.p, b.n, err);
    if (rc != SC_OK)
        fail_msg("%s: %s: %s", fixture, sc_code_name(rc), sc_error_message(err));
    sc_error_destroy(err);
    bt_free(&b);
    return r;
}

/* Asserts that cell (row, col) renders as `want`. */
static void expect_text(const sc_result_t *r, size_t row, size_t col, const char *want)
{
    char buf[256];
    sc_error_t *err = sc_error_new();
    sc_code_t rc = sc_result_format_value(r, row, col, buf, sizeof buf, err);
    if (rc != SC_OK)
        fail_msg("row %zu col %zu: %s", row, col, sc_error_message(err));
    if (strcmp(buf, want) != 0)
        fail_msg("row %zu col %zu (%s): got '%s', want '%s'", row, col, sc_result_col_name(r, col),
                 buf, want);
    sc_error_destroy(err);
}

static size_t col_of(const sc_result_t *r, const char *name)
{
    size_t i = 99;
    assert_int_equal(sc_result_col_index(r, name, &i, NULL), SC_OK);
    return i;
}

static void expect_column_text(const sc_result_t *r, const char *name, const char *const *want,
                               size_t n)
{
    size_t c = col_of(r, name);
    for (size_t row = 0; row < n; row++)
        expect_text(r, row, c, want[row]);
}

#define EXPECT_COLUMN(r, name, ...)                                                                \
    do {                                                                                           \
        const char *const w_[] = {__VA_ARGS__};                                                    \
        expect_column_text(r, name, w_, sizeof w_ / sizeof w_[0]);                                 \
    } while (0)

static void all_types_schema(void **state)
{
    (void)state;
    sc_result_t *r = load("all_types.arrows");
    static const struct {
        const char *name;
        sc_type_t type;
        const char *arrow;
    } want[] = {
        {"b", SC_TYPE_BOOL, "bool"},
        {"i8", SC_TYPE_INT8, "int8"},
        {"i16", SC_TYPE_INT16, "int16"},
        {"i32", SC_TYPE_INT32, "int32"},
        {"i64", SC_TYPE_INT64, "int64"},
        {"f32", SC_TYPE_FLOAT, "float32"},
        {"f64", SC_TYPE_DOUBLE, "float64"},
        {"dec", SC_TYPE_DECIMAL, "decimal128(10, 2)"},
        {"s", SC_TYPE_STRING, "utf8"},
        {"bin", SC_TYPE_BINARY, "binary"},
        {"d", SC_TYPE_DATE, "date32[day]"},
        {"ts", SC_TYPE_TIMESTAMP, "timestamp[us, tz=UTC]"},
        {"ts_ntz", SC_TYPE_TIMESTAMP, "timestamp[us]"},
        {"n", SC_TYPE_NULL, "null"},
    };
    size_t n = sizeof want / sizeof want[0];
    assert_int_equal(sc_result_num_cols(r), n);
    assert_int_equal(sc_result_num_rows(r), 5);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(sc_result_col_name(r, i), want[i].name);
        assert_int_equal(sc_result_col_type(r, i), want[i].type);
        assert_string_equal(sc_result_col_arrow_type(r, i), want[i].arrow);
        assert_true(sc_result_col_nullable(r, i));
    }
    assert_string_equal(sc_result_col_timezone(r, col_of(r, "ts")), "UTC");
    assert_string_equal(sc_result_col_timezone(r, col_of(r, "ts_ntz")), "");
    assert_string_equal(sc_result_col_timezone(r, 0), "");
    int32_t p = 0, s = 0;
    assert_int_equal(sc_result_col_decimal(r, col_of(r, "dec"), &p, &s, NULL), SC_OK);
    assert_int_equal(p, 10);
    assert_int_equal(s, 2);
    assert_int_equal(sc_result_col_decimal(r, 0, &p, &s, NULL), SC_ERR_INVALID_ARG);
    assert_null(sc_result_col_name(r, n));
    assert_null(sc_result_col_arrow_type(r, n));
    assert_int_equal(sc_result_col_type(r, n), SC_TYPE_UNSUPPORTED);
    sc_result_destroy(r);
}

static void all_types_values(void **state)
{
    (void)state;
    sc_result_t *r = load("all_types.arrows");
    EXPECT_COLUMN(r, "b", "true", "false", "NULL", "true", "false");
    EXPECT_COLUMN(r, "i8", "-128", "127", "NULL", "0", "1");
    EXPECT_COLUMN(r, "i16", "-32768", "32767", "NULL", "0", "-1");
    EXPECT_COLUMN(r, "i32", "-2147483648", "2147483647", "NULL", "0", "42");
    EXPECT_COLUMN(r, "i64", "-9223372036854775808", "9223372036854775807", "NULL", "0",
                  "1234567890123");
    EXPECT_COLUMN(r, "f32", "1.5", "-0.1", "NULL", "Infinity", "NaN");
    EXPECT_COLUMN(r, "f64", "0.1", "-2.5e-300", "NULL", "-Infinity", "1.0");
    EXPECT_COLUMN(r, "dec", "12345678.90", "-0.05", "NULL", "0.00", "-99999999.99");
    EXPECT_COLUMN(r, "s", "hello", "", "NULL", "żółw €",
                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    EXPECT_COLUMN(r, "bin", "0x0001ff", "0x", "NULL", "0x616263", "0x7f");
    EXPECT_COLUMN(r, "d", "2024-02-29", "1969-12-31", "NULL", "1970-01-01", "0001-01-01");
    EXPECT_COLUMN(r, "ts", "2024-02-29 13:45:06.789Z", "1969-12-31 23:59:59.999999Z", "NULL",
                  "1970-01-01 00:00:00Z", "2000-01-01 00:00:00.000001Z");
    EXPECT_COLUMN(r, "ts_ntz", "2024-01-02 03:04:05", "NULL", "NULL", "1970-01-01 00:00:00",
                  "1900-06-15 12:00:00.5");
    EXPECT_COLUMN(r, "n", "NULL", "NULL", "NULL", "NULL", "NULL");

    /* Typed getters. */
    bool bv;
    int64_t iv;
    double dv;
    const char *sp;
    const uint8_t *bp;
    size_t len;
    int32_t days;
    sc_decimal_t dec;
    assert_int_equal(sc_result_get_bool(r, 0, col_of(r, "b"), &bv, NULL), SC_OK);
    assert_true(bv);
    assert_int_equal(sc_result_get_int64(r, 0, col_of(r, "i8"), &iv, NULL), SC_OK);
    assert_int_equal(iv, -128);
    assert_int_equal(sc_result_get_int64(r, 1, col_of(r, "i16"), &iv, NULL), SC_OK);
    assert_int_equal(iv, 32767);
    assert_int_equal(sc_result_get_int64(r, 4, col_of(r, "i32"), &iv, NULL), SC_OK);
    assert_int_equal(iv, 42);
    assert_int_equal(sc_result_get_int64(r, 0, col_of(r, "i64"), &iv, NULL), SC_OK);
    assert_true(iv == INT64_MIN);
    assert_int_equal(sc_result_get_double(r, 0, col_of(r, "f32"), &dv, NULL), SC_OK);
    assert_true(dv == 1.5);
    assert_int_equal(sc_result_get_double(r, 4, col_of(r, "f32"), &dv, NULL), SC_OK);
    assert_true(isnan(dv));
    assert_int_equal(sc_result_get_double(r, 0, col_of(r, "f64"), &dv, NULL), SC_OK);
    assert_true(dv == 0.1);
    assert_int_equal(sc_result_get_string(r, 3, col_of(r, "s"), &sp, &len, NULL), SC_OK);
    assert_int_equal(len, strlen("żółw €"));
    assert_memory_equal(sp, "żółw €", len);
    assert_int_equal(sc_result_get_string(r, 1, col_of(r, "s"), &sp, &len, NULL), SC_OK);
    assert_non_null(sp);
    assert_int_equal(len, 0);
    assert_int_equal(sc_result_get_binary(r, 0, col_of(r, "bin"), &bp, &len, NULL), SC_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(bp, "\x00\x01\xff", 3);
    assert_int_equal(sc_result_get_date(r, 1, col_of(r, "d"), &days, NULL), SC_OK);
    assert_int_equal(days, -1);
    assert_int_equal(sc_result_get_date(r, 4, col_of(r, "d"), &days, NULL), SC_OK);
    assert_int_equal(days, -719162);
    assert_int_equal(sc_result_get_timestamp(r, 1, col_of(r, "ts"), &iv, NULL), SC_OK);
    assert_int_equal(iv, -1);
    assert_int_equal(sc_result_get_timestamp(r, 0, col_of(r, "ts"), &iv, NULL), SC_OK);
    assert_int_equal(iv, 1709214306789000);
    assert_int_equal(sc_result_get_decimal(r, 1, col_of(r, "dec"), &dec, NULL), SC_OK);
    assert_true(dec.unscaled.hi == -1 && dec.unscaled.lo == (uint64_t)-5);
    assert_int_equal(dec.precision, 10);
    assert_int_equal(dec.scale, 2);
    char buf[64];
    assert_int_equal(sc_result_get_decimal_str(r, 0, col_of(r, "dec"), buf, sizeof buf, NULL),
                     SC_OK);
    assert_string_equal(buf, "12345678.90");

    /* NULL cells. */
    for (size_t c = 0; c < sc_result_num_cols(r); c++) {
        assert_true(sc_result_is_null(r, 2, c));
        assert_false(sc_result_is_null(r, 0, c) && c != col_of(r, "n"));
    }
    assert_true(sc_result_is_null(r, 0, col_of(r, "n")));
    assert_false(sc_result_is_null(r, 0, col_of(r, "i32")));
    assert_true(sc_result_is_null(r, 1, col_of(r, "ts_ntz")));
    sc_result_destroy(r);
}

static void other_types_values(void **state)
{
    (void)state;
    sc_result_t *r = load("other_types.arrows");
    assert_int_equal(sc_result_num_rows(r), 3);
    assert_int_equal(sc_result_col_type(r, col_of(r, "ls")), SC_TYPE_STRING);
    assert_int_equal(sc_result_col_type(r, col_of(r, "lb")), SC_TYPE_BINARY);
    assert_string_equal(sc_result_col_arrow_type(r, col_of(r, "ls")), "large_utf8");
    assert_string_equal(sc_result_col_arrow_type(r, col_of(r, "d64")), "date64[ms]");
    assert_string_equal(sc_result_col_arrow_type(r, col_of(r, "ts_ms")),
                        "timestamp[ms, tz=+01:00]");
    assert_string_equal(sc_result_col_arrow_type(r, col_of(r, "dec32")), "decimal32(3, 2)");
    EXPECT_COLUMN(r, "ls", "large", "NULL", "");
    EXPECT_COLUMN(r, "lb", "0x0102", "NULL", "0x");
    EXPECT_COLUMN(r, "d64", "2024-02-29", "NULL", "1969-12-31");
    EXPECT_COLUMN(r, "ts_s", "1970-01-01 00:00:01", "NULL", "1969-12-31 23:59:59");
    EXPECT_COLUMN(r, "ts_ms", "1970-01-01 00:00:01.5Z", "NULL", "1969-12-31 23:59:58.5Z");
    EXPECT_COLUMN(r, "ts_ns", "1970-01-01 00:00:00.000001", "NULL", "1969-12-31 23:59:59.999999");
    EXPECT_COLUMN(r, "dec32", "1.23", "NULL", "-9.99");
    EXPECT_COLUMN(r, "dec64", "123456789012.345678", "NULL", "-0.000001");
    EXPECT_COLUMN(r, "dec38", "99999999999999999999999999999999999999", "NULL",
                  "-99999999999999999999999999999999999999");
    EXPECT_COLUMN(r, "decneg", "12300", "NULL", "-500");

    int64_t us;
    int32_t days;
    assert_int_equal(sc_result_get_timestamp(r, 0, col_of(r, "ts_s"), &us, NULL), SC_OK);
    assert_int_equal(us, 1000000);
    assert_int_equal(sc_result_get_timestamp(r, 2, col_of(r, "ts_ms"), &us, NULL), SC_OK);
    assert_int_equal(us, -1500000);
    assert_int_equal(sc_result_get_timestamp(r, 2, col_of(r, "ts_ns"), &us, NULL), SC_OK);
    assert_int_equal(us, -1);
    assert_int_equal(sc_result_get_date(r, 0, col_of(r, "d64"), &days, NULL), SC_OK);
    assert_int_equal(days, 19782);
    sc_decimal_t d;
    assert_int_equal(sc_result_get_decimal(r, 2, col_of(r, "dec64"), &d, NULL), SC_OK);
    assert_true(d.unscaled.hi == -1 && d.unscaled.lo == (uint64_t)-1);
    assert_int_equal(d.scale, 6);
    const char *s;
    size_t len;
    assert_int_equal(sc_result_get_string(r, 0, col_of(r, "ls"), &s, &len, NULL), SC_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(s, "large", 5);
    sc_result_destroy(r);
}

static void unsupported_columns(void **state)
{
    (void)state;
    sc_result_t *r = load("unsupported.arrows");
    static const char *const kinds[][2] = {
        {"list", "list<item: int32>"},
        {"large_list", "large_list<item: int64>"},
        {"fsl", "fixed_size_list(2)<item: int16>"},
        {"struct", "struct<a: int32, b: utf8>"},
        {"map", "map<entries: struct<key: utf8, value: int64>>"},
        {"sparse", "sparse_union<0: int64, 1: utf8>"},
        {"dense", "dense_union<0: int64, 1: utf8>"},
        {"ree", "run_end_encoded<run_ends: int32, values: utf8>"},
        {"list_view", "list_view<item: int32>"},
        {"time", "time32[ms]"},
        {"duration", "duration[us]"},
        {"interval", "interval[month_day_nano]"},
        {"fsb", "fixed_size_binary(2)"},
        {"uint8", "uint8"},
        {"f16", "float16"},
        {"dec256", "decimal256(40, 1)"},
    };
    size_t n = sizeof kinds / sizeof kinds[0];
    assert_int_equal(sc_result_num_cols(r), 2 * n);
    assert_int_equal(sc_result_num_rows(r), 3);
    sc_error_t *err = sc_error_new();
    for (size_t i = 0; i < n; i++) {
        size_t c = col_of(r, kinds[i][0]);
        assert_int_equal(sc_result_col_type(r, c), SC_TYPE_UNSUPPORTED);
        assert_string_equal(sc_result_col_arrow_type(r, c), kinds[i][1]);
        char buf[64];
        assert_int_equal(sc_result_format_value(r, 0, c, buf, sizeof buf, err), SC_ERR_UNSUPPORTED);
        assert_string_equal(buf, "");
        assert_non_null(strstr(sc_error_message(err), kinds[i][1]));
        int64_t v;
        assert_int_equal(sc_result_get_int64(r, 0, c, &v, err), SC_ERR_UNSUPPORTED);
        assert_false(sc_result_is_null(r, 1, c));

        /* The column after each unsupported one still decodes. */
        char after[64];
        snprintf(after, sizeof after, "after_%s", kinds[i][0]);
        c = col_of(r, after);
        assert_int_equal(sc_result_col_type(r, c), SC_TYPE_INT32);
        assert_int_equal(sc_result_get_int64(r, 0, c, &v, err), SC_OK);
        assert_int_equal(v, (int64_t)i * 10);
        assert_true(sc_result_is_null(r, 1, c));
        assert_int_equal(sc_result_get_int64(r, 2, c, &v, err), SC_OK);
        assert_int_equal(v, (int64_t)i * 10 + 2);
    }
    sc_error_destroy(err);
    sc_result_destroy(r);
}

static void multi_batch_and_multi_stream(void **state)
{
    (void)state;
    bytes_t b = load_fixture("all_types.arrows");
    sc_result_t *r = sc_result_new();
    for (int i = 0; i < 3; i++)
        assert_int_equal(sc_result_append_ipc(r, b.p, b.n, NULL), SC_OK);
    assert_int_equal(sc_result_num_rows(r), 15);
    size_t c = col_of(r, "i32");
    static const char *const want[] = {"-2147483648", "2147483647", "NULL", "0", "42"};
    for (size_t row = 0; row < 15; row++)
        expect_text(r, row, c, want[row % 5]);

    /* The legacy framing (no continuation marker) decodes the same. */
    bytes_t legacy = load_fixture("all_types_legacy.arrows");
    assert_int_equal(sc_result_append_ipc(r, legacy.p, legacy.n, NULL), SC_OK);
    assert_int_equal(sc_result_num_rows(r), 20);
    expect_text(r, 19, col_of(r, "ts"), "2000-01-01 00:00:00.000001Z");
    expect_text(r, 18, col_of(r, "s"), "żółw €");
    bt_free(&legacy);

    /* A stream need not end with an end-of-stream marker. */
    assert_int_equal(sc_result_append_ipc(r, b.p, b.n - 8, NULL), SC_OK);
    assert_int_equal(sc_result_num_rows(r), 25);
    bt_free(&b);
    sc_result_destroy(r);
}

static void many_batches_row_lookup(void **state)
{
    (void)state;
    bytes_t b = load_fixture("all_types.arrows");
    sc_result_t *r = sc_result_new();
    for (int i = 0; i < 2000; i++)
        assert_int_equal(sc_result_append_ipc(r, b.p, b.n, NULL), SC_OK);
    assert_int_equal(sc_result_num_rows(r), 10000);
    size_t c = col_of(r, "i64");
    static const int64_t want[] = {INT64_MIN, INT64_MAX, 0, 0, 1234567890123};
    for (size_t row = 0; row < 10000; row += 7) {
        int64_t v = 1;
        sc_code_t rc = sc_result_get_int64(r, row, c, &v, NULL);
        if (row % 5 == 2) {
            assert_int_equal(rc, SC_ERR_INVALID_ARG); /* NULL cell */
            assert_int_equal(v, 0);
        } else {
            assert_int_equal(rc, SC_OK);
            assert_true(v == want[row % 5]);
        }
    }
    bt_free(&b);
    sc_result_destroy(r);
}

static void schema_only_and_empty_batch(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        sc_result_t *r = load(k ? "empty_batch.arrows" : "schema_only.arrows");
        assert_int_equal(sc_result_num_rows(r), 0);
        assert_int_equal(sc_result_num_cols(r), 14);
        assert_int_equal(sc_result_col_type(r, col_of(r, "dec")), SC_TYPE_DECIMAL);
        char buf[16];
        assert_int_equal(sc_result_format_value(r, 0, 0, buf, sizeof buf, NULL),
                         SC_ERR_INVALID_ARG);
        /* Rows may follow in a later stream. */
        bytes_t b = load_fixture("all_types.arrows");
        assert_int_equal(sc_result_append_ipc(r, b.p, b.n, NULL), SC_OK);
        assert_int_equal(sc_result_num_rows(r), 5);
        expect_text(r, 4, col_of(r, "i32"), "42");
        bt_free(&b);
        sc_result_destroy(r);
    }
}

static void mismatched_schema_is_rejected(void **state)
{
    (void)state;
    sc_result_t *r = load("all_types.arrows");
    size_t rows = sc_result_num_rows(r), bytes = sc_result_memory_bytes(r);
    sc_error_t *err = sc_error_new();
    const char *bad[] = {"mismatch.arrows", "other_types.arrows", "unsupported.arrows"};
    for (size_t i = 0; i < 3; i++) {
        bytes_t b = load_fixture(bad[i]);
        assert_int_equal(sc_result_append_ipc(r, b.p, b.n, err), SC_ERR_PROTOCOL);
        assert_int_equal(sc_error_code(err), SC_ERR_PROTOCOL);
        bt_free(&b);
    }
    assert_non_null(strstr(sc_error_message(err), "earlier"));
    assert_int_equal(sc_result_num_rows(r), rows);
    assert_int_equal(sc_result_memory_bytes(r), bytes);
    assert_string_equal(sc_result_col_arrow_type(r, col_of(r, "i32")), "int32");
    sc_error_destroy(err);
    sc_result_destroy(r);
}

static void unsupported_encodings(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"zstd.arrows", "compressed (ZSTD)"},
        {"dictionary.arrows", "dictionary-encoded"},
        {"view.arrows", "utf8_view"},
    };
    sc_error_t *err = sc_error_new();
    for (size_t i = 0; i < 3; i++) {
        bytes_t b = load_fixture(cases[i][0]);
        sc_result_t *r = sc_result_new();
        assert_int_equal(sc_result_append_ipc(r, b.p, b.n, err), SC_ERR_UNSUPPORTED);
        if (!strstr(sc_error_message(err), cases[i][1]))
            fail_msg("%s: message '%s'", cases[i][0], sc_error_message(err));
        assert_int_equal(sc_result_num_cols(r), 0);
        assert_int_equal(sc_result_num_rows(r), 0);
        sc_result_destroy(r);
        bt_free(&b);
    }
    sc_error_destroy(err);
}

static void size_limit(void **state)
{
    (void)state;
    bytes_t b = load_fixture("all_types.arrows");
    sc_result_t *r = sc_result_new();
    assert_int_equal(sc_result_append_ipc(r, b.p, b.n, NULL), SC_OK);
    size_t one = sc_result_memory_bytes(r);
    assert_true(one > 0);
    sc_result_set_limit(r, one + 100);
    sc_error_t *err = sc_error_new();
    assert_int_equal(sc_result_append_ipc(r, b.p, b.n, err), SC_ERR_LIMIT);
    assert_non_null(strstr(sc_error_message(err), "limit"));
    assert_int_equal(sc_result_num_rows(r), 5);
    assert_int_equal(sc_result_memory_bytes(r), one);
    sc_result_set_limit(r, 0); /* no cap */
    assert_int_equal(sc_result_append_ipc(r, b.p, b.n, err), SC_OK);
    assert_int_equal(sc_result_num_rows(r), 10);
    sc_result_destroy(r);

    /* Even the schema counts. */
    r = sc_result_new();
    sc_result_set_limit(r, 16);
    assert_int_equal(sc_result_append_ipc(r, b.p, b.n, err), SC_ERR_LIMIT);
    assert_int_equal(sc_result_num_cols(r), 0);
    sc_result_destroy(r);
    sc_error_destroy(err);
    bt_free(&b);
}

static void getter_misuse(void **state)
{
    (void)state;
    sc_result_t *r = load("all_types.arrows");
    sc_error_t *err = sc_error_new();
    int64_t iv = 7;
    double dv = 7;
    bool bv = true;
    const char *sp = "x";
    size_t len = 7;
    char buf[64];

    assert_int_equal(sc_result_get_int64(r, 5, 1, &iv, err), SC_ERR_INVALID_ARG);
    assert_non_null(strstr(sc_error_message(err), "row 5 is out of range"));
    assert_int_equal(iv, 0);
    assert_int_equal(sc_result_get_int64(r, 0, 14, &iv, err), SC_ERR_INVALID_ARG);
    assert_non_null(strstr(sc_error_message(err), "column 14 is out of range"));
    assert_int_equal(sc_result_get_int64(r, 0, col_of(r, "s"), &iv, err), SC_ERR_INVALID_ARG);
    assert_non_null(strstr(sc_error_message(err), "'s' is of type string"));
    assert_int_equal(sc_result_get_double(r, 0, col_of(r, "i64"), &dv, err), SC_ERR_INVALID_ARG);
    assert_int_equal(sc_result_get_bool(r, 2, col_of(r, "b"), &bv, err), SC_ERR_INVALID_ARG);
    assert_non_null(strstr(sc_error_message(err), "is NULL"));
    assert_false(bv);
    assert_int_equal(sc_result_get_string(r, 0, col_of(r, "bin"), &sp, &len, err),
                     SC_ERR_INVALID_ARG);
    assert_null(sp);
    assert_int_equal(len, 0);
    assert_int_equal(sc_result_get_string(r, 0, col_of(r, "s"), NULL, &len, err),
                     SC_ERR_INVALID_ARG);
    assert_int_equal(sc_result_get_int64(r, 0, col_of(r, "n"), &iv, err), SC_ERR_INVALID_ARG);
    assert_int_equal(sc_result_get_decimal_str(r, 0, col_of(r, "dec"), buf, 0, err),
                     SC_ERR_INVALID_ARG);
    assert_int_equal(sc_result_get_decimal_str(r, 0, col_of(r, "dec"), buf, 5, err), SC_ERR_LIMIT);
    assert_string_equal(buf, "1234");
    assert_int_equal(sc_result_format_value(r, 4, col_of(r, "s"), buf, 10, err), SC_ERR_LIMIT);
    assert_string_equal(buf, "xxxxxxxxx");
    assert_int_equal(sc_result_format_value(r, 2, col_of(r, "s"), buf, 4, err), SC_ERR_LIMIT);
    assert_string_equal(buf, "NUL");

    size_t idx = 3;
    assert_int_equal(sc_result_col_index(r, "nope", &idx, err), SC_ERR_NOT_FOUND);
    assert_non_null(strstr(sc_error_message(err), "nope"));
    assert_int_equal(sc_result_col_index(r, NULL, &idx, err), SC_ERR_INVALID_ARG);
    assert_int_equal(sc_result_col_index(r, "ts", &idx, err), SC_OK);
    assert_int_equal(idx, 11);

    /* NULL handles. */
    assert_int_equal(sc_result_num_rows(NULL), 0);
    assert_int_equal(sc_result_num_cols(NULL), 0);
    assert_false(sc_result_is_null(NULL, 0, 0));
    assert_false(sc_result_is_null(r, 99, 0));
    assert_int_equal(sc_result_get_int64(NULL, 0, 0, &iv, err), SC_ERR_INVALID_ARG);
    assert_int_equal(sc_result_append_ipc(NULL, (const uint8_t *)"", 0, err), SC_ERR_INVALID_ARG);
    assert_int_equal(sc_result_append_ipc(r, NULL, 0, err), SC_ERR_PROTOCOL);
    assert_int_equal(sc_result_get_int64(r, 0, 1, &iv, NULL), SC_OK); /* err is optional */
    sc_result_destroy(NULL);
    assert_string_equal(sc_type_name(SC_TYPE_TIMESTAMP), "timestamp");
    assert_string_equal(sc_type_name((sc_type_t)99), "unknown");
    sc_error_destroy(err);
    sc_result_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_types_schema),
        cmocka_unit_test(all_types_values),
        cmocka_unit_test(other_types_values),
        cmocka_unit_test(unsupported_columns),
        cmocka_unit_test(multi_batch_and_multi_stream),
        cmocka_unit_test(many_batches_row_lookup),
        cmocka_unit_test(schema_only_and_empty_batch),
        cmocka_unit_test(mismatched_schema_is_rejected),
        cmocka_unit_test(unsupported_encodings),
        cmocka_unit_test(size_limit),
        cmocka_unit_test(getter_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
