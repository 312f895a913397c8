/*
 * inventory.c - a hash table of workloads with per-role connection sums.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "poolguard/budget.h"
#include "poolguard/inventory.h"

struct inventory {
	const struct config *cfg;
	struct inventory_entry **buckets;
	size_t bucket_count;		/* a power of two */
	size_t count;
	long *role_usage;
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
	if (inv->buckets == NULL || inv->role_usage == NULL) {
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
	free(inv);
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

static void
inventory_account(struct inventory *inv, const struct inventory_entry *e, long sign)
{
	if (e->role >= 0)
		inv->role_usage[e->role] += sign * e->replicas * e->pool_per_pod;
}

int
inventory_put(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, int role, long replicas, long pool_per_pod)
{
	struct inventory_entry **slot = inventory_slot(inv, kind, namespace, name), *e = *slot;

	if (e != NULL)
		inventory_account(inv, e, -1);
	else {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return PG_ERR_NOMEM;
		e->kind = kind;
		e->namespace = strdup(namespace);
		e->name = strdup(name);
		if (e->namespace == NULL || e->name == NULL) {
			inventory_entry_free(e);
			return PG_ERR_NOMEM;
		}
		*slot = e;
		inv->count++;
	}
	e->role = role;
	e->replicas = replicas;
	e->pool_per_pod = pool_per_pod;
	inventory_account(inv, e, 1);
	if (inv->count > inv->bucket_count)
		inventory_grow(inv);
	return PG_OK;
}

void
inventory_remove(struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name)
{
	struct inventory_entry **slot = inventory_slot(inv, kind, namespace, name), *e = *slot;

	if (e == NULL)
		return;
	inventory_account(inv, e, -1);
	*slot = e->next;
	inventory_entry_free(e);
	inv->count--;
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
	return inv->count;
}

int
inventory_add_manifests(struct inventory *inv, const struct manifest_set *set,
    const char *default_namespace, struct pg_error *err)
{
	struct workload w;
	size_t i;
	int result, role;

	for (i = 0; i < set->count; i++) {
		if (workload_kind_of(set->items[i].object) == WORKLOAD_NONE)
			continue;
		result = workload_from_object(set->items[i].object, inv->cfg, default_namespace, &w,
		    err);
		if (result) {
			pg_error_prefix(err, "%s", set->items[i].source);
			return result;
		}
		role = budget_role_for(inv->cfg, w.namespace, workload_label, w.labels);
		if (inventory_put(inv, w.kind, w.namespace, w.name, role, w.replicas, w.pool_per_pod))
			return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	}
	return PG_OK;
}
