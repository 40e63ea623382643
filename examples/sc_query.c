/* Example: connect to a Spark Connect server, run a query, print the rows.
 *
 *   cc sc_query.c $(pkg-config --cflags --libs sparkconnect) -o sc_query
 *   ./sc_query sc://127.0.0.1:15002 "SELECT id, id * id AS sq FROM range(5)"
 */
#include <stdio.h>

#include "sparkconnect/sparkconnect.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s sc://HOST:PORT 'SQL'\n", argv[0]);
        return 2;
    }
    sc_error_t *err = sc_error_new();
    sc_session_t *session = NULL;
    sc_df_t *df = NULL;
    sc_result_t *rows = NULL;
    int status = 1;
    if (sc_session_new(argv[1], NULL, &session, err) != SC_OK ||
        sc_sql(session, argv[2], NULL, 0, &df, err) != SC_OK ||
        sc_df_collect(df, &rows, err) != SC_OK) {
        fprintf(stderr, "error (%s, class '%s', SQL state '%s'): %s\n",
                sc_code_name(sc_error_code(err)), sc_error_class(err), sc_error_sqlstate(err),
                sc_error_message(err));
        goto out;
    }
    for (size_t c = 0; c < sc_result_num_cols(rows); c++)
        printf("%s%s", c ? "\t" : "", sc_result_col_name(rows, c));
    printf("\n");
    for (size_t r = 0; r < sc_result_num_rows(rows); r++) {
        for (size_t c = 0; c < sc_result_num_cols(rows); c++) {
            char cell[256];
            sc_result_format_value(rows, r, c, cell, sizeof cell, NULL);
            printf("%s%s", c ? "\t" : "", cell);
        }
        printf("\n");
    }
    status = 0;
out:
    sc_result_destroy(rows);
    sc_df_destroy(df);
    sc_session_destroy(session);
    sc_error_destroy(err);
    return status;
}
