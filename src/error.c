/*
 * error.c - result codes and error messages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "poolguard/error.h"

void
pg_error_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	for (; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			p[0] = '?';
			p[1] = '?';
			p++;
		}
}

int
pg_error_set(struct pg_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	pg_error_sanitize(err->msg);
	return code;
}

void
pg_error_prefix(struct pg_error *err, const char *fmt, ...)
{
	char prefix[PG_ERROR_MAX], joined[PG_ERROR_MAX];
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg);
	pg_error_sanitize(joined);
	memcpy(err->msg, joined, sizeof(err->msg));
}

const char *
pg_result_name(int code)
{
	switch (code) {
	case PG_OK:
		return "ok";
	case PG_ERR_NOMEM:
		return "out of memory";
	case PG_ERR_IO:
		return "i/o error";
	case PG_ERR_PARSE:
		return "parse error";
	case PG_ERR_INVALID:
		return "invalid input";
	case PG_ERR_TOOBIG:
		return "input too large";
	case PG_ERR_UNSUPPORTED:
		return "unsupported";
	case PG_ERR_TIMEOUT:
		return "timed out";
	case PG_ERR_CONFLICT:
		return "conflict";
	}
	return "unknown error";
}
