/*
 * workload.h - Deployment, StatefulSet and Scale objects to the facts the budget needs.
 *
 * A workload is what a role's connections are made of: how many pods it
 * runs and how many connections each pod opens (the sum of the pool sizes
 * its containers set). Strings and labels are borrowed from the cJSON object
 * the workload was read from and stay valid as long as that object does.
 */
#ifndef POOLGUARD_WORKLOAD_H
#define POOLGUARD_WORKLOAD_H

#include <cjson/cJSON.h>

#include "poolguard/config.h"
#include "poolguard/error.h"

#define WORKLOAD_MAX_REPLICAS 1000000L
#define WORKLOAD_MAX_POOL_SIZE 100000L
/* Pools of many containers add up; their sum stops here (far past any limit, short of overflow). */
#define WORKLOAD_MAX_POOL_PER_POD 1000000000L
#define WORKLOAD_NOTE_MAX 160

enum workload_kind {
	WORKLOAD_NONE = 0,	/* not a kind poolguard counts */
	WORKLOAD_DEPLOYMENT,
	WORKLOAD_STATEFULSET,
	WORKLOAD_KIND_COUNT
};

/*
 * What Kubernetes calls a workload kind, in every form poolguard meets it:
 * in objects (apiVersion, kind), in admission requests (group, resource) and
 * on the API server (path). The one table of these is in workload.c.
 */
struct workload_kind_info {
	enum workload_kind kind;
	const char *name;		/* "deployment", for messages and logs */
	const char *object_kind;	/* "Deployment" */
	const char *api_version;	/* "apps/v1" */
	const char *group;		/* "apps" */
	const char *plural;		/* "deployments", the resource */
	const char *api_path;		/* "/apis/apps/v1" */
};

/* The table entry of a kind; NULL for WORKLOAD_NONE and out-of-range values. */
const struct workload_kind_info *workload_kind_info(enum workload_kind kind);

/* The kind a request addresses by group and resource ("apps", "deployments"), or NONE. */
enum workload_kind workload_kind_of_resource(const char *group, const char *resource);

/* The kind an object names by kind alone ("Deployment"), or NONE; apiVersion is not looked at. */
enum workload_kind workload_kind_by_name(const char *object_kind);

/*
 * Where pool variables set by reference are looked up: the value of key in
 * the ConfigMap namespace/name, or NULL; *map_found says whether the
 * ConfigMap itself exists.
 */
struct workload_resolver {
	const char *(*configmap_value)(void *ctx, const char *namespace, const char *name,
	    const char *key, int *map_found);
	void *ctx;
};

struct workload {
	enum workload_kind kind;
	const char *namespace;
	const char *name;
	const cJSON *labels;	/* metadata.labels, or NULL */
	long generation;	/* metadata.generation, 0: none (a manifest) */
	const char *resource_version;	/* metadata.resourceVersion, "" when none */
	long replicas;
	long pool_per_pod;	/* connections one pod opens */
	int pool_is_default;	/* no container set a pool variable */
	int pool_unknown;	/* a pool variable's value cannot be known (Secret, missing ConfigMap) */
	int uses_configmaps;	/* a pool value came from, or depends on, a ConfigMap */
	const cJSON *containers;	/* spec.template.spec.containers, for re-resolving */
	const cJSON *init_containers;	/* spec.template.spec.initContainers: the sidecars count */
	const cJSON *pod_spec;		/* spec.template.spec: volumes, for mounted config files */
	char pool_source[128];		/* the source that gave the first container's pool, or "" */
	char note[WORKLOAD_NOTE_MAX];	/* a warning worth passing on, or "" */
};

/*
 * The workload kind of an object from its apiVersion and kind: apps/v1
 * Deployment or StatefulSet; WORKLOAD_NONE for anything else.
 */
enum workload_kind workload_kind_of(const cJSON *object);

/* "deployment" or "statefulset". */
const char *workload_kind_name(enum workload_kind kind);

/*
 * Reads a Deployment or StatefulSet object. default_namespace is used when
 * the object has none (a CREATE, or a manifest without metadata.namespace).
 * Replicas absent or null: 1. A pool variable whose value is not a positive
 * integer string is PG_ERR_INVALID, and err names the container and variable.
 *
 * Pool variables set through valueFrom.configMapKeyRef or envFrom.configMapRef
 * (with its prefix) are looked up through resolver (may be NULL: then a
 * configMapKeyRef is unknown and envFrom is not consulted). env overrides
 * envFrom; of several envFrom sources the last wins, as in Kubernetes. A value
 * that cannot be known (a secretKeyRef, a missing ConfigMap or key) counts as
 * defaultPoolSize, sets pool_unknown and is explained in out->note; so does
 * an envFrom Secret whose prefix fits the variable (Secrets are never read).
 * Native sidecars (initContainers with restartPolicy Always) count like
 * containers.
 *
 * On failure out->kind, namespace, name and labels are still filled when the
 * object is a workload at all, so a caller can tell whether a budget role
 * manages it.
 */
int workload_from_object(const cJSON *object, const struct config *cfg,
    const char *default_namespace, const struct workload_resolver *resolver,
    struct workload *out, struct pg_error *err);

/*
 * 1 when a pod spec reads ConfigMap name: a container's env (configMapKeyRef,
 * envFrom) or a volume (configMap, projected).
 */
int workload_reads_configmap(const cJSON *pod_spec, const char *name);

/* 1 for an init container with restartPolicy Always: a native sidecar, counted like a container. */
int workload_is_sidecar(const cJSON *container);

/*
 * Recomputes pool_per_pod, pool_is_default, pool_unknown, uses_configmaps and
 * note of w from w->containers, for instance after a ConfigMap changed.
 */
int workload_resolve_pool(struct workload *w, const struct config *cfg,
    const struct workload_resolver *resolver, struct pg_error *err);

/*
 * Reads spec.replicas of an autoscaling/v1 Scale: absent (scaling to 0
 * leaves spec empty) is 0.
 */
int workload_scale_replicas(const cJSON *scale, long *out, struct pg_error *err);

/* replicas x pool_per_pod. */
long workload_connections(const struct workload *w);

/* Label lookup for budget_role_for(): labels is a cJSON object of strings or NULL. */
const char *workload_label(const void *labels, const char *key);

#endif
