/*
 * Version and inherited-state checks before a restore (compat.h). The rule
 * is etcd's own: a member refuses data written by a newer minor version
 * (3.6's schema.Validate on meta/storageVersion, the downgrade check on
 * cluster/clusterVersion), so the newest version the data names must not be
 * above the target's. Patch releases never change the format.
 */
#include "restore/compat.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/bytes.h"
#include "common/pb.h"

/* an alarm key is an AlarmMember message: member id (1), alarm type (2); a
 * key we cannot read is not an alarm we know */
static int
on_alarm(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct edr_restore_facts *f = ud;
    const uint8_t *p = k, *end = kl > 0 ? k + kl : k;
    struct edr_pb_field fl;

    (void)v, (void)vl;
    while (p < end && edr_pb_next(&p, end, &fl, NULL) == EDR_OK) {
        if (fl.num != 2 || fl.wire != EDR_PB_VARINT)
            continue;
        if (fl.u == 1)
            f->alarm_nospace = 1;
        else if (fl.u == 2)
            f->alarm_corrupt = 1;
    }
    return 0;
}

static edr_rc
get_text(struct edr_bolt *b, const char *bucket, const char *key, char *dst, size_t cap,
         struct edr_err *err)
{
    uint8_t *v = NULL;
    size_t vl = 0;
    edr_rc rc = edr_bolt_get(b, bucket, strlen(bucket), key, strlen(key), &v, &vl, err);

    if (rc == EDR_E_NOTFOUND) {
        edr_err_clear(err);
        return EDR_OK;
    }
    if (rc == EDR_OK)
        edr_copy_text(dst, cap, v, vl);
    free(v);
    return rc;
}

edr_rc
edr_restore_facts_read(struct edr_bolt *b, struct edr_restore_facts *f, struct edr_err *err)
{
    char auth[4] = "", down[512] = "";
    edr_rc rc;

    memset(f, 0, sizeof(*f));
    if ((rc = get_text(b, "meta", "storageVersion", f->storage_version, sizeof(f->storage_version),
                       err)) != EDR_OK ||
        (rc = get_text(b, "cluster", "clusterVersion", f->cluster_version,
                       sizeof(f->cluster_version), err)) != EDR_OK ||
        (rc = get_text(b, "auth", "authEnabled", auth, sizeof(auth), err)) != EDR_OK ||
        (rc = get_text(b, "cluster", "downgrade", down, sizeof(down), err)) != EDR_OK)
        return rc;
    f->auth_enabled = auth[0] == 1;
    if (down[0] != '\0') {
        /* {"target-version":"3.5.0","enabled":true} */
        json_t *j = json_loads(down, 0, NULL);
        const char *t = json_string_value(json_object_get(j, "target-version"));
        if (json_is_true(json_object_get(j, "enabled")) && t != NULL)
            snprintf(f->downgrade_target, sizeof(f->downgrade_target), "%s", t);
        json_decref(j);
    }
    rc = edr_bolt_foreach(b, "alarm", 5, on_alarm, f, err);
    if (rc == EDR_E_NOTFOUND) {
        edr_err_clear(err);
        rc = EDR_OK;
    }
    return rc;
}

int
edr_restore_version_minor(const char *v)
{
    unsigned major, minor;
    char tail;

    if (v == NULL)
        return -1;
    if (*v == 'v')
        v++;
    if (sscanf(v, "%u.%u%c", &major, &minor, &tail) < 2 || major != 3 || minor > 99)
        return -1;
    return (int)minor;
}

int
edr_restore_data_minor(const struct edr_restore_facts *f)
{
    int s = edr_restore_version_minor(f->storage_version);
    int c = edr_restore_version_minor(f->cluster_version);

    return s > c ? s : c;
}

edr_rc
edr_restore_check_target(const struct edr_restore_facts *f, const char *target, struct edr_err *err)
{
    int t = edr_restore_version_minor(target);
    int d = edr_restore_data_minor(f);

    if (t < 0)
        return edr_err_set(err, EDR_E_USAGE, "invalid etcd version '%s' (want 3.x[.y])", target);
    if (d <= t)
        return EDR_OK;
    if (edr_restore_version_minor(f->storage_version) == d)
        edr_err_set(err, EDR_E_TARGET,
                    "backup holds etcd 3.%d data (storage version %s); etcd %s cannot start it", d,
                    f->storage_version, target);
    else
        edr_err_set(err, EDR_E_TARGET,
                    "backup holds etcd 3.%d data (cluster version %s); etcd %s cannot start it", d,
                    f->cluster_version, target);
    edr_err_hint(err,
                 "restore into etcd 3.%d or newer (etcd refuses data written by a newer "
                 "version)",
                 d);
    return EDR_E_TARGET;
}

size_t
edr_restore_inherited(const struct edr_restore_facts *f, const char *target, char lines[][256],
                      size_t max)
{
    size_t n = 0;
    int t = edr_restore_version_minor(target), d = edr_restore_data_minor(f);

    if (f->alarm_nospace && n < max)
        snprintf(lines[n++], 256,
                 "the backup holds a NOSPACE alarm: the restored cluster accepts no writes until "
                 "'etcdctl alarm disarm' (after making room: compact and defragment)");
    if (f->alarm_corrupt && n < max)
        snprintf(lines[n++], 256,
                 "the backup holds a CORRUPT alarm: the restored cluster serves no requests until "
                 "'etcdctl alarm disarm'; check the data first");
    if (f->downgrade_target[0] != '\0' && n < max)
        snprintf(lines[n++], 256,
                 "the backup was taken during a downgrade to %s: the restored cluster inherits it "
                 "('etcdctl downgrade cancel' to stop it)",
                 f->downgrade_target);
    if (t >= 0 && d >= 0 && t > d + 1 && n < max)
        snprintf(lines[n++], 256,
                 "etcd %s is more than one minor version newer than the backup's data (3.%d): "
                 "etcd supports upgrades one minor version at a time",
                 target, d);
    return n;
}
