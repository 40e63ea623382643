/* Small helpers for the REST integration tests. */
#ifndef CARPRICE_TEST_LIVE_UTIL_H
#define CARPRICE_TEST_LIVE_UTIL_H

#include <stdbool.h>

/* Monotonic milliseconds. */
double live_now_ms(void);

/* Prints "MEASURE name=value unit" on stdout (collected into the docs). */
void live_measure(const char *name, double value, const char *unit);

/* $CARPRICE_CACHE, else $XDG_CACHE_HOME/carprice, else ~/.cache/carprice. */
const char *live_cache_dir(void);

/* $CARPRICE_PYTHON, else <cache>/venv/bin/python (the test-only venv). */
const char *live_python(void);

/* True when both files exist and have the same bytes. */
bool live_files_equal(const char *a, const char *b);

#endif
