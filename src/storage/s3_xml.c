/*
 * A deliberately small XML reader for S3 responses. S3's documents are flat
 * and machine-made, so a recursive descent over elements with a depth limit
 * is enough; anything unexpected (unbalanced tags, unknown entities, a DTD,
 * input ending early) is an error rather than a guess, because a listing
 * misread silently could make retention delete the wrong backups.
 */
#include "common/buf.h"
#include "storage/s3_xml.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

struct parser {
    const char *buf;
    size_t len;
    size_t pos;
    struct edr_err *err;
};

static edr_rc
bad(struct parser *p, const char *why)
{
    return edr_err_set(p->err, EDR_E_REPO, "malformed xml at byte %zu: %s", p->pos, why);
}

static edr_rc
oom(struct parser *p)
{
    return edr_err_set(p->err, EDR_E_INTERNAL, "xml: out of memory");
}

static int
at(struct parser *p, const char *s)
{
    size_t n = strlen(s);
    return p->len - p->pos >= n && memcmp(p->buf + p->pos, s, n) == 0;
}

/* Skip to just after `end`; -1 if the input ends first. */
static int
skip_past(struct parser *p, const char *end)
{
    size_t n = strlen(end);
    while (p->len - p->pos >= n) {
        if (memcmp(p->buf + p->pos, end, n) == 0) {
            p->pos += n;
            return 0;
        }
        p->pos++;
    }
    p->pos = p->len;
    return -1;
}

static void
skip_space(struct parser *p)
{
    while (p->pos < p->len && isspace((unsigned char)p->buf[p->pos]))
        p->pos++;
}

static int
name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == ':' ||
           (unsigned char)c >= 0x80;
}

/* Append code point cp as UTF-8. */
static int
add_utf8(struct edr_buf *b, unsigned long cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return edr_buf_add(b, u, n);
}

/* At '&': decode one entity into b. */
static edr_rc
entity(struct parser *p, struct edr_buf *b)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t i;

    for (i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        if (at(p, named[i].name)) {
            p->pos += strlen(named[i].name);
            return edr_buf_add(b, &named[i].c, 1) == 0 ? EDR_OK : oom(p);
        }
    }
    if (at(p, "&#")) {
        size_t start = p->pos;
        int base = 10;
        unsigned long cp = 0;
        int digits = 0;

        p->pos += 2;
        if (p->pos < p->len && (p->buf[p->pos] == 'x' || p->buf[p->pos] == 'X')) {
            base = 16;
            p->pos++;
        }
        while (p->pos < p->len && p->buf[p->pos] != ';') {
            char c = p->buf[p->pos];
            int v;
            if (c >= '0' && c <= '9')
                v = c - '0';
            else if (base == 16 && isxdigit((unsigned char)c))
                v = tolower((unsigned char)c) - 'a' + 10;
            else
                break;
            cp = cp * (unsigned long)base + (unsigned long)v;
            if (cp > 0x10FFFF) {
                p->pos = start;
                return bad(p, "character reference out of range");
            }
            digits++;
            p->pos++;
        }
        if (p->pos >= p->len) {
            p->pos = start;
            return bad(p, "unexpected end of input in character reference");
        }
        if (p->buf[p->pos] != ';' || digits == 0 || cp == 0 || (cp >= 0xD800 && cp < 0xE000)) {
            p->pos = start;
            return bad(p, "invalid character reference");
        }
        p->pos++;
        return add_utf8(b, cp) == 0 ? EDR_OK : oom(p);
    }
    return bad(p, "unknown entity");
}

/* Skip comments, processing instructions and white space between elements
 * (prolog and epilog). A DOCTYPE is refused. */
static edr_rc
misc(struct parser *p)
{
    for (;;) {
        skip_space(p);
        if (at(p, "<?")) {
            if (skip_past(p, "?>") != 0)
                return bad(p, "unexpected end of input in processing instruction");
        } else if (at(p, "<!--")) {
            if (skip_past(p, "-->") != 0)
                return bad(p, "unexpected end of input in comment");
        } else if (at(p, "<!")) {
            return bad(p, "document type declarations are not supported");
        } else {
            return EDR_OK;
        }
    }
}

static edr_rc element(struct parser *p, int depth, struct edr_s3_xml **out);

/* Content of an element up to and including its end tag. */
static edr_rc
content(struct parser *p, int depth, struct edr_s3_xml *n, size_t name_len, const char *qname)
{
    struct edr_buf text = {0};
    struct edr_s3_xml **tail = &n->child;
    edr_rc rc = EDR_OK;

    for (;;) {
        if (p->pos >= p->len) {
            rc = bad(p, "unexpected end of input");
            goto out;
        }
        if (at(p, "</")) {
            p->pos += 2;
            if (p->len - p->pos < name_len || memcmp(p->buf + p->pos, qname, name_len) != 0 ||
                (p->pos + name_len < p->len && name_char(p->buf[p->pos + name_len]))) {
                rc = bad(p, "mismatched end tag");
                goto out;
            }
            p->pos += name_len;
            skip_space(p);
            if (p->pos >= p->len) {
                rc = bad(p, "unexpected end of input");
                goto out;
            }
            if (p->buf[p->pos] != '>') {
                rc = bad(p, "expected '>'");
                goto out;
            }
            p->pos++;
            break;
        } else if (at(p, "<!--")) {
            if (skip_past(p, "-->") != 0) {
                rc = bad(p, "unexpected end of input in comment");
                goto out;
            }
        } else if (at(p, "<![CDATA[")) {
            size_t start = p->pos + 9;
            p->pos = start;
            if (skip_past(p, "]]>") != 0) {
                rc = bad(p, "unexpected end of input in cdata");
                goto out;
            }
            if (edr_buf_add(&text, p->buf + start, p->pos - 3 - start) != 0) {
                rc = oom(p);
                goto out;
            }
        } else if (at(p, "<?")) {
            if (skip_past(p, "?>") != 0) {
                rc = bad(p, "unexpected end of input in processing instruction");
                goto out;
            }
        } else if (p->buf[p->pos] == '<') {
            rc = element(p, depth + 1, tail);
            if (rc != EDR_OK)
                goto out;
            tail = &(*tail)->next;
        } else if (p->buf[p->pos] == '&') {
            rc = entity(p, &text);
            if (rc != EDR_OK)
                goto out;
        } else {
            size_t start = p->pos;
            while (p->pos < p->len && p->buf[p->pos] != '<' && p->buf[p->pos] != '&')
                p->pos++;
            if (memchr(p->buf + start, '\0', p->pos - start) != NULL) {
                p->pos = start;
                rc = bad(p, "nul byte in text");
                goto out;
            }
            if (edr_buf_add(&text, p->buf + start, p->pos - start) != 0) {
                rc = oom(p);
                goto out;
            }
        }
    }
out:
    if (rc == EDR_OK) {
        n->text = text.data != NULL ? (char *)text.data : strdup("");
        if (n->text == NULL)
            return oom(p);
    } else {
        edr_buf_release(&text);
    }
    return rc;
}

static edr_rc
element(struct parser *p, int depth, struct edr_s3_xml **out)
{
    struct edr_s3_xml *n = NULL;
    size_t start, qlen;
    const char *qname, *local, *colon;
    edr_rc rc;

    *out = NULL;
    if (depth > MAX_DEPTH)
        return bad(p, "elements nested too deeply");
    if (p->pos >= p->len || p->buf[p->pos] != '<')
        return bad(p, "expected an element");
    p->pos++;
    start = p->pos;
    while (p->pos < p->len && name_char(p->buf[p->pos]))
        p->pos++;
    if (p->pos == start)
        return p->pos >= p->len ? bad(p, "unexpected end of input") : bad(p, "bad element name");
    qname = p->buf + start;
    qlen = p->pos - start;
    colon = memchr(qname, ':', qlen);
    local = colon != NULL ? colon + 1 : qname;
    n = calloc(1, sizeof(*n));
    if (n == NULL || (n->name = strndup(local, qlen - (size_t)(local - qname))) == NULL) {
        free(n);
        return oom(p);
    }
    *out = n;
    /* Attributes are skipped, but quoted values are honoured so a '>' inside
     * one does not end the tag. */
    for (;;) {
        if (p->pos >= p->len)
            return bad(p, "unexpected end of input in tag");
        char c = p->buf[p->pos];
        if (c == '"' || c == '\'') {
            const char *q = memchr(p->buf + p->pos + 1, c, p->len - p->pos - 1);
            if (q == NULL) {
                p->pos = p->len;
                return bad(p, "unexpected end of input in attribute");
            }
            p->pos = (size_t)(q - p->buf) + 1;
        } else if (c == '/') {
            if (p->pos + 1 >= p->len)
                return bad(p, "unexpected end of input in tag");
            if (p->buf[p->pos + 1] != '>')
                return bad(p, "expected '>'");
            p->pos += 2;
            n->text = strdup("");
            return n->text != NULL ? EDR_OK : oom(p);
        } else if (c == '>') {
            p->pos++;
            break;
        } else if (c == '<') {
            return bad(p, "'<' inside a tag");
        } else {
            p->pos++;
        }
    }
    rc = content(p, depth, n, qlen, qname);
    return rc;
}

edr_rc
edr_s3_xml_parse(const char *buf, size_t len, struct edr_s3_xml **out, struct edr_err *err)
{
    struct parser p = {buf, len, 0, err};
    struct edr_s3_xml *root = NULL;
    edr_rc rc;

    *out = NULL;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        p.pos = 3;
    rc = misc(&p);
    if (rc != EDR_OK)
        return rc;
    if (p.pos >= p.len)
        return bad(&p, "no root element");
    rc = element(&p, 0, &root);
    if (rc == EDR_OK)
        rc = misc(&p);
    if (rc == EDR_OK && p.pos < p.len)
        rc = bad(&p, "content after the root element");
    if (rc != EDR_OK) {
        edr_s3_xml_free(root);
        return rc;
    }
    *out = root;
    return EDR_OK;
}

void
edr_s3_xml_free(struct edr_s3_xml *n)
{
    while (n != NULL) {
        struct edr_s3_xml *next = n->next;
        edr_s3_xml_free(n->child);
        free(n->name);
        free(n->text);
        free(n);
        n = next;
    }
}

const struct edr_s3_xml *
edr_s3_xml_child(const struct edr_s3_xml *n, const char *name)
{
    const struct edr_s3_xml *c;

    if (n == NULL)
        return NULL;
    for (c = n->child; c != NULL; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

const char *
edr_s3_xml_child_text(const struct edr_s3_xml *n, const char *name)
{
    const struct edr_s3_xml *c = edr_s3_xml_child(n, name);
    return c != NULL ? c->text : NULL;
}

int
edr_s3_time_parse(const char *s, time_t *out)
{
    struct tm tm;
    const char *e;

    memset(&tm, 0, sizeof(tm));
    e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (e == NULL)
        return -1;
    if (*e == '.') {
        e++;
        if (!isdigit((unsigned char)*e))
            return -1;
        while (isdigit((unsigned char)*e))
            e++;
    }
    if (strcmp(e, "Z") != 0 && strcmp(e, "+00:00") != 0)
        return -1;
    *out = timegm(&tm);
    return 0;
}

static void
copy_trunc(char *dst, size_t dstsz, const char *src)
{
    size_t n;

    if (dstsz == 0)
        return;
    n = strlen(src);
    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int
edr_s3_xml_error(const char *buf, size_t len, char *code, size_t codesz, char *msg, size_t msgsz)
{
    struct edr_s3_xml *root = NULL;
    const char *c, *m;
    struct edr_err err;

    if (edr_s3_xml_parse(buf, len, &root, &err) != EDR_OK)
        return -1;
    c = edr_s3_xml_child_text(root, "Code");
    m = edr_s3_xml_child_text(root, "Message");
    if (strcmp(root->name, "Error") != 0 || c == NULL) {
        edr_s3_xml_free(root);
        return -1;
    }
    copy_trunc(code, codesz, c);
    copy_trunc(msg, msgsz, m != NULL ? m : "");
    edr_s3_xml_free(root);
    return 0;
}

static edr_rc
parse_root(const char *buf, size_t len, const char *want, struct edr_s3_xml **root,
           struct edr_err *err)
{
    edr_rc rc = edr_s3_xml_parse(buf, len, root, err);

    if (rc != EDR_OK)
        return rc;
    if (strcmp((*root)->name, want) != 0) {
        rc = edr_err_set(err, EDR_E_REPO, "unexpected xml document <%.64s>, wanted <%s>",
                         (*root)->name, want);
        edr_s3_xml_free(*root);
        *root = NULL;
    }
    return rc;
}

static int
parse_bool(const char *s, int *out)
{
    if (s == NULL || strcmp(s, "false") == 0) {
        *out = 0;
        return 0;
    }
    if (strcmp(s, "true") == 0) {
        *out = 1;
        return 0;
    }
    return -1;
}

static int
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

edr_rc
edr_s3_xml_list_objects(const char *buf, size_t len, struct edr_s3_list_page *page,
                        struct edr_err *err)
{
    struct edr_s3_xml *root = NULL;
    const struct edr_s3_xml *c;
    const char *tok;
    size_t cap = 0;
    edr_rc rc;

    memset(page, 0, sizeof(*page));
    rc = parse_root(buf, len, "ListBucketResult", &root, err);
    if (rc != EDR_OK)
        return rc;
    if (parse_bool(edr_s3_xml_child_text(root, "IsTruncated"), &page->truncated) != 0) {
        rc = edr_err_set(err, EDR_E_REPO, "list objects: bad IsTruncated");
        goto out;
    }
    for (c = root->child; c != NULL; c = c->next) {
        const char *key, *size, *mod;
        struct edr_s3_object *o;

        if (strcmp(c->name, "Contents") != 0)
            continue;
        key = edr_s3_xml_child_text(c, "Key");
        size = edr_s3_xml_child_text(c, "Size");
        mod = edr_s3_xml_child_text(c, "LastModified");
        if (key == NULL || *key == '\0') {
            rc = edr_err_set(err, EDR_E_REPO, "list objects: entry %zu has no key", page->n);
            goto out;
        }
        if (page->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct edr_s3_object *p = realloc(page->objs, ncap * sizeof(*p));
            if (p == NULL) {
                rc = edr_err_set(err, EDR_E_INTERNAL, "list objects: out of memory");
                goto out;
            }
            page->objs = p;
            cap = ncap;
        }
        o = &page->objs[page->n];
        memset(o, 0, sizeof(*o));
        if (parse_u64(size, &o->size) != 0) {
            rc = edr_err_set(err, EDR_E_REPO, "list objects: '%s': bad size", key);
            goto out;
        }
        if (mod != NULL && edr_s3_time_parse(mod, &o->mtime) != 0) {
            rc = edr_err_set(err, EDR_E_REPO, "list objects: '%s': bad time '%.40s'", key, mod);
            goto out;
        }
        o->key = strdup(key);
        if (o->key == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "list objects: out of memory");
            goto out;
        }
        page->n++;
    }
    tok = edr_s3_xml_child_text(root, "NextContinuationToken");
    if (page->truncated) {
        if (tok == NULL || *tok == '\0') {
            rc = edr_err_set(err, EDR_E_REPO,
                             "list objects: truncated listing without a continuation token");
            goto out;
        }
        page->next_token = strdup(tok);
        if (page->next_token == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "list objects: out of memory");
            goto out;
        }
    }
out:
    edr_s3_xml_free(root);
    if (rc != EDR_OK)
        edr_s3_list_page_release(page);
    return rc;
}

void
edr_s3_list_page_release(struct edr_s3_list_page *page)
{
    size_t i;

    if (page == NULL)
        return;
    for (i = 0; i < page->n; i++)
        free(page->objs[i].key);
    free(page->objs);
    free(page->next_token);
    memset(page, 0, sizeof(*page));
}

edr_rc
edr_s3_xml_list_uploads(const char *buf, size_t len, struct edr_s3_upload_page *page,
                        struct edr_err *err)
{
    struct edr_s3_xml *root = NULL;
    const struct edr_s3_xml *c;
    const char *nk, *nu;
    size_t cap = 0;
    edr_rc rc;

    memset(page, 0, sizeof(*page));
    rc = parse_root(buf, len, "ListMultipartUploadsResult", &root, err);
    if (rc != EDR_OK)
        return rc;
    if (parse_bool(edr_s3_xml_child_text(root, "IsTruncated"), &page->truncated) != 0) {
        rc = edr_err_set(err, EDR_E_REPO, "list uploads: bad IsTruncated");
        goto out;
    }
    for (c = root->child; c != NULL; c = c->next) {
        const char *key, *id, *ini;
        struct edr_s3_upload *u;

        if (strcmp(c->name, "Upload") != 0)
            continue;
        key = edr_s3_xml_child_text(c, "Key");
        id = edr_s3_xml_child_text(c, "UploadId");
        ini = edr_s3_xml_child_text(c, "Initiated");
        if (key == NULL || id == NULL || *id == '\0' || ini == NULL) {
            rc = edr_err_set(err, EDR_E_REPO, "list uploads: entry %zu incomplete", page->n);
            goto out;
        }
        if (page->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct edr_s3_upload *p = realloc(page->ups, ncap * sizeof(*p));
            if (p == NULL) {
                rc = edr_err_set(err, EDR_E_INTERNAL, "list uploads: out of memory");
                goto out;
            }
            page->ups = p;
            cap = ncap;
        }
        u = &page->ups[page->n];
        memset(u, 0, sizeof(*u));
        if (edr_s3_time_parse(ini, &u->initiated) != 0) {
            rc = edr_err_set(err, EDR_E_REPO, "list uploads: '%s': bad time '%.40s'", key, ini);
            goto out;
        }
        u->key = strdup(key);
        u->upload_id = strdup(id);
        page->n++;
        if (u->key == NULL || u->upload_id == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "list uploads: out of memory");
            goto out;
        }
    }
    if (page->truncated) {
        nk = edr_s3_xml_child_text(root, "NextKeyMarker");
        nu = edr_s3_xml_child_text(root, "NextUploadIdMarker");
        if (nk == NULL || *nk == '\0') {
            rc = edr_err_set(err, EDR_E_REPO, "list uploads: truncated listing without a marker");
            goto out;
        }
        page->next_key_marker = strdup(nk);
        page->next_upload_id_marker = strdup(nu != NULL ? nu : "");
        if (page->next_key_marker == NULL || page->next_upload_id_marker == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "list uploads: out of memory");
            goto out;
        }
    }
out:
    edr_s3_xml_free(root);
    if (rc != EDR_OK)
        edr_s3_upload_page_release(page);
    return rc;
}

void
edr_s3_upload_page_release(struct edr_s3_upload_page *page)
{
    size_t i;

    if (page == NULL)
        return;
    for (i = 0; i < page->n; i++) {
        free(page->ups[i].key);
        free(page->ups[i].upload_id);
    }
    free(page->ups);
    free(page->next_key_marker);
    free(page->next_upload_id_marker);
    memset(page, 0, sizeof(*page));
}

edr_rc
edr_s3_xml_upload_id(const char *buf, size_t len, char **upload_id, struct edr_err *err)
{
    struct edr_s3_xml *root = NULL;
    const char *id;
    edr_rc rc;

    *upload_id = NULL;
    rc = parse_root(buf, len, "InitiateMultipartUploadResult", &root, err);
    if (rc != EDR_OK)
        return rc;
    id = edr_s3_xml_child_text(root, "UploadId");
    if (id == NULL || *id == '\0')
        rc = edr_err_set(err, EDR_E_REPO, "initiate multipart upload: no UploadId in the answer");
    else if ((*upload_id = strdup(id)) == NULL)
        rc = edr_err_set(err, EDR_E_INTERNAL, "initiate multipart upload: out of memory");
    edr_s3_xml_free(root);
    return rc;
}
