/* MLflow client: searching runs (POST /runs/search, page by page). */
#include "mlflow_internal.h"

#include <stdlib.h>
#include <string.h>

/* The server's largest page for runs/search. */
#define RUN_SEARCH_PAGE 1000

struct cp_mlflow_run_list_s {
    cp_mlflow_run_t **v;
    size_t n;
    size_t cap;
};

void cp_mlflow_run_list_destroy(cp_mlflow_run_list_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        cp_mlflow_run_destroy(l->v[i]);
    free(l->v);
    free(l);
}

size_t cp_mlflow_run_list_count(const cp_mlflow_run_list_t *l)
{
    return l ? l->n : 0;
}

const cp_mlflow_run_t *cp_mlflow_run_list_at(const cp_mlflow_run_list_t *l, size_t i)
{
    return l && i < l->n ? l->v[i] : NULL;
}

static int push_run(cp_mlflow_run_list_t *l, json_t *run)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        cp_mlflow_run_t **p = realloc(l->v, nc * sizeof *p);
        if (!p)
            return -1;
        l->v = p;
        l->cap = nc;
    }
    cp_mlflow_run_t *r = cp_mlflow_run_wrap(run);
    if (!r)
        return -1;
    l->v[l->n++] = r;
    return 0;
}

/* The request body of one page. NULL on invalid UTF-8 or no memory. */
static json_t *search_body(const char *const *ids, size_t nids, const char *filter,
                           const char *order_by, size_t want, const char *token)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < nids; i++) {
        if (json_array_append_new(arr, json_string(ids[i] ? ids[i] : "")) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    json_t *body = arr ? json_pack("{s:o,s:I,s:s}", "experiment_ids", arr, "max_results",
                                   (json_int_t)want, "run_view_type", "ACTIVE_ONLY")
                       : NULL;
    body = cp_rest_json_set_str(body, "filter", filter);
    body = cp_rest_json_set_str(body, "page_token", token);
    if (body && order_by && *order_by) {
        json_t *ob = json_pack("[s]", order_by);
        if (!ob || json_object_set_new(body, "order_by", ob) != 0) {
            json_decref(body);
            body = NULL;
        }
    }
    return body;
}

cp_rest_code_t cp_mlflow_run_search(cp_mlflow_t *m, const char *const *experiment_ids,
                                    size_t n_experiments, const char *filter, const char *order_by,
                                    size_t max_results, cp_mlflow_run_list_t **out,
                                    cp_rest_error_t *err)
{
    const char *what = "search runs";
    if (!m || !out || (n_experiments && !experiment_ids))
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: missing argument", what);
    *out = NULL;
    if (n_experiments == 0)
        return cp_rest_fail(err, CP_REST_ERR_INVALID_ARG, "%s: no experiment given", what);
    cp_mlflow_run_list_t *l = calloc(1, sizeof *l);
    if (!l)
        return cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
    char *token = NULL;
    cp_rest_code_t rc = CP_REST_OK;
    for (int page = 0;; page++) {
        size_t want = RUN_SEARCH_PAGE;
        if (max_results && max_results - l->n < want)
            want = max_results - l->n;
        json_t *body = search_body(experiment_ids, n_experiments, filter, order_by, want, token);
        free(token);
        token = NULL;
        if (!body) {
            rc = cp_rest_fail(err, CP_REST_ERR_INVALID_ARG,
                              "%s: an argument is not valid UTF-8 (or out of memory)", what);
            break;
        }
        json_t *resp;
        rc = cp_mlflow_call(m, "POST", MLFLOW_API "/runs/search", body, &resp, err, what);
        json_decref(body);
        if (rc != CP_REST_OK)
            break;
        json_t *arr = json_object_get(resp, "runs");
        if (arr && !json_is_array(arr)) {
            json_decref(resp);
            rc = cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: runs is not an array", what);
            break;
        }
        size_t n = json_array_size(arr);
        for (size_t i = 0; i < n && (!max_results || l->n < max_results); i++) {
            json_t *run = json_array_get(arr, i);
            if (!json_is_object(run) || !cp_rest_json_str(json_object_get(run, "info"), "run_id"))
                continue;
            if (push_run(l, run) != 0) {
                rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
                break;
            }
        }
        const char *next = cp_rest_json_str(resp, "next_page_token");
        if (rc == CP_REST_OK && next && *next && n > 0 && (!max_results || l->n < max_results)) {
            token = strdup(next);
            if (!token)
                rc = cp_rest_fail(err, CP_REST_ERR_NOMEM, "out of memory");
        }
        json_decref(resp);
        if (rc != CP_REST_OK || !token)
            break;
        if (page > 100000) {
            rc = cp_rest_fail(err, CP_REST_ERR_PROTOCOL, "%s: server keeps returning pages", what);
            break;
        }
    }
    free(token);
    if (rc != CP_REST_OK) {
        cp_mlflow_run_list_destroy(l);
        return rc;
    }
    *out = l;
    return CP_REST_OK;
}
