/*
 * log.h - one JSON object per line on standard error.
 *
 * Every line has "time" (RFC 3339, UTC, milliseconds), "level" and "event";
 * the caller adds its own fields. Lines below the configured level are not
 * written. Safe to call from several threads: each line is written whole.
 */
#ifndef POOLGUARD_LOG_H
#define POOLGUARD_LOG_H

#include <cjson/cJSON.h>

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
};

/* Sets the lowest level written (default LOG_INFO). */
void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn", "error"; -1 for anything else. */
int log_level_parse(const char *name);

/* 1 if a line of this level would be written, so callers can skip building fields. */
int log_enabled(enum log_level level);

/*
 * Writes one line. fields is a cJSON object (or NULL) whose members are
 * added after the standard ones; log_write takes ownership and frees it.
 */
void log_write(enum log_level level, const char *event, cJSON *fields);

/* A line with a single "message" field, printf-style. */
void log_message(enum log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
