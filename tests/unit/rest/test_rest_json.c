/* JSON encoding/decoding, limits and error bodies of the REST clients,
 * without a network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlflow_internal.h"
#include "webhdfs_internal.h"

static json_t *parse(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    return j;
}

/* ---- helpers ---- */

static void utf8_chars_counts_code_points(void **state)
{
    (void)state;
    assert_int_equal(cp_rest_utf8_chars(""), 0);
    assert_int_equal(cp_rest_utf8_chars("abc"), 3);
    assert_int_equal(cp_rest_utf8_chars("pr\xc3\xa9"
                                        "cis"),
                     6);                                         /* é */
    assert_int_equal(cp_rest_utf8_chars("\xe2\x82\xac"), 1);     /* € */
    assert_int_equal(cp_rest_utf8_chars("\xf0\x9f\x9a\x97"), 1); /* car emoji */
    assert_int_equal(cp_rest_utf8_chars("\xc3"), -1);            /* truncated */
    assert_int_equal(cp_rest_utf8_chars("\xc0\xaf"), -1);        /* overlong */
    assert_int_equal(cp_rest_utf8_chars("\xed\xa0\x80"), -1);    /* surrogate */
    assert_int_equal(cp_rest_utf8_chars("\xff"), -1);
}

static void int64_accepts_numbers_and_strings(void **state)
{
    (void)state;
    json_t *j = parse("{\"a\": 1700000000123, \"b\": \"1700000000456\", \"c\": \"x\", "
                      "\"d\": 12.0, \"e\": null}");
    assert_true(cp_rest_json_i64(j, "a", -1) == INT64_C(1700000000123));
    assert_true(cp_rest_json_i64(j, "b", -1) == INT64_C(1700000000456));
    assert_int_equal(cp_rest_json_i64(j, "c", -1), -1);
    assert_int_equal(cp_rest_json_i64(j, "d", -1), 12);
    assert_int_equal(cp_rest_json_i64(j, "e", -1), -1);
    assert_int_equal(cp_rest_json_i64(j, "missing", 7), 7);
    json_decref(j);
}

static void doubles_round_trip_including_non_finite(void **state)
{
    (void)state;
    const double values[] = {0.0, -0.0, 1.0 / 3.0, 1e-300, 1.7976931348623157e308, 0.1, -42.5};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        json_t *v = cp_rest_json_double(values[i]);
        char *s = cp_rest_json_dump(v);
        json_t *back = json_loads(s, JSON_DECODE_ANY, NULL);
        double d;
        assert_true(cp_rest_json_value_double(back, &d));
        assert_memory_equal(&d, &values[i], sizeof d); /* bit-exact */
        free(s);
        json_decref(v);
        json_decref(back);
    }
    json_t *nan = cp_rest_json_double(NAN), *pinf = cp_rest_json_double(INFINITY),
           *ninf = cp_rest_json_double(-INFINITY);
    assert_string_equal(json_string_value(nan), "NaN");
    assert_string_equal(json_string_value(pinf), "Infinity");
    assert_string_equal(json_string_value(ninf), "-Infinity");
    double d;
    assert_true(cp_rest_json_value_double(nan, &d) && isnan(d));
    assert_true(cp_rest_json_value_double(ninf, &d) && isinf(d) && d < 0);
    json_t *bad = json_string("nan");
    assert_false(cp_rest_json_value_double(bad, &d));
    json_decref(nan);
    json_decref(pinf);
    json_decref(ninf);
    json_decref(bad);
}

static void parse_rejects_non_objects_and_garbage(void **state)
{
    (void)state;
    cp_rest_error_t *err = cp_rest_error_new();
    json_t *j;
    assert_int_equal(cp_rest_json_parse("{\"a\":1}", 7, &j, err, "t"), CP_REST_OK);
    json_decref(j);
    assert_int_equal(cp_rest_json_parse("[1,2]", 5, &j, err, "t"), CP_REST_ERR_PROTOCOL);
    assert_null(j);
    assert_int_equal(cp_rest_json_parse("{\"a\":", 5, &j, err, "t"), CP_REST_ERR_PROTOCOL);
    assert_non_null(strstr(cp_rest_error_message(err), "malformed JSON"));
    assert_int_equal(cp_rest_json_parse("<html>\x01</html>", 15, &j, err, "t"),
                     CP_REST_ERR_PROTOCOL);
    /* Control bytes of a hostile body never reach the message. */
    assert_null(strchr(cp_rest_error_message(err), '\x01'));
    assert_int_equal(cp_rest_json_parse("", 0, &j, err, "t"), CP_REST_ERR_PROTOCOL);
    cp_rest_error_destroy(err);
}

static void escaping(void **state)
{
    (void)state;
    char *p = cp_http_escape_path("/carprice/raw/batch 1/ü?&#%");
    assert_string_equal(p, "/carprice/raw/batch%201/%C3%BC%3F%26%23%25");
    free(p);
    char *q = cp_http_escape_query("/a b/c=d&e");
    assert_string_equal(q, "%2Fa%20b%2Fc%3Dd%26e");
    free(q);
}

static void strerror_and_names_cover_every_code(void **state)
{
    (void)state;
    for (int c = CP_REST_OK; c <= CP_REST_ERR_UNSUPPORTED; c++) {
        assert_string_not_equal(cp_rest_strerror((cp_rest_code_t)c), "unknown error");
        assert_string_not_equal(cp_rest_code_name((cp_rest_code_t)c), "CP_REST_ERR_UNKNOWN");
    }
    assert_string_equal(cp_rest_strerror((cp_rest_code_t)999), "unknown error");
    /* A NULL error object is fine everywhere. */
    assert_int_equal(cp_rest_error_code(NULL), CP_REST_OK);
    assert_string_equal(cp_rest_error_message(NULL), "");
    cp_rest_error_destroy(NULL);
}

/* ---- MLflow errors ---- */

static void mlflow_error_body_decides_the_code(void **state)
{
    (void)state;
    cp_rest_error_t *err = cp_rest_error_new();
    const char *body = "{\"error_code\": \"RESOURCE_DOES_NOT_EXIST\", \"message\": \"Registered "
                       "Model with name=x not found\"}";
    assert_int_equal(cp_mlflow_error_from_response(404, body, strlen(body), err, "get model"),
                     CP_REST_ERR_NOT_FOUND);
    assert_string_equal(cp_rest_error_remote_code(err), "RESOURCE_DOES_NOT_EXIST");
    assert_string_equal(cp_rest_error_remote_message(err),
                        "Registered Model with name=x not found");
    assert_int_equal(cp_rest_error_http_status(err), 404);
    assert_false(cp_rest_error_retriable(err));
    assert_non_null(strstr(cp_rest_error_message(err), "get model"));

    body = "{\"error_code\": \"RESOURCE_ALREADY_EXISTS\", \"message\": \"exists\"}";
    assert_int_equal(cp_mlflow_error_from_response(400, body, strlen(body), err, "c"),
                     CP_REST_ERR_EXISTS);
    body = "{\"error_code\": \"INVALID_PARAMETER_VALUE\", \"message\": \"bad\"}";
    assert_int_equal(cp_mlflow_error_from_response(400, body, strlen(body), err, "c"),
                     CP_REST_ERR_BAD_REQUEST);
    body = "{\"error_code\": \"INTERNAL_ERROR\", \"message\": \"boom\"}";
    assert_int_equal(cp_mlflow_error_from_response(500, body, strlen(body), err, "c"),
                     CP_REST_ERR_SERVER);
    assert_true(cp_rest_error_retriable(err));
    body = "{\"error_code\": \"SOMETHING_NEW\", \"message\": \"?\"}";
    assert_int_equal(cp_mlflow_error_from_response(403, body, strlen(body), err, "c"),
                     CP_REST_ERR_AUTH);
    assert_string_equal(cp_rest_error_remote_code(err), "SOMETHING_NEW");
    /* Not JSON at all: the status decides and the body starts the message. */
    body = "<html><body>502 Bad Gateway</body></html>";
    assert_int_equal(cp_mlflow_error_from_response(502, body, strlen(body), err, "c"),
                     CP_REST_ERR_SERVER);
    assert_non_null(strstr(cp_rest_error_message(err), "502 Bad Gateway"));
    assert_string_equal(cp_rest_error_remote_code(err), "");
    assert_int_equal(cp_mlflow_error_from_response(404, NULL, 0, err, "c"), CP_REST_ERR_NOT_FOUND);
    cp_rest_error_destroy(err);
}

/* ---- WebHDFS errors and statuses ---- */

static void hdfs_remote_exception_decides_the_code(void **state)
{
    (void)state;
    cp_rest_error_t *err = cp_rest_error_new();
    const char *body = "{\"RemoteException\":{\"exception\":\"FileNotFoundException\","
                       "\"javaClassName\":\"java.io.FileNotFoundException\","
                       "\"message\":\"File does not exist: /nope\"}}";
    assert_int_equal(cp_hdfs_error_from_response(404, body, strlen(body), err, "open /nope"),
                     CP_REST_ERR_NOT_FOUND);
    assert_string_equal(cp_rest_error_remote_code(err), "FileNotFoundException");
    assert_string_equal(cp_rest_error_remote_message(err), "File does not exist: /nope");
    body = "{\"RemoteException\":{\"exception\":\"FileAlreadyExistsException\",\"message\":\"x\"}}";
    assert_int_equal(cp_hdfs_error_from_response(403, body, strlen(body), err, "c"),
                     CP_REST_ERR_EXISTS);
    body = "{\"RemoteException\":{\"exception\":\"SafeModeException\",\"message\":\"safe\"}}";
    assert_int_equal(cp_hdfs_error_from_response(403, body, strlen(body), err, "c"),
                     CP_REST_ERR_SERVER);
    assert_true(cp_rest_error_retriable(err));
    body = "{\"RemoteException\":{\"exception\":\"AccessControlException\",\"message\":\"no\"}}";
    assert_int_equal(cp_hdfs_error_from_response(403, body, strlen(body), err, "c"),
                     CP_REST_ERR_AUTH);
    body = "{\"RemoteException\":{\"exception\":\"WeirdException\",\"message\":\"?\"}}";
    assert_int_equal(cp_hdfs_error_from_response(500, body, strlen(body), err, "c"),
                     CP_REST_ERR_SERVER);
    assert_int_equal(cp_hdfs_error_from_response(404, "gone", 4, err, "c"), CP_REST_ERR_NOT_FOUND);
    cp_rest_error_destroy(err);
}

static void hdfs_status_and_list_pages_parse(void **state)
{
    (void)state;
    json_t *fs = parse("{\"accessTime\":0,\"blockSize\":134217728,\"childrenNum\":2,"
                       "\"fileId\":16386,\"group\":\"supergroup\",\"length\":0,"
                       "\"modificationTime\":1700000000000,\"owner\":\"alice\","
                       "\"pathSuffix\":\"batch-00001\",\"permission\":\"755\","
                       "\"replication\":0,\"storagePolicy\":0,\"type\":\"DIRECTORY\"}");
    cp_hdfs_file_status_t *st = cp_hdfs_status_from_json(fs);
    assert_non_null(st);
    assert_string_equal(st->name, "batch-00001");
    assert_int_equal(st->type, CP_HDFS_DIRECTORY);
    assert_int_equal(st->permission, 0755);
    assert_string_equal(st->owner, "alice");
    assert_string_equal(st->group, "supergroup");
    assert_int_equal(st->children, 2);
    assert_true(st->modification_time_ms == INT64_C(1700000000000));
    cp_hdfs_file_status_free(st);
    json_decref(fs);

    cp_rest_error_t *err = cp_rest_error_new();
    cp_hdfs_list_t *l = cp_hdfs_list_new();
    json_t *page = parse(
        "{\"DirectoryListing\":{\"partialListing\":{\"FileStatuses\":{\"FileStatus\":["
        "{\"pathSuffix\":\"a\",\"type\":\"FILE\",\"length\":3,\"permission\":\"644\"},"
        "{\"pathSuffix\":\"b\",\"type\":\"DIRECTORY\",\"length\":0,\"permission\":\"755\"}]}},"
        "\"remainingEntries\":5}}");
    int64_t remaining;
    assert_int_equal(cp_hdfs_list_add_page(l, page, &remaining, err), CP_REST_OK);
    assert_int_equal(remaining, 5);
    assert_int_equal(cp_hdfs_list_count(l), 2);
    assert_string_equal(cp_hdfs_list_at(l, 1)->name, "b");
    assert_int_equal(cp_hdfs_list_at(l, 0)->length, 3);
    assert_null(cp_hdfs_list_at(l, 2));
    json_decref(page);
    page = parse("{\"FileStatuses\":{\"FileStatus\":[{\"pathSuffix\":\"c\",\"type\":\"FILE\"}]}}");
    assert_int_equal(cp_hdfs_list_add_page(l, page, &remaining, err), CP_REST_OK);
    assert_int_equal(remaining, 0);
    assert_int_equal(cp_hdfs_list_count(l), 3);
    json_decref(page);
    page = parse("{\"FileStatuses\":{\"FileStatus\":[{\"pathSuffix\":\"no type\"}]}}");
    assert_int_equal(cp_hdfs_list_add_page(l, page, &remaining, err), CP_REST_ERR_PROTOCOL);
    json_decref(page);
    page = parse("{\"something\":1}");
    assert_int_equal(cp_hdfs_list_add_page(l, page, &remaining, err), CP_REST_ERR_PROTOCOL);
    json_decref(page);
    cp_hdfs_list_destroy(l);
    cp_rest_error_destroy(err);
}

/* ---- MLflow batches ---- */

typedef struct {
    size_t requests, metrics, params, tags, max_bytes_seen;
} batch_stats_t;

/* Encodes the whole batch and checks every request against the limits. */
static batch_stats_t encode_all(const cp_mlflow_batch_t *b, size_t max_bytes)
{
    batch_stats_t s = {0};
    cp_mlflow_batch_cursor_t cur = {0};
    cp_rest_error_t *err = cp_rest_error_new();
    for (;;) {
        char *body;
        assert_int_equal(cp_mlflow_batch_next_body(b, "0123456789abcdef0123456789abcdef", max_bytes,
                                                   &cur, &body, err),
                         CP_REST_OK);
        if (!body)
            break;
        size_t len = strlen(body);
        assert_true(len <= max_bytes);
        if (len > s.max_bytes_seen)
            s.max_bytes_seen = len;
        json_t *j = parse(body);
        size_t m = json_array_size(json_object_get(j, "metrics"));
        size_t p = json_array_size(json_object_get(j, "params"));
        size_t t = json_array_size(json_object_get(j, "tags"));
        assert_true(m <= CP_MLFLOW_MAX_METRICS_PER_BATCH);
        assert_true(p <= CP_MLFLOW_MAX_PARAMS_PER_BATCH);
        assert_true(t <= CP_MLFLOW_MAX_TAGS_PER_BATCH);
        assert_true(m + p + t <= CP_MLFLOW_MAX_ENTITIES_PER_BATCH);
        assert_true(m + p + t > 0);
        assert_string_equal(cp_rest_json_str(j, "run_id"), "0123456789abcdef0123456789abcdef");
        s.metrics += m;
        s.params += p;
        s.tags += t;
        s.requests++;
        json_decref(j);
        free(body);
    }
    cp_rest_error_destroy(err);
    return s;
}

static void batch_splits_by_counts(void **state)
{
    (void)state;
    cp_rest_error_t *err = cp_rest_error_new();
    cp_mlflow_batch_t *b = cp_mlflow_batch_new();
    char key[32], val[32];
    for (int i = 0; i < 2500; i++) {
        snprintf(key, sizeof key, "m%d", i % 7);
        assert_int_equal(cp_mlflow_batch_add_metric(b, key, i * 0.5, 1700000000000 + i, i, err),
                         CP_REST_OK);
    }
    for (int i = 0; i < 250; i++) {
        snprintf(key, sizeof key, "p%d", i);
        snprintf(val, sizeof val, "v%d", i);
        assert_int_equal(cp_mlflow_batch_add_param(b, key, val, err), CP_REST_OK);
    }
    for (int i = 0; i < 150; i++) {
        snprintf(key, sizeof key, "t%d", i);
        assert_int_equal(cp_mlflow_batch_add_tag(b, key, "", err), CP_REST_OK);
    }
    assert_int_equal(cp_mlflow_batch_count(b), 2900);
    batch_stats_t s = encode_all(b, CP_MLFLOW_MAX_BATCH_BYTES);
    assert_int_equal(s.metrics, 2500);
    assert_int_equal(s.params, 250);
    assert_int_equal(s.tags, 150);
    /* 250 params need 3 requests; 2900 entries need at least 3 at 1000 each. */
    assert_true(s.requests >= 3 && s.requests <= 5);
    cp_mlflow_batch_destroy(b);
    cp_rest_error_destroy(err);
}

static void batch_splits_by_bytes_and_keeps_order(void **state)
{
    (void)state;
    cp_rest_error_t *err = cp_rest_error_new();
    cp_mlflow_batch_t *b = cp_mlflow_batch_new();
    char *big = malloc(CP_MLFLOW_MAX_TAG_VALUE_CHARS + 1);
    memset(big, 'x', CP_MLFLOW_MAX_TAG_VALUE_CHARS);
    big[CP_MLFLOW_MAX_TAG_VALUE_CHARS] = '\0';
    char key[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "t%03d", i);
        assert_int_equal(cp_mlflow_batch_add_tag(b, key, big, err), CP_REST_OK);
    }
    /* 100 tags of 8000 chars fit the count limit but not a 100 kB request. */
    batch_stats_t s = encode_all(b, 100000);
    assert_int_equal(s.tags, 100);
    assert_true(s.requests >= 9);
    assert_true(s.max_bytes_seen <= 100000);
    /* The order of entries survives the split. */
    cp_mlflow_batch_cursor_t cur = {0};
    char *body;
    int next = 0;
    while (cp_mlflow_batch_next_body(b, "r", 100000, &cur, &body, err) == CP_REST_OK && body) {
        json_t *j = parse(body);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(j, "tags"), i, t)
        {
            snprintf(key, sizeof key, "t%03d", next++);
            assert_string_equal(cp_rest_json_str(t, "key"), key);
        }
        json_decref(j);
        free(body);
    }
    assert_int_equal(next, 100);
    free(big);
    cp_mlflow_batch_destroy(b);
    cp_rest_error_destroy(err);
}

static void batch_validates_lengths_in_characters(void **state)
{
    (void)state;
    cp_rest_error_t *err = cp_rest_error_new();
    cp_mlflow_batch_t *b = cp_mlflow_batch_new();
    /* 6000 two-byte characters: 12000 bytes but within the 6000-character limit. */
    size_t n = CP_MLFLOW_MAX_PARAM_VALUE_CHARS;
    char *v = malloc(n * 2 + 3);
    for (size_t i = 0; i < n; i++)
        memcpy(v + 2 * i, "\xc3\xa9", 2);
    v[2 * n] = '\0';
    assert_int_equal(cp_mlflow_batch_add_param(b, "desc", v, err), CP_REST_OK);
    memcpy(v + 2 * n, "x", 2);
    assert_int_equal(cp_mlflow_batch_add_param(b, "desc2", v, err), CP_REST_ERR_LIMIT);
    assert_non_null(strstr(cp_rest_error_message(err), "6001"));
    char key[CP_MLFLOW_MAX_KEY_CHARS + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    assert_int_equal(cp_mlflow_batch_add_metric(b, key, 1.0, 0, 0, err), CP_REST_ERR_LIMIT);
    key[CP_MLFLOW_MAX_KEY_CHARS] = '\0';
    assert_int_equal(cp_mlflow_batch_add_metric(b, key, 1.0, 0, 0, err), CP_REST_OK);
    assert_int_equal(cp_mlflow_batch_add_metric(b, "", 1.0, 0, 0, err), CP_REST_ERR_INVALID_ARG);
    assert_int_equal(cp_mlflow_batch_add_tag(b, "bad", "\xff", err), CP_REST_ERR_INVALID_ARG);
    assert_int_equal(cp_mlflow_batch_add_tag(b, NULL, "x", err), CP_REST_ERR_INVALID_ARG);
    /* Failed adds leave nothing behind. */
    assert_int_equal(cp_mlflow_batch_count(b), 2);
    cp_mlflow_batch_clear(b);
    assert_int_equal(cp_mlflow_batch_count(b), 0);
    free(v);
    cp_mlflow_batch_destroy(b);
    cp_rest_error_destroy(err);
}

static void batch_metric_encoding(void **state)
{
    (void)state;
    cp_rest_error_t *err = cp_rest_error_new();
    cp_mlflow_batch_t *b = cp_mlflow_batch_new();
    assert_int_equal(cp_mlflow_batch_add_metric(b, "rmse", 0.1, 1700000000123, 42, err),
                     CP_REST_OK);
    assert_int_equal(cp_mlflow_batch_add_metric(b, "nan", NAN, 5, -1, err), CP_REST_OK);
    int64_t before = cp_rest_now_ms();
    assert_int_equal(cp_mlflow_batch_add_metric(b, "now", 1, 0, 0, err), CP_REST_OK);
    cp_mlflow_batch_cursor_t cur = {0};
    char *body;
    assert_int_equal(
        cp_mlflow_batch_next_body(b, "r1", CP_MLFLOW_MAX_BATCH_BYTES, &cur, &body, err),
        CP_REST_OK);
    json_t *j = parse(body);
    json_t *ms = json_object_get(j, "metrics");
    assert_int_equal(json_array_size(ms), 3);
    assert_null(json_object_get(j, "params")); /* empty arrays are left out */
    json_t *m0 = json_array_get(ms, 0);
    double d;
    assert_true(cp_rest_json_value_double(json_object_get(m0, "value"), &d));
    assert_true(d == 0.1);
    assert_true(cp_rest_json_i64(m0, "timestamp", 0) == INT64_C(1700000000123));
    assert_int_equal(cp_rest_json_i64(m0, "step", 0), 42);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ms, 1), "value")), "NaN");
    assert_true(cp_rest_json_i64(json_array_get(ms, 2), "timestamp", 0) >= before);
    json_decref(j);
    free(body);
    assert_int_equal(
        cp_mlflow_batch_next_body(b, "r1", CP_MLFLOW_MAX_BATCH_BYTES, &cur, &body, err),
        CP_REST_OK);
    assert_null(body);
    cp_mlflow_batch_destroy(b);
    cp_rest_error_destroy(err);
}

/* ---- artifact locations ---- */

static void artifact_location_maps_proxy_uris(void **state)
{
    (void)state;
    cp_rest_error_t *err = cp_rest_error_new();
    char *svc, *root;
    assert_int_equal(cp_mlflow_artifact_location("mlflow-artifacts:/1/abc/artifacts",
                                                 "http://127.0.0.1:5000", &svc, &root, err),
                     CP_REST_OK);
    assert_string_equal(svc, "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts");
    assert_string_equal(root, "1/abc/artifacts");
    free(svc);
    free(root);
    assert_int_equal(cp_mlflow_artifact_location("mlflow-artifacts://other:5001/7/r/artifacts/",
                                                 "https://host/prefix", &svc, &root, err),
                     CP_REST_OK);
    assert_string_equal(svc, "https://other:5001/prefix/api/2.0/mlflow-artifacts/artifacts");
    assert_string_equal(root, "7/r/artifacts");
    free(svc);
    free(root);
    assert_int_equal(
        cp_mlflow_artifact_location("http://h:1/x/api/2.0/mlflow-artifacts/artifacts/2/r/artifacts",
                                    "http://ignored", &svc, &root, err),
        CP_REST_OK);
    assert_string_equal(svc, "http://h:1/x/api/2.0/mlflow-artifacts/artifacts");
    assert_string_equal(root, "2/r/artifacts");
    free(svc);
    free(root);
    assert_int_equal(cp_mlflow_artifact_location("file:///tmp/mlruns/1/r/artifacts",
                                                 "http://127.0.0.1:5000", &svc, &root, err),
                     CP_REST_ERR_UNSUPPORTED);
    assert_non_null(strstr(cp_rest_error_message(err), "--serve-artifacts"));
    assert_int_equal(cp_mlflow_artifact_location("s3://bucket/x", "http://h", &svc, &root, err),
                     CP_REST_ERR_UNSUPPORTED);
    assert_int_equal(cp_mlflow_artifact_location("", "http://h", &svc, &root, err),
                     CP_REST_ERR_PROTOCOL);
    cp_rest_error_destroy(err);
}

static void artifact_paths_are_cleaned(void **state)
{
    (void)state;
    cp_rest_error_t *err = cp_rest_error_new();
    char *p;
    assert_int_equal(cp_mlflow_artifact_path_clean("//model///stages/0_lr/", &p, err), CP_REST_OK);
    assert_string_equal(p, "model/stages/0_lr");
    free(p);
    assert_int_equal(cp_mlflow_artifact_path_clean(NULL, &p, err), CP_REST_OK);
    assert_string_equal(p, "");
    free(p);
    assert_int_equal(cp_mlflow_artifact_path_clean("a/../b", &p, err), CP_REST_ERR_INVALID_ARG);
    assert_int_equal(cp_mlflow_artifact_path_clean("./a", &p, err), CP_REST_ERR_INVALID_ARG);
    assert_int_equal(cp_mlflow_artifact_path_clean("a/.hidden/..x", &p, err), CP_REST_OK);
    free(p);
    cp_rest_error_destroy(err);
}

/* ---- result objects ---- */

static void run_object_reads_server_json(void **state)
{
    (void)state;
    json_t *run = parse(
        "{\"info\":{\"run_id\":\"abc\",\"run_uuid\":\"abc\",\"experiment_id\":\"3\","
        "\"run_name\":\"train\",\"status\":\"FINISHED\",\"start_time\":1700000000000,"
        "\"end_time\":\"1700000000500\",\"artifact_uri\":\"mlflow-artifacts:/3/abc/artifacts\","
        "\"lifecycle_stage\":\"active\"},"
        "\"data\":{\"metrics\":[{\"key\":\"r2\",\"value\":0.93,\"timestamp\":5,\"step\":2},"
        "{\"key\":\"bad\",\"value\":\"NaN\",\"timestamp\":6,\"step\":0}],"
        "\"params\":[{\"key\":\"maxDepth\",\"value\":\"8\"}],"
        "\"tags\":[{\"key\":\"mlflow.parentRunId\",\"value\":\"p1\"}]}}");
    cp_mlflow_run_t *r = cp_mlflow_run_wrap(run);
    json_decref(run);
    assert_string_equal(cp_mlflow_run_id(r), "abc");
    assert_string_equal(cp_mlflow_run_experiment_id(r), "3");
    assert_int_equal(cp_mlflow_run_status(r), CP_MLFLOW_RUN_FINISHED);
    assert_true(cp_mlflow_run_end_time_ms(r) == INT64_C(1700000000500));
    assert_string_equal(cp_mlflow_run_parent_id(r), "p1");
    assert_string_equal(cp_mlflow_run_param(r, "maxDepth"), "8");
    assert_null(cp_mlflow_run_param(r, "nope"));
    assert_int_equal(cp_mlflow_run_metric_count(r), 2);
    cp_mlflow_metric_t m;
    assert_true(cp_mlflow_run_metric_at(r, 1, &m));
    assert_true(isnan(m.value));
    assert_false(cp_mlflow_run_metric_at(r, 2, &m));
    cp_mlflow_kv_t kv;
    assert_true(cp_mlflow_run_param_at(r, 0, &kv));
    assert_string_equal(kv.key, "maxDepth");
    assert_string_equal(cp_mlflow_run_user_id(r), ""); /* absent: "" not NULL */
    cp_mlflow_run_destroy(r);
    cp_mlflow_run_destroy(NULL);
    assert_string_equal(cp_mlflow_run_status_name(CP_MLFLOW_RUN_KILLED), "KILLED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_chars_counts_code_points),
        cmocka_unit_test(int64_accepts_numbers_and_strings),
        cmocka_unit_test(doubles_round_trip_including_non_finite),
        cmocka_unit_test(parse_rejects_non_objects_and_garbage),
        cmocka_unit_test(escaping),
        cmocka_unit_test(strerror_and_names_cover_every_code),
        cmocka_unit_test(mlflow_error_body_decides_the_code),
        cmocka_unit_test(hdfs_remote_exception_decides_the_code),
        cmocka_unit_test(hdfs_status_and_list_pages_parse),
        cmocka_unit_test(batch_splits_by_counts),
        cmocka_unit_test(batch_splits_by_bytes_and_keeps_order),
        cmocka_unit_test(batch_validates_lengths_in_characters),
        cmocka_unit_test(batch_metric_encoding),
        cmocka_unit_test(artifact_location_maps_proxy_uris),
        cmocka_unit_test(artifact_paths_are_cleaned),
        cmocka_unit_test(run_object_reads_server_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
