/*
 * Kubernetes stored objects, decoded generically (see object.h). Field
 * numbers: k8s.io/apimachinery pkg/runtime/generated.proto (Unknown,
 * TypeMeta) and pkg/apis/meta/v1/generated.proto (ObjectMeta, Time,
 * OwnerReference).
 */
#include "k8s/object.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/pb.h"
#include "repo/manifest.h"

static const uint8_t PB_MAGIC[4] = {'k', '8', 's', 0};
static const char ENC_PREFIX[] = "k8s:enc:";

const char *
edr_k8s_format_name(enum edr_k8s_format f)
{
    switch (f) {
    case EDR_K8S_JSON:
        return "json";
    case EDR_K8S_PROTOBUF:
        return "protobuf";
    case EDR_K8S_ENCRYPTED:
        return "encrypted";
    default:
        return "unknown";
    }
}

static void
copy_str(char *dst, size_t cap, const void *src, size_t n)
{
    const uint8_t *s = src;
    size_t k = n < cap - 1 ? n : cap - 1;

    for (size_t i = 0; i < k; i++)
        dst[i] = s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i];
    dst[k] = '\0';
}

static void
fail(struct edr_k8s_object *o, const char *why)
{
    o->format = EDR_K8S_UNKNOWN;
    snprintf(o->error, sizeof(o->error), "%s", why);
}

/* -- encrypted ---------------------------------------------------------- */

/* "k8s:enc:<provider>:<version>:<key>:" then ciphertext */
static void
encrypted(const uint8_t *v, size_t n, struct edr_k8s_object *o)
{
    const uint8_t *p = v + sizeof(ENC_PREFIX) - 1, *end = v + n;
    char *fields[3] = {o->enc_provider, o->enc_version, o->enc_key};
    size_t caps[3] = {sizeof(o->enc_provider), sizeof(o->enc_version), sizeof(o->enc_key)};

    o->format = EDR_K8S_ENCRYPTED;
    for (int i = 0; i < 3; i++) {
        const uint8_t *c = memchr(p, ':', (size_t)(end - p));
        if (c == NULL) {
            fail(o, "encrypted value with a malformed prefix");
            return;
        }
        copy_str(fields[i], caps[i], p, (size_t)(c - p));
        p = c + 1;
    }
}

/* -- JSON --------------------------------------------------------------- */

static void
jstr(json_t *o, const char *k, char *dst, size_t cap)
{
    json_t *v = json_object_get(o, k);

    if (json_is_string(v))
        copy_str(dst, cap, json_string_value(v), json_string_length(v));
}

/* RFC 3339 "2026-12-03T11:52:28Z" (what the API server writes) */
static int64_t
jtime(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    time_t t;

    if (!json_is_string(v) || edr_time_parse_iso(json_string_value(v), &t) != 0)
        return 0;
    return (int64_t)t;
}

static void
from_json(const uint8_t *v, size_t n, struct edr_k8s_object *o)
{
    json_error_t je;
    json_t *root = json_loadb((const char *)v, n, 0, &je), *m, *x;

    if (!json_is_object(root)) {
        json_decref(root);
        fail(o, "a value starting with '{' that is not a JSON object");
        return;
    }
    o->format = EDR_K8S_JSON;
    jstr(root, "apiVersion", o->api_version, sizeof(o->api_version));
    jstr(root, "kind", o->kind, sizeof(o->kind));
    m = json_object_get(root, "metadata");
    if (json_is_object(m)) {
        jstr(m, "name", o->name, sizeof(o->name));
        jstr(m, "namespace", o->ns, sizeof(o->ns));
        jstr(m, "uid", o->uid, sizeof(o->uid));
        jstr(m, "resourceVersion", o->resource_version, sizeof(o->resource_version));
        if (json_is_integer(x = json_object_get(m, "generation")))
            o->generation = (int64_t)json_integer_value(x);
        o->created = jtime(m, "creationTimestamp");
        o->deleted = jtime(m, "deletionTimestamp");
        o->labels = json_object_size(json_object_get(m, "labels"));
        o->annotations = json_object_size(json_object_get(m, "annotations"));
        o->finalizers = json_array_size(json_object_get(m, "finalizers"));
        x = json_object_get(m, "ownerReferences");
        o->owners = json_array_size(x);
        if (o->owners > 0) {
            jstr(json_array_get(x, 0), "kind", o->owner_kind, sizeof(o->owner_kind));
            jstr(json_array_get(x, 0), "name", o->owner_name, sizeof(o->owner_name));
        }
    } else {
        snprintf(o->error, sizeof(o->error), "no metadata");
    }
    json_decref(root);
}

/* -- protobuf ----------------------------------------------------------- */

/* Walk the fields of a message; 0, or -1 when it is not well formed. */
#define EACH_FIELD(buf, len, f)                                                                    \
    for (const uint8_t *p_ = (buf), *e_ = (buf) + (len); p_ < e_;)                                 \
        if (edr_pb_next_as(&p_, e_, &(f), EDR_E_INTEGRITY, &perr) != EDR_OK) {                     \
            return -1;                                                                             \
        } else

static int
pb_time(const uint8_t *b, size_t n, int64_t *out)
{
    struct edr_pb_field f;
    struct edr_err perr;

    EACH_FIELD(b, n, f)
    {
        if (f.num == 1 && f.wire == EDR_PB_VARINT)
            *out = (int64_t)f.u;
    }
    return 0;
}

static int
pb_owner(const uint8_t *b, size_t n, struct edr_k8s_object *o)
{
    struct edr_pb_field f;
    struct edr_err perr;

    EACH_FIELD(b, n, f)
    {
        if (f.wire != EDR_PB_LEN)
            continue;
        if (f.num == 1)
            copy_str(o->owner_kind, sizeof(o->owner_kind), f.data, f.len);
        else if (f.num == 3)
            copy_str(o->owner_name, sizeof(o->owner_name), f.data, f.len);
    }
    return 0;
}

static int
pb_meta(const uint8_t *b, size_t n, struct edr_k8s_object *o)
{
    static const struct {
        uint32_t num;
        size_t off, cap;
    } strs[] = {
        {1, offsetof(struct edr_k8s_object, name), sizeof(o->name)},
        {3, offsetof(struct edr_k8s_object, ns), sizeof(o->ns)},
        {5, offsetof(struct edr_k8s_object, uid), sizeof(o->uid)},
        {6, offsetof(struct edr_k8s_object, resource_version), sizeof(o->resource_version)},
    };
    struct edr_pb_field f;
    struct edr_err perr;

    EACH_FIELD(b, n, f)
    {
        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
            if (f.num == strs[i].num && f.wire == EDR_PB_LEN)
                copy_str((char *)o + strs[i].off, strs[i].cap, f.data, f.len);
        if (f.num == 7 && f.wire == EDR_PB_VARINT)
            o->generation = (int64_t)f.u;
        else if (f.wire != EDR_PB_LEN)
            continue;
        else if (f.num == 8 && pb_time(f.data, f.len, &o->created) != 0)
            return -1;
        else if (f.num == 9 && pb_time(f.data, f.len, &o->deleted) != 0)
            return -1;
        else if (f.num == 11)
            o->labels++;
        else if (f.num == 12)
            o->annotations++;
        else if (f.num == 13 && o->owners++ == 0 && pb_owner(f.data, f.len, o) != 0)
            return -1;
        else if (f.num == 14)
            o->finalizers++;
    }
    return 0;
}

static int
pb_envelope(const uint8_t *b, size_t n, struct edr_k8s_object *o)
{
    struct edr_pb_field f, g;
    struct edr_err perr;
    int meta = 0;

    EACH_FIELD(b, n, f)
    {
        if (f.wire != EDR_PB_LEN)
            continue;
        if (f.num == 1) {
            EACH_FIELD(f.data, f.len, g)
            {
                if (g.wire != EDR_PB_LEN)
                    continue;
                if (g.num == 1)
                    copy_str(o->api_version, sizeof(o->api_version), g.data, g.len);
                else if (g.num == 2)
                    copy_str(o->kind, sizeof(o->kind), g.data, g.len);
            }
        } else if (f.num == 2) {
            /* the object: its field 1 is ObjectMeta */
            EACH_FIELD(f.data, f.len, g)
            {
                if (g.num == 1 && g.wire == EDR_PB_LEN && !meta) {
                    meta = 1;
                    if (pb_meta(g.data, g.len, o) != 0)
                        return -1;
                }
            }
        }
    }
    if (!meta)
        snprintf(o->error, sizeof(o->error), "no metadata");
    return 0;
}

void
edr_k8s_decode(const uint8_t *v, size_t n, struct edr_k8s_object *o)
{
    memset(o, 0, sizeof(*o));
    if (v == NULL || n == 0) {
        fail(o, "empty value");
    } else if (n >= sizeof(ENC_PREFIX) - 1 && memcmp(v, ENC_PREFIX, sizeof(ENC_PREFIX) - 1) == 0) {
        encrypted(v, n, o);
    } else if (n >= sizeof(PB_MAGIC) && memcmp(v, PB_MAGIC, sizeof(PB_MAGIC)) == 0) {
        o->format = EDR_K8S_PROTOBUF;
        if (pb_envelope(v + sizeof(PB_MAGIC), n - sizeof(PB_MAGIC), o) != 0) {
            char name[128], kind[128];
            memcpy(name, o->api_version, sizeof(name));
            memcpy(kind, o->kind, sizeof(kind));
            memset(o, 0, sizeof(*o));
            memcpy(o->api_version, name, sizeof(name));
            memcpy(o->kind, kind, sizeof(kind));
            fail(o, "damaged protobuf object");
        }
    } else if (v[0] == '{') {
        from_json(v, n, o);
    } else {
        fail(o, "neither JSON nor Kubernetes protobuf");
    }
}
