/* The request, price and malformed-request encoders (carprice/requests.h)
 * and the JSON string writer (carprice/json.h), checked by parsing every
 * message back with jansson: requests keep every column and its exact text,
 * empty fields become null, and each malformed kind is malformed in exactly
 * the way its name says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/csv.h"
#include "carprice/data.h"
#include "carprice/json.h"
#include "carprice/requests.h"

#define BUF_LIMIT ((size_t)4 << 20)

static json_t *parse(const cp_buf_t *b)
{
    json_error_t e;
    return json_loadb(b->data, b->len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &e);
}

static void json_string_escapes(void **state)
{
    (void)state;
    cp_buf_t b;
    cp_buf_init(&b, BUF_LIMIT);
    static const char in[] = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f/é€😀";
    assert_int_equal(cp_json_append_string(&b, in, sizeof in - 1), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f/é€😀\"");

    /* Invalid UTF-8 (stray continuation, truncated sequence, overlong form,
     * surrogate) becomes U+FFFD per byte; a NUL byte is escaped. */
    cp_buf_reset(&b);
    static const char bad[] = "x\x80y\xE2\x82z\xC0\xAF\xED\xA0\x80\0";
    assert_int_equal(cp_json_append_string(&b, bad, sizeof bad - 1), 0);
    json_t *j = parse(&b);
    assert_non_null(j);
    assert_string_equal(json_string_value(j), "x\xEF\xBF\xBDy\xEF\xBF\xBD\xEF\xBF\xBDz"
                                              "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                                              "\xEF\xBF\xBD");
    assert_int_equal(json_string_length(j), strlen(json_string_value(j)) + 1); /* the NUL */
    json_decref(j);

    /* A long string crosses the writer's internal chunks intact. */
    size_t n = 100000;
    char *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = "ab\"\n\xC3\xA9"[i % 6];
    cp_buf_reset(&b);
    assert_int_equal(cp_json_append_string(&b, big, n), 0);
    j = parse(&b);
    assert_non_null(j);
    assert_int_equal(json_string_length(j), n);
    assert_memory_equal(json_string_value(j), big, n);
    json_decref(j);
    free(big);

    /* The buffer limit is reported. */
    cp_buf_t small;
    cp_buf_init(&small, 10);
    assert_int_equal(cp_json_append_string(&small, "0123456789abc", 13), -1);
    cp_buf_free(&small);
    cp_buf_free(&b);
}

static void json_numbers(void **state)
{
    (void)state;
    const char *good[] = {"0", "-0", "12", "23141.0", "1e5", "1.5E+10", "-2.25e-3"};
    const char *bad[] = {"", "-", "01", "1.", ".5", "+1", "1e", "NaN", "inf", " 1", "1 ", "0x10"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(cp_json_is_number(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(cp_json_is_number(bad[i], strlen(bad[i])));
}

static void request_round_trips(void **state)
{
    (void)state;
    static const char nul_value[] = "a\0b";
    cp_req_field_t f[] = {
        {"vin", "1HGCM82633A004352", 17},
        {"description", "Line one\nline \"two\" \\ tab\there é", 34},
        {"bed", "", 0},
        {"cabin", NULL, 0},
        {"dealer_zip", "02919", 5},
        {"odd", nul_value, 3},
    };
    f[1].len = strlen(f[1].value);
    cp_buf_t b;
    cp_buf_init(&b, BUF_LIMIT);
    assert_int_equal(cp_req_encode_request(&b, "run-00000007", 1700000000123, f, 6), CP_REQ_OK);
    json_t *j = parse(&b);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 3);
    assert_string_equal(json_string_value(json_object_get(j, "request_id")), "run-00000007");
    assert_true(json_is_integer(json_object_get(j, "sent_at_ms")));
    assert_int_equal(json_integer_value(json_object_get(j, "sent_at_ms")), 1700000000123);
    json_t *rec = json_object_get(j, "record");
    assert_true(json_is_object(rec));
    assert_int_equal(json_object_size(rec), 6);
    assert_string_equal(json_string_value(json_object_get(rec, "vin")), f[0].value);
    assert_string_equal(json_string_value(json_object_get(rec, "description")), f[1].value);
    assert_true(json_is_null(json_object_get(rec, "bed")));
    assert_true(json_is_null(json_object_get(rec, "cabin")));
    assert_string_equal(json_string_value(json_object_get(rec, "dealer_zip")), "02919");
    assert_int_equal(json_string_length(json_object_get(rec, "odd")), 3);
    assert_memory_equal(json_string_value(json_object_get(rec, "odd")), nul_value, 3);
    /* Columns keep the order given. */
    assert_non_null(strstr(b.data, "\"vin\":\"1HGCM82633A004352\",\"description\":"));
    json_decref(j);

    /* A buffer too small fails cleanly. */
    cp_buf_t small;
    cp_buf_init(&small, 32);
    assert_int_equal(cp_req_encode_request(&small, "run-1", 1, f, 6), CP_REQ_ERR_NOMEM);
    cp_buf_free(&small);
    assert_int_equal(cp_req_encode_request(NULL, "x", 1, f, 1), CP_REQ_ERR_ARG);
    cp_buf_free(&b);
}

/* Rows of the raw generator, read with the CSV reader as the simulator does,
 * as request fields: every column but price. */
typedef struct {
    FILE *f;
    cp_csv_reader_t *r;
    cp_req_field_t fields[CP_DATA_NCOLUMNS];
    size_t n;
} gen_rows_t;

static void gen_open(gen_rows_t *g, uint64_t rows)
{
    char err[256];
    g->f = tmpfile();
    assert_non_null(g->f);
    assert_int_equal(cp_data_generate(11, 0, rows, 1, g->f, NULL, err, sizeof err), CP_DATA_OK);
    rewind(g->f);
    assert_int_equal(cp_csv_reader_new(g->f, "gen.csv", 0, &g->r), CP_CSV_OK);
    assert_int_equal(cp_csv_read(g->r), CP_CSV_OK); /* header */
}

static int gen_next(gen_rows_t *g)
{
    int rc = cp_csv_read(g->r);
    if (rc == CP_CSV_END)
        return 0;
    assert_int_equal(rc, CP_CSV_OK);
    assert_int_equal(cp_csv_nfields(g->r), CP_DATA_NCOLUMNS);
    g->n = 0;
    for (int c = 0; c < CP_DATA_NCOLUMNS; c++) {
        if (strcmp(cp_data_column_name(c), "price") == 0)
            continue;
        g->fields[g->n].name = cp_data_column_name(c);
        g->fields[g->n].value = cp_csv_field(g->r, (size_t)c, &g->fields[g->n].len);
        g->n++;
    }
    return 1;
}

static void gen_close(gen_rows_t *g)
{
    cp_csv_reader_destroy(g->r);
    fclose(g->f);
}

static void generated_rows_keep_every_column(void **state)
{
    (void)state;
    gen_rows_t g;
    gen_open(&g, 500);
    cp_buf_t b;
    cp_buf_init(&b, BUF_LIMIT);
    size_t rows = 0, nulls = 0;
    while (gen_next(&g)) {
        cp_buf_reset(&b);
        assert_int_equal(cp_req_encode_request(&b, "r-1", 5, g.fields, g.n), CP_REQ_OK);
        json_t *j = parse(&b);
        assert_non_null(j);
        json_t *rec = json_object_get(j, "record");
        assert_int_equal(json_object_size(rec), CP_DATA_NCOLUMNS - 1);
        assert_null(json_object_get(rec, "price"));
        for (size_t i = 0; i < g.n; i++) {
            json_t *v = json_object_get(rec, g.fields[i].name);
            assert_non_null(v);
            if (g.fields[i].len == 0) {
                assert_true(json_is_null(v));
                nulls++;
            } else {
                assert_int_equal(json_string_length(v), g.fields[i].len);
                assert_memory_equal(json_string_value(v), g.fields[i].value, g.fields[i].len);
            }
        }
        json_decref(j);
        rows++;
    }
    assert_int_equal(rows, 500);
    assert_true(nulls > 0);
    cp_buf_free(&b);
    gen_close(&g);
}

static void price_message(void **state)
{
    (void)state;
    cp_buf_t b;
    cp_buf_init(&b, BUF_LIMIT);
    assert_int_equal(cp_req_encode_price(&b, "run-00000003", "23141.0", 1700000005123), 0);
    assert_string_equal(b.data, "{\"request_id\":\"run-00000003\",\"price\":23141.0,\"set_at_ms\":"
                                "1700000005123}");
    json_t *j = parse(&b);
    assert_non_null(j);
    assert_true(json_is_number(json_object_get(j, "price")));
    assert_true(json_is_integer(json_object_get(j, "set_at_ms")));
    json_decref(j);
    cp_buf_reset(&b);
    assert_int_equal(cp_req_encode_price(&b, "x", "23,141", 1), CP_REQ_ERR_ARG);
    assert_int_equal(cp_req_encode_price(&b, "x", "", 1), CP_REQ_ERR_ARG);
    cp_buf_free(&b);
}

/* Whether a parsed request has all its required members with their types. */
static int well_formed(json_t *j)
{
    return json_is_object(j) && json_is_string(json_object_get(j, "request_id")) &&
           json_is_integer(json_object_get(j, "sent_at_ms")) &&
           json_is_object(json_object_get(j, "record"));
}

static double record_number(json_t *rec, const char *col)
{
    const char *s = json_string_value(json_object_get(rec, col));
    return s ? strtod(s, NULL) : NAN;
}

static void malformed_kinds_are_malformed_as_named(void **state)
{
    (void)state;
    gen_rows_t g;
    gen_open(&g, 5);
    assert_true(gen_next(&g));
    cp_buf_t b, valid;
    cp_buf_init(&b, BUF_LIMIT);
    cp_buf_init(&valid, BUF_LIMIT);
    assert_int_equal(cp_req_encode_request(&valid, "run-00000042", 1700000000000, g.fields, g.n),
                     0);
    assert_true(valid.len < CP_REQ_MAX_REQUEST_BYTES);

    for (int kind = 0; kind < CP_REQ_BAD_NKINDS; kind++) {
        const char *name = cp_req_bad_kind_name(kind);
        assert_non_null(name);
        unsigned nvar = cp_req_bad_variants(kind);
        assert_true(nvar >= 1);
        for (unsigned v = 0; v < nvar; v++) {
            cp_buf_reset(&b);
            assert_int_equal(
                cp_req_encode_malformed(&b, kind, v, "run-00000042", 1700000000000, g.fields, g.n),
                CP_REQ_OK);
            json_t *j = parse(&b);
            switch (kind) {
            case CP_REQ_BAD_NOT_JSON:
                assert_null(j);
                break;
            case CP_REQ_BAD_TRUNCATED:
                assert_null(j);
                assert_true(b.len < valid.len);
                assert_memory_equal(b.data, valid.data, b.len); /* a prefix of a request */
                break;
            case CP_REQ_BAD_MISSING: {
                assert_non_null(j);
                assert_true(json_is_object(j));
                int missing = !json_object_get(j, "request_id") +
                              !json_object_get(j, "sent_at_ms") + !json_object_get(j, "record");
                assert_int_equal(missing, 1);
                break;
            }
            case CP_REQ_BAD_WRONG_TYPE: {
                assert_non_null(j);
                int present = json_object_get(j, "request_id") &&
                              json_object_get(j, "sent_at_ms") && json_object_get(j, "record");
                assert_true(present);
                assert_false(well_formed(j));
                break;
            }
            case CP_REQ_BAD_ABSURD: {
                assert_non_null(j);
                assert_true(well_formed(j));
                json_t *rec = json_object_get(j, "record");
                assert_int_equal(json_object_size(rec), CP_DATA_NCOLUMNS - 1);
                double mileage = record_number(rec, "mileage"), year = record_number(rec, "year");
                assert_true(mileage < 0 || mileage > 1e6 || year < 1950 || year > 2100);
                break;
            }
            case CP_REQ_BAD_OVERSIZED: {
                assert_true(b.len > CP_REQ_MAX_REQUEST_BYTES);
                assert_true(b.len < CP_REQ_MAX_REQUEST_BYTES + 64 * 1024);
                assert_non_null(j); /* valid-looking, only too big */
                assert_true(well_formed(j));
                assert_string_equal(json_string_value(json_object_get(j, "request_id")),
                                    "run-00000042");
                break;
            }
            }
            json_decref(j);
        }
    }
    assert_null(cp_req_bad_kind_name(CP_REQ_BAD_NKINDS));
    assert_int_equal(cp_req_bad_variants(-1), 0);
    assert_int_equal(cp_req_encode_malformed(&b, CP_REQ_BAD_NKINDS, 0, "x", 1, g.fields, g.n),
                     CP_REQ_ERR_ARG);
    /* The oversized kind needs room: a small buffer fails cleanly. */
    cp_buf_t small;
    cp_buf_init(&small, 64 * 1024);
    assert_int_equal(
        cp_req_encode_malformed(&small, CP_REQ_BAD_OVERSIZED, 0, "x", 1, g.fields, g.n),
        CP_REQ_ERR_NOMEM);
    cp_buf_free(&small);
    cp_buf_free(&b);
    cp_buf_free(&valid);
    gen_close(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_string_escapes),
        cmocka_unit_test(json_numbers),
        cmocka_unit_test(request_round_trips),
        cmocka_unit_test(generated_rows_keep_every_column),
        cmocka_unit_test(price_message),
        cmocka_unit_test(malformed_kinds_are_malformed_as_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
