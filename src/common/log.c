/*
 * Logging to stderr. Text lines are "etcd-dr: warning: ..."; JSON lines carry
 * time, level and msg so log shippers can parse the daemon's output.
 */
#include "common/log.h"

#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

static int log_level = EDR_LOG_WARN;
static int log_json;

int
edr_log_level_parse(const char *s)
{
    if (s == NULL || strcmp(s, "warn") == 0 || strcmp(s, "warning") == 0)
        return EDR_LOG_WARN;
    if (strcmp(s, "error") == 0)
        return EDR_LOG_ERROR;
    if (strcmp(s, "info") == 0)
        return EDR_LOG_INFO;
    if (strcmp(s, "debug") == 0)
        return EDR_LOG_DEBUG;
    return -1;
}

void
edr_log_setup(int level, int json)
{
    log_level = level;
    log_json = json;
}

int
edr_log_is_json(void)
{
    return log_json;
}

/* JSON string escaping of s into out[n] (cut to fit, always terminated). */
static void
json_escape(char *out, size_t n, const char *s)
{
    size_t k = 0;

    for (; *s && k + 7 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            k += (size_t)snprintf(out + k, n - k, "\\%c", c);
        else if (c < 0x20)
            k += (size_t)snprintf(out + k, n - k, "\\u%04x", c);
        else
            out[k++] = (char)c;
    }
    out[k] = '\0';
}

void
edr_log(enum edr_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    char msg[2048], line[6 * 2048 + 128];
    va_list ap;

    if ((int)level > log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_json) {
        char ts[32], esc[6 * sizeof(msg)];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_escape(esc, sizeof(esc), msg);
        snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", ts,
                 names[level], esc);
    } else {
        snprintf(line, sizeof(line), "etcd-dr: %s: %s\n", names[level], msg);
    }
    /* one write per line: lines of two threads never interleave */
    fflush(stderr);
    for (size_t off = 0, len = strlen(line); off < len;) {
        ssize_t w = write(STDERR_FILENO, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}
