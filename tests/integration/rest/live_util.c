#include "live_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double live_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void live_measure(const char *name, double value, const char *unit)
{
    printf("MEASURE %s=%.3f %s\n", name, value, unit);
    fflush(stdout);
}

const char *live_cache_dir(void)
{
    static char buf[512];
    const char *c = getenv("CARPRICE_CACHE");
    if (c && *c)
        return c;
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && *x)
        snprintf(buf, sizeof buf, "%s/carprice", x);
    else
        snprintf(buf, sizeof buf, "%s/.cache/carprice", getenv("HOME") ? getenv("HOME") : "/");
    return buf;
}

const char *live_python(void)
{
    static char buf[600];
    const char *p = getenv("CARPRICE_PYTHON");
    if (p && *p)
        return p;
    const char *venv = getenv("CARPRICE_VENV");
    if (venv && *venv)
        snprintf(buf, sizeof buf, "%s/bin/python", venv);
    else
        snprintf(buf, sizeof buf, "%s/venv/bin/python", live_cache_dir());
    return buf;
}

bool live_files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb)
            same = false;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}
