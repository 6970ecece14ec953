/*
 * JSON string literals escaped exactly as Go's encoding/json (go1.19,
 * HTML-safe) escapes them, since etcd hashes and compares bytes that Go
 * produced (the member ids, the cluster metadata in the WAL and snap files).
 */
#ifndef EDR_RESTORE_JSON_H
#define EDR_RESTORE_JSON_H

#include <stddef.h>

#include "common/buf.h"

/* Append the JSON string literal of s[n], quotes included: `"` and `\`
 * backslashed, \n \r \t, other control bytes and < > & as \u00xx,
 * U+2028/U+2029 as \u2028/\u2029, each byte of invalid UTF-8 as \ufffd.
 * Returns as edr_buf_add. */
int edr_restore_json_str(struct edr_buf *b, const char *s, size_t n);

#endif
