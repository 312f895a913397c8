/*
 * workload.c - Kubernetes workload objects to replicas and pool sizes.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "poolguard/spring.h"
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

static const struct workload_kind_info workload_kinds[WORKLOAD_KIND_COUNT] = {
	[WORKLOAD_DEPLOYMENT] = {WORKLOAD_DEPLOYMENT, "deployment", "Deployment", "apps/v1", "apps",
	    "deployments", "/apis/apps/v1"},
	[WORKLOAD_STATEFULSET] = {WORKLOAD_STATEFULSET, "statefulset", "StatefulSet", "apps/v1",
	    "apps", "statefulsets", "/apis/apps/v1"},
};

const struct workload_kind_info *
workload_kind_info(enum workload_kind kind)
{
	if (kind <= WORKLOAD_NONE || kind >= WORKLOAD_KIND_COUNT)
		return NULL;
	return &workload_kinds[kind];
}

enum workload_kind
workload_kind_of_resource(const char *group, const char *resource)
{
	int k;

	for (k = WORKLOAD_NONE + 1; k < WORKLOAD_KIND_COUNT; k++)
		if (strcmp(workload_kinds[k].group, group) == 0 &&
		    strcmp(workload_kinds[k].plural, resource) == 0)
			return (enum workload_kind)k;
	return WORKLOAD_NONE;
}

enum workload_kind
workload_kind_by_name(const char *object_kind)
{
	int k;

	for (k = WORKLOAD_NONE + 1; k < WORKLOAD_KIND_COUNT; k++)
		if (strcmp(workload_kinds[k].object_kind, object_kind) == 0)
			return (enum workload_kind)k;
	return WORKLOAD_NONE;
}

enum workload_kind
workload_kind_of(const cJSON *object)
{
	const char *api = workload_string(object, "apiVersion");
	const char *kind = workload_string(object, "kind");
	enum workload_kind k;

	if (api == NULL || kind == NULL || (k = workload_kind_by_name(kind)) == WORKLOAD_NONE)
		return WORKLOAD_NONE;
	return strcmp(api, workload_kinds[k].api_version) == 0 ? k : WORKLOAD_NONE;
}

const char *
workload_kind_name(enum workload_kind kind)
{
	const struct workload_kind_info *info = workload_kind_info(kind);

	return info ? info->name : "object";
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

/* Where one pool variable's value comes from, once env and envFrom are weighed. */
struct workload_source {
	int found;		/* the container sets the variable at all */
	const char *value;	/* its value when known */
	int unknown;		/* set, but its value cannot be known */
	int from_configmap;
	char why[96];		/* for unknown: what hides it */
};

static void
workload_source_unknown(struct workload_source *src, const char *fmt, const char *a,
    const char *b)
{
	src->found = 1;
	src->unknown = 1;
	src->value = NULL;
	snprintf(src->why, sizeof(src->why), fmt, a, b);
}

/* A ConfigMap lookup; a missing ConfigMap or key marks the source unknown unless optional. */
static void
workload_configmap_lookup(const struct workload_resolver *resolver, const char *namespace,
    const char *map, const char *key, int optional, int must_exist, struct workload_source *src)
{
	const char *value;
	int map_found = 0;

	src->from_configmap = 1;
	if (resolver == NULL) {
		if (must_exist)
			workload_source_unknown(src, "ConfigMap '%.40s' key '%.40s', not readable here",
			    map, key);
		return;
	}
	value = resolver->configmap_value(resolver->ctx, namespace, map, key, &map_found);
	if (value != NULL) {
		src->found = 1;
		src->unknown = 0;
		src->value = value;
	} else if (!map_found && !optional)
		workload_source_unknown(src, "ConfigMap '%.40s' (missing%.0s)", map, key);
	else if (must_exist && !optional)
		workload_source_unknown(src, "ConfigMap '%.40s' has no key '%.40s'", map, key);
}

/*
 * Weighs where variable name gets its value in a container: the last env
 * entry of that name, else the last envFrom ConfigMap that defines it.
 */
static void
workload_find_source(const cJSON *container, const char *name, const char *namespace,
    const struct workload_resolver *resolver, struct workload_source *src)
{
	const cJSON *entry, *value, *from, *ref, *env_from;
	const char *prefix, *map;
	size_t plen;

	memset(src, 0, sizeof(*src));
	if ((entry = workload_find_env(workload_get(container, "env"), name)) != NULL) {
		src->found = 1;
		value = workload_get(entry, "value");
		from = workload_get(entry, "valueFrom");
		if (value != NULL || from == NULL) {
			src->value = cJSON_IsString(value) ? value->valuestring : NULL;
			if (value != NULL && !cJSON_IsString(value))
				src->value = "(not a string)";
			if (value == NULL)
				src->value = "";
			return;
		}
		if ((ref = workload_get(from, "configMapKeyRef")) != NULL) {
			workload_configmap_lookup(resolver, namespace, workload_string(ref, "name") ?
			    workload_string(ref, "name") : "", workload_string(ref, "key") ?
			    workload_string(ref, "key") : "", cJSON_IsTrue(workload_get(ref,
			    "optional")), 1, src);
			return;
		}
		if ((ref = workload_get(from, "secretKeyRef")) != NULL)
			workload_source_unknown(src, "Secret '%.40s' key '%.40s'",
			    workload_string(ref, "name") ? workload_string(ref, "name") : "",
			    workload_string(ref, "key") ? workload_string(ref, "key") : "");
		else
			workload_source_unknown(src, "a field reference%.0s%.0s", "", "");
		return;
	}
	/* Of several envFrom sources that define the variable, the last wins. */
	env_from = workload_get(container, "envFrom");
	cJSON_ArrayForEach(entry, env_from) {
		prefix = workload_string(entry, "prefix");
		prefix = prefix ? prefix : "";
		plen = strlen(prefix);
		if (strncmp(name, prefix, plen) != 0)
			continue;
		if ((ref = workload_get(entry, "secretRef")) != NULL) {
			/* poolguard never reads Secrets: whether this one sets it is unknown. */
			workload_source_unknown(src, "Secret '%.40s' in envFrom%.0s",
			    workload_string(ref, "name") ? workload_string(ref, "name") : "", "");
			continue;
		}
		if ((ref = workload_get(entry, "configMapRef")) == NULL ||
		    (map = workload_string(ref, "name")) == NULL)
			continue;
		workload_configmap_lookup(resolver, namespace, map, name + plen,
		    cJSON_IsTrue(workload_get(ref, "optional")), 0, src);
	}
}

/*
 * 1 when the deciding source is an environment variable (also when its value
 * is bad), or nothing decides: the env weighing below gives the number and
 * the messages.
 */
static int
workload_spring_env(const struct spring_pool *sp, int result)
{
	if (sp->from_env)
		return 1;
	return !sp->found && result == PG_OK;
}

/* Records the first source that gave a container's pool, for logs and `check -o json`. */
static void
workload_note_source(struct workload *w, const char *source)
{
	if (w->pool_source[0] == '\0')
		snprintf(w->pool_source, sizeof(w->pool_source), "%s", source);
}

/*
 * The pool one container opens, weighed by Spring Boot's property sources;
 * of the environment variables, the first configured one it sets wins.
 * *found is 0 when it sets none.
 */
static int
workload_container_pool(const cJSON *container, const struct config *cfg, struct workload *w,
    const struct workload_resolver *resolver, int *found, long *pool, struct pg_error *err)
{
	const char *cname = workload_string(container, "name");
	const cJSON *env = workload_get(container, "env");
	struct spring_configmaps maps;
	struct workload_source src;
	struct spring_pool sp;
	char what[SPRING_SOURCE_MAX];
	size_t i;
	int result;

	*found = 0;
	/*
	 * Spring Boot's property sources decide; environment variables keep
	 * the weighing below (and its messages), which is the same for them.
	 */
	if (resolver) {
		maps.value = resolver->configmap_value;
		maps.ctx = resolver->ctx;
	}
	result = spring_container_pool(container, w->pod_spec, w->namespace,
	    (const char *const *)cfg->pool_size_variables, cfg->pool_size_variable_count,
	    resolver ? &maps : NULL, &sp, err);
	w->uses_configmaps |= sp.from_configmap;
	if (result == PG_ERR_NOMEM)
		return result;
	if (!workload_spring_env(&sp, result)) {
		if (result)
			return result;
		if (!sp.found)
			return PG_OK;
		*found = 1;
		workload_note_source(w, sp.source);
		if (sp.unknown) {
			*pool = cfg->default_pool_size;
			w->pool_unknown = 1;
			snprintf(w->note, sizeof(w->note), "pool size counted as defaultPoolSize %ld: "
			    "container '%.32s' takes it from %s", cfg->default_pool_size,
			    cname ? cname : "?", sp.source);
		} else
			*pool = sp.pool;
		return PG_OK;
	}
	if (env != NULL && !cJSON_IsNull(env) && !cJSON_IsArray(env))
		return pg_error_set(err, PG_ERR_INVALID, "container '%s': env must be a list",
		    cname ? cname : "?");
	for (i = 0; i < cfg->pool_size_variable_count; i++) {
		workload_find_source(container, cfg->pool_size_variables[i], w->namespace, resolver,
		    &src);
		w->uses_configmaps |= src.from_configmap;
		if (!src.found)
			continue;
		*found = 1;
		if (src.unknown || !workload_pool_value(src.value, pool)) {
			snprintf(what, sizeof(what), "env %s", cfg->pool_size_variables[i]);
			workload_note_source(w, what);
		}
		if (src.unknown) {
			*pool = cfg->default_pool_size;
			w->pool_unknown = 1;
			snprintf(w->note, sizeof(w->note), "pool size counted as defaultPoolSize %ld: "
			    "container '%.32s' takes it from %s", cfg->default_pool_size,
			    cname ? cname : "?", src.why);
			return PG_OK;
		}
		if (workload_pool_value(src.value, pool))
			return pg_error_set(err, PG_ERR_INVALID, "container '%s' env %s: value '%.40s'%s "
			    "is not a positive integer string (1 to %ld)", cname ? cname : "?",
			    cfg->pool_size_variables[i], src.value ? src.value : "",
			    src.from_configmap ? " (from a ConfigMap)" : "", WORKLOAD_MAX_POOL_SIZE);
		return PG_OK;
	}
	return PG_OK;
}

int
workload_reads_configmap(const cJSON *pod_spec, const char *name)
{
	const cJSON *container, *entry, *ref, *source;
	const char *map;

	cJSON_ArrayForEach(container, workload_get(pod_spec, "containers")) {
		cJSON_ArrayForEach(entry, workload_get(container, "env")) {
			ref = workload_get(workload_get(entry, "valueFrom"), "configMapKeyRef");
			if ((map = workload_string(ref, "name")) != NULL && strcmp(map, name) == 0)
				return 1;
		}
		cJSON_ArrayForEach(entry, workload_get(container, "envFrom")) {
			ref = workload_get(entry, "configMapRef");
			if ((map = workload_string(ref, "name")) != NULL && strcmp(map, name) == 0)
				return 1;
		}
	}
	cJSON_ArrayForEach(entry, workload_get(pod_spec, "volumes")) {
		ref = workload_get(entry, "configMap");
		if ((map = workload_string(ref, "name")) != NULL && strcmp(map, name) == 0)
			return 1;
		cJSON_ArrayForEach(source, workload_get(workload_get(entry, "projected"),
		    "sources")) {
			ref = workload_get(source, "configMap");
			if ((map = workload_string(ref, "name")) != NULL && strcmp(map, name) == 0)
				return 1;
		}
	}
	return 0;
}

/*
 * A native sidecar: an init container with restartPolicy Always keeps running
 * beside the app containers for the pod's whole life (Kubernetes 1.28+).
 */
int
workload_is_sidecar(const cJSON *container)
{
	const char *policy = workload_string(container, "restartPolicy");

	return policy != NULL && strcmp(policy, "Always") == 0;
}

int
workload_resolve_pool(struct workload *w, const struct config *cfg,
    const struct workload_resolver *resolver, struct pg_error *err)
{
	const cJSON *container;
	char what[300];
	long pool = 0;
	const cJSON *lists[2];
	int found, result, any = 0, list;

	w->pool_per_pod = 0;
	w->pool_is_default = 0;
	w->pool_unknown = 0;
	w->uses_configmaps = 0;
	w->note[0] = '\0';
	w->pool_source[0] = '\0';
	lists[0] = w->containers;
	lists[1] = w->init_containers;
	for (list = 0; list < 2; list++)
		cJSON_ArrayForEach(container, lists[list]) {
			if (list && !workload_is_sidecar(container))
				continue;	/* runs to completion before the app starts */
			result = workload_container_pool(container, cfg, w, resolver, &found, &pool,
			    err);
			if (result) {
				snprintf(what, sizeof(what), "%s %s/%s", workload_kind_name(w->kind),
				    w->namespace, w->name);
				pg_error_prefix(err, "%s", what);
				return result;
			}
			if (found) {
				w->pool_per_pod += pool;
				if (w->pool_per_pod > WORKLOAD_MAX_POOL_PER_POD)
					w->pool_per_pod = WORKLOAD_MAX_POOL_PER_POD;
				any = 1;
			}
		}
	if (!any) {
		w->pool_per_pod = cfg->default_pool_size;
		w->pool_is_default = 1;
	}
	return PG_OK;
}

int
workload_from_object(const cJSON *object, const struct config *cfg,
    const char *default_namespace, const struct workload_resolver *resolver,
    struct workload *out, struct pg_error *err)
{
	const cJSON *metadata, *spec, *pod_spec, *containers, *labels, *generation;
	char what[300];
	int result;

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
	generation = workload_get(metadata, "generation");
	if (cJSON_IsNumber(generation) && generation->valuedouble >= 1 &&
	    generation->valuedouble < 9e15)
		out->generation = (long)generation->valuedouble;
	out->resource_version = workload_string(metadata, "resourceVersion");
	if (out->resource_version == NULL)
		out->resource_version = "";
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
	out->containers = containers;
	out->pod_spec = pod_spec;
	containers = workload_get(pod_spec, "initContainers");
	if (containers != NULL && !cJSON_IsNull(containers) && !cJSON_IsArray(containers))
		return pg_error_set(err, PG_ERR_INVALID, "%s: spec.template.spec.initContainers "
		    "must be a list", what);
	out->init_containers = containers;
	return workload_resolve_pool(out, cfg, resolver, err);
}
