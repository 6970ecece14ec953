/*
 * etcd launcher for restore --start and verify --drill.
 */
#include "cmd/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/progress.h"
#include "common/secret.h"
#include "etcd/client.h"

/* etcd binds only to IPs (and localhost): a host name becomes 0.0.0.0. */
static void
listen_url(const char *url, char *out, size_t n)
{
    const char *h = strstr(url, "://");
    const char *colon;
    char host[256];

    if (h == NULL) {
        snprintf(out, n, "%s", url);
        return;
    }
    h += 3;
    colon = strrchr(h, ':');
    if (colon == NULL || h[0] == '[') {
        snprintf(out, n, "%s", url);
        return;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - h), h);
    if (strcmp(host, "localhost") == 0 || strspn(host, "0123456789.") == strlen(host))
        snprintf(out, n, "%s", url);
    else
        snprintf(out, n, "%.*s0.0.0.0%s", (int)(h - url), url, colon);
}

edr_rc
edr_launch_etcd(const char *bin, const struct edr_restore_member *m, const char *data_dir,
                const char *wal_dir, const char *client_url, const char *log_path, int die_with_us,
                pid_t *pid, struct edr_err *err)
{
    pid_t parent = getpid();
    char peers[2048] = "", lpeers[2048] = "";
    pid_t p;
    int logfd;

    for (size_t i = 0; i < m->n_urls; i++) {
        char l[512];
        listen_url(m->urls[i], l, sizeof(l));
        snprintf(peers + strlen(peers), sizeof(peers) - strlen(peers), "%s%s", i ? "," : "",
                 m->urls[i]);
        snprintf(lpeers + strlen(lpeers), sizeof(lpeers) - strlen(lpeers), "%s%s", i ? "," : "", l);
    }
    logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0) {
        int e = errno;
        return edr_err_errno(err, EDR_E_IO, e, "unable to create '%s'", log_path);
    }
    p = fork();
    if (p < 0) {
        int e = errno;
        close(logfd);
        return edr_err_errno(err, EDR_E_INTERNAL, e, "unable to start '%s'", bin);
    }
    if (p == 0) {
        char lclient[512];
        int devnull = open("/dev/null", O_RDONLY);
        listen_url(client_url, lclient, sizeof(lclient));
        setsid();
        if (die_with_us && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent))
            _exit(127);          /* we are gone already */
        edr_secret_scrub_env(1); /* etcd logs ETCD_* variables it does not know, values too */
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        if (wal_dir != NULL)
            execlp(bin, bin, "--name", m->name, "--data-dir", data_dir, "--wal-dir", wal_dir,
                   "--listen-peer-urls", lpeers, "--initial-advertise-peer-urls", peers,
                   "--listen-client-urls", lclient, "--advertise-client-urls", client_url,
                   (char *)NULL);
        else
            execlp(bin, bin, "--name", m->name, "--data-dir", data_dir, "--listen-peer-urls",
                   lpeers, "--initial-advertise-peer-urls", peers, "--listen-client-urls", lclient,
                   "--advertise-client-urls", client_url, (char *)NULL);
        fprintf(stderr, "etcd-dr: unable to run '%s': %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(logfd);
    *pid = p;
    return EDR_OK;
}

edr_rc
edr_launch_wait_healthy(const char *endpoints, const char *user, const char *password,
                        const pid_t *pids, size_t npids, int timeout_s, struct edr_err *err)
{
    struct edr_etcd_opts eo;
    struct edr_etcd_client *c = NULL;
    double deadline = edr_now() + timeout_s;
    char last[EDR_ERR_MSG_MAX] = "no answer";
    edr_rc rc;

    memset(&eo, 0, sizeof(eo));
    eo.endpoints = endpoints;
    eo.user = user;
    eo.password = password;
    eo.connect_timeout_s = 2;
    eo.request_timeout_s = 3;
    if ((rc = edr_etcd_client_new(&eo, &c, err)) != EDR_OK)
        return rc;
    for (;;) {
        size_t ok = 0, n = edr_etcd_endpoint_count(c);
        if ((rc = edr_cmd_check_interrupted(err)) != EDR_OK)
            goto out;
        for (size_t i = 0; i < npids; i++) {
            int status;
            if (waitpid(pids[i], &status, WNOHANG) == pids[i]) {
                rc = edr_err_set(err, EDR_E_DRILL,
                                 "etcd (pid %ld) exited with status %d before "
                                 "it served",
                                 (long)pids[i],
                                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
                goto out;
            }
        }
        for (size_t i = 0; i < n; i++) {
            struct edr_etcd_status st;
            struct edr_err e2;
            if (edr_etcd_status(c, i, &st, &e2) != EDR_OK) {
                snprintf(last, sizeof(last), "%s", e2.msg);
                break;
            }
            if (st.leader == 0) {
                snprintf(last, sizeof(last), "'%s': no leader yet", edr_etcd_endpoint(c, i));
                break;
            }
            ok++;
        }
        if (ok == n) {
            rc = EDR_OK;
            break;
        }
        if (edr_now() > deadline) {
            rc = edr_err_set(err, EDR_E_DRILL, "etcd did not become healthy in %d s: %s", timeout_s,
                             last);
            break;
        }
        usleep(200 * 1000);
    }
out:
    edr_etcd_client_free(c);
    return rc;
}

void
edr_launch_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(100 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

void
edr_launch_etcd_version(const char *bin, char *out, size_t n)
{
    char buf[4096], v[64], *p;
    size_t len = 0;
    int fds[2], status;
    pid_t pid;

    out[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) != 0)
        return;
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 2);
        }
        dup2(fds[1], 1);
        edr_secret_scrub_env(1);
        execlp(bin, bin, "--version", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return;
    }
    /* a binary that does not answer --version in 5 s is not an etcd to use */
    for (double deadline = edr_now() + 5; len < sizeof(buf) - 1;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int left = (int)((deadline - edr_now()) * 1000);
        int pr = left > 0 ? poll(&pfd, 1, left < 200 ? left : 200) : 0;
        ssize_t r;
        if ((pr < 0 && errno == EINTR) || (pr == 0 && left > 200 && !edr_cmd_interrupted()))
            continue;
        if (pr <= 0) { /* no answer in time, or a signal: the caller checks which */
            kill(pid, SIGKILL);
            len = 0;
            break;
        }
        r = read(fds[0], buf + len, sizeof(buf) - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if ((p = strstr(buf, "etcd Version: ")) != NULL && sscanf(p + 14, "%63[0-9A-Za-z.+-]", v) == 1)
        snprintf(out, n, "%s", v);
}
