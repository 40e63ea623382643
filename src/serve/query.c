/* The prediction query's plan: Kafka requests -> validation -> features ->
 * model -> one Kafka sink writing predictions and dead letters to their
 * topics (a `topic` column per row), so that one checkpoint covers both. */
#define _GNU_SOURCE
#include "serve_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/util.h"

/* Requests larger than this are rejected unparsed (docs/messages.md). */
#define MAX_REQUEST_BYTES "1048576"
/* Dead letters carry at most this much of the rejected value. */
#define MAX_PAYLOAD_BYTES "65536"
/* Wall-clock time of the row's evaluation. current_timestamp() would be the
 * micro-batch's start in a stream, which hides the batch's own duration. */
#define NOW_MS "CAST(java_method('java.lang.System', 'currentTimeMillis') AS BIGINT)"

char *serve_sql_quote(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += (*p == '\'' || *p == '\\') ? 2 : 1;
    char *q = malloc(n + 3);
    if (!q)
        return NULL;
    char *w = q;
    *w++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'' || *p == '\\')
            *w++ = '\\';
        *w++ = *p;
    }
    *w++ = '\'';
    *w = '\0';
    return q;
}

/* Whether the text starts like a JSON object. */
#define OBJECT_START_SQL "regexp_like(req_text, '^[ \\t\\r\\n]*[{]')"

/* The validation rules of docs/messages.md, first failure wins. Columns in
 * scope: req_value (binary), req_bytes, req_ok (not oversized and valid
 * UTF-8), req_text (the value as a string), json_clean (from_json proved the
 * shape: an object whose request_id is a string, sent_at_ms an integer and
 * record an object), req_id, rec (the record read by from_json), and, for the
 * rows that are not json_clean only, req_v (the text parsed as a variant,
 * NULL if it is not JSON) and its members v_id, v_sent and v_rec, whose JSON
 * types name what is wrong. A json_clean row passes every shape rule, so they
 * are asked of the other rows only. */
static const char reason_sql[] =
    "CASE"
    " WHEN req_value IS NULL THEN 'not_json: no value'"
    " WHEN req_bytes > " MAX_REQUEST_BYTES " THEN 'oversized'"
    " WHEN NOT req_ok THEN 'not_json: invalid UTF-8'"
    " WHEN NOT json_clean AND req_v IS NULL THEN 'not_json'"
    " WHEN NOT json_clean AND NOT " OBJECT_START_SQL " THEN 'not_json: not an object'"
    " WHEN NOT json_clean AND (v_id IS NULL OR is_variant_null(v_id))"
    " THEN 'missing_field: request_id'"
    " WHEN NOT json_clean AND schema_of_variant(v_id) <> 'STRING' THEN 'wrong_type: request_id'"
    " WHEN IF(json_clean, req_id, variant_get(v_id, '$', 'string')) = ''"
    " THEN 'empty: request_id'"
    " WHEN NOT json_clean AND (v_sent IS NULL OR is_variant_null(v_sent))"
    " THEN 'missing_field: sent_at_ms'"
    " WHEN NOT json_clean AND schema_of_variant(v_sent) NOT IN ('TINYINT', 'SMALLINT', 'INT',"
    " 'BIGINT') THEN 'wrong_type: sent_at_ms'"
    " WHEN NOT json_clean AND (v_rec IS NULL OR is_variant_null(v_rec))"
    " THEN 'missing_field: record'"
    /* rec can be an earlier "record" member than the one the variant kept. */
    " WHEN rec IS NULL OR (NOT json_clean AND NOT startswith(schema_of_variant(v_rec), 'OBJECT'))"
    " THEN 'wrong_type: record'"
    " WHEN rec.year IS NULL THEN 'missing_field: record.year'"
    " WHEN try_cast(rec.year AS INT) IS NULL THEN 'not_a_number: year'"
    " WHEN try_cast(rec.year AS INT) < 1950 OR try_cast(rec.year AS INT) >"
    " year(coalesce(try_cast(rec.listed_date AS DATE), current_date())) + 1"
    " THEN 'out_of_range: year'"
    " WHEN rec.mileage IS NOT NULL AND try_cast(rec.mileage AS DOUBLE) IS NULL"
    " THEN 'not_a_number: mileage'"
    " WHEN try_cast(rec.mileage AS DOUBLE) < 0 OR try_cast(rec.mileage AS DOUBLE) > 1000000"
    " THEN 'out_of_range: mileage'"
    " END";

/* One projection step; frees *df and replaces it. */
static int step(serve_plan_t *p, sc_df_t **df, const char *const *exprs, size_t n, const char *what)
{
    sc_df_t *next = NULL;
    if (sc_df_select_expr(*df, exprs, n, &next, p->err) != SC_OK)
        return serve_plan_fail(p, what);
    sc_df_destroy(*df);
    *df = next;
    return 0;
}

bool serve_real_time_refused(const char *cls)
{
    if (!cls)
        return false;
    return strncmp(cls, "STREAMING_REAL_TIME_MODE", 24) == 0 ||
           strncmp(cls, "INVALID_STREAMING_REAL_TIME_MODE", 32) == 0;
}

int serve_plan_fail(serve_plan_t *p, const char *what)
{
    const char *msg = sc_error_message(p->err);
    const char *cls = sc_error_class(p->err);
    snprintf(p->errbuf, sizeof p->errbuf, "%s: %.*s%s%s%s", what, (int)strcspn(msg, "\n"), msg,
             *cls ? " [" : "", cls, *cls ? "]" : "");
    return -1;
}

int serve_plan_build(serve_plan_t *p, const serve_plan_in_t *in, sc_df_t **out)
{
    *out = NULL;
    char *json_sql = NULL, *pt = NULL, *dt = NULL, *mn = NULL, *mv = NULL, *value_sql = NULL,
         *topic_sql = NULL, *maxo = NULL, *minp = NULL;
    sc_df_t *df = NULL;
    int rc = -1;

    const char *rk[8], *rv[8];
    size_t nr = 0;
    rk[nr] = "kafka.bootstrap.servers";
    rv[nr++] = in->bootstrap;
    rk[nr] = "subscribe";
    rv[nr++] = in->requests_topic;
    rk[nr] = "startingOffsets";
    rv[nr++] = in->starting_offsets;
    /* A record expired from the topic before it was read is a lost request:
     * fail the query loudly rather than skip it. */
    rk[nr] = "failOnDataLoss";
    rv[nr++] = "true";
    if (in->max_offsets_per_trigger > 0) {
        maxo = cp_strf("%ld", in->max_offsets_per_trigger);
        if (!maxo)
            goto oom;
        rk[nr] = "maxOffsetsPerTrigger";
        rv[nr++] = maxo;
    }
    if (in->min_partitions > 0) {
        minp = cp_strf("%ld", in->min_partitions);
        if (!minp)
            goto oom;
        rk[nr] = "minPartitions";
        rv[nr++] = minp;
    }
    sc_read_opts_t ro = {.format = "kafka",
                         .option_keys = rk,
                         .option_values = rv,
                         .noptions = nr,
                         .streaming = true};
    if (sc_read(p->s, &ro, NULL, 0, &df, p->err) != SC_OK) {
        serve_plan_fail(p, "reading the requests topic");
        goto done;
    }
    /* Each costly expression once, in its own projection (Spark does not
     * inline an aliased non-trivial expression into several uses). */
    const char *s1[] = {"CAST(key AS STRING) AS req_key", "value AS req_value",
                        "octet_length(value) AS req_bytes", "CAST(value AS STRING) AS req_text"};
    if (step(p, &df, s1, 4, "projecting the requests") != 0)
        goto done;
    const char *s2[] = {"req_key", "req_value", "req_bytes", "req_text",
                        "req_bytes <= " MAX_REQUEST_BYTES " AND is_valid_utf8(req_text) AS req_ok"};
    if (step(p, &df, s2, 5, "checking the requests' size and encoding") != 0)
        goto done;
    /* Each request is read once with from_json into its schema: typed
     * values, and (through the corrupt-record column and a variant-typed
     * request_id) proof of the shape for the rows that are fine. Only the
     * rest are parsed again, as a variant that keeps each member's JSON type
     * to name what is wrong: building that variant for every request was
     * over a third of the query's CPU (profiled). from_json's leniencies
     * that the variant parser lacks are off here, and serve's session confs
     * (start_predictions) give the variant parser from_json's rules for
     * repeated names and half surrogates, so that both agree on what is JSON. */
    json_sql =
        cp_strf("IF(req_ok, from_json(req_text, 'struct<request_id: variant, "
                "sent_at_ms: bigint, record: %s, _carprice_unparsed: string>', "
                "map('columnNameOfCorruptRecord', '_carprice_unparsed', 'allowSingleQuotes', "
                "'false', 'allowNonNumericNumbers', 'false')), NULL) AS j",
                in->record_type);
    if (!json_sql)
        goto oom;
    const char *s3[] = {"req_key", "req_value", "req_bytes", "req_text", "req_ok", json_sql};
    if (step(p, &df, s3, 6, "parsing the requests") != 0)
        goto done;
    const char *s4[] = {"req_key",
                        "req_value",
                        "req_bytes",
                        "req_text",
                        "req_ok",
                        "j.record AS rec",
                        "variant_get(j.request_id, '$', 'string') AS req_id",
                        "j.sent_at_ms AS req_sent_ms",
                        "coalesce(j._carprice_unparsed IS NULL AND j.sent_at_ms IS NOT NULL AND "
                        "j.record IS NOT NULL"
                        " AND schema_of_variant(j.request_id) = 'STRING'"
                        " AND " OBJECT_START_SQL ", false) AS json_clean"};
    if (step(p, &df, s4, 9, "reading the requests' shape") != 0)
        goto done;
    /* Its own projection, so that the parse runs once per row and only when
     * the IF needs it. */
    const char *s5[] = {"*",
                        "IF(req_ok AND NOT json_clean, try_parse_json(req_text), NULL) AS req_v"};
    if (step(p, &df, s5, 2, "parsing the rejected requests") != 0)
        goto done;
    const char *s6[] = {"*", "variant_get(req_v, '$.request_id') AS v_id",
                        "variant_get(req_v, '$.sent_at_ms') AS v_sent",
                        "variant_get(req_v, '$.record') AS v_rec"};
    if (step(p, &df, s6, 4, "extracting the members") != 0)
        goto done;
    char reason_alias[sizeof reason_sql + 32];
    snprintf(reason_alias, sizeof reason_alias, "%s AS req_reason", reason_sql);
    const char *s7[] = {"req_key", "req_value",   "req_bytes", "rec",
                        "req_id",  "req_sent_ms", reason_alias};
    if (step(p, &df, s7, 7, "validating the requests") != 0)
        goto done;
    /* Rejected requests reach the model as an all-NULL record, so nothing in
     * them can make the model fail; their prediction is discarded. */
    const char *s8[] = {"IF(req_reason IS NULL, rec, NULL) AS rec",
                        "req_key",
                        "req_value",
                        "req_bytes",
                        "req_id",
                        "req_sent_ms",
                        "req_reason"};
    if (step(p, &df, s8, 7, "masking rejected requests") != 0)
        goto done;
    const char *s9[] = {"rec.*",  "req_key",     "req_value", "req_bytes",
                        "req_id", "req_sent_ms", "req_reason"};
    if (step(p, &df, s9, 7, "flattening the record") != 0)
        goto done;
    if (sc_df_create_view(df, "raw_listings", true, p->err) != SC_OK) {
        serve_plan_fail(p, "creating view raw_listings");
        goto done;
    }
    sc_df_destroy(df);
    df = NULL;
    if (sc_sql(p->s, in->features_sql, NULL, 0, &df, p->err) != SC_OK) {
        serve_plan_fail(p, "sql/features.sql");
        goto done;
    }
    sc_df_t *scored = NULL;
    if (sc_model_transform(in->model, df, NULL, &scored, p->err) != SC_OK) {
        serve_plan_fail(p, "applying the model");
        goto done;
    }
    sc_df_destroy(df);
    df = scored;
    /* exp() of a prediction past ~709 is infinite: no JSON number. */
    const char *s10[] = {
        "req_key",
        "req_value",
        "req_bytes",
        "req_id",
        "req_sent_ms",
        "prediction",
        "CASE WHEN req_reason IS NOT NULL THEN req_reason"
        " WHEN prediction IS NULL OR isnan(prediction) OR prediction > 700 THEN 'no_prediction'"
        " END AS out_reason"};
    if (step(p, &df, s10, 7, "checking predictions") != 0)
        goto done;
    pt = serve_sql_quote(in->predictions_topic);
    dt = serve_sql_quote(in->dlq_topic);
    mn = serve_sql_quote(in->model_name);
    mv = serve_sql_quote(in->model_version);
    if (!pt || !dt || !mn || !mv)
        goto oom;
    topic_sql = cp_strf("IF(out_reason IS NULL, %s, %s) AS topic", pt, dt);
    value_sql = cp_strf(
        "IF(out_reason IS NULL, to_json(named_struct('request_id', req_id, 'predicted_price', "
        "exp(prediction), 'model_name', %s, 'model_version', %s, 'request_ts_ms', req_sent_ms, "
        "'predicted_at_ms', " NOW_MS ")), to_json(named_struct('request_id', req_id, 'reason', "
        "out_reason, 'payload', make_valid_utf8(CAST(substr(req_value, 1, " MAX_PAYLOAD_BYTES
        ") AS STRING)), 'payload_bytes', req_bytes, 'model_name', %s, 'model_version', %s, "
        "'rejected_at_ms', " NOW_MS "))) AS value",
        mn, mv, mn, mv);
    if (!topic_sql || !value_sql)
        goto oom;
    const char *s11[] = {topic_sql, "IF(out_reason IS NULL, req_id, req_key) AS key", value_sql};
    if (step(p, &df, s11, 3, "encoding the output") != 0)
        goto done;
    *out = df;
    df = NULL;
    rc = 0;
    goto done;
oom:
    snprintf(p->errbuf, sizeof p->errbuf, "out of memory");
done:
    sc_df_destroy(df);
    free(json_sql);
    free(pt);
    free(dt);
    free(mn);
    free(mv);
    free(value_sql);
    free(topic_sql);
    free(maxo);
    free(minp);
    return rc;
}
