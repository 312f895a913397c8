/*
 * testutil.h - helpers shared by the unit tests.
 */
#ifndef POOLGUARD_TESTUTIL_H
#define POOLGUARD_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "poolguard/config.h"

/* Parses budget text that must be valid; fails the test with the message otherwise. */
static inline struct config *
test_config(const char *yaml)
{
	struct config *cfg = NULL;
	struct pg_error err = {""};
	int result = config_parse(yaml, strlen(yaml), "test.yaml", 0, &cfg, &err);

	if (result != 0)
		fail_msg("config: %s", err.msg);
	return cfg;
}

/* Asserts that haystack contains needle, printing both when it does not. */
#define assert_contains(haystack, needle) do { \
	const char *h_ = (haystack), *n_ = (needle); \
	if (h_ == NULL || strstr(h_, n_) == NULL) \
		fail_msg("expected \"%s\" in \"%s\"", n_, h_ ? h_ : "(null)"); \
} while (0)

#define assert_not_contains(haystack, needle) do { \
	const char *h_ = (haystack), *n_ = (needle); \
	if (h_ != NULL && strstr(h_, n_) != NULL) \
		fail_msg("did not expect \"%s\" in \"%s\"", n_, h_); \
} while (0)

#endif
