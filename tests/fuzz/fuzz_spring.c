/*
 * fuzz_spring.c - libFuzzer target: the bytes are a Spring config file (the first byte picks
 * application.yml, application-prod.properties or SPRING_APPLICATION_JSON), read by
 * spring_container_pool() for a fixed pod that mounts it, once as it is and once as its
 * spring_digest(). Both must agree on the outcome unless the digest could not be kept whole;
 * a digest must fit its buffer and start with SPRING_DIGEST_MARK.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "poolguard/error.h"
#include "poolguard/spring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = {"application.yml", "application-prod.properties", "json"};

static const char pod_text[] = "{\"containers\": [{\"name\": \"app\", \"env\": ["
    "{\"name\": \"SPRING_PROFILES_ACTIVE\", \"value\": \"prod,eu\"},"
    "{\"name\": \"POOL\", \"value\": \"12\"},"
    "{\"name\": \"SPRING_APPLICATION_JSON\", \"valueFrom\": {\"configMapKeyRef\": "
    "{\"name\": \"cfg\", \"key\": \"json\", \"optional\": true}}}],"
    "\"volumeMounts\": [{\"name\": \"cfg\", \"mountPath\": \"/config\"}]}],"
    "\"volumes\": [{\"name\": \"cfg\", \"configMap\": {\"name\": \"cfg\"}}]}";

struct lookup {
	const char *key;
	const char *value;
};

static int
same_format(const char *key, const char *ext)
{
	size_t n = strlen(key), m = strlen(ext);

	return n >= m && strcmp(key + n - m, ext) == 0;
}

static const char *
lookup_value(void *ctx, const char *namespace, const char *name, const char *key, int *map_found)
{
	const struct lookup *l = ctx;

	(void)namespace;
	(void)name;
	*map_found = 1;
	/* Any key of the same format (an import, a profile variant) finds the same text. */
	if (strcmp(key, l->key) == 0 || (same_format(key, ".properties") &&
	    same_format(l->key, ".properties")) || ((same_format(key, ".yml") ||
	    same_format(key, ".yaml")) && same_format(l->key, ".yml")))
		return l->value;
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cJSON *pod;
	struct spring_pool full, digested;
	struct pg_error err;
	struct lookup l;
	struct spring_configmaps maps = {lookup_value, &l};
	const cJSON *container;
	char *text, digest[SPRING_DIGEST_MAX];
	int a, b;

	if (size < 1)
		return 0;
	if (pod == NULL && (pod = cJSON_Parse(pod_text)) == NULL)
		abort();
	container = cJSON_GetArrayItem(cJSON_GetObjectItem(pod, "containers"), 0);
	if ((text = malloc(size)) == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	l.key = keys[data[0] % 3];
	l.value = text;
	a = spring_container_pool(container, pod, "ns", NULL, 0, &maps, &full, &err);
	if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL && a != PG_OK)
		abort();
	if (spring_digest(l.key, text, digest, sizeof(digest), &err) != PG_OK)
		abort();
	if (strncmp(digest, SPRING_DIGEST_MARK, strlen(SPRING_DIGEST_MARK)) != 0 &&
	    !(digest[0] == '\0' && data[0] % 3 == 2))
		abort();	/* a file key always digests; JSON only when it looks like JSON */
	if (digest[0] != '\0' && strstr(digest, "#!unknown") == NULL) {
		l.value = digest;
		b = spring_container_pool(container, pod, "ns", NULL, 0, &maps, &digested, &err);
		if (a != b || (a == PG_OK && (full.found != digested.found ||
		    full.pool != digested.pool || full.unknown != digested.unknown)))
			abort();
	}
	free(text);
	return 0;
}
