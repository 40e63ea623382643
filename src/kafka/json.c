/* JSON output helpers (see include/carprice/json.h). Runs of bytes that need
 * no escaping are copied in one piece; only quotes, backslashes, control
 * characters and non-ASCII bytes leave the fast loop. */
#include "carprice/json.h"

#include <stdint.h>
#include <string.h>

/* 0: copy as is; 1: escape; 2: start of a multi-byte (or invalid) sequence. */
static const uint8_t byte_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x70 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x80 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x90 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xA0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xB0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xC0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xD0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xE0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xF0 */
};

/* The length of the valid UTF-8 sequence at p (at most n bytes), or 0 if the
 * bytes there are not one (overlong forms, surrogates and code points above
 * U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

int cp_json_append_string(cp_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    /* Output is gathered in a chunk on the stack and appended in one piece,
     * which for most strings means a single append. Every step writes at most
     * 6 bytes, so it flushes when 8 or fewer are left (and runs always fit). */
    char chunk[4096];
    size_t o = 0, i = 0;
    chunk[o++] = '"';
    while (i < n) {
        if (o >= sizeof chunk - 8) {
            if (cp_buf_append(b, chunk, o) != 0)
                return -1;
            o = 0;
        }
        /* Copy a run of plain bytes, as long as the chunk has room. */
        size_t room = sizeof chunk - 8 - o, k = 0;
        while (k < room && i + k < n && byte_class[p[i + k]] == 0)
            k++;
        if (k) {
            memcpy(chunk + o, p + i, k);
            o += k;
            i += k;
            continue;
        }
        uint8_t cls = byte_class[p[i]];
        if (cls == 2) {
            size_t len = utf8_len(p + i, n - i);
            if (len) {
                memcpy(chunk + o, p + i, len);
                o += len;
                i += len;
                continue;
            }
            /* An invalid byte: U+FFFD. */
            chunk[o++] = (char)0xEF;
            chunk[o++] = (char)0xBF;
            chunk[o++] = (char)0xBD;
            i++;
            continue;
        }
        chunk[o++] = '\\';
        switch (p[i]) {
        case '"':
            chunk[o++] = '"';
            break;
        case '\\':
            chunk[o++] = '\\';
            break;
        case '\n':
            chunk[o++] = 'n';
            break;
        case '\r':
            chunk[o++] = 'r';
            break;
        case '\t':
            chunk[o++] = 't';
            break;
        case '\b':
            chunk[o++] = 'b';
            break;
        case '\f':
            chunk[o++] = 'f';
            break;
        default:
            chunk[o++] = 'u';
            chunk[o++] = '0';
            chunk[o++] = '0';
            chunk[o++] = hex[p[i] >> 4];
            chunk[o++] = hex[p[i] & 15];
        }
        i++;
    }
    chunk[o++] = '"';
    return cp_buf_append(b, chunk, o);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int cp_json_is_number(const char *s, size_t n)
{
    size_t i = 0;
    if (!s)
        return 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || !is_digit(s[i]))
        return 0;
    if (s[i] == '0')
        i++;
    else
        while (i < n && is_digit(s[i]))
            i++;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i]))
            return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    return i == n;
}
