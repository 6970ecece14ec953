/*
 * Test driver for the S3 backend, used by tests/integration/t0500-s3-storage.sh
 * until the etcd-dr CLI covers the same ground. One operation per run:
 *   s3_driver [-e ENDPOINT] [-p PART_SIZE] [-P] [-s SECRET_FILE] [-d DELAY_MS] URL CMD ARGS...
 *   put NAME FILE [EXPECTED_SIZE [CHUNK]]   upload FILE in CHUNK-byte writes, DELAY_MS apart
 *   putabort NAME FILE                      write FILE, then free without finish
 *   putleak NAME FILE                       write FILE, then exit (an abandoned upload)
 *   get NAME OUTFILE [OFFSET]               download (from OFFSET) into OUTFILE
 *   list PREFIX                             "name size" lines, sorted by the caller
 *   stat NAME | del NAME
 *   lock NAME OWNER WAIT_S TTL_S HOLD_S     take, hold HOLD_S seconds, release
 *   lockleak NAME OWNER TTL_S               take and exit without releasing
 *   lockput LOCK OWNER TTL_S NAME FILE      take LOCK, upload FILE in 100000-byte
 *                                           writes DELAY_MS apart, release
 *   cleanup PREFIX AGE_S
 * Errors go to stderr as "error: MESSAGE" (and "hint: ..."); the exit status
 * is the error code. SIGTERM stops the backend like it stops etcd-dr
 * (edr_storage_opts.interrupted).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "storage/s3.h"
#include "storage/storage.h"

static volatile sig_atomic_t got_term;
static unsigned delay_ms; /* between two writes of an upload */

static void
on_term(int sig)
{
    got_term = sig;
}

static int
stop_requested(void)
{
    return got_term != 0;
}

struct out_sink {
    struct edr_stream base;
    FILE *f;
};

static edr_rc
sink_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct out_sink *o = (struct out_sink *)s;
    if (fwrite(buf, 1, len, o->f) != len)
        return edr_err_set(err, EDR_E_IO, "write failed");
    return EDR_OK;
}

static edr_rc
sink_finish(struct edr_stream *s, struct edr_err *err)
{
    (void)s;
    (void)err;
    return EDR_OK;
}

static void
sink_free(struct edr_stream *s)
{
    (void)s;
}

static const struct edr_stream_ops sink_ops = {"file", sink_write, sink_finish, sink_free};

static int
print_entry(const struct edr_storage_entry *e, void *ud)
{
    (void)ud;
    printf("%s %llu\n", e->name, (unsigned long long)e->size);
    return 0;
}

static edr_rc
do_put(struct edr_storage *st, const char *name, const char *file, uint64_t expected, size_t chunk,
       int finish, struct edr_err *err)
{
    struct edr_stream *w = NULL;
    FILE *f = fopen(file, "rb");
    char *buf = malloc(chunk);
    size_t n;
    edr_rc rc;

    if (f == NULL || buf == NULL) {
        rc = edr_err_set(err, EDR_E_IO, "cannot open '%s'", file);
        goto out;
    }
    rc = st->ops->put_open(st, name, expected, &w, err);
    while (rc == EDR_OK && (n = fread(buf, 1, chunk, f)) > 0) {
        rc = edr_stream_write(w, buf, n, err);
        if (delay_ms > 0)
            usleep(delay_ms * 1000);
    }
    if (rc == EDR_OK && finish)
        rc = edr_stream_finish(w, err);
out:
    edr_stream_free(w);
    if (f != NULL)
        fclose(f);
    free(buf);
    return rc;
}

int
main(int argc, char **argv)
{
    struct edr_storage_opts o = {0};
    struct edr_storage *st = NULL;
    struct edr_err err;
    const char *cmd;
    edr_rc rc;
    int c;

    edr_log_setup(getenv("S3_DRIVER_DEBUG") ? EDR_LOG_DEBUG : EDR_LOG_INFO, 0);
    edr_err_clear(&err);
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_term;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        o.interrupted = stop_requested;
    }
    while ((c = getopt(argc, argv, "d:e:p:Ps:")) != -1) {
        switch (c) {
        case 'd':
            delay_ms = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'e':
            o.s3_endpoint = optarg;
            break;
        case 'p':
            o.s3_part_size = strtoull(optarg, NULL, 10);
            break;
        case 'P':
            o.s3_path_style = 1;
            break;
        case 's':
            o.s3_secret_file = optarg;
            break;
        default:
            return 2;
        }
    }
    if (argc - optind < 2) {
        fprintf(stderr,
                "usage: s3_driver [-e endpoint] [-p part] [-P] [-s file] [-d ms] URL CMD ...\n");
        return 2;
    }
    if (strncmp(argv[optind], "s3://", 5) != 0)
        rc = edr_err_set(&err, EDR_E_USAGE, "'%s': not an s3:// url", argv[optind]);
    else
        rc = edr_storage_open(argv[optind], &o, 0, &st, &err);
    cmd = argv[optind + 1];
    argv += optind + 2;
    argc -= optind + 2;
    if (rc != EDR_OK) {
    } else if (strcmp(cmd, "put") == 0 && argc >= 2) {
        rc = do_put(st, argv[0], argv[1], argc > 2 ? strtoull(argv[2], NULL, 10) : 0,
                    argc > 3 ? strtoul(argv[3], NULL, 10) : 65536, 1, &err);
    } else if (strcmp(cmd, "putleak") == 0 && argc >= 2) {
        struct edr_stream *w = NULL;
        FILE *f = fopen(argv[1], "rb");
        char buf[65536];
        size_t n;
        rc = f == NULL ? edr_err_set(&err, EDR_E_IO, "cannot open '%s'", argv[1])
                       : st->ops->put_open(st, argv[0], 0, &w, &err);
        while (rc == EDR_OK && (n = fread(buf, 1, sizeof(buf), f)) > 0)
            rc = edr_stream_write(w, buf, n, &err);
        if (rc == EDR_OK)
            _exit(0);
    } else if (strcmp(cmd, "putabort") == 0 && argc >= 2) {
        rc = do_put(st, argv[0], argv[1], 0, 65536, 0, &err);
    } else if (strcmp(cmd, "get") == 0 && argc >= 2) {
        struct out_sink s = {{&sink_ops, NULL}, fopen(argv[1], "wb")};
        if (s.f == NULL) {
            rc = edr_err_set(&err, EDR_E_IO, "cannot create '%s'", argv[1]);
        } else {
            rc = st->ops->get(st, argv[0], argc > 2 ? strtoull(argv[2], NULL, 10) : 0, &s.base,
                              &err);
            fclose(s.f);
        }
    } else if (strcmp(cmd, "list") == 0 && argc >= 1) {
        rc = st->ops->list(st, argv[0], print_entry, NULL, &err);
    } else if (strcmp(cmd, "stat") == 0 && argc >= 1) {
        struct edr_storage_stat ss;
        rc = st->ops->stat(st, argv[0], &ss, &err);
        if (rc == EDR_OK)
            printf("exists=%d size=%llu mtime_set=%d\n", ss.exists, (unsigned long long)ss.size,
                   ss.mtime > 0);
    } else if (strcmp(cmd, "del") == 0 && argc >= 1) {
        rc = st->ops->del(st, argv[0], &err);
    } else if ((strcmp(cmd, "lock") == 0 && argc >= 5) ||
               (strcmp(cmd, "lockleak") == 0 && argc >= 3)) {
        struct edr_storage_lock *l = NULL;
        int leak = strcmp(cmd, "lockleak") == 0;
        rc = st->ops->lock(st, argv[0], argv[1], leak ? 0 : atoi(argv[2]), atoi(argv[leak ? 2 : 3]),
                           &l, &err);
        if (rc == EDR_OK) {
            printf("locked\n");
            fflush(stdout);
            if (!leak) {
                sleep((unsigned)atoi(argv[4]));
                st->ops->unlock(st, l);
            } else {
                _exit(0); /* simulate a crashed holder: no unlock, no cleanup */
            }
        }
    } else if (strcmp(cmd, "lockput") == 0 && argc >= 5) {
        struct edr_storage_lock *l = NULL;
        rc = st->ops->lock(st, argv[0], argv[1], 0, atoi(argv[2]), &l, &err);
        if (rc == EDR_OK) {
            printf("locked\n");
            fflush(stdout);
            rc = do_put(st, argv[3], argv[4], 0, 100000, 1, &err);
            st->ops->unlock(st, l);
        }
    } else if (strcmp(cmd, "cleanup") == 0 && argc >= 2) {
        rc = st->ops->cleanup(st, argv[0], atoi(argv[1]), &err);
    } else {
        fprintf(stderr, "s3_driver: bad command '%s'\n", cmd);
        rc = 2;
    }
    if (rc != EDR_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        if (err.hint[0] != '\0')
            fprintf(stderr, "hint: %s\n", err.hint);
    }
    edr_storage_free(st);
    return rc;
}
