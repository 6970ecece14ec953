/*
 * Pieces of `restore --check` that read no backup: whether a peer
 * certificate names a member's host, and where k3s/RKE2 keep their
 * bootstrap data for a server token. Nothing here prints or writes.
 */
#ifndef EDR_RESTORE_PREFLIGHT_H
#define EDR_RESTORE_PREFLIGHT_H

#include <stddef.h>

#include "common/err.h"

/* The host of a URL "scheme://host:port" (an IPv6 literal without its
 * brackets) into host; -1 when there is none or it does not fit. */
int edr_restore_url_host(const char *url, char *host, size_t n);

/* A PEM certificate (the first of the file). EDR_E_TLS naming the file when
 * it cannot be read or parsed. */
struct edr_restore_cert;
edr_rc edr_restore_cert_load(const char *path, struct edr_restore_cert **out, struct edr_err *err);
/* 1 when a subjectAltName of the certificate covers host as Go's TLS checks
 * it (what etcd peers do): an IP address only by an IP SAN, a name by a DNS
 * SAN, case-insensitively, "*." matching exactly one left-most label. The
 * subject's CN is not looked at (Go ignores it). */
int edr_restore_cert_covers(const struct edr_restore_cert *c, const char *host);
/* Its SANs for messages, "DNS:a, IP:10.0.0.1" ("none" without). */
void edr_restore_cert_sans(const struct edr_restore_cert *c, char *out, size_t n);
void edr_restore_cert_free(struct edr_restore_cert *c);

/*
 * The etcd key k3s and RKE2 keep their bootstrap data under for a server
 * token (the text of the token file, trailing newlines ignored):
 * "/bootstrap/" + the first 12 hex digits of sha256(passphrase), where the
 * passphrase is the password of "K10<ca hash>::<user>:<password>" or the
 * bare token itself. key must hold 24 bytes. EDR_E_USAGE (no secret in the
 * message) for a token k3s cannot use for this: empty, a CA hash that is not
 * 64 hex digits, no password, or a bootstrap token "abcdef.0123456789abcdef".
 */
edr_rc edr_restore_k3s_bootstrap_key(const char *token, size_t len, char key[24],
                                     struct edr_err *err);

#endif
