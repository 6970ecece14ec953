/*
 * What `etcd-dr --version` reports. The program's version is configure.ac's;
 * from a git checkout the build also records `git describe` (edr-version.h,
 * made by the Makefile), so a binary says which commit it was built from. The
 * library versions come from each library's runtime version function: they
 * are those of the shared objects actually loaded, which may be newer than
 * the headers the binary was compiled against.
 */
#include <stdio.h>
#include <string.h>

#include <archive.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <zlib.h>
#include <zstd.h>

#include "cmd/version.h"
#include "edr-version.h"

struct lib_version {
    const char *name;
    char version[64];
};

static void
set_version(struct lib_version *l, const char *name, const char *version)
{
    l->name = name;
    snprintf(l->version, sizeof(l->version), "%s", version ? version : "unknown");
}

/* The libraries, in a fixed order; returns how many were filled in. */
static size_t
lib_versions(struct lib_version *v)
{
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    char arch[32];
    int an = archive_version_number();
    size_t n = 0;

    set_version(&v[n++], "libcurl", cv->version);
#if JANSSON_VERSION_HEX >= 0x020d00
    set_version(&v[n++], "jansson", jansson_version_str());
#else
    set_version(&v[n++], "jansson", JANSSON_VERSION);
#endif
    set_version(&v[n++], "zstd", ZSTD_versionString());
    set_version(&v[n++], "libsodium", sodium_version_string());
    /* archive_version_string() says "libarchive 3.6.2": keep the number */
    snprintf(arch, sizeof(arch), "%d.%d.%d", an / 1000000, an / 1000 % 1000, an % 1000);
    set_version(&v[n++], "libarchive", arch);
#ifdef OPENSSL_VERSION_STRING
    set_version(&v[n++], "openssl", OpenSSL_version(OPENSSL_VERSION_STRING));
#else
    set_version(&v[n++], "openssl", OpenSSL_version(OPENSSL_VERSION));
#endif
    /* linked for Gardener's .zlib snapshots (libcurl links it too) */
    set_version(&v[n++], "zlib", zlibVersion());
    if (cv->age >= CURLVERSION_THIRD && cv->nghttp2_version != NULL)
        set_version(&v[n++], "nghttp2", cv->nghttp2_version);
    return n;
}

int
edr_version_print(FILE *f, int json)
{
    struct lib_version v[16];
    size_t n = lib_versions(v);

    if (json) {
        json_t *root = json_object(), *libs = json_object();

        json_object_set_new(root, "version", json_string(EDR_VERSION));
        json_object_set_new(root, "git",
                            EDR_GIT_DESCRIBE[0] ? json_string(EDR_GIT_DESCRIBE) : json_null());
        for (size_t i = 0; i < n; i++)
            json_object_set_new(libs, v[i].name, json_string(v[i].version));
        json_object_set_new(root, "libraries", libs);
        int rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(root);
        if (rc != 0 || fputc('\n', f) == EOF)
            return -1;
        return fflush(f) == 0 ? 0 : -1;
    }
    fprintf(f, "etcd-dr %s\n", EDR_VERSION);
    if (EDR_GIT_DESCRIBE[0])
        fprintf(f, "git %s\n", EDR_GIT_DESCRIBE);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s %s\n", v[i].name, v[i].version);
    return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
