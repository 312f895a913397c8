/*
 * error.h - result codes and the error message that travels back to the user.
 *
 * Every fallible function returns an int: PG_OK (0) on success, one of the
 * pg_result codes otherwise, and fills a caller-provided struct pg_error with
 * a message that says what failed and where (file, line, key path). Lower
 * layers only fill the message; the layer that handles the error reports it.
 */
#ifndef POOLGUARD_ERROR_H
#define POOLGUARD_ERROR_H

#include <stddef.h>

enum pg_result {
	PG_OK = 0,
	PG_ERR_NOMEM,		/* allocation failed */
	PG_ERR_IO,		/* a file or socket could not be read or written */
	PG_ERR_PARSE,		/* the input is not well-formed JSON or YAML */
	PG_ERR_INVALID,		/* well-formed, but a value is wrong */
	PG_ERR_TOOBIG,		/* the input exceeds a cap */
	PG_ERR_UNSUPPORTED,	/* valid, but not something poolguard handles */
	PG_ERR_TIMEOUT,		/* a deadline passed */
	PG_ERR_CONFLICT		/* a write lost to a concurrent one (HTTP 409) */
};

#define PG_ERROR_MAX 512

struct pg_error {
	char msg[PG_ERROR_MAX];
};

/*
 * Formats the message into err (truncated to fit) and returns code, so a
 * caller can write `return pg_error_set(err, PG_ERR_INVALID, "...")`.
 * err may be NULL, then only code is returned.
 */
int pg_error_set(struct pg_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Puts "prefix: " in front of the message already in err; used by a caller
 * that knows the context (a file name) the lower layer did not.
 */
void pg_error_prefix(struct pg_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Replaces, in place, every control character of s with '?': C0 (newline
 * and tab included), DEL, and C1 written as UTF-8 (each of its two bytes),
 * so that text taken from input cannot move a terminal's cursor, set its
 * colours or forge another line. pg_error_set() and pg_error_prefix() apply
 * it to every message; writers of text output apply it to their lines.
 */
void pg_error_sanitize(char *s);

/* A short lower-case name of a result code, "invalid input" for PG_ERR_INVALID. */
const char *pg_result_name(int code);

#endif
