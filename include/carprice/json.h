/* Fast JSON text output helpers for hot paths (one message per row at tens of
 * thousands of rows per second), where building a jansson tree per message
 * would cost more than the rest of the work. */
#ifndef CARPRICE_JSON_H
#define CARPRICE_JSON_H

#include <stddef.h>

#include "carprice/buf.h"

/* Appends s[0..n) to b as a quoted JSON string: `"`, `\`, and control
 * characters are escaped (\n, \r, \t, \b, \f or \u00XX); valid UTF-8 is
 * copied as is and every byte of an invalid UTF-8 sequence becomes U+FFFD, so
 * the output is always valid JSON whatever the input bytes (NUL included).
 * Returns 0, or -1 if b's limit or memory ran out (b may then hold part of the
 * string; reset it). */
int cp_json_append_string(cp_buf_t *b, const char *s, size_t n);

/* 1 if s[0..n) is exactly a JSON number (RFC 8259 grammar: optional minus,
 * no leading zeros, optional fraction and exponent), else 0. */
int cp_json_is_number(const char *s, size_t n);

#endif
