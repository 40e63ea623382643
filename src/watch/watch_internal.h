/* Private helpers of the watch library. */
#ifndef CARPRICE_WATCH_INTERNAL_H
#define CARPRICE_WATCH_INTERNAL_H

#include <stddef.h>

#include "carprice/watch.h"

/* Writes the printf-expanded message into errbuf (when given); returns code. */
cp_watch_code_t cp_watch_fail(char *errbuf, size_t errcap, cp_watch_code_t code, const char *fmt,
                              ...) __attribute__((format(printf, 4, 5)));

/* This host's name ("unknown" when it cannot be read). */
void cp_watch_hostname(char *out, size_t cap);

#endif
