/* Small helpers shared by carprice's programs. */
#ifndef CARPRICE_UTIL_H
#define CARPRICE_UTIL_H

/* A malloc'd printf result (free it), or NULL when out of memory. */
char *cp_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Seconds on the monotonic clock, for measuring durations. */
double cp_now_s(void);

#endif
