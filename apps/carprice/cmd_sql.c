/* carprice sql: run one SQL statement on the Spark Connect server and print
 * the result as a table (or tab-separated with --tsv). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "sparkconnect/dataframe.h"
#include "sparkconnect/session.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: carprice sql [--remote sc://HOST:PORT] [--tsv] [--max-rows N] 'STATEMENT'\n\n"
            "Runs one Spark SQL statement through Spark Connect and prints the rows.\n"
            "--remote defaults to $CARPRICE_SPARK_REMOTE, then sc://127.0.0.1:15002.\n");
}

int cmd_sql(int argc, char **argv)
{
    const char *remote = getenv("CARPRICE_SPARK_REMOTE");
    const char *query = NULL;
    bool tsv = false;
    long max_rows = 1000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--remote") == 0 && i + 1 < argc) {
            remote = argv[++i];
        } else if (strcmp(argv[i], "--tsv") == 0) {
            tsv = true;
        } else if (strcmp(argv[i], "--max-rows") == 0 && i + 1 < argc) {
            char *end;
            max_rows = strtol(argv[++i], &end, 10);
            if (*end || max_rows < 0) {
                fprintf(stderr, "carprice sql: --max-rows needs a non-negative number\n");
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "carprice sql: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (!query) {
            query = argv[i];
        } else {
            fprintf(stderr, "carprice sql: give the statement as one argument (quote it)\n");
            return 2;
        }
    }
    if (!query) {
        usage(stderr);
        return 2;
    }
    if (!remote || !*remote)
        remote = "sc://127.0.0.1:15002";

    int status = 1;
    sc_error_t *err = sc_error_new();
    sc_session_t *s = NULL;
    sc_df_t *df = NULL, *limited = NULL;
    sc_result_t *res = NULL;
    if (!err) {
        fprintf(stderr, "carprice sql: out of memory\n");
        return 1;
    }
    if (sc_session_new(remote, NULL, &s, err) != SC_OK ||
        sc_sql(s, query, NULL, 0, &df, err) != SC_OK ||
        sc_df_limit(df, (int32_t)(max_rows > 0x7fffffff ? 0x7fffffff : max_rows), &limited, err) !=
            SC_OK ||
        sc_df_collect(limited, &res, err) != SC_OK) {
        /* One line: Spark's messages continue with the plan on later lines. */
        const char *msg = sc_error_message(err);
        fprintf(stderr, "carprice sql: %.*s\n", (int)strcspn(msg, "\n"), msg);
        goto done;
    }
    size_t ncols = sc_result_num_cols(res), nrows = sc_result_num_rows(res);
    char cell[512];
    for (size_t c = 0; c < ncols; c++)
        printf("%s%s", c ? "\t" : "", sc_result_col_name(res, c));
    printf("\n");
    if (!tsv) {
        for (size_t c = 0; c < ncols; c++)
            printf("%s%s", c ? "\t" : "", "----");
        printf("\n");
    }
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            if (sc_result_format_value(res, r, c, cell, sizeof cell, err) != SC_OK)
                snprintf(cell, sizeof cell, "<%s>", sc_error_message(err));
            printf("%s%s", c ? "\t" : "", cell);
        }
        printf("\n");
    }
    if (!tsv)
        fprintf(stderr, "(%zu row%s)\n", nrows, nrows == 1 ? "" : "s");
    status = 0;
done:
    sc_result_destroy(res);
    sc_df_destroy(limited);
    sc_df_destroy(df);
    sc_session_destroy(s);
    sc_error_destroy(err);
    return status;
}
