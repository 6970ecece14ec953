/*
 * Error message helpers. Messages follow git's rules: lower case, no final
 * period, the failing action first, the subject quoted.
 */
#include "common/err.h"

#include <stdio.h>
#include <string.h>

void
edr_err_clear(struct edr_err *err)
{
    if (err == NULL)
        return;
    err->code = EDR_OK;
    err->msg[0] = '\0';
    err->hint[0] = '\0';
}

static void
vset(struct edr_err *err, edr_rc code, const char *fmt, va_list ap)
{
    err->code = code;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    err->hint[0] = '\0';
}

edr_rc
edr_err_set(struct edr_err *err, edr_rc code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

edr_rc
edr_err_errno(struct edr_err *err, edr_rc code, int errnum, const char *fmt, ...)
{
    va_list ap;
    size_t len;

    if (err == NULL)
        return code;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    len = strlen(err->msg);
    snprintf(err->msg + len, sizeof(err->msg) - len, ": [%d] %s", errnum, strerror(errnum));
    return code;
}

edr_rc
edr_err_prefix(struct edr_err *err, const char *fmt, ...)
{
    char old[EDR_ERR_MSG_MAX];
    va_list ap;
    size_t len;

    if (err == NULL)
        return EDR_E_INTERNAL;
    memcpy(old, err->msg, sizeof(old));
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    len = strlen(err->msg);
    snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", old);
    return err->code;
}

void
edr_err_hint(struct edr_err *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
    va_end(ap);
}

const char *
edr_rc_name(edr_rc rc)
{
    switch (rc) {
#define EDR_X_NAME(name, code, desc)                                                               \
    case code:                                                                                     \
        return #name;
        EDR_ERROR_TABLE(EDR_X_NAME)
#undef EDR_X_NAME
    }
    return "EDR_E_UNKNOWN";
}

const char *
edr_rc_desc(edr_rc rc)
{
    switch (rc) {
#define EDR_X_DESC(name, code, desc)                                                               \
    case code:                                                                                     \
        return desc;
        EDR_ERROR_TABLE(EDR_X_DESC)
#undef EDR_X_DESC
    }
    return "unknown error";
}
