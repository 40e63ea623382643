#include "carprice/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_level = -1;

static const char *const g_names[] = {"debug", "info", "warn", "error"};

int cp_log_parse_level(const char *name, cp_log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (name && strcasecmp(name, g_names[i]) == 0) {
            *out = (cp_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

cp_log_level_t cp_log_get_level(void)
{
    int lv = atomic_load(&g_level);
    if (lv < 0) {
        cp_log_level_t parsed = CP_LOG_INFO;
        cp_log_parse_level(getenv("CARPRICE_LOG_LEVEL"), &parsed);
        lv = (int)parsed;
        atomic_store(&g_level, lv);
    }
    return (cp_log_level_t)lv;
}

void cp_log_set_level(cp_log_level_t level)
{
    atomic_store(&g_level, (int)level);
}

void cp_log(cp_log_level_t level, const char *event, const char *fmt, ...)
{
    if (level < cp_log_get_level())
        return;
    char line[4096];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, g_names[level], event);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (fmt && *fmt && len < sizeof line - 2) {
        line[len++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + len, sizeof line - len, fmt, ap);
        va_end(ap);
        if (m > 0)
            len += (size_t)m < sizeof line - len ? (size_t)m : sizeof line - len - 1;
    }
    if (len >= sizeof line - 1)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
