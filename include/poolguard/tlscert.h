/*
 * tlscert.h - checks of the serving certificate and key with OpenSSL.
 */
#ifndef POOLGUARD_TLSCERT_H
#define POOLGUARD_TLSCERT_H

#include <stddef.h>
#include <time.h>

#include "poolguard/error.h"

/*
 * Checks PEM text: the first certificate of cert_pem parses, the private key
 * in key_pem parses and matches it, and the certificate is valid at now (not
 * expired, not yet to come). names are used in messages. On success
 * *not_after is the certificate's expiry.
 */
int tlscert_check(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len,
    const char *cert_name, const char *key_name, time_t now, time_t *not_after,
    struct pg_error *err);

#endif
