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
#include "poolguard/table.h"

/* The longest ConfigMap value kept: pool sizes are short numbers. */
#define INVENTORY_CONFIGMAP_VALUE_MAX 64

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
	cJSON_Delete(e->containers);
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

long
inventory_entry_pods(const struct inventory_entry *e)
{
	return e->hpa_max_replicas > 0 ? e->hpa_max_replicas : e->replicas;
}

struct budget_holding
inventory_entry_holding(const struct inventory_entry *e)
{
	struct budget_holding h = {-1, 0};

	if (e->reserved) {
		h.role = e->reserved_role;
		h.connections = e->reserved_connections;
	} else if (e->present) {
		h.role = e->role;
		h.connections = inventory_entry_pods(e) * e->pool_per_pod;
	}
	return h;
}

/* Moves an entry's contribution to the role sums to what it holds now. */
static void
inventory_recount(struct inventory *inv, struct inventory_entry *e)
{
	struct budget_holding now = inventory_entry_holding(e);

	if (e->counted.role >= 0)
		inv->role_usage[e->counted.role] -= e->counted.connections;
	if (now.role >= 0)
		inv->role_usage[now.role] += now.connections;
	e->counted = now;
}

static void
inventory_unreserve(struct inventory *inv, struct inventory_entry *e)
{
	struct inventory_entry **p;

	for (p = &inv->reserved; *p; p = &(*p)->reserved_next)
		if (*p == e) {
			*p = e->reserved_next;
			break;
		}
	e->reserved = 0;
	e->reserved_next = NULL;
	inv->reservation_count--;
}

/* Frees an entry that is neither present nor reserved. */
static void
inventory_drop_if_empty(struct inventory *inv, struct inventory_entry *e)
{
	struct inventory_entry **slot;

	if (e->present || e->reserved)
		return;
	slot = inventory_slot(inv, e->kind, e->namespace, e->name);
	*slot = e->next;
	if (e->containers)
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

/* Copies the names, env and envFrom of containers: what re-resolving needs. */
static cJSON *
inventory_trim_containers(const cJSON *containers)
{
	static const char *const keep[] = {"name", "env", "envFrom"};
	const cJSON *container, *item;
	cJSON *out = cJSON_CreateArray(), *copy;
	size_t i;

	if (out == NULL)
		return NULL;
	cJSON_ArrayForEach(container, containers) {
		if ((copy = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(out, copy)) {
			cJSON_Delete(copy);
			cJSON_Delete(out);
			return NULL;
		}
		for (i = 0; i < 3; i++)
			if ((item = cJSON_GetObjectItemCaseSensitive(container, keep[i])) != NULL)
				cJSON_AddItemToObject(copy, keep[i], cJSON_Duplicate(item, 1));
	}
	return out;
}

int
inventory_put_workload(struct inventory *inv, const struct workload *w, int role)
{
	struct inventory_entry *e = inventory_entry_for(inv, w->kind, w->namespace, w->name);
	struct budget_holding stored;

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
	if (e->containers) {
		cJSON_Delete(e->containers);
		e->containers = NULL;
		inv->dependents--;
	}
	if (w->uses_configmaps && w->containers) {
		if ((e->containers = inventory_trim_containers(w->containers)) == NULL)
			return PG_ERR_NOMEM;
		inv->dependents++;
	}
	if (e->reserved) {
		/* The admitted change is stored: the reservation has done its work. */
		stored.role = role;
		stored.connections = inventory_entry_pods(e) * e->pool_per_pod;
		if (stored.role == e->reserved_role && stored.connections == e->reserved_connections)
			inventory_unreserve(inv, e);
	}
	inventory_recount(inv, e);
	return PG_OK;
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

const struct inventory_entry *
inventory_get(const struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name)
{
	return *inventory_slot(inv, kind, namespace, name);
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
	inventory_recount(inv, e);
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
			if (e->containers == NULL || strcmp(e->namespace, namespace) != 0)
				continue;
			memset(&w, 0, sizeof(w));
			w.kind = e->kind;
			w.namespace = e->namespace;
			w.name = e->name;
			w.containers = e->containers;
			if (workload_resolve_pool(&w, inv->cfg, &resolver, &err) != PG_OK) {
				w.pool_per_pod = inv->cfg->default_pool_size;
				w.pool_unknown = 1;
			}
			e->pool_per_pod = w.pool_per_pod;
			e->pool_unknown = w.pool_unknown;
			inventory_recount(inv, e);
		}
}

int
inventory_put_configmap(struct inventory *inv, const char *namespace, const char *name,
    const cJSON *data)
{
	const cJSON *item;
	cJSON *kept = cJSON_CreateObject();
	void *old;
	char key[600];

	if (kept == NULL)
		return PG_ERR_NOMEM;
	cJSON_ArrayForEach(item, data)
		if (cJSON_IsString(item) && strlen(item->valuestring) <= INVENTORY_CONFIGMAP_VALUE_MAX)
			cJSON_AddStringToObject(kept, item->string, item->valuestring);
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

int
inventory_reserve(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, int role, long connections, double until)
{
	struct inventory_entry *e = inventory_entry_for(inv, kind, namespace, name);

	if (e == NULL)
		return PG_ERR_NOMEM;
	if (!e->reserved) {
		e->reserved = 1;
		e->reserved_next = inv->reserved;
		inv->reserved = e;
		inv->reservation_count++;
	}
	e->reserved_role = role;
	e->reserved_connections = connections;
	e->reserved_until = until;
	inventory_recount(inv, e);
	return PG_OK;
}

void
inventory_expire(struct inventory *inv, double now)
{
	struct inventory_entry *e, *next;

	for (e = inv->reserved; e; e = next) {
		next = e->reserved_next;
		if (e->reserved_until > now)
			continue;
		inventory_unreserve(inv, e);
		inventory_recount(inv, e);
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

	if (!cJSON_IsString(k) || !cJSON_IsString(n))
		return pg_error_set(err, PG_ERR_INVALID, "HPA spec.scaleTargetRef needs kind and name");
	if (strcmp(k->valuestring, "Deployment") == 0)
		*kind = WORKLOAD_DEPLOYMENT;
	else if (strcmp(k->valuestring, "StatefulSet") == 0)
		*kind = WORKLOAD_STATEFULSET;
	else
		return pg_error_set(err, PG_ERR_UNSUPPORTED, "HPA targets a %.40s", k->valuestring);
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
