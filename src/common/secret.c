/*
 * Secrets (secret.h). One reader for every secret file, so each gets the
 * same care: regular files only, no blocking open, a size bound, loops over
 * short reads, locked memory.
 */
#include "common/secret.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

extern char **environ;

edr_rc
edr_secret_read_file(const char *path, const char *what, size_t max, unsigned flags, char **out,
                     size_t *len, struct edr_err *err)
{
    struct stat sb;
    char *buf = NULL;
    size_t got = 0;
    edr_rc rc = EDR_OK;
    int fd;

    *out = NULL;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT && (flags & EDR_SECRET_MISSING_OK))
            return EDR_OK;
        return edr_err_errno(err, EDR_E_KEY, e, "unable to open %s '%s'", what, path);
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = edr_err_set(err, EDR_E_KEY, "%s '%s' is not a regular file", what, path);
        goto out;
    }
    if ((flags & EDR_SECRET_PRIVATE) && (sb.st_mode & 077) != 0) {
        rc = edr_err_set(err, EDR_E_KEY, "%s '%s' is readable by others (mode %04o)", what, path,
                         (unsigned)(sb.st_mode & 07777));
        edr_err_hint(err, "chmod 600 %s", path);
        goto out;
    }
    if ((uint64_t)sb.st_size > max) {
        rc = edr_err_set(err, EDR_E_KEY, "%s '%s' is larger than %zu bytes", what, path, max);
        goto out;
    }
    if ((buf = sodium_malloc(max + 1)) == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory (secure memory)");
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + got, max + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = edr_err_errno(err, EDR_E_KEY, errno, "unable to read %s '%s'", what, path);
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > max) { /* it grew while we read */
            rc = edr_err_set(err, EDR_E_KEY, "%s '%s' is larger than %zu bytes", what, path, max);
            goto out;
        }
    }
    buf[got] = '\0';
    *out = buf;
    buf = NULL;
    if (len != NULL)
        *len = got;
out:
    if (buf != NULL)
        sodium_free(buf);
    close(fd);
    return rc;
}

static int
name_has(const char *name, size_t n, const char *word)
{
    size_t w = strlen(word);

    for (size_t i = 0; i + w <= n; i++)
        if (strncasecmp(name + i, word, w) == 0)
            return 1;
    return 0;
}

void
edr_secret_scrub_env(int for_etcd)
{
    static const char *const words[] = {"PASSWORD", "SECRET", "TOKEN", "CREDENTIAL", "PRIVATE"};
    size_t i = 0;

    while (environ != NULL && environ[i] != NULL) {
        const char *v = environ[i];
        size_t n = strcspn(v, "=");
        int drop = (n == 17 && strncmp(v, "AWS_ACCESS_KEY_ID", n) == 0) ||
                   (n == 12 && strncmp(v, "ETCDCTL_USER", n) == 0) ||
                   (for_etcd && (strncmp(v, "ETCD_", 5) == 0 || strncmp(v, "ETCDCTL_", 8) == 0));
        for (size_t k = 0; !drop && k < sizeof(words) / sizeof(words[0]); k++)
            drop = name_has(v, n, words[k]);
        if (drop) {
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)(n < 255 ? n : 255), v);
            if (unsetenv(name) == 0)
                continue; /* the array moved down: same index again */
        }
        i++;
    }
}

void
edr_secret_harden_process(void)
{
    struct rlimit no = {0, 0};

    setrlimit(RLIMIT_CORE, &no);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
