/*
 * rollout.c - the connections a rollout can hold at its peak.
 *
 * The deployment controller keeps at most replicas + maxSurge pods of both
 * ReplicaSets together (maxSurge rounded up, maxUnavailable rounded down,
 * and maxUnavailable 1 when both come to 0). The worst mix is as many old
 * pods as can still run beside as many new ones as fit under that total.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolguard/rollout.h"

static const cJSON *
rollout_get(const cJSON *object, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(object, key);
}

/*
 * An IntOrString of a rolling update: a count, or "N%" of replicas rounded
 * up or down. Absent: fallback percent.
 */
static int
rollout_int_or_percent(const cJSON *item, const char *what, long replicas, long fallback_percent,
    int round_up, long *out, struct pg_error *err)
{
	double percent;
	char *end;

	if (item == NULL || cJSON_IsNull(item)) {
		percent = (double)fallback_percent;
	} else if (cJSON_IsNumber(item)) {
		if (item->valuedouble < 0 || item->valuedouble > WORKLOAD_MAX_REPLICAS ||
		    item->valuedouble != floor(item->valuedouble))
			return pg_error_set(err, PG_ERR_INVALID, "spec.strategy.rollingUpdate.%s must "
			    "be a whole number from 0 to %ld or a percentage", what,
			    WORKLOAD_MAX_REPLICAS);
		*out = (long)item->valuedouble;
		return PG_OK;
	} else if (cJSON_IsString(item)) {
		percent = strtod(item->valuestring, &end);
		if (end == item->valuestring || strcmp(end, "%") != 0 || percent < 0 ||
		    percent > 100 || percent != floor(percent))
			return pg_error_set(err, PG_ERR_INVALID, "spec.strategy.rollingUpdate.%s: "
			    "'%.20s' is not a percentage from 0%% to 100%%", what, item->valuestring);
	} else
		return pg_error_set(err, PG_ERR_INVALID, "spec.strategy.rollingUpdate.%s must be "
		    "a number or a percentage", what);
	*out = round_up ? (long)ceil(percent * (double)replicas / 100.0) :
	    (long)floor(percent * (double)replicas / 100.0);
	return PG_OK;
}

static int rollout_strategy(enum workload_kind kind, const cJSON *spec, struct rollout *out,
    struct pg_error *err);

int
rollout_plan(enum workload_kind kind, const cJSON *before, const cJSON *after, long old_pods,
    long old_pool, long new_pods, long new_pool, struct rollout *out, struct pg_error *err)
{
	const cJSON *spec = rollout_get(after, "spec");

	memset(out, 0, sizeof(*out));
	out->old_pods = old_pods;
	out->old_pool = old_pool;
	out->new_pods = new_pods;
	out->new_pool = new_pool;
	if (before == NULL || cJSON_Compare(rollout_get(rollout_get(before, "spec"), "template"),
	    rollout_get(spec, "template"), 1))
		return PG_OK;	/* the same pods stay: a scale at most */
	return rollout_strategy(kind, spec, out, err);
}

int
rollout_restart(enum workload_kind kind, const cJSON *object, long pods, long pool,
    struct rollout *out, struct pg_error *err)
{
	memset(out, 0, sizeof(*out));
	out->old_pods = out->new_pods = pods;
	out->old_pool = out->new_pool = pool;
	return rollout_strategy(kind, rollout_get(object, "spec"), out, err);
}

/* The kind of rollout and its surge for spec, into out (pods and pools already set). */
static int
rollout_strategy(enum workload_kind kind, const cJSON *spec, struct rollout *out,
    struct pg_error *err)
{
	const cJSON *strategy, *rolling, *type;
	int result;
	long new_pods = out->new_pods;

	if (kind == WORKLOAD_STATEFULSET) {
		/* RollingUpdate, and OnDelete as pods are deleted: each replaced in place. */
		out->kind = ROLLOUT_ONE_BY_ONE;
		return PG_OK;
	}
	strategy = rollout_get(spec, "strategy");
	type = rollout_get(strategy, "type");
	if (cJSON_IsString(type) && strcmp(type->valuestring, "Recreate") == 0) {
		out->kind = ROLLOUT_RECREATE;
		return PG_OK;
	}
	out->kind = ROLLOUT_ROLLING;
	rolling = rollout_get(strategy, "rollingUpdate");
	if ((result = rollout_int_or_percent(rollout_get(rolling, "maxSurge"), "maxSurge", new_pods,
	    25, 1, &out->max_surge, err)) ||
	    (result = rollout_int_or_percent(rollout_get(rolling, "maxUnavailable"),
	    "maxUnavailable", new_pods, 25, 0, &out->max_unavailable, err)))
		return result;
	if (out->max_surge == 0 && out->max_unavailable == 0)
		out->max_unavailable = 1;
	return PG_OK;
}

static long
rollout_min(long a, long b)
{
	return a < b ? a : b;
}

/* The worst mix of a rolling update with at most total pods at once. */
static struct rollout_peak
rollout_rolling_peak(const struct rollout *r, long total)
{
	struct rollout_peak best = {0, 0, 0}, p;
	long candidates[3], old;
	int i;

	/*
	 * Connections are linear in the old pods on each side of total - new_pods:
	 * try the ends, the rollout's start (most old pods) first on a tie.
	 */
	candidates[0] = rollout_min(r->old_pods, total);
	candidates[1] = total - r->new_pods < 0 ? 0 : rollout_min(total - r->new_pods,
	    candidates[0]);
	candidates[2] = 0;
	for (i = 0; i < 3; i++) {
		old = candidates[i];
		p.old_pods = old;
		p.new_pods = rollout_min(r->new_pods, total - old);
		p.connections = old * r->old_pool + p.new_pods * r->new_pool;
		if (p.connections > best.connections)
			best = p;
	}
	return best;
}

struct rollout_peak
rollout_peak(const struct rollout *r)
{
	struct rollout_peak p = {0, 0, 0};

	switch (r->kind) {
	case ROLLOUT_ROLLING:
		return rollout_rolling_peak(r, r->new_pods + r->max_surge);
	case ROLLOUT_ONE_BY_ONE:
		/* Pods are replaced in place, so at worst every pod runs at the larger pool. */
		if (r->old_pool >= r->new_pool)
			p.old_pods = r->old_pods > r->new_pods ? r->old_pods : r->new_pods;
		else
			p.new_pods = r->old_pods > r->new_pods ? r->old_pods : r->new_pods;
		p.connections = p.old_pods * r->old_pool + p.new_pods * r->new_pool;
		return p;
	case ROLLOUT_RECREATE:
	case ROLLOUT_NONE:
		break;
	}
	if (r->old_pods * r->old_pool > r->new_pods * r->new_pool) {
		p.old_pods = r->old_pods;
		p.connections = r->old_pods * r->old_pool;
	} else {
		p.new_pods = r->new_pods;
		p.connections = r->new_pods * r->new_pool;
	}
	return p;
}

long
rollout_fitting_surge(const struct rollout *r, long room)
{
	long surge;

	if (r->kind != ROLLOUT_ROLLING)
		return -1;
	for (surge = r->max_surge; surge >= 0; surge--)
		if (rollout_rolling_peak(r, r->new_pods + surge).connections <= room)
			return surge;
	return -1;
}

int
rollout_judge(const struct config *cfg, const struct rollout *plan, const struct budget_change *c,
    struct verdict *v)
{
	struct rollout_peak peak = rollout_peak(plan);
	long after = c->replicas * c->pool_per_pod, surge, larger;
	char fit[96], mix[96];

	if (cfg->rollout_peak == ROLLOUT_PEAK_IGNORE || !v->allowed || c->role < 0 ||
	    v->room_what == NULL || plan->kind == ROLLOUT_NONE || peak.connections <= after ||
	    peak.connections <= v->room)
		return 0;
	surge = rollout_fitting_surge(plan, v->room);
	larger = plan->old_pool > plan->new_pool ? plan->old_pool : plan->new_pool;
	if (surge >= 0)
		snprintf(fit, sizeof(fit), "maxSurge %ld%s", surge, surge == 0 ?
		    " (maxUnavailable >= 1)" : "");
	else
		snprintf(fit, sizeof(fit), "at most %ld replicas", v->room > 0 && larger > 0 ?
		    v->room / larger : 0);
	snprintf(mix, sizeof(mix), "%ld old x %ld + %ld new x %ld", peak.old_pods, plan->old_pool,
	    peak.new_pods, plan->new_pool);
	if (cfg->rollout_peak == ROLLOUT_PEAK_DENY && cfg->enforcement == ENFORCEMENT_DENY) {
		verdict_deny(v, "poolguard: %s %s/%s: its rollout would peak at %ld connections (%s "
		    "with maxSurge %ld): %s '%s' would use %ld of %ld connections during the rollout; "
		    "what fits: %s (rolloutPeak: deny)", c->kind, c->namespace, c->name,
		    peak.connections, mix, plan->max_surge, v->room_what, v->room_name,
		    v->room_limit - v->room + peak.connections, v->room_limit, fit);
		return 1;
	}
	verdict_warn(v, "rollout peak: %s '%s' %ld of %ld (%s); %s fits", v->room_what, v->room_name,
	    v->room_limit - v->room + peak.connections, v->room_limit, mix, fit);
	return 0;
}
