/*
 * The YAML subset reader (see yaml.h). The text is first cut into lines
 * whose indentation is counted and whose comments are removed; block
 * structure is then read by recursive descent over those lines, a sequence
 * item "- x" being read by moving the start of its line past the dash, so
 * that "- key: value" opens a mapping at the column of "key" as YAML says.
 * Everything that is not understood stops the read with its line: a wrong
 * guess at a configuration file is worse than a clear refusal. Scalars may
 * hold key material: the temporary copies are wiped.
 */
#include "k8s/yaml.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/hash.h"

#define MAX_DEPTH 64

struct line {
    const char *s; /* content after the indentation, comment and trailing blanks cut */
    size_t len;
    int indent;
    int no;
};

struct parser {
    struct line *ln;
    size_t n, i;
    const char *what;
    struct edr_yaml_doc *doc;
    struct edr_err *err;
    int depth;
    int quiet; /* reading a key: its node is not noted (it is freed at once) */
};

static edr_rc
perr(struct parser *p, int line, const char *msg, const char *arg)
{
    if (arg != NULL)
        return edr_err_set(p->err, EDR_E_CONFIG, "%s:%d: %s '%s'", p->what, line, msg, arg);
    return edr_err_set(p->err, EDR_E_CONFIG, "%s:%d: %s", p->what, line, msg);
}

static int
note(struct parser *p, const json_t *node, int line)
{
    struct edr_yaml_doc *d = p->doc;

    if (d->npos == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        struct edr_yaml_pos *np = realloc(d->pos, cap * sizeof(*np));
        if (np == NULL)
            return -1;
        d->pos = np;
        d->cap = cap;
    }
    d->pos[d->npos].node = node;
    d->pos[d->npos].line = line;
    d->npos++;
    return 0;
}

/* A new node noted at line; NULL (with err set) when out of memory. */
static json_t *
noted(struct parser *p, json_t *node, int line)
{
    if (node == NULL || (!p->quiet && note(p, node, line) != 0)) {
        json_decref(node);
        edr_err_set(p->err, EDR_E_INTERNAL, "%s:%d: out of memory", p->what, line);
        return NULL;
    }
    return node;
}

/* -- lines --------------------------------------------------------------- */

static int
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Length of the line's content before a comment; -1 for an unterminated
 * quoted scalar. A quote opens a scalar only where a token starts. */
static long
uncommented(const char *s, size_t len)
{
    char q = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (q == '"') {
            if (c == '\\')
                i++;
            else if (c == '"')
                q = 0;
        } else if (q == '\'') {
            if (c == '\'')
                q = 0; /* '' (an escaped quote) reopens at once below */
        } else if (c == '#' && (i == 0 || is_blank(s[i - 1]))) {
            return (long)i;
        } else if ((c == '"' || c == '\'') && (i == 0 || strchr(" \t[{,:-", s[i - 1]) != NULL ||
                                               (i > 0 && s[i - 1] == '\'' && c == '\''))) {
            q = c;
        }
    }
    return q ? -1 : (long)len;
}

static edr_rc
split_lines(struct parser *p, const char *text, size_t n)
{
    size_t cap = 0, off = 0;
    int no = 0, started = 0;

    if (n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        off = 3;
    while (off < n) {
        const char *s = text + off, *nl = memchr(s, '\n', n - off);
        size_t len = nl ? (size_t)(nl - s) : n - off;
        size_t ind = 0;
        long cut;

        off += len + (nl != NULL);
        if (++no == INT_MAX)
            return perr(p, no, "too many lines", NULL);
        if (memchr(s, '\0', len) != NULL)
            return perr(p, no, "NUL byte in the text", NULL);
        while (ind < len && s[ind] == ' ')
            ind++;
        if (ind < len && s[ind] == '\t')
            return perr(p, no, "tab in the indentation (YAML indents with spaces)", NULL);
        if (ind > 10000)
            return perr(p, no, "indentation too deep", NULL);
        cut = uncommented(s + ind, len - ind);
        if (cut < 0)
            return perr(p, no, "quoted scalar not closed on its line", NULL);
        len = (size_t)cut;
        while (len > 0 && (is_blank(s[ind + len - 1]) || s[ind + len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        s += ind;
        if (ind == 0 && len >= 3 && (memcmp(s, "---", 3) == 0 || memcmp(s, "...", 3) == 0) &&
            (len == 3 || is_blank(s[3]))) {
            if (s[0] == '.')
                break; /* end of the document */
            if (started)
                return perr(p, no, "a second YAML document ('---'): only one is read", NULL);
            if (len > 3)
                return perr(p, no, "content after '---' on its line is not supported", NULL);
            started = 1;
            continue;
        }
        if (ind == 0 && s[0] == '%')
            return perr(p, no, "YAML directives are not supported", NULL);
        started = 1;
        if (p->n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct line *nl2 = realloc(p->ln, ncap * sizeof(*nl2));
            if (nl2 == NULL)
                return edr_err_set(p->err, EDR_E_INTERNAL, "%s: out of memory", p->what);
            p->ln = nl2;
            cap = ncap;
        }
        p->ln[p->n].s = s;
        p->ln[p->n].len = len;
        p->ln[p->n].indent = (int)ind;
        p->ln[p->n].no = no;
        p->n++;
    }
    return EDR_OK;
}

/* -- scalars ------------------------------------------------------------- */

static json_t *
string_node(struct parser *p, char *s, size_t len, int line)
{
    json_t *j = json_stringn(s, len);

    if (j == NULL) {
        perr(p, line, "text that is not valid UTF-8", NULL);
        return NULL;
    }
    return noted(p, j, line);
}

static size_t
put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A quoted scalar at s[0] (' or "); *used receives its length with quotes. */
static json_t *
quoted(struct parser *p, const char *s, size_t len, int line, size_t *used)
{
    char q = s[0], *o = malloc(len * 2 + 4);
    size_t i = 1, k = 0;
    json_t *j = NULL;

    if (o == NULL) {
        edr_err_set(p->err, EDR_E_INTERNAL, "%s:%d: out of memory", p->what, line);
        return NULL;
    }
    for (;;) {
        if (i >= len) {
            perr(p, line, "quoted scalar not closed on its line", NULL);
            goto out;
        }
        if (s[i] == q) {
            if (q == '\'' && i + 1 < len && s[i + 1] == '\'') {
                o[k++] = '\'';
                i += 2;
                continue;
            }
            i++;
            break;
        }
        if (q == '"' && s[i] == '\\') {
            static const char from[] = "0abtnvfre \"/\\";
            static const char to[] = {'\0', '\a',   '\b', '\t', '\n', '\v', '\f',
                                      '\r', '\033', ' ',  '"',  '/',  '\\'};
            const char *e;
            int digits;
            char c = i + 1 < len ? s[i + 1] : '\0';

            i += 2;
            if (c != '\0' && (e = strchr(from, c)) != NULL) {
                o[k++] = to[e - from];
                continue;
            }
            digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
            if (digits == 0 || i + (size_t)digits > len) {
                perr(p, line, "unknown escape in a double-quoted scalar", NULL);
                goto out;
            }
            unsigned long cp = 0;
            for (int d = 0; d < digits; d++) {
                int h = edr_hexval((unsigned char)s[i + (size_t)d]);
                if (h < 0) {
                    perr(p, line, "bad hexadecimal escape in a double-quoted scalar", NULL);
                    goto out;
                }
                cp = cp << 4 | (unsigned long)h;
            }
            i += (size_t)digits;
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                perr(p, line, "escape of an invalid character in a double-quoted scalar", NULL);
                goto out;
            }
            k += put_utf8(o + k, cp);
            continue;
        }
        o[k++] = s[i++];
    }
    *used = i;
    j = string_node(p, o, k, line);
out:
    sodium_memzero(o, len * 2 + 4);
    free(o);
    return j;
}

static int
word_is(const char *s, size_t len, const char *const *words)
{
    for (; *words != NULL; words++)
        if (strlen(*words) == len && memcmp(s, *words, len) == 0)
            return 1;
    return 0;
}

/* A plain scalar: null, a boolean, an integer (that fits), or a string. */
static json_t *
plain(struct parser *p, const char *s, size_t len, int line)
{
    static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    char *copy;
    json_t *j;

    while (len > 0 && is_blank(s[len - 1]))
        len--;
    if (len == 0 || word_is(s, len, nulls))
        return noted(p, json_null(), line);
    if (word_is(s, len, trues))
        return noted(p, json_true(), line);
    if (word_is(s, len, falses))
        return noted(p, json_false(), line);
    if (strchr("&*!|>@`", s[0]) != NULL)
        return perr(p, line, "anchors, aliases, tags and block scalars are not supported", NULL),
               NULL;
    copy = malloc(len + 1);
    if (copy == NULL) {
        edr_err_set(p->err, EDR_E_INTERNAL, "%s:%d: out of memory", p->what, line);
        return NULL;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    size_t neg = copy[0] == '-';
    /* integers as YAML 1.2 writes them; "0755" stays text (YAML 1.1 read it as octal) */
    if (len <= 19 && len > neg && strspn(copy + neg, "0123456789") == len - neg &&
        (copy[neg] != '0' || len == neg + 1)) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(copy, &end, 10);
        if (errno == 0 && *end == '\0') {
            free(copy);
            return noted(p, json_integer(v), line);
        }
    }
    j = string_node(p, copy, len, line);
    sodium_memzero(copy, len);
    free(copy);
    return j;
}

/* -- flow collections ---------------------------------------------------- */

static size_t
skip_blanks(const char *s, size_t len, size_t i)
{
    while (i < len && is_blank(s[i]))
        i++;
    return i;
}

/* End of a plain scalar in flow context: at , [ ] { } or ": " */
static size_t
flow_plain_end(const char *s, size_t len, size_t i)
{
    while (i < len && strchr(",[]{}", s[i]) == NULL &&
           !(s[i] == ':' && (i + 1 == len || strchr(" \t,]}", s[i + 1]) != NULL)))
        i++;
    return i;
}

static json_t *flow(struct parser *p, const char *s, size_t len, size_t *i, int line);

static json_t *
flow_scalar(struct parser *p, const char *s, size_t len, size_t *i, int line)
{
    size_t used, e;

    if (*i < len && (s[*i] == '"' || s[*i] == '\'')) {
        json_t *j = quoted(p, s + *i, len - *i, line, &used);
        *i += used;
        return j;
    }
    if (*i < len && (s[*i] == '[' || s[*i] == '{'))
        return flow(p, s, len, i, line);
    e = flow_plain_end(s, len, *i);
    json_t *j = plain(p, s + *i, e - *i, line);
    *i = e;
    return j;
}

/* A flow collection starting at s[*i] ('[' or '{'); *i moves past it. */
static json_t *
flow(struct parser *p, const char *s, size_t len, size_t *i, int line)
{
    char close = s[*i] == '[' ? ']' : '}';
    json_t *c = noted(p, close == ']' ? json_array() : json_object(), line);

    if (c == NULL)
        return NULL;
    if (++p->depth > MAX_DEPTH) {
        perr(p, line, "nesting too deep", NULL);
        goto fail;
    }
    (*i)++;
    for (;;) {
        json_t *k = NULL, *v;

        *i = skip_blanks(s, len, *i);
        if (*i >= len) {
            perr(p, line, "flow collection not closed on its line", NULL);
            goto fail;
        }
        if (s[*i] == close) {
            (*i)++;
            break;
        }
        if (close == '}') {
            p->quiet = 1;
            k = flow_scalar(p, s, len, i, line);
            p->quiet = 0;
            if (k == NULL)
                goto fail;
            if (!json_is_string(k)) {
                json_t *t = NULL;
                if (json_is_integer(k))
                    t = json_sprintf("%lld", (long long)json_integer_value(k));
                else if (json_is_null(k))
                    t = json_string("");
                json_decref(k);
                k = t;
                if (k == NULL) {
                    perr(p, line, "a mapping key must be a scalar", NULL);
                    goto fail;
                }
            }
            *i = skip_blanks(s, len, *i);
            if (*i < len && s[*i] == ':') {
                *i = skip_blanks(s, len, *i + 1);
                if (*i < len && (s[*i] == ',' || s[*i] == '}'))
                    v = noted(p, json_null(), line);
                else
                    v = flow_scalar(p, s, len, i, line);
            } else {
                v = noted(p, json_null(), line);
            }
            if (v == NULL) {
                json_decref(k);
                goto fail;
            }
            if (json_object_get(c, json_string_value(k)) != NULL) {
                perr(p, line, "duplicate key", json_string_value(k));
                json_decref(k);
                json_decref(v);
                goto fail;
            }
            json_object_set_new(c, json_string_value(k), v);
            json_decref(k);
        } else {
            v = flow_scalar(p, s, len, i, line);
            if (v == NULL || json_array_append_new(c, v) != 0)
                goto fail;
        }
        *i = skip_blanks(s, len, *i);
        if (*i < len && s[*i] == ',') {
            (*i)++;
            continue;
        }
        if (*i < len && s[*i] == close) {
            (*i)++;
            break;
        }
        perr(p, line,
             *i >= len ? "flow collection not closed on its line"
                       : "expected ',' or the end of the flow collection",
             NULL);
        goto fail;
    }
    p->depth--;
    return c;
fail:
    json_decref(c);
    return NULL;
}

/* The value written on a line after "key:" or "- ": a scalar or a flow
 * collection, alone up to the end of the line. */
static json_t *
inline_value(struct parser *p, const char *s, size_t len, int line)
{
    size_t i = 0;
    json_t *j;

    if (s[0] == '"' || s[0] == '\'') {
        j = quoted(p, s, len, line, &i);
    } else if (s[0] == '[' || s[0] == '{') {
        j = flow(p, s, len, &i, line);
    } else {
        return plain(p, s, len, line);
    }
    if (j != NULL && skip_blanks(s, len, i) != len) {
        json_decref(j);
        perr(p, line, "unexpected text after a value", NULL);
        return NULL;
    }
    return j;
}

/* -- block structure ----------------------------------------------------- */

static int
is_item(const struct line *l)
{
    return l->s[0] == '-' && (l->len == 1 || l->s[1] == ' ');
}

/* Offset of the ':' that ends a mapping key on the line, or -1. */
static long
key_colon(const struct line *l)
{
    size_t i = 0;

    if (l->s[0] == '[' || l->s[0] == '{')
        return -1;
    if (l->s[0] == '"' || l->s[0] == '\'') {
        char q = l->s[0];
        for (i = 1; i < l->len; i++) {
            if (q == '"' && l->s[i] == '\\') {
                i++;
            } else if (l->s[i] == q) {
                if (q == '\'' && i + 1 < l->len && l->s[i + 1] == '\'') {
                    i++;
                    continue;
                }
                break;
            }
        }
        i = skip_blanks(l->s, l->len, i + 1);
        return i < l->len && l->s[i] == ':' && (i + 1 == l->len || is_blank(l->s[i + 1])) ? (long)i
                                                                                          : -1;
    }
    for (; i < l->len; i++)
        if (l->s[i] == ':' && (i + 1 == l->len || is_blank(l->s[i + 1])))
            return (long)i;
    return -1;
}

static json_t *block(struct parser *p);

static json_t *
block_seq(struct parser *p, int ind)
{
    json_t *a = noted(p, json_array(), p->ln[p->i].no);

    if (a == NULL)
        return NULL;
    while (p->i < p->n) {
        struct line *l = &p->ln[p->i];
        json_t *v;

        if (l->indent < ind || !is_item(l))
            break;
        if (l->indent > ind) {
            perr(p, l->no, "unexpected indentation", NULL);
            goto fail;
        }
        size_t off = skip_blanks(l->s, l->len, 1);
        if (off == l->len) {
            p->i++;
            if (p->i < p->n && p->ln[p->i].indent > ind)
                v = block(p);
            else
                v = noted(p, json_null(), l->no);
        } else {
            /* "- x": x is read as if its line started at its column */
            l->indent += (int)off;
            l->s += off;
            l->len -= off;
            v = block(p);
        }
        if (v == NULL || json_array_append_new(a, v) != 0)
            goto fail;
    }
    return a;
fail:
    json_decref(a);
    return NULL;
}

static json_t *
block_map(struct parser *p, int ind)
{
    json_t *m = noted(p, json_object(), p->ln[p->i].no);

    if (m == NULL)
        return NULL;
    while (p->i < p->n) {
        struct line *l = &p->ln[p->i];
        long colon;
        json_t *k, *v;
        size_t used = 0, r;

        if (l->indent < ind)
            break;
        if (l->indent > ind) {
            perr(p, l->no, "unexpected indentation", NULL);
            goto fail;
        }
        if (is_item(l)) {
            perr(p, l->no, "a sequence item where a mapping key was expected", NULL);
            goto fail;
        }
        colon = key_colon(l);
        if (colon < 0) {
            perr(p, l->no, "expected 'key: value'", NULL);
            goto fail;
        }
        p->quiet = 1;
        if (l->s[0] == '"' || l->s[0] == '\'')
            k = quoted(p, l->s, (size_t)colon, l->no, &used);
        else
            k = plain(p, l->s, (size_t)colon, l->no);
        p->quiet = 0;
        if (k == NULL)
            goto fail;
        if (!json_is_string(k)) {
            /* keys such as 1 or true: their text, as in JSON */
            json_t *t = json_stringn(l->s, (size_t)colon);
            json_decref(k);
            k = t;
            if (k == NULL) {
                perr(p, l->no, "a mapping key must be text", NULL);
                goto fail;
            }
        }
        if (json_object_get(m, json_string_value(k)) != NULL) {
            perr(p, l->no, "duplicate key", json_string_value(k));
            json_decref(k);
            goto fail;
        }
        r = skip_blanks(l->s, l->len, (size_t)colon + 1);
        p->i++;
        if (r < l->len) {
            v = inline_value(p, l->s + r, l->len - r, l->no);
        } else if (p->i < p->n && (p->ln[p->i].indent > ind ||
                                   (p->ln[p->i].indent == ind && is_item(&p->ln[p->i])))) {
            v = block(p);
        } else {
            v = noted(p, json_null(), l->no);
        }
        if (v == NULL) {
            json_decref(k);
            goto fail;
        }
        json_object_set_new(m, json_string_value(k), v);
        json_decref(k);
    }
    return m;
fail:
    json_decref(m);
    return NULL;
}

/* The node that starts at the current line. */
static json_t *
block(struct parser *p)
{
    struct line *l = &p->ln[p->i];
    json_t *j;

    if (++p->depth > MAX_DEPTH) {
        perr(p, l->no, "nesting too deep", NULL);
        return NULL;
    }
    if (is_item(l)) {
        j = block_seq(p, l->indent);
    } else if (key_colon(l) >= 0) {
        j = block_map(p, l->indent);
    } else {
        j = inline_value(p, l->s, l->len, l->no);
        p->i++;
        if (j != NULL && p->i < p->n && p->ln[p->i].indent > l->indent) {
            json_decref(j);
            perr(p, p->ln[p->i].no, "multi-line scalars are not supported", NULL);
            return NULL;
        }
    }
    p->depth--;
    return j;
}

edr_rc
edr_yaml_load(const char *text, size_t n, const char *what, struct edr_yaml_doc *doc,
              struct edr_err *err)
{
    struct parser p = {.what = what, .doc = doc, .err = err};
    edr_rc rc;

    memset(doc, 0, sizeof(*doc));
    if (sodium_init() < 0)
        return edr_err_set(err, EDR_E_INTERNAL, "libsodium failed to initialise");
    rc = split_lines(&p, text, n);
    if (rc != EDR_OK)
        goto out;
    if (p.n == 0) {
        rc = edr_err_set(err, EDR_E_CONFIG, "%s: empty document", what);
        goto out;
    }
    doc->root = block(&p);
    if (doc->root == NULL) {
        rc = err->code ? err->code : EDR_E_CONFIG;
        goto out;
    }
    if (p.i < p.n) {
        rc = perr(&p, p.ln[p.i].no, "unexpected text after the document's top level", NULL);
        goto out;
    }
out:
    free(p.ln);
    if (rc != EDR_OK)
        edr_yaml_release(doc);
    return rc;
}

int
edr_yaml_line(const struct edr_yaml_doc *doc, const json_t *node)
{
    for (size_t i = 0; node != NULL && i < doc->npos; i++)
        if (doc->pos[i].node == node)
            return doc->pos[i].line;
    return 0;
}

void
edr_yaml_release(struct edr_yaml_doc *doc)
{
    if (doc == NULL)
        return;
    json_decref(doc->root);
    free(doc->pos);
    memset(doc, 0, sizeof(*doc));
}
