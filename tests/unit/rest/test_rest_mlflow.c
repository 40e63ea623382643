/* The MLflow client against a small in-process imitation of the tracking
 * server: request shapes, paging, polling, retries and error paths. The real
 * server is exercised by the integration tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carprice/mlflow.h"
#include "fake_server.h"
#include "rest_internal.h"

#define RUN_ID "0123456789abcdef0123456789abcdef"
#define ART    "/api/2.0/mlflow-artifacts/artifacts/"
#define ROOT   "7/" RUN_ID "/artifacts"

typedef struct {
    char path[256];
    char *data;
    size_t len;
} artifact_t;

typedef struct {
    pthread_mutex_t mu;
    bool experiment_exists;
    bool create_races; /* experiments/create answers RESOURCE_ALREADY_EXISTS */
    int batch_requests;
    int batch_503_left;
    size_t metrics, params, tags;
    bool batch_over_limit;
    char run_status[32];
    bool nan_seen;
    char parent_tag[64];
    artifact_t art[32];
    int n_art;
    int version_polls;
    bool version_fails;
    bool alias_set;
    bool version_deleted;
    int search_pages;
    char last_source[256];
} mlflow_state_t;

static void reply_json(fake_resp_t *resp, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    fake_reply(resp, status, s);
    free(s);
    json_decref(j);
}

static void not_found(fake_resp_t *resp, const char *msg)
{
    reply_json(resp, 404,
               json_pack("{s:s,s:s}", "error_code", "RESOURCE_DOES_NOT_EXIST", "message", msg));
}

static json_t *run_json(mlflow_state_t *s)
{
    return json_pack("{s:{s:{s:s,s:s,s:s,s:s,s:I,s:s,s:s},s:{s:[{s:s,s:s}],s:[{s:s,s:s}]}}}", "run",
                     "info", "run_id", RUN_ID, "experiment_id", "7", "status",
                     s->run_status[0] ? s->run_status : "RUNNING", "run_name", "train",
                     "start_time", (json_int_t)1700000000000, "artifact_uri",
                     "mlflow-artifacts:/" ROOT, "lifecycle_stage", "active", "data", "params",
                     "key", "p", "value", "v", "tags", "key", "mlflow.parentRunId", "value",
                     s->parent_tag);
}

static json_t *version_json(mlflow_state_t *s, const char *status)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:[{s:s,s:s}],s:[s]}", "name", "carprice", "version",
                     "3", "source", s->last_source, "run_id", RUN_ID, "status", status, "tags",
                     "key", "hdfs_path", "value", "/carprice/models/3", "aliases", "champion");
}

static void artifacts(mlflow_state_t *s, const fake_req_t *req, fake_resp_t *resp)
{
    const char *rest = req->path + strlen(ART) - 1;
    if (strcmp(req->method, "GET") == 0 && strcmp(rest, "") == 0) {
        /* list: direct children of ?path= */
        const char *p = fake_arg(req, "path");
        size_t pl = strlen(p);
        json_t *files = json_array();
        char seen[32][128];
        int nseen = 0;
        for (int i = 0; i < s->n_art; i++) {
            if (strncmp(s->art[i].path, p, pl) != 0 || s->art[i].path[pl] != '/')
                continue;
            const char *child = s->art[i].path + pl + 1;
            const char *slash = strchr(child, '/');
            char name[128];
            snprintf(name, sizeof name, "%.*s", slash ? (int)(slash - child) : (int)strlen(child),
                     child);
            bool dup = false;
            for (int k = 0; k < nseen; k++)
                dup |= strcmp(seen[k], name) == 0;
            if (dup)
                continue;
            snprintf(seen[nseen++], sizeof seen[0], "%s", name);
            if (slash)
                json_array_append_new(files, json_pack("{s:s,s:b}", "path", name, "is_dir", 1));
            else
                json_array_append_new(files, json_pack("{s:s,s:b,s:I}", "path", name, "is_dir", 0,
                                                       "file_size", (json_int_t)s->art[i].len));
        }
        reply_json(resp, 200, json_pack("{s:o}", "files", files));
        return;
    }
    const char *path = rest + 1;
    if (strcmp(req->method, "PUT") == 0) {
        artifact_t *a = &s->art[s->n_art++];
        snprintf(a->path, sizeof a->path, "%s", path);
        a->data = malloc(req->body_len + 1);
        memcpy(a->data, req->body, req->body_len);
        a->len = req->body_len;
        fake_reply(resp, 200, "{}");
        return;
    }
    for (int i = 0; i < s->n_art; i++) {
        if (strcmp(s->art[i].path, path) == 0) {
            resp->status = 200;
            resp->body = malloc(s->art[i].len + 1);
            memcpy(resp->body, s->art[i].data, s->art[i].len);
            resp->body_len = s->art[i].len;
            return;
        }
    }
    not_found(resp, "no such artifact");
}

static void handler(void *ud, const fake_req_t *req, fake_resp_t *resp)
{
    mlflow_state_t *s = ud;
    pthread_mutex_lock(&s->mu);
    const char *p = req->path;
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
#define IS(x) (strcmp(p, "/api/2.0/mlflow/" x) == 0)
    if (strncmp(p, ART, strlen(ART) - 1) == 0) {
        artifacts(s, req, resp);
    } else if (IS("experiments/get-by-name")) {
        const char *name = fake_arg(req, "experiment_name");
        if (name && strcmp(name, "malformed") == 0)
            fake_reply(resp, 200, "{\"experiment\": {\"experiment_id\": ");
        else if (!s->experiment_exists)
            not_found(resp, "Could not find experiment");
        else
            reply_json(resp, 200,
                       json_pack("{s:{s:s,s:s,s:s,s:s}}", "experiment", "experiment_id", "7",
                                 "name", name, "artifact_location", "mlflow-artifacts:/7",
                                 "lifecycle_stage", "active"));
    } else if (IS("experiments/create")) {
        s->experiment_exists = true;
        if (s->create_races)
            reply_json(resp, 400,
                       json_pack("{s:s,s:s}", "error_code", "RESOURCE_ALREADY_EXISTS", "message",
                                 "Experiment already exists"));
        else
            fake_reply(resp, 200, "{\"experiment_id\":\"7\"}");
    } else if (IS("runs/create")) {
        json_t *tags = json_object_get(body, "tags");
        const char *parent = cp_rest_json_kv_lookup(tags, "mlflow.parentRunId");
        snprintf(s->parent_tag, sizeof s->parent_tag, "%s", parent ? parent : "");
        reply_json(resp, 200, run_json(s));
    } else if (IS("runs/get")) {
        if (strcmp(fake_arg(req, "run_id"), RUN_ID) == 0)
            reply_json(resp, 200, run_json(s));
        else
            not_found(resp, "Run not found");
    } else if (IS("runs/update")) {
        snprintf(s->run_status, sizeof s->run_status, "%s", cp_rest_json_str0(body, "status"));
        if (!json_is_integer(json_object_get(body, "end_time")))
            snprintf(s->run_status, sizeof s->run_status, "NO_END_TIME");
        fake_reply(resp, 200, "{}");
    } else if (IS("runs/log-batch")) {
        if (s->batch_503_left > 0) {
            s->batch_503_left--;
            fake_reply(resp, 503, "busy");
        } else {
            size_t m = json_array_size(json_object_get(body, "metrics"));
            size_t pa = json_array_size(json_object_get(body, "params"));
            size_t t = json_array_size(json_object_get(body, "tags"));
            if (m > 1000 || pa > 100 || t > 100 || m + pa + t > 1000 || req->body_len > 1000000)
                s->batch_over_limit = true;
            size_t i;
            json_t *e;
            json_array_foreach(json_object_get(body, "metrics"), i, e)
            {
                json_t *v = json_object_get(e, "value");
                if (json_is_string(v) && strcmp(json_string_value(v), "NaN") == 0)
                    s->nan_seen = true;
            }
            s->metrics += m;
            s->params += pa;
            s->tags += t;
            s->batch_requests++;
            fake_reply(resp, 200, "{}");
        }
    } else if (IS("registered-models/create")) {
        reply_json(resp, 400,
                   json_pack("{s:s,s:s}", "error_code", "RESOURCE_ALREADY_EXISTS", "message",
                             "Registered Model (name=carprice) already exists."));
    } else if (IS("registered-models/get")) {
        reply_json(resp, 200,
                   json_pack("{s:{s:s,s:I,s:[{s:s,s:s}]}}", "registered_model", "name", "carprice",
                             "creation_timestamp", (json_int_t)1, "aliases", "alias", "champion",
                             "version", "3"));
    } else if (IS("model-versions/create")) {
        snprintf(s->last_source, sizeof s->last_source, "%s", cp_rest_json_str0(body, "source"));
        reply_json(resp, 200,
                   json_pack("{s:o}", "model_version", version_json(s, "PENDING_REGISTRATION")));
    } else if (IS("model-versions/get")) {
        if (s->version_deleted) {
            not_found(resp, "Model Version (name=carprice, version=3) not found");
        } else {
            s->version_polls++;
            const char *st = s->version_polls < 3 ? "PENDING_REGISTRATION"
                             : s->version_fails   ? "FAILED_REGISTRATION"
                                                  : "READY";
            json_t *mv = version_json(s, st);
            json_object_set_new(mv, "status_message", json_string("copy failed"));
            reply_json(resp, 200, json_pack("{s:o}", "model_version", mv));
        }
    } else if (IS("model-versions/delete")) {
        s->version_deleted = true;
        s->alias_set = false;
        fake_reply(resp, 200, "{}");
    } else if (IS("registered-models/alias")) {
        if (strcmp(req->method, "POST") == 0) {
            s->alias_set = strcmp(cp_rest_json_str0(body, "version"), "3") == 0 &&
                           strcmp(cp_rest_json_str0(body, "alias"), "champion") == 0;
            fake_reply(resp, 200, "{}");
        } else if (strcmp(req->method, "DELETE") == 0) {
            s->alias_set = false;
            fake_reply(resp, 200, "{}");
        } else if (s->alias_set) {
            reply_json(resp, 200, json_pack("{s:o}", "model_version", version_json(s, "READY")));
        } else {
            /* What MLflow 3 really answers for a missing alias. */
            reply_json(resp, 400,
                       json_pack("{s:s,s:s}", "error_code", "INVALID_PARAMETER_VALUE", "message",
                                 "Registered model alias champion not found."));
        }
    } else if (IS("model-versions/search")) {
        s->search_pages++;
        const char *tok = fake_arg(req, "page_token");
        json_t *mvs = json_array();
        int start = tok ? atoi(tok) : 0;
        int per = atoi(fake_arg(req, "max_results"));
        if (per > 2)
            per = 2; /* the server pages at 2 */
        for (int i = start; i < start + per && i < 5; i++) {
            char v[16];
            snprintf(v, sizeof v, "%d", i + 1);
            json_array_append_new(mvs, json_pack("{s:s,s:s,s:s}", "name", "carprice", "version", v,
                                                 "status", "READY"));
        }
        json_t *r = json_pack("{s:o}", "model_versions", mvs);
        if (start + per < 5) {
            char t[16];
            snprintf(t, sizeof t, "%d", start + per);
            json_object_set_new(r, "next_page_token", json_string(t));
        }
        reply_json(resp, 200, r);
    } else {
        reply_json(resp, 404,
                   json_pack("{s:s,s:s}", "error_code", "ENDPOINT_NOT_FOUND", "message", p));
    }
#undef IS
    json_decref(body);
    pthread_mutex_unlock(&s->mu);
}

typedef struct {
    fake_server_t *srv;
    mlflow_state_t st;
    cp_mlflow_t *m;
    cp_rest_error_t *err;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->st.mu, NULL);
    f->srv = fake_start(handler, &f->st);
    assert_non_null(f->srv);
    cp_http_options_t o;
    cp_http_options_init(&o);
    o.backoff_base_ms = 5;
    o.timeout_ms = 5000;
    cp_mlflow_config_t c = {.tracking_uri = fake_url(f->srv), .http = &o};
    assert_int_equal(cp_mlflow_new(&c, &f->m, NULL), CP_REST_OK);
    f->err = cp_rest_error_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cp_mlflow_destroy(f->m);
    fake_stop(f->srv);
    for (int i = 0; i < f->st.n_art; i++)
        free(f->st.art[i].data);
    cp_rest_error_destroy(f->err);
    free(f);
    return 0;
}

static void experiment_get_or_create(void **state)
{
    fixture_t *f = *state;
    cp_mlflow_experiment_t *e;
    assert_int_equal(cp_mlflow_experiment_get_by_name(f->m, "carprice", &e, f->err),
                     CP_REST_ERR_NOT_FOUND);
    assert_string_equal(cp_rest_error_remote_code(f->err), "RESOURCE_DOES_NOT_EXIST");
    assert_null(e);
    assert_int_equal(cp_mlflow_experiment_get_or_create(f->m, "carprice", NULL, &e, f->err),
                     CP_REST_OK);
    assert_string_equal(cp_mlflow_experiment_id(e), "7");
    assert_string_equal(cp_mlflow_experiment_name(e), "carprice");
    assert_string_equal(cp_mlflow_experiment_artifact_location(e), "mlflow-artifacts:/7");
    cp_mlflow_experiment_destroy(e);
}

static void experiment_create_race_is_absorbed(void **state)
{
    fixture_t *f = *state;
    f->st.create_races = true;
    cp_mlflow_experiment_t *e;
    assert_int_equal(cp_mlflow_experiment_get_or_create(f->m, "raced", NULL, &e, f->err),
                     CP_REST_OK);
    assert_string_equal(cp_mlflow_experiment_id(e), "7");
    cp_mlflow_experiment_destroy(e);
}

static void malformed_json_is_a_protocol_error(void **state)
{
    fixture_t *f = *state;
    cp_mlflow_experiment_t *e;
    assert_int_equal(cp_mlflow_experiment_get_by_name(f->m, "malformed", &e, f->err),
                     CP_REST_ERR_PROTOCOL);
    assert_non_null(strstr(cp_rest_error_message(f->err), "malformed JSON"));
    assert_null(e);
}

static void runs_and_batches(void **state)
{
    fixture_t *f = *state;
    cp_mlflow_kv_t tags[] = {{"stage", "ensemble"}};
    cp_mlflow_run_opts_t o = {.experiment_id = "7",
                              .run_name = "train",
                              .parent_run_id = "parent0123",
                              .tags = tags,
                              .n_tags = 1};
    cp_mlflow_run_t *run;
    assert_int_equal(cp_mlflow_run_create(f->m, &o, &run, f->err), CP_REST_OK);
    assert_string_equal(cp_mlflow_run_id(run), RUN_ID);
    assert_string_equal(f->st.parent_tag, "parent0123");
    assert_string_equal(cp_mlflow_run_parent_id(run), "parent0123");
    cp_mlflow_run_destroy(run);

    cp_mlflow_batch_t *b = cp_mlflow_batch_new();
    for (int i = 0; i < 2345; i++)
        assert_int_equal(cp_mlflow_batch_add_metric(b, "loss", 1.0 / (i + 1), 0, i, f->err),
                         CP_REST_OK);
    assert_int_equal(cp_mlflow_batch_add_metric(b, "nan", NAN, 0, 0, f->err), CP_REST_OK);
    char k[16];
    for (int i = 0; i < 130; i++) {
        snprintf(k, sizeof k, "p%d", i);
        assert_int_equal(cp_mlflow_batch_add_param(b, k, "v", f->err), CP_REST_OK);
    }
    f->st.batch_503_left = 1; /* the first request is retried */
    size_t requests;
    assert_int_equal(cp_mlflow_log_batch(f->m, RUN_ID, b, &requests, f->err), CP_REST_OK);
    assert_false(f->st.batch_over_limit);
    assert_int_equal(f->st.metrics, 2346);
    assert_int_equal(f->st.params, 130);
    assert_int_equal((int)requests, f->st.batch_requests);
    assert_true(requests >= 3);
    assert_true(f->st.nan_seen);
    cp_mlflow_batch_destroy(b);

    assert_int_equal(cp_mlflow_log_param(f->m, RUN_ID, "alpha", "0.1", f->err), CP_REST_OK);
    assert_int_equal(cp_mlflow_set_tag(f->m, RUN_ID, "k", "v", f->err), CP_REST_OK);
    assert_int_equal(cp_mlflow_log_metric(f->m, RUN_ID, "r2", 0.9, 1, f->err), CP_REST_OK);
    assert_int_equal(f->st.params, 131);

    assert_int_equal(cp_mlflow_run_terminate(f->m, RUN_ID, CP_MLFLOW_RUN_FINISHED, f->err),
                     CP_REST_OK);
    assert_string_equal(f->st.run_status, "FINISHED");
    assert_int_equal(cp_mlflow_run_terminate(f->m, RUN_ID, CP_MLFLOW_RUN_RUNNING, f->err),
                     CP_REST_ERR_INVALID_ARG);
    assert_int_equal(cp_mlflow_run_get(f->m, "nope", &run, f->err), CP_REST_ERR_NOT_FOUND);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = calloc(1, 4096);
    size_t n = fread(buf, 1, 4095, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void artifacts_round_trip(void **state)
{
    fixture_t *f = *state;
    char dir[] = "/tmp/cp_mlflow_artXXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[256];
    snprintf(p, sizeof p, "%s/model", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/model/stages", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/model/MLmodel", dir);
    write_file(p, "flavors: {}\n");
    snprintf(p, sizeof p, "%s/model/stages/0 lr.json", dir);
    write_file(p, "{\"class\":\"lr\"}");
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    write_file(p, "hello");

    assert_int_equal(cp_mlflow_artifact_upload_file(f->m, RUN_ID, p, NULL, f->err), CP_REST_OK);
    snprintf(p, sizeof p, "%s/model", dir);
    size_t files;
    assert_int_equal(cp_mlflow_artifact_upload_dir(f->m, RUN_ID, p, "model", &files, f->err),
                     CP_REST_OK);
    assert_int_equal(files, 2);
    assert_int_equal(f->st.n_art, 3);
    assert_string_equal(f->st.art[0].path, ROOT "/notes.txt");
    assert_string_equal(f->st.art[1].path, ROOT "/model/MLmodel");
    assert_string_equal(f->st.art[2].path, ROOT "/model/stages/0 lr.json");

    cp_mlflow_file_list_t *l;
    assert_int_equal(cp_mlflow_artifact_list(f->m, RUN_ID, NULL, &l, f->err), CP_REST_OK);
    assert_int_equal(cp_mlflow_file_list_count(l), 2);
    assert_string_equal(cp_mlflow_file_list_path(l, 0), "model");
    assert_true(cp_mlflow_file_list_is_dir(l, 0));
    assert_string_equal(cp_mlflow_file_list_path(l, 1), "notes.txt");
    assert_int_equal(cp_mlflow_file_list_size(l, 1), 5);
    cp_mlflow_file_list_destroy(l);
    assert_int_equal(cp_mlflow_artifact_list(f->m, RUN_ID, "model/", &l, f->err), CP_REST_OK);
    assert_string_equal(cp_mlflow_file_list_path(l, 0), "model/MLmodel");
    assert_string_equal(cp_mlflow_file_list_path(l, 1), "model/stages");
    cp_mlflow_file_list_destroy(l);

    char out[128];
    snprintf(out, sizeof out, "%s/down", dir);
    assert_int_equal(cp_mlflow_artifact_download(f->m, RUN_ID, "", out, f->err), CP_REST_OK);
    snprintf(p, sizeof p, "%s/model/stages/0 lr.json", out);
    char *text = read_file(p);
    assert_non_null(text);
    assert_string_equal(text, "{\"class\":\"lr\"}");
    free(text);
    snprintf(p, sizeof p, "%s/one.txt", dir);
    assert_int_equal(cp_mlflow_artifact_download(f->m, RUN_ID, "notes.txt", p, f->err), CP_REST_OK);
    text = read_file(p);
    assert_string_equal(text, "hello");
    free(text);
    assert_int_equal(cp_mlflow_artifact_download(f->m, RUN_ID, "missing.bin", p, f->err),
                     CP_REST_ERR_NOT_FOUND);
    assert_int_equal(cp_mlflow_artifact_download(f->m, RUN_ID, "../etc", p, f->err),
                     CP_REST_ERR_INVALID_ARG);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void registry_flow(void **state)
{
    fixture_t *f = *state;
    cp_mlflow_model_t *rm;
    assert_int_equal(cp_mlflow_model_create(f->m, "carprice", NULL, &rm, f->err),
                     CP_REST_ERR_EXISTS);
    assert_int_equal(cp_mlflow_model_get_or_create(f->m, "carprice", &rm, f->err), CP_REST_OK);
    assert_string_equal(cp_mlflow_model_name(rm), "carprice");
    cp_mlflow_kv_t a;
    assert_int_equal(cp_mlflow_model_alias_count(rm), 1);
    assert_true(cp_mlflow_model_alias_at(rm, 0, &a));
    assert_string_equal(a.key, "champion");
    assert_string_equal(a.value, "3");
    cp_mlflow_model_destroy(rm);

    cp_mlflow_kv_t tags[] = {{"hdfs_path", "/carprice/models/3"}};
    cp_mlflow_model_version_opts_t o = {
        .name = "carprice", .run_id = RUN_ID, .artifact_path = "model", .tags = tags, .n_tags = 1};
    cp_mlflow_model_version_t *mv;
    assert_int_equal(cp_mlflow_model_version_create(f->m, &o, &mv, f->err), CP_REST_OK);
    assert_string_equal(f->st.last_source, "mlflow-artifacts:/" ROOT "/model");
    assert_string_equal(cp_mlflow_model_version_status(mv), "PENDING_REGISTRATION");
    assert_string_equal(cp_mlflow_model_version_version(mv), "3");
    cp_mlflow_model_version_destroy(mv);
    assert_int_equal(cp_mlflow_model_version_wait_ready(f->m, "carprice", "3", 10000, &mv, f->err),
                     CP_REST_OK);
    assert_int_equal(f->st.version_polls, 3);
    assert_string_equal(cp_mlflow_model_version_source(mv), "mlflow-artifacts:/" ROOT "/model");
    assert_string_equal(cp_mlflow_model_version_tag(mv, "hdfs_path"), "/carprice/models/3");
    assert_string_equal(cp_mlflow_model_version_alias_at(mv, 0), "champion");
    cp_mlflow_model_version_destroy(mv);

    assert_int_equal(cp_mlflow_model_alias_get(f->m, "carprice", "champion", &mv, f->err),
                     CP_REST_ERR_NOT_FOUND);
    assert_int_equal(cp_mlflow_model_alias_set(f->m, "carprice", "champion", "3", f->err),
                     CP_REST_OK);
    assert_int_equal(cp_mlflow_model_alias_get(f->m, "carprice", "champion", &mv, f->err),
                     CP_REST_OK);
    assert_string_equal(cp_mlflow_model_version_run_id(mv), RUN_ID);
    cp_mlflow_model_version_destroy(mv);
    /* The alias of a deleted version is gone: a clear NOT_FOUND. */
    assert_int_equal(cp_mlflow_model_version_delete(f->m, "carprice", "3", f->err), CP_REST_OK);
    assert_int_equal(cp_mlflow_model_alias_get(f->m, "carprice", "champion", &mv, f->err),
                     CP_REST_ERR_NOT_FOUND);
    assert_null(mv);
    assert_non_null(strstr(cp_rest_error_message(f->err), "champion"));
    assert_string_equal(cp_rest_error_remote_code(f->err), "INVALID_PARAMETER_VALUE");
    assert_int_equal(cp_rest_error_http_status(f->err), 400);
    assert_int_equal(cp_mlflow_model_alias_get(f->m, "carprice", "champion", &mv, NULL),
                     CP_REST_ERR_NOT_FOUND);
}

static void wait_ready_reports_failure_and_timeout(void **state)
{
    fixture_t *f = *state;
    f->st.version_fails = true;
    assert_int_equal(cp_mlflow_model_version_wait_ready(f->m, "carprice", "3", 10000, NULL, f->err),
                     CP_REST_ERR_FAILED);
    assert_string_equal(cp_rest_error_remote_message(f->err), "copy failed");
    f->st.version_polls = -1000; /* pending for a long time */
    double t0 = cp_rest_mono_ms();
    assert_int_equal(cp_mlflow_model_version_wait_ready(f->m, "carprice", "3", 300, NULL, f->err),
                     CP_REST_ERR_TIMEOUT);
    assert_true(cp_rest_mono_ms() - t0 < 2000);
}

static void search_follows_pages(void **state)
{
    fixture_t *f = *state;
    cp_mlflow_model_version_list_t *l;
    assert_int_equal(cp_mlflow_model_version_search(f->m, "name='carprice'", "version_number DESC",
                                                    0, &l, f->err),
                     CP_REST_OK);
    assert_int_equal(cp_mlflow_model_version_list_count(l), 5);
    assert_int_equal(f->st.search_pages, 3);
    assert_string_equal(cp_mlflow_model_version_version(cp_mlflow_model_version_list_at(l, 4)),
                        "5");
    assert_null(cp_mlflow_model_version_list_at(l, 5));
    cp_mlflow_model_version_list_destroy(l);
    assert_int_equal(cp_mlflow_model_version_search(f->m, NULL, NULL, 3, &l, f->err), CP_REST_OK);
    assert_int_equal(cp_mlflow_model_version_list_count(l), 3);
    cp_mlflow_model_version_list_destroy(l);
}

static void config_from_environment(void **state)
{
    (void)state;
    setenv("MLFLOW_TRACKING_URI", "http://user:pw@127.0.0.1:1/prefix/", 1);
    cp_mlflow_t *m;
    assert_int_equal(cp_mlflow_new(NULL, &m, NULL), CP_REST_OK);
    assert_string_equal(cp_mlflow_tracking_uri(m), "http://127.0.0.1:1/prefix");
    cp_mlflow_destroy(m);
    setenv("MLFLOW_TRACKING_URI", "file:///tmp/mlruns", 1);
    cp_rest_error_t *err = cp_rest_error_new();
    assert_int_equal(cp_mlflow_new(NULL, &m, err), CP_REST_ERR_UNSUPPORTED);
    unsetenv("MLFLOW_TRACKING_URI");
    assert_int_equal(cp_mlflow_new(NULL, &m, NULL), CP_REST_OK);
    assert_string_equal(cp_mlflow_tracking_uri(m), "http://127.0.0.1:5000");
    cp_mlflow_destroy(m);
    cp_mlflow_destroy(NULL);
    cp_rest_error_destroy(err);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(experiment_get_or_create),
        T(experiment_create_race_is_absorbed),
        T(malformed_json_is_a_protocol_error),
        T(runs_and_batches),
        T(artifacts_round_trip),
        T(registry_flow),
        T(wait_ready_reports_failure_and_timeout),
        T(search_follows_pages),
        cmocka_unit_test(config_from_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
