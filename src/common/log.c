/*
 * Logging to stderr. Text lines are "etcd-dr: warning: ..."; JSON lines carry
 * time, level and msg so log shippers can parse the daemon's output.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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

static void
json_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

void
edr_log(enum edr_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    char msg[2048];
    va_list ap;

    if ((int)level > log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_json) {
        char ts[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, names[level]);
        json_escape(stderr, msg);
        fputs("\"}\n", stderr);
    } else {
        fprintf(stderr, "etcd-dr: %s: %s\n", names[level], msg);
    }
}
