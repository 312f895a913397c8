/*
 * spring.h - the HikariCP pool size a Spring Boot container ends up with.
 *
 * Spring Boot reads spring.datasource.hikari.maximum-pool-size from many
 * property sources; the highest one that sets it wins. This module weighs the
 * ones a pod spec shows, highest first, as Spring Boot's "Externalized
 * Configuration" documents them (docs.spring.io/spring-boot/reference/
 * features/external-config.html):
 *
 *   1. command-line arguments (--name=value in args, or after `-jar x.jar`
 *      or the main class of a java command)
 *   2. SPRING_APPLICATION_JSON (env), or spring.application.json
 *   3. Java system properties: -D in the java command, _JAVA_OPTIONS,
 *      JDK_JAVA_OPTIONS, JAVA_TOOL_OPTIONS (the JVM's own order)
 *   4. environment variables, with relaxed binding
 *   5. config data: application[-profile].{properties,yml,yaml} in ConfigMaps
 *      mounted where Spring looks, spring.config.location / additional-location
 *      / import, profile files above plain ones
 *   6. the budget's poolSizeVariables that relaxed binding does not map to the
 *      property (an application.yml in the jar reading ${DB_POOL}, say)
 *
 * It is pure: no I/O, ConfigMap contents come through a callback. Secrets are
 * never read: a source that comes from one makes the result unknown, unless a
 * higher source already decides it.
 */
#ifndef POOLGUARD_SPRING_H
#define POOLGUARD_SPRING_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "poolguard/error.h"

#define SPRING_MAX_POOL_SIZE 100000L
/* The longest text parsed: a config file, SPRING_APPLICATION_JSON, an options string. */
#define SPRING_MAX_TEXT (1024 * 1024)
/* The most YAML nodes one config file may expand to, aliases counted each time. */
#define SPRING_MAX_YAML_NODES 100000
/* A buffer this long holds any digest; a longer one is written as an "unknown" digest. */
#define SPRING_DIGEST_MAX 1024
/* The smallest buffer spring_digest() accepts. */
#define SPRING_DIGEST_MIN 128
#define SPRING_SOURCE_MAX 128

/* The first line of every digest: how spring_container_pool() tells one from a full file. */
#define SPRING_DIGEST_MARK "#poolguard-spring-digest 1\n"

struct spring_pool {
	int found;		/* some source sets maximum-pool-size (or may: unknown) */
	long pool;		/* its value when found and known, else 0 */
	int unknown;		/* the deciding source cannot be read: found is 1, pool 0 */
	int from_configmap;	/* a ConfigMap was consulted: re-resolve when ConfigMaps change */
	int from_env;		/* the deciding source is an environment variable (or hides one) */
	/*
	 * Which source gave the number or hides it: "args", "SPRING_APPLICATION_JSON",
	 * "JAVA_TOOL_OPTIONS", "env SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE",
	 * "ConfigMap app-config key application-prod.yml (mounted at /config)";
	 * for unknown, what hides it ("Secret 'db' (envFrom)"). "" when not found.
	 */
	char source[SPRING_SOURCE_MAX];
};

/*
 * ConfigMap contents, supplied by the caller: the value of key in ConfigMap
 * namespace/name, or NULL; *map_found says whether the ConfigMap exists. The
 * value may be a full text or its spring_digest(). Strings stay the caller's.
 */
struct spring_configmaps {
	const char *(*value)(void *ctx, const char *namespace, const char *name, const char *key,
	    int *map_found);
	void *ctx;
};

/*
 * The effective maximum-pool-size of one container. container is an element
 * of a pod spec's containers (or initContainers), pod_spec the pod spec that
 * holds its volumes; both borrowed. pool_variables are the budget's
 * poolSizeVariables (env names, in order of precedence). maps may be NULL:
 * then every ConfigMap is unknown.
 *
 * Returns PG_OK and fills out (found 0 when no source sets the property), or
 * PG_ERR_INVALID when the deciding value is not an integer 1 to
 * SPRING_MAX_POOL_SIZE, or a file Spring would load is not valid YAML, JSON
 * or a placeholder cannot be resolved; err names the container, the source
 * and the value. PG_ERR_NOMEM when memory runs out.
 */
int spring_container_pool(const cJSON *container, const cJSON *pod_spec, const char *namespace,
    const char *const *pool_variables, size_t pool_variable_count,
    const struct spring_configmaps *maps, struct spring_pool *out, struct pg_error *err);

/*
 * Reduces a ConfigMap value Spring may read as a config file or as JSON to
 * what spring_container_pool() needs, so that an inventory can keep short
 * values: SPRING_DIGEST_MARK, then the properties that matter (the pool size,
 * spring.profiles.*, spring.config.import and the document conditions) in
 * .properties form, documents separated by "#---". A file that does not
 * parse digests to a line that makes it fail the same way when it is read.
 *
 * Wanted: key ends in .properties, .yml or .yaml (any name: spring.config.location
 * and import can name any file), or text is a JSON object (SPRING_APPLICATION_JSON
 * by configMapKeyRef under any key). For any other value out is "" and the
 * caller keeps the value as it does today. A digest longer than size is
 * replaced by one that reads as unknown. Returns PG_OK, or PG_ERR_TOOBIG when
 * size < SPRING_DIGEST_MIN, PG_ERR_NOMEM.
 */
int spring_digest(const char *key, const char *text, char *out, size_t size,
    struct pg_error *err);

#endif
