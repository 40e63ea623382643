/* Spark ML over Spark Connect.
 *
 * Operators are named by their JVM class ("org.apache.spark.ml.regression.
 * LinearRegression") and configured with an sc_params_t of literal values.
 * The server runs them: a fit leaves the fitted model in the server session's
 * ML cache and returns an sc_model_t that refers to it; transforms are lazy
 * DataFrames (nothing runs until an action); evaluation, write, read and
 * attribute fetches are eager.
 *
 * An sc_model_t is one of three kinds:
 *   SC_MODEL_FITTED       a server-side object (fitted, or read from a path);
 *   SC_MODEL_TRANSFORMER  a stateless transformer (VectorAssembler, ...) kept
 *                         client-side as class + uid + params, sent with
 *                         every transform or write;
 *   SC_MODEL_PIPELINE     an ordered list of stages, transformed in order on
 *                         the client, written as a standard PipelineModel
 *                         directory (Spark 4.0's Connect server can neither
 *                         fit a Pipeline nor read a PipelineModel itself).
 *
 * Limits of the 4.0 server that callers meet through this API: only classes
 * the server registers (META-INF/services of spark-mllib) can be used; only
 * allow-listed attributes can be fetched; the ML cache holds at most 100
 * objects per session, drops them after 60 minutes without use, and keeps
 * them by soft reference (the JVM may drop them under memory pressure). A
 * dropped or deleted model fails with error class CONNECT_ML.CACHE_INVALID:
 * write what must survive and read it back by path. See
 * docs/spark-connect-ml.md.
 *
 * Threads: sc_params_t is not thread-safe while being built; once built it
 * is only read. An sc_model_t is immutable; several threads may use one at
 * once (the session is thread-safe). Models and DataFrames borrow their
 * session, which must outlive them. */
#ifndef SPARKCONNECT_ML_H
#define SPARKCONNECT_ML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparkconnect/dataframe.h"
#include "sparkconnect/error.h"
#include "sparkconnect/session.h"

/* ---- parameters ---- */

typedef struct sc_params_s sc_params_t;

/* An empty parameter set; NULL when out of memory. */
sc_params_t *sc_params_new(void);

/* Frees a parameter set. Accepts NULL. */
void sc_params_destroy(sc_params_t *p);

/* Setters: each copies name and value, replacing an earlier value of the same
 * name. The server converts numbers to the parameter's declared type (Int,
 * Long, Float, Double), so set_int64 serves Int params such as maxIter and
 * Long params such as seed alike; an unknown name fails at the server when
 * the parameters are used. SC_ERR_INVALID_ARG for NULL arguments,
 * SC_ERR_NOMEM when out of memory. */
sc_code_t sc_params_set_double(sc_params_t *p, const char *name, double value, sc_error_t *err);
sc_code_t sc_params_set_int64(sc_params_t *p, const char *name, int64_t value, sc_error_t *err);
sc_code_t sc_params_set_bool(sc_params_t *p, const char *name, bool value, sc_error_t *err);
sc_code_t sc_params_set_string(sc_params_t *p, const char *name, const char *value,
                               sc_error_t *err);

/* Array parameters (inputCols, splits, ...); n may be 0. */
sc_code_t sc_params_set_strings(sc_params_t *p, const char *name, const char *const *values,
                                size_t n, sc_error_t *err);
sc_code_t sc_params_set_doubles(sc_params_t *p, const char *name, const double *values, size_t n,
                                sc_error_t *err);

/* Number of parameters set; 0 for NULL. */
size_t sc_params_count(const sc_params_t *p);

/* Name of parameter i (borrowed from p), or NULL when out of range. */
const char *sc_params_name(const sc_params_t *p, size_t i);

/* ---- models ---- */

typedef struct sc_model_s sc_model_t;

typedef enum { SC_MODEL_FITTED, SC_MODEL_TRANSFORMER, SC_MODEL_PIPELINE } sc_model_kind_t;

/* Fits estimator_class (e.g. "org.apache.spark.ml.feature.StringIndexer") on
 * df with params (may be NULL). On success *out is a new SC_MODEL_FITTED
 * handle whose uid is the estimator's (a fresh "<SimpleName>_<12 hex>";
 * Spark models take their estimator's uid). Errors: SC_ERR_SERVER with error
 * class CONNECT_ML.UNSUPPORTED_EXCEPTION for a class the server does not
 * offer; the server's error for a bad parameter or a failed fit. */
sc_code_t sc_ml_fit(const sc_df_t *df, const char *estimator_class, const sc_params_t *params,
                    sc_model_t **out, sc_error_t *err);

/* Wraps a stateless transformer (VectorAssembler, SQLTransformer,
 * VectorSizeHint, ...) as an SC_MODEL_TRANSFORMER, so that it can be
 * transformed with and written as a pipeline stage. Copies params (may be
 * NULL); nothing is sent to the server until it is used. */
sc_code_t sc_ml_transformer_new(sc_session_t *s, const char *transformer_class,
                                const sc_params_t *params, sc_model_t **out, sc_error_t *err);

/* Makes an SC_MODEL_PIPELINE from n stages (fitted models or transformers)
 * applied in order. On success it takes ownership of the n stage handles
 * (destroying the pipeline destroys them); on failure the caller keeps them. */
sc_code_t sc_ml_pipeline_new(sc_session_t *s, sc_model_t **stages, size_t n, sc_model_t **out,
                             sc_error_t *err);

/* Applies model m to df as a lazy DataFrame (*out is the caller's). params
 * (may be NULL) override the model's parameters for this call only, e.g. a
 * different predictionCol; for a pipeline they apply to its last stage.
 * Server-side errors (unknown column, evicted model) surface at the first
 * action on *out. */
sc_code_t sc_model_transform(const sc_model_t *m, const sc_df_t *df, const sc_params_t *params,
                             sc_df_t **out, sc_error_t *err);

/* Applies a stateless transformer class with params to df, lazily; the same
 * as sc_model_transform on sc_ml_transformer_new's result. */
sc_code_t sc_ml_transform(const sc_df_t *df, const char *transformer_class,
                          const sc_params_t *params, sc_df_t **out, sc_error_t *err);

/* Runs evaluator_class (e.g. "org.apache.spark.ml.evaluation.RegressionEvaluator",
 * params metricName "rmse" / "mae" / "r2", labelCol, predictionCol) on df and
 * stores the metric in *value. */
sc_code_t sc_ml_evaluate(const sc_df_t *df, const char *evaluator_class, const sc_params_t *params,
                         double *value, sc_error_t *err);

/* Writes m with Spark ML's writer to path (a path or URI the server can
 * reach, e.g. "hdfs://nn:9000/models/x" or "file:///tmp/x"). Without
 * overwrite an existing path is an error. A pipeline is written as by
 * sc_pipeline_write, under its own uid. */
sc_code_t sc_model_write(const sc_model_t *m, const char *path, bool overwrite, sc_error_t *err);

/* Writes a stateless transformer (class + params) the way Spark saves it, so
 * that a pipeline directory can hold it as a stage. */
sc_code_t sc_ml_write_transformer(sc_session_t *s, const char *transformer_class,
                                  const sc_params_t *params, const char *path, bool overwrite,
                                  sc_error_t *err);

/* Reads what Spark ML wrote at path as model_class. Classes whose simple name
 * ends in "Model" (LinearRegressionModel, StringIndexerModel, ...) are loaded
 * into the server's cache (SC_MODEL_FITTED); other transformer classes
 * (VectorAssembler, ...) come back as SC_MODEL_TRANSFORMER with the uid and
 * params stored at path. "org.apache.spark.ml.PipelineModel" is handed to
 * sc_pipeline_read. A missing path is SC_ERR_SERVER. */
sc_code_t sc_ml_read(sc_session_t *s, const char *model_class, const char *path, sc_model_t **out,
                     sc_error_t *err);

/* Deletes m's server-side objects (best effort; errors are ignored) and
 * frees m. Accepts NULL. */
void sc_model_destroy(sc_model_t *m);

/* Frees m without deleting its server-side objects (they then live until the
 * session ends or the cache drops them). Accepts NULL. */
void sc_model_free(sc_model_t *m);

/* Accessors. Strings are borrowed from m for its lifetime; NULL m gives "",
 * NULL or 0. The class of a fitted model is derived from its estimator's by
 * Spark's naming (GBTRegressor -> GBTRegressionModel); of a read one, the
 * class it was read as. */
sc_model_kind_t sc_model_kind(const sc_model_t *m);
const char *sc_model_class(const sc_model_t *m); /* JVM class, e.g. "...GBTRegressionModel" */
const char *sc_model_uid(const sc_model_t *m);
const char *sc_model_ref(const sc_model_t *m);   /* server object id; NULL unless FITTED */
size_t sc_model_num_stages(const sc_model_t *m); /* 0 unless PIPELINE */
const sc_model_t *sc_model_stage(const sc_model_t *m, size_t i); /* NULL when out of range */

/* ---- attributes of fitted models ----
 *
 * attr is a method chain separated by dots, evaluated on the server in one
 * call: "intercept", "coefficients", "featureImportances", "numFeatures",
 * "summary.r2", "summary.objectiveHistory", ... Only attributes on Spark
 * 4.0's allow-list are served; others fail with SC_ERR_SERVER and error class
 * CONNECT_ML.ATTRIBUTE_NOT_ALLOWED. SC_ERR_UNSUPPORTED when m is not FITTED or
 * the value has another shape (a DataFrame, a matrix, a model). */

/* A numeric scalar (double, float, any integer width, decimal) as a double. */
sc_code_t sc_model_fetch_double(const sc_model_t *m, const char *attr, double *value,
                                sc_error_t *err);

/* A vector (dense or sparse, returned dense) or numeric array. *values is
 * malloc'd (free it; NULL when *n is 0). */
sc_code_t sc_model_fetch_doubles(const sc_model_t *m, const char *attr, double **values, size_t *n,
                                 sc_error_t *err);

/* A string attribute ("toString", "toDebugString"); *value is malloc'd. */
sc_code_t sc_model_fetch_string(const sc_model_t *m, const char *attr, char **value,
                                sc_error_t *err);

/* ---- PipelineModel directories ---- */

/* Writes a standard Spark PipelineModel directory at path from n stages
 * (FITTED or TRANSFORMER models), loadable by Spark's PipelineModel.load in
 * Scala, PySpark and PySpark over Connect:
 *   <path>/stages/<i>_<uid>   each stage by Spark ML's writer (i zero-padded
 *                             to the digits of n, as Spark names them)
 *   <path>/metadata/          one JSON line written by Spark as text: class
 *                             org.apache.spark.ml.PipelineModel, timestamp,
 *                             sparkVersion, a new uid, paramMap {stageUids,
 *                             language}, defaultParamMap {}
 * Everything goes through the server, so path may be on HDFS. With
 * overwrite, an existing path is deleted first (by the server); without, an
 * existing path is an error. Metadata is written last: a failed write leaves
 * no loadable pipeline. */
sc_code_t sc_pipeline_write(sc_session_t *s, const sc_model_t *const *stages, size_t n,
                            const char *path, bool overwrite, sc_error_t *err);

/* Reads a PipelineModel directory. Spark 4.0's server refuses to load a
 * PipelineModel (CONNECT_ML.UNSUPPORTED_EXCEPTION), so unless it accepts the
 * read, this reads the metadata through Spark, then each stage by its class
 * with sc_ml_read, and returns an SC_MODEL_PIPELINE applied stage by stage. */
sc_code_t sc_pipeline_read(sc_session_t *s, const char *path, sc_model_t **out, sc_error_t *err);

#endif
