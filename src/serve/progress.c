/* Streaming progress reports (Spark's StreamingQueryProgress JSON) reduced to
 * the numbers serve exports on /metrics. */
#include <jansson.h>
#include <string.h>

#include "serve_internal.h"

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

size_t serve_progress_parse(const char *text, void (*fn)(const serve_progress_t *, void *),
                            void *opaque)
{
    size_t n = 0, len = text ? strlen(text) : 0, off = 0;
    while (off < len) {
        off += strspn(text + off, " \t\r\n");
        if (off >= len)
            break;
        json_error_t je;
        /* One value at a time: reports may be pretty-printed over lines. */
        json_t *o = json_loadb(text + off, len - off, JSON_DISABLE_EOF_CHECK, &je);
        if (!o)
            break;
        off += (size_t)je.position;
        if (json_is_object(o)) {
            serve_progress_t p = {0};
            p.batch_id = (int64_t)num(o, "batchId");
            /* Spark 4.0's JSON has these per source only (older reports also at
             * the top level): sum over sources, else take the top level. */
            json_t *srcs = json_object_get(o, "sources");
            if (json_is_array(srcs) && json_array_size(srcs) > 0) {
                size_t i;
                json_t *src;
                json_array_foreach(srcs, i, src)
                {
                    p.num_input_rows += (int64_t)num(src, "numInputRows");
                    p.input_rate += num(src, "inputRowsPerSecond");
                    p.processed_rate += num(src, "processedRowsPerSecond");
                }
            } else {
                p.num_input_rows = (int64_t)num(o, "numInputRows");
                p.input_rate = num(o, "inputRowsPerSecond");
                p.processed_rate = num(o, "processedRowsPerSecond");
            }
            json_t *d = json_object_get(o, "durationMs");
            p.trigger_ms = num(d, "triggerExecution");
            p.ran_batch = json_object_get(d, "addBatch") != NULL;
            fn(&p, opaque);
            n++;
        }
        json_decref(o);
    }
    return n;
}
