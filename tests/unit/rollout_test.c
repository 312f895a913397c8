/*
 * rollout_test.c - rollout peaks: RollingUpdate mixes of old and new pods up
 * to replicas + maxSurge, Recreate, StatefulSets, and the maxSurge that fits.
 */
#include "unit/testutil.h"

#include "poolguard/rollout.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

struct row {
	const char *name;
	enum workload_kind kind;
	const char *strategy;		/* JSON of spec.strategy, or NULL */
	int same_template;		/* a scale only */
	long old_pods, old_pool, new_pods, new_pool;
	enum rollout_kind want_kind;
	long want_surge, want_unavailable;
	long want_peak, want_old, want_new;
	long room;			/* for rollout_fitting_surge */
	long want_fitting;
};

static const struct row rows[] = {
	{.name = "set env 20 -> 15 at 10 replicas: 10 x 20 + 3 x 15 (maxSurge 25% of 10 = 3)",
	    .kind = WORKLOAD_DEPLOYMENT, .old_pods = 10, .old_pool = 20, .new_pods = 10,
	    .new_pool = 15, .want_kind = ROLLOUT_ROLLING, .want_surge = 3, .want_unavailable = 2,
	    .want_peak = 245, .want_old = 10, .want_new = 3, .room = 200, .want_fitting = 0},
	{.name = "rollout restart at 10 x 20: 13 x 20", .kind = WORKLOAD_DEPLOYMENT,
	    .old_pods = 10, .old_pool = 20, .new_pods = 10, .new_pool = 20,
	    .want_kind = ROLLOUT_ROLLING, .want_surge = 3, .want_unavailable = 2, .want_peak = 260,
	    .want_old = 10, .want_new = 3, .room = 240, .want_fitting = 2},
	{.name = "a raise peaks at the new pool: 3 x 10 -> 3 x 20, the end state is the peak",
	    .kind = WORKLOAD_DEPLOYMENT, .old_pods = 3, .old_pool = 10, .new_pods = 3,
	    .new_pool = 20, .want_kind = ROLLOUT_ROLLING, .want_surge = 1, .want_unavailable = 0,
	    .want_peak = 70, .want_old = 1, .want_new = 3, .room = 60, .want_fitting = 0},
	{.name = "maxSurge 0, maxUnavailable 1: never more than 10 pods",
	    .kind = WORKLOAD_DEPLOYMENT, .strategy = "{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
	    "{\"maxSurge\":0,\"maxUnavailable\":1}}", .old_pods = 10, .old_pool = 20,
	    .new_pods = 10, .new_pool = 15, .want_kind = ROLLOUT_ROLLING, .want_surge = 0,
	    .want_unavailable = 1, .want_peak = 200, .want_old = 10, .want_new = 0, .room = 199,
	    .want_fitting = -1},
	{.name = "percentages: maxSurge 50% of 5 rounds up to 3, maxUnavailable 50% down to 2",
	    .kind = WORKLOAD_DEPLOYMENT, .strategy = "{\"rollingUpdate\":{\"maxSurge\":\"50%\","
	    "\"maxUnavailable\":\"50%\"}}", .old_pods = 5, .old_pool = 10, .new_pods = 5,
	    .new_pool = 10, .want_kind = ROLLOUT_ROLLING, .want_surge = 3, .want_unavailable = 2,
	    .want_peak = 80, .want_old = 5, .want_new = 3, .room = 60, .want_fitting = 1},
	{.name = "both 0 resolve to maxUnavailable 1, as the deployment controller does",
	    .kind = WORKLOAD_DEPLOYMENT, .strategy = "{\"rollingUpdate\":{\"maxSurge\":\"0%\","
	    "\"maxUnavailable\":0}}", .old_pods = 4, .old_pool = 10, .new_pods = 4, .new_pool = 10,
	    .want_kind = ROLLOUT_ROLLING, .want_surge = 0, .want_unavailable = 1, .want_peak = 40,
	    .want_old = 4, .want_new = 0, .room = 40, .want_fitting = 0},
	{.name = "scale down with a new template: 10 x 20 -> 4 x 20, surge 1 of 4",
	    .kind = WORKLOAD_DEPLOYMENT, .old_pods = 10, .old_pool = 20, .new_pods = 4,
	    .new_pool = 20, .want_kind = ROLLOUT_ROLLING, .want_surge = 1, .want_unavailable = 1,
	    .want_peak = 100, .want_old = 5, .want_new = 0, .room = 100, .want_fitting = 1},
	{.name = "Recreate: the larger of before and after", .kind = WORKLOAD_DEPLOYMENT,
	    .strategy = "{\"type\":\"Recreate\"}", .old_pods = 10, .old_pool = 20, .new_pods = 10,
	    .new_pool = 15, .want_kind = ROLLOUT_RECREATE, .want_peak = 200, .want_old = 10,
	    .want_new = 0, .room = 300, .want_fitting = -1},
	{.name = "StatefulSet: one pod at a time, every pod at the larger pool",
	    .kind = WORKLOAD_STATEFULSET, .old_pods = 3, .old_pool = 20, .new_pods = 3,
	    .new_pool = 30, .want_kind = ROLLOUT_ONE_BY_ONE, .want_peak = 90, .want_old = 0,
	    .want_new = 3, .room = 90, .want_fitting = -1},
	{.name = "no template change: a scale, no rollout", .kind = WORKLOAD_DEPLOYMENT,
	    .same_template = 1, .old_pods = 3, .old_pool = 20, .new_pods = 5, .new_pool = 20,
	    .want_kind = ROLLOUT_NONE, .want_peak = 100, .want_old = 0, .want_new = 5, .room = 100,
	    .want_fitting = -1},
};

static cJSON *
object(const char *strategy, const char *pool, enum workload_kind kind)
{
	char text[1024];

	snprintf(text, sizeof(text), "{\"spec\":{%s%s%s\"template\":{\"spec\":{\"containers\":[{"
	    "\"name\":\"app\",\"env\":[{\"name\":\"P\",\"value\":\"%s\"}]}]}}}}",
	    strategy ? (kind == WORKLOAD_STATEFULSET ? "\"updateStrategy\":" : "\"strategy\":") : "",
	    strategy ? strategy : "", strategy ? "," : "", pool);
	return cJSON_Parse(text);
}

static void
test_rows(void **state)
{
	const struct row *r;
	struct rollout plan;
	struct rollout_peak peak;
	struct pg_error err;
	cJSON *before, *after;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		r = &rows[i];
		print_message("row %zu: %s\n", i, r->name);
		before = object(r->strategy, "old", r->kind);
		after = object(r->strategy, r->same_template ? "old" : "new", r->kind);
		assert_int_equal(rollout_plan(r->kind, before, after, r->old_pods, r->old_pool,
		    r->new_pods, r->new_pool, &plan, &err), 0);
		assert_int_equal(plan.kind, r->want_kind);
		assert_int_equal(plan.max_surge, r->want_surge);
		assert_int_equal(plan.max_unavailable, r->want_unavailable);
		peak = rollout_peak(&plan);
		assert_int_equal(peak.connections, r->want_peak);
		assert_int_equal(peak.old_pods, r->want_old);
		assert_int_equal(peak.new_pods, r->want_new);
		assert_int_equal(rollout_fitting_surge(&plan, r->room), r->want_fitting);
		cJSON_Delete(before);
		cJSON_Delete(after);
	}
}

static void
test_bad_strategy(void **state)
{
	static const char *const bad[] = {
		"{\"rollingUpdate\":{\"maxSurge\":\"abc\"}}",
		"{\"rollingUpdate\":{\"maxSurge\":\"150%\"}}",
		"{\"rollingUpdate\":{\"maxUnavailable\":-1}}",
		"{\"rollingUpdate\":{\"maxUnavailable\":1.5}}",
		"{\"rollingUpdate\":{\"maxSurge\":true}}",
	};
	struct rollout plan;
	struct pg_error err;
	cJSON *before, *after;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad); i++) {
		before = object(bad[i], "old", WORKLOAD_DEPLOYMENT);
		after = object(bad[i], "new", WORKLOAD_DEPLOYMENT);
		assert_int_equal(rollout_plan(WORKLOAD_DEPLOYMENT, before, after, 3, 10, 3, 10, &plan,
		    &err), PG_ERR_INVALID);
		assert_contains(err.msg, "spec.strategy.rollingUpdate.");
		cJSON_Delete(before);
		cJSON_Delete(after);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_bad_strategy),
	};

	return cmocka_run_group_tests_name("rollout", tests, NULL, NULL);
}
