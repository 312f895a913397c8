/*
 * admission.c - AdmissionReview requests to budget changes and verdicts.
 */
#include <stdio.h>
#include <string.h>

#include "poolguard/admission.h"
#include "poolguard/configmap.h"
#include "poolguard/rollout.h"

/* What the inventory's sums hold for a workload in role now, reservations included. */
static struct budget_holding
admission_counted(const struct inventory *inv, enum workload_kind kind, const char *namespace,
    const char *name, int role)
{
	struct budget_holding h;

	h.role = role;
	h.connections = inventory_held(inv, kind, namespace, name, role);
	return h;
}

/*
 * Judges c and, when it is admitted with more connections than the sums hold
 * for the workload in its role, asks for them to be held.
 */
/*
 * Judges c and, when it is admitted with more connections than the sums hold
 * for the workload in its role, asks for them to be held until the stored
 * workload shows them or reaches generation (0: unknown).
 */
static void
admission_finish(const struct config *cfg, const struct inventory *inv,
    const struct budget_change *c, enum workload_kind kind, const char *key, long generation,
    struct verdict *v, struct admission_subject *subject)
{
	struct admission_reservation *r;
	long after = c->replicas * c->pool_per_pod;

	budget_judge(cfg, inventory_role_usage(inv), c, v);
	if (!v->allowed || c->role < 0 || after <= c->counted.connections ||
	    subject->reserve_count >= ADMISSION_RESERVE_MAX)
		return;
	r = &subject->reserve[subject->reserve_count++];
	r->kind = kind;
	r->namespace = c->namespace;
	snprintf(r->name, sizeof(r->name), "%s", key);
	r->role = c->role;
	r->connections = after;
	r->generation = generation;
}

/* metadata.resourceVersion of an object, "" when it has none. */
static const char *
admission_resource_version(const cJSON *object)
{
	const char *rv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(object, "metadata"), "resourceVersion"));

	return rv ? rv : "";
}

/*
 * `kubectl scale` sends an autoscaling/v1 Scale: replicas only. The pool size
 * and the role come from the workload in the inventory.
 */
static void
admission_judge_scale(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, struct verdict *v, struct admission_subject *subject)
{
	enum workload_kind kind = req->workload;
	struct inventory_facts facts;
	struct budget_change c;
	struct pg_error err;
	long old_replicas;
	int known = inventory_lookup(inv, kind, req->namespace, req->name, &facts), selector_role;

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
	if (known) {
		c.role = facts.role;
		c.pool_per_pod = facts.pool_per_pod;
		c.replicas = inventory_counted_pods(inv, kind, req->namespace, req->name, c.replicas);
	} else {
		c.role = budget_role_for(cfg, req->namespace, workload_label, NULL);
		c.pool_per_pod = cfg->default_pool_size;
	}
	c.counted = admission_counted(inv, kind, req->namespace, req->name, c.role);
	c.previous = c.counted;
	if (!known && req->old_object &&
	    workload_scale_replicas(req->old_object, &old_replicas, &err) == 0) {
		c.previous.role = c.role;
		c.previous.connections = old_replicas * c.pool_per_pod;
	}
	if (!known && c.role < 0 && (selector_role = budget_selector_role_in(cfg,
	    req->namespace)) >= 0) {
		/* Its labels decide whether role selector_role counts it, and they are unknown. */
		if (cfg->unknown_pool_deny)
			verdict_deny(v, "poolguard: %s %s/%s is not in poolguard's inventory and its "
			    "labels are unknown, so role '%s' cannot count it (unknownPoolSize: deny)",
			    c.kind, c.namespace, c.name, cfg->roles[selector_role].name);
		else
			verdict_warn(v, "%s %s/%s: not in poolguard's inventory, labels unknown: not "
			    "counted for role '%s'", c.kind, c.namespace, c.name,
			    cfg->roles[selector_role].name);
		return;
	}
	/*
	 * A Scale carries no generation. When the inventory holds the very version the
	 * scale was made on, the stored workload will have the next one; otherwise unknown.
	 */
	admission_finish(cfg, inv, &c, kind, req->name, known && facts.generation > 0 &&
	    facts.resource_version[0] && strcmp(facts.resource_version,
	    admission_resource_version(req->old_object)) == 0 ? facts.generation + 1 : 0, v,
	    subject);
	if (!known && c.role >= 0)
		verdict_warn(v, "%s %s/%s is not in poolguard's inventory: pool size counted as "
		    "defaultPoolSize %ld", c.kind, c.namespace, c.name, cfg->default_pool_size);
}

/*
 * A workload object that cannot be read: bad input when a role manages it,
 * none of poolguard's business when none does (its namespace and labels
 * say which, and they are read before anything can fail).
 */
static void
admission_unreadable(const struct config *cfg, const struct workload *w, const char *why,
    struct verdict *v)
{
	if (w->kind != WORKLOAD_NONE && w->namespace != NULL &&
	    budget_role_for(cfg, w->namespace, workload_label, w->labels) < 0)
		return;
	verdict_deny(v, "poolguard: %s", why);
}

/*
 * A template change replaces the pods: old ones at the old pool run beside
 * new ones at the new pool. A peak that breaks the budget although the end
 * state fits is warned of, or denied with rolloutPeak: deny, naming the
 * maxSurge (or the replica count) that would keep the rollout inside.
 */
static void
admission_judge_rollout(const struct config *cfg, const struct review_request *req,
    const struct budget_change *c, const struct workload *before, long old_pods,
    struct verdict *v, struct admission_subject *subject)
{
	struct rollout plan;
	struct pg_error err;

	if (cfg->rollout_peak == ROLLOUT_PEAK_IGNORE || !v->allowed || c->role < 0 ||
	    v->room_what == NULL)
		return;
	if (rollout_plan(req->workload, req->old_object, req->object, old_pods,
	    before->pool_per_pod, c->replicas, c->pool_per_pod, &plan, &err)) {
		verdict_deny(v, "poolguard: %s %s/%s: %s", c->kind, c->namespace, c->name, err.msg);
		subject->reserve_count = 0;
		return;
	}
	if (rollout_judge(cfg, &plan, c, v))
		subject->reserve_count = 0;
}

static void
admission_judge_object(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, struct verdict *v, struct admission_subject *subject)
{
	struct workload_resolver resolver = inventory_resolver(inv);
	struct budget_change c;
	struct workload after, before;
	struct pg_error err;
	char key[ADMISSION_KEY_MAX];
	long old_pods = -1, generation = 0;

	memset(&c, 0, sizeof(c));
	if (req->object == NULL) {
		verdict_deny(v, "poolguard: the %s request for %s %s/%s carries no object",
		    req->operation, workload_kind_name(req->workload), req->namespace, req->name);
		return;
	}
	if (workload_from_object(req->object, cfg, req->namespace, &resolver, &after, &err)) {
		admission_unreadable(cfg, &after, err.msg, v);
		return;
	}
	subject->namespace = after.namespace;
	subject->name = after.name;
	snprintf(subject->pool_source, sizeof(subject->pool_source), "%s", after.pool_source);
	c.role = budget_role_for(cfg, after.namespace, workload_label, after.labels);
	if (after.pool_unknown && cfg->unknown_pool_deny && c.role >= 0) {
		verdict_deny(v, "poolguard: %s %s/%s: %s (unknownPoolSize: deny)",
		    workload_kind_name(after.kind), after.namespace, after.name, after.note);
		return;
	}
	c.kind = workload_kind_name(after.kind);
	c.namespace = after.namespace;
	c.name = after.name[0] ? after.name : "(generated name)";
	c.replicas = inventory_counted_pods(inv, after.kind, after.namespace, after.name,
	    after.replicas);
	c.pool_per_pod = after.pool_per_pod;
	c.counted = admission_counted(inv, after.kind, after.namespace, after.name, c.role);
	c.previous.role = -1;
	if (req->op == REVIEW_UPDATE) {
		c.previous = c.counted;
		if (req->old_object && workload_from_object(req->old_object, cfg, req->namespace,
		    &resolver, &before, &err) == 0) {
			c.previous.role = budget_role_for(cfg, before.namespace, workload_label,
			    before.labels);
			old_pods = inventory_counted_pods(inv, after.kind, after.namespace, after.name,
			    before.replicas);
			c.previous.connections = old_pods * before.pool_per_pod;
			/*
			 * A spec change, which any increase is, moves the generation on. A
			 * CREATE has none to go by: an object of the same name deleted just
			 * before may still be in the inventory, with a later generation.
			 */
			if (before.generation > 0)
				generation = before.generation + 1;
		}
	}
	/* Each CREATE with a generated name is a workload of its own. */
	if (req->op == REVIEW_CREATE && req->name[0] == '\0')
		snprintf(key, sizeof(key), "%s*%s", after.name, req->uid);
	else
		snprintf(key, sizeof(key), "%s", after.name);
	if (strcmp(key, after.name) != 0)
		c.counted.connections = 0;
	admission_finish(cfg, inv, &c, after.kind, key, strcmp(key, after.name) == 0 ?
	    generation : 0, v, subject);
	if (old_pods >= 0)
		admission_judge_rollout(cfg, req, &c, &before, old_pods, v, subject);
	if (after.note[0] && c.role >= 0)
		verdict_warn(v, "%s", after.note);
}

/* An HPA whose maxReplicas would take its workload past the budget is a scale-up. */
static void
admission_judge_hpa(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, struct verdict *v, struct admission_subject *subject)
{
	struct inventory_facts facts;
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
	if (!inventory_lookup(inv, kind, req->namespace, target, &facts)) {
		verdict_warn(v, "HPA %s/%s targets %s %s, which poolguard's inventory does not hold",
		    req->namespace, req->name, workload_kind_name(kind), target);
		return;
	}
	subject->kind = kind;
	memset(&c, 0, sizeof(c));
	c.kind = kind == WORKLOAD_DEPLOYMENT ? "HPA-scaled deployment" : "HPA-scaled statefulset";
	c.namespace = req->namespace;
	c.name = target;
	c.role = facts.role;
	c.replicas = max > facts.replicas ? max : facts.replicas;
	c.pool_per_pod = facts.pool_per_pod;
	c.counted = admission_counted(inv, kind, req->namespace, target, c.role);
	c.previous = c.counted;
	if (req->old_object && inventory_hpa_target(req->old_object, &old_kind, &old_target,
	    &old_max, &err) == 0 && old_kind == kind && strcmp(old_target, target) == 0) {
		c.previous.role = facts.role;
		c.previous.connections = (old_max > facts.replicas ? old_max : facts.replicas) *
		    facts.pool_per_pod;
	}
	/* The HPA changes, not the workload: no generation shows it. */
	admission_finish(cfg, inv, &c, kind, target, 0, v, subject);
}

void
admission_judge(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, struct verdict *v, struct admission_subject *subject)
{
	struct admission_subject ignored;

	if (subject == NULL)
		subject = &ignored;
	memset(subject, 0, sizeof(*subject));
	subject->kind = WORKLOAD_NONE;
	subject->namespace = req->namespace;
	subject->name = req->name;
	verdict_init(v);
	if (req->target == REVIEW_TARGET_CONFIGMAP && (req->op == REVIEW_CREATE ||
	    req->op == REVIEW_UPDATE || req->op == REVIEW_DELETE)) {
		configmap_judge(cfg, inv, req, v, subject);
		return;
	}
	if (req->op != REVIEW_CREATE && req->op != REVIEW_UPDATE)
		return;
	switch (req->target) {
	case REVIEW_TARGET_HPA:
		admission_judge_hpa(cfg, inv, req, v, subject);
		break;
	case REVIEW_TARGET_SCALE:
		if (req->op != REVIEW_UPDATE)
			return;
		subject->kind = req->workload;
		admission_judge_scale(cfg, inv, req, v, subject);
		break;
	case REVIEW_TARGET_WORKLOAD:
		subject->kind = req->workload;
		admission_judge_object(cfg, inv, req, v, subject);
		break;
	case REVIEW_TARGET_CONFIGMAP:
	case REVIEW_TARGET_NONE:
		break;
	}
}
