/*
 * fileio.c - whole-file reads with a size cap.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "poolguard/fileio.h"

int
fileio_read(const char *path, size_t cap, char **out, size_t *len, struct pg_error *err)
{
	FILE *fp;
	char *buf = NULL, *grown;
	size_t size = 0, alloc = 0, n;
	int result = PG_OK, is_stdin = strcmp(path, "-") == 0;

	*out = NULL;
	*len = 0;
	fp = is_stdin ? stdin : fopen(path, "rb");
	if (fp == NULL)
		return pg_error_set(err, PG_ERR_IO, "unable to open '%s': %s", path, strerror(errno));
	for (;;) {
		if (alloc - size < 4096) {
			alloc = alloc ? alloc * 2 : 16384;
			if ((grown = realloc(buf, alloc + 1)) == NULL) {
				result = pg_error_set(err, PG_ERR_NOMEM, "out of memory reading '%s'", path);
				goto out;
			}
			buf = grown;
		}
		n = fread(buf + size, 1, alloc - size, fp);
		size += n;
		if (size > cap) {
			result = pg_error_set(err, PG_ERR_TOOBIG, "'%s' is larger than %zu bytes",
			    path, cap);
			goto out;
		}
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		result = pg_error_set(err, PG_ERR_IO, "unable to read '%s': %s", path, strerror(errno));
		goto out;
	}
	buf[size] = '\0';
	*out = buf;
	*len = size;
	buf = NULL;
out:
	free(buf);
	if (!is_stdin)
		fclose(fp);
	return result;
}

int
fileio_is_dir(const char *path)
{
	struct stat st;

	return strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
