/*
 * list: the complete backups of one cluster, oldest first.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "repo/repo.h"

const enum edr_opt_id edr_cmd_list_opts[] = {EDR_OPTS_REPO, EDR_O_JSON, EDR_O__COUNT};

json_t *edr_cmd_manifest_json(const struct edr_manifest *m);

json_t *
edr_cmd_manifest_json(const struct edr_manifest *m)
{
    char *s = NULL;
    json_t *o = NULL;
    struct edr_err err;

    if (edr_manifest_to_json(m, &s, &err) == EDR_OK)
        o = json_loads(s, 0, NULL);
    free(s);
    if (o != NULL && m->verified != 0) {
        char t[32];
        edr_time_iso(m->verify_time, t);
        json_object_set_new(o, "last_verify",
                            json_pack("{s:s, s:b, s:s}", "level", m->verify_level, "ok",
                                      m->verified > 0, "time", t));
    }
    return o;
}

edr_rc
edr_cmd_list(struct edr_ctx *ctx)
{
    struct edr_repo *repo = ctx->repo;
    struct edr_manifest *list = NULL;
    size_t n = 0;
    edr_rc rc;

    if ((rc = edr_repo_list(repo, &list, &n, &ctx->err)) != EDR_OK)
        goto out;
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, edr_cmd_manifest_json(&list[i]));
        edr_cmd_print_json(arr);
        goto out;
    }
    if (n == 0) {
        if (!ctx->quiet)
            printf("no backups for cluster '%s' in '%s'\n", repo->cluster, repo->st->url);
        goto out;
    }
    printf("%-28s %-20s %10s %-8s %10s %10s %-9s %s\n", "ID", "FINISHED", "REVISION", "ETCD", "DB",
           "STORED", "ENCRYPTED", "VERIFIED");
    for (size_t i = 0; i < n; i++) {
        char t[32], db[32], st[32];
        const struct edr_manifest *m = &list[i];
        edr_time_iso(m->finished, t);
        edr_fmt_bytes(m->db_size, db, sizeof(db));
        edr_fmt_bytes(m->stored_size, st, sizeof(st));
        printf("%-28s %-20s %10" PRId64 " %-8s %10s %10s %-9s %s%s%s\n", m->id, t, m->revision,
               m->etcd_version[0] ? m->etcd_version : "-", db, st, m->encrypted ? "yes" : "NO",
               m->verified == 0  ? "-"
               : m->verified > 0 ? "ok"
                                 : "FAIL",
               m->verified ? " " : "", m->verified ? m->verify_level : "");
    }
out:
    free(list);
    return rc;
}
