/* DataFrames: immutable, lazily evaluated query plans bound to a session.
 *
 * Every transformation returns a new sc_df_t and leaves its input unchanged;
 * nothing runs on the server until an action (collect, count, write, a temp
 * view, ...). A DataFrame borrows its session, which must outlive it. Column
 * expressions are Spark SQL expression strings ("price * 2", "year > 2000"). */
#ifndef SPARKCONNECT_DATAFRAME_H
#define SPARKCONNECT_DATAFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparkconnect/error.h"
#include "sparkconnect/result.h"
#include "sparkconnect/session.h"

typedef struct sc_df_s sc_df_t;

/* A named SQL parameter, bound with :name in the query text. */
typedef enum { SC_PARAM_STRING, SC_PARAM_INT64, SC_PARAM_DOUBLE, SC_PARAM_BOOL } sc_param_kind_t;
typedef struct {
    const char *name;
    sc_param_kind_t kind;
    const char *s;
    int64_t i;
    double d;
    bool b;
} sc_param_t;

/* Runs a SQL statement. Commands (CREATE, DROP, INSERT, SET, ...) execute now,
 * as in spark.sql(); queries return a lazy DataFrame. args binds :name
 * parameters (nargs may be 0). */
sc_code_t sc_sql(sc_session_t *s, const char *query, const sc_param_t *args, size_t nargs,
                 sc_df_t **out, sc_error_t *err);

/* A table or view by name. */
sc_code_t sc_table(sc_session_t *s, const char *name, sc_df_t **out, sc_error_t *err);

/* spark.range(start, end, step). */
sc_code_t sc_range(sc_session_t *s, int64_t start, int64_t end, int64_t step, sc_df_t **out,
                   sc_error_t *err);

/* Frees a DataFrame handle (not server state). Accepts NULL. */
void sc_df_destroy(sc_df_t *df);

/* ---- reading ---- */

/* Options of a read; set the fields you need, leave the rest NULL/0. */
typedef struct {
    const char *format;             /* "csv", "parquet", "json", "kafka", ... */
    const char *schema;             /* DDL, e.g. "a INT, b STRING"; NULL to infer */
    const char *const *option_keys; /* noptions reader options */
    const char *const *option_values;
    size_t noptions;
    bool streaming; /* readStream instead of read */
} sc_read_opts_t;

/* Reads paths (npaths may be 0 for sources such as kafka). */
sc_code_t sc_read(sc_session_t *s, const sc_read_opts_t *opts, const char *const *paths,
                  size_t npaths, sc_df_t **out, sc_error_t *err);

/* ---- transformations ---- */

sc_code_t sc_df_select_expr(const sc_df_t *df, const char *const *exprs, size_t n, sc_df_t **out,
                            sc_error_t *err);
sc_code_t sc_df_filter(const sc_df_t *df, const char *condition, sc_df_t **out, sc_error_t *err);
sc_code_t sc_df_with_column(const sc_df_t *df, const char *name, const char *expr, sc_df_t **out,
                            sc_error_t *err);
sc_code_t sc_df_limit(const sc_df_t *df, int32_t n, sc_df_t **out, sc_error_t *err);
sc_code_t sc_df_with_watermark(const sc_df_t *df, const char *event_time, const char *delay,
                               sc_df_t **out, sc_error_t *err);

/* ---- actions ---- */

/* Runs the query and returns all rows. *out is the caller's (sc_result_destroy). */
sc_code_t sc_df_collect(const sc_df_t *df, sc_result_t **out, sc_error_t *err);

/* Counts the rows. */
sc_code_t sc_df_count(const sc_df_t *df, int64_t *count, sc_error_t *err);

/* Registers df as a temporary view (replacing one of that name if replace). */
sc_code_t sc_df_create_view(const sc_df_t *df, const char *name, bool replace, sc_error_t *err);

/* The schema as a DDL-like string "a INT, b STRING"; *ddl is malloc'd. */
sc_code_t sc_df_schema(const sc_df_t *df, char **ddl, sc_error_t *err);

/* The plan Spark would run ("simple", "extended", "formatted"); malloc'd. */
sc_code_t sc_df_explain(const sc_df_t *df, const char *mode, char **text, sc_error_t *err);

/* Whether the DataFrame is a streaming one. */
sc_code_t sc_df_is_streaming(const sc_df_t *df, bool *streaming, sc_error_t *err);

/* Caches df in memory and disk (MEMORY_AND_DISK), or drops it from the cache. */
sc_code_t sc_df_persist(const sc_df_t *df, sc_error_t *err);
sc_code_t sc_df_unpersist(const sc_df_t *df, sc_error_t *err);

/* ---- writing ---- */

typedef struct {
    const char *format; /* default "parquet" */
    const char *mode;   /* "error" (default), "overwrite", "append", "ignore" */
    const char *const *option_keys;
    const char *const *option_values;
    size_t noptions;
    const char *const *partition_by;
    size_t npartition_by;
} sc_write_opts_t;

/* Writes df to path (NULL for sinks configured purely by options). */
sc_code_t sc_df_write(const sc_df_t *df, const sc_write_opts_t *opts, const char *path,
                      sc_error_t *err);

#endif
