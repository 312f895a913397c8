/*
 * inventory.h - the state a change is judged against: workloads, the
 * autoscalers that set their ceilings, the ConfigMaps their pool sizes come
 * from, and reservations for changes admitted but not yet seen.
 *
 * The inventory keeps the sum of connections per role up to date on every
 * change, so judging costs the same with ten workloads or a hundred thousand.
 * It is filled from manifests (--inventory, `check`) or from the API server
 * (live.c). Not thread-safe: snapshot.c owns the one that threads share and
 * locks it; nothing hands out pointers into it.
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

/* What the inventory knows of one workload, copied out. */
struct inventory_facts {
	int present;		/* the workload exists (not only a reservation) */
	int role;		/* -1: outside the budget */
	long replicas;		/* spec.replicas */
	long hpa_max_replicas;	/* the autoscaler ceiling, 0: none */
	long pods;		/* counted: the larger of replicas and the ceiling */
	long pool_per_pod;
	int pool_unknown;	/* counted defaultPoolSize for a value it could not read */
	size_t reservations;	/* admitted changes not yet seen */
	long generation;	/* metadata.generation stored, 0: unknown */
	char resource_version[32];	/* metadata.resourceVersion stored, "" unknown */
};

#define INVENTORY_RESERVATIONS_MAX 8	/* per workload; a ninth replaces the one ending first */

/* The most one workload adds to a sum: far past any limit, and many still fit in a long. */
#define INVENTORY_HOLDING_MAX 1000000000000L

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

/*
 * Copies what the inventory holds of (kind, namespace, name) into out and
 * returns 1 when the workload is present; 0 (out says role -1, nothing
 * present) when it is not.
 */
int inventory_lookup(const struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, struct inventory_facts *out);

/*
 * The connections the role sums hold for a workload in role: its stored
 * state when it is in that role, or the largest reservation there if larger.
 */
long inventory_held(const struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, int role);

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
 * The pods counted for a workload at replicas: while an HPA targets it, the
 * larger of replicas and the HPA's maxReplicas (the controller clamps a
 * workload above its ceiling only on its next sync).
 */
long inventory_counted_pods(const struct inventory *inv, enum workload_kind kind,
    const char *namespace, const char *name, long replicas);

/*
 * A ConfigMap's data (a cJSON object of strings; only short values are kept).
 * Workloads whose pool sizes depend on it are recomputed.
 */
int inventory_put_configmap(struct inventory *inv, const char *namespace, const char *name,
    const cJSON *data);
void inventory_remove_configmap(struct inventory *inv, const char *namespace, const char *name);

/*
 * A workload whose pool depends on ConfigMaps, as inventory_foreach_dependent
 * shows it; strings and containers are borrowed for the call.
 */
struct inventory_dependent {
	enum workload_kind kind;
	const char *namespace;
	const char *name;
	int role;
	long pods;
	long pool_per_pod;
	long held;			/* what the sums hold for it in its role */
	const cJSON *pod_spec;		/* containers and sidecars that count, in one list, and
					   the volumes */
};

/* Calls fn for every workload in namespace whose pool depends on ConfigMaps. */
void inventory_foreach_dependent(const struct inventory *inv, const char *namespace,
    void (*fn)(void *arg, const struct inventory_dependent *d), void *arg);

/* The data a ConfigMap held (short values only, see inventory_put_configmap), or NULL. */
const cJSON *inventory_configmap(const struct inventory *inv, const char *namespace,
    const char *name);

/* The resolver that reads pool variables from the inventory's ConfigMaps. */
struct workload_resolver inventory_resolver(const struct inventory *inv);

/*
 * Holds connections for an admitted change until the stored state shows them
 * or until (monotonic seconds) passes, so two changes that fit alone but not
 * together cannot both pass. A reservation only ever adds: in each role a
 * workload holds the larger of its stored state and its reservations there,
 * so a change that is admitted but never stored (or a forged one) can keep
 * connections counted a while, but never takes any away. The same hold
 * again (role and connections) only extends the one there, and a hold the
 * stored state shows already is not kept: shared reservations are read
 * again and again.
 */
int inventory_reserve(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, int role, long connections, double until);

/*
 * inventory_reserve for an entry of the shared Lease, which every increase
 * reads again: an entry this inventory has seen stored (the stored state
 * showed it, here or when it was read) is not held again, so a workload
 * scaled down after its raise was stored is counted as it is, not at the
 * raise, even while the entry stays in the Lease.
 */
int inventory_reserve_shared(struct inventory *inv, enum workload_kind kind,
    const char *namespace, const char *name, int role, long connections, long generation,
    double until);

/*
 * inventory_reserve for an admitted change that will give the stored
 * workload metadata.generation generation (0: unknown). It also ends once the
 * stored workload has that generation or a later one: the change is stored,
 * or a later change was, and that one was judged on its own. A shared entry
 * with a generation the stored workload has reached is not held at all.
 */
int inventory_reserve_generation(struct inventory *inv, enum workload_kind kind,
    const char *namespace, const char *name, int role, long connections, long generation,
    double until);

/* Ends the reservations whose time has passed (until <= now). */
void inventory_expire(struct inventory *inv, double now);

/* Reservations in force. */
size_t inventory_reservations(const struct inventory *inv);

/*
 * Reads an object of any kind into the inventory: Deployments and
 * StatefulSets, autoscaling HPAs and ConfigMaps; other kinds are skipped.
 * Objects without a namespace take default_namespace. A workload with a bad
 * pool value fails with err saying why, and is not stored.
 */
int inventory_add_object(struct inventory *inv, const cJSON *object,
    const char *default_namespace, struct pg_error *err);

/*
 * Applies an object the cluster holds, as a watch delivers it: like
 * inventory_add_object, but what exists is counted even when it is bad
 * input. A workload with a bad pool value is counted at defaultPoolSize, an
 * HPA without a valid target stops counting. Returns PG_ERR_INVALID with err
 * saying why when the object was bad (it is applied all the same).
 */
int inventory_apply_object(struct inventory *inv, const cJSON *object, struct pg_error *err);

/* Removes the object of kind ("Deployment", "ConfigMap", ...) namespace/name, if held. */
void inventory_remove_object(struct inventory *inv, const char *kind, const char *namespace,
    const char *name);

/*
 * Adds every object of set: ConfigMaps first, then HPAs, then workloads, so
 * references resolve whatever the order of the files. A workload with a bad
 * pool value fails the call with err naming the object and where it came from.
 */
int inventory_add_manifests(struct inventory *inv, const struct manifest_set *set,
    const char *default_namespace, struct pg_error *err);

/*
 * Reads an HPA's target and maxReplicas; PG_ERR_UNSUPPORTED when it targets
 * no workload kind: scaleTargetRef's kind and the group of its apiVersion
 * must be a workload's ("apps"), or the HPA controller cannot act on it.
 */
int inventory_hpa_target(const cJSON *hpa, enum workload_kind *kind, const char **target,
    long *max_replicas, struct pg_error *err);

#endif
