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

static struct budget_holding
admission_counted(const struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name)
{
	const struct inventory_entry *e = inventory_get(inv, kind, namespace, name);
	struct budget_holding h = {-1, 0};

	if (e != NULL) {
		h.role = e->role;
		h.connections = e->replicas * e->pool_per_pod;
	}
	return h;
}

/*
 * `kubectl scale` sends an autoscaling/v1 Scale: replicas only. The pool size
 * and the role come from the workload in the inventory.
 */
static void
admission_judge_scale(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, enum workload_kind kind, struct verdict *v)
{
	const struct inventory_entry *e = inventory_get(inv, kind, req->namespace, req->name);
	struct budget_change c;
	struct pg_error err;
	long old_replicas;

	memset(&c, 0, sizeof(c));
	c.kind = workload_kind_name(kind);
	c.namespace = req->namespace;
	c.name = req->name;
	if (req->object == NULL) {
		verdict_init(v);
		verdict_deny(v, "poolguard: the scale request for %s %s/%s carries no object",
		    c.kind, c.namespace, c.name);
		return;
	}
	if (workload_scale_replicas(req->object, &c.replicas, &err)) {
		verdict_init(v);
		verdict_deny(v, "poolguard: %s %s/%s: %s", c.kind, c.namespace, c.name, err.msg);
		return;
	}
	if (e != NULL) {
		c.role = e->role;
		c.pool_per_pod = e->pool_per_pod;
	} else {
		c.role = budget_role_for(cfg, req->namespace, workload_label, NULL);
		c.pool_per_pod = cfg->default_pool_size;
	}
	c.counted = admission_counted(inv, kind, req->namespace, req->name);
	c.previous = c.counted;
	if (req->old_object && workload_scale_replicas(req->old_object, &old_replicas, &err) == 0) {
		c.previous.role = c.role;
		c.previous.connections = old_replicas * c.pool_per_pod;
	}
	budget_judge(cfg, inventory_role_usage(inv), &c, v);
	if (e == NULL && c.role >= 0)
		verdict_warn(v, "%s %s/%s is not in poolguard's inventory: pool size counted as "
		    "defaultPoolSize %ld", c.kind, c.namespace, c.name, cfg->default_pool_size);
}

static void
admission_judge_object(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, enum workload_kind kind, struct verdict *v)
{
	struct budget_change c;
	struct workload after, before;
	struct pg_error err;

	memset(&c, 0, sizeof(c));
	if (req->object == NULL) {
		verdict_init(v);
		verdict_deny(v, "poolguard: the %s request for %s %s/%s carries no object",
		    req->operation, workload_kind_name(kind), req->namespace, req->name);
		return;
	}
	if (workload_from_object(req->object, cfg, req->namespace, &after, &err)) {
		verdict_init(v);
		verdict_deny(v, "poolguard: %s", err.msg);
		return;
	}
	c.kind = workload_kind_name(after.kind);
	c.namespace = after.namespace;
	c.name = after.name[0] ? after.name : "(generated name)";
	c.role = budget_role_for(cfg, after.namespace, workload_label, after.labels);
	c.replicas = after.replicas;
	c.pool_per_pod = after.pool_per_pod;
	c.counted = admission_counted(inv, after.kind, after.namespace, after.name);
	c.previous.role = -1;
	if (strcmp(req->operation, "UPDATE") == 0) {
		c.previous = c.counted;
		if (req->old_object && workload_from_object(req->old_object, cfg, req->namespace,
		    &before, &err) == 0) {
			c.previous.role = budget_role_for(cfg, before.namespace, workload_label,
			    before.labels);
			c.previous.connections = workload_connections(&before);
		}
	}
	budget_judge(cfg, inventory_role_usage(inv), &c, v);
	if (after.note[0] && c.role >= 0)
		verdict_warn(v, "%s", after.note);
}

void
admission_judge(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, struct verdict *v, struct admission_subject *subject)
{
	enum workload_kind kind = admission_resource_kind(req);
	int create = strcmp(req->operation, "CREATE") == 0;
	int update = strcmp(req->operation, "UPDATE") == 0;
	int scale = strcmp(req->sub_resource, "scale") == 0;

	verdict_init(v);
	if (subject) {
		subject->kind = WORKLOAD_NONE;
		subject->is_scale = scale;
		subject->namespace = req->namespace;
		subject->name = req->name;
	}
	if (kind == WORKLOAD_NONE || !(create || update))
		return;
	if (scale && update)
		admission_judge_scale(cfg, inv, req, kind, v);
	else if (req->sub_resource[0] == '\0')
		admission_judge_object(cfg, inv, req, kind, v);
	else
		return;
	if (subject)
		subject->kind = kind;
}
