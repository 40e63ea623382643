/* Leveled, machine-parsable logging to stderr: one logfmt line per event,
 *   ts=2026-11-23T20:31:06.123Z level=info event=stack.up service=kafka
 * Thread-safe: each line is written with a single write(2). Never log secrets. */
#ifndef CARPRICE_LOG_H
#define CARPRICE_LOG_H

typedef enum {
    CP_LOG_DEBUG = 0,
    CP_LOG_INFO = 1,
    CP_LOG_WARN = 2,
    CP_LOG_ERROR = 3,
} cp_log_level_t;

/* Lines below this level are dropped. Initialised from CARPRICE_LOG_LEVEL
 * (debug|info|warn|error) on first use; default info. */
void cp_log_set_level(cp_log_level_t level);
cp_log_level_t cp_log_get_level(void);

/* Parses "debug", "info", "warn", "error". Returns 0, or -1 if unknown. */
int cp_log_parse_level(const char *name, cp_log_level_t *out);

/* Logs `event` followed by the printf-expanded key=value pairs in fmt (may be
 * NULL). Values with spaces should be quoted by the caller with %s inside "". */
void cp_log(cp_log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define cp_log_debug(ev, ...) cp_log(CP_LOG_DEBUG, ev, __VA_ARGS__)
#define cp_log_info(ev, ...)  cp_log(CP_LOG_INFO, ev, __VA_ARGS__)
#define cp_log_warn(ev, ...)  cp_log(CP_LOG_WARN, ev, __VA_ARGS__)
#define cp_log_error(ev, ...) cp_log(CP_LOG_ERROR, ev, __VA_ARGS__)

#endif
