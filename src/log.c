/*
 * log.c - JSON log lines.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "poolguard/log.h"

static const char *const log_names[] = {"debug", "info", "warn", "error"};
static enum log_level log_min = LOG_INFO;

void
log_set_level(enum log_level level)
{
	log_min = level;
}

int
log_level_parse(const char *name)
{
	int i;

	for (i = 0; i < 4; i++)
		if (strcmp(name, log_names[i]) == 0)
			return i;
	return -1;
}

int
log_enabled(enum log_level level)
{
	return level >= log_min;
}

void
log_write(enum log_level level, const char *event, cJSON *fields)
{
	struct timespec ts;
	struct tm tm;
	char stamp[40], when[48];
	cJSON *line, *field;
	char *text;

	if (!log_enabled(level)) {
		cJSON_Delete(fields);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when, sizeof(when), "%s.%03ldZ", stamp, ts.tv_nsec / 1000000);
	if ((line = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(fields);
		return;
	}
	cJSON_AddStringToObject(line, "time", when);
	cJSON_AddStringToObject(line, "level", log_names[level]);
	cJSON_AddStringToObject(line, "event", event);
	while (fields && (field = fields->child) != NULL) {
		cJSON_DetachItemViaPointer(fields, field);
		cJSON_AddItemToObject(line, field->string, field);
	}
	cJSON_Delete(fields);
	if ((text = cJSON_PrintUnformatted(line)) != NULL) {
		size_t n = strlen(text);
		char *with_newline = realloc(text, n + 2);

		/* One write() per line, so lines from several threads never mix. */
		if (with_newline != NULL) {
			text = with_newline;
			text[n++] = '\n';
			text[n] = '\0';
		}
		fwrite(text, 1, n, stderr);
		free(text);
	}
	cJSON_Delete(line);
}

void
log_message(enum log_level level, const char *event, const char *fmt, ...)
{
	char message[1024];
	cJSON *fields;
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	fields = cJSON_CreateObject();
	if (fields)
		cJSON_AddStringToObject(fields, "message", message);
	log_write(level, event, fields);
}
