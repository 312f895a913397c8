/*
 * inventory.c - workloads, HPAs, ConfigMaps and reservations, with per-role sums.
 *
 * Every change to an entry goes through inventory_recount(), which takes the
 * entry's old contribution out of the role sums and puts the new one in; the
 * sums are therefore always the totals the engine needs, in O(1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolguard/inventory.h"
#include "poolguard/spring.h"
#include "poolguard/table.h"

/* The longest ConfigMap value kept: pool sizes are short numbers. */
#define INVENTORY_CONFIGMAP_VALUE_MAX 64

/* Holds the stored state has shown, remembered per workload so a shared entry read again is not. */
#define INVENTORY_SETTLED_MAX 4

/* An admitted change not yet seen: role and connections it will hold, until when. */
struct inventory_reservation {
	int role;
	long connections;
	long generation;		/* the stored generation that shows it, 0: unknown */
	double until;			/* monotonic seconds */
	struct budget_holding counted;	/* what it adds to the sums beyond the stored state */
};

struct inventory_entry {
	enum workload_kind kind;
	char *namespace;
	char *name;
	int present;		/* the workload exists (not only a reservation) */
	int role;		/* -1: outside the budget */
	long replicas;		/* spec.replicas */
	long pool_per_pod;
	long hpa_max_replicas;	/* the autoscaler ceiling, 0: none */
	int pool_unknown;	/* counted defaultPoolSize for a value it could not read */
	long generation;	/* metadata.generation, 0: unknown */
	char resource_version[32];	/* metadata.resourceVersion, "" unknown or too long */
	cJSON *pod_spec;	/* containers (trimmed) and volumes, kept when the pool depends on
				   ConfigMaps, to resolve it again when they change */

	struct inventory_reservation *reservations;	/* INVENTORY_RESERVATIONS_MAX of room */
	unsigned reservation_count;
	struct inventory_reservation *settled;	/* INVENTORY_SETTLED_MAX, the latest ends kept */
	struct inventory_entry *settled_next;	/* on inventory.settled while settled is set */

	struct budget_holding counted;	/* what the per-role sums hold of its stored state */
	struct inventory_entry *next;
	struct inventory_entry *reserved_next;
};

struct inventory_hpa {
	enum workload_kind kind;
	char *target;
	long max_replicas;
};

struct inventory {
	const struct config *cfg;
	struct inventory_entry **buckets;
	size_t bucket_count;		/* a power of two */
	size_t count;			/* entries, placeholders for reservations included */
	size_t present;
	long *role_usage;
	struct inventory_entry *reserved;	/* entries with a reservation */
	struct inventory_entry *settled;	/* entries remembering settled holds, kept (even
						   once deleted) until those would have ended */
	size_t reservation_count;
	size_t dependents;		/* entries whose pool depends on ConfigMaps */
	struct table *hpas;		/* "namespace/name" -> struct inventory_hpa */
	struct table *hpa_targets;	/* "kind/namespace/target" -> struct inventory_hpa */
	struct table *configmaps;	/* "namespace/name" -> cJSON object of short strings */
};

static uint64_t
inventory_hash(enum workload_kind kind, const char *namespace, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
	const char *s;

	for (s = namespace; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h = (h ^ '/') * 1099511628211ULL;
	for (s = name; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void
inventory_hpa_free(void *p)
{
	struct inventory_hpa *hpa = p;

	if (hpa) {
		free(hpa->target);
		free(hpa);
	}
}

static void
inventory_json_free(void *p)
{
	cJSON_Delete(p);
}

struct inventory *
inventory_new(const struct config *cfg)
{
	struct inventory *inv;

	if ((inv = calloc(1, sizeof(*inv))) == NULL)
		return NULL;
	inv->cfg = cfg;
	inv->bucket_count = 64;
	inv->buckets = calloc(inv->bucket_count, sizeof(*inv->buckets));
	inv->role_usage = calloc(cfg->role_count + 1, sizeof(long));
	inv->hpas = table_new();
	inv->hpa_targets = table_new();
	inv->configmaps = table_new();
	if (inv->buckets == NULL || inv->role_usage == NULL || inv->hpas == NULL ||
	    inv->hpa_targets == NULL || inv->configmaps == NULL) {
		inventory_free(inv);
		return NULL;
	}
	return inv;
}

static void
inventory_entry_free(struct inventory_entry *e)
{
	free(e->namespace);
	free(e->name);
	cJSON_Delete(e->pod_spec);
	free(e->reservations);
	free(e->settled);
	free(e);
}

void
inventory_free(struct inventory *inv)
{
	struct inventory_entry *e, *next;
	size_t i;

	if (inv == NULL)
		return;
	for (i = 0; inv->buckets && i < inv->bucket_count; i++)
		for (e = inv->buckets[i]; e; e = next) {
			next = e->next;
			inventory_entry_free(e);
		}
	free(inv->buckets);
	free(inv->role_usage);
	table_free(inv->hpas, inventory_hpa_free);
	table_free(inv->hpa_targets, NULL);	/* the same objects as hpas */
	table_free(inv->configmaps, inventory_json_free);
	free(inv);
}

const struct config *
inventory_config(const struct inventory *inv)
{
	return inv->cfg;
}

static struct inventory_entry **
inventory_slot(const struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name)
{
	struct inventory_entry **slot;
	uint64_t h = inventory_hash(kind, namespace, name);

	for (slot = &inv->buckets[h & (inv->bucket_count - 1)]; *slot; slot = &(*slot)->next)
		if ((*slot)->kind == kind && strcmp((*slot)->name, name) == 0 &&
		    strcmp((*slot)->namespace, namespace) == 0)
			break;
	return slot;
}

/* Doubles the table when it holds more entries than buckets. */
static void
inventory_grow(struct inventory *inv)
{
	struct inventory_entry **buckets, *e, *next;
	size_t count = inv->bucket_count * 2, i, at;

	if ((buckets = calloc(count, sizeof(*buckets))) == NULL)
		return;		/* longer chains, still correct */
	for (i = 0; i < inv->bucket_count; i++)
		for (e = inv->buckets[i]; e; e = next) {
			next = e->next;
			at = inventory_hash(e->kind, e->namespace, e->name) & (count - 1);
			e->next = buckets[at];
			buckets[at] = e;
		}
	free(inv->buckets);
	inv->buckets = buckets;
	inv->bucket_count = count;
}

/* The entry of a key, created empty (not present, no reservation) when missing. */
static struct inventory_entry *
inventory_entry_for(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name)
{
	struct inventory_entry **slot = inventory_slot(inv, kind, namespace, name), *e = *slot;

	if (e != NULL)
		return e;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->kind = kind;
	e->role = -1;
	e->counted.role = -1;
	e->namespace = strdup(namespace);
	e->name = strdup(name);
	if (e->namespace == NULL || e->name == NULL) {
		inventory_entry_free(e);
		return NULL;
	}
	*slot = e;
	if (++inv->count > inv->bucket_count)
		inventory_grow(inv);
	return e;
}

/* Pods counted: while an HPA targets it, up to the larger of replicas and its ceiling. */
static long
inventory_entry_pods(const struct inventory_entry *e)
{
	return e->hpa_max_replicas > e->replicas ? e->hpa_max_replicas : e->replicas;
}

static long
inventory_clamp(long connections)
{
	return connections > INVENTORY_HOLDING_MAX ? INVENTORY_HOLDING_MAX : connections;
}

/* What the stored state of an entry holds. */
static struct budget_holding
inventory_entry_stored(const struct inventory_entry *e)
{
	struct budget_holding h = {-1, 0};

	if (e->present) {
		h.role = e->role;
		h.connections = inventory_clamp(inventory_entry_pods(e) * e->pool_per_pod);
	}
	return h;
}

static void
inventory_add_holding(struct inventory *inv, struct budget_holding h, long sign)
{
	if (h.role >= 0)
		inv->role_usage[h.role] += sign * h.connections;
}

/*
 * Moves an entry's contribution to the role sums to what it holds now: its
 * stored state, and in each role where a reservation is larger, the excess
 * of the largest one (borne by that reservation).
 */
static void
inventory_recount(struct inventory *inv, struct inventory_entry *e)
{
	struct budget_holding stored = inventory_entry_stored(e);
	struct inventory_reservation *r;
	unsigned i, j;
	long base;
	int bears;

	inventory_add_holding(inv, e->counted, -1);
	for (i = 0; i < e->reservation_count; i++)
		inventory_add_holding(inv, e->reservations[i].counted, -1);
	e->counted = stored;
	inventory_add_holding(inv, stored, 1);
	for (i = 0; i < e->reservation_count; i++) {
		r = &e->reservations[i];
		r->counted.role = -1;
		r->counted.connections = 0;
		/* The first of the largest in its role bears the excess; the rest add nothing. */
		for (bears = 1, j = 0; j < e->reservation_count && bears; j++)
			if (j != i && e->reservations[j].role == r->role &&
			    (e->reservations[j].connections > r->connections ||
			    (e->reservations[j].connections == r->connections && j < i)))
				bears = 0;
		base = stored.role == r->role ? stored.connections : 0;
		if (!bears || r->role < 0 || r->connections <= base)
			continue;
		r->counted.role = r->role;
		r->counted.connections = r->connections - base;
		inventory_add_holding(inv, r->counted, 1);
	}
}

static void
inventory_reservation_drop(struct inventory *inv, struct inventory_entry *e, unsigned i)
{
	struct inventory_entry **p;

	inventory_add_holding(inv, e->reservations[i].counted, -1);
	e->reservations[i] = e->reservations[--e->reservation_count];
	inv->reservation_count--;
	if (e->reservation_count > 0)
		return;
	for (p = &inv->reserved; *p; p = &(*p)->reserved_next)
		if (*p == e) {
			*p = e->reserved_next;
			break;
		}
	e->reserved_next = NULL;
	free(e->reservations);
	e->reservations = NULL;
}

/*
 * Remembers that the stored state showed the hold (role, connections) that
 * ends at until, in place of the one remembered that ends first. Out of
 * memory it is not remembered: a shared entry read again then counts until
 * it ends, too much for a while, never too little.
 */
static void
inventory_remember_settled(struct inventory *inv, struct inventory_entry *e, int role,
    long connections, double until)
{
	struct inventory_reservation *slot;
	unsigned i;

	if (e->settled == NULL) {
		if ((e->settled = calloc(INVENTORY_SETTLED_MAX, sizeof(*e->settled))) == NULL)
			return;
		e->settled_next = inv->settled;
		inv->settled = e;
	}
	slot = &e->settled[0];
	for (i = 1; i < INVENTORY_SETTLED_MAX; i++)
		if (e->settled[i].until < slot->until)
			slot = &e->settled[i];
	slot->role = role;
	slot->connections = connections;
	slot->until = until;
}

/*
 * The same shared entry as a settled hold: same role and connections, and
 * the same end within what reading it again moves it (it is written to the
 * millisecond and moved from the epoch to the monotonic clock at each read).
 */
static int
inventory_was_settled(const struct inventory_entry *e, int role, long connections, double until)
{
	unsigned i;

	for (i = 0; e->settled && i < INVENTORY_SETTLED_MAX; i++)
		if (e->settled[i].role == role && e->settled[i].connections == connections &&
		    e->settled[i].until > until - 0.05 && e->settled[i].until < until + 0.05)
			return 1;
	return 0;
}

/* Ends the reservations the stored state now shows: the admitted change is stored. */
static void
inventory_settle(struct inventory *inv, struct inventory_entry *e)
{
	struct budget_holding stored = inventory_entry_stored(e);
	unsigned i = 0;

	while (i < e->reservation_count)
		if (e->present && ((e->reservations[i].role == stored.role &&
		    e->reservations[i].connections == stored.connections) ||
		    (e->reservations[i].generation > 0 &&
		    e->generation >= e->reservations[i].generation))) {
			inventory_remember_settled(inv, e, stored.role, stored.connections,
			    e->reservations[i].until);
			inventory_reservation_drop(inv, e, i);
		} else
			i++;
	inventory_recount(inv, e);
}

/* Frees an entry that is neither present nor reserved. */
static void
inventory_drop_if_empty(struct inventory *inv, struct inventory_entry *e)
{
	struct inventory_entry **slot;

	/* A workload deleted after its raise was stored still remembers it, for the Lease. */
	if (e->present || e->reservation_count > 0 || e->settled)
		return;
	slot = inventory_slot(inv, e->kind, e->namespace, e->name);
	*slot = e->next;
	if (e->pod_spec)
		inv->dependents--;
	inventory_entry_free(e);
	inv->count--;
}

static char *
inventory_key(char *buf, size_t size, const char *a, const char *b, const char *c)
{
	snprintf(buf, size, "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "");
	return buf;
}

long
inventory_hpa_max(const struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name)
{
	const struct inventory_hpa *hpa;
	char key[600];

	if (!inv->cfg->count_hpa_max_replicas)
		return 0;
	hpa = table_get(inv->hpa_targets, inventory_key(key, sizeof(key),
	    workload_kind_name(kind), namespace, name));
	return hpa ? hpa->max_replicas : 0;
}

long
inventory_counted_pods(const struct inventory *inv, enum workload_kind kind,
    const char *namespace, const char *name, long replicas)
{
	long max = inventory_hpa_max(inv, kind, namespace, name);

	return max > replicas ? max : replicas;
}

/* Copies what Spring's sources and env resolution read of one container into out. */
static int
inventory_trim_one(const cJSON *container, cJSON *out)
{
	static const char *const keep[] = {"name", "env", "envFrom", "args", "command",
	    "workingDir", "volumeMounts"};
	const cJSON *item;
	cJSON *copy;
	size_t i;

	if ((copy = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(out, copy)) {
		cJSON_Delete(copy);
		return PG_ERR_NOMEM;
	}
	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if ((item = cJSON_GetObjectItemCaseSensitive(container, keep[i])) != NULL &&
		    cJSON_AddItemToObject(copy, keep[i], cJSON_Duplicate(item, 1)) == 0)
			return PG_ERR_NOMEM;
	return PG_OK;
}

/*
 * What re-resolving a pool needs of a pod spec: the containers whose pools
 * count (app containers, then native sidecars) in one list, and the volumes.
 */
static cJSON *
inventory_trim_pod_spec(const struct workload *w)
{
	const cJSON *container, *volumes = cJSON_GetObjectItemCaseSensitive(w->pod_spec, "volumes");
	cJSON *out = cJSON_CreateObject(), *list;

	if (out == NULL || (list = cJSON_AddArrayToObject(out, "containers")) == NULL)
		goto fail;
	cJSON_ArrayForEach(container, w->containers)
		if (inventory_trim_one(container, list))
			goto fail;
	cJSON_ArrayForEach(container, w->init_containers)
		if (workload_is_sidecar(container) && inventory_trim_one(container, list))
			goto fail;
	if (volumes && !cJSON_AddItemToObject(out, "volumes", cJSON_Duplicate(volumes, 1)))
		goto fail;
	return out;
fail:
	cJSON_Delete(out);
	return NULL;
}

int
inventory_put_workload(struct inventory *inv, const struct workload *w, int role)
{
	struct inventory_entry *e = inventory_entry_for(inv, w->kind, w->namespace, w->name);
	int result = PG_OK;

	if (e == NULL)
		return PG_ERR_NOMEM;
	if (!e->present)
		inv->present++;
	e->present = 1;
	e->role = role;
	e->replicas = w->replicas;
	e->pool_per_pod = w->pool_per_pod;
	e->pool_unknown = w->pool_unknown;
	e->hpa_max_replicas = inventory_hpa_max(inv, w->kind, w->namespace, w->name);
	e->generation = w->generation;
	if (w->resource_version && strlen(w->resource_version) < sizeof(e->resource_version))
		snprintf(e->resource_version, sizeof(e->resource_version), "%s",
		    w->resource_version);
	else
		e->resource_version[0] = '\0';
	if (e->pod_spec) {
		cJSON_Delete(e->pod_spec);
		e->pod_spec = NULL;
		inv->dependents--;
	}
	if (w->uses_configmaps && w->pod_spec) {
		if ((e->pod_spec = inventory_trim_pod_spec(w)) == NULL)
			result = PG_ERR_NOMEM;	/* counted all the same, not re-resolved */
		else
			inv->dependents++;
	}
	inventory_settle(inv, e);
	return result;
}

int
inventory_put(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, int role, long replicas, long pool_per_pod)
{
	struct workload w;

	memset(&w, 0, sizeof(w));
	w.kind = kind;
	w.namespace = namespace;
	w.name = name;
	w.replicas = replicas;
	w.pool_per_pod = pool_per_pod;
	return inventory_put_workload(inv, &w, role);
}

void
inventory_remove(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name)
{
	struct inventory_entry *e = *inventory_slot(inv, kind, namespace, name);

	if (e == NULL || !e->present)
		return;
	e->present = 0;
	inv->present--;
	inventory_recount(inv, e);
	inventory_drop_if_empty(inv, e);
}

static const struct inventory_entry *
inventory_get(const struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name)
{
	return *inventory_slot(inv, kind, namespace, name);
}

int
inventory_lookup(const struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, struct inventory_facts *out)
{
	const struct inventory_entry *e = inventory_get(inv, kind, namespace, name);

	memset(out, 0, sizeof(*out));
	out->role = -1;
	if (e == NULL)
		return 0;
	out->reservations = e->reservation_count;
	if (!e->present)
		return 0;
	out->present = 1;
	out->generation = e->generation;
	memcpy(out->resource_version, e->resource_version, sizeof(out->resource_version));
	out->role = e->role;
	out->replicas = e->replicas;
	out->hpa_max_replicas = e->hpa_max_replicas;
	out->pods = inventory_entry_pods(e);
	out->pool_per_pod = e->pool_per_pod;
	out->pool_unknown = e->pool_unknown;
	return 1;
}

long
inventory_held(const struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, int role)
{
	const struct inventory_entry *e = inventory_get(inv, kind, namespace, name);
	long held = 0;
	unsigned i;

	if (e == NULL || role < 0)
		return 0;
	if (e->counted.role == role)
		held = e->counted.connections;
	for (i = 0; i < e->reservation_count; i++)
		if (e->reservations[i].counted.role == role)
			held += e->reservations[i].counted.connections;
	return held;
}

const long *
inventory_role_usage(const struct inventory *inv)
{
	return inv->role_usage;
}

size_t
inventory_count(const struct inventory *inv)
{
	return inv->present;
}

/* Sets the HPA ceiling of a target workload, if the inventory has it. */
static void
inventory_apply_hpa(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name)
{
	struct inventory_entry *e = *inventory_slot(inv, kind, namespace, name);

	if (e == NULL)
		return;
	e->hpa_max_replicas = inventory_hpa_max(inv, kind, namespace, name);
	inventory_settle(inv, e);
}

void
inventory_remove_hpa(struct inventory *inv, const char *namespace, const char *name)
{
	struct inventory_hpa *hpa;
	char key[600], target[600];

	hpa = table_remove(inv->hpas, inventory_key(key, sizeof(key), namespace, name, NULL));
	if (hpa == NULL)
		return;
	inventory_key(target, sizeof(target), workload_kind_name(hpa->kind), namespace,
	    hpa->target);
	if (table_get(inv->hpa_targets, target) == hpa)
		table_remove(inv->hpa_targets, target);
	inventory_apply_hpa(inv, hpa->kind, namespace, hpa->target);
	inventory_hpa_free(hpa);
}

int
inventory_put_hpa(struct inventory *inv, const char *namespace, const char *name,
    enum workload_kind target_kind, const char *target, long max_replicas)
{
	struct inventory_hpa *hpa;
	char key[600], target_key[600];

	if (!inv->cfg->count_hpa_max_replicas)
		return PG_OK;
	inventory_remove_hpa(inv, namespace, name);
	if ((hpa = calloc(1, sizeof(*hpa))) == NULL || (hpa->target = strdup(target)) == NULL) {
		free(hpa);
		return PG_ERR_NOMEM;
	}
	hpa->kind = target_kind;
	hpa->max_replicas = max_replicas;
	inventory_key(key, sizeof(key), namespace, name, NULL);
	inventory_key(target_key, sizeof(target_key), workload_kind_name(target_kind), namespace,
	    target);
	if (table_put(inv->hpas, key, hpa, NULL) || table_put(inv->hpa_targets, target_key, hpa,
	    NULL)) {
		table_remove(inv->hpas, key);
		inventory_hpa_free(hpa);
		return PG_ERR_NOMEM;
	}
	inventory_apply_hpa(inv, target_kind, namespace, target);
	return PG_OK;
}

static const char *
inventory_configmap_value(void *ctx, const char *namespace, const char *name, const char *key,
    int *map_found)
{
	const struct inventory *inv = ctx;
	const cJSON *data, *value;
	char k[600];

	data = table_get(inv->configmaps, inventory_key(k, sizeof(k), namespace, name, NULL));
	*map_found = data != NULL;
	value = cJSON_GetObjectItemCaseSensitive(data, key);
	return cJSON_IsString(value) ? value->valuestring : NULL;
}

void
inventory_foreach_dependent(const struct inventory *inv, const char *namespace,
    void (*fn)(void *arg, const struct inventory_dependent *d), void *arg)
{
	const struct inventory_entry *e;
	struct inventory_dependent d;
	size_t i;

	if (inv->dependents == 0)
		return;
	for (i = 0; i < inv->bucket_count; i++)
		for (e = inv->buckets[i]; e; e = e->next) {
			if (e->pod_spec == NULL || !e->present || strcmp(e->namespace, namespace) != 0)
				continue;
			d.kind = e->kind;
			d.namespace = e->namespace;
			d.name = e->name;
			d.role = e->role;
			d.pods = inventory_entry_pods(e);
			d.pool_per_pod = e->pool_per_pod;
			d.held = inventory_held(inv, e->kind, e->namespace, e->name, e->role);
			d.pod_spec = e->pod_spec;
			fn(arg, &d);
		}
}

const cJSON *
inventory_configmap(const struct inventory *inv, const char *namespace, const char *name)
{
	char key[600];

	return table_get(inv->configmaps, inventory_key(key, sizeof(key), namespace, name, NULL));
}

struct workload_resolver
inventory_resolver(const struct inventory *inv)
{
	struct workload_resolver r = {inventory_configmap_value, (void *)(uintptr_t)inv};

	return r;
}

/* Recomputes the pool of every workload in namespace whose pool depends on ConfigMaps. */
static void
inventory_reresolve(struct inventory *inv, const char *namespace)
{
	struct workload_resolver resolver = inventory_resolver(inv);
	struct inventory_entry *e;
	struct workload w;
	struct pg_error err;
	size_t i;

	if (inv->dependents == 0)
		return;
	for (i = 0; i < inv->bucket_count; i++)
		for (e = inv->buckets[i]; e; e = e->next) {
			if (e->pod_spec == NULL || strcmp(e->namespace, namespace) != 0)
				continue;
			memset(&w, 0, sizeof(w));
			w.kind = e->kind;
			w.namespace = e->namespace;
			w.name = e->name;
			w.pod_spec = e->pod_spec;
			w.containers = cJSON_GetObjectItemCaseSensitive(e->pod_spec, "containers");
			if (workload_resolve_pool(&w, inv->cfg, &resolver, &err) != PG_OK) {
				w.pool_per_pod = inv->cfg->default_pool_size;
				w.pool_unknown = 1;
			}
			e->pool_per_pod = w.pool_per_pod;
			e->pool_unknown = w.pool_unknown;
			inventory_settle(inv, e);
		}
}

/*
 * What is kept of a ConfigMap value, at most INVENTORY_CONFIGMAP_VALUE_MAX
 * characters: pool sizes are short numbers, but a long value must not look
 * absent. A long value Spring may read as a config file or JSON is kept as
 * its spring_digest() (at most SPRING_DIGEST_MAX). Leading zeros are dropped from a long run of digits (Spring reads
 * "0...050" as 50); any other long value is cut and marked, so it fails as a
 * pool size just as the whole value would.
 */
static void
inventory_configmap_keep(const char *key, const char *value, char *out, size_t size)
{
	size_t len = strlen(value), digits = strspn(value, "0123456789");
	struct pg_error err;

	/* A file Spring may read as its configuration: what matters of it, in a digest. */
	if (len > INVENTORY_CONFIGMAP_VALUE_MAX && spring_digest(key, value, out, size, &err) ==
	    PG_OK && out[0] != '\0')
		return;
	if (len <= INVENTORY_CONFIGMAP_VALUE_MAX) {
		snprintf(out, size, "%s", value);
		return;
	}
	if (digits == len) {
		while (len > 1 && *value == '0') {
			value++;
			len--;
		}
		if (len <= INVENTORY_CONFIGMAP_VALUE_MAX) {
			snprintf(out, size, "%s", value);
			return;
		}
	}
	snprintf(out, size, "%.*s...", INVENTORY_CONFIGMAP_VALUE_MAX - 3, value);
}

int
inventory_put_configmap(struct inventory *inv, const char *namespace, const char *name,
    const cJSON *data)
{
	const cJSON *item;
	cJSON *kept = cJSON_CreateObject();
	void *old;
	char key[600], value[SPRING_DIGEST_MAX];

	if (kept == NULL)
		return PG_ERR_NOMEM;
	cJSON_ArrayForEach(item, data) {
		if (!cJSON_IsString(item))
			continue;
		inventory_configmap_keep(item->string, item->valuestring, value, sizeof(value));
		if (cJSON_AddStringToObject(kept, item->string, value) == NULL) {
			cJSON_Delete(kept);
			return PG_ERR_NOMEM;
		}
	}
	if (table_put(inv->configmaps, inventory_key(key, sizeof(key), namespace, name, NULL),
	    kept, &old)) {
		cJSON_Delete(kept);
		return PG_ERR_NOMEM;
	}
	cJSON_Delete(old);
	inventory_reresolve(inv, namespace);
	return PG_OK;
}

void
inventory_remove_configmap(struct inventory *inv, const char *namespace, const char *name)
{
	char key[600];

	cJSON_Delete(table_remove(inv->configmaps, inventory_key(key, sizeof(key), namespace, name,
	    NULL)));
	inventory_reresolve(inv, namespace);
}

static int
inventory_hold(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, int role, long connections, long generation, double until, int shared)
{
	struct inventory_entry *e = inventory_entry_for(inv, kind, namespace, name);
	struct inventory_reservation *r;
	unsigned i, first = 0;

	if (e == NULL)
		return PG_ERR_NOMEM;
	/* The stored workload has reached the generation that shows it: stored, or superseded. */
	if (shared && e->present && generation > 0 && e->generation >= generation)
		return PG_OK;
	/* A shared entry this inventory has seen stored: it ended here, read again or not. */
	if (shared && inventory_was_settled(e, role, connections, until))
		return PG_OK;
	/* The stored state shows it already: nothing to hold, and it is settled. */
	if (e->present && e->role == role && inventory_entry_stored(e).connections == connections) {
		if (shared)
			inventory_remember_settled(inv, e, role, connections, until);
		return PG_OK;
	}
	/* The same hold again (a shared entry read again, a retry): it lasts the longer. */
	for (i = 0; i < e->reservation_count; i++)
		if (e->reservations[i].role == role && e->reservations[i].connections == connections) {
			if (until > e->reservations[i].until)
				e->reservations[i].until = until;
			if (generation > e->reservations[i].generation)
				e->reservations[i].generation = generation;
			return PG_OK;
		}
	if (e->reservations == NULL && (e->reservations = calloc(INVENTORY_RESERVATIONS_MAX,
	    sizeof(*e->reservations))) == NULL) {
		inventory_drop_if_empty(inv, e);
		return PG_ERR_NOMEM;
	}
	if (e->reservation_count == 0) {
		e->reserved_next = inv->reserved;
		inv->reserved = e;
	}
	if (e->reservation_count == INVENTORY_RESERVATIONS_MAX) {
		/* Full: the one that would end first makes room, its hold kept if larger. */
		for (i = 1; i < e->reservation_count; i++)
			if (e->reservations[i].until < e->reservations[first].until)
				first = i;
		r = &e->reservations[first];
		if (r->role == role && r->connections > connections)
			connections = r->connections;
	} else {
		r = &e->reservations[e->reservation_count++];
		inv->reservation_count++;
		/* A slot a dropped reservation left: it adds nothing to the sums yet. */
		r->counted.role = -1;
		r->counted.connections = 0;
	}
	r->role = role;
	r->connections = connections;
	r->generation = generation;
	r->until = until;
	inventory_recount(inv, e);
	return PG_OK;
}

int
inventory_reserve(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, int role, long connections, double until)
{
	return inventory_hold(inv, kind, namespace, name, role, connections, 0, until, 0);
}

int
inventory_reserve_generation(struct inventory *inv, enum workload_kind kind,
    const char *namespace, const char *name, int role, long connections, long generation,
    double until)
{
	return inventory_hold(inv, kind, namespace, name, role, connections, generation, until,
	    0);
}

int
inventory_reserve_shared(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, int role, long connections, long generation, double until)
{
	return inventory_hold(inv, kind, namespace, name, role, connections, generation, until,
	    1);
}

void
inventory_expire(struct inventory *inv, double now)
{
	struct inventory_entry *e, *next, **p;
	unsigned i, left;

	for (e = inv->reserved; e; e = next) {
		next = e->reserved_next;
		i = 0;
		while (i < e->reservation_count)
			if (e->reservations[i].until <= now)
				inventory_reservation_drop(inv, e, i);
			else
				i++;
		inventory_recount(inv, e);
		inventory_drop_if_empty(inv, e);
	}
	/* Settled holds remembered past their end are of no use: a read entry would end too. */
	for (p = &inv->settled; (e = *p) != NULL;) {
		for (i = 0, left = 0; i < INVENTORY_SETTLED_MAX; i++)
			left += e->settled[i].until > now;
		if (left > 0) {
			p = &e->settled_next;
			continue;
		}
		*p = e->settled_next;
		free(e->settled);
		e->settled = NULL;
		e->settled_next = NULL;
		inventory_drop_if_empty(inv, e);
	}
}

size_t
inventory_reservations(const struct inventory *inv)
{
	return inv->reservation_count;
}

int
inventory_hpa_target(const cJSON *hpa, enum workload_kind *kind, const char **target,
    long *max_replicas, struct pg_error *err)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(hpa, "spec");
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(spec, "scaleTargetRef");
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(spec, "maxReplicas");
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(ref, "kind");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(ref, "name");
	const cJSON *api = cJSON_GetObjectItemCaseSensitive(ref, "apiVersion");
	const struct workload_kind_info *info;
	const char *slash;
	size_t glen;

	if (!cJSON_IsString(k) || !cJSON_IsString(n))
		return pg_error_set(err, PG_ERR_INVALID, "HPA spec.scaleTargetRef needs kind and name");
	if ((*kind = workload_kind_by_name(k->valuestring)) == WORKLOAD_NONE)
		return pg_error_set(err, PG_ERR_UNSUPPORTED, "HPA targets a %.40s", k->valuestring);
	/* The HPA controller finds its target by the group of apiVersion and the kind. */
	info = workload_kind_info(*kind);
	slash = cJSON_IsString(api) ? strchr(api->valuestring, '/') : NULL;
	glen = strlen(info->group);
	if (slash == NULL || (size_t)(slash - api->valuestring) != glen ||
	    strncmp(api->valuestring, info->group, glen) != 0)
		return pg_error_set(err, PG_ERR_UNSUPPORTED, "HPA targets %.40s of apiVersion "
		    "'%.40s'", k->valuestring, cJSON_IsString(api) ? api->valuestring : "");
	if (!cJSON_IsNumber(max) || max->valuedouble < 1 ||
	    max->valuedouble > WORKLOAD_MAX_REPLICAS)
		return pg_error_set(err, PG_ERR_INVALID, "HPA spec.maxReplicas must be a whole "
		    "number from 1 to %ld", WORKLOAD_MAX_REPLICAS);
	*target = n->valuestring;
	*max_replicas = (long)max->valuedouble;
	return PG_OK;
}

static const char *
inventory_string(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

int
inventory_add_object(struct inventory *inv, const cJSON *object, const char *default_namespace,
    struct pg_error *err)
{
	const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(object, "metadata");
	const char *kind = inventory_string(object, "kind");
	const char *api = inventory_string(object, "apiVersion");
	const char *namespace = inventory_string(metadata, "namespace");
	const char *name = inventory_string(metadata, "name");
	struct workload_resolver resolver = inventory_resolver(inv);
	enum workload_kind target_kind;
	const char *target;
	struct workload w;
	long max;
	int result;

	if (namespace == NULL || namespace[0] == '\0')
		namespace = default_namespace && default_namespace[0] ? default_namespace : "default";
	if (workload_kind_of(object) != WORKLOAD_NONE) {
		if ((result = workload_from_object(object, inv->cfg, default_namespace, &resolver, &w,
		    err)))
			return result;
		return inventory_put_workload(inv, &w, budget_role_for(inv->cfg, w.namespace,
		    workload_label, w.labels));
	}
	if (kind == NULL || api == NULL || name == NULL)
		return PG_OK;
	if (strcmp(kind, "ConfigMap") == 0 && strcmp(api, "v1") == 0)
		return inventory_put_configmap(inv, namespace, name,
		    cJSON_GetObjectItemCaseSensitive(object, "data"));
	if (strcmp(kind, "HorizontalPodAutoscaler") == 0 && strncmp(api, "autoscaling/", 12) == 0) {
		result = inventory_hpa_target(object, &target_kind, &target, &max, err);
		if (result == PG_ERR_UNSUPPORTED) {
			/* It scales something else now: it no longer sets a workload's ceiling. */
			inventory_remove_hpa(inv, namespace, name);
			return PG_OK;
		}
		if (result)
			return result;
		return inventory_put_hpa(inv, namespace, name, target_kind, target, max);
	}
	return PG_OK;
}

int
inventory_apply_object(struct inventory *inv, const cJSON *object, struct pg_error *err)
{
	const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(object, "metadata");
	struct workload_resolver resolver = inventory_resolver(inv);
	struct pg_error ignored;
	struct workload w;
	const char *kind = inventory_string(object, "kind");
	int result;

	result = inventory_add_object(inv, object, NULL, err);
	if (result == PG_OK || result == PG_ERR_NOMEM)
		return result;
	if (workload_kind_of(object) != WORKLOAD_NONE) {
		/* It exists in the cluster all the same: counted at defaultPoolSize. */
		workload_from_object(object, inv->cfg, NULL, &resolver, &w, &ignored);
		w.pool_per_pod = inv->cfg->default_pool_size;
		w.pool_unknown = 1;
		w.uses_configmaps = 0;
		if (inventory_put_workload(inv, &w, budget_role_for(inv->cfg, w.namespace,
		    workload_label, w.labels)))
			return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	} else if (kind && strcmp(kind, "HorizontalPodAutoscaler") == 0)
		inventory_remove_hpa(inv, inventory_string(metadata, "namespace") ?
		    inventory_string(metadata, "namespace") : "default",
		    inventory_string(metadata, "name") ? inventory_string(metadata, "name") : "");
	return PG_ERR_INVALID;
}

void
inventory_remove_object(struct inventory *inv, const char *kind, const char *namespace,
    const char *name)
{
	enum workload_kind wk = workload_kind_by_name(kind);

	if (wk != WORKLOAD_NONE)
		inventory_remove(inv, wk, namespace, name);
	else if (strcmp(kind, "HorizontalPodAutoscaler") == 0)
		inventory_remove_hpa(inv, namespace, name);
	else if (strcmp(kind, "ConfigMap") == 0)
		inventory_remove_configmap(inv, namespace, name);
}

/* 0: ConfigMaps, 1: HPAs, 2: workloads, 3: anything else. */
static int
inventory_pass_of(const cJSON *object)
{
	const char *kind = inventory_string(object, "kind");

	if (workload_kind_of(object) != WORKLOAD_NONE)
		return 2;
	if (kind && strcmp(kind, "ConfigMap") == 0)
		return 0;
	if (kind && strcmp(kind, "HorizontalPodAutoscaler") == 0)
		return 1;
	return 3;
}

int
inventory_add_manifests(struct inventory *inv, const struct manifest_set *set,
    const char *default_namespace, struct pg_error *err)
{
	size_t i;
	int pass, result;

	for (pass = 0; pass < 3; pass++)
		for (i = 0; i < set->count; i++) {
			if (inventory_pass_of(set->items[i].object) != pass)
				continue;
			result = inventory_add_object(inv, set->items[i].object, default_namespace, err);
			if (result == PG_ERR_NOMEM)
				return pg_error_set(err, result, "out of memory");
			if (result) {
				pg_error_prefix(err, "%s", set->items[i].source);
				return result;
			}
		}
	return PG_OK;
}
