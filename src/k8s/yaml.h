/*
 * A reader for the YAML that Kubernetes configuration files are written in,
 * turned into a jansson tree: block mappings and sequences (indentation,
 * "- " items, "- key: value" items), plain, single- and double-quoted
 * scalars, flow collections on one line ("{}", "[a, b]", "{k: v}"),
 * comments, a leading "---". Not read (refused with the line): block scalars
 * (| and >), anchors, aliases, tags, several documents, multi-line scalars.
 * Plain scalars become null ("", ~, null), true/false, integers, or strings;
 * quoted ones are always strings.
 */
#ifndef EDR_K8S_YAML_H
#define EDR_K8S_YAML_H

#include <stddef.h>

#include <jansson.h>

#include "common/err.h"

/* The tree and where each node of it was read. */
struct edr_yaml_doc {
    json_t *root;
    struct edr_yaml_pos {
        const json_t *node;
        int line;
    } * pos;
    size_t npos, cap;
};

/* Parses text[n] (need not be NUL-terminated) into doc (zeroed by the
 * call). Errors are EDR_E_CONFIG "<what>:<line>: <what is wrong>". */
edr_rc edr_yaml_load(const char *text, size_t n, const char *what, struct edr_yaml_doc *doc,
                     struct edr_err *err);
/* The line a node of doc->root was read on (1-based), 0 when unknown. */
int edr_yaml_line(const struct edr_yaml_doc *doc, const json_t *node);
/* Frees the tree and the positions; accepts a zeroed doc. */
void edr_yaml_release(struct edr_yaml_doc *doc);

#endif
