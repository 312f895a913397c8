/*
 * fileio.h - reading whole files and streams with a hard size cap.
 */
#ifndef POOLGUARD_FILEIO_H
#define POOLGUARD_FILEIO_H

#include <stddef.h>

#include "poolguard/error.h"

/*
 * Reads all of path ("-" reads standard input) into a new NUL-terminated
 * buffer. Fails with PG_ERR_TOOBIG past cap bytes and PG_ERR_IO when the file
 * cannot be read; the message names the path. On success *out belongs to the
 * caller (free()); *len excludes the NUL.
 */
int fileio_read(const char *path, size_t cap, char **out, size_t *len, struct pg_error *err);

/* 1 if path names a directory, 0 otherwise (also when it does not exist). */
int fileio_is_dir(const char *path);

#endif
