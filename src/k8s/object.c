/*
 * Kubernetes stored objects, decoded generically (see object.h). Field
 * numbers: k8s.io/apimachinery pkg/runtime/generated.proto (Unknown: 1
 * typeMeta, 2 raw, 3 contentEncoding, 4 contentType; TypeMeta: 1 apiVersion,
 * 2 kind) and pkg/apis/meta/v1/generated.proto (ObjectMeta: 1 name, 2
 * generateName, 3 namespace, 4 selfLink, 5 uid, 6 resourceVersion, 7
 * generation, 8 creationTimestamp, 9 deletionTimestamp, 10
 * deletionGracePeriodSeconds, 11 labels, 12 annotations (maps: entries of 1
 * key, 2 value), 13 ownerReferences, 14 finalizers, 17 managedFields; Time:
 * 1 seconds, 2 nanos; OwnerReference: 5 apiVersion, 1 kind, 3 name, 4 uid, 6
 * controller, 7 blockOwnerDeletion).
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

int
edr_k8s_peek_encrypted(const uint8_t *v, size_t n, struct edr_k8s_object *o)
{
    memset(o, 0, sizeof(*o));
    if (v == NULL || n < sizeof(ENC_PREFIX) - 1 ||
        memcmp(v, ENC_PREFIX, sizeof(ENC_PREFIX) - 1) != 0)
        return 0;
    encrypted(v, n, o);
    return o->format == EDR_K8S_ENCRYPTED;
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

/* -- the object as JSON (get --k8s) -------------------------------------- */

/* What a protobuf object's metadata becomes, and why not. */
struct mj {
    json_t *m; /* fields by name, in the order seen */
    char why[96];
};

static int
mj_fail(struct mj *c, const char *why)
{
    if (c->why[0] == '\0')
        snprintf(c->why, sizeof(c->why), "%s", why);
    return -1;
}

static json_t *
pb_string(struct mj *c, const struct edr_pb_field *f, const char *what)
{
    json_t *s;

    if (f->wire != EDR_PB_LEN) {
        mj_fail(c, what);
        return NULL;
    }
    s = json_stringn((const char *)f->data, f->len);
    if (s == NULL)
        mj_fail(c, what);
    return s;
}

/* Go's zero time.Time as Unix seconds: what a Time that was never set
 * holds on the wire */
#define GO_ZERO_TIME (-62135596800LL)

/* Time {1 seconds, 2 nanos} as the API server prints it: RFC 3339, UTC,
 * whole seconds; the zero time as null */
static json_t *
pb_time_json(struct mj *c, const struct edr_pb_field *f, const char *what)
{
    int64_t secs = 0;
    char iso[32];

    if (f->wire != EDR_PB_LEN || pb_time(f->data, f->len, &secs) != 0 || secs < GO_ZERO_TIME ||
        secs > 253402300799LL) {
        mj_fail(c, what);
        return NULL;
    }
    if (f->len == 0 || secs == GO_ZERO_TIME)
        return json_null();
    edr_time_iso((time_t)secs, iso);
    return iso[0] != '\0' ? json_string(iso) : (mj_fail(c, what), NULL);
}

/* One map<string, string> entry {1 key, 2 value} into the object `name` of c->m. */
static int
pb_map_entry(struct mj *c, const char *name, const struct edr_pb_field *e)
{
    struct edr_pb_field f;
    struct edr_err perr;
    const uint8_t *k = NULL, *v = NULL;
    size_t kl = 0, vl = 0;
    json_t *obj = json_object_get(c->m, name), *js;
    char *key;
    int r;

    if (e->wire != EDR_PB_LEN)
        return mj_fail(c, name);
    EACH_FIELD(e->data, e->len, f)
    {
        if (f.wire == EDR_PB_LEN && f.num == 1)
            k = f.data, kl = f.len;
        else if (f.wire == EDR_PB_LEN && f.num == 2)
            v = f.data, vl = f.len;
    }
    if (obj == NULL) {
        if (json_object_set_new(c->m, name, obj = json_object()) != 0)
            return mj_fail(c, "out of memory");
    }
    if (k != NULL && memchr(k, '\0', kl) != NULL)
        return mj_fail(c, name);
    key = strndup(k != NULL ? (const char *)k : "", kl);
    js = json_stringn(v != NULL ? (const char *)v : "", vl);
    r = key != NULL && js != NULL ? json_object_set_new(obj, key, js) : (json_decref(js), -1);
    free(key);
    return r == 0 ? 0 : mj_fail(c, name);
}

static json_t *
pb_owner_json(struct mj *c, const struct edr_pb_field *e)
{
    static const struct {
        uint32_t num;
        const char *name;
    } order[] = {{5, "apiVersion"}, {1, "kind"}, {3, "name"}, {4, "uid"}};
    struct edr_pb_field f;
    struct edr_err perr;
    json_t *o = json_object(), *x[4] = {NULL, NULL, NULL, NULL}, *flag[2] = {NULL, NULL};
    int bad = e->wire != EDR_PB_LEN || o == NULL;

    for (const uint8_t *p = bad ? NULL : e->data, *end = bad ? NULL : e->data + e->len; p < end;) {
        if (edr_pb_next_as(&p, end, &f, EDR_E_INTEGRITY, &perr) != EDR_OK) {
            bad = 1;
            break;
        }
        for (size_t i = 0; i < 4; i++)
            if (f.num == order[i].num) {
                json_decref(x[i]);
                if ((x[i] = pb_string(c, &f, "metadata.ownerReferences")) == NULL)
                    bad = 1;
            }
        if ((f.num == 6 || f.num == 7) && f.wire == EDR_PB_VARINT) {
            json_decref(flag[f.num - 6]);
            flag[f.num - 6] = json_boolean(f.u != 0);
        }
    }
    for (size_t i = 0; i < 4; i++)
        if (x[i] != NULL && !bad)
            json_object_set_new(o, order[i].name, x[i]), x[i] = NULL;
    if (flag[0] != NULL && !bad)
        json_object_set_new(o, "controller", flag[0]), flag[0] = NULL;
    if (flag[1] != NULL && !bad)
        json_object_set_new(o, "blockOwnerDeletion", flag[1]), flag[1] = NULL;
    for (size_t i = 0; i < 4; i++)
        json_decref(x[i]);
    json_decref(flag[0]);
    json_decref(flag[1]);
    if (bad) {
        json_decref(o);
        mj_fail(c, "metadata.ownerReferences");
        return NULL;
    }
    return o;
}

/* Appends v (stolen) to the array `name` of c->m. */
static int
mj_append(struct mj *c, const char *name, json_t *v)
{
    json_t *a = json_object_get(c->m, name);

    if (v == NULL)
        return -1;
    if (a == NULL && json_object_set_new(c->m, name, a = json_array()) != 0) {
        json_decref(v);
        return mj_fail(c, "out of memory");
    }
    return json_array_append_new(a, v) == 0 ? 0 : mj_fail(c, "out of memory");
}

static int
mj_set(struct mj *c, const char *name, json_t *v)
{
    if (v == NULL)
        return -1;
    return json_object_set_new(c->m, name, v) == 0 ? 0 : mj_fail(c, "out of memory");
}

static int
pb_meta_json(const uint8_t *b, size_t n, struct mj *c)
{
    static const char *const strs[] = {
        NULL, "name", "generateName", "namespace", NULL /* selfLink */, "uid"};
    struct edr_pb_field f;
    struct edr_err perr;
    char what[64];

    EACH_FIELD(b, n, f)
    {
        int r = 0;
        /* the API server leaves out empty strings and a zero generation
         * (omitempty) but keeps a deletionGracePeriodSeconds of 0 (a pointer) */
        if (f.num < sizeof(strs) / sizeof(strs[0]) && strs[f.num] != NULL) {
            snprintf(what, sizeof(what), "metadata.%s", strs[f.num]);
            if (f.wire != EDR_PB_LEN || f.len > 0)
                r = mj_set(c, strs[f.num], pb_string(c, &f, what));
            else
                json_object_del(c->m, strs[f.num]);
        } else if (f.num == 7 && f.wire == EDR_PB_VARINT) {
            if (f.u != 0)
                r = mj_set(c, "generation", json_integer((json_int_t)(int64_t)f.u));
            else
                json_object_del(c->m, "generation");
        } else if (f.num == 10 && f.wire == EDR_PB_VARINT) {
            r = mj_set(c, "deletionGracePeriodSeconds", json_integer((json_int_t)(int64_t)f.u));
        } else if (f.num == 8 || f.num == 9) {
            const char *name = f.num == 8 ? "creationTimestamp" : "deletionTimestamp";
            snprintf(what, sizeof(what), "metadata.%s", name);
            r = mj_set(c, name, pb_time_json(c, &f, what));
        } else if (f.num == 11 || f.num == 12) {
            r = pb_map_entry(c, f.num == 11 ? "labels" : "annotations", &f);
        } else if (f.num == 13) {
            r = mj_append(c, "ownerReferences", pb_owner_json(c, &f));
        } else if (f.num == 14) {
            r = mj_append(c, "finalizers", pb_string(c, &f, "metadata.finalizers"));
        }
        if (r != 0)
            return -1;
    }
    return 0;
}

/* The metadata of c->m in the order the API server prints it, with rv. */
static json_t *
meta_ordered(json_t *m, int64_t rv)
{
    static const char *const order[] = {"name",
                                        "generateName",
                                        "namespace",
                                        "uid",
                                        "resourceVersion",
                                        "generation",
                                        "creationTimestamp",
                                        "deletionTimestamp",
                                        "deletionGracePeriodSeconds",
                                        "labels",
                                        "annotations",
                                        "ownerReferences",
                                        "finalizers"};
    json_t *o = json_object();
    char rvs[32];

    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        json_t *v = json_object_get(m, order[i]);
        if (strcmp(order[i], "resourceVersion") == 0 && rv > 0) {
            snprintf(rvs, sizeof(rvs), "%lld", (long long)rv);
            v = json_string(rvs);
        } else {
            json_incref(v);
        }
        if (v != NULL && json_object_set_new(o, order[i], v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static edr_rc
protobuf_json(const uint8_t *v, size_t n, int64_t rv, json_t **out, struct edr_err *err)
{
    struct edr_pb_field f, g;
    struct edr_err perr;
    const uint8_t *p, *end = v + n;
    struct mj c;
    json_t *tm = json_object(), *meta = NULL;
    size_t rest = 0;
    int seen = 0;
    edr_rc rc = EDR_OK;

    memset(&c, 0, sizeof(c));
    c.m = json_object();
    if (tm == NULL || c.m == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    for (p = v + sizeof(PB_MAGIC); p < end;) {
        if (edr_pb_next_as(&p, end, &f, EDR_E_INTEGRITY, &perr) != EDR_OK)
            goto damaged;
        if (f.num == 1 && f.wire == EDR_PB_LEN) {
            for (const uint8_t *q = f.data, *qe = f.data + f.len; q < qe;) {
                if (edr_pb_next_as(&q, qe, &g, EDR_E_INTEGRITY, &perr) != EDR_OK)
                    goto damaged;
                if (g.num == 1 || g.num == 2) {
                    const char *name = g.num == 1 ? "apiVersion" : "kind";
                    json_t *x = pb_string(&c, &g, name);
                    if (x == NULL || json_object_set_new(tm, name, x) != 0)
                        goto damaged;
                }
            }
        } else if (f.num == 2 && f.wire == EDR_PB_LEN) {
            /* the object: field 1 its ObjectMeta, the rest undecoded */
            rest += f.len;
            for (const uint8_t *q = f.data, *qe = f.data + f.len, *q0; q < qe;) {
                q0 = q;
                if (edr_pb_next_as(&q, qe, &g, EDR_E_INTEGRITY, &perr) != EDR_OK)
                    goto damaged;
                if (g.num == 1 && g.wire == EDR_PB_LEN && !seen) {
                    seen = 1;
                    rest -= (size_t)(q - q0);
                    if (pb_meta_json(g.data, g.len, &c) != 0)
                        goto damaged;
                }
            }
        }
    }
    if (!seen) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "damaged protobuf object: no metadata");
        goto out;
    }
    if ((meta = meta_ordered(c.m, rv)) == NULL || json_object_set_new(tm, "metadata", meta) != 0 ||
        json_object_set_new(
            tm, "undecoded",
            json_pack("{s:s, s:I}", "encoding", "protobuf", "bytes", (json_int_t)rest)) != 0) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    *out = tm;
    tm = NULL;
    goto out;
damaged:
    rc = edr_err_set(err, EDR_E_INTEGRITY, "damaged protobuf object%s%s", c.why[0] ? ": " : "",
                     c.why);
out:
    json_decref(c.m);
    json_decref(tm);
    return rc;
}

/* A JSON-stored object as it is, metadata.resourceVersion set to rv (after
 * uid, where the API server prints it). */
static edr_rc
json_json(const uint8_t *v, size_t n, int64_t rv, json_t **out, struct edr_err *err)
{
    json_error_t je;
    json_t *root = json_loadb((const char *)v, n, 0, &je), *m, *nm, *x;
    const char *k;
    char rvs[32];
    int placed = 0;

    if (!json_is_object(root)) {
        json_decref(root);
        return edr_err_set(err, EDR_E_INTEGRITY, "not a Kubernetes object: %s",
                           root == NULL ? je.text : "JSON but not an object");
    }
    m = json_object_get(root, "metadata");
    if (json_is_object(m) && rv > 0) {
        snprintf(rvs, sizeof(rvs), "%lld", (long long)rv);
        if ((nm = json_object()) == NULL)
            goto oom;
        json_object_foreach(m, k, x)
        {
            if (strcmp(k, "resourceVersion") == 0)
                continue;
            if (json_object_set(nm, k, x) != 0 ||
                (strcmp(k, "uid") == 0 &&
                 json_object_set_new(nm, "resourceVersion", json_string(rvs)) != 0)) {
                json_decref(nm);
                goto oom;
            }
            placed |= strcmp(k, "uid") == 0;
        }
        if ((!placed && json_object_set_new(nm, "resourceVersion", json_string(rvs)) != 0) ||
            json_object_set_new(root, "metadata", nm) != 0)
            goto oom;
    }
    *out = root;
    return EDR_OK;
oom:
    json_decref(root);
    return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
}

edr_rc
edr_k8s_object_json(const uint8_t *v, size_t n, int64_t rv, json_t **out, struct edr_err *err)
{
    struct edr_k8s_object o;

    *out = NULL;
    if (edr_k8s_peek_encrypted(v, n, &o))
        return edr_err_set(err, EDR_E_INTEGRITY, "encrypted at rest with %s:%s", o.enc_provider,
                           o.enc_key);
    if (v != NULL && n >= sizeof(PB_MAGIC) && memcmp(v, PB_MAGIC, sizeof(PB_MAGIC)) == 0)
        return protobuf_json(v, n, rv, out, err);
    if (v != NULL && n > 0 && v[0] == '{')
        return json_json(v, n, rv, out, err);
    edr_k8s_decode(v, n, &o);
    return edr_err_set(err, EDR_E_INTEGRITY, "not a Kubernetes object: %s", o.error);
}
