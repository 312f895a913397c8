/*
 * configmap.c - ConfigMap changes judged through the workloads that read them.
 *
 * Every workload whose pool depends on a ConfigMap keeps its containers in
 * the inventory. A change is tried on all of them at once: their pools are
 * resolved again with the ConfigMap as the request leaves it, and each role
 * they belong to is judged for the sum of its workloads' change, with the
 * other roles' changes already counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolguard/configmap.h"

#define CONFIGMAP_SHOWN 3	/* workloads and keys named in a message; the rest are counted */

/* The ConfigMap as the request leaves it, in front of the inventory's others. */
struct configmap_overlay {
	const struct inventory *inv;
	const char *namespace;
	const char *name;
	int exists;		/* 0: deleted */
	const cJSON *data;	/* its data, or NULL */
	const char *try_key;	/* this key reads try_value instead (the what-fits search) */
	char try_value[24];
};

struct configmap_change {
	enum workload_kind kind;
	const char *name;	/* borrowed from the inventory: valid under the caller's lock */
	int role;
	long pods;
	long old_pool;
	long new_pool;
	long held;		/* what the sums hold for it in its role now */
	int unknown;
	char note[WORKLOAD_NOTE_MAX];
};

/* The workloads a version of the ConfigMap changes. */
struct configmap_eval {
	const struct config *cfg;
	const char *configmap;	/* the one that changes: only its readers are looked at */
	struct workload_resolver resolver;
	struct configmap_change *changes;
	size_t count;
	size_t alloc;
	int failed;		/* out of memory, or a workload's value is bad input */
	int nomem;
	struct pg_error err;
};

static const char *
configmap_overlay_value(void *ctx, const char *namespace, const char *name, const char *key,
    int *map_found)
{
	struct configmap_overlay *o = ctx;
	struct workload_resolver inv;
	const cJSON *item;

	if (strcmp(namespace, o->namespace) != 0 || strcmp(name, o->name) != 0) {
		inv = inventory_resolver(o->inv);
		return inv.configmap_value(inv.ctx, namespace, name, key, map_found);
	}
	*map_found = o->exists;
	if (o->exists && o->try_key && strcmp(key, o->try_key) == 0)
		return o->try_value;
	item = cJSON_GetObjectItemCaseSensitive(o->data, key);
	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* inventory_foreach_dependent: resolves one workload's pool again. */
static void
configmap_collect(void *arg, const struct inventory_dependent *d)
{
	struct configmap_eval *e = arg;
	struct configmap_change *c, *grown;
	struct workload w;
	struct pg_error err;

	if (e->failed || !workload_reads_configmap(d->pod_spec, e->configmap))
		return;
	memset(&w, 0, sizeof(w));
	w.kind = d->kind;
	w.namespace = d->namespace;
	w.name = d->name;
	w.pod_spec = d->pod_spec;
	w.containers = cJSON_GetObjectItemCaseSensitive(d->pod_spec, "containers");
	if (workload_resolve_pool(&w, e->cfg, &e->resolver, &err) != PG_OK) {
		e->failed = 1;
		e->err = err;
		return;
	}
	if (w.pool_per_pod == d->pool_per_pod)
		return;
	if (e->count == e->alloc) {
		e->alloc = e->alloc ? e->alloc * 2 : 8;
		if ((grown = realloc(e->changes, e->alloc * sizeof(*grown))) == NULL) {
			e->failed = e->nomem = 1;
			return;
		}
		e->changes = grown;
	}
	c = &e->changes[e->count++];
	c->kind = d->kind;
	c->name = d->name;
	c->role = d->role;
	c->pods = d->pods;
	c->old_pool = d->pool_per_pod;
	c->new_pool = w.pool_per_pod;
	c->held = d->held;
	c->unknown = w.pool_unknown;
	snprintf(c->note, sizeof(c->note), "%s", w.note);
}

static int
configmap_evaluate(const struct config *cfg, const struct inventory *inv,
    struct configmap_overlay *o, struct configmap_eval *e)
{
	free(e->changes);
	memset(e, 0, sizeof(*e));
	e->cfg = cfg;
	e->configmap = o->name;
	e->resolver.configmap_value = configmap_overlay_value;
	e->resolver.ctx = o;
	inventory_foreach_dependent(inv, o->namespace, configmap_collect, e);
	return e->failed ? (e->nomem ? PG_ERR_NOMEM : PG_ERR_INVALID) : PG_OK;
}

/*
 * Judges the changes of e role by role into v: each role's workloads as one
 * change, with every other role's change counted in the usage. v is the
 * first refusal, or the last role's verdict with every role's warnings.
 */
static int
configmap_verdict(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, const struct configmap_eval *e, struct verdict *v)
{
	const long *usage = inventory_role_usage(inv);
	struct verdict one;
	struct budget_change c;
	long *after, *held, *before, *others;
	size_t r, i, k;
	int result = PG_OK;

	verdict_init(v);
	after = calloc(cfg->role_count + 1, sizeof(long));
	held = calloc(cfg->role_count + 1, sizeof(long));
	before = calloc(cfg->role_count + 1, sizeof(long));
	others = calloc(cfg->role_count + 1, sizeof(long));
	if (after == NULL || held == NULL || before == NULL || others == NULL) {
		result = PG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < e->count; i++) {
		if (e->changes[i].role < 0)
			continue;
		r = (size_t)e->changes[i].role;
		after[r] = budget_sum(after[r], e->changes[i].pods * e->changes[i].new_pool);
		held[r] = budget_sum(held[r], e->changes[i].held);
		before[r] = budget_sum(before[r], e->changes[i].pods * e->changes[i].old_pool);
	}
	for (r = 0; r < cfg->role_count; r++) {
		if (after[r] == before[r] && held[r] == 0)
			continue;
		for (k = 0; k < cfg->role_count; k++)
			others[k] = k == r ? usage[k] : budget_sum(usage[k], after[k] - held[k]);
		memset(&c, 0, sizeof(c));
		c.kind = "configmap";
		c.namespace = req->namespace;
		c.name = req->name;
		c.role = (int)r;
		c.replicas = 1;
		c.pool_per_pod = after[r];
		c.counted.role = (int)r;
		c.counted.connections = held[r];
		c.previous.role = (int)r;
		c.previous.connections = before[r];
		budget_judge(cfg, others, &c, &one);
		for (i = 0; i < one.warning_count; i++)
			verdict_warn(v, "%s", one.warnings[i]);
		if (!one.allowed) {
			*v = one;
			break;
		}
		if (v->role < 0) {
			v->role = one.role;
			v->role_used = one.role_used;
			v->role_limit = one.role_limit;
			v->cluster_used = one.cluster_used;
			v->cluster_limit = one.cluster_limit;
		}
	}
out:
	free(after);
	free(held);
	free(before);
	free(others);
	return result;
}

/* The keys whose values differ between two data objects (NULL: none), at most max named. */
static size_t
configmap_changed_keys(const cJSON *old, const cJSON *now, const char **keys, size_t max)
{
	const cJSON *item, *other, *sides[2];
	size_t n = 0;
	int pass;

	sides[0] = now;
	sides[1] = old;
	for (pass = 0; pass < 2; pass++)
		cJSON_ArrayForEach(item, sides[pass]) {
			other = cJSON_GetObjectItemCaseSensitive(sides[1 - pass], item->string);
			if (pass && other != NULL)
				continue;	/* seen in the first pass */
			if (other && cJSON_IsString(other) && cJSON_IsString(item) &&
			    strcmp(other->valuestring, item->valuestring) == 0)
				continue;
			if (n < max)
				keys[n] = item->string;
			n++;
		}
	return n;
}

/* A positive integer string no longer than a pool size can be; -1 otherwise. */
static long
configmap_number(const cJSON *item)
{
	long v = 0;
	const char *s;

	if (!cJSON_IsString(item) || item->valuestring[0] == '\0')
		return -1;
	for (s = item->valuestring; *s; s++) {
		if (*s < '0' || *s > '9' || v > WORKLOAD_MAX_POOL_SIZE)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/*
 * The largest value of key below its new value that the budget admits, by
 * bisection (the connections grow with it); 0 when none does, -1 when the
 * search cannot be made.
 */
static long
configmap_fitting_value(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, struct configmap_overlay *o, const char *key, long high)
{
	struct configmap_eval e;
	struct verdict v;
	long low = 0, mid;

	memset(&e, 0, sizeof(e));
	o->try_key = key;
	high--;
	while (low < high) {
		mid = low + (high - low + 1) / 2;
		snprintf(o->try_value, sizeof(o->try_value), "%ld", mid);
		if (configmap_evaluate(cfg, inv, o, &e) != PG_OK ||
		    configmap_verdict(cfg, inv, req, &e, &v) != PG_OK) {
			low = -1;
			break;
		}
		if (v.allowed)
			low = mid;
		else
			high = mid - 1;
	}
	o->try_key = NULL;
	free(e.changes);
	return low;
}

/* "deployment shop/api 3 x 12 -> 3 x 20 (+24), ..." into buf. */
static void
configmap_describe_changes(const struct configmap_eval *e, const char *namespace, char *buf,
    size_t size)
{
	const struct configmap_change *c;
	size_t i, shown = 0, len;

	buf[0] = '\0';
	for (i = 0; i < e->count; i++) {
		c = &e->changes[i];
		if (c->new_pool <= c->old_pool || c->role < 0)
			continue;
		len = strlen(buf);
		if (shown++ == CONFIGMAP_SHOWN) {
			snprintf(buf + len, size - len, " and more");
			break;
		}
		snprintf(buf + len, size - len, "%s%s %s/%s %ld x %ld -> %ld x %ld (+%ld)",
		    shown > 1 ? ", " : "", workload_kind_name(c->kind), namespace, c->name, c->pods,
		    c->old_pool, c->pods, c->new_pool, c->pods * (c->new_pool - c->old_pool));
	}
}

void
configmap_judge(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, struct verdict *v, struct admission_subject *subject)
{
	const cJSON *data = NULL, *old_data;
	const char *keys[CONFIGMAP_SHOWN];
	struct configmap_overlay o;
	struct configmap_eval e;
	struct admission_reservation *r;
	char what[160], changes[600], fit[160];
	size_t n, i;
	long value, fits;
	int result;

	memset(&o, 0, sizeof(o));
	memset(&e, 0, sizeof(e));
	o.inv = inv;
	o.namespace = req->namespace;
	o.name = req->name;
	if (req->op != REVIEW_DELETE) {
		if (req->object == NULL) {
			verdict_deny(v, "poolguard: the %s request for ConfigMap %s/%s carries no object",
			    req->operation, req->namespace, req->name);
			return;
		}
		o.exists = 1;
		data = cJSON_GetObjectItemCaseSensitive(req->object, "data");
		o.data = cJSON_IsObject(data) ? data : NULL;
	}
	result = configmap_evaluate(cfg, inv, &o, &e);
	if (result == PG_ERR_INVALID) {
		verdict_deny(v, "poolguard: ConfigMap %s/%s: %s", req->namespace, req->name,
		    e.err.msg);
		goto out;
	}
	if (result == PG_OK)
		result = configmap_verdict(cfg, inv, req, &e, v);
	if (result) {
		verdict_deny(v, "poolguard: out of memory judging ConfigMap %s/%s", req->namespace,
		    req->name);
		goto out;
	}
	for (i = 0; i < e.count; i++)
		if (e.changes[i].unknown && e.changes[i].role >= 0) {
			if (cfg->unknown_pool_deny) {
				verdict_deny(v, "poolguard: ConfigMap %s/%s: %s %s/%s: %s "
				    "(unknownPoolSize: deny)", req->namespace, req->name,
				    workload_kind_name(e.changes[i].kind), req->namespace,
				    e.changes[i].name, e.changes[i].note);
				goto out;
			}
			verdict_warn(v, "%s", e.changes[i].note);
		}
	old_data = req->old_object ? cJSON_GetObjectItemCaseSensitive(req->old_object, "data") :
	    inventory_configmap(inv, req->namespace, req->name);
	n = configmap_changed_keys(old_data, o.data, keys, CONFIGMAP_SHOWN);
	if (!v->allowed) {
		what[0] = fit[0] = '\0';
		for (i = 0; i < n && i < CONFIGMAP_SHOWN; i++)
			snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s'%.40s'",
			    i ? ", " : "", keys[i]);
		configmap_describe_changes(&e, req->namespace, changes, sizeof(changes));
		if (n == 1 && o.exists && (value = configmap_number(cJSON_GetObjectItemCaseSensitive(
		    o.data, keys[0]))) > 1) {
			fits = configmap_fitting_value(cfg, inv, req, &o, keys[0], value);
			if (fits > 0)
				snprintf(fit, sizeof(fit), "; what fits: '%.40s' at most %ld", keys[0],
				    fits);
			else if (fits == 0)
				snprintf(fit, sizeof(fit), "; what fits: no value of '%.40s'", keys[0]);
		}
		verdict_deny(v, "poolguard: ConfigMap %s/%s %s %s raises %s; %s%s", req->namespace,
		    req->name, n == 1 ? "key" : "keys", what, changes, v->over, fit);
		goto out;
	}
	/* Admitted: hold every raised workload until the watch shows it re-resolved. */
	for (i = 0; i < e.count && subject->reserve_count < ADMISSION_RESERVE_MAX; i++) {
		if (e.changes[i].role < 0 ||
		    e.changes[i].pods * e.changes[i].new_pool <= e.changes[i].held)
			continue;
		r = &subject->reserve[subject->reserve_count++];
		r->kind = e.changes[i].kind;
		r->namespace = req->namespace;
		snprintf(r->name, sizeof(r->name), "%s", e.changes[i].name);
		r->role = e.changes[i].role;
		r->connections = e.changes[i].pods * e.changes[i].new_pool;
		r->generation = 0;	/* the ConfigMap changes, not the workload */
	}
out:
	free(e.changes);
}
