/*
 * inventory.h - the state a change is judged against: workloads, the
 * autoscalers that set their ceilings, the ConfigMaps their pool sizes come
 * from, and reservations for changes admitted but not yet seen.
 *
 * The inventory keeps the sum of connections per role up to date on every
 * change, so judging costs the same with ten workloads or a hundred thousand.
 * It is filled from manifests (--inventory, `check`) or from the API server
 * (live.c). Not thread-safe: a caller sharing one between threads locks.
 */
#ifndef POOLGUARD_INVENTORY_H
#define POOLGUARD_INVENTORY_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "poolguard/budget.h"
#include "poolguard/config.h"
#include "poolguard/error.h"
#include "poolguard/manifest.h"
#include "poolguard/workload.h"

struct inventory_entry {
	enum workload_kind kind;
	char *namespace;
	char *name;
	int present;		/* the workload exists (not only a reservation) */
	int role;		/* -1: outside the budget */
	long replicas;		/* spec.replicas */
	long pool_per_pod;
	long hpa_max_replicas;	/* the autoscaler ceiling counted instead of replicas, 0: none */
	int pool_unknown;	/* counted defaultPoolSize for a value it could not read */
	cJSON *containers;	/* names, env and envFrom, kept when the pool depends on ConfigMaps */

	int reserved;		/* an admitted change the inventory has not seen yet */
	int reserved_role;
	long reserved_connections;
	double reserved_until;	/* monotonic seconds */

	struct budget_holding counted;	/* what the per-role sums hold for it */
	struct inventory_entry *next;
	struct inventory_entry *reserved_next;
};

struct inventory;

/* A new, empty inventory for cfg's roles; cfg must outlive it. NULL when out of memory. */
struct inventory *inventory_new(const struct config *cfg);

/* inventory_free(NULL) does nothing. */
void inventory_free(struct inventory *inv);

/* The budget the inventory counts for. */
const struct config *inventory_config(const struct inventory *inv);

/*
 * Inserts or replaces a workload from its parsed facts; role is the role it
 * belongs to. Its autoscaler ceiling comes from the HPAs already known. A
 * reservation for it ends when the stored state shows what was reserved.
 */
int inventory_put_workload(struct inventory *inv, const struct workload *w, int role);

/* Inserts or replaces a workload from bare numbers (tests, simple callers). */
int inventory_put(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, int role, long replicas, long pool_per_pod);

/* Removes a workload if present (a reservation for it stays until it expires). */
void inventory_remove(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name);

/* The entry of (kind, namespace, name), or NULL; valid until the next change. */
const struct inventory_entry *inventory_get(const struct inventory *inv, enum workload_kind kind,
    const char *namespace, const char *name);

/* Pods counted for an entry: its autoscaler's maxReplicas when it has one, else replicas. */
long inventory_entry_pods(const struct inventory_entry *e);

/* What an entry holds in the budget: a live reservation, else its stored state. */
struct budget_holding inventory_entry_holding(const struct inventory_entry *e);

/* Per role (cfg->role_count entries): connections held, reservations included. */
const long *inventory_role_usage(const struct inventory *inv);

/* Workloads present. */
size_t inventory_count(const struct inventory *inv);

/*
 * An HPA in namespace named name scaling target (a workload kind and name)
 * up to max_replicas. Ignored when the budget sets countHpaMaxReplicas: false.
 */
int inventory_put_hpa(struct inventory *inv, const char *namespace, const char *name,
    enum workload_kind target_kind, const char *target, long max_replicas);
void inventory_remove_hpa(struct inventory *inv, const char *namespace, const char *name);

/* The maxReplicas counted for a workload, 0 when no HPA counts for it. */
long inventory_hpa_max(const struct inventory *inv, enum workload_kind kind,
    const char *namespace, const char *name);

/*
 * A ConfigMap's data (a cJSON object of strings; only short values are kept).
 * Workloads whose pool sizes depend on it are recomputed.
 */
int inventory_put_configmap(struct inventory *inv, const char *namespace, const char *name,
    const cJSON *data);
void inventory_remove_configmap(struct inventory *inv, const char *namespace, const char *name);

/* The resolver that reads pool variables from the inventory's ConfigMaps. */
struct workload_resolver inventory_resolver(const struct inventory *inv);

/*
 * Holds connections for an admitted change until the stored state shows them
 * or until (monotonic seconds) passes, so two changes that fit alone but not
 * together cannot both pass.
 */
int inventory_reserve(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, int role, long connections, double until);

/* Ends the reservations whose time has passed. */
void inventory_expire(struct inventory *inv, double now);

/* Reservations in force. */
size_t inventory_reservations(const struct inventory *inv);

/*
 * Reads an object of any kind into the inventory: Deployments and
 * StatefulSets, autoscaling HPAs and ConfigMaps; other kinds are skipped.
 * Objects without a namespace take default_namespace.
 */
int inventory_add_object(struct inventory *inv, const cJSON *object,
    const char *default_namespace, struct pg_error *err);

/*
 * Adds every object of set: ConfigMaps first, then HPAs, then workloads, so
 * references resolve whatever the order of the files. A workload with a bad
 * pool value fails the call with err naming the object and where it came from.
 */
int inventory_add_manifests(struct inventory *inv, const struct manifest_set *set,
    const char *default_namespace, struct pg_error *err);

/* Reads an HPA's target and maxReplicas; PG_ERR_UNSUPPORTED when it targets no workload kind. */
int inventory_hpa_target(const cJSON *hpa, enum workload_kind *kind, const char **target,
    long *max_replicas, struct pg_error *err);

#endif
