/* Benchmark: collect N rows x 5 columns from Spark Connect with our client,
 * touch every cell, print wall time. Peak memory is measured from outside
 * (bench/run-collect uses /usr/bin/time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sparkconnect/dataframe.h"
#include "sparkconnect/session.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long rows = argc > 1 ? atol(argv[1]) : 1000000;
    const char *remote = getenv("CARPRICE_SPARK_REMOTE");
    if (!remote || !*remote)
        remote = "sc://127.0.0.1:15002";
    char q[512];
    snprintf(q, sizeof q,
             "SELECT id, id * 1.5D AS d, CAST(id AS STRING) AS s, id %% 2 = 0 AS b, "
             "date_add(DATE'2020-01-01', CAST(id %% 1000 AS INT)) AS dt FROM range(%ld)",
             rows);
    sc_error_t *err = sc_error_new();
    sc_session_t *s = NULL;
    sc_df_t *df = NULL;
    sc_result_t *res = NULL;
    if (sc_session_new(remote, NULL, &s, err) != SC_OK ||
        sc_sql(s, q, NULL, 0, &df, err) != SC_OK) {
        fprintf(stderr, "bench_collect: %s\n", sc_error_message(err));
        return 1;
    }
    double t0 = now();
    if (sc_df_collect(df, &res, err) != SC_OK) {
        fprintf(stderr, "bench_collect: %s\n", sc_error_message(err));
        return 1;
    }
    double t1 = now();
    /* Touch every cell so that lazy decoding cannot flatter us. */
    double sum = 0;
    size_t chars = 0;
    for (size_t r = 0; r < sc_result_num_rows(res); r++) {
        int64_t i;
        double d;
        const char *str;
        size_t n;
        bool b;
        int32_t days;
        sc_result_get_int64(res, r, 0, &i, NULL);
        sc_result_get_double(res, r, 1, &d, NULL);
        sc_result_get_string(res, r, 2, &str, &n, NULL);
        sc_result_get_bool(res, r, 3, &b, NULL);
        sc_result_get_date(res, r, 4, &days, NULL);
        sum += (double)i + d + (b ? 1 : 0) + days;
        chars += n;
    }
    double t2 = now();
    printf("client=carprice-c rows=%zu collect_s=%.3f scan_s=%.3f total_s=%.3f checksum=%.0f/%zu\n",
           sc_result_num_rows(res), t1 - t0, t2 - t1, t2 - t0, sum, chars);
    sc_result_destroy(res);
    sc_df_destroy(df);
    sc_session_destroy(s);
    sc_error_destroy(err);
    return 0;
}
