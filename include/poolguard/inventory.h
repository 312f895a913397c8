/*
 * inventory.h - the workloads a change is judged against, with per-role sums.
 *
 * The inventory maps (kind, namespace, name) to what a workload holds and
 * keeps the sum of connections per role up to date on every put and remove,
 * so judging a change costs the same with ten workloads or a hundred thousand.
 * It is filled from manifests (--inventory) and, later, from the API server.
 * Not thread-safe: a caller that shares one between threads locks around it.
 */
#ifndef POOLGUARD_INVENTORY_H
#define POOLGUARD_INVENTORY_H

#include <stddef.h>

#include "poolguard/config.h"
#include "poolguard/error.h"
#include "poolguard/manifest.h"
#include "poolguard/workload.h"

struct inventory_entry {
	enum workload_kind kind;
	char *namespace;
	char *name;
	int role;		/* -1: outside the budget */
	long replicas;
	long pool_per_pod;
	struct inventory_entry *next;	/* hash chain */
};

struct inventory;

/* A new, empty inventory for cfg's roles; cfg must outlive it. NULL when out of memory. */
struct inventory *inventory_new(const struct config *cfg);

/* inventory_free(NULL) does nothing. */
void inventory_free(struct inventory *inv);

/* Inserts or replaces the entry of (kind, namespace, name); the strings are copied. */
int inventory_put(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, int role, long replicas, long pool_per_pod);

/* Removes the entry if present. */
void inventory_remove(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name);

/* The entry of (kind, namespace, name), or NULL; valid until the next put or remove. */
const struct inventory_entry *inventory_get(const struct inventory *inv, enum workload_kind kind,
    const char *namespace, const char *name);

/* Per role (cfg->role_count entries): the connections of the workloads it manages. */
const long *inventory_role_usage(const struct inventory *inv);

size_t inventory_count(const struct inventory *inv);

/*
 * Adds every Deployment and StatefulSet of set; other kinds are skipped.
 * Objects without a namespace take default_namespace. A workload with a bad
 * pool value fails the whole call with err naming the object and its source;
 * on failure the entries added so far stay (the caller discards the inventory).
 */
int inventory_add_manifests(struct inventory *inv, const struct manifest_set *set,
    const char *default_namespace, struct pg_error *err);

#endif
