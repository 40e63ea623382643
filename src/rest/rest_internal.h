/* Private pieces shared by the REST clients: error filling, JSON helpers,
 * time. Not installed; unit tests include it to reach the parsers. */
#ifndef CARPRICE_REST_INTERNAL_H
#define CARPRICE_REST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "carprice/http.h"

/* Fills err with code and a printf-expanded message; returns code. */
cp_rest_code_t cp_rest_fail(cp_rest_error_t *err, cp_rest_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds the HTTP/remote detail to an already filled error. NULL strings leave
 * the fields empty. */
void cp_rest_error_detail(cp_rest_error_t *err, long http_status, const char *remote_code,
                          const char *remote_message, bool retriable);

/* Sets only the retriable flag. */
void cp_rest_error_set_retriable(cp_rest_error_t *err, bool retriable);

/* Copies up to max printable bytes of s into dst (cap bytes), replacing
 * control characters, so a server's body can go into a message or a log. */
void cp_rest_printable(char *dst, size_t cap, const char *s, size_t max);

/* Milliseconds since the Unix epoch (wall clock) and a monotonic clock. */
int64_t cp_rest_now_ms(void);
double cp_rest_mono_ms(void);

/* Sleeps ms milliseconds (restarting after signals). */
void cp_rest_sleep_ms(long ms);

/* ---- JSON helpers (jansson) ----
 * Parses a response body as a JSON object. CP_REST_ERR_PROTOCOL with `what`
 * in the message when it is not one. */
cp_rest_code_t cp_rest_json_parse(const char *body, size_t len, json_t **out, cp_rest_error_t *err,
                                  const char *what);

/* The string member key of obj, or NULL when absent / not a string. */
const char *cp_rest_json_str(const json_t *obj, const char *key);
/* Like cp_rest_json_str but "" when absent. */
const char *cp_rest_json_str0(const json_t *obj, const char *key);
/* An int64 member that may be a JSON number or a decimal string (protobuf's
 * JSON form of int64). Returns dflt when absent or unparsable. */
int64_t cp_rest_json_i64(const json_t *obj, const char *key, int64_t dflt);
/* A double from a JSON value that may be a number or "NaN"/"Infinity"/
 * "-Infinity" (protobuf's JSON form). Returns false when it is neither. */
bool cp_rest_json_value_double(const json_t *v, double *out);
/* A JSON value for a double; non-finite values become the protobuf strings. */
json_t *cp_rest_json_double(double v);

/* Sets obj[key] = value when value is non-NULL. On failure (invalid UTF-8,
 * no memory) frees obj and returns NULL; a NULL obj passes through. */
json_t *cp_rest_json_set_str(json_t *obj, const char *key, const char *value);

/* Serialises compactly. NULL when out of memory. */
char *cp_rest_json_dump(const json_t *v);

/* Number of Unicode characters in a UTF-8 string; -1 when it is not valid
 * UTF-8. */
long cp_rest_utf8_chars(const char *s);

/* The search key/value in a JSON array of {"key":..,"value":..} objects. */
const char *cp_rest_json_kv_lookup(const json_t *arr, const char *key);
/* Element i of such an array. */
bool cp_rest_json_kv_at(const json_t *arr, size_t i, const char **key, const char **value);

#endif
