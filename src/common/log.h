/*
 * Diagnostics on stderr: warnings, info and debug lines, as text or JSON
 * lines (--log-format). Results are printed by src/cmd only; lower layers
 * may log warnings (e.g. a stale lock taken over) but never results.
 */
#ifndef EDR_COMMON_LOG_H
#define EDR_COMMON_LOG_H

#include "common/err.h"

enum edr_log_level { EDR_LOG_ERROR = 0, EDR_LOG_WARN, EDR_LOG_INFO, EDR_LOG_DEBUG };

/* "error", "warn" (or "warning", or NULL), "info", "debug"; -1 otherwise. */
int edr_log_level_parse(const char *s);
void edr_log_setup(int level, int json);
int edr_log_is_json(void);
void edr_log(enum edr_log_level level, const char *fmt, ...) EDR_PRINTF(2, 3);
#define edr_warn(...) edr_log(EDR_LOG_WARN, __VA_ARGS__)
#define edr_info(...) edr_log(EDR_LOG_INFO, __VA_ARGS__)
#define edr_debug(...) edr_log(EDR_LOG_DEBUG, __VA_ARGS__)

#endif
