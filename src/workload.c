/*
 * workload.c - Kubernetes workload objects to replicas and pool sizes.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "poolguard/workload.h"

static const cJSON *
workload_get(const cJSON *object, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(object, key);
}

static const char *
workload_string(const cJSON *object, const char *key)
{
	const cJSON *item = workload_get(object, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

enum workload_kind
workload_kind_of(const cJSON *object)
{
	const char *api = workload_string(object, "apiVersion");
	const char *kind = workload_string(object, "kind");

	if (api == NULL || kind == NULL || strcmp(api, "apps/v1") != 0)
		return WORKLOAD_NONE;
	if (strcmp(kind, "Deployment") == 0)
		return WORKLOAD_DEPLOYMENT;
	if (strcmp(kind, "StatefulSet") == 0)
		return WORKLOAD_STATEFULSET;
	return WORKLOAD_NONE;
}

const char *
workload_kind_name(enum workload_kind kind)
{
	switch (kind) {
	case WORKLOAD_DEPLOYMENT:
		return "deployment";
	case WORKLOAD_STATEFULSET:
		return "statefulset";
	default:
		return "object";
	}
}

const char *
workload_label(const void *labels, const char *key)
{
	return labels ? workload_string(labels, key) : NULL;
}

/* A replica count: absent or null is fallback, otherwise a whole number in range. */
static int
workload_replicas(const cJSON *spec, long fallback, const char *what, long *out,
    struct pg_error *err)
{
	const cJSON *replicas = workload_get(spec, "replicas");

	if (replicas == NULL || cJSON_IsNull(replicas)) {
		*out = fallback;
		return PG_OK;
	}
	if (!cJSON_IsNumber(replicas) || replicas->valuedouble < 0 ||
	    replicas->valuedouble > WORKLOAD_MAX_REPLICAS ||
	    replicas->valuedouble != floor(replicas->valuedouble))
		return pg_error_set(err, PG_ERR_INVALID, "%s: spec.replicas must be a whole number "
		    "from 0 to %ld", what, WORKLOAD_MAX_REPLICAS);
	*out = (long)replicas->valuedouble;
	return PG_OK;
}

int
workload_scale_replicas(const cJSON *scale, long *out, struct pg_error *err)
{
	return workload_replicas(workload_get(scale, "spec"), 0, "scale", out, err);
}

long
workload_connections(const struct workload *w)
{
	return w->replicas * w->pool_per_pod;
}

/* The last env entry named name in a container, as Kubernetes applies them. */
static const cJSON *
workload_find_env(const cJSON *env, const char *name)
{
	const cJSON *entry, *found = NULL;
	const char *entry_name;

	cJSON_ArrayForEach(entry, env) {
		entry_name = workload_string(entry, "name");
		if (entry_name && strcmp(entry_name, name) == 0)
			found = entry;
	}
	return found;
}

/* A positive integer string, "20"; anything else, "20 ", "+20", "0", "abc", is refused. */
static int
workload_pool_value(const char *s, long *out)
{
	long v = 0;
	size_t i;

	if (s == NULL || s[0] == '\0')
		return -1;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > WORKLOAD_MAX_POOL_SIZE)
			return -1;
	}
	if (v <= 0)
		return -1;
	*out = v;
	return 0;
}

/*
 * The pool one container opens: the first configured variable it sets wins.
 * *found is 0 when it sets none.
 */
static int
workload_container_pool(const cJSON *container, const struct config *cfg, struct workload *w,
    int *found, long *pool, struct pg_error *err)
{
	const cJSON *env = workload_get(container, "env"), *entry, *value;
	const char *cname = workload_string(container, "name");
	size_t i;

	*found = 0;
	if (env == NULL || cJSON_IsNull(env))
		return PG_OK;
	if (!cJSON_IsArray(env))
		return pg_error_set(err, PG_ERR_INVALID, "container '%s': env must be a list",
		    cname ? cname : "?");
	for (i = 0; i < cfg->pool_size_variable_count; i++) {
		if ((entry = workload_find_env(env, cfg->pool_size_variables[i])) == NULL)
			continue;
		*found = 1;
		value = workload_get(entry, "value");
		if (value == NULL && workload_get(entry, "valueFrom") != NULL) {
			*pool = cfg->default_pool_size;
			snprintf(w->note, sizeof(w->note), "container '%.40s' sets %.48s by reference; "
			    "counted as defaultPoolSize %ld", cname ? cname : "?",
			    cfg->pool_size_variables[i], cfg->default_pool_size);
			return PG_OK;
		}
		if (!cJSON_IsString(value) || workload_pool_value(value->valuestring, pool))
			return pg_error_set(err, PG_ERR_INVALID, "container '%s' env %s: value %s%.40s%s "
			    "is not a positive integer string (1 to %ld)", cname ? cname : "?",
			    cfg->pool_size_variables[i], cJSON_IsString(value) ? "'" : "",
			    cJSON_IsString(value) ? value->valuestring : value == NULL ? "(none)" :
			    "of the wrong type", cJSON_IsString(value) ? "'" : "",
			    WORKLOAD_MAX_POOL_SIZE);
		return PG_OK;
	}
	return PG_OK;
}

int
workload_from_object(const cJSON *object, const struct config *cfg,
    const char *default_namespace, struct workload *out, struct pg_error *err)
{
	const cJSON *metadata, *spec, *pod_spec, *containers, *container, *labels;
	char what[300];
	long pool = 0;
	int found, result, any = 0;

	memset(out, 0, sizeof(*out));
	if ((out->kind = workload_kind_of(object)) == WORKLOAD_NONE)
		return pg_error_set(err, PG_ERR_UNSUPPORTED, "not an apps/v1 Deployment or StatefulSet");
	metadata = workload_get(object, "metadata");
	out->name = workload_string(metadata, "name");
	if (out->name == NULL || out->name[0] == '\0')
		out->name = workload_string(metadata, "generateName");
	if (out->name == NULL)
		out->name = "";
	out->namespace = workload_string(metadata, "namespace");
	if (out->namespace == NULL || out->namespace[0] == '\0')
		out->namespace = default_namespace && default_namespace[0] ? default_namespace :
		    "default";
	labels = workload_get(metadata, "labels");
	out->labels = cJSON_IsObject(labels) ? labels : NULL;
	snprintf(what, sizeof(what), "%s %s/%s", workload_kind_name(out->kind), out->namespace,
	    out->name);

	spec = workload_get(object, "spec");
	if ((result = workload_replicas(spec, 1, what, &out->replicas, err)))
		return result;
	pod_spec = workload_get(workload_get(spec, "template"), "spec");
	containers = workload_get(pod_spec, "containers");
	if (containers != NULL && !cJSON_IsArray(containers))
		return pg_error_set(err, PG_ERR_INVALID, "%s: spec.template.spec.containers must be "
		    "a list", what);
	cJSON_ArrayForEach(container, containers) {
		result = workload_container_pool(container, cfg, out, &found, &pool, err);
		if (result) {
			pg_error_prefix(err, "%s", what);
			return result;
		}
		if (found) {
			out->pool_per_pod += pool;
			any = 1;
		}
	}
	if (!any) {
		out->pool_per_pod = cfg->default_pool_size;
		out->pool_is_default = 1;
	}
	return PG_OK;
}
