/*
 * libFuzzer target for the cron parser: any input either fails to parse with
 * a message or parses into an expression whose next fire times are strictly
 * increasing and match the expression. Also built as a corpus replay for
 * `make check` (tests/fuzz/replay.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const time_t starts[] = {0, 951782400 /* 2000-02-29 */, 1795000000, 4102444799};
    char expr[EDR_CRON_EXPR_MAX + 2];
    struct edr_cron cron;
    struct edr_err err;

    if (size > EDR_CRON_EXPR_MAX + 1)
        size = EDR_CRON_EXPR_MAX + 1;
    memcpy(expr, data, size);
    expr[size] = '\0';
    edr_err_clear(&err);
    if (edr_cron_parse(&cron, expr, &err) != EDR_OK) {
        if (err.code != EDR_E_USAGE || err.msg[0] == '\0')
            abort();
        return 0;
    }
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        time_t t = starts[i];
        for (int k = 0; k < 3; k++) {
            time_t next;
            struct tm tm;
            if (edr_cron_next(&cron, t, NULL, &next, &err) != EDR_OK)
                abort();
            if (next <= t || gmtime_r(&next, &tm) == NULL || !edr_cron_matches(&cron, &tm))
                abort();
            t = next;
        }
    }
    /* a zone with DST rules that needs no tzdata file */
    {
        time_t next;
        if (edr_cron_next(&cron, 1795000000, "CET-1CEST,M3.5.0,M10.5.0/3", &next, &err) != EDR_OK ||
            next <= 1795000000)
            abort();
    }
    return 0;
}
