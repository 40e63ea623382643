/* The MLflow client against the real tracking server of the local stack
 * (scripts/stack up): everything logged is read back by the official Python
 * client (mlflow_oracle.py) and must match exactly.
 *
 * Environment: MLFLOW_TRACKING_URI (default http://127.0.0.1:5000),
 * CARPRICE_PYTHON (default <cache>/venv/bin/python). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "carprice/mlflow.h"
#include "live_util.h"

static cp_mlflow_t *g_m;
static cp_rest_error_t *g_err;
static char g_suffix[64];
static char g_tmp[256];

#define OK(call)                                                                                   \
    do {                                                                                           \
        cp_rest_code_t rc_ = (call);                                                               \
        if (rc_ != CP_REST_OK)                                                                     \
            fail_msg("%s -> %s: %s", #call, cp_rest_code_name(rc_), cp_rest_error_message(g_err)); \
    } while (0)

static int setup(void **state)
{
    (void)state;
    g_err = cp_rest_error_new();
    if (cp_mlflow_new(NULL, &g_m, g_err) != CP_REST_OK) {
        fprintf(stderr, "cannot create client: %s\n", cp_rest_error_message(g_err));
        return -1;
    }
    snprintf(g_suffix, sizeof g_suffix, "%ld-%ld", (long)time(NULL), (long)getpid());
    snprintf(g_tmp, sizeof g_tmp, "/tmp/cp_mlflow_live_%s", g_suffix);
    mkdir(g_tmp, 0755);
    /* Fail early and clearly when the stack is not up. */
    cp_mlflow_experiment_t *e;
    cp_rest_code_t rc = cp_mlflow_experiment_get_by_name(g_m, "Default", &e, g_err);
    cp_mlflow_experiment_destroy(e);
    if (rc != CP_REST_OK && rc != CP_REST_ERR_NOT_FOUND) {
        fprintf(stderr, "MLflow at %s is not answering (%s); run scripts/stack up\n",
                cp_mlflow_tracking_uri(g_m), cp_rest_error_message(g_err));
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_tmp);
    cp_mlflow_destroy(g_m);
    cp_rest_error_destroy(g_err);
    return 0;
}

/* The manifest keeps values as JSON; non-finite ones as protobuf strings. */
static json_t *jdouble(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

static void add_metric_point(json_t *metrics, const char *key, int64_t step, int64_t ts, double v)
{
    json_t *arr = json_object_get(metrics, key);
    if (!arr) {
        arr = json_array();
        json_object_set_new(metrics, key, arr);
    }
    json_array_append_new(arr, json_pack("[I,I,o]", (json_int_t)step, (json_int_t)ts, jdouble(v)));
}

static json_t *run_entry(const char *run_id, const char *name, const char *parent)
{
    json_t *r =
        json_pack("{s:s,s:s,s:s,s:{},s:{},s:{},s:[],s:[]}", "run_id", run_id, "name", name,
                  "status", "FINISHED", "params", "tags", "metrics", "artifacts", "listings");
    if (parent)
        json_object_set_new(r, "parent", json_string(parent));
    return r;
}

/* Writes n pseudo-random bytes to path. */
static void write_random(const char *path, size_t n, unsigned seed)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        fputc((int)(x & 0xff), fp);
    }
    fclose(fp);
}

static void add_artifact(json_t *run, const char *path, const char *local)
{
    json_array_append_new(json_object_get(run, "artifacts"),
                          json_pack("{s:s,s:s}", "path", path, "local", local));
}

static void interop_with_the_python_client(void **state)
{
    (void)state;
    char name[128];
    snprintf(name, sizeof name, "carprice-it-%s", g_suffix);
    json_t *manifest = json_object();

    /* Experiment: created once, found the second time. */
    cp_mlflow_experiment_t *e, *e2;
    OK(cp_mlflow_experiment_get_or_create(g_m, name, NULL, &e, g_err));
    OK(cp_mlflow_experiment_get_or_create(g_m, name, NULL, &e2, g_err));
    assert_string_equal(cp_mlflow_experiment_id(e), cp_mlflow_experiment_id(e2));
    assert_string_equal(cp_mlflow_experiment_lifecycle_stage(e), "active");
    const char *exp_id = cp_mlflow_experiment_id(e);
    json_object_set_new(manifest, "experiment", json_pack("{s:s,s:s}", "id", exp_id, "name", name));

    /* A parent run and a nested child. */
    cp_mlflow_kv_t ptags[] = {{"carprice.stage", "train"}, {"carprice.batches", "00001,00002"}};
    cp_mlflow_run_opts_t po = {
        .experiment_id = exp_id, .run_name = "train", .tags = ptags, .n_tags = 2};
    cp_mlflow_run_t *parent, *child;
    OK(cp_mlflow_run_create(g_m, &po, &parent, g_err));
    const char *pid = cp_mlflow_run_id(parent);
    assert_int_equal(cp_mlflow_run_status(parent), CP_MLFLOW_RUN_RUNNING);
    assert_null(cp_mlflow_run_parent_id(parent));
    cp_mlflow_run_opts_t co = {.experiment_id = exp_id, .run_name = "gbt", .parent_run_id = pid};
    OK(cp_mlflow_run_create(g_m, &co, &child, g_err));
    const char *cid = cp_mlflow_run_id(child);
    assert_string_equal(cp_mlflow_run_parent_id(child), pid);

    json_t *jp = run_entry(pid, "train", NULL), *jc = run_entry(cid, "gbt", pid);
    for (size_t i = 0; i < 2; i++)
        json_object_set_new(json_object_get(jp, "tags"), ptags[i].key, json_string(ptags[i].value));

    /* A batch beyond every per-request limit: 130 params, 120 tags, 1500+
     * metric points, unicode, the longest values MLflow keeps, non-finite
     * values. */
    cp_mlflow_batch_t *b = cp_mlflow_batch_new();
    json_t *params = json_object_get(jc, "params"), *tags = json_object_get(jc, "tags"),
           *metrics = json_object_get(jc, "metrics");
    char k[64], v[64];
    for (int i = 0; i < 130; i++) {
        snprintf(k, sizeof k, "param_%03d", i);
        snprintf(v, sizeof v, "%d.%d \xe2\x82\xac", i, i * 7); /* euro sign */
        OK(cp_mlflow_batch_add_param(b, k, v, g_err));
        json_object_set_new(params, k, json_string(v));
    }
    char *longv = malloc(CP_MLFLOW_MAX_PARAM_VALUE_CHARS * 2 + 1);
    for (int i = 0; i < CP_MLFLOW_MAX_PARAM_VALUE_CHARS; i++)
        memcpy(longv + 2 * i, "\xc3\xa9", 2); /* é: 6000 characters, 12000 bytes */
    longv[CP_MLFLOW_MAX_PARAM_VALUE_CHARS * 2] = '\0';
    OK(cp_mlflow_batch_add_param(b, "long_value", longv, g_err));
    json_object_set_new(params, "long_value", json_string(longv));
    for (int i = 0; i < 120; i++) {
        snprintf(k, sizeof k, "tag.%03d", i);
        snprintf(v, sizeof v, "v\xf0\x9f\x9a\x97%d", i); /* car emoji */
        OK(cp_mlflow_batch_add_tag(b, k, v, g_err));
        json_object_set_new(tags, k, json_string(v));
    }
    int64_t t0 = 1790000000000;
    for (int i = 0; i < 1500; i++) {
        double val = 1.0 / (i + 3) + i * 1e-9;
        OK(cp_mlflow_batch_add_metric(b, "rmse", val, t0 + i, i, g_err));
        add_metric_point(metrics, "rmse", i, t0 + i, val);
    }
    const double specials[] = {NAN, INFINITY, -INFINITY, -1e-300, 0.1, 1.7976931348623157e308};
    json_t *sent = json_object();
    for (int i = 0; i < 6; i++) {
        OK(cp_mlflow_batch_add_metric(b, "special", specials[i], t0, i, g_err));
        add_metric_point(sent, "special", i, t0, specials[i]);
        /* MLflow's SQL store keeps infinities as the largest finite double
         * (it does the same for the Python client: the oracle checks). */
        double stored =
            isinf(specials[i]) ? copysign(1.7976931348623157e308, specials[i]) : specials[i];
        add_metric_point(metrics, "special", i, t0, stored);
    }
    json_object_set_new(jc, "sent_metrics", sent);
    size_t requests;
    double tb = live_now_ms();
    OK(cp_mlflow_log_batch(g_m, cid, b, &requests, g_err));
    double batch_ms = live_now_ms() - tb;
    live_measure("mlflow.log_batch.entries", (double)cp_mlflow_batch_count(b), "");
    live_measure("mlflow.log_batch.requests", (double)requests, "");
    live_measure("mlflow.log_batch.ms", batch_ms, "ms");
    /* 131 params need two requests (100 per request); the rest fills them. */
    assert_int_equal(requests, 2);
    /* Sending the same batch again changes nothing (idempotent resend). */
    OK(cp_mlflow_log_batch(g_m, cid, b, NULL, g_err));
    cp_mlflow_batch_destroy(b);

    /* Over-long values are refused before any request... */
    b = cp_mlflow_batch_new();
    longv[0] = 'x'; /* 'x' + the rest of a split character: not UTF-8 */
    assert_int_equal(cp_mlflow_batch_add_param(b, "bad", longv, g_err), CP_REST_ERR_INVALID_ARG);
    char *toolong = malloc(CP_MLFLOW_MAX_PARAM_VALUE_CHARS + 2);
    memset(toolong, 'a', CP_MLFLOW_MAX_PARAM_VALUE_CHARS + 1);
    toolong[CP_MLFLOW_MAX_PARAM_VALUE_CHARS + 1] = '\0';
    assert_int_equal(cp_mlflow_batch_add_param(b, "too_long", toolong, g_err), CP_REST_ERR_LIMIT);
    assert_int_equal(cp_mlflow_batch_count(b), 0);
    free(toolong);
    free(longv);
    cp_mlflow_batch_destroy(b);
    /* ...and the server's own refusals come back with its error code. */
    assert_int_equal(cp_mlflow_log_param(g_m, cid, "param_000", "changed", g_err),
                     CP_REST_ERR_BAD_REQUEST);
    assert_string_equal(cp_rest_error_remote_code(g_err), "INVALID_PARAMETER_VALUE");
    assert_int_equal(cp_rest_error_http_status(g_err), 400);

    OK(cp_mlflow_log_metric(g_m, pid, "stack_r2", 0.93125, 0, g_err));
    OK(cp_mlflow_set_tag(g_m, pid, "carprice.model", "stack", g_err));
    OK(cp_mlflow_log_param(g_m, pid, "folds", "5", g_err));
    json_object_set_new(json_object_get(jp, "params"), "folds", json_string("5"));
    json_object_set_new(json_object_get(jp, "tags"), "carprice.model", json_string("stack"));
    {
        cp_mlflow_run_t *r;
        OK(cp_mlflow_run_get(g_m, pid, &r, g_err));
        cp_mlflow_metric_t mt;
        assert_true(cp_mlflow_run_metric_at(r, 0, &mt));
        assert_string_equal(mt.key, "stack_r2");
        add_metric_point(json_object_get(jp, "metrics"), "stack_r2", 0, mt.timestamp_ms, 0.93125);
        cp_mlflow_run_destroy(r);
    }

    /* Artifacts: a directory tree (binary, empty, names with spaces and
     * unicode) and a single file; read back byte for byte. */
    char dir[512], p[700];
    snprintf(dir, sizeof dir, "%s/model", g_tmp);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/stages", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/stages/0_gbt", dir);
    mkdir(p, 0755);
    struct {
        const char *rel;
        size_t size;
    } files[] = {{"MLmodel", 300},
                 {"stages/0_gbt/part-00000.bin", 3u << 20},
                 {"stages/0_gbt/empty", 0},
                 {"stages/metadata with space \xc3\xa9.json", 1000}};
    double bytes_up = 0;
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i].rel);
        write_random(p, files[i].size, (unsigned)i + 1);
        char ap[300];
        snprintf(ap, sizeof ap, "model/%s", files[i].rel);
        add_artifact(jc, ap, p);
        bytes_up += (double)files[i].size;
    }
    size_t nfiles;
    double tu = live_now_ms();
    OK(cp_mlflow_artifact_upload_dir(g_m, cid, dir, "model", &nfiles, g_err));
    double up_ms = live_now_ms() - tu;
    assert_int_equal(nfiles, 4);
    live_measure("mlflow.artifacts.upload.MB_per_s", bytes_up / 1e6 / (up_ms / 1000.0), "MB/s");
    char single[600];
    snprintf(single, sizeof single, "%s/metrics.csv", g_tmp);
    write_random(single, 4096, 99);
    OK(cp_mlflow_artifact_upload_file(g_m, cid, single, NULL, g_err));
    add_artifact(jc, "metrics.csv", single);

    cp_mlflow_file_list_t *l;
    OK(cp_mlflow_artifact_list(g_m, cid, NULL, &l, g_err));
    assert_int_equal(cp_mlflow_file_list_count(l), 2);
    assert_string_equal(cp_mlflow_file_list_path(l, 0), "metrics.csv");
    assert_int_equal(cp_mlflow_file_list_size(l, 0), 4096);
    assert_string_equal(cp_mlflow_file_list_path(l, 1), "model");
    assert_true(cp_mlflow_file_list_is_dir(l, 1));
    cp_mlflow_file_list_destroy(l);
    OK(cp_mlflow_artifact_list(g_m, cid, "model/stages", &l, g_err));
    json_t *entries = json_array();
    for (size_t i = 0; i < cp_mlflow_file_list_count(l); i++)
        json_array_append_new(entries,
                              json_pack("{s:s,s:b}", "path", cp_mlflow_file_list_path(l, i),
                                        "is_dir", cp_mlflow_file_list_is_dir(l, i)));
    assert_int_equal(cp_mlflow_file_list_count(l), 2);
    cp_mlflow_file_list_destroy(l);
    json_array_append_new(json_object_get(jc, "listings"),
                          json_pack("{s:s,s:o}", "path", "model/stages", "entries", entries));

    char down[600];
    snprintf(down, sizeof down, "%s/down", g_tmp);
    double td = live_now_ms();
    OK(cp_mlflow_artifact_download(g_m, cid, "model", down, g_err));
    double down_ms = live_now_ms() - td;
    live_measure("mlflow.artifacts.download.MB_per_s", bytes_up / 1e6 / (down_ms / 1000.0), "MB/s");
    for (int i = 0; i < 4; i++) {
        char a[700], c[800];
        snprintf(a, sizeof a, "%s/%s", dir, files[i].rel);
        snprintf(c, sizeof c, "%s/%s", down, files[i].rel);
        assert_true(live_files_equal(a, c));
    }
    snprintf(p, sizeof p, "%s/nothing", g_tmp);
    assert_int_equal(cp_mlflow_artifact_download(g_m, cid, "no/such/file", p, g_err),
                     CP_REST_ERR_NOT_FOUND);
    struct stat st;
    assert_int_not_equal(stat(p, &st), 0);

    OK(cp_mlflow_run_terminate(g_m, cid, CP_MLFLOW_RUN_FINISHED, g_err));
    OK(cp_mlflow_run_terminate(g_m, pid, CP_MLFLOW_RUN_FINISHED, g_err));
    {
        cp_mlflow_run_t *r;
        OK(cp_mlflow_run_get(g_m, cid, &r, g_err));
        assert_int_equal(cp_mlflow_run_status(r), CP_MLFLOW_RUN_FINISHED);
        assert_true(cp_mlflow_run_end_time_ms(r) >= cp_mlflow_run_start_time_ms(r));
        assert_int_equal(cp_mlflow_run_param_count(r), 131);
        assert_string_equal(cp_mlflow_run_param(r, "param_007"), "7.49 \xe2\x82\xac");
        cp_mlflow_run_destroy(r);
    }

    /* Registry: two versions from the child's model, aliases, search,
     * a deleted version whose alias goes away. */
    cp_mlflow_model_t *rm;
    OK(cp_mlflow_model_get_or_create(g_m, name, &rm, g_err));
    assert_string_equal(cp_mlflow_model_name(rm), name);
    cp_mlflow_model_destroy(rm);
    assert_int_equal(cp_mlflow_model_create(g_m, name, NULL, NULL, g_err), CP_REST_ERR_EXISTS);
    assert_string_equal(cp_rest_error_remote_code(g_err), "RESOURCE_ALREADY_EXISTS");

    json_t *versions = json_array();
    char vnum[2][16];
    for (int i = 0; i < 2; i++) {
        char hp[64];
        snprintf(hp, sizeof hp, "/carprice/models/it-%d", i + 1);
        cp_mlflow_kv_t vt[] = {{"hdfs_path", hp}, {"batches", "00001,00002"}};
        cp_mlflow_model_version_opts_t vo = {.name = name,
                                             .run_id = cid,
                                             .artifact_path = "model",
                                             .description = "stacked model",
                                             .tags = vt,
                                             .n_tags = 2};
        cp_mlflow_model_version_t *mv, *ready;
        double tr = live_now_ms();
        OK(cp_mlflow_model_version_create(g_m, &vo, &mv, g_err));
        snprintf(vnum[i], sizeof vnum[i], "%s", cp_mlflow_model_version_version(mv));
        OK(cp_mlflow_model_version_wait_ready(g_m, name, vnum[i], 60000, &ready, g_err));
        live_measure("mlflow.model_version.ready_ms", live_now_ms() - tr, "ms");
        assert_string_equal(cp_mlflow_model_version_status(ready), "READY");
        assert_string_equal(cp_mlflow_model_version_tag(ready, "hdfs_path"), hp);
        assert_string_equal(cp_mlflow_model_version_run_id(ready), cid);
        char src[512];
        snprintf(src, sizeof src, "%s/model", cp_mlflow_run_artifact_uri(child));
        assert_string_equal(cp_mlflow_model_version_source(ready), src);
        json_array_append_new(versions, json_pack("{s:s,s:s,s:s,s:{s:s,s:s}}", "version", vnum[i],
                                                  "source", src, "run_id", cid, "tags", "hdfs_path",
                                                  hp, "batches", "00001,00002"));
        cp_mlflow_model_version_destroy(mv);
        cp_mlflow_model_version_destroy(ready);
    }
    OK(cp_mlflow_model_version_set_tag(g_m, name, vnum[0], "quality_gate", "passed", g_err));
    json_object_set_new(json_object_get(json_array_get(versions, 0), "tags"), "quality_gate",
                        json_string("passed"));

    OK(cp_mlflow_model_alias_set(g_m, name, "champion", vnum[0], g_err));
    OK(cp_mlflow_model_alias_set(g_m, name, "challenger", vnum[1], g_err));
    cp_mlflow_model_version_t *mv;
    OK(cp_mlflow_model_alias_get(g_m, name, "champion", &mv, g_err));
    assert_string_equal(cp_mlflow_model_version_version(mv), vnum[0]);
    assert_string_equal(cp_mlflow_model_version_alias_at(mv, 0), "champion");
    cp_mlflow_model_version_destroy(mv);
    /* Moving an alias. */
    OK(cp_mlflow_model_alias_set(g_m, name, "champion", vnum[1], g_err));
    OK(cp_mlflow_model_alias_get(g_m, name, "champion", &mv, g_err));
    assert_string_equal(cp_mlflow_model_version_version(mv), vnum[1]);
    cp_mlflow_model_version_destroy(mv);
    OK(cp_mlflow_model_alias_set(g_m, name, "champion", vnum[0], g_err));

    char filter[256];
    snprintf(filter, sizeof filter, "name='%s'", name);
    cp_mlflow_model_version_list_t *vl;
    OK(cp_mlflow_model_version_search(g_m, filter, NULL, 0, &vl, g_err));
    assert_int_equal(cp_mlflow_model_version_list_count(vl), 2);
    cp_mlflow_model_version_list_destroy(vl);

    /* Deleting the version "challenger" points to: the alias is gone and
     * resolving it is a clear NOT_FOUND. */
    OK(cp_mlflow_model_version_delete(g_m, name, vnum[1], g_err));
    assert_int_equal(cp_mlflow_model_alias_get(g_m, name, "challenger", &mv, g_err),
                     CP_REST_ERR_NOT_FOUND);
    /* The server itself calls it an invalid parameter (HTTP 400). */
    assert_string_equal(cp_rest_error_remote_code(g_err), "INVALID_PARAMETER_VALUE");
    assert_non_null(strstr(cp_rest_error_message(g_err), "challenger"));
    assert_null(mv);
    assert_int_equal(cp_mlflow_model_version_get(g_m, name, vnum[1], &mv, g_err),
                     CP_REST_ERR_NOT_FOUND);
    /* Deleting an alias. */
    OK(cp_mlflow_model_alias_set(g_m, name, "staging", vnum[0], g_err));
    OK(cp_mlflow_model_alias_delete(g_m, name, "staging", g_err));
    assert_int_equal(cp_mlflow_model_alias_get(g_m, name, "staging", &mv, g_err),
                     CP_REST_ERR_NOT_FOUND);
    OK(cp_mlflow_model_get(g_m, name, &rm, g_err));
    assert_int_equal(cp_mlflow_model_alias_count(rm), 1);
    cp_mlflow_model_destroy(rm);

    json_array_remove(versions, 1);
    json_object_set_new(manifest, "registry",
                        json_pack("{s:s,s:o,s:[s],s:{s:s},s:[s,s]}", "name", name, "versions",
                                  versions, "live_versions", vnum[0], "aliases", "champion",
                                  vnum[0], "gone_aliases", "challenger", "staging"));
    json_object_set_new(manifest, "runs", json_pack("[o,o]", jp, jc));

    /* The official client reads it all back. */
    char mpath[400];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", g_tmp);
    assert_int_equal(json_dump_file(manifest, mpath, JSON_INDENT(1)), 0);
    json_decref(manifest);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "MLFLOW_TRACKING_URI='%s' '%s' '%s/mlflow_oracle.py' '%s'",
             cp_mlflow_tracking_uri(g_m), live_python(), CARPRICE_REST_IT_DIR, mpath);
    double to = live_now_ms();
    int status = system(cmd);
    live_measure("mlflow.oracle.ms", live_now_ms() - to, "ms");
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* Clean up what is cheap to clean: the registered model and the runs. */
    OK(cp_mlflow_model_delete(g_m, name, g_err));
    OK(cp_mlflow_run_delete(g_m, cid, g_err));
    OK(cp_mlflow_run_delete(g_m, pid, g_err));
    OK(cp_mlflow_experiment_delete(g_m, exp_id, g_err));
    cp_mlflow_experiment_destroy(e2);
    OK(cp_mlflow_experiment_get_by_name(g_m, name, &e2, g_err));
    assert_string_equal(cp_mlflow_experiment_lifecycle_stage(e2), "deleted");
    cp_mlflow_experiment_destroy(e2);
    e2 = NULL;
    cp_mlflow_run_destroy(parent);
    cp_mlflow_run_destroy(child);
    cp_mlflow_experiment_destroy(e);
    cp_mlflow_experiment_destroy(e2);
}

static void errors_from_the_real_server(void **state)
{
    (void)state;
    cp_mlflow_experiment_t *e;
    assert_int_equal(cp_mlflow_experiment_get_by_name(g_m, "no-such-experiment-zz", &e, g_err),
                     CP_REST_ERR_NOT_FOUND);
    assert_string_equal(cp_rest_error_remote_code(g_err), "RESOURCE_DOES_NOT_EXIST");
    cp_mlflow_run_t *r;
    assert_int_equal(cp_mlflow_run_get(g_m, "ffffffffffffffffffffffffffffffff", &r, g_err),
                     CP_REST_ERR_NOT_FOUND);
    cp_mlflow_model_t *rm;
    assert_int_equal(cp_mlflow_model_get(g_m, "no-such-model-zz", &rm, g_err),
                     CP_REST_ERR_NOT_FOUND);
    cp_mlflow_model_version_t *mv;
    assert_int_equal(cp_mlflow_model_alias_get(g_m, "no-such-model-zz", "champion", &mv, g_err),
                     CP_REST_ERR_NOT_FOUND);
    /* Nothing listens on the port after the tracking server's: refused. */
    cp_http_options_t o;
    cp_http_options_init(&o);
    o.max_retries = 2;
    o.backoff_base_ms = 10;
    cp_mlflow_config_t c = {.tracking_uri = "http://127.0.0.1:1", .http = &o};
    cp_mlflow_t *down;
    OK(cp_mlflow_new(&c, &down, g_err));
    assert_int_equal(cp_mlflow_experiment_get_by_name(down, "x", &e, g_err), CP_REST_ERR_CONNECT);
    assert_true(cp_rest_error_retriable(g_err));
    cp_mlflow_destroy(down);
}

static void small_call_latency(void **state)
{
    (void)state;
    /* Round trips of a cheap call on a warm connection. */
    cp_mlflow_experiment_t *e;
    OK(cp_mlflow_experiment_get_or_create(g_m, "Default", NULL, &e, g_err));
    cp_mlflow_experiment_destroy(e);
    const int n = 50;
    double t = live_now_ms();
    for (int i = 0; i < n; i++) {
        OK(cp_mlflow_experiment_get_by_name(g_m, "Default", &e, g_err));
        cp_mlflow_experiment_destroy(e);
    }
    live_measure("mlflow.get_experiment.mean_ms", (live_now_ms() - t) / n, "ms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(interop_with_the_python_client),
        cmocka_unit_test(errors_from_the_real_server),
        cmocka_unit_test(small_call_latency),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
