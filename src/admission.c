/*
 * admission.c - AdmissionReview requests to budget changes and verdicts.
 */
#include <string.h>

#include "poolguard/admission.h"

static enum workload_kind
admission_resource_kind(const struct review_request *req)
{
	if (strcmp(req->resource_group, "apps") != 0)
		return WORKLOAD_NONE;
	if (strcmp(req->resource, "deployments") == 0)
		return WORKLOAD_DEPLOYMENT;
	if (strcmp(req->resource, "statefulsets") == 0)
		return WORKLOAD_STATEFULSET;
	return WORKLOAD_NONE;
}

static int
admission_is_hpa(const struct review_request *req)
{
	return strcmp(req->resource_group, "autoscaling") == 0 &&
	    strcmp(req->resource, "horizontalpodautoscalers") == 0 && req->sub_resource[0] == '\0';
}

/* What the inventory holds for a workload now, reservations included. */
static struct budget_holding
admission_counted(const struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name)
{
	const struct inventory_entry *e = inventory_get(inv, kind, namespace, name);
	struct budget_holding none = {-1, 0};

	return e ? inventory_entry_holding(e) : none;
}

/* Judges c and records in subject what an admitted increase would hold. */
static void
admission_finish(const struct config *cfg, const struct inventory *inv,
    const struct budget_change *c, struct verdict *v, struct admission_subject *subject)
{
	budget_judge(cfg, inventory_role_usage(inv), c, v);
	subject->role = c->role;
	subject->connections = c->replicas * c->pool_per_pod;
	subject->increase = v->allowed && c->role >= 0 && (c->counted.role != c->role ||
	    subject->connections > c->counted.connections);
}

/*
 * `kubectl scale` sends an autoscaling/v1 Scale: replicas only. The pool size
 * and the role come from the workload in the inventory.
 */
static void
admission_judge_scale(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, enum workload_kind kind, struct verdict *v,
    struct admission_subject *subject)
{
	const struct inventory_entry *e = inventory_get(inv, kind, req->namespace, req->name);
	struct budget_change c;
	struct pg_error err;
	long old_replicas;

	if (e != NULL && !e->present)
		e = NULL;	/* only a reservation: the workload itself is unknown */
	memset(&c, 0, sizeof(c));
	c.kind = workload_kind_name(kind);
	c.namespace = req->namespace;
	c.name = req->name;
	if (req->object == NULL) {
		verdict_deny(v, "poolguard: the scale request for %s %s/%s carries no object",
		    c.kind, c.namespace, c.name);
		return;
	}
	if (workload_scale_replicas(req->object, &c.replicas, &err)) {
		verdict_deny(v, "poolguard: %s %s/%s: %s", c.kind, c.namespace, c.name, err.msg);
		return;
	}
	if (e != NULL) {
		c.role = e->role;
		c.pool_per_pod = e->pool_per_pod;
		if (e->hpa_max_replicas > 0)
			c.replicas = e->hpa_max_replicas;	/* the autoscaler's ceiling counts */
	} else {
		c.role = budget_role_for(cfg, req->namespace, workload_label, NULL);
		c.pool_per_pod = cfg->default_pool_size;
	}
	c.counted = admission_counted(inv, kind, req->namespace, req->name);
	c.previous = c.counted;
	if (e == NULL && req->old_object &&
	    workload_scale_replicas(req->old_object, &old_replicas, &err) == 0) {
		c.previous.role = c.role;
		c.previous.connections = old_replicas * c.pool_per_pod;
	}
	admission_finish(cfg, inv, &c, v, subject);
	if (e == NULL && c.role >= 0)
		verdict_warn(v, "%s %s/%s is not in poolguard's inventory: pool size counted as "
		    "defaultPoolSize %ld", c.kind, c.namespace, c.name, cfg->default_pool_size);
}

static void
admission_judge_object(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, enum workload_kind kind, struct verdict *v,
    struct admission_subject *subject)
{
	struct workload_resolver resolver = inventory_resolver(inv);
	struct budget_change c;
	struct workload after, before;
	struct pg_error err;
	long hpa_max;

	memset(&c, 0, sizeof(c));
	if (req->object == NULL) {
		verdict_deny(v, "poolguard: the %s request for %s %s/%s carries no object",
		    req->operation, workload_kind_name(kind), req->namespace, req->name);
		return;
	}
	if (workload_from_object(req->object, cfg, req->namespace, &resolver, &after, &err)) {
		verdict_deny(v, "poolguard: %s", err.msg);
		return;
	}
	subject->namespace = after.namespace;
	subject->name = after.name;
	if (after.pool_unknown && cfg->unknown_pool_deny &&
	    budget_role_for(cfg, after.namespace, workload_label, after.labels) >= 0) {
		verdict_deny(v, "poolguard: %s %s/%s: %s (unknownPoolSize: deny)",
		    workload_kind_name(after.kind), after.namespace, after.name, after.note);
		return;
	}
	hpa_max = inventory_hpa_max(inv, after.kind, after.namespace, after.name);
	c.kind = workload_kind_name(after.kind);
	c.namespace = after.namespace;
	c.name = after.name[0] ? after.name : "(generated name)";
	c.role = budget_role_for(cfg, after.namespace, workload_label, after.labels);
	c.replicas = hpa_max > 0 ? hpa_max : after.replicas;
	c.pool_per_pod = after.pool_per_pod;
	c.counted = admission_counted(inv, after.kind, after.namespace, after.name);
	c.previous.role = -1;
	if (strcmp(req->operation, "UPDATE") == 0) {
		c.previous = c.counted;
		if (req->old_object && workload_from_object(req->old_object, cfg, req->namespace,
		    &resolver, &before, &err) == 0) {
			c.previous.role = budget_role_for(cfg, before.namespace, workload_label,
			    before.labels);
			c.previous.connections = (hpa_max > 0 ? hpa_max : before.replicas) *
			    before.pool_per_pod;
		}
	}
	admission_finish(cfg, inv, &c, v, subject);
	if (after.note[0] && c.role >= 0)
		verdict_warn(v, "%s", after.note);
}

/* An HPA whose maxReplicas would take its workload past the budget is a scale-up. */
static void
admission_judge_hpa(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, struct verdict *v, struct admission_subject *subject)
{
	const struct inventory_entry *e;
	enum workload_kind kind, old_kind;
	const char *target, *old_target;
	struct budget_change c;
	struct pg_error err;
	long max, old_max;
	int result;

	if (!cfg->count_hpa_max_replicas || req->object == NULL)
		return;
	result = inventory_hpa_target(req->object, &kind, &target, &max, &err);
	if (result == PG_ERR_UNSUPPORTED)
		return;
	if (result) {
		verdict_deny(v, "poolguard: HPA %s/%s: %s", req->namespace, req->name, err.msg);
		return;
	}
	subject->namespace = req->namespace;
	subject->name = target;
	e = inventory_get(inv, kind, req->namespace, target);
	if (e == NULL || !e->present) {
		verdict_warn(v, "HPA %s/%s targets %s %s, which poolguard's inventory does not hold",
		    req->namespace, req->name, workload_kind_name(kind), target);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.kind = kind == WORKLOAD_DEPLOYMENT ? "HPA-scaled deployment" : "HPA-scaled statefulset";
	c.namespace = req->namespace;
	c.name = target;
	c.role = e->role;
	c.replicas = max;
	c.pool_per_pod = e->pool_per_pod;
	c.counted = inventory_entry_holding(e);
	c.previous = c.counted;
	if (req->old_object && inventory_hpa_target(req->old_object, &old_kind, &old_target,
	    &old_max, &err) == 0 && old_kind == kind && strcmp(old_target, target) == 0) {
		c.previous.role = e->role;
		c.previous.connections = old_max * e->pool_per_pod;
	}
	admission_finish(cfg, inv, &c, v, subject);
}

void
admission_judge(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, struct verdict *v, struct admission_subject *subject)
{
	struct admission_subject ignored;
	enum workload_kind kind = admission_resource_kind(req);
	int create = strcmp(req->operation, "CREATE") == 0;
	int update = strcmp(req->operation, "UPDATE") == 0;
	int scale = strcmp(req->sub_resource, "scale") == 0;

	if (subject == NULL)
		subject = &ignored;
	memset(subject, 0, sizeof(*subject));
	subject->kind = WORKLOAD_NONE;
	subject->role = -1;
	subject->namespace = req->namespace;
	subject->name = req->name;
	verdict_init(v);
	if (!(create || update))
		return;
	if (admission_is_hpa(req)) {
		admission_judge_hpa(cfg, inv, req, v, subject);
		return;
	}
	if (kind == WORKLOAD_NONE)
		return;
	if (scale && update)
		admission_judge_scale(cfg, inv, req, kind, v, subject);
	else if (req->sub_resource[0] == '\0')
		admission_judge_object(cfg, inv, req, kind, v, subject);
	else
		return;
	subject->kind = kind;
}
