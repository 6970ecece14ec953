/*
 * schedule --capture: `etcd-dr capture` runs as a child of the daemon with
 * the daemon's config file and the command-line options capture takes. A
 * thread waits for it and starts it again when it stops (5 s later, doubling
 * up to a minute while it keeps failing quickly). The child dies with the
 * daemon (PR_SET_PDEATHSIG), and is stopped with SIGTERM (it then publishes
 * what is complete) when the daemon stops or reloads.
 */
#include "cmd/supervise.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/progress.h"

struct edr_capture_child {
    pthread_t thread;
    pthread_mutex_t mu;
    int stopping;
    pid_t pid;
    char **argv;
    int argc;
};

static int
is_capture_opt(enum edr_opt_id id)
{
    for (const enum edr_opt_id *o = edr_cmd_capture_opts; *o != EDR_O__COUNT; o++)
        if (*o == id)
            return 1;
    return id == EDR_O_CONFIG || id == EDR_O_LOG_LEVEL || id == EDR_O_LOG_FORMAT;
}

static int
add_arg(struct edr_capture_child *c, const char *a, const char *b)
{
    size_t n = strlen(a) + (b ? strlen(b) : 0) + 2;
    char *s = malloc(n);
    char **v = realloc(c->argv, (size_t)(c->argc + 2) * sizeof(*v));

    if (s == NULL || v == NULL) {
        free(s);
        if (v != NULL)
            c->argv = v;
        return -1;
    }
    snprintf(s, n, "%s%s%s", a, b ? "=" : "", b ? b : "");
    c->argv = v;
    c->argv[c->argc++] = s;
    c->argv[c->argc] = NULL;
    return 0;
}

static pid_t
spawn(struct edr_capture_child *c)
{
    pid_t pid = fork();

    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1)
            _exit(127);
        execv("/proc/self/exe", c->argv);
        fprintf(stderr, "etcd-dr: error: unable to run capture: %s\n", strerror(errno));
        _exit(127);
    }
    return pid;
}

static int
stopping(struct edr_capture_child *c)
{
    int s;

    pthread_mutex_lock(&c->mu);
    s = c->stopping;
    pthread_mutex_unlock(&c->mu);
    return s;
}

static void *
supervise(void *ud)
{
    struct edr_capture_child *c = ud;
    int delay = 5;

    while (!stopping(c)) {
        double t0 = edr_now();
        int status = 0;
        pid_t pid;

        pthread_mutex_lock(&c->mu);
        pid = c->stopping ? -1 : spawn(c);
        c->pid = pid;
        pthread_mutex_unlock(&c->mu);
        if (pid < 0)
            break;
        edr_info("capture started (pid %ld)", (long)pid);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        pthread_mutex_lock(&c->mu);
        c->pid = 0;
        pthread_mutex_unlock(&c->mu);
        if (stopping(c))
            break;
        if (edr_now() - t0 > 60)
            delay = 5; /* it ran a while: not a crash loop */
        edr_warn("capture (pid %ld) stopped with status %d; starting it again in %d s", (long)pid,
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), delay);
        for (int i = 0; i < delay * 10 && !stopping(c); i++)
            usleep(100 * 1000);
        delay = delay * 2 > 60 ? 60 : delay * 2;
    }
    return NULL;
}

edr_rc
edr_capture_child_start(const struct edr_opts *o, struct edr_capture_child **out,
                        struct edr_err *err)
{
    struct edr_capture_child *c = calloc(1, sizeof(*c));
    int bad = 0;

    *out = NULL;
    if (c == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    bad |= add_arg(c, "etcd-dr", NULL) | add_arg(c, "capture", NULL);
    for (size_t i = 0; i < EDR_O__COUNT; i++)
        if (o->src[i] == EDR_SRC_FLAG && o->val[i] != NULL && is_capture_opt((enum edr_opt_id)i)) {
            char flag[96];
            snprintf(flag, sizeof(flag), "--%s", edr_optdefs[i].name);
            bad |= add_arg(c, flag, o->val[i]);
        }
    if (bad || pthread_create(&c->thread, NULL, supervise, c) != 0) {
        for (int i = 0; i < c->argc; i++)
            free(c->argv[i]);
        free(c->argv);
        free(c);
        return edr_err_set(err, EDR_E_INTERNAL, "unable to start the capture supervisor");
    }
    *out = c;
    return EDR_OK;
}

void
edr_capture_child_stop(struct edr_capture_child *c)
{
    pid_t pid;

    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    pid = c->pid;
    pthread_mutex_unlock(&c->mu);
    if (pid > 0) {
        kill(pid, SIGTERM);
        /* it publishes what is complete; 30 s, then it is killed */
        for (int i = 0; i < 300; i++) {
            pthread_mutex_lock(&c->mu);
            pid = c->pid;
            pthread_mutex_unlock(&c->mu);
            if (pid == 0)
                break;
            usleep(100 * 1000);
        }
        if (pid > 0)
            kill(pid, SIGKILL);
    }
    pthread_join(c->thread, NULL);
    for (int i = 0; i < c->argc; i++)
        free(c->argv[i]);
    free(c->argv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
