/* Publishing a PipelineModel on HDFS as an MLflow spark-flavor model, and
 * registering it. The layout follows what MLflow 3.17's mlflow.spark writes
 * (docs/model-format.md); the files are produced here, not by MLflow. */
#define _GNU_SOURCE
#include "carprice/publish.h"

#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "carprice/buf.h"
#include "carprice/log.h"
#include "carprice/util.h"

#define PIPELINE_CLASS    "org.apache.spark.ml.PipelineModel"
#define PYSPARK_CLASS     "pyspark.ml.pipeline.PipelineModel"
#define SPARKML_SUBDIR    "sparkml"
#define DEFAULT_MAX_BYTES ((int64_t)4 << 30)
#define DEFAULT_WAIT_MS   300000L
#define MAX_DEPTH         32
#define MAX_META_BYTES    (1u << 20)

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* The REST error's text, or the code's description when it has none. */
static const char *why(const cp_rest_error_t *err, cp_rest_code_t rc)
{
    const char *msg = cp_rest_error_message(err);
    return msg && *msg ? msg : cp_rest_strerror(rc);
}

/* '/'-separated, relative, no empty, "." or ".." segment. */
static bool artifact_path_ok(const char *p)
{
    if (!p || !*p || *p == '/')
        return false;
    const char *seg = p;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!end)
            return true;
        seg = end + 1;
    }
}

/* The path part of hdfs://authority/path, or NULL when uri is not one. */
static const char *hdfs_uri_path(const char *uri)
{
    if (!uri || strncmp(uri, "hdfs://", 7) != 0)
        return NULL;
    const char *p = strchr(uri + 7, '/');
    return p && p > uri + 7 && p[1] ? p : NULL;
}

/* s as a YAML double-quoted scalar (JSON string syntax is valid YAML), with
 * non-ASCII escaped; malloc'd, NULL when out of memory. */
static char *yq(const char *s)
{
    json_t *j = json_string(s);
    if (!j)
        return NULL; /* out of memory or invalid UTF-8 */
    char *out = json_dumps(j, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
    json_decref(j);
    return out;
}

/* Appends `key: "value"` at indent to b; -1 when out of memory. */
static int yaml_kv(cp_buf_t *b, int indent, const char *key, const char *value)
{
    char *q = yq(value);
    if (!q)
        return -1;
    int rc = cp_buf_printf(b, "%*s%s: %s\n", indent, "", key, q);
    free(q);
    return rc;
}

static int write_file(const char *dir, const char *name, const cp_buf_t *b)
{
    char *path = cp_strf("%s/%s", dir, name);
    if (!path)
        return -1;
    FILE *f = fopen(path, "wb");
    free(path);
    if (!f)
        return -1;
    bool ok = fwrite(b->data ? b->data : "", 1, b->len, f) == b->len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir)
{
    if (dir && *dir)
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- reading the PipelineModel's own metadata ---- */

typedef struct {
    char spark_version[32];
    char uid[128];
} pipeline_meta_t;

/* Checks that dir is a complete PipelineModel (metadata/_SUCCESS and a
 * metadata part file naming the class) and reads its sparkVersion and uid. */
static cp_rest_code_t read_pipeline_meta(cp_hdfs_t *h, const char *dir, pipeline_meta_t *pm,
                                         cp_rest_error_t *err, char *errbuf, size_t errlen)
{
    char *mdir = cp_strf("%s/metadata", dir);
    if (!mdir)
        return CP_REST_ERR_NOMEM;
    cp_hdfs_list_t *l = NULL;
    cp_rest_code_t rc = cp_hdfs_list(h, mdir, &l, err);
    if (rc == CP_REST_ERR_NOT_FOUND) {
        seterr(errbuf, errlen, "%s on HDFS is not a Spark PipelineModel: it has no metadata/", dir);
        free(mdir);
        return CP_REST_ERR_INVALID_ARG;
    }
    if (rc != CP_REST_OK) {
        seterr(errbuf, errlen, "listing %s on HDFS: %s", mdir, why(err, rc));
        free(mdir);
        return rc;
    }
    bool success = false;
    const char *part = NULL;
    for (size_t i = 0; i < cp_hdfs_list_count(l); i++) {
        const cp_hdfs_file_status_t *st = cp_hdfs_list_at(l, i);
        if (st->type != CP_HDFS_FILE)
            continue;
        if (strcmp(st->name, "_SUCCESS") == 0)
            success = true;
        else if (!part && strncmp(st->name, "part-", 5) == 0 && st->length > 0)
            part = st->name;
    }
    if (!success || !part) {
        seterr(errbuf, errlen, "%s on HDFS is not a complete Spark PipelineModel: metadata/ has %s",
               dir, success ? "no part file" : "no _SUCCESS marker (write unfinished?)");
        cp_hdfs_list_destroy(l);
        free(mdir);
        return CP_REST_ERR_INVALID_ARG;
    }
    char *ppath = cp_strf("%s/%s", mdir, part);
    cp_hdfs_list_destroy(l);
    free(mdir);
    if (!ppath)
        return CP_REST_ERR_NOMEM;
    cp_buf_t b;
    cp_buf_init(&b, MAX_META_BYTES);
    rc = cp_hdfs_open_to_buf(h, ppath, &b, err);
    if (rc != CP_REST_OK) {
        seterr(errbuf, errlen, "reading %s on HDFS: %s", ppath, why(err, rc));
        free(ppath);
        cp_buf_free(&b);
        return rc;
    }
    /* Spark writes the metadata as one JSON object on one line. */
    json_error_t jerr;
    json_t *j = json_loadb(b.data ? b.data : "", b.len, JSON_DISABLE_EOF_CHECK, &jerr);
    cp_buf_free(&b);
    const char *cls = j ? json_string_value(json_object_get(j, "class")) : NULL;
    const char *ver = j ? json_string_value(json_object_get(j, "sparkVersion")) : NULL;
    const char *uid = j ? json_string_value(json_object_get(j, "uid")) : NULL;
    rc = CP_REST_OK;
    if (!j) {
        seterr(errbuf, errlen, "%s on HDFS: metadata is not JSON (%s)", ppath, jerr.text);
        rc = CP_REST_ERR_INVALID_ARG;
    } else if (!cls || strcmp(cls, PIPELINE_CLASS) != 0) {
        seterr(errbuf, errlen, "%s on HDFS holds a %s, not a Spark PipelineModel", dir,
               cls ? cls : "model of unknown class");
        rc = CP_REST_ERR_INVALID_ARG;
    } else {
        snprintf(pm->spark_version, sizeof pm->spark_version, "%s", ver ? ver : "");
        snprintf(pm->uid, sizeof pm->uid, "%s", uid ? uid : "");
    }
    json_decref(j);
    free(ppath);
    return rc;
}

/* ---- copying the directory from HDFS ---- */

typedef struct {
    cp_hdfs_t *h;
    cp_rest_error_t *err;
    char *errbuf;
    size_t errlen;
    int64_t max_bytes;
    size_t files;
    int64_t bytes;
} copy_t;

static cp_rest_code_t copy_tree(copy_t *c, const char *src, const char *dst, int depth)
{
    if (depth > MAX_DEPTH) {
        seterr(c->errbuf, c->errlen, "%s on HDFS: directories nested deeper than %d", src,
               MAX_DEPTH);
        return CP_REST_ERR_LIMIT;
    }
    if (mkdir(dst, 0700) != 0 && errno != EEXIST) {
        seterr(c->errbuf, c->errlen, "creating %s: %s", dst, strerror(errno));
        return CP_REST_ERR_IO;
    }
    cp_hdfs_list_t *l = NULL;
    cp_rest_code_t rc = cp_hdfs_list(c->h, src, &l, c->err);
    if (rc != CP_REST_OK) {
        seterr(c->errbuf, c->errlen, "listing %s on HDFS: %s", src, why(c->err, rc));
        return rc;
    }
    for (size_t i = 0; rc == CP_REST_OK && i < cp_hdfs_list_count(l); i++) {
        const cp_hdfs_file_status_t *st = cp_hdfs_list_at(l, i);
        char *s = cp_strf("%s/%s", src, st->name);
        char *d = cp_strf("%s/%s", dst, st->name);
        if (!s || !d) {
            rc = CP_REST_ERR_NOMEM;
        } else if (st->type == CP_HDFS_DIRECTORY) {
            rc = copy_tree(c, s, d, depth + 1);
        } else if (st->type != CP_HDFS_FILE) {
            seterr(c->errbuf, c->errlen, "%s on HDFS is a symbolic link; a model has none", s);
            rc = CP_REST_ERR_INVALID_ARG;
        } else if (c->bytes + st->length > c->max_bytes) {
            seterr(c->errbuf, c->errlen, "the model is larger than the limit of %lld bytes",
                   (long long)c->max_bytes);
            rc = CP_REST_ERR_LIMIT;
        } else {
            rc = cp_hdfs_open_to_file(c->h, s, d, c->err);
            if (rc != CP_REST_OK) {
                seterr(c->errbuf, c->errlen, "copying %s from HDFS: %s", s, why(c->err, rc));
            } else {
                c->files++;
                c->bytes += st->length;
            }
        }
        free(s);
        free(d);
    }
    cp_hdfs_list_destroy(l);
    return rc;
}

/* ---- MLflow metadata files ---- */

typedef struct {
    const char *run_id;
    const char *artifact_path;
    const char *model_uri;
    const char *pipeline_uid;
    const char *spark_version;
    const char *mlflow_version; /* NULL: left out */
    const char *python_version; /* NULL: left out */
    const char *model_uuid;
    const char *created; /* "YYYY-MM-DD HH:MM:SS.ffffff", UTC */
    int64_t size_bytes;
} meta_t;

/* The MLmodel file. Keys are in the order yaml.safe_dump sorts them. */
static int mlmodel_yaml(cp_buf_t *b, const meta_t *mt)
{
    int rc = yaml_kv(b, 0, "artifact_path", mt->artifact_path);
    rc |= cp_buf_printf(b, "flavors:\n"
                           "  python_function:\n"
                           "    data: " SPARKML_SUBDIR "\n"
                           "    env:\n"
                           "      conda: conda.yaml\n"
                           "      virtualenv: python_env.yaml\n"
                           "    loader_module: mlflow.spark\n");
    if (mt->python_version)
        rc |= yaml_kv(b, 4, "python_version", mt->python_version);
    rc |= cp_buf_printf(b, "  spark:\n"
                           "    code: null\n"
                           "    model_class: " PYSPARK_CLASS "\n"
                           "    model_data: " SPARKML_SUBDIR "\n");
    rc |= yaml_kv(b, 4, "pyspark_version", mt->spark_version);
    rc |= cp_buf_printf(b, "metadata:\n");
    rc |= yaml_kv(b, 2, "carprice_model_path", mt->model_uri);
    rc |= yaml_kv(b, 2, "carprice_pipeline_uid", mt->pipeline_uid);
    if (mt->mlflow_version)
        rc |= yaml_kv(b, 0, "mlflow_version", mt->mlflow_version);
    rc |= cp_buf_printf(b, "model_size_bytes: %lld\n", (long long)mt->size_bytes);
    rc |= yaml_kv(b, 0, "model_uuid", mt->model_uuid);
    rc |= yaml_kv(b, 0, "run_id", mt->run_id);
    rc |= yaml_kv(b, 0, "utc_time_created", mt->created);
    return rc ? -1 : 0;
}

/* requirements.txt, conda.yaml and python_env.yaml into dir. */
static int env_files(const char *dir, const meta_t *mt)
{
    cp_buf_t req, conda, pyenv;
    cp_buf_init(&req, 1 << 16);
    cp_buf_init(&conda, 1 << 16);
    cp_buf_init(&pyenv, 1 << 16);
    int rc = 0;
    /* Unpinned when the version is unknown rather than pinned to a guess. */
    if (mt->mlflow_version)
        rc |= cp_buf_printf(&req, "mlflow==%s\n", mt->mlflow_version);
    else
        rc |= cp_buf_printf(&req, "mlflow\n");
    rc |= cp_buf_printf(&req, "pyspark==%s", mt->spark_version);

    rc |= cp_buf_printf(&conda, "channels:\n- conda-forge\ndependencies:\n");
    if (mt->python_version)
        rc |= cp_buf_printf(&conda, "- python=%s\n", mt->python_version);
    rc |= cp_buf_printf(&conda, "- pip\n- pip:\n");
    if (mt->mlflow_version)
        rc |= cp_buf_printf(&conda, "  - mlflow==%s\n", mt->mlflow_version);
    else
        rc |= cp_buf_printf(&conda, "  - mlflow\n");
    rc |= cp_buf_printf(&conda, "  - pyspark==%s\nname: mlflow-env\n", mt->spark_version);

    if (mt->python_version)
        rc |= yaml_kv(&pyenv, 0, "python", mt->python_version);
    rc |= cp_buf_printf(&pyenv, "build_dependencies:\n- pip\n- setuptools\n- wheel\n"
                                "dependencies:\n- -r requirements.txt\n");
    if (rc == 0)
        rc = write_file(dir, "requirements.txt", &req) | write_file(dir, "conda.yaml", &conda) |
             write_file(dir, "python_env.yaml", &pyenv);
    cp_buf_free(&req);
    cp_buf_free(&conda);
    cp_buf_free(&pyenv);
    return rc ? -1 : 0;
}

/* The entry MLflow's log-model call appends to the run's tag
 * mlflow.log-model.history (the keys of Model.get_tags_dict), which MLflow's
 * UI reads to show that the run logged a model. */
static json_t *history_entry(const meta_t *mt)
{
    json_t *pyfunc =
        json_pack("{s:s, s:{s:s, s:s}, s:s}", "data", SPARKML_SUBDIR, "env", "conda", "conda.yaml",
                  "virtualenv", "python_env.yaml", "loader_module", "mlflow.spark");
    if (pyfunc && mt->python_version)
        json_object_set_new(pyfunc, "python_version", json_string(mt->python_version));
    json_t *spark = json_pack("{s:n, s:s, s:s, s:s}", "code", "model_class", PYSPARK_CLASS,
                              "model_data", SPARKML_SUBDIR, "pyspark_version", mt->spark_version);
    if (!pyfunc || !spark) {
        json_decref(pyfunc);
        json_decref(spark);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:o, s:o}}", "run_id", mt->run_id, "artifact_path",
                     mt->artifact_path, "utc_time_created", mt->created, "model_uuid",
                     mt->model_uuid, "flavors", "python_function", pyfunc, "spark", spark);
}

/* Appends our entry to the run's mlflow.log-model.history, as MLflow's
 * log-model endpoint would. Like MLflow, a failure here is a warning: the
 * model itself is complete. */
static void record_history(cp_mlflow_t *m, const cp_mlflow_run_t *run, const meta_t *mt,
                           cp_rest_error_t *err)
{
    const char *old = cp_mlflow_run_tag(run, CP_PUBLISH_TAG_HISTORY);
    json_t *list = old ? json_loads(old, 0, NULL) : json_array();
    if (!json_is_array(list)) {
        json_decref(list);
        list = json_array();
    }
    char *value = NULL;
    if (list && json_array_append_new(list, history_entry(mt)) == 0)
        value = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    cp_rest_code_t rc = value ? cp_mlflow_set_tag(m, mt->run_id, CP_PUBLISH_TAG_HISTORY, value, err)
                              : CP_REST_ERR_NOMEM;
    if (rc != CP_REST_OK)
        cp_log_warn("publish.history", "run_id=%s error=\"%s\"", mt->run_id, why(err, rc));
    free(value);
}

/* A version string: short, letters, digits, '.', '+', '-'. */
static bool version_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= 32)
        return false;
    for (const char *p = v; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '.' || *p == '+' || *p == '-'))
            return false;
    return true;
}

/* The tracking server's MLflow version (GET /version) into out, or "" when
 * it does not say; this is metadata, so failing to learn it is no error. */
static void server_mlflow_version(cp_mlflow_t *m, char *out, size_t cap)
{
    out[0] = '\0';
    cp_http_options_t ho;
    cp_http_options_init(&ho);
    ho.max_retries = 1;
    ho.timeout_ms = 10000;
    ho.max_body_bytes = 256;
    cp_http_t *http = NULL;
    if (cp_http_new(cp_mlflow_tracking_uri(m), &ho, &http, NULL) != CP_REST_OK)
        return;
    cp_http_request_t req = {.method = "GET", .url = "/version"};
    cp_http_response_t resp;
    if (cp_http_do(http, &req, &resp, NULL) == CP_REST_OK && resp.status == 200 && resp.body.data) {
        char *v = resp.body.data;
        v[strcspn(v, " \r\n\t")] = '\0';
        if (version_ok(v))
            snprintf(out, cap, "%s", v);
    }
    cp_http_response_free(&resp);
    cp_http_destroy(http);
}

static int new_uuid_hex(char out[33])
{
    unsigned char r[16];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    return 0;
}

static void utc_now(char *out, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, cap, "%s.%06ld", day, ts.tv_nsec / 1000);
}

/* ---- publishing ---- */

cp_rest_code_t cp_publish_spark_model(cp_mlflow_t *m, cp_hdfs_t *h, const cp_publish_opts_t *o,
                                      cp_publish_result_t *res, char *errbuf, size_t errlen)
{
    double t0 = cp_now_s();
    if (res)
        memset(res, 0, sizeof *res);
    seterr(errbuf, errlen, "%s", "");
    if (!m || !h || !o || !o->run_id || !*o->run_id) {
        seterr(errbuf, errlen, "publish: missing client, options or run id");
        return CP_REST_ERR_INVALID_ARG;
    }
    const char *apath = o->artifact_path ? o->artifact_path : CP_PUBLISH_DEFAULT_ARTIFACT_PATH;
    if (!artifact_path_ok(apath)) {
        seterr(errbuf, errlen,
               "publish: artifact path \"%s\" must be relative, without empty, \".\" or \"..\" "
               "parts",
               apath);
        return CP_REST_ERR_INVALID_ARG;
    }
    const char *uri_path = hdfs_uri_path(o->model_uri);
    if (!uri_path) {
        seterr(errbuf, errlen, "publish: model URI \"%s\" is not hdfs://host:port/path",
               o->model_uri ? o->model_uri : "(null)");
        return CP_REST_ERR_INVALID_ARG;
    }
    const char *dir = o->hdfs_model_dir ? o->hdfs_model_dir : uri_path;
    if (*dir != '/') {
        seterr(errbuf, errlen, "publish: HDFS directory \"%s\" is not an absolute path", dir);
        return CP_REST_ERR_INVALID_ARG;
    }
    int64_t max_bytes = o->max_bytes > 0 ? o->max_bytes : DEFAULT_MAX_BYTES;

    cp_rest_error_t *err = cp_rest_error_new();
    if (!err)
        return CP_REST_ERR_NOMEM;
    cp_rest_code_t rc;
    cp_mlflow_run_t *run = NULL;
    char stage[] = "carprice-publish-XXXXXX";
    char *stage_dir = NULL, *sparkml = NULL, *art_sparkml = NULL;
    cp_buf_t mlmodel;
    cp_buf_init(&mlmodel, 1 << 20);

    /* The run first: a wrong tracking URI or run id fails before any copying. */
    rc = cp_mlflow_run_get(m, o->run_id, &run, err);
    if (rc != CP_REST_OK) {
        seterr(errbuf, errlen, "publish: MLflow run %s at %s: %s", o->run_id,
               cp_mlflow_tracking_uri(m), why(err, rc));
        goto out;
    }

    cp_hdfs_file_status_t *st = NULL;
    rc = cp_hdfs_stat(h, dir, &st, err);
    if (rc == CP_REST_ERR_NOT_FOUND) {
        seterr(errbuf, errlen, "publish: PipelineModel directory %s does not exist on HDFS (%s)",
               dir, cp_hdfs_url(h));
        goto out;
    }
    if (rc != CP_REST_OK) {
        seterr(errbuf, errlen, "publish: HDFS directory %s at %s: %s", dir, cp_hdfs_url(h),
               why(err, rc));
        goto out;
    }
    bool is_dir = st->type == CP_HDFS_DIRECTORY;
    cp_hdfs_file_status_free(st);
    if (!is_dir) {
        seterr(errbuf, errlen, "publish: %s on HDFS is not a directory", dir);
        rc = CP_REST_ERR_INVALID_ARG;
        goto out;
    }
    pipeline_meta_t pm = {{0}, {0}};
    char emsg[512] = "";
    rc = read_pipeline_meta(h, dir, &pm, err, emsg, sizeof emsg);
    if (rc != CP_REST_OK) {
        seterr(errbuf, errlen, "publish: %s", emsg);
        goto out;
    }
    cp_hdfs_content_summary_t sum;
    rc = cp_hdfs_content_summary(h, dir, &sum, err);
    if (rc != CP_REST_OK) {
        seterr(errbuf, errlen, "publish: size of %s on HDFS: %s", dir, why(err, rc));
        goto out;
    }
    if (sum.length > max_bytes) {
        seterr(errbuf, errlen, "publish: %s is %lld bytes, over the limit of %lld", dir,
               (long long)sum.length, (long long)max_bytes);
        rc = CP_REST_ERR_LIMIT;
        goto out;
    }

    /* Stage a local copy: the artifact API uploads local files. */
    const char *tmp = getenv("TMPDIR");
    stage_dir = cp_strf("%s/%s", tmp && *tmp ? tmp : "/tmp", stage);
    if (!stage_dir) {
        rc = CP_REST_ERR_NOMEM;
        goto out;
    }
    if (!mkdtemp(stage_dir)) {
        seterr(errbuf, errlen, "publish: creating a staging directory in %s: %s",
               tmp && *tmp ? tmp : "/tmp", strerror(errno));
        free(stage_dir);
        stage_dir = NULL;
        rc = CP_REST_ERR_IO;
        goto out;
    }
    sparkml = cp_strf("%s/" SPARKML_SUBDIR, stage_dir);
    art_sparkml = cp_strf("%s/" SPARKML_SUBDIR, apath);
    if (!sparkml || !art_sparkml) {
        rc = CP_REST_ERR_NOMEM;
        goto out;
    }
    copy_t c = {.h = h, .err = err, .errbuf = emsg, .errlen = sizeof emsg, .max_bytes = max_bytes};
    rc = copy_tree(&c, dir, sparkml, 0);
    if (rc != CP_REST_OK) {
        seterr(errbuf, errlen, "publish: %s", emsg);
        goto out;
    }

    char mlflow_version[32] = "";
    if (o->mlflow_version && *o->mlflow_version)
        snprintf(mlflow_version, sizeof mlflow_version, "%s", o->mlflow_version);
    else
        server_mlflow_version(m, mlflow_version, sizeof mlflow_version);
    const char *spark_version = o->spark_version && *o->spark_version ? o->spark_version
                                : *pm.spark_version                   ? pm.spark_version
                                                                      : NULL;
    if (!spark_version || !version_ok(spark_version)) {
        seterr(errbuf, errlen,
               "publish: no usable Spark version (give spark_version; the metadata of %s says "
               "\"%s\")",
               dir, pm.spark_version);
        rc = CP_REST_ERR_INVALID_ARG;
        goto out;
    }
    char uuid[33], created[64];
    if (new_uuid_hex(uuid) != 0) {
        seterr(errbuf, errlen, "publish: no random bytes for the model uuid: %s", strerror(errno));
        rc = CP_REST_ERR_IO;
        goto out;
    }
    utc_now(created, sizeof created);
    meta_t mt = {
        .run_id = o->run_id,
        .artifact_path = apath,
        .model_uri = o->model_uri,
        .pipeline_uid = pm.uid,
        .spark_version = spark_version,
        .mlflow_version = *mlflow_version ? mlflow_version : NULL,
        .python_version = o->python_version && *o->python_version ? o->python_version : NULL,
        .model_uuid = uuid,
        .created = created,
        .size_bytes = c.bytes,
    };
    errno = 0;
    if (mlmodel_yaml(&mlmodel, &mt) != 0 || write_file(stage_dir, "MLmodel", &mlmodel) != 0 ||
        env_files(stage_dir, &mt) != 0) {
        seterr(errbuf, errlen, "publish: writing the MLflow metadata in %s: %s", stage_dir,
               errno ? strerror(errno) : "out of memory");
        rc = CP_REST_ERR_IO;
        goto out;
    }

    /* Data first, MLmodel last: whoever sees MLmodel sees a whole model. */
    size_t uploaded = 0;
    rc = cp_mlflow_artifact_upload_dir(m, o->run_id, sparkml, art_sparkml, &uploaded, err);
    static const char *const meta_files[] = {"requirements.txt", "conda.yaml", "python_env.yaml",
                                             "MLmodel"};
    for (size_t i = 0; rc == CP_REST_OK && i < sizeof meta_files / sizeof *meta_files; i++) {
        char *f = cp_strf("%s/%s", stage_dir, meta_files[i]);
        rc = f ? cp_mlflow_artifact_upload_file(m, o->run_id, f, apath, err) : CP_REST_ERR_NOMEM;
        free(f);
    }
    if (rc != CP_REST_OK) {
        seterr(errbuf, errlen, "publish: uploading to the artifacts of run %s at %s: %s", o->run_id,
               cp_mlflow_tracking_uri(m), why(err, rc));
        goto out;
    }
    if (uploaded != c.files) {
        seterr(errbuf, errlen, "publish: copied %zu files from HDFS but uploaded %zu", c.files,
               uploaded);
        rc = CP_REST_ERR_IO;
        goto out;
    }
    record_history(m, run, &mt, err);
    if (res) {
        res->files = c.files;
        res->bytes = c.bytes;
        memcpy(res->model_uuid, uuid, sizeof res->model_uuid);
        snprintf(res->spark_version, sizeof res->spark_version, "%s", spark_version);
        snprintf(res->pipeline_uid, sizeof res->pipeline_uid, "%s", pm.uid);
    }
    cp_log_info("publish.model",
                "run_id=%s artifact_path=\"%s\" model_uri=\"%s\" files=%zu bytes=%lld "
                "model_uuid=%s secs=%.2f",
                o->run_id, apath, o->model_uri, c.files, (long long)c.bytes, uuid, cp_now_s() - t0);

out:
    if (stage_dir)
        rm_tree(stage_dir);
    free(stage_dir);
    free(sparkml);
    free(art_sparkml);
    cp_buf_free(&mlmodel);
    cp_mlflow_run_destroy(run);
    cp_rest_error_destroy(err);
    if (res)
        res->seconds = cp_now_s() - t0;
    return rc;
}

/* ---- registering ---- */

static bool has_mlmodel(const cp_mlflow_file_list_t *l, const char *apath)
{
    size_t n = strlen(apath);
    for (size_t i = 0; i < cp_mlflow_file_list_count(l); i++) {
        const char *p = cp_mlflow_file_list_path(l, i);
        if (strncmp(p, apath, n) == 0 && p[n] == '/' && strcmp(p + n + 1, "MLmodel") == 0 &&
            !cp_mlflow_file_list_is_dir(l, i))
            return true;
    }
    return false;
}

cp_rest_code_t cp_publish_register_version(cp_mlflow_t *m, const cp_publish_register_opts_t *o,
                                           char **version_out, char *errbuf, size_t errlen)
{
    if (version_out)
        *version_out = NULL;
    seterr(errbuf, errlen, "%s", "");
    if (!m || !o || !o->name || !*o->name || !o->run_id || !*o->run_id) {
        seterr(errbuf, errlen, "register: missing client, model name or run id");
        return CP_REST_ERR_INVALID_ARG;
    }
    const char *apath = o->artifact_path ? o->artifact_path : CP_PUBLISH_DEFAULT_ARTIFACT_PATH;
    if (!artifact_path_ok(apath)) {
        seterr(errbuf, errlen, "register: bad artifact path \"%s\"", apath);
        return CP_REST_ERR_INVALID_ARG;
    }
    if (!hdfs_uri_path(o->model_uri)) {
        seterr(errbuf, errlen, "register: model URI \"%s\" is not hdfs://host:port/path",
               o->model_uri ? o->model_uri : "(null)");
        return CP_REST_ERR_INVALID_ARG;
    }
    cp_rest_error_t *err = cp_rest_error_new();
    if (!err)
        return CP_REST_ERR_NOMEM;
    cp_mlflow_run_t *run = NULL;
    cp_mlflow_file_list_t *files = NULL;
    cp_mlflow_model_version_t *mv = NULL;
    cp_mlflow_kv_t *tags = NULL;
    char *source = NULL;

    cp_rest_code_t rc = cp_mlflow_run_get(m, o->run_id, &run, err);
    if (rc != CP_REST_OK) {
        seterr(errbuf, errlen, "register: MLflow run %s at %s: %s", o->run_id,
               cp_mlflow_tracking_uri(m), why(err, rc));
        goto out;
    }
    rc = cp_mlflow_artifact_list(m, o->run_id, apath, &files, err);
    if (rc == CP_REST_OK && !has_mlmodel(files, apath))
        rc = CP_REST_ERR_NOT_FOUND;
    if (rc != CP_REST_OK) {
        seterr(errbuf, errlen,
               "register: run %s has no MLflow model at \"%s\" (publish it first)%s%s", o->run_id,
               apath, rc == CP_REST_ERR_NOT_FOUND ? "" : ": ",
               rc == CP_REST_ERR_NOT_FOUND ? "" : why(err, rc));
        goto out;
    }
    cp_mlflow_model_t *rm = NULL;
    rc = cp_mlflow_model_get_or_create(m, o->name, &rm, err);
    cp_mlflow_model_destroy(rm);
    if (rc != CP_REST_OK) {
        seterr(errbuf, errlen, "register: registered model %s: %s", o->name, why(err, rc));
        goto out;
    }
    source = cp_strf("%s/%s", cp_mlflow_run_artifact_uri(run), apath);
    tags = calloc(o->n_tags + 2, sizeof *tags);
    if (!source || !tags) {
        rc = CP_REST_ERR_NOMEM;
        goto out;
    }
    /* Built-in tags first, unless the caller gives the same key. */
    size_t nt = 0;
    const cp_mlflow_kv_t builtin[] = {{CP_PUBLISH_TAG_MODEL_PATH, o->model_uri},
                                      {CP_PUBLISH_TAG_RUN_ID, o->run_id}};
    for (size_t b = 0; b < 2; b++) {
        bool overridden = false;
        for (size_t i = 0; i < o->n_tags; i++)
            overridden |= o->tags[i].key && strcmp(o->tags[i].key, builtin[b].key) == 0;
        if (!overridden)
            tags[nt++] = builtin[b];
    }
    for (size_t i = 0; i < o->n_tags; i++)
        tags[nt++] = o->tags[i];
    cp_mlflow_model_version_opts_t vo = {
        .name = o->name,
        .run_id = o->run_id,
        .source = source,
        .description = o->description,
        .tags = tags,
        .n_tags = nt,
    };
    rc = cp_mlflow_model_version_create(m, &vo, &mv, err);
    if (rc != CP_REST_OK) {
        seterr(errbuf, errlen, "register: new version of %s from %s: %s", o->name, source,
               why(err, rc));
        goto out;
    }
    char *version = strdup(cp_mlflow_model_version_version(mv));
    if (!version) {
        rc = CP_REST_ERR_NOMEM;
        goto out;
    }
    rc = cp_mlflow_model_version_wait_ready(
        m, o->name, version, o->wait_ms > 0 ? o->wait_ms : DEFAULT_WAIT_MS, NULL, err);
    if (rc != CP_REST_OK) {
        seterr(errbuf, errlen, "register: version %s of %s did not become READY: %s", version,
               o->name, why(err, rc));
        free(version);
        goto out;
    }
    cp_log_info("publish.registered", "name=\"%s\" version=%s run_id=%s source=\"%s\"", o->name,
                version, o->run_id, source);
    if (version_out)
        *version_out = version;
    else
        free(version);

out:
    free(source);
    free(tags);
    cp_mlflow_model_version_destroy(mv);
    cp_mlflow_file_list_destroy(files);
    cp_mlflow_run_destroy(run);
    cp_rest_error_destroy(err);
    return rc;
}
