#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "spark/connect/commands.pb-c.h"
#include "spark/connect/expressions.pb-c.h"
#include "spark/connect/relations.pb-c.h"

/* ---- plumbing ---- */

sc_code_t sc_df_from_relation(sc_session_t *s, Spark__Connect__Relation *rel, sc_df_t **out,
                              sc_error_t *err)
{
    *out = NULL;
    Spark__Connect__RelationCommon common = SPARK__CONNECT__RELATION_COMMON__INIT;
    Spark__Connect__RelationCommon *saved = rel->common;
    common._plan_id_case = SPARK__CONNECT__RELATION_COMMON___PLAN_ID_PLAN_ID;
    common.plan_id = atomic_fetch_add(&s->next_plan_id, 1);
    rel->common = &common;
    sc_df_t *df = calloc(1, sizeof *df);
    size_t n = protobuf_c_message_get_packed_size(&rel->base);
    uint8_t *bytes = malloc(n ? n : 1);
    if (!df || !bytes) {
        rel->common = saved;
        free(df);
        free(bytes);
        return sc_error_set(err, SC_ERR_NOMEM, "out of memory");
    }
    protobuf_c_message_pack(&rel->base, bytes);
    rel->common = saved;
    df->s = s;
    df->rel = bytes;
    df->len = n;
    *out = df;
    return SC_OK;
}

Spark__Connect__Relation *sc_df_relation(const sc_df_t *df, sc_error_t *err)
{
    Spark__Connect__Relation *r = spark__connect__relation__unpack(NULL, df->len, df->rel);
    if (!r)
        sc_error_set(err, SC_ERR_NOMEM, "could not unpack a plan (out of memory)");
    return r;
}

/* Makes *out from `rel`, a relation over df: df's plan is unpacked into
 * *input_slot (a field of the message that rel wraps) just for packing. */
static sc_code_t derive(const sc_df_t *df, Spark__Connect__Relation *rel,
                        Spark__Connect__Relation **input_slot, sc_df_t **out, sc_error_t *err)
{
    *out = NULL;
    Spark__Connect__Relation *in = sc_df_relation(df, err);
    if (!in)
        return SC_ERR_NOMEM;
    *input_slot = in;
    sc_code_t rc = sc_df_from_relation(df->s, rel, out, err);
    *input_slot = NULL;
    spark__connect__relation__free_unpacked(in, NULL);
    return rc;
}

void sc_df_destroy(sc_df_t *df)
{
    if (!df)
        return;
    free(df->rel);
    free(df);
}

static void expr_string(Spark__Connect__Expression *e,
                        Spark__Connect__Expression__ExpressionString *es, const char *sql)
{
    spark__connect__expression__init(e);
    spark__connect__expression__expression_string__init(es);
    es->expression = (char *)sql;
    e->expr_type_case = SPARK__CONNECT__EXPRESSION__EXPR_TYPE_EXPRESSION_STRING;
    e->expression_string = es;
}

/* ---- sources ---- */

static void literal_from_param(Spark__Connect__Expression__Literal *lit, const sc_param_t *p)
{
    spark__connect__expression__literal__init(lit);
    switch (p->kind) {
    case SC_PARAM_STRING:
        lit->literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_STRING;
        lit->string = (char *)(p->s ? p->s : "");
        break;
    case SC_PARAM_INT64:
        lit->literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_LONG;
        lit->long_ = p->i;
        break;
    case SC_PARAM_DOUBLE:
        lit->literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_DOUBLE;
        lit->double_ = p->d;
        break;
    case SC_PARAM_BOOL:
        lit->literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_BOOLEAN;
        lit->boolean = p->b;
        break;
    }
}

sc_code_t sc_sql(sc_session_t *s, const char *query, const sc_param_t *args, size_t nargs,
                 sc_df_t **out, sc_error_t *err)
{
    *out = NULL;
    if (!query)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_sql: query is NULL");
    Spark__Connect__SQL sql = SPARK__CONNECT__SQL__INIT;
    sql.query = (char *)query;
    Spark__Connect__SQL__NamedArgumentsEntry *entries = NULL, **eptrs = NULL;
    Spark__Connect__Expression *exprs = NULL;
    Spark__Connect__Expression__Literal *lits = NULL;
    if (nargs) {
        entries = calloc(nargs, sizeof *entries);
        eptrs = calloc(nargs, sizeof *eptrs);
        exprs = calloc(nargs, sizeof *exprs);
        lits = calloc(nargs, sizeof *lits);
        if (!entries || !eptrs || !exprs || !lits) {
            free(entries);
            free(eptrs);
            free(exprs);
            free(lits);
            return sc_error_set(err, SC_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < nargs; i++) {
            spark__connect__sql__named_arguments_entry__init(&entries[i]);
            spark__connect__expression__init(&exprs[i]);
            literal_from_param(&lits[i], &args[i]);
            exprs[i].expr_type_case = SPARK__CONNECT__EXPRESSION__EXPR_TYPE_LITERAL;
            exprs[i].literal = &lits[i];
            entries[i].key = (char *)args[i].name;
            entries[i].value = &exprs[i];
            eptrs[i] = &entries[i];
        }
        sql.n_named_arguments = nargs;
        sql.named_arguments = eptrs;
    }
    Spark__Connect__Relation input = SPARK__CONNECT__RELATION__INIT;
    input.rel_type_case = SPARK__CONNECT__RELATION__REL_TYPE_SQL;
    input.sql = &sql;
    Spark__Connect__SqlCommand cmd = SPARK__CONNECT__SQL_COMMAND__INIT;
    cmd.input = &input;
    Spark__Connect__Command command = SPARK__CONNECT__COMMAND__INIT;
    command.command_type_case = SPARK__CONNECT__COMMAND__COMMAND_TYPE_SQL_COMMAND;
    command.sql_command = &cmd;

    /* As spark.sql() does: the server runs commands eagerly and answers with
     * the relation to use for the result (a local relation for commands). */
    sc_exec_out_t res = {0};
    sc_code_t rc = sc_execute_command(s, &command, &res, err);
    free(entries);
    free(eptrs);
    free(exprs);
    free(lits);
    if (rc != SC_OK) {
        sc_exec_out_free(&res);
        return rc;
    }
    if (res.payload_case !=
        SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE_SQL_COMMAND_RESULT) {
        sc_exec_out_free(&res);
        return sc_error_set(err, SC_ERR_PROTOCOL, "SQL command returned no relation");
    }
    Spark__Connect__ExecutePlanResponse__SqlCommandResult *r =
        (Spark__Connect__ExecutePlanResponse__SqlCommandResult *)protobuf_c_message_unpack(
            &spark__connect__execute_plan_response__sql_command_result__descriptor, NULL,
            res.payload_len, res.payload);
    sc_exec_out_free(&res);
    if (!r || !r->relation) {
        if (r)
            protobuf_c_message_free_unpacked(&r->base, NULL);
        return sc_error_set(err, SC_ERR_PROTOCOL, "malformed SQL command result");
    }
    rc = sc_df_from_relation(s, r->relation, out, err);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return rc;
}

sc_code_t sc_table(sc_session_t *s, const char *name, sc_df_t **out, sc_error_t *err)
{
    *out = NULL;
    if (!name)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_table: name is NULL");
    Spark__Connect__Read__NamedTable nt = SPARK__CONNECT__READ__NAMED_TABLE__INIT;
    nt.unparsed_identifier = (char *)name;
    Spark__Connect__Read read = SPARK__CONNECT__READ__INIT;
    read.read_type_case = SPARK__CONNECT__READ__READ_TYPE_NAMED_TABLE;
    read.named_table = &nt;
    Spark__Connect__Relation rel = SPARK__CONNECT__RELATION__INIT;
    rel.rel_type_case = SPARK__CONNECT__RELATION__REL_TYPE_READ;
    rel.read = &read;
    return sc_df_from_relation(s, &rel, out, err);
}

sc_code_t sc_range(sc_session_t *s, int64_t start, int64_t end, int64_t step, sc_df_t **out,
                   sc_error_t *err)
{
    *out = NULL;
    if (step == 0)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_range: step must not be 0");
    Spark__Connect__Range r = SPARK__CONNECT__RANGE__INIT;
    r._start_case = SPARK__CONNECT__RANGE___START_START;
    r.start = start;
    r.end = end;
    r.step = step;
    Spark__Connect__Relation rel = SPARK__CONNECT__RELATION__INIT;
    rel.rel_type_case = SPARK__CONNECT__RELATION__REL_TYPE_RANGE;
    rel.range = &r;
    return sc_df_from_relation(s, &rel, out, err);
}

sc_code_t sc_read(sc_session_t *s, const sc_read_opts_t *opts, const char *const *paths,
                  size_t npaths, sc_df_t **out, sc_error_t *err)
{
    *out = NULL;
    if (!opts || !opts->format)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_read: a format is required");
    Spark__Connect__Read__DataSource ds = SPARK__CONNECT__READ__DATA_SOURCE__INIT;
    ds._format_case = SPARK__CONNECT__READ__DATA_SOURCE___FORMAT_FORMAT;
    ds.format = (char *)opts->format;
    if (opts->schema) {
        ds._schema_case = SPARK__CONNECT__READ__DATA_SOURCE___SCHEMA_SCHEMA;
        ds.schema = (char *)opts->schema;
    }
    Spark__Connect__Read__DataSource__OptionsEntry *ents = NULL, **eptrs = NULL;
    if (opts->noptions) {
        ents = calloc(opts->noptions, sizeof *ents);
        eptrs = calloc(opts->noptions, sizeof *eptrs);
        if (!ents || !eptrs) {
            free(ents);
            free(eptrs);
            return sc_error_set(err, SC_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < opts->noptions; i++) {
            spark__connect__read__data_source__options_entry__init(&ents[i]);
            ents[i].key = (char *)opts->option_keys[i];
            ents[i].value = (char *)opts->option_values[i];
            eptrs[i] = &ents[i];
        }
        ds.n_options = opts->noptions;
        ds.options = eptrs;
    }
    ds.n_paths = npaths;
    ds.paths = (char **)paths;
    Spark__Connect__Read read = SPARK__CONNECT__READ__INIT;
    read.read_type_case = SPARK__CONNECT__READ__READ_TYPE_DATA_SOURCE;
    read.data_source = &ds;
    read.is_streaming = opts->streaming;
    Spark__Connect__Relation rel = SPARK__CONNECT__RELATION__INIT;
    rel.rel_type_case = SPARK__CONNECT__RELATION__REL_TYPE_READ;
    rel.read = &read;
    sc_code_t rc = sc_df_from_relation(s, &rel, out, err);
    free(ents);
    free(eptrs);
    return rc;
}

/* ---- transformations ---- */

sc_code_t sc_df_select_expr(const sc_df_t *df, const char *const *exprs, size_t n, sc_df_t **out,
                            sc_error_t *err)
{
    *out = NULL;
    if (n == 0)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "select_expr needs at least one expression");
    Spark__Connect__Expression *e = calloc(n, sizeof *e);
    Spark__Connect__Expression__ExpressionString *es = calloc(n, sizeof *es);
    Spark__Connect__Expression **ep = calloc(n, sizeof *ep);
    sc_code_t rc;
    if (!e || !es || !ep) {
        rc = sc_error_set(err, SC_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        expr_string(&e[i], &es[i], exprs[i]);
        ep[i] = &e[i];
    }
    Spark__Connect__Project p = SPARK__CONNECT__PROJECT__INIT;
    p.n_expressions = n;
    p.expressions = ep;
    Spark__Connect__Relation rel = SPARK__CONNECT__RELATION__INIT;
    rel.rel_type_case = SPARK__CONNECT__RELATION__REL_TYPE_PROJECT;
    rel.project = &p;
    rc = derive(df, &rel, &p.input, out, err);
done:
    free(e);
    free(es);
    free(ep);
    return rc;
}

sc_code_t sc_df_filter(const sc_df_t *df, const char *condition, sc_df_t **out, sc_error_t *err)
{
    *out = NULL;
    if (!condition)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "filter needs a condition");
    Spark__Connect__Expression e;
    Spark__Connect__Expression__ExpressionString es;
    expr_string(&e, &es, condition);
    Spark__Connect__Filter f = SPARK__CONNECT__FILTER__INIT;
    f.condition = &e;
    Spark__Connect__Relation rel = SPARK__CONNECT__RELATION__INIT;
    rel.rel_type_case = SPARK__CONNECT__RELATION__REL_TYPE_FILTER;
    rel.filter = &f;
    return derive(df, &rel, &f.input, out, err);
}

sc_code_t sc_df_with_column(const sc_df_t *df, const char *name, const char *expr, sc_df_t **out,
                            sc_error_t *err)
{
    *out = NULL;
    if (!name || !expr)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "with_column needs a name and an expression");
    Spark__Connect__Expression e;
    Spark__Connect__Expression__ExpressionString es;
    expr_string(&e, &es, expr);
    char *names[1] = {(char *)name};
    Spark__Connect__Expression__Alias alias = SPARK__CONNECT__EXPRESSION__ALIAS__INIT;
    alias.expr = &e;
    alias.n_name = 1;
    alias.name = names;
    Spark__Connect__Expression__Alias *aliases[1] = {&alias};
    Spark__Connect__WithColumns wc = SPARK__CONNECT__WITH_COLUMNS__INIT;
    wc.n_aliases = 1;
    wc.aliases = aliases;
    Spark__Connect__Relation rel = SPARK__CONNECT__RELATION__INIT;
    rel.rel_type_case = SPARK__CONNECT__RELATION__REL_TYPE_WITH_COLUMNS;
    rel.with_columns = &wc;
    return derive(df, &rel, &wc.input, out, err);
}

sc_code_t sc_df_limit(const sc_df_t *df, int32_t n, sc_df_t **out, sc_error_t *err)
{
    *out = NULL;
    if (n < 0)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "limit must not be negative");
    Spark__Connect__Limit l = SPARK__CONNECT__LIMIT__INIT;
    l.limit = n;
    Spark__Connect__Relation rel = SPARK__CONNECT__RELATION__INIT;
    rel.rel_type_case = SPARK__CONNECT__RELATION__REL_TYPE_LIMIT;
    rel.limit = &l;
    return derive(df, &rel, &l.input, out, err);
}

sc_code_t sc_df_with_watermark(const sc_df_t *df, const char *event_time, const char *delay,
                               sc_df_t **out, sc_error_t *err)
{
    *out = NULL;
    if (!event_time || !delay)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "with_watermark needs a column and a delay");
    Spark__Connect__WithWatermark w = SPARK__CONNECT__WITH_WATERMARK__INIT;
    w.event_time = (char *)event_time;
    w.delay_threshold = (char *)delay;
    Spark__Connect__Relation rel = SPARK__CONNECT__RELATION__INIT;
    rel.rel_type_case = SPARK__CONNECT__RELATION__REL_TYPE_WITH_WATERMARK;
    rel.with_watermark = &w;
    return derive(df, &rel, &w.input, out, err);
}

/* ---- actions ---- */

sc_code_t sc_df_collect(const sc_df_t *df, sc_result_t **out, sc_error_t *err)
{
    *out = NULL;
    Spark__Connect__Relation *root = sc_df_relation(df, err);
    if (!root)
        return SC_ERR_NOMEM;
    sc_result_t *res = sc_result_new();
    if (!res) {
        spark__connect__relation__free_unpacked(root, NULL);
        return sc_error_set(err, SC_ERR_NOMEM, "out of memory");
    }
    Spark__Connect__Plan plan = SPARK__CONNECT__PLAN__INIT;
    plan.op_type_case = SPARK__CONNECT__PLAN__OP_TYPE_ROOT;
    plan.root = root;
    sc_exec_out_t eo = {.result = res};
    sc_code_t rc = sc_execute(df->s, &plan, &eo, err);
    sc_exec_out_free(&eo);
    spark__connect__relation__free_unpacked(root, NULL);
    if (rc != SC_OK) {
        sc_result_destroy(res);
        return rc;
    }
    *out = res;
    return SC_OK;
}

sc_code_t sc_df_count(const sc_df_t *df, int64_t *count, sc_error_t *err)
{
    Spark__Connect__Expression e;
    Spark__Connect__Expression__ExpressionString es;
    expr_string(&e, &es, "count(1) AS count");
    Spark__Connect__Expression *ep[1] = {&e};
    Spark__Connect__Aggregate agg = SPARK__CONNECT__AGGREGATE__INIT;
    agg.group_type = SPARK__CONNECT__AGGREGATE__GROUP_TYPE__GROUP_TYPE_GROUPBY;
    agg.n_aggregate_expressions = 1;
    agg.aggregate_expressions = ep;
    Spark__Connect__Relation rel = SPARK__CONNECT__RELATION__INIT;
    rel.rel_type_case = SPARK__CONNECT__RELATION__REL_TYPE_AGGREGATE;
    rel.aggregate = &agg;
    sc_df_t *cdf = NULL;
    sc_code_t rc = derive(df, &rel, &agg.input, &cdf, err);
    if (rc != SC_OK)
        return rc;
    sc_result_t *res = NULL;
    rc = sc_df_collect(cdf, &res, err);
    sc_df_destroy(cdf);
    if (rc != SC_OK)
        return rc;
    if (sc_result_num_rows(res) != 1 || sc_result_num_cols(res) != 1)
        rc = sc_error_set(err, SC_ERR_PROTOCOL, "count returned %zu rows", sc_result_num_rows(res));
    else
        rc = sc_result_get_int64(res, 0, 0, count, err);
    sc_result_destroy(res);
    return rc;
}

sc_code_t sc_df_create_view(const sc_df_t *df, const char *name, bool replace, sc_error_t *err)
{
    if (!name)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "a view needs a name");
    Spark__Connect__Relation *in = sc_df_relation(df, err);
    if (!in)
        return SC_ERR_NOMEM;
    Spark__Connect__CreateDataFrameViewCommand v =
        SPARK__CONNECT__CREATE_DATA_FRAME_VIEW_COMMAND__INIT;
    v.input = in;
    v.name = (char *)name;
    v.replace = replace;
    Spark__Connect__Command cmd = SPARK__CONNECT__COMMAND__INIT;
    cmd.command_type_case = SPARK__CONNECT__COMMAND__COMMAND_TYPE_CREATE_DATAFRAME_VIEW;
    cmd.create_dataframe_view = &v;
    sc_code_t rc = sc_execute_command(df->s, &cmd, NULL, err);
    spark__connect__relation__free_unpacked(in, NULL);
    return rc;
}

/* Runs one AnalyzePlan about df. `fill` sets the request's analysis. */
static sc_code_t analyze_df(const sc_df_t *df, Spark__Connect__AnalyzePlanRequest *req,
                            Spark__Connect__Plan *plan, Spark__Connect__AnalyzePlanResponse **resp,
                            sc_error_t *err)
{
    Spark__Connect__Relation *root = sc_df_relation(df, err);
    if (!root)
        return SC_ERR_NOMEM;
    spark__connect__plan__init(plan);
    plan->op_type_case = SPARK__CONNECT__PLAN__OP_TYPE_ROOT;
    plan->root = root;
    sc_code_t rc = sc_analyze(df->s, req, resp, err);
    spark__connect__relation__free_unpacked(root, NULL);
    return rc;
}

/* A small growable string for rendering schemas. */
typedef struct {
    char *p;
    size_t len, cap;
} strbuf_t;

static sc_code_t sb_printf(strbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static sc_code_t sb_printf(strbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return SC_ERR_INVALID_ARG;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 128) + (size_t)n;
        char *np = realloc(b->p, cap);
        if (!np)
            return SC_ERR_NOMEM;
        b->p = np;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SC_OK;
}

/* Renders a Spark data type in DDL syntax. */
static sc_code_t append_type(strbuf_t *b, const Spark__Connect__DataType *t)
{
    if (!t)
        return sb_printf(b, "UNKNOWN");
    switch (t->kind_case) {
    case SPARK__CONNECT__DATA_TYPE__KIND_NULL:
        return sb_printf(b, "VOID");
    case SPARK__CONNECT__DATA_TYPE__KIND_BINARY:
        return sb_printf(b, "BINARY");
    case SPARK__CONNECT__DATA_TYPE__KIND_BOOLEAN:
        return sb_printf(b, "BOOLEAN");
    case SPARK__CONNECT__DATA_TYPE__KIND_BYTE:
        return sb_printf(b, "TINYINT");
    case SPARK__CONNECT__DATA_TYPE__KIND_SHORT:
        return sb_printf(b, "SMALLINT");
    case SPARK__CONNECT__DATA_TYPE__KIND_INTEGER:
        return sb_printf(b, "INT");
    case SPARK__CONNECT__DATA_TYPE__KIND_LONG:
        return sb_printf(b, "BIGINT");
    case SPARK__CONNECT__DATA_TYPE__KIND_FLOAT:
        return sb_printf(b, "FLOAT");
    case SPARK__CONNECT__DATA_TYPE__KIND_DOUBLE:
        return sb_printf(b, "DOUBLE");
    case SPARK__CONNECT__DATA_TYPE__KIND_DECIMAL:
        return sb_printf(b, "DECIMAL(%d,%d)", t->decimal->precision, t->decimal->scale);
    case SPARK__CONNECT__DATA_TYPE__KIND_STRING:
        return sb_printf(b, "STRING");
    case SPARK__CONNECT__DATA_TYPE__KIND_CHAR:
        return sb_printf(b, "CHAR(%d)", t->char_->length);
    case SPARK__CONNECT__DATA_TYPE__KIND_VAR_CHAR:
        return sb_printf(b, "VARCHAR(%d)", t->var_char->length);
    case SPARK__CONNECT__DATA_TYPE__KIND_DATE:
        return sb_printf(b, "DATE");
    case SPARK__CONNECT__DATA_TYPE__KIND_TIMESTAMP:
        return sb_printf(b, "TIMESTAMP");
    case SPARK__CONNECT__DATA_TYPE__KIND_TIMESTAMP_NTZ:
        return sb_printf(b, "TIMESTAMP_NTZ");
    case SPARK__CONNECT__DATA_TYPE__KIND_ARRAY: {
        sc_code_t rc = sb_printf(b, "ARRAY<");
        if (rc == SC_OK)
            rc = append_type(b, t->array->element_type);
        return rc == SC_OK ? sb_printf(b, ">") : rc;
    }
    case SPARK__CONNECT__DATA_TYPE__KIND_MAP: {
        sc_code_t rc = sb_printf(b, "MAP<");
        if (rc == SC_OK)
            rc = append_type(b, t->map->key_type);
        if (rc == SC_OK)
            rc = sb_printf(b, ", ");
        if (rc == SC_OK)
            rc = append_type(b, t->map->value_type);
        return rc == SC_OK ? sb_printf(b, ">") : rc;
    }
    case SPARK__CONNECT__DATA_TYPE__KIND_STRUCT: {
        sc_code_t rc = sb_printf(b, "STRUCT<");
        for (size_t i = 0; i < t->struct_->n_fields && rc == SC_OK; i++) {
            rc = sb_printf(b, "%s%s: ", i ? ", " : "", t->struct_->fields[i]->name);
            if (rc == SC_OK)
                rc = append_type(b, t->struct_->fields[i]->data_type);
        }
        return rc == SC_OK ? sb_printf(b, ">") : rc;
    }
    case SPARK__CONNECT__DATA_TYPE__KIND_UDT:
        return sb_printf(b, "%s",
                         t->udt->python_class && *t->udt->python_class
                             ? "UDT"
                             : (t->udt->jvm_class ? t->udt->jvm_class : "UDT"));
    default:
        return sb_printf(b, "OTHER");
    }
}

sc_code_t sc_df_schema(const sc_df_t *df, char **ddl, sc_error_t *err)
{
    *ddl = NULL;
    Spark__Connect__AnalyzePlanRequest req = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__INIT;
    Spark__Connect__AnalyzePlanRequest__Schema sch =
        SPARK__CONNECT__ANALYZE_PLAN_REQUEST__SCHEMA__INIT;
    Spark__Connect__Plan plan;
    sch.plan = &plan;
    req.analyze_case = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__ANALYZE_SCHEMA;
    req.schema = &sch;
    Spark__Connect__AnalyzePlanResponse *resp = NULL;
    sc_code_t rc = analyze_df(df, &req, &plan, &resp, err);
    if (rc != SC_OK)
        return rc;
    if (resp->result_case != SPARK__CONNECT__ANALYZE_PLAN_RESPONSE__RESULT_SCHEMA ||
        !resp->schema->schema) {
        spark__connect__analyze_plan_response__free_unpacked(resp, NULL);
        return sc_error_set(err, SC_ERR_PROTOCOL, "Schema: unexpected response");
    }
    strbuf_t b = {0};
    const Spark__Connect__DataType *t = resp->schema->schema;
    if (t->kind_case == SPARK__CONNECT__DATA_TYPE__KIND_STRUCT) {
        for (size_t i = 0; i < t->struct_->n_fields && rc == SC_OK; i++) {
            const Spark__Connect__DataType__StructField *f = t->struct_->fields[i];
            rc = sb_printf(&b, "%s%s ", i ? ", " : "", f->name);
            if (rc == SC_OK)
                rc = append_type(&b, f->data_type);
        }
    } else {
        rc = append_type(&b, t);
    }
    spark__connect__analyze_plan_response__free_unpacked(resp, NULL);
    if (rc != SC_OK) {
        free(b.p);
        return sc_error_set(err, rc, "could not render the schema");
    }
    *ddl = b.p ? b.p : strdup("");
    return *ddl ? SC_OK : sc_error_set(err, SC_ERR_NOMEM, "out of memory");
}

sc_code_t sc_df_explain(const sc_df_t *df, const char *mode, char **text, sc_error_t *err)
{
    *text = NULL;
    Spark__Connect__AnalyzePlanRequest__Explain__ExplainMode m =
        SPARK__CONNECT__ANALYZE_PLAN_REQUEST__EXPLAIN__EXPLAIN_MODE__EXPLAIN_MODE_SIMPLE;
    if (mode && strcmp(mode, "extended") == 0)
        m = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__EXPLAIN__EXPLAIN_MODE__EXPLAIN_MODE_EXTENDED;
    else if (mode && strcmp(mode, "formatted") == 0)
        m = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__EXPLAIN__EXPLAIN_MODE__EXPLAIN_MODE_FORMATTED;
    else if (mode && strcmp(mode, "simple") != 0)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "explain mode '%s' is not one of simple, "
                            "extended, formatted",
                            mode);
    Spark__Connect__AnalyzePlanRequest req = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__INIT;
    Spark__Connect__AnalyzePlanRequest__Explain ex =
        SPARK__CONNECT__ANALYZE_PLAN_REQUEST__EXPLAIN__INIT;
    Spark__Connect__Plan plan;
    ex.plan = &plan;
    ex.explain_mode = m;
    req.analyze_case = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__ANALYZE_EXPLAIN;
    req.explain = &ex;
    Spark__Connect__AnalyzePlanResponse *resp = NULL;
    sc_code_t rc = analyze_df(df, &req, &plan, &resp, err);
    if (rc != SC_OK)
        return rc;
    if (resp->result_case == SPARK__CONNECT__ANALYZE_PLAN_RESPONSE__RESULT_EXPLAIN)
        *text = strdup(resp->explain->explain_string ? resp->explain->explain_string : "");
    spark__connect__analyze_plan_response__free_unpacked(resp, NULL);
    return *text ? SC_OK : sc_error_set(err, SC_ERR_PROTOCOL, "Explain: unexpected response");
}

sc_code_t sc_df_is_streaming(const sc_df_t *df, bool *streaming, sc_error_t *err)
{
    Spark__Connect__AnalyzePlanRequest req = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__INIT;
    Spark__Connect__AnalyzePlanRequest__IsStreaming is =
        SPARK__CONNECT__ANALYZE_PLAN_REQUEST__IS_STREAMING__INIT;
    Spark__Connect__Plan plan;
    is.plan = &plan;
    req.analyze_case = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__ANALYZE_IS_STREAMING;
    req.is_streaming = &is;
    Spark__Connect__AnalyzePlanResponse *resp = NULL;
    sc_code_t rc = analyze_df(df, &req, &plan, &resp, err);
    if (rc != SC_OK)
        return rc;
    if (resp->result_case == SPARK__CONNECT__ANALYZE_PLAN_RESPONSE__RESULT_IS_STREAMING)
        *streaming = resp->is_streaming->is_streaming;
    else
        rc = sc_error_set(err, SC_ERR_PROTOCOL, "IsStreaming: unexpected response");
    spark__connect__analyze_plan_response__free_unpacked(resp, NULL);
    return rc;
}

sc_code_t sc_df_persist(const sc_df_t *df, sc_error_t *err)
{
    Spark__Connect__Relation *rel = sc_df_relation(df, err);
    if (!rel)
        return SC_ERR_NOMEM;
    Spark__Connect__StorageLevel lvl = SPARK__CONNECT__STORAGE_LEVEL__INIT;
    lvl.use_disk = true;
    lvl.use_memory = true;
    lvl.deserialized = true;
    lvl.replication = 1;
    Spark__Connect__AnalyzePlanRequest__Persist p =
        SPARK__CONNECT__ANALYZE_PLAN_REQUEST__PERSIST__INIT;
    p.relation = rel;
    p._storage_level_case =
        SPARK__CONNECT__ANALYZE_PLAN_REQUEST__PERSIST___STORAGE_LEVEL_STORAGE_LEVEL;
    p.storage_level = &lvl;
    Spark__Connect__AnalyzePlanRequest req = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__INIT;
    req.analyze_case = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__ANALYZE_PERSIST;
    req.persist = &p;
    Spark__Connect__AnalyzePlanResponse *resp = NULL;
    sc_code_t rc = sc_analyze(df->s, &req, &resp, err);
    spark__connect__relation__free_unpacked(rel, NULL);
    if (rc == SC_OK)
        spark__connect__analyze_plan_response__free_unpacked(resp, NULL);
    return rc;
}

sc_code_t sc_df_unpersist(const sc_df_t *df, sc_error_t *err)
{
    Spark__Connect__Relation *rel = sc_df_relation(df, err);
    if (!rel)
        return SC_ERR_NOMEM;
    Spark__Connect__AnalyzePlanRequest__Unpersist u =
        SPARK__CONNECT__ANALYZE_PLAN_REQUEST__UNPERSIST__INIT;
    u.relation = rel;
    Spark__Connect__AnalyzePlanRequest req = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__INIT;
    req.analyze_case = SPARK__CONNECT__ANALYZE_PLAN_REQUEST__ANALYZE_UNPERSIST;
    req.unpersist = &u;
    Spark__Connect__AnalyzePlanResponse *resp = NULL;
    sc_code_t rc = sc_analyze(df->s, &req, &resp, err);
    spark__connect__relation__free_unpacked(rel, NULL);
    if (rc == SC_OK)
        spark__connect__analyze_plan_response__free_unpacked(resp, NULL);
    return rc;
}

/* ---- writing ---- */

sc_code_t sc_df_write(const sc_df_t *df, const sc_write_opts_t *opts, const char *path,
                      sc_error_t *err)
{
    sc_write_opts_t defaults = {0};
    if (!opts)
        opts = &defaults;
    Spark__Connect__WriteOperation__SaveMode mode =
        SPARK__CONNECT__WRITE_OPERATION__SAVE_MODE__SAVE_MODE_ERROR_IF_EXISTS;
    if (opts->mode) {
        if (strcmp(opts->mode, "overwrite") == 0)
            mode = SPARK__CONNECT__WRITE_OPERATION__SAVE_MODE__SAVE_MODE_OVERWRITE;
        else if (strcmp(opts->mode, "append") == 0)
            mode = SPARK__CONNECT__WRITE_OPERATION__SAVE_MODE__SAVE_MODE_APPEND;
        else if (strcmp(opts->mode, "ignore") == 0)
            mode = SPARK__CONNECT__WRITE_OPERATION__SAVE_MODE__SAVE_MODE_IGNORE;
        else if (strcmp(opts->mode, "error") != 0 && strcmp(opts->mode, "errorifexists") != 0)
            return sc_error_set(err, SC_ERR_INVALID_ARG,
                                "write mode '%s' is not one of error, overwrite, append, ignore",
                                opts->mode);
    }
    Spark__Connect__Relation *in = sc_df_relation(df, err);
    if (!in)
        return SC_ERR_NOMEM;
    Spark__Connect__WriteOperation w = SPARK__CONNECT__WRITE_OPERATION__INIT;
    w.input = in;
    w._source_case = SPARK__CONNECT__WRITE_OPERATION___SOURCE_SOURCE;
    w.source = (char *)(opts->format ? opts->format : "parquet");
    if (path) {
        w.save_type_case = SPARK__CONNECT__WRITE_OPERATION__SAVE_TYPE_PATH;
        w.path = (char *)path;
    }
    w.mode = mode;
    w.n_partitioning_columns = opts->npartition_by;
    w.partitioning_columns = (char **)opts->partition_by;
    Spark__Connect__WriteOperation__OptionsEntry *ents = NULL, **eptrs = NULL;
    if (opts->noptions) {
        ents = calloc(opts->noptions, sizeof *ents);
        eptrs = calloc(opts->noptions, sizeof *eptrs);
        if (!ents || !eptrs) {
            free(ents);
            free(eptrs);
            spark__connect__relation__free_unpacked(in, NULL);
            return sc_error_set(err, SC_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < opts->noptions; i++) {
            spark__connect__write_operation__options_entry__init(&ents[i]);
            ents[i].key = (char *)opts->option_keys[i];
            ents[i].value = (char *)opts->option_values[i];
            eptrs[i] = &ents[i];
        }
        w.n_options = opts->noptions;
        w.options = eptrs;
    }
    Spark__Connect__Command cmd = SPARK__CONNECT__COMMAND__INIT;
    cmd.command_type_case = SPARK__CONNECT__COMMAND__COMMAND_TYPE_WRITE_OPERATION;
    cmd.write_operation = &w;
    sc_code_t rc = sc_execute_command(df->s, &cmd, NULL, err);
    spark__connect__relation__free_unpacked(in, NULL);
    free(ents);
    free(eptrs);
    return rc;
}
