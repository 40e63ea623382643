/* libFuzzer target for the streaming CSV reader (carprice/csv.h) and the
 * JSON string writer fed with what it reads: untrusted input files. The first
 * input byte picks the record size limit (small limits reach the oversized
 * path); the rest is the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/buf.h"
#include "carprice/csv.h"
#include "carprice/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max_record = 8 + (size_t)data[0] * 16;
    FILE *f = fmemopen((void *)(data + 1), size - 1 ? size - 1 : 1, "rb");
    if (!f)
        return 0;
    if (size == 1)
        fseek(f, 0, SEEK_END); /* an empty file */
    cp_csv_reader_t *r;
    if (cp_csv_reader_new(f, "fuzz", max_record, &r) != CP_CSV_OK) {
        fclose(f);
        return 0;
    }
    cp_buf_t b;
    cp_buf_init(&b, (size_t)1 << 24);
    int rc;
    while ((rc = cp_csv_read(r)) == CP_CSV_OK) {
        size_t n = cp_csv_nfields(r), total = 0;
        if (n == 0)
            abort();
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const char *v = cp_csv_field(r, i, &len);
            if (!v || v[len] != '\0')
                abort();
            total += len + 1;
            cp_buf_reset(&b);
            if (cp_json_append_string(&b, v, len) != 0)
                abort();
            (void)cp_json_is_number(v, len);
        }
        if (total > max_record || cp_csv_field(r, n, NULL) != NULL)
            abort();
    }
    if (rc != CP_CSV_END && cp_csv_error(r)[0] == '\0')
        abort(); /* every error has a message */
    if (cp_csv_read(r) != rc)
        abort(); /* END and errors are sticky */
    cp_buf_free(&b);
    cp_csv_reader_destroy(r);
    fclose(f);
    return 0;
}
