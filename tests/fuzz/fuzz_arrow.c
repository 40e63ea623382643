/* libFuzzer target for the Arrow IPC reader (sc_result_append_ipc) and every
 * accessor of what it decodes. Seeds: tests/unit/sparkconnect_arrow/fixtures. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arrow_internal.h"
#include "sparkconnect/result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_all(const sc_result_t *r)
{
    char buf[96];
    size_t idx;
    for (size_t c = 0; c < sc_result_num_cols(r); c++) {
        (void)sc_result_col_arrow_type(r, c);
        (void)sc_result_col_timezone(r, c);
        const char *name = sc_result_col_name(r, c);
        if (!name || sc_result_col_index(r, name, &idx, NULL) != SC_OK || idx > c)
            abort();
    }
    /* Bounded: a stream may declare many rows of zero columns. */
    size_t rows = sc_result_num_rows(r);
    for (size_t row = 0; row < rows && row < 4096; row++) {
        for (size_t c = 0; c < sc_result_num_cols(r); c++) {
            bool b;
            int64_t i;
            double d;
            const char *s;
            const uint8_t *p;
            size_t n;
            int32_t days;
            sc_decimal_t dec;
            bool null = sc_result_is_null(r, row, c);
            sc_code_t rc = sc_result_format_value(r, row, c, buf, sizeof buf, NULL);
            if (null && (rc != SC_OK || strcmp(buf, "NULL") != 0))
                abort();
            (void)sc_result_get_bool(r, row, c, &b, NULL);
            (void)sc_result_get_int64(r, row, c, &i, NULL);
            (void)sc_result_get_double(r, row, c, &d, NULL);
            if (sc_result_get_string(r, row, c, &s, &n, NULL) == SC_OK && n && !s)
                abort();
            (void)sc_result_get_binary(r, row, c, &p, &n, NULL);
            (void)sc_result_get_date(r, row, c, &days, NULL);
            (void)sc_result_get_timestamp(r, row, c, &i, NULL);
            (void)sc_result_get_decimal(r, row, c, &dec, NULL);
            (void)sc_result_get_decimal_str(r, row, c, buf, 8, NULL);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_result_t *r = sc_result_new();
    if (!r)
        return 0;
    sc_result_set_limit(r, 64u << 20);
    /* Copy so that reads past `size` hit ASan's redzone, not the fuzzer's slack. */
    uint8_t *copy = malloc(size ? size : 1);
    if (copy) {
        memcpy(copy, data, size);
        if (sc_result_append_ipc(r, copy, size, NULL) == SC_OK) {
            size_t rows = sc_result_num_rows(r), bytes = sc_result_memory_bytes(r);
            read_all(r);
            /* A second identical stream must pass the schema check and
             * double the rows; a failing append must leave r as it was. */
            sc_code_t rc = sc_result_append_ipc(r, copy, size, NULL);
            if (rc == SC_OK && sc_result_num_rows(r) != 2 * rows)
                abort();
            if (rc != SC_OK && rc != SC_ERR_LIMIT)
                abort();
            if (rc != SC_OK &&
                (sc_result_num_rows(r) != rows || sc_result_memory_bytes(r) != bytes))
                abort();
            read_all(r);
        }
        free(copy);
    }
    sc_result_destroy(r);
    return 0;
}
