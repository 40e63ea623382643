/* Encoders of the request, price and malformed-request messages
 * (docs/messages.md). Requests are written straight into a byte buffer: at
 * tens of thousands of messages per second a JSON tree per message would cost
 * more than everything else together. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/json.h"
#include "carprice/requests.h"

const char *cp_req_strerror(int err)
{
    switch (err) {
    case CP_REQ_OK:
        return "ok";
    case CP_REQ_ERR_ARG:
        return "invalid argument";
    case CP_REQ_ERR_NOMEM:
        return "out of memory";
    case CP_REQ_ERR_INPUT:
        return "bad input";
    case CP_REQ_ERR_IO:
        return "output file error";
    case CP_REQ_ERR_KAFKA:
        return "Kafka error";
    case CP_REQ_ERR_DELIVERY:
        return "some messages were not delivered";
    default:
        return "unknown error";
    }
}

#define PUT(b, lit) cp_buf_append((b), (lit), sizeof(lit) - 1)

static int put_int(cp_buf_t *b, int64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return cp_buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

static int put_str(cp_buf_t *b, const char *s)
{
    return cp_json_append_string(b, s, strlen(s));
}

/* How to build the record object of a request. */
typedef struct {
    const char *set_name; /* a column whose value is replaced (added if absent) */
    const char *set_value;
    size_t set_len;
} record_edit_t;

static int put_value(cp_buf_t *b, const char *v, size_t len)
{
    if (!v || len == 0)
        return PUT(b, "null");
    return cp_json_append_string(b, v, len);
}

/* Appends `,"name":` (without the comma for the first member) in one piece
 * when the name needs no escaping, as column names never do. */
static int put_key(cp_buf_t *b, const char *name, int first)
{
    char tmp[128];
    size_t o = 0;
    if (!first)
        tmp[o++] = ',';
    tmp[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p >= 0x80 || *p == '"' || *p == '\\' || o >= sizeof tmp - 2)
            return (!first && PUT(b, ",")) || put_str(b, name) || PUT(b, ":");
        tmp[o++] = (char)*p;
    }
    tmp[o++] = '"';
    tmp[o++] = ':';
    return cp_buf_append(b, tmp, o);
}

static int put_record(cp_buf_t *b, const cp_req_field_t *fields, size_t n, const record_edit_t *e)
{
    int set_done = 0;
    if (PUT(b, "{") != 0)
        return -1;
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        const char *v = fields[i].value;
        size_t len = fields[i].len;
        if (e && e->set_name && strcmp(fields[i].name, e->set_name) == 0) {
            v = e->set_value;
            len = e->set_len;
            set_done = 1;
        }
        if (put_key(b, fields[i].name, first) != 0 || put_value(b, v, len) != 0)
            return -1;
        first = 0;
    }
    if (e && e->set_name && !set_done) {
        if (put_key(b, e->set_name, first) != 0 || put_value(b, e->set_value, e->set_len) != 0)
            return -1;
    }
    return PUT(b, "}");
}

/* {"request_id":...,"sent_at_ms":...,"record":{...}} with optional edits. */
static int put_request(cp_buf_t *b, const char *id, int64_t ms, const cp_req_field_t *fields,
                       size_t n, const record_edit_t *e)
{
    if (PUT(b, "{\"request_id\":") != 0 || put_str(b, id) != 0 || PUT(b, ",\"sent_at_ms\":") != 0 ||
        put_int(b, ms) != 0 || PUT(b, ",\"record\":") != 0 || put_record(b, fields, n, e) != 0 ||
        PUT(b, "}") != 0)
        return -1;
    return 0;
}

int cp_req_encode_request(cp_buf_t *out, const char *request_id, int64_t sent_at_ms,
                          const cp_req_field_t *fields, size_t nfields)
{
    if (!out || !request_id || (nfields && !fields))
        return CP_REQ_ERR_ARG;
    return put_request(out, request_id, sent_at_ms, fields, nfields, NULL) ? CP_REQ_ERR_NOMEM
                                                                           : CP_REQ_OK;
}

int cp_req_encode_price(cp_buf_t *out, const char *request_id, const char *price, int64_t set_at_ms)
{
    if (!out || !request_id || !price || !cp_json_is_number(price, strlen(price)))
        return CP_REQ_ERR_ARG;
    if (PUT(out, "{\"request_id\":") != 0 || put_str(out, request_id) != 0 ||
        PUT(out, ",\"price\":") != 0 || cp_buf_append(out, price, strlen(price)) != 0 ||
        PUT(out, ",\"set_at_ms\":") != 0 || put_int(out, set_at_ms) != 0 || PUT(out, "}") != 0)
        return CP_REQ_ERR_NOMEM;
    return CP_REQ_OK;
}

/* ---- malformed requests --------------------------------------------------- */

static const char *const bad_names[CP_REQ_BAD_NKINDS] = {
    "not_json", "truncated_json", "missing_field", "wrong_type", "absurd_value", "oversized",
};

static const unsigned bad_variants[CP_REQ_BAD_NKINDS] = {3, 2, 3, 4, 4, 1};

const char *cp_req_bad_kind_name(int kind)
{
    return kind >= 0 && kind < CP_REQ_BAD_NKINDS ? bad_names[kind] : NULL;
}

unsigned cp_req_bad_variants(int kind)
{
    return kind >= 0 && kind < CP_REQ_BAD_NKINDS ? bad_variants[kind] : 0;
}

static const char *field_value(const cp_req_field_t *fields, size_t n, const char *name,
                               size_t *len)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].name, name) == 0 && fields[i].value) {
            *len = fields[i].len;
            return fields[i].value;
        }
    *len = 0;
    return "";
}

static int bad_not_json(cp_buf_t *b, unsigned variant, const char *id, int64_t ms,
                        const cp_req_field_t *fields, size_t n)
{
    size_t vlen;
    const char *vin = field_value(fields, n, "vin", &vlen);
    switch (variant) {
    case 0: /* prose */
        return PUT(b, "carprice malformed request ") || cp_buf_append(b, id, strlen(id)) ||
               PUT(b, ": this text is not JSON");
    case 1: /* key=value text */
        return PUT(b, "request_id=") || cp_buf_append(b, id, strlen(id)) ||
               PUT(b, ";sent_at_ms=") || put_int(b, ms) || PUT(b, ";vin=") ||
               cp_buf_append(b, vin, vlen);
    default: /* binary bytes, not even UTF-8 */
        return PUT(b, "\xff\xfe\x00\x01") || cp_buf_append(b, id, strlen(id)) ||
               PUT(b, "\x00\x80\xc0");
    }
}

static int bad_truncated(cp_buf_t *b, unsigned variant, const char *id, int64_t ms,
                         const cp_req_field_t *fields, size_t n)
{
    size_t start = b->len;
    if (put_request(b, id, ms, fields, n, NULL) != 0)
        return -1;
    size_t full = b->len - start;
    /* Half of it, or all but the closing brace: no proper prefix of an
     * object is valid JSON. */
    size_t keep = variant == 0 ? full / 2 : full - 1;
    b->len = start + keep;
    b->data[b->len] = '\0';
    return 0;
}

static int bad_missing(cp_buf_t *b, unsigned variant, const char *id, int64_t ms,
                       const cp_req_field_t *fields, size_t n)
{
    switch (variant) {
    case 0: /* no record */
        return PUT(b, "{\"request_id\":") || put_str(b, id) || PUT(b, ",\"sent_at_ms\":") ||
               put_int(b, ms) || PUT(b, "}");
    case 1: /* no request_id */
        return PUT(b, "{\"sent_at_ms\":") || put_int(b, ms) || PUT(b, ",\"record\":") ||
               put_record(b, fields, n, NULL) || PUT(b, "}");
    default: /* no sent_at_ms */
        return PUT(b, "{\"request_id\":") || put_str(b, id) || PUT(b, ",\"record\":") ||
               put_record(b, fields, n, NULL) || PUT(b, "}");
    }
}

static int bad_wrong_type(cp_buf_t *b, unsigned variant, const char *id, int64_t ms,
                          const cp_req_field_t *fields, size_t n)
{
    switch (variant) {
    case 0: { /* record is a string */
        size_t vlen;
        const char *vin = field_value(fields, n, "vin", &vlen);
        return PUT(b, "{\"request_id\":") || put_str(b, id) || PUT(b, ",\"sent_at_ms\":") ||
               put_int(b, ms) || PUT(b, ",\"record\":") || cp_json_append_string(b, vin, vlen) ||
               PUT(b, "}");
    }
    case 1: /* sent_at_ms is a string */
        return PUT(b, "{\"request_id\":") || put_str(b, id) ||
               PUT(b, ",\"sent_at_ms\":\"yesterday\",\"record\":") ||
               put_record(b, fields, n, NULL) || PUT(b, "}");
    case 2: /* request_id is a number */
        return PUT(b, "{\"request_id\":") || put_int(b, ms) || PUT(b, ",\"sent_at_ms\":") ||
               put_int(b, ms) || PUT(b, ",\"record\":") || put_record(b, fields, n, NULL) ||
               PUT(b, "}");
    default: { /* record is an array of the values */
        if (PUT(b, "{\"request_id\":") || put_str(b, id) || PUT(b, ",\"sent_at_ms\":") ||
            put_int(b, ms) || PUT(b, ",\"record\":["))
            return -1;
        for (size_t i = 0; i < n; i++)
            if ((i && PUT(b, ",")) || put_value(b, fields[i].value, fields[i].len))
                return -1;
        return PUT(b, "]}");
    }
    }
}

/* Values outside what any listing can have, and outside the ranges that
 * sql/train_rows.sql accepts (year 1950..listing year + 1, mileage 0..1e6). */
static const struct {
    const char *column;
    const char *value;
} absurd_values[] = {
    {"mileage", "-12345.0"},
    {"year", "1800"},
    {"mileage", "987654321.0"},
    {"year", "2999"},
};

static int bad_absurd(cp_buf_t *b, unsigned variant, const char *id, int64_t ms,
                      const cp_req_field_t *fields, size_t n)
{
    record_edit_t e = {.set_name = absurd_values[variant].column,
                       .set_value = absurd_values[variant].value,
                       .set_len = strlen(absurd_values[variant].value)};
    return put_request(b, id, ms, fields, n, &e);
}

static int bad_oversized(cp_buf_t *b, const char *id, int64_t ms, const cp_req_field_t *fields,
                         size_t n)
{
    /* The request with its description padded so that the whole value is
     * 4 KiB over the limit. Measure the request first to size the padding. */
    static const char filler[] = "Low miles, one owner, clean title, call today! ";
    size_t start = b->len, dlen;
    const char *desc = field_value(fields, n, "description", &dlen);
    if (put_request(b, id, ms, fields, n, NULL) != 0)
        return -1;
    size_t plain = b->len - start;
    b->len = start;
    b->data[start] = '\0';
    size_t target = CP_REQ_MAX_REQUEST_BYTES + 4096;
    size_t pad = target > plain ? target - plain : 1;
    char *big = malloc(dlen + pad);
    if (!big)
        return -1;
    memcpy(big, desc, dlen);
    for (size_t i = 0; i < pad; i++)
        big[dlen + i] = filler[i % (sizeof filler - 1)];
    record_edit_t e = {.set_name = "description", .set_value = big, .set_len = dlen + pad};
    int rc = put_request(b, id, ms, fields, n, &e);
    free(big);
    return rc;
}

int cp_req_encode_malformed(cp_buf_t *out, int kind, unsigned variant, const char *request_id,
                            int64_t sent_at_ms, const cp_req_field_t *fields, size_t nfields)
{
    if (!out || !request_id || (nfields && !fields) || kind < 0 || kind >= CP_REQ_BAD_NKINDS)
        return CP_REQ_ERR_ARG;
    variant %= bad_variants[kind];
    int rc;
    switch (kind) {
    case CP_REQ_BAD_NOT_JSON:
        rc = bad_not_json(out, variant, request_id, sent_at_ms, fields, nfields);
        break;
    case CP_REQ_BAD_TRUNCATED:
        rc = bad_truncated(out, variant, request_id, sent_at_ms, fields, nfields);
        break;
    case CP_REQ_BAD_MISSING:
        rc = bad_missing(out, variant, request_id, sent_at_ms, fields, nfields);
        break;
    case CP_REQ_BAD_WRONG_TYPE:
        rc = bad_wrong_type(out, variant, request_id, sent_at_ms, fields, nfields);
        break;
    case CP_REQ_BAD_ABSURD:
        rc = bad_absurd(out, variant, request_id, sent_at_ms, fields, nfields);
        break;
    default:
        rc = bad_oversized(out, request_id, sent_at_ms, fields, nfields);
        break;
    }
    return rc ? CP_REQ_ERR_NOMEM : CP_REQ_OK;
}
