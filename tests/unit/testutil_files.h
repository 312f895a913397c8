/*
 * testutil_files.h - file, directory and fixture helpers for the config,
 * manifest and workload unit tests.
 *
 * Everything here is static inline so that each test binary gets its own copy
 * and -Wmissing-prototypes stays quiet. The helpers fail the running test
 * (fail_msg) instead of returning errors: a test that cannot set up its files
 * has nothing to assert.
 */
#ifndef POOLGUARD_TESTUTIL_FILES_H
#define POOLGUARD_TESTUTIL_FILES_H

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/*
 * Public fixtures live in tests/fixtures/public, relative to the repository
 * root the tests run from; POOLGUARD_FIXTURES names that directory elsewhere.
 */
#define TF_FIXTURES_DEFAULT "tests/fixtures/public"

/* Asserts that haystack contains needle, printing both when it does not. */
#define TF_ASSERT_CONTAINS(haystack, needle) do { \
	const char *tf_h_ = (haystack), *tf_n_ = (needle); \
	if (tf_h_ == NULL || strstr(tf_h_, tf_n_) == NULL) \
		fail_msg("expected \"%s\" in \"%s\"", tf_n_, tf_h_ ? tf_h_ : "(null)"); \
} while (0)

/* Asserts that s starts with prefix. */
#define TF_ASSERT_PREFIX(s, prefix) do { \
	const char *tf_s_ = (s), *tf_p_ = (prefix); \
	if (tf_s_ == NULL || strncmp(tf_s_, tf_p_, strlen(tf_p_)) != 0) \
		fail_msg("expected \"%s\" to start with \"%s\"", tf_s_ ? tf_s_ : "(null)", tf_p_); \
} while (0)

/* The path of public fixture name, in buf. */
static inline void
tf_fixture_path(char *buf, size_t size, const char *name)
{
	const char *dir = getenv("POOLGUARD_FIXTURES");

	if (dir == NULL || dir[0] == '\0')
		dir = TF_FIXTURES_DEFAULT;
	snprintf(buf, size, "%s/%s", dir, name);
}

/* Reads a whole file into a new NUL-terminated buffer the caller frees; *len may be NULL. */
static inline char *
tf_read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long size = 0;

	if (fp == NULL)
		fail_msg("cannot open '%s' (tests run from the repository root)", path);
	if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0)
		fail_msg("cannot size '%s'", path);
	if ((buf = malloc((size_t)size + 1)) == NULL)
		fail_msg("out of memory");
	if (fread(buf, 1, (size_t)size, fp) != (size_t)size)
		fail_msg("cannot read '%s'", path);
	fclose(fp);
	buf[size] = '\0';
	if (len)
		*len = (size_t)size;
	return buf;
}

/* Writes text to dir/name (dir may be NULL: name is the path). */
static inline void
tf_write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *fp;
	size_t n = strlen(text);

	if (dir)
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	if ((fp = fopen(path, "wb")) == NULL)
		fail_msg("cannot create '%s'", path);
	if (fwrite(text, 1, n, fp) != n || fclose(fp) != 0)
		fail_msg("cannot write '%s'", path);
}

/* Makes a new empty directory under TMPDIR (or /tmp); its path goes to buf. */
static inline void
tf_make_tmpdir(char *buf, size_t size)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, size, "%s/poolguard-unit-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(buf) == NULL)
		fail_msg("mkdtemp '%s' failed", buf);
}

/* Removes path and, for a directory, everything under it. */
static inline void
tf_remove_tree(const char *path)
{
	struct stat st;
	struct dirent *entry;
	char child[4096];
	DIR *dir;

	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode) && (dir = opendir(path)) != NULL) {
		while ((entry = readdir(dir)) != NULL) {
			if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
				continue;
			snprintf(child, sizeof(child), "%s/%s", path, entry->d_name);
			tf_remove_tree(child);
		}
		closedir(dir);
		rmdir(path);
	} else
		unlink(path);
}

/* A new copy of text with the first from replaced by to; fails the test when from is absent. */
static inline char *
tf_replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	size_t head, n;
	char *out;

	if (at == NULL)
		fail_msg("\"%s\" not found in the text", from);
	head = (size_t)(at - text);
	n = strlen(text) - strlen(from) + strlen(to);
	if ((out = malloc(n + 1)) == NULL)
		fail_msg("out of memory");
	memcpy(out, text, head);
	memcpy(out + head, to, strlen(to));
	memcpy(out + head + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
	return out;
}

/* The 1-based line on which needle first occurs in text; fails the test when absent. */
static inline int
tf_line_of(const char *text, const char *needle)
{
	const char *at = strstr(text, needle), *p;
	int line = 1;

	if (at == NULL)
		fail_msg("\"%s\" not found in the text", needle);
	for (p = text; p < at; p++)
		line += *p == '\n';
	return line;
}

/*
 * A new copy of s with every ' turned into ", so JSON can be written in C
 * strings without escapes: tf_quotes("{'a': 1}"). The caller frees it.
 */
static inline char *
tf_quotes(const char *s)
{
	char *out = strdup(s), *p;

	if (out == NULL)
		fail_msg("out of memory");
	for (p = out; *p; p++)
		if (*p == '\'')
			*p = '"';
	return out;
}

#endif
