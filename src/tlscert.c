/*
 * tlscert.c - serving certificate checks with OpenSSL.
 *
 * libmicrohttpd loads the certificate into GnuTLS and only says that it
 * failed; these checks run first and say why.
 */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "poolguard/tlscert.h"

int
tlscert_check(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len,
    const char *cert_name, const char *key_name, time_t now, time_t *not_after,
    struct pg_error *err)
{
	BIO *cert_bio = NULL, *key_bio = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	struct tm tm;
	int result = PG_OK;

	cert_bio = BIO_new_mem_buf(cert_pem, (int)cert_len);
	key_bio = BIO_new_mem_buf(key_pem, (int)key_len);
	if (cert_bio == NULL || key_bio == NULL) {
		result = pg_error_set(err, PG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((cert = PEM_read_bio_X509(cert_bio, NULL, NULL, NULL)) == NULL) {
		result = pg_error_set(err, PG_ERR_INVALID, "'%s' holds no PEM certificate", cert_name);
		goto out;
	}
	if ((key = PEM_read_bio_PrivateKey(key_bio, NULL, NULL, NULL)) == NULL) {
		result = pg_error_set(err, PG_ERR_INVALID, "'%s' holds no PEM private key (or it is "
		    "encrypted)", key_name);
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		result = pg_error_set(err, PG_ERR_INVALID, "the key in '%s' does not match the "
		    "certificate in '%s'", key_name, cert_name);
		goto out;
	}
	if (X509_cmp_time(X509_get0_notAfter(cert), &now) < 0) {
		result = pg_error_set(err, PG_ERR_INVALID, "the certificate in '%s' has expired",
		    cert_name);
		goto out;
	}
	if (X509_cmp_time(X509_get0_notBefore(cert), &now) > 0) {
		result = pg_error_set(err, PG_ERR_INVALID, "the certificate in '%s' is not valid yet",
		    cert_name);
		goto out;
	}
	if (not_after && ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
		*not_after = timegm(&tm);
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	BIO_free(key_bio);
	BIO_free(cert_bio);
	return result;
}
