/* Spark ML over Spark Connect: MlCommand (fit, fetch, delete, write, read,
 * evaluate) and MlRelation.Transform, plus PipelineModel directories laid
 * out on the client because the 4.0 server cannot read or write them. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "internal.h"
#include "spark/connect/commands.pb-c.h"
#include "spark/connect/common.pb-c.h"
#include "spark/connect/expressions.pb-c.h"
#include "spark/connect/ml.pb-c.h"
#include "spark/connect/ml_common.pb-c.h"
#include "spark/connect/relations.pb-c.h"
#include "spark/connect/types.pb-c.h"
#include "sparkconnect/ml.h"

#define PIPELINE_MODEL_CLASS "org.apache.spark.ml.PipelineModel"
#define VECTOR_UDT           "org.apache.spark.ml.linalg.VectorUDT"
/* The server-side object whose allow-listed methods include handleOverwrite. */
#define ML_HELPER_ID "______ML_CONNECT_HELPER______"
#define MAX_CHAIN    16
/* Largest sparse vector we expand to dense (doubles). */
#define MAX_VECTOR_SIZE ((int64_t)1 << 26)

static sc_code_t nomem(sc_error_t *err)
{
    return sc_error_set(err, SC_ERR_NOMEM, "out of memory");
}

/* ---- parameters: each value kept as a packed Expression.Literal ---- */

typedef struct {
    char *name;
    uint8_t *lit;
    size_t len;
} param_t;

struct sc_params_s {
    param_t *v;
    size_t n, cap;
};

sc_params_t *sc_params_new(void)
{
    return calloc(1, sizeof(sc_params_t));
}

void sc_params_destroy(sc_params_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].lit);
    }
    free(p->v);
    free(p);
}

size_t sc_params_count(const sc_params_t *p)
{
    return p ? p->n : 0;
}

const char *sc_params_name(const sc_params_t *p, size_t i)
{
    return p && i < p->n ? p->v[i].name : NULL;
}

/* Stores bytes (taking ownership, also on failure) under name. */
static sc_code_t params_put_packed(sc_params_t *p, const char *name, uint8_t *bytes, size_t len,
                                   sc_error_t *err)
{
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].name, name) == 0) {
            free(p->v[i].lit);
            p->v[i].lit = bytes;
            p->v[i].len = len;
            return SC_OK;
        }
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        param_t *nv = realloc(p->v, cap * sizeof *nv);
        if (!nv) {
            free(bytes);
            return nomem(err);
        }
        p->v = nv;
        p->cap = cap;
    }
    char *nm = strdup(name);
    if (!nm) {
        free(bytes);
        return nomem(err);
    }
    p->v[p->n++] = (param_t){.name = nm, .lit = bytes, .len = len};
    return SC_OK;
}

static sc_code_t params_put(sc_params_t *p, const char *name, const ProtobufCMessage *lit,
                            sc_error_t *err)
{
    size_t n = protobuf_c_message_get_packed_size(lit);
    uint8_t *bytes = malloc(n ? n : 1);
    if (!bytes)
        return nomem(err);
    protobuf_c_message_pack(lit, bytes);
    return params_put_packed(p, name, bytes, n, err);
}

static sc_code_t params_check(const sc_params_t *p, const char *name, sc_error_t *err)
{
    if (!p || !name || !*name)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "sc_params: a parameter set and a name "
                            "are required");
    return SC_OK;
}

sc_code_t sc_params_set_double(sc_params_t *p, const char *name, double value, sc_error_t *err)
{
    sc_code_t rc = params_check(p, name, err);
    if (rc != SC_OK)
        return rc;
    Spark__Connect__Expression__Literal lit = SPARK__CONNECT__EXPRESSION__LITERAL__INIT;
    lit.literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_DOUBLE;
    lit.double_ = value;
    return params_put(p, name, &lit.base, err);
}

sc_code_t sc_params_set_int64(sc_params_t *p, const char *name, int64_t value, sc_error_t *err)
{
    sc_code_t rc = params_check(p, name, err);
    if (rc != SC_OK)
        return rc;
    /* Integer when it fits, as PySpark sends Python ints; the server narrows
     * or widens either to the Param's type. */
    Spark__Connect__Expression__Literal lit = SPARK__CONNECT__EXPRESSION__LITERAL__INIT;
    if (value >= INT32_MIN && value <= INT32_MAX) {
        lit.literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_INTEGER;
        lit.integer = (int32_t)value;
    } else {
        lit.literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_LONG;
        lit.long_ = value;
    }
    return params_put(p, name, &lit.base, err);
}

sc_code_t sc_params_set_bool(sc_params_t *p, const char *name, bool value, sc_error_t *err)
{
    sc_code_t rc = params_check(p, name, err);
    if (rc != SC_OK)
        return rc;
    Spark__Connect__Expression__Literal lit = SPARK__CONNECT__EXPRESSION__LITERAL__INIT;
    lit.literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_BOOLEAN;
    lit.boolean = value;
    return params_put(p, name, &lit.base, err);
}

sc_code_t sc_params_set_string(sc_params_t *p, const char *name, const char *value, sc_error_t *err)
{
    sc_code_t rc = params_check(p, name, err);
    if (rc != SC_OK)
        return rc;
    if (!value)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_params: value of '%s' is NULL", name);
    Spark__Connect__Expression__Literal lit = SPARK__CONNECT__EXPRESSION__LITERAL__INIT;
    lit.literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_STRING;
    lit.string = (char *)value;
    return params_put(p, name, &lit.base, err);
}

/* Stores an Array literal of n filled elements of type et. */
static sc_code_t params_put_array(sc_params_t *p, const char *name, Spark__Connect__DataType *et,
                                  Spark__Connect__Expression__Literal *elems, size_t n,
                                  sc_error_t *err)
{
    Spark__Connect__Expression__Literal **ptrs = NULL;
    if (n) {
        ptrs = calloc(n, sizeof *ptrs);
        if (!ptrs)
            return nomem(err);
        for (size_t i = 0; i < n; i++)
            ptrs[i] = &elems[i];
    }
    /* Since Spark 4.1 the type of a nested literal is given once, at its root
     * (Literal.data_type); the per-array element_type is deprecated. */
    Spark__Connect__DataType__Array at = SPARK__CONNECT__DATA_TYPE__ARRAY__INIT;
    at.element_type = et;
    Spark__Connect__DataType type = SPARK__CONNECT__DATA_TYPE__INIT;
    type.kind_case = SPARK__CONNECT__DATA_TYPE__KIND_ARRAY;
    type.array = &at;
    Spark__Connect__Expression__Literal__Array arr =
        SPARK__CONNECT__EXPRESSION__LITERAL__ARRAY__INIT;
    arr.n_elements = n;
    arr.elements = ptrs;
    Spark__Connect__Expression__Literal lit = SPARK__CONNECT__EXPRESSION__LITERAL__INIT;
    lit.literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_ARRAY;
    lit.array = &arr;
    lit.data_type = &type;
    sc_code_t rc = params_put(p, name, &lit.base, err);
    free(ptrs);
    return rc;
}

sc_code_t sc_params_set_strings(sc_params_t *p, const char *name, const char *const *values,
                                size_t n, sc_error_t *err)
{
    sc_code_t rc = params_check(p, name, err);
    if (rc != SC_OK)
        return rc;
    if (n && !values)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_params: values of '%s' are NULL", name);
    Spark__Connect__Expression__Literal *el = NULL;
    if (n && !(el = calloc(n, sizeof *el)))
        return nomem(err);
    for (size_t i = 0; i < n; i++) {
        if (!values[i]) {
            free(el);
            return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_params: '%s'[%zu] is NULL", name, i);
        }
        spark__connect__expression__literal__init(&el[i]);
        el[i].literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_STRING;
        el[i].string = (char *)values[i];
    }
    Spark__Connect__DataType__String st = SPARK__CONNECT__DATA_TYPE__STRING__INIT;
    Spark__Connect__DataType et = SPARK__CONNECT__DATA_TYPE__INIT;
    et.kind_case = SPARK__CONNECT__DATA_TYPE__KIND_STRING;
    et.string = &st;
    rc = params_put_array(p, name, &et, el, n, err);
    free(el);
    return rc;
}

sc_code_t sc_params_set_doubles(sc_params_t *p, const char *name, const double *values, size_t n,
                                sc_error_t *err)
{
    sc_code_t rc = params_check(p, name, err);
    if (rc != SC_OK)
        return rc;
    if (n && !values)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_params: values of '%s' are NULL", name);
    Spark__Connect__Expression__Literal *el = NULL;
    if (n && !(el = calloc(n, sizeof *el)))
        return nomem(err);
    for (size_t i = 0; i < n; i++) {
        spark__connect__expression__literal__init(&el[i]);
        el[i].literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_DOUBLE;
        el[i].double_ = values[i];
    }
    Spark__Connect__DataType__Double dt = SPARK__CONNECT__DATA_TYPE__DOUBLE__INIT;
    Spark__Connect__DataType et = SPARK__CONNECT__DATA_TYPE__INIT;
    et.kind_case = SPARK__CONNECT__DATA_TYPE__KIND_DOUBLE;
    et.double_ = &dt;
    rc = params_put_array(p, name, &et, el, n, err);
    free(el);
    return rc;
}

/* A new set holding base's values overridden by over's (either may be NULL). */
static sc_code_t params_merge(const sc_params_t *base, const sc_params_t *over, sc_params_t **out,
                              sc_error_t *err)
{
    *out = NULL;
    sc_params_t *m = sc_params_new();
    if (!m)
        return nomem(err);
    const sc_params_t *srcs[2] = {base, over};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; srcs[k] && i < srcs[k]->n; i++) {
            const param_t *v = &srcs[k]->v[i];
            uint8_t *b = malloc(v->len ? v->len : 1);
            sc_code_t rc = b ? SC_OK : nomem(err);
            if (b) {
                memcpy(b, v->lit, v->len);
                rc = params_put_packed(m, v->name, b, v->len, err);
            }
            if (rc != SC_OK) {
                sc_params_destroy(m);
                return rc;
            }
        }
    }
    *out = m;
    return SC_OK;
}

/* An MlParams message over a parameter set, valid until mlparams_free. */
typedef struct {
    Spark__Connect__MlParams msg;
    Spark__Connect__MlParams__ParamsEntry *ents;
    Spark__Connect__MlParams__ParamsEntry **ptrs;
} mlparams_t;

static void mlparams_free(mlparams_t *mp)
{
    for (size_t i = 0; i < mp->msg.n_params; i++)
        if (mp->ents[i].value)
            protobuf_c_message_free_unpacked(&mp->ents[i].value->base, NULL);
    free(mp->ents);
    free(mp->ptrs);
    mp->ents = NULL;
    mp->ptrs = NULL;
    mp->msg.n_params = 0;
}

static sc_code_t mlparams_build(mlparams_t *mp, const sc_params_t *p, sc_error_t *err)
{
    spark__connect__ml_params__init(&mp->msg);
    mp->ents = NULL;
    mp->ptrs = NULL;
    size_t n = p ? p->n : 0;
    if (n == 0)
        return SC_OK;
    mp->ents = calloc(n, sizeof *mp->ents);
    mp->ptrs = calloc(n, sizeof *mp->ptrs);
    if (!mp->ents || !mp->ptrs) {
        mlparams_free(mp);
        return nomem(err);
    }
    mp->msg.params = mp->ptrs;
    for (size_t i = 0; i < n; i++) {
        spark__connect__ml_params__params_entry__init(&mp->ents[i]);
        mp->ents[i].key = p->v[i].name;
        mp->ents[i].value = (Spark__Connect__Expression__Literal *)protobuf_c_message_unpack(
            &spark__connect__expression__literal__descriptor, NULL, p->v[i].len, p->v[i].lit);
        mp->ptrs[i] = &mp->ents[i];
        mp->msg.n_params = i + 1;
        if (!mp->ents[i].value) {
            mlparams_free(mp);
            return nomem(err);
        }
    }
    return SC_OK;
}

/* A parameter set from MlParams the server sent. */
static sc_code_t params_from_msg(const Spark__Connect__MlParams *msg, sc_params_t **out,
                                 sc_error_t *err)
{
    *out = sc_params_new();
    if (!*out)
        return nomem(err);
    for (size_t i = 0; msg && i < msg->n_params; i++) {
        const Spark__Connect__MlParams__ParamsEntry *e = msg->params[i];
        if (!e->key || !e->value)
            continue;
        sc_code_t rc = params_put(*out, e->key, &e->value->base, err);
        if (rc != SC_OK) {
            sc_params_destroy(*out);
            *out = NULL;
            return rc;
        }
    }
    return SC_OK;
}

/* ---- models ---- */

struct sc_model_s {
    sc_session_t *s;
    sc_model_kind_t kind;
    char *cls;
    char *uid;
    char *ref;           /* FITTED: the server's object id */
    sc_params_t *params; /* TRANSFORMER: its parameters */
    sc_model_t **stages; /* PIPELINE: owned */
    size_t nstages;
};

static sc_model_t *model_new(sc_session_t *s, sc_model_kind_t kind, const char *cls,
                             const char *uid, const char *ref)
{
    sc_model_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->s = s;
    m->kind = kind;
    m->cls = strdup(cls ? cls : "");
    m->uid = strdup(uid ? uid : "");
    m->ref = ref ? strdup(ref) : NULL;
    if (!m->cls || !m->uid || (ref && !m->ref)) {
        sc_model_free(m);
        return NULL;
    }
    return m;
}

void sc_model_free(sc_model_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nstages; i++)
        sc_model_free(m->stages[i]);
    free(m->stages);
    sc_params_destroy(m->params);
    free(m->cls);
    free(m->uid);
    free(m->ref);
    free(m);
}

sc_model_kind_t sc_model_kind(const sc_model_t *m)
{
    return m ? m->kind : SC_MODEL_FITTED;
}

const char *sc_model_class(const sc_model_t *m)
{
    return m ? m->cls : "";
}

const char *sc_model_uid(const sc_model_t *m)
{
    return m ? m->uid : "";
}

const char *sc_model_ref(const sc_model_t *m)
{
    return m && m->kind == SC_MODEL_FITTED ? m->ref : NULL;
}

size_t sc_model_num_stages(const sc_model_t *m)
{
    return m && m->kind == SC_MODEL_PIPELINE ? m->nstages : 0;
}

const sc_model_t *sc_model_stage(const sc_model_t *m, size_t i)
{
    return m && m->kind == SC_MODEL_PIPELINE && i < m->nstages ? m->stages[i] : NULL;
}

/* Spark's Identifiable.randomUID shape: "<SimpleName>_<12 hex digits>". */
static char *new_uid(const char *cls)
{
    const char *dot = strrchr(cls, '.');
    const char *simple = dot ? dot + 1 : cls;
    uuid_t u;
    char text[37];
    uuid_generate_random(u);
    uuid_unparse_lower(u, text);
    size_t n = strlen(simple) + 14;
    char *uid = malloc(n);
    if (uid)
        snprintf(uid, n, "%s_%s", simple, text + 24);
    return uid;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The class of the model an estimator fits, by Spark's naming convention
 * (the fit result carries only an object id). */
static char *model_class_of(const char *est)
{
    static const struct {
        const char *from, *to;
    } rules[] = {
        {"Regressor", "RegressionModel"},
        {"Classifier", "ClassificationModel"},
    };
    if (strcmp(est, "org.apache.spark.ml.feature.QuantileDiscretizer") == 0)
        return strdup("org.apache.spark.ml.feature.Bucketizer");
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (ends_with(est, rules[i].from)) {
            size_t keep = strlen(est) - strlen(rules[i].from);
            size_t n = keep + strlen(rules[i].to) + 1;
            char *c = malloc(n);
            if (c)
                snprintf(c, n, "%.*s%s", (int)keep, est, rules[i].to);
            return c;
        }
    }
    size_t n = strlen(est) + 6;
    char *c = malloc(n);
    if (c)
        snprintf(c, n, "%sModel", est);
    return c;
}

static void op_init(Spark__Connect__MlOperator *op, const char *cls, const char *uid,
                    Spark__Connect__MlOperator__OperatorType type)
{
    spark__connect__ml_operator__init(op);
    op->name = (char *)cls;
    op->uid = (char *)(uid ? uid : "");
    op->type = type;
}

/* Spark 4.0 raises some ML failures as plain JVM exceptions, without an
 * error class (Params.getParam, MLWriter.save). For the ones callers need to
 * tell apart, name the exception Spark threw as the class. */
static void classify(sc_error_t *err)
{
    static const struct {
        const char *needle, *exception;
    } known[] = {
        {" does not exist.", "java.util.NoSuchElementException"}, /* "Param x does not exist." */
        {" already exists. To overwrite it", "java.io.IOException"},
    };
    if (!err || sc_error_code(err) != SC_ERR_SERVER || *sc_error_class(err))
        return;
    const char *msg = sc_error_message(err);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strstr(msg, known[i].needle) && (i != 0 || strstr(msg, "Param "))) {
            sc_error_set_detail(err, sc_error_grpc_status(err), known[i].exception,
                                sc_error_sqlstate(err), sc_error_retriable(err));
            return;
        }
    }
}

/* Runs one MlCommand; *res (if res) is its unpacked result, to be freed
 * with spark__connect__ml_command_result__free_unpacked. */
static sc_code_t ml_run(sc_session_t *s, Spark__Connect__MlCommand *mc,
                        Spark__Connect__MlCommandResult **res, sc_error_t *err)
{
    if (res)
        *res = NULL;
    Spark__Connect__Command cmd = SPARK__CONNECT__COMMAND__INIT;
    cmd.command_type_case = SPARK__CONNECT__COMMAND__COMMAND_TYPE_ML_COMMAND;
    cmd.ml_command = mc;
    sc_exec_out_t out = {0};
    sc_code_t rc = sc_execute_command(s, &cmd, &out, err);
    if (rc != SC_OK)
        classify(err);
    if (rc == SC_OK && res) {
        if (out.payload_case !=
            SPARK__CONNECT__EXECUTE_PLAN_RESPONSE__RESPONSE_TYPE_ML_COMMAND_RESULT) {
            rc = sc_error_set(err, SC_ERR_PROTOCOL, "ML command: the server sent no result");
        } else {
            *res = spark__connect__ml_command_result__unpack(NULL, out.payload_len, out.payload);
            if (!*res)
                rc = sc_error_set(err, SC_ERR_PROTOCOL, "malformed MlCommandResult");
        }
    }
    sc_exec_out_free(&out);
    return rc;
}

/* Deletes server objects named in a comma-separated id list; best effort. */
static void delete_ids(sc_session_t *s, const char *ids)
{
    char *copy = ids ? strdup(ids) : NULL;
    if (!copy)
        return;
    size_t n = 1;
    for (const char *c = copy; *c; c++)
        n += *c == ',';
    Spark__Connect__ObjectRef *refs = calloc(n, sizeof *refs);
    Spark__Connect__ObjectRef **ptrs = calloc(n, sizeof *ptrs);
    size_t k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); refs && ptrs && tok;
         tok = strtok_r(NULL, ",", &save)) {
        spark__connect__object_ref__init(&refs[k]);
        refs[k].id = tok;
        ptrs[k] = &refs[k];
        k++;
    }
    if (k) {
        Spark__Connect__MlCommand__Delete del = SPARK__CONNECT__ML_COMMAND__DELETE__INIT;
        del.n_obj_refs = k;
        del.obj_refs = ptrs;
        Spark__Connect__MlCommand mc = SPARK__CONNECT__ML_COMMAND__INIT;
        mc.command_case = SPARK__CONNECT__ML_COMMAND__COMMAND_DELETE;
        mc.delete_ = &del;
        ml_run(s, &mc, NULL, NULL);
    }
    free(refs);
    free(ptrs);
    free(copy);
}

void sc_model_destroy(sc_model_t *m)
{
    if (!m)
        return;
    if (m->kind == SC_MODEL_FITTED && m->ref)
        delete_ids(m->s, m->ref);
    for (size_t i = 0; i < m->nstages; i++) {
        sc_model_destroy(m->stages[i]);
        m->stages[i] = NULL;
    }
    m->nstages = 0;
    sc_model_free(m);
}

sc_code_t sc_ml_fit(const sc_df_t *df, const char *estimator_class, const sc_params_t *params,
                    sc_model_t **out, sc_error_t *err)
{
    if (!out)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_ml_fit: out is NULL");
    *out = NULL;
    if (!df || !estimator_class || !*estimator_class)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "sc_ml_fit needs a DataFrame and an estimator class");
    char *uid = new_uid(estimator_class);
    char *cls = model_class_of(estimator_class);
    if (!uid || !cls) {
        free(uid);
        free(cls);
        return nomem(err);
    }
    mlparams_t mp;
    sc_code_t rc = mlparams_build(&mp, params, err);
    Spark__Connect__Relation *in = rc == SC_OK ? sc_df_relation(df, err) : NULL;
    if (rc != SC_OK || !in) {
        if (rc == SC_OK)
            mlparams_free(&mp);
        free(uid);
        free(cls);
        return rc != SC_OK ? rc : SC_ERR_NOMEM;
    }
    Spark__Connect__MlOperator op;
    op_init(&op, estimator_class, uid,
            SPARK__CONNECT__ML_OPERATOR__OPERATOR_TYPE__OPERATOR_TYPE_ESTIMATOR);
    Spark__Connect__MlCommand__Fit fit = SPARK__CONNECT__ML_COMMAND__FIT__INIT;
    fit.estimator = &op;
    fit.dataset = in;
    fit._params_case = SPARK__CONNECT__ML_COMMAND__FIT___PARAMS_PARAMS;
    fit.params = &mp.msg;
    Spark__Connect__MlCommand mc = SPARK__CONNECT__ML_COMMAND__INIT;
    mc.command_case = SPARK__CONNECT__ML_COMMAND__COMMAND_FIT;
    mc.fit = &fit;
    Spark__Connect__MlCommandResult *res = NULL;
    rc = ml_run(df->s, &mc, &res, err);
    spark__connect__relation__free_unpacked(in, NULL);
    mlparams_free(&mp);
    if (rc == SC_OK) {
        const Spark__Connect__MlCommandResult__MlOperatorInfo *info =
            res->result_type_case == SPARK__CONNECT__ML_COMMAND_RESULT__RESULT_TYPE_OPERATOR_INFO
                ? res->operator_info
                : NULL;
        if (!info ||
            info->type_case != SPARK__CONNECT__ML_COMMAND_RESULT__ML_OPERATOR_INFO__TYPE_OBJ_REF ||
            !info->obj_ref || !info->obj_ref->id || !*info->obj_ref->id) {
            rc = sc_error_set(err, SC_ERR_PROTOCOL, "fit of %s returned no model reference",
                              estimator_class);
        } else {
            *out = model_new(df->s, SC_MODEL_FITTED, cls, uid, info->obj_ref->id);
            if (!*out) {
                delete_ids(df->s, info->obj_ref->id);
                rc = nomem(err);
            }
        }
    }
    if (res)
        spark__connect__ml_command_result__free_unpacked(res, NULL);
    free(uid);
    free(cls);
    return rc;
}

sc_code_t sc_ml_transformer_new(sc_session_t *s, const char *transformer_class,
                                const sc_params_t *params, sc_model_t **out, sc_error_t *err)
{
    if (!out)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_ml_transformer_new: out is NULL");
    *out = NULL;
    if (!s || !transformer_class || !*transformer_class)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "sc_ml_transformer_new needs a session and a class");
    char *uid = new_uid(transformer_class);
    sc_model_t *m = uid ? model_new(s, SC_MODEL_TRANSFORMER, transformer_class, uid, NULL) : NULL;
    free(uid);
    if (!m)
        return nomem(err);
    sc_code_t rc = params_merge(params, NULL, &m->params, err);
    if (rc != SC_OK) {
        sc_model_free(m);
        return rc;
    }
    *out = m;
    return SC_OK;
}

sc_code_t sc_ml_pipeline_new(sc_session_t *s, sc_model_t **stages, size_t n, sc_model_t **out,
                             sc_error_t *err)
{
    if (!out)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_ml_pipeline_new: out is NULL");
    *out = NULL;
    if (!s || (n && !stages))
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_ml_pipeline_new needs a session");
    for (size_t i = 0; i < n; i++)
        if (!stages[i])
            return sc_error_set(err, SC_ERR_INVALID_ARG, "pipeline stage %zu is NULL", i);
    char *uid = new_uid(PIPELINE_MODEL_CLASS);
    sc_model_t *m = uid ? model_new(s, SC_MODEL_PIPELINE, PIPELINE_MODEL_CLASS, uid, NULL) : NULL;
    free(uid);
    if (!m || (n && !(m->stages = calloc(n, sizeof *m->stages)))) {
        sc_model_free(m);
        return nomem(err);
    }
    for (size_t i = 0; i < n; i++)
        m->stages[i] = stages[i];
    m->nstages = n;
    *out = m;
    return SC_OK;
}

/* ---- transform ---- */

/* Wraps df in an MlRelation.Transform by m (FITTED or TRANSFORMER). */
static sc_code_t transform_one(const sc_model_t *m, const sc_df_t *df, const sc_params_t *over,
                               sc_df_t **out, sc_error_t *err)
{
    *out = NULL;
    if (m->kind == SC_MODEL_FITTED && m->s != df->s)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "model %s lives in another session than the DataFrame", m->uid);
    sc_params_t *merged = NULL;
    sc_code_t rc =
        params_merge(m->kind == SC_MODEL_TRANSFORMER ? m->params : NULL, over, &merged, err);
    if (rc != SC_OK)
        return rc;
    mlparams_t mp;
    rc = mlparams_build(&mp, merged, err);
    if (rc != SC_OK) {
        sc_params_destroy(merged);
        return rc;
    }
    Spark__Connect__Relation *in = sc_df_relation(df, err);
    if (!in) {
        mlparams_free(&mp);
        sc_params_destroy(merged);
        return SC_ERR_NOMEM;
    }
    Spark__Connect__ObjectRef ref = SPARK__CONNECT__OBJECT_REF__INIT;
    Spark__Connect__MlOperator op;
    Spark__Connect__MlRelation__Transform t = SPARK__CONNECT__ML_RELATION__TRANSFORM__INIT;
    if (m->kind == SC_MODEL_FITTED) {
        ref.id = m->ref;
        t.operator_case = SPARK__CONNECT__ML_RELATION__TRANSFORM__OPERATOR_OBJ_REF;
        t.obj_ref = &ref;
    } else {
        op_init(&op, m->cls, m->uid,
                SPARK__CONNECT__ML_OPERATOR__OPERATOR_TYPE__OPERATOR_TYPE_TRANSFORMER);
        t.operator_case = SPARK__CONNECT__ML_RELATION__TRANSFORM__OPERATOR_TRANSFORMER;
        t.transformer = &op;
    }
    t.input = in;
    t.params = &mp.msg;
    Spark__Connect__MlRelation mr = SPARK__CONNECT__ML_RELATION__INIT;
    mr.ml_type_case = SPARK__CONNECT__ML_RELATION__ML_TYPE_TRANSFORM;
    mr.transform = &t;
    Spark__Connect__Relation rel = SPARK__CONNECT__RELATION__INIT;
    rel.rel_type_case = SPARK__CONNECT__RELATION__REL_TYPE_ML_RELATION;
    rel.ml_relation = &mr;
    rc = sc_df_from_relation(df->s, &rel, out, err);
    spark__connect__relation__free_unpacked(in, NULL);
    mlparams_free(&mp);
    sc_params_destroy(merged);
    return rc;
}

sc_code_t sc_model_transform(const sc_model_t *m, const sc_df_t *df, const sc_params_t *params,
                             sc_df_t **out, sc_error_t *err)
{
    if (!out)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_model_transform: out is NULL");
    *out = NULL;
    if (!m || !df)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "sc_model_transform needs a model and a "
                            "DataFrame");
    if (m->kind != SC_MODEL_PIPELINE)
        return transform_one(m, df, params, out, err);
    if (m->nstages == 0) {
        Spark__Connect__Relation *in = sc_df_relation(df, err);
        if (!in)
            return SC_ERR_NOMEM;
        sc_code_t rc = sc_df_from_relation(df->s, in, out, err);
        spark__connect__relation__free_unpacked(in, NULL);
        return rc;
    }
    const sc_df_t *cur = df;
    for (size_t i = 0; i < m->nstages; i++) {
        sc_df_t *next = NULL;
        sc_code_t rc =
            sc_model_transform(m->stages[i], cur, i + 1 == m->nstages ? params : NULL, &next, err);
        if (cur != df)
            sc_df_destroy((sc_df_t *)cur);
        if (rc != SC_OK)
            return rc;
        cur = next;
    }
    *out = (sc_df_t *)cur;
    return SC_OK;
}

sc_code_t sc_ml_transform(const sc_df_t *df, const char *transformer_class,
                          const sc_params_t *params, sc_df_t **out, sc_error_t *err)
{
    if (!out)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_ml_transform: out is NULL");
    *out = NULL;
    if (!df)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_ml_transform needs a DataFrame");
    sc_model_t *t = NULL;
    sc_code_t rc = sc_ml_transformer_new(df->s, transformer_class, params, &t, err);
    if (rc != SC_OK)
        return rc;
    rc = transform_one(t, df, NULL, out, err);
    sc_model_free(t);
    return rc;
}

/* ---- literals the server returns ---- */

static const char *literal_kind(const Spark__Connect__Expression__Literal *l)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
        &spark__connect__expression__literal__descriptor, (unsigned)l->literal_type_case);
    return f ? f->name : "nothing";
}

static bool literal_number(const Spark__Connect__Expression__Literal *l, double *out)
{
    switch (l->literal_type_case) {
    case SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_DOUBLE:
        *out = l->double_;
        return true;
    case SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_FLOAT:
        *out = l->float_;
        return true;
    case SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_INTEGER:
        *out = l->integer;
        return true;
    case SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_LONG:
        *out = (double)l->long_;
        return true;
    case SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_SHORT:
        *out = l->short_;
        return true;
    case SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_BYTE:
        *out = l->byte;
        return true;
    case SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_DECIMAL: {
        char *end = NULL;
        if (!l->decimal || !l->decimal->value)
            return false;
        *out = strtod(l->decimal->value, &end);
        return end && end != l->decimal->value && *end == '\0';
    }
    default:
        return false;
    }
}

/* Numbers of an Array or SpecializedArray literal into a malloc'd array. */
static sc_code_t literal_numbers(const Spark__Connect__Expression__Literal *l, double **vals,
                                 size_t *n, sc_error_t *err)
{
    *vals = NULL;
    *n = 0;
    size_t count;
    if (l->literal_type_case == SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_ARRAY) {
        count = l->array->n_elements;
    } else if (l->literal_type_case ==
               SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_SPECIALIZED_ARRAY) {
        const Spark__Connect__Expression__Literal__SpecializedArray *sa = l->specialized_array;
        switch (sa->value_type_case) {
        case SPARK__CONNECT__EXPRESSION__LITERAL__SPECIALIZED_ARRAY__VALUE_TYPE_DOUBLES:
            count = sa->doubles->n_values;
            break;
        case SPARK__CONNECT__EXPRESSION__LITERAL__SPECIALIZED_ARRAY__VALUE_TYPE_FLOATS:
            count = sa->floats->n_values;
            break;
        case SPARK__CONNECT__EXPRESSION__LITERAL__SPECIALIZED_ARRAY__VALUE_TYPE_INTS:
            count = sa->ints->n_values;
            break;
        case SPARK__CONNECT__EXPRESSION__LITERAL__SPECIALIZED_ARRAY__VALUE_TYPE_LONGS:
            count = sa->longs->n_values;
            break;
        default:
            return sc_error_set(err, SC_ERR_UNSUPPORTED, "the server sent a non-numeric array");
        }
    } else {
        return sc_error_set(err, SC_ERR_UNSUPPORTED, "the server sent a %s, not an array",
                            literal_kind(l));
    }
    if (count == 0)
        return SC_OK;
    double *v = malloc(count * sizeof *v);
    if (!v)
        return nomem(err);
    for (size_t i = 0; i < count; i++) {
        if (l->literal_type_case == SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_ARRAY) {
            if (!literal_number(l->array->elements[i], &v[i])) {
                free(v);
                return sc_error_set(err, SC_ERR_UNSUPPORTED,
                                    "the server sent an array of %s, not numbers",
                                    literal_kind(l->array->elements[i]));
            }
            continue;
        }
        const Spark__Connect__Expression__Literal__SpecializedArray *sa = l->specialized_array;
        switch (sa->value_type_case) {
        case SPARK__CONNECT__EXPRESSION__LITERAL__SPECIALIZED_ARRAY__VALUE_TYPE_DOUBLES:
            v[i] = sa->doubles->values[i];
            break;
        case SPARK__CONNECT__EXPRESSION__LITERAL__SPECIALIZED_ARRAY__VALUE_TYPE_FLOATS:
            v[i] = sa->floats->values[i];
            break;
        case SPARK__CONNECT__EXPRESSION__LITERAL__SPECIALIZED_ARRAY__VALUE_TYPE_INTS:
            v[i] = sa->ints->values[i];
            break;
        default:
            v[i] = (double)sa->longs->values[i];
            break;
        }
    }
    *vals = v;
    *n = count;
    return SC_OK;
}

static bool is_null_literal(const Spark__Connect__Expression__Literal *l)
{
    return l->literal_type_case == SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_NULL;
}

/* The struct's type as servers before 4.1 send it (Spark 4.1+ puts it in the
 * root literal's data_type instead). */
static const Spark__Connect__DataType *
struct_type(const Spark__Connect__Expression__Literal__Struct *st)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    return st->struct_type;
#pragma GCC diagnostic pop
}

/* A VectorUDT struct literal (type byte, size, indices, values) as dense. */
static sc_code_t vector_values(const Spark__Connect__Expression__Literal__Struct *st, double **vals,
                               size_t *n, sc_error_t *err)
{
    *vals = NULL;
    *n = 0;
    if (st->n_elements != 4)
        return sc_error_set(err, SC_ERR_PROTOCOL, "a vector with %zu fields", st->n_elements);
    double kind;
    if (!literal_number(st->elements[0], &kind))
        return sc_error_set(err, SC_ERR_PROTOCOL, "a vector without its type");
    if (kind == 1) /* dense: the values are the vector */
        return literal_numbers(st->elements[3], vals, n, err);
    if (kind != 0)
        return sc_error_set(err, SC_ERR_PROTOCOL, "unknown vector type %g", kind);
    double size;
    if (!literal_number(st->elements[1], &size) || size < 0 || size != (double)(int64_t)size)
        return sc_error_set(err, SC_ERR_PROTOCOL, "a sparse vector without a valid size");
    if (size > (double)MAX_VECTOR_SIZE)
        return sc_error_set(err, SC_ERR_LIMIT, "a sparse vector of %.0f elements is too large",
                            size);
    double *idx = NULL, *val = NULL;
    size_t nidx = 0, nval = 0;
    sc_code_t rc = SC_OK;
    if (!is_null_literal(st->elements[2]))
        rc = literal_numbers(st->elements[2], &idx, &nidx, err);
    if (rc == SC_OK && !is_null_literal(st->elements[3]))
        rc = literal_numbers(st->elements[3], &val, &nval, err);
    if (rc == SC_OK && nidx != nval)
        rc = sc_error_set(err, SC_ERR_PROTOCOL, "a sparse vector with %zu indices and %zu values",
                          nidx, nval);
    double *dense = NULL;
    if (rc == SC_OK && size > 0 && !(dense = calloc((size_t)size, sizeof *dense)))
        rc = nomem(err);
    for (size_t i = 0; rc == SC_OK && i < nidx; i++) {
        if (idx[i] < 0 || idx[i] >= size)
            rc = sc_error_set(err, SC_ERR_PROTOCOL, "sparse vector index %g out of range", idx[i]);
        else
            dense[(size_t)idx[i]] = val[i];
    }
    free(idx);
    free(val);
    if (rc != SC_OK) {
        free(dense);
        return rc;
    }
    *vals = dense;
    *n = (size_t)size;
    return SC_OK;
}

/* ---- fetch ---- */

/* Fetches attr (a dotted method chain) of a fitted model; on success *res
 * holds a PARAM result (free it). Summaries and models the chain returns
 * are released again and reported as SC_ERR_UNSUPPORTED. */
static sc_code_t fetch(const sc_model_t *m, const char *attr, Spark__Connect__MlCommandResult **res,
                       sc_error_t *err)
{
    *res = NULL;
    if (!m || !attr || !*attr)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "fetch needs a model and an attribute");
    if (m->kind != SC_MODEL_FITTED)
        return sc_error_set(err, SC_ERR_UNSUPPORTED,
                            "%s has no server-side object to fetch '%s' from", m->uid, attr);
    char *chain = strdup(attr);
    if (!chain)
        return nomem(err);
    Spark__Connect__Fetch__Method methods[MAX_CHAIN];
    Spark__Connect__Fetch__Method *mptrs[MAX_CHAIN];
    size_t n = 0;
    sc_code_t rc = SC_OK;
    for (char *seg = chain, *dot; seg && rc == SC_OK; seg = dot ? dot + 1 : NULL) {
        dot = strchr(seg, '.');
        if (dot)
            *dot = '\0';
        if (!*seg || n == MAX_CHAIN) {
            rc = sc_error_set(err, SC_ERR_INVALID_ARG,
                              "attribute '%s' is not a method chain of "
                              "at most %d names",
                              attr, MAX_CHAIN);
            break;
        }
        spark__connect__fetch__method__init(&methods[n]);
        methods[n].method = seg;
        mptrs[n] = &methods[n];
        n++;
    }
    if (rc != SC_OK) {
        free(chain);
        return rc;
    }
    Spark__Connect__ObjectRef ref = SPARK__CONNECT__OBJECT_REF__INIT;
    ref.id = m->ref;
    Spark__Connect__Fetch f = SPARK__CONNECT__FETCH__INIT;
    f.obj_ref = &ref;
    f.n_methods = n;
    f.methods = mptrs;
    Spark__Connect__MlCommand mc = SPARK__CONNECT__ML_COMMAND__INIT;
    mc.command_case = SPARK__CONNECT__ML_COMMAND__COMMAND_FETCH;
    mc.fetch = &f;
    rc = ml_run(m->s, &mc, res, err);
    free(chain);
    if (rc != SC_OK)
        return rc;
    Spark__Connect__MlCommandResult *r = *res;
    if (r->result_type_case == SPARK__CONNECT__ML_COMMAND_RESULT__RESULT_TYPE_PARAM && r->param)
        return SC_OK;
    if (r->result_type_case == SPARK__CONNECT__ML_COMMAND_RESULT__RESULT_TYPE_SUMMARY) {
        delete_ids(m->s, r->summary);
        rc = sc_error_set(err, SC_ERR_UNSUPPORTED,
                          "'%s' is a summary object; fetch one of its attributes ('%s.r2')", attr,
                          attr);
    } else if (r->result_type_case ==
                   SPARK__CONNECT__ML_COMMAND_RESULT__RESULT_TYPE_OPERATOR_INFO &&
               r->operator_info->type_case ==
                   SPARK__CONNECT__ML_COMMAND_RESULT__ML_OPERATOR_INFO__TYPE_OBJ_REF) {
        delete_ids(m->s, r->operator_info->obj_ref->id);
        rc = sc_error_set(err, SC_ERR_UNSUPPORTED, "'%s' returned models, not a value", attr);
    } else {
        rc = sc_error_set(err, SC_ERR_PROTOCOL, "fetch of '%s' returned no value", attr);
    }
    spark__connect__ml_command_result__free_unpacked(r, NULL);
    *res = NULL;
    return rc;
}

sc_code_t sc_model_fetch_double(const sc_model_t *m, const char *attr, double *value,
                                sc_error_t *err)
{
    if (!value)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_model_fetch_double: value is NULL");
    *value = 0;
    Spark__Connect__MlCommandResult *r = NULL;
    sc_code_t rc = fetch(m, attr, &r, err);
    if (rc != SC_OK)
        return rc;
    if (!literal_number(r->param, value))
        rc = sc_error_set(err, SC_ERR_UNSUPPORTED, "'%s' is a %s, not a number", attr,
                          literal_kind(r->param));
    spark__connect__ml_command_result__free_unpacked(r, NULL);
    return rc;
}

sc_code_t sc_model_fetch_doubles(const sc_model_t *m, const char *attr, double **values, size_t *n,
                                 sc_error_t *err)
{
    if (!values || !n)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_model_fetch_doubles: NULL output");
    *values = NULL;
    *n = 0;
    Spark__Connect__MlCommandResult *r = NULL;
    sc_code_t rc = fetch(m, attr, &r, err);
    if (rc != SC_OK)
        return rc;
    const Spark__Connect__Expression__Literal *l = r->param;
    if (l->literal_type_case == SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_STRUCT) {
        const Spark__Connect__DataType *t = l->data_type ? l->data_type : struct_type(l->struct_);
        bool vector =
            t && t->kind_case == SPARK__CONNECT__DATA_TYPE__KIND_UDT && t->udt &&
            t->udt->_jvm_class_case == SPARK__CONNECT__DATA_TYPE__UDT___JVM_CLASS_JVM_CLASS &&
            t->udt->jvm_class && strcmp(t->udt->jvm_class, VECTOR_UDT) == 0;
        if (vector)
            rc = vector_values(l->struct_, values, n, err);
        else
            rc = sc_error_set(err, SC_ERR_UNSUPPORTED,
                              "'%s' is a struct other than a vector "
                              "(a matrix?)",
                              attr);
    } else {
        rc = literal_numbers(l, values, n, err);
    }
    spark__connect__ml_command_result__free_unpacked(r, NULL);
    return rc;
}

sc_code_t sc_model_fetch_string(const sc_model_t *m, const char *attr, char **value,
                                sc_error_t *err)
{
    if (!value)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_model_fetch_string: value is NULL");
    *value = NULL;
    Spark__Connect__MlCommandResult *r = NULL;
    sc_code_t rc = fetch(m, attr, &r, err);
    if (rc != SC_OK)
        return rc;
    if (r->param->literal_type_case != SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_STRING)
        rc = sc_error_set(err, SC_ERR_UNSUPPORTED, "'%s' is a %s, not a string", attr,
                          literal_kind(r->param));
    else if (!(*value = strdup(r->param->string ? r->param->string : "")))
        rc = nomem(err);
    spark__connect__ml_command_result__free_unpacked(r, NULL);
    return rc;
}

/* ---- evaluate ---- */

sc_code_t sc_ml_evaluate(const sc_df_t *df, const char *evaluator_class, const sc_params_t *params,
                         double *value, sc_error_t *err)
{
    if (!value)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_ml_evaluate: value is NULL");
    *value = 0;
    if (!df || !evaluator_class || !*evaluator_class)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "sc_ml_evaluate needs a DataFrame and an evaluator class");
    char *uid = new_uid(evaluator_class);
    if (!uid)
        return nomem(err);
    mlparams_t mp;
    sc_code_t rc = mlparams_build(&mp, params, err);
    if (rc != SC_OK) {
        free(uid);
        return rc;
    }
    Spark__Connect__Relation *in = sc_df_relation(df, err);
    if (!in) {
        mlparams_free(&mp);
        free(uid);
        return SC_ERR_NOMEM;
    }
    Spark__Connect__MlOperator op;
    op_init(&op, evaluator_class, uid,
            SPARK__CONNECT__ML_OPERATOR__OPERATOR_TYPE__OPERATOR_TYPE_EVALUATOR);
    Spark__Connect__MlCommand__Evaluate ev = SPARK__CONNECT__ML_COMMAND__EVALUATE__INIT;
    ev.evaluator = &op;
    ev.dataset = in;
    ev._params_case = SPARK__CONNECT__ML_COMMAND__EVALUATE___PARAMS_PARAMS;
    ev.params = &mp.msg;
    Spark__Connect__MlCommand mc = SPARK__CONNECT__ML_COMMAND__INIT;
    mc.command_case = SPARK__CONNECT__ML_COMMAND__COMMAND_EVALUATE;
    mc.evaluate = &ev;
    Spark__Connect__MlCommandResult *res = NULL;
    rc = ml_run(df->s, &mc, &res, err);
    spark__connect__relation__free_unpacked(in, NULL);
    mlparams_free(&mp);
    free(uid);
    if (rc != SC_OK)
        return rc;
    if (res->result_type_case != SPARK__CONNECT__ML_COMMAND_RESULT__RESULT_TYPE_PARAM ||
        !res->param || !literal_number(res->param, value))
        rc = sc_error_set(err, SC_ERR_PROTOCOL, "evaluation by %s returned no number",
                          evaluator_class);
    spark__connect__ml_command_result__free_unpacked(res, NULL);
    return rc;
}

/* ---- write ---- */

/* Sends a Write of either an object (ref) or an operator with params. */
static sc_code_t write_cmd(sc_session_t *s, const char *ref, const char *cls, const char *uid,
                           const sc_params_t *params, const char *path, bool overwrite,
                           sc_error_t *err)
{
    if (!path || !*path)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "ML write needs a path");
    mlparams_t mp;
    sc_code_t rc = mlparams_build(&mp, params, err);
    if (rc != SC_OK)
        return rc;
    Spark__Connect__ObjectRef oref = SPARK__CONNECT__OBJECT_REF__INIT;
    Spark__Connect__MlOperator op;
    Spark__Connect__MlCommand__Write w = SPARK__CONNECT__ML_COMMAND__WRITE__INIT;
    if (ref) {
        oref.id = (char *)ref;
        w.type_case = SPARK__CONNECT__ML_COMMAND__WRITE__TYPE_OBJ_REF;
        w.obj_ref = &oref;
    } else {
        op_init(&op, cls, uid,
                SPARK__CONNECT__ML_OPERATOR__OPERATOR_TYPE__OPERATOR_TYPE_TRANSFORMER);
        w.type_case = SPARK__CONNECT__ML_COMMAND__WRITE__TYPE_OPERATOR;
        w.operator_ = &op;
    }
    w._params_case = SPARK__CONNECT__ML_COMMAND__WRITE___PARAMS_PARAMS;
    w.params = &mp.msg;
    w.path = (char *)path;
    w._should_overwrite_case =
        SPARK__CONNECT__ML_COMMAND__WRITE___SHOULD_OVERWRITE_SHOULD_OVERWRITE;
    w.should_overwrite = overwrite;
    Spark__Connect__MlCommand mc = SPARK__CONNECT__ML_COMMAND__INIT;
    mc.command_case = SPARK__CONNECT__ML_COMMAND__COMMAND_WRITE;
    mc.write = &w;
    rc = ml_run(s, &mc, NULL, err);
    mlparams_free(&mp);
    return rc;
}

static sc_code_t pipeline_write(sc_session_t *s, const sc_model_t *const *stages, size_t n,
                                const char *uid, const char *path, bool overwrite, sc_error_t *err);

sc_code_t sc_model_write(const sc_model_t *m, const char *path, bool overwrite, sc_error_t *err)
{
    if (!m)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_model_write: model is NULL");
    switch (m->kind) {
    case SC_MODEL_FITTED:
        return write_cmd(m->s, m->ref, NULL, NULL, NULL, path, overwrite, err);
    case SC_MODEL_TRANSFORMER:
        return write_cmd(m->s, NULL, m->cls, m->uid, m->params, path, overwrite, err);
    default:
        return pipeline_write(m->s, (const sc_model_t *const *)m->stages, m->nstages, m->uid, path,
                              overwrite, err);
    }
}

sc_code_t sc_ml_write_transformer(sc_session_t *s, const char *transformer_class,
                                  const sc_params_t *params, const char *path, bool overwrite,
                                  sc_error_t *err)
{
    if (!s || !transformer_class || !*transformer_class)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "sc_ml_write_transformer needs a session and a class");
    char *uid = new_uid(transformer_class);
    if (!uid)
        return nomem(err);
    sc_code_t rc = write_cmd(s, NULL, transformer_class, uid, params, path, overwrite, err);
    free(uid);
    return rc;
}

/* ---- read ---- */

static char *path_join(const char *dir, const char *name);

/* The 4.0 server reports a failed load as a bare InvocationTargetException
 * (no class, no cause). When that happens, let Spark analyse a read of the
 * directory's metadata: a missing path then fails with Spark's own error
 * (PATH_NOT_FOUND), which replaces the uninformative one. */
static sc_code_t explain_read_failure(sc_session_t *s, const char *cls, const char *path,
                                      sc_code_t rc, sc_error_t *err)
{
    if (rc != SC_ERR_SERVER || !err || *sc_error_class(err))
        return rc;
    char *mpath = path_join(path, "metadata");
    if (!mpath)
        return rc;
    sc_error_t *probe = sc_error_new();
    sc_read_opts_t ro = {.format = "text"};
    sc_df_t *df = NULL;
    char *schema = NULL;
    sc_code_t prc = probe ? sc_read(s, &ro, (const char *const *)&mpath, 1, &df, probe) : SC_OK;
    if (probe && prc == SC_OK)
        prc = sc_df_schema(df, &schema, probe);
    free(schema);
    sc_df_destroy(df);
    free(mpath);
    if (probe && prc != SC_OK && *sc_error_class(probe)) {
        char msg[sizeof((sc_error_t *)0)->message];
        snprintf(msg, sizeof msg, "%s", sc_error_message(probe));
        rc = sc_error_set(err, prc, "cannot read %s from %s: %s", cls, path, msg);
        sc_error_set_detail(err, sc_error_grpc_status(probe), sc_error_class(probe),
                            sc_error_sqlstate(probe), sc_error_retriable(probe));
    } else {
        char msg[sizeof((sc_error_t *)0)->message];
        snprintf(msg, sizeof msg, "%s", sc_error_message(err));
        int status = sc_error_grpc_status(err);
        sc_error_set(err, rc,
                     "the server could not load %s from %s (is it what was written "
                     "there?): %s",
                     cls, path, msg);
        sc_error_set_detail(err, status, NULL, NULL, false);
    }
    sc_error_destroy(probe);
    return rc;
}

sc_code_t sc_ml_read(sc_session_t *s, const char *model_class, const char *path, sc_model_t **out,
                     sc_error_t *err)
{
    if (!out)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_ml_read: out is NULL");
    *out = NULL;
    if (!s || !model_class || !*model_class || !path || !*path)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "sc_ml_read needs a session, a class and a "
                            "path");
    if (strcmp(model_class, PIPELINE_MODEL_CLASS) == 0)
        return sc_pipeline_read(s, path, out, err);
    /* A Model must be cached server-side to be transformed by reference; a
     * plain transformer is not a Model, and the server transforms it only
     * when sent as an operator with its params. */
    bool is_model = ends_with(model_class, "Model");
    Spark__Connect__MlOperator op;
    op_init(&op, model_class, "",
            is_model ? SPARK__CONNECT__ML_OPERATOR__OPERATOR_TYPE__OPERATOR_TYPE_MODEL
                     : SPARK__CONNECT__ML_OPERATOR__OPERATOR_TYPE__OPERATOR_TYPE_TRANSFORMER);
    Spark__Connect__MlCommand__Read rd = SPARK__CONNECT__ML_COMMAND__READ__INIT;
    rd.operator_ = &op;
    rd.path = (char *)path;
    Spark__Connect__MlCommand mc = SPARK__CONNECT__ML_COMMAND__INIT;
    mc.command_case = SPARK__CONNECT__ML_COMMAND__COMMAND_READ;
    mc.read = &rd;
    Spark__Connect__MlCommandResult *res = NULL;
    sc_code_t rc = ml_run(s, &mc, &res, err);
    if (rc != SC_OK)
        return explain_read_failure(s, model_class, path, rc, err);
    const Spark__Connect__MlCommandResult__MlOperatorInfo *info =
        res->result_type_case == SPARK__CONNECT__ML_COMMAND_RESULT__RESULT_TYPE_OPERATOR_INFO
            ? res->operator_info
            : NULL;
    const char *uid =
        info && info->_uid_case == SPARK__CONNECT__ML_COMMAND_RESULT__ML_OPERATOR_INFO___UID_UID
            ? info->uid
            : "";
    if (!info) {
        rc = sc_error_set(err, SC_ERR_PROTOCOL, "read of %s returned nothing", path);
    } else if (is_model) {
        if (info->type_case != SPARK__CONNECT__ML_COMMAND_RESULT__ML_OPERATOR_INFO__TYPE_OBJ_REF ||
            !info->obj_ref->id || !*info->obj_ref->id) {
            rc = sc_error_set(err, SC_ERR_PROTOCOL, "read of %s returned no model reference", path);
        } else if (!(*out = model_new(s, SC_MODEL_FITTED, model_class, uid, info->obj_ref->id))) {
            delete_ids(s, info->obj_ref->id);
            rc = nomem(err);
        }
    } else {
        const Spark__Connect__MlParams *stored =
            info->_params_case ==
                    SPARK__CONNECT__ML_COMMAND_RESULT__ML_OPERATOR_INFO___PARAMS_PARAMS
                ? info->params
                : NULL;
        sc_model_t *m = model_new(s, SC_MODEL_TRANSFORMER, model_class, uid, NULL);
        rc = m ? params_from_msg(stored, &m->params, err) : nomem(err);
        if (rc == SC_OK)
            *out = m;
        else
            sc_model_free(m);
    }
    spark__connect__ml_command_result__free_unpacked(res, NULL);
    return rc;
}

/* ---- PipelineModel directories ---- */

typedef struct {
    char *p;
    size_t len, cap;
    bool failed;
} strbuf_t;

static void sb_add(strbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_add(strbuf_t *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap * 2 + (size_t)n + 64;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* s as a JSON string. */
static void sb_json(strbuf_t *b, const char *s)
{
    sb_add(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            sb_add(b, "\\%c", *c);
        else if (*c < 0x20)
            sb_add(b, "\\u%04x", *c);
        else
            sb_add(b, "%c", *c);
    }
    sb_add(b, "\"");
}

/* "<dir>/<name>" without doubling a trailing slash. */
static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t len = n + 1 + strlen(name) + 1;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%.*s/%s", (int)n, dir, name);
    return p;
}

/* Spark's stage directory: index zero-padded to the digits of n, "_", uid. */
static char *stage_path(const char *path, size_t i, size_t n, const char *uid)
{
    int digits = snprintf(NULL, 0, "%zu", n);
    size_t len = (size_t)digits + strlen(uid) + 32;
    char *rel = malloc(len);
    if (!rel)
        return NULL;
    snprintf(rel, len, "stages/%0*zu_%s", digits, i, uid);
    char *p = path_join(path, rel);
    free(rel);
    return p;
}

/* The server's ConnectHelper.handleOverwrite: deletes path when overwrite,
 * else fails if it exists (as Spark's MLWriter does before saving). */
static sc_code_t handle_overwrite(sc_session_t *s, const char *path, bool overwrite,
                                  sc_error_t *err)
{
    Spark__Connect__Expression__Literal lits[2];
    spark__connect__expression__literal__init(&lits[0]);
    lits[0].literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_STRING;
    lits[0].string = (char *)path;
    spark__connect__expression__literal__init(&lits[1]);
    lits[1].literal_type_case = SPARK__CONNECT__EXPRESSION__LITERAL__LITERAL_TYPE_BOOLEAN;
    lits[1].boolean = overwrite;
    Spark__Connect__Fetch__Method__Args args[2], *aptrs[2];
    for (int i = 0; i < 2; i++) {
        spark__connect__fetch__method__args__init(&args[i]);
        args[i].args_type_case = SPARK__CONNECT__FETCH__METHOD__ARGS__ARGS_TYPE_PARAM;
        args[i].param = &lits[i];
        aptrs[i] = &args[i];
    }
    Spark__Connect__Fetch__Method method = SPARK__CONNECT__FETCH__METHOD__INIT;
    method.method = (char *)"handleOverwrite";
    method.n_args = 2;
    method.args = aptrs;
    Spark__Connect__Fetch__Method *mptrs[1] = {&method};
    Spark__Connect__ObjectRef ref = SPARK__CONNECT__OBJECT_REF__INIT;
    ref.id = (char *)ML_HELPER_ID;
    Spark__Connect__Fetch f = SPARK__CONNECT__FETCH__INIT;
    f.obj_ref = &ref;
    f.n_methods = 1;
    f.methods = mptrs;
    Spark__Connect__MlCommand mc = SPARK__CONNECT__ML_COMMAND__INIT;
    mc.command_case = SPARK__CONNECT__ML_COMMAND__COMMAND_FETCH;
    mc.fetch = &f;
    return ml_run(s, &mc, NULL, err);
}

/* The metadata line Spark's DefaultParamsWriter writes for a PipelineModel.
 * "language":"Python" is what lets PySpark over Connect load it (without it,
 * PySpark 4.0 hands the load to a JVM it does not have); Scala ignores it. */
static char *pipeline_metadata(const char *uid, const char *version,
                               const sc_model_t *const *stages, size_t n)
{
    strbuf_t b = {0};
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    sb_add(&b, "{\"class\":");
    sb_json(&b, PIPELINE_MODEL_CLASS);
    sb_add(&b, ",\"timestamp\":%" PRId64 ",\"sparkVersion\":", ms);
    sb_json(&b, version);
    sb_add(&b, ",\"uid\":");
    sb_json(&b, uid);
    sb_add(&b, ",\"paramMap\":{\"stageUids\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_add(&b, ",");
        sb_json(&b, stages[i]->uid);
    }
    sb_add(&b, "],\"language\":\"Python\"},\"defaultParamMap\":{}}");
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static sc_code_t pipeline_write(sc_session_t *s, const sc_model_t *const *stages, size_t n,
                                const char *uid, const char *path, bool overwrite, sc_error_t *err)
{
    if (!s || (n && !stages) || !path || !*path)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "sc_pipeline_write needs a session, stages and a path");
    for (size_t i = 0; i < n; i++) {
        if (!stages[i])
            return sc_error_set(err, SC_ERR_INVALID_ARG, "pipeline stage %zu is NULL", i);
        if (stages[i]->kind == SC_MODEL_PIPELINE)
            return sc_error_set(err, SC_ERR_UNSUPPORTED,
                                "pipeline stage %zu is itself a pipeline; flatten it", i);
        if (!*stages[i]->uid)
            return sc_error_set(err, SC_ERR_INVALID_ARG, "pipeline stage %zu has no uid", i);
    }
    char *version = NULL;
    sc_code_t rc = sc_session_version(s, &version, err);
    if (rc != SC_OK)
        return rc;
    rc = handle_overwrite(s, path, overwrite, err);
    for (size_t i = 0; rc == SC_OK && i < n; i++) {
        char *sp = stage_path(path, i, n, stages[i]->uid);
        rc = sp ? sc_model_write(stages[i], sp, false, err) : nomem(err);
        free(sp);
    }
    char *meta = rc == SC_OK ? pipeline_metadata(uid, version, stages, n) : NULL;
    free(version);
    if (rc != SC_OK)
        return rc;
    if (!meta)
        return nomem(err);
    /* Through Spark's text writer, so that any path the server can reach
     * works (HDFS included) without a filesystem client here. */
    sc_param_t arg = {.name = "meta", .kind = SC_PARAM_STRING, .s = meta};
    sc_df_t *df = NULL;
    rc = sc_sql(s, "SELECT :meta AS value", &arg, 1, &df, err);
    char *mpath = rc == SC_OK ? path_join(path, "metadata") : NULL;
    if (rc == SC_OK && !mpath)
        rc = nomem(err);
    if (rc == SC_OK) {
        sc_write_opts_t wo = {.format = "text", .mode = "overwrite"};
        rc = sc_df_write(df, &wo, mpath, err);
    }
    free(mpath);
    sc_df_destroy(df);
    free(meta);
    return rc;
}

sc_code_t sc_pipeline_write(sc_session_t *s, const sc_model_t *const *stages, size_t n,
                            const char *path, bool overwrite, sc_error_t *err)
{
    char *uid = new_uid(PIPELINE_MODEL_CLASS);
    if (!uid)
        return nomem(err);
    sc_code_t rc = pipeline_write(s, stages, n, uid, path, overwrite, err);
    free(uid);
    return rc;
}

/* A string cell as a malloc'd C string; NULL cells give "". */
static sc_code_t cell_str(const sc_result_t *r, size_t row, size_t col, char **out, sc_error_t *err)
{
    *out = NULL;
    const char *p = "";
    size_t len = 0;
    if (!sc_result_is_null(r, row, col)) {
        sc_code_t rc = sc_result_get_string(r, row, col, &p, &len, err);
        if (rc != SC_OK)
            return rc;
    }
    *out = malloc(len + 1);
    if (!*out)
        return nomem(err);
    memcpy(*out, p, len);
    (*out)[len] = '\0';
    return SC_OK;
}

/* Reads text files at path and collects exprs over them. */
static sc_code_t read_json_lines(sc_session_t *s, const char *path, const char *const *exprs,
                                 size_t nexprs, sc_result_t **out, sc_error_t *err)
{
    *out = NULL;
    sc_read_opts_t ro = {.format = "text"};
    sc_df_t *raw = NULL, *sel = NULL;
    sc_code_t rc = sc_read(s, &ro, &path, 1, &raw, err);
    if (rc == SC_OK)
        rc = sc_df_select_expr(raw, exprs, nexprs, &sel, err);
    if (rc == SC_OK)
        rc = sc_df_collect(sel, out, err);
    sc_df_destroy(raw);
    sc_df_destroy(sel);
    return rc;
}

/* The stage list of a pipeline directory: uids in order, and the pipeline's
 * uid. Spark parses the JSON, so no JSON parser is needed here. */
static sc_code_t read_pipeline_metadata(sc_session_t *s, const char *path, char **uid,
                                        char ***stage_uids, size_t *n, sc_error_t *err)
{
    *uid = NULL;
    *stage_uids = NULL;
    *n = 0;
    char *mpath = path_join(path, "metadata");
    if (!mpath)
        return nomem(err);
    static const char *const exprs[] = {
        "get_json_object(value, '$.class') AS cls",
        "get_json_object(value, '$.uid') AS uid",
        "posexplode_outer(from_json(get_json_object(value, '$.paramMap.stageUids'), "
        "'array<string>')) AS (pos, stage_uid)",
    };
    sc_result_t *r = NULL;
    sc_code_t rc = read_json_lines(s, mpath, exprs, 3, &r, err);
    free(mpath);
    if (rc != SC_OK)
        return rc;
    size_t rows = sc_result_num_rows(r);
    char *cls = NULL;
    if (rows == 0)
        rc = sc_error_set(err, SC_ERR_INVALID_ARG, "%s/metadata is empty", path);
    if (rc == SC_OK)
        rc = cell_str(r, 0, 0, &cls, err);
    if (rc == SC_OK && strcmp(cls, PIPELINE_MODEL_CLASS) != 0 &&
        strcmp(cls, "pyspark.ml.pipeline.PipelineModel") != 0)
        rc = sc_error_set(err, SC_ERR_INVALID_ARG, "%s holds a %s, not a PipelineModel", path,
                          *cls ? cls : "directory without a class");
    free(cls);
    if (rc == SC_OK)
        rc = cell_str(r, 0, 1, uid, err);
    size_t count = rows == 1 && sc_result_is_null(r, 0, 2) ? 0 : rows;
    char **uids = NULL;
    if (rc == SC_OK && count && !(uids = calloc(count, sizeof *uids)))
        rc = nomem(err);
    for (size_t i = 0; rc == SC_OK && i < count; i++) {
        int64_t pos = -1;
        rc = sc_result_get_int64(r, i, 2, &pos, err);
        if (rc == SC_OK && (pos < 0 || (size_t)pos >= count || uids[pos]))
            rc = sc_error_set(err, SC_ERR_PROTOCOL, "bad stage position %" PRId64, pos);
        if (rc == SC_OK)
            rc = cell_str(r, i, 3, &uids[pos], err);
    }
    sc_result_destroy(r);
    if (rc != SC_OK) {
        for (size_t i = 0; uids && i < count; i++)
            free(uids[i]);
        free(uids);
        free(*uid);
        *uid = NULL;
        return rc;
    }
    *stage_uids = uids;
    *n = count;
    return SC_OK;
}

/* Class names of the stages, read from every stages/<dir>/metadata in one
 * Spark job; classes[i] is the class in stage i's directory. */
static sc_code_t read_stage_classes(sc_session_t *s, const char *path, char **const dirs, size_t n,
                                    char **classes, sc_error_t *err)
{
    char *glob = path_join(path, "stages/*/metadata");
    if (!glob)
        return nomem(err);
    static const char *const exprs[] = {
        "regexp_extract(input_file_name(), '/stages/([^/]+)/metadata/', 1) AS dir",
        "get_json_object(value, '$.class') AS cls",
    };
    sc_result_t *r = NULL;
    sc_code_t rc = read_json_lines(s, glob, exprs, 2, &r, err);
    free(glob);
    for (size_t row = 0; rc == SC_OK && row < sc_result_num_rows(r); row++) {
        char *dir = NULL;
        rc = cell_str(r, row, 0, &dir, err);
        for (size_t i = 0; rc == SC_OK && i < n; i++) {
            if (!classes[i] && strcmp(dir, dirs[i]) == 0)
                rc = cell_str(r, row, 1, &classes[i], err);
        }
        free(dir);
    }
    sc_result_destroy(r);
    for (size_t i = 0; rc == SC_OK && i < n; i++)
        if (!classes[i] || !*classes[i])
            rc = sc_error_set(err, SC_ERR_NOT_FOUND, "%s/stages/%s has no metadata", path, dirs[i]);
    return rc;
}

sc_code_t sc_pipeline_read(sc_session_t *s, const char *path, sc_model_t **out, sc_error_t *err)
{
    if (!out)
        return sc_error_set(err, SC_ERR_INVALID_ARG, "sc_pipeline_read: out is NULL");
    *out = NULL;
    if (!s || !path || !*path)
        return sc_error_set(err, SC_ERR_INVALID_ARG,
                            "sc_pipeline_read needs a session and a "
                            "path");
    /* Let the server load it where it can (not in 4.0). */
    Spark__Connect__MlOperator op;
    op_init(&op, PIPELINE_MODEL_CLASS, "",
            SPARK__CONNECT__ML_OPERATOR__OPERATOR_TYPE__OPERATOR_TYPE_MODEL);
    Spark__Connect__MlCommand__Read rd = SPARK__CONNECT__ML_COMMAND__READ__INIT;
    rd.operator_ = &op;
    rd.path = (char *)path;
    Spark__Connect__MlCommand mc = SPARK__CONNECT__ML_COMMAND__INIT;
    mc.command_case = SPARK__CONNECT__ML_COMMAND__COMMAND_READ;
    mc.read = &rd;
    /* The class of the error decides, so keep one even when the caller
     * passes none. */
    sc_error_t local;
    sc_error_t *e = err ? err : &local;
    sc_error_clear(e);
    Spark__Connect__MlCommandResult *res = NULL;
    sc_code_t rc = ml_run(s, &mc, &res, e);
    if (rc == SC_OK) {
        const Spark__Connect__MlCommandResult__MlOperatorInfo *info =
            res->result_type_case == SPARK__CONNECT__ML_COMMAND_RESULT__RESULT_TYPE_OPERATOR_INFO
                ? res->operator_info
                : NULL;
        if (info &&
            info->type_case == SPARK__CONNECT__ML_COMMAND_RESULT__ML_OPERATOR_INFO__TYPE_OBJ_REF) {
            *out = model_new(s, SC_MODEL_FITTED, PIPELINE_MODEL_CLASS,
                             info->_uid_case ==
                                     SPARK__CONNECT__ML_COMMAND_RESULT__ML_OPERATOR_INFO___UID_UID
                                 ? info->uid
                                 : "",
                             info->obj_ref->id);
            if (!*out)
                delete_ids(s, info->obj_ref->id);
            rc = *out ? SC_OK : nomem(err);
        } else {
            rc = sc_error_set(err, SC_ERR_PROTOCOL, "read of %s returned no model reference", path);
        }
        spark__connect__ml_command_result__free_unpacked(res, NULL);
        return rc;
    }
    if (rc != SC_ERR_SERVER || strcmp(sc_error_class(e), "CONNECT_ML.UNSUPPORTED_EXCEPTION") != 0)
        return rc;
    sc_error_clear(e);

    /* Stage by stage, as Spark's own PipelineModel reader does. */
    char *uid = NULL, **uids = NULL, **dirs = NULL, **classes = NULL;
    size_t n = 0;
    sc_model_t *pm = NULL;
    rc = read_pipeline_metadata(s, path, &uid, &uids, &n, err);
    if (rc == SC_OK && n) {
        dirs = calloc(n, sizeof *dirs);
        classes = calloc(n, sizeof *classes);
        if (!dirs || !classes)
            rc = nomem(err);
        for (size_t i = 0; rc == SC_OK && i < n; i++) {
            char *sp = stage_path("", i, n, uids[i]); /* "/stages/<dir>" */
            if (!sp)
                rc = nomem(err);
            else if (!(dirs[i] = strdup(strrchr(sp, '/') + 1)))
                rc = nomem(err);
            free(sp);
        }
        if (rc == SC_OK)
            rc = read_stage_classes(s, path, dirs, n, classes, err);
    }
    if (rc == SC_OK) {
        pm = model_new(s, SC_MODEL_PIPELINE, PIPELINE_MODEL_CLASS, uid, NULL);
        if (!pm || (n && !(pm->stages = calloc(n, sizeof *pm->stages))))
            rc = nomem(err);
    }
    for (size_t i = 0; rc == SC_OK && i < n; i++) {
        char *sp = stage_path(path, i, n, uids[i]);
        rc = sp ? sc_ml_read(s, classes[i], sp, &pm->stages[i], err) : nomem(err);
        if (rc == SC_OK)
            pm->nstages = i + 1;
        free(sp);
    }
    for (size_t i = 0; i < n; i++) {
        free(uids[i]);
        if (dirs)
            free(dirs[i]);
        if (classes)
            free(classes[i]);
    }
    free(uids);
    free(dirs);
    free(classes);
    free(uid);
    if (rc != SC_OK) {
        sc_model_destroy(pm);
        return rc;
    }
    *out = pm;
    return SC_OK;
}
