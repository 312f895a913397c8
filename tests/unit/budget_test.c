/*
 * budget_test.c - the engine's rules, one table row each.
 *
 * Every table runs whole: run_table() takes the count from the array, so a
 * row added at the end can never be skipped.
 */
#include "unit/testutil.h"

#include "poolguard/budget.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* The worked numbers: role limit 200, cluster max 300, reserved 3, warn at 80%. */
static const char budget_worked[] =
    "cluster: {name: shared-postgres, maxConnections: 300, reservedConnections: 3}\n"
    "warnPercent: 80\n"
    "roles:\n"
    "  - name: synergyflow_app\n"
    "    connectionLimit: 200\n"
    "    namespaces: [synergyflow]\n";

/* Role limit 300 but the cluster only 200. */
static const char budget_small_cluster[] =
    "cluster: {name: shared-postgres, maxConnections: 200, reservedConnections: 3}\n"
    "roles:\n"
    "  - name: synergyflow_app\n"
    "    connectionLimit: 300\n"
    "    namespaces: [synergyflow]\n";

/* Two roles sharing a cluster of 300 (3 reserved): b's usage can fill it while a is fine. */
static const char budget_two_roles[] =
    "cluster: {name: pg, maxConnections: 300, reservedConnections: 3}\n"
    "roles:\n"
    "  - {name: a, connectionLimit: 200, namespaces: [synergyflow]}\n"
    "  - {name: b, connectionLimit: 300, namespaces: [other]}\n";

#define JUDGE_ROLES 4

/* A holding of role r with n connections; {0, 0} (omitted) holds nothing. */
#define HOLDS(r, n) {.role = (r), .connections = (n)}

struct judge_row {
	const char *name;		/* what the row shows, printed as it runs */
	const char *budget;
	long usage[JUDGE_ROLES];	/* each role's usage now, the workload in it as counted */
	int role;			/* the workload's role after the change, -1: outside */
	struct budget_holding counted;	/* what usage holds for the workload now */
	struct budget_holding previous;	/* what it held before the change; none: a new one */
	long replicas;
	long pool;
	int allowed;
	const char *message[2];		/* each in the message; a denied row names at least one */
	const char *warnings[VERDICT_MAX_WARNINGS];	/* one for each warning, each in its own */
	const char *absent;		/* in neither the message nor any warning */
	long role_used;			/* the verdict's numbers, always checked */
	long cluster_used;
	long pooler_used;
};

/* Judges row's change; a holding of nothing goes in as role -1, as for a new workload. */
static void
judge(const struct config *cfg, const struct judge_row *row, struct verdict *v)
{
	static const struct budget_holding none = HOLDS(-1, 0);
	struct budget_change c;

	memset(&c, 0, sizeof(c));
	c.kind = "deployment";
	c.namespace = "synergyflow";
	c.name = "api";
	c.role = row->role;
	c.replicas = row->replicas;
	c.pool_per_pod = row->pool;
	c.counted = row->counted.connections ? row->counted : none;
	c.previous = row->previous.connections ? row->previous : none;
	budget_judge(cfg, row->usage, &c, v);
}

static void
run_rows(const struct judge_row *rows, size_t n)
{
	struct verdict v;
	struct config *cfg;
	size_t i, w, warnings;

	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		const struct judge_row *row = &rows[i];

		for (warnings = 0; warnings < nitems(row->warnings) && row->warnings[warnings];
		    warnings++)
			;
		cfg = test_config(row->budget);
		judge(cfg, row, &v);
		print_message("row %zu (%s): %ld x %ld -> allowed %d, %zu warnings: %s%s\n", i,
		    row->name, row->replicas, row->pool, v.allowed, v.warning_count, v.message,
		    v.warning_count ? v.warnings[0] : "");
		assert_int_equal(v.allowed, row->allowed);
		assert_int_equal(v.warning_count, warnings);
		for (w = 0; w < warnings; w++)
			assert_contains(v.warnings[w], row->warnings[w]);
		if (row->allowed)
			assert_string_equal(v.message, "");
		else if (row->message[0] == NULL)
			fail_msg("row %zu (%s) is denied but says nothing of its message", i,
			    row->name);
		for (w = 0; w < nitems(row->message); w++)
			if (row->message[w])
				assert_contains(v.message, row->message[w]);
		if (row->absent) {
			assert_not_contains(v.message, row->absent);
			for (w = 0; w < v.warning_count; w++)
				assert_not_contains(v.warnings[w], row->absent);
		}
		assert_int_equal(v.role, row->role);
		assert_int_equal(v.role_used, row->role_used);
		assert_int_equal(v.cluster_used, row->cluster_used);
		assert_int_equal(v.pooler_used, row->pooler_used);
		config_free(cfg);
	}
}

/* Runs every row of a table; the count comes from the array, never by hand. */
#define run_table(rows) run_rows((rows), nitems(rows))

static void
test_worked_numbers(void **state)
{
	static const struct judge_row rows[] = {
		{.name = "3 x 20 = 60, 30%", .budget = budget_worked, .replicas = 3, .pool = 20,
		    .allowed = 1, .role_used = 60, .cluster_used = 63},
		{.name = "6 x 20 = 120, 60%", .budget = budget_worked, .replicas = 6, .pool = 20,
		    .allowed = 1, .role_used = 120, .cluster_used = 123},
		{.name = "10 x 15 = 150, 75%: no warning", .budget = budget_worked, .replicas = 10,
		    .pool = 15, .allowed = 1, .role_used = 150, .cluster_used = 153},
		{.name = "10 x 18 = 180, 90%: warned", .budget = budget_worked, .replicas = 10,
		    .pool = 18, .allowed = 1,
		    .warnings = {"role 'synergyflow_app' at 180 of 200 connections (90%), "
		    "warning level 80%"}, .role_used = 180, .cluster_used = 183},
		{.name = "10 x 20 = 200, 100%: warned", .budget = budget_worked, .replicas = 10,
		    .pool = 20, .allowed = 1,
		    .warnings = {"role 'synergyflow_app' at 200 of 200 connections (100%)"},
		    .role_used = 200, .cluster_used = 203},
		{.name = "11 x 20 = 220, 110%: denied", .budget = budget_worked, .replicas = 11,
		    .pool = 20, .allowed = 0,
		    .message = {"deployment synergyflow/api would hold 11 replicas x pool 20 = "
		    "220 connections; role 'synergyflow_app' would use 220 of 200 connections "
		    "(110%), 20 over", "what fits: at most 10 replicas at pool size 20, or pool "
		    "size at most 18 at 11 replicas"}, .role_used = 220, .cluster_used = 223},
		/* The role fits (200 of 300, 67%) but the cluster would hold 203 of 200. */
		{.name = "role fits, cluster 203 of 200: denied", .budget = budget_small_cluster,
		    .replicas = 10, .pool = 20, .allowed = 0,
		    .message = {"cluster 'shared-postgres' would use 203 of 200 connections "
		    "(102%), 3 over", "what fits: at most 9 replicas at pool size 20, or pool size "
		    "at most 19 at 10 replicas"}, .absent = "role 'synergyflow_app' would use",
		    .role_used = 200, .cluster_used = 203},
	};

	(void)state;
	run_table(rows);
}

static void
test_role_fits_cluster_does_not_names_only_cluster(void **state)
{
	struct judge_row row = {.budget = budget_small_cluster, .replicas = 10, .pool = 20};
	struct config *cfg = test_config(budget_small_cluster);
	struct verdict v;

	(void)state;
	judge(cfg, &row, &v);
	assert_false(v.allowed);
	assert_not_contains(v.message, "role 'synergyflow_app' would use");
	assert_int_equal(v.role_used, 200);
	assert_int_equal(budget_percent(v.role_used, v.role_limit), 67);
	assert_int_equal(v.cluster_used, 203);
	config_free(cfg);
}

static void
test_scale_up_through_inventory(void **state)
{
	/* The role holds 100: 3 x 20 of this workload and 40 of others; a scale judges the sum. */
	static const struct judge_row rows[] = {
		{.name = "9 x 20: 40 + 180 = 220, denied", .budget = budget_worked, .usage = {100},
		    .counted = HOLDS(0, 60), .previous = HOLDS(0, 60), .replicas = 9, .pool = 20,
		    .allowed = 0, .message = {"would use 220 of 200 connections (110%), 20 over",
		    "at most 8 replicas at pool size 20, or pool size at most 17 at 9"},
		    .role_used = 220, .cluster_used = 223},
		{.name = "8 x 20: 200 of 200, warned", .budget = budget_worked, .usage = {100},
		    .counted = HOLDS(0, 60), .previous = HOLDS(0, 60), .replicas = 8, .pool = 20,
		    .allowed = 1, .warnings = {"at 200 of 200 connections"}, .role_used = 200,
		    .cluster_used = 203},
		/* 140 of 200 is 70%, the cluster 143 of 300 is 48%: both below 80%, no warning. */
		{.name = "5 x 20: 140 of 200, no warning", .budget = budget_worked, .usage = {100},
		    .counted = HOLDS(0, 60), .previous = HOLDS(0, 60), .replicas = 5, .pool = 20,
		    .allowed = 1, .role_used = 140, .cluster_used = 143},
	};

	(void)state;
	run_table(rows);
}

static void
test_aggregation_new_deployment(void **state)
{
	/* Other workloads hold 150; a new 3 x 20 takes the role to 210. */
	static const struct judge_row rows[] = {
		{.name = "150 + 3 x 20 = 210: denied", .budget = budget_worked, .usage = {150},
		    .replicas = 3, .pool = 20, .allowed = 0,
		    .message = {"would use 210 of 200 connections (105%), 10 over", "at most 2 "
		    "replicas at pool size 20, or pool size at most 16 at 3 replicas"},
		    .role_used = 210, .cluster_used = 213},
		{.name = "150 + 2 x 20 = 190: warned", .budget = budget_worked, .usage = {150},
		    .replicas = 2, .pool = 20, .allowed = 1, .warnings = {"at 190 of 200"},
		    .role_used = 190, .cluster_used = 193},
		{.name = "200 + 1 x 10: no room at all", .budget = budget_worked, .usage = {200},
		    .replicas = 1, .pool = 10, .allowed = 0,
		    .message = {"what fits: nothing at pool size 10, the rest of the budget leaves "
		    "room for 0 connections"}, .role_used = 210, .cluster_used = 213},
	};

	(void)state;
	run_table(rows);
}

static void
test_ratchet(void **state)
{
	/* The role is already at 250 of 200, 100 of it this workload (10 x 10). */
	static const struct judge_row rows[] = {
		/* An unrelated edit (a new image): same connections, allowed with a warning. */
		{.name = "same connections: warned", .budget = budget_worked, .usage = {250},
		    .counted = HOLDS(0, 100), .previous = HOLDS(0, 100), .replicas = 10, .pool = 10,
		    .allowed = 1, .warnings = {"already over budget, this change adds no "
		    "connections: role 'synergyflow_app' would use 250 of 200"}, .role_used = 250,
		    .cluster_used = 253},
		/* Scaling down while over: allowed, still warned. */
		{.name = "scale down, still over: warned", .budget = budget_worked, .usage = {250},
		    .counted = HOLDS(0, 100), .previous = HOLDS(0, 100), .replicas = 9, .pool = 10,
		    .allowed = 1, .warnings = {"would use 240 of 200"}, .role_used = 240,
		    .cluster_used = 243},
		/* Any increase while over: denied; the rest of the role holds 150, 50 are left. */
		{.name = "increase while over: denied", .budget = budget_worked, .usage = {250},
		    .counted = HOLDS(0, 100), .previous = HOLDS(0, 100), .replicas = 11, .pool = 10,
		    .allowed = 0, .message = {"would use 260 of 200", "what fits: at most 5 "
		    "replicas at pool size 10, or pool size at most 4 at 11 replicas"},
		    .role_used = 260, .cluster_used = 263},
		/* Scaling to 0 always fits: 150 of 200 is 75%, below the band. */
		{.name = "scale to 0 while over", .budget = budget_worked, .usage = {250},
		    .counted = HOLDS(0, 100), .previous = HOLDS(0, 100), .replicas = 0, .pool = 10,
		    .allowed = 1, .role_used = 150, .cluster_used = 153},
		/* Lowering the pool while raising replicas, fewer connections in all: allowed. */
		{.name = "12 x 8 = 96 < 100: warned", .budget = budget_worked, .usage = {250},
		    .counted = HOLDS(0, 100), .previous = HOLDS(0, 100), .replicas = 12, .pool = 8,
		    .allowed = 1, .warnings = {"would use 246 of 200"}, .role_used = 246,
		    .cluster_used = 249},
	};

	(void)state;
	run_table(rows);
}

static void
test_scale_to_zero(void **state)
{
	static const struct judge_row rows[] = {
		{.name = "60 to 0 within budget", .budget = budget_worked, .usage = {60},
		    .counted = HOLDS(0, 60), .previous = HOLDS(0, 60), .replicas = 0, .pool = 20,
		    .allowed = 1, .role_used = 0, .cluster_used = 3},
		/* A new workload created at 0 replicas adds nothing, even to a full role. */
		{.name = "new at 0, role full", .budget = budget_worked, .usage = {200},
		    .replicas = 0, .pool = 20, .allowed = 1,
		    .warnings = {"role 'synergyflow_app' at 200 of 200 connections (100%)"},
		    .role_used = 200, .cluster_used = 203},
		{.name = "new at 0, role over", .budget = budget_worked, .usage = {210},
		    .replicas = 0, .pool = 20, .allowed = 1,
		    .warnings = {"already over budget, this change adds no connections: role "
		    "'synergyflow_app' would use 210 of 200"}, .role_used = 210,
		    .cluster_used = 213},
		/* b alone fills the cluster (3 + 300 of 300): scaling a to 0 is still allowed. */
		{.name = "to 0 while others keep the cluster over", .budget = budget_two_roles,
		    .usage = {60, 300}, .counted = HOLDS(0, 60), .previous = HOLDS(0, 60),
		    .replicas = 0, .pool = 20, .allowed = 1,
		    .warnings = {"already over budget, this change adds no connections: cluster "
		    "'pg' would use 303 of 300"}, .absent = "role 'a'", .role_used = 0,
		    .cluster_used = 303},
	};
	struct config *cfg = test_config(budget_worked);
	struct verdict v;

	(void)state;
	run_table(rows);
	judge(cfg, &rows[0], &v);
	assert_int_equal(v.connections_after, 0);
	assert_int_equal(v.connections_before, 60);
	assert_int_equal(v.role_used, 0);
	config_free(cfg);
}

static void
test_outside_the_budget(void **state)
{
	static const struct judge_row rows[] = {
		{.name = "no role: any size", .budget = budget_worked, .usage = {190}, .role = -1,
		    .replicas = 1000, .pool = 100, .allowed = 1, .role_used = 0,
		    .cluster_used = 3 + 190},
		/* Leaving the role (new labels) takes its 60 out of the cluster's count. */
		{.name = "moved out of the role", .budget = budget_worked, .usage = {90},
		    .role = -1, .counted = HOLDS(0, 60), .previous = HOLDS(0, 60), .replicas = 6,
		    .pool = 10, .allowed = 1, .role_used = 0, .cluster_used = 3 + 90 - 60},
	};

	(void)state;
	run_table(rows);
}

static void
test_enforcement_warn(void **state)
{
	static const char budget[] =
	    "cluster: {maxConnections: 300, reservedConnections: 3}\n"
	    "enforcement: warn\n"
	    "roles: [{name: app, connectionLimit: 200, namespaces: [synergyflow]}]\n";
	static const char small_cluster[] =
	    "cluster: {maxConnections: 200, reservedConnections: 3}\n"
	    "enforcement: warn\n"
	    "roles: [{name: app, connectionLimit: 300, namespaces: [synergyflow]}]\n";
	static const struct judge_row rows[] = {
		{.name = "role over: admitted, warned", .budget = budget, .replicas = 11,
		    .pool = 20, .allowed = 1, .warnings = {"over budget, admitted because "
		    "enforcement is warn: role 'app' would use 220 of 200 connections (110%), "
		    "20 over"}, .role_used = 220, .cluster_used = 223},
		{.name = "cluster over: admitted, warned", .budget = small_cluster, .replicas = 10,
		    .pool = 20, .allowed = 1, .warnings = {"over budget, admitted because "
		    "enforcement is warn: cluster 'postgres' would use 203 of 200 connections "
		    "(102%), 3 over"},
		    .absent = "role 'app' would use", .role_used = 200, .cluster_used = 203},
		/* Within the budget, warn mode warns as deny mode does. */
		{.name = "at the limit: the band warning", .budget = budget, .replicas = 10,
		    .pool = 20, .allowed = 1, .warnings = {"role 'app' at 200 of 200 connections "
		    "(100%), warning level 80%"}, .role_used = 200, .cluster_used = 203},
		/* Already over and adding nothing: the ratchet's warning, not the admission's. */
		{.name = "already over, same connections", .budget = budget, .usage = {250},
		    .counted = HOLDS(0, 100), .previous = HOLDS(0, 100), .replicas = 10, .pool = 10,
		    .allowed = 1, .warnings = {"already over budget, this change adds no "
		    "connections: role 'app' would use 250 of 200"},
		    .absent = "admitted because enforcement", .role_used = 250,
		    .cluster_used = 253},
	};

	(void)state;
	run_table(rows);
}

static void
test_external_connections(void **state)
{
	static const char budget[] =
	    "cluster: {name: pg, maxConnections: 300, reservedConnections: 3}\n"
	    "roles: [{name: app, connectionLimit: 200, namespaces: [synergyflow],"
	    " externalConnections: 50}]\n";
	/* 50 external leave 150 of the role to workloads. */
	static const struct judge_row rows[] = {
		{.name = "5 x 20 + 50 = 150", .budget = budget, .replicas = 5, .pool = 20,
		    .allowed = 1, .role_used = 150, .cluster_used = 153},
		{.name = "7 x 20 + 50 = 190: warned", .budget = budget, .replicas = 7, .pool = 20,
		    .allowed = 1, .warnings = {"role 'app' at 190 of 200 connections (95%)"},
		    .role_used = 190, .cluster_used = 193},
		{.name = "8 x 20 + 50 = 210: denied", .budget = budget, .replicas = 8, .pool = 20,
		    .allowed = 0, .message = {"would use 210 of 200", "at most 7 replicas at pool "
		    "size 20, or pool size at most 18 at 8 replicas"}, .role_used = 210,
		    .cluster_used = 213},
		{.name = "9 x 20 + 50 = 230: denied", .budget = budget, .replicas = 9, .pool = 20,
		    .allowed = 0, .message = {"would use 230 of 200", "at most 7 replicas at pool "
		    "size 20, or pool size at most 16 at 9 replicas"}, .role_used = 230,
		    .cluster_used = 3 + 230},
	};

	(void)state;
	run_table(rows);
}

static void
test_unlimited_role_still_counts_for_cluster(void **state)
{
	static const char budget[] =
	    "cluster: {name: pg, maxConnections: 300, reservedConnections: 3}\n"
	    "roles: [{name: app, connectionLimit: -1, namespaces: [synergyflow]}]\n";
	static const struct judge_row rows[] = {
		{.name = "no role limit, cluster 67%", .budget = budget, .replicas = 10, .pool = 20,
		    .allowed = 1, .role_used = 200, .cluster_used = 203},
		{.name = "cluster 283 of 300: warned", .budget = budget, .replicas = 14, .pool = 20,
		    .allowed = 1, .warnings = {"cluster 'pg' at 283 of 300 connections (94%)"},
		    .absent = "role 'app'", .role_used = 280, .cluster_used = 283},
		{.name = "cluster 303 of 300: denied", .budget = budget, .replicas = 15, .pool = 20,
		    .allowed = 0, .message = {"cluster 'pg' would use 303 of 300 connections "
		    "(101%), 3 over", "at most 14 replicas at pool size 20, or pool size at most "
		    "19 at 15 replicas"}, .absent = "role 'app'", .role_used = 300,
		    .cluster_used = 303},
		{.name = "cluster over, same connections", .budget = budget, .usage = {300},
		    .counted = HOLDS(0, 300), .previous = HOLDS(0, 300), .replicas = 15, .pool = 20,
		    .allowed = 1, .warnings = {"already over budget, this change adds no "
		    "connections: cluster 'pg' would use 303 of 300"}, .absent = "role 'app'",
		    .role_used = 300, .cluster_used = 303},
	};

	(void)state;
	run_table(rows);
}

static void
test_cluster_over_role_fine(void **state)
{
	static const struct judge_row rows[] = {
		/* a at 100 of 200, but b's 200 and the 3 reserved leave a 97. */
		{.name = "new 5 x 20: cluster 303 of 300", .budget = budget_two_roles,
		    .usage = {0, 200}, .replicas = 5, .pool = 20, .allowed = 0,
		    .message = {"cluster 'pg' would use 303 of 300 connections (101%), 3 over",
		    "what fits: at most 4 replicas at pool size 20, or pool size at most 19 at 5 "
		    "replicas"}, .absent = "role 'a'", .role_used = 100, .cluster_used = 303},
		{.name = "new 4 x 20: cluster warned", .budget = budget_two_roles,
		    .usage = {0, 200}, .replicas = 4, .pool = 20, .allowed = 1,
		    .warnings = {"cluster 'pg' at 283 of 300 connections (94%), warning level 80%"},
		    .absent = "role 'a'", .role_used = 80, .cluster_used = 283},
		/* Both over: both named; what fits is the cluster's 147, tighter than a's 200. */
		{.name = "new 11 x 20: role and cluster over", .budget = budget_two_roles,
		    .usage = {0, 150}, .replicas = 11, .pool = 20, .allowed = 0,
		    .message = {"role 'a' would use 220 of 200 connections (110%), 20 over; "
		    "cluster 'pg' would use 373 of 300 connections (124%), 73 over", "what fits: "
		    "at most 7 replicas at pool size 20, or pool size at most 13 at 11 replicas"},
		    .role_used = 220, .cluster_used = 373},
		/* b keeps the cluster over: a's unrelated edit passes, warned. */
		{.name = "cluster over, same connections", .budget = budget_two_roles,
		    .usage = {60, 250}, .counted = HOLDS(0, 60), .previous = HOLDS(0, 60),
		    .replicas = 3, .pool = 20, .allowed = 1,
		    .warnings = {"already over budget, this change adds no connections: cluster "
		    "'pg' would use 313 of 300"}, .absent = "role 'a'", .role_used = 60,
		    .cluster_used = 313},
		{.name = "cluster over, scale down below it", .budget = budget_two_roles,
		    .usage = {60, 250}, .counted = HOLDS(0, 60), .previous = HOLDS(0, 60),
		    .replicas = 2, .pool = 20, .allowed = 1,
		    .warnings = {"cluster 'pg' at 293 of 300 connections (98%), warning level 80%"},
		    .role_used = 40, .cluster_used = 293},
		{.name = "cluster over, scale up", .budget = budget_two_roles, .usage = {60, 250},
		    .counted = HOLDS(0, 60), .previous = HOLDS(0, 60), .replicas = 4, .pool = 20,
		    .allowed = 0, .message = {"cluster 'pg' would use 333 of 300 connections "
		    "(111%), 33 over", "what fits: at most 2 replicas at pool size 20, or pool "
		    "size at most 11 at 4 replicas"}, .absent = "role 'a'", .role_used = 80,
		    .cluster_used = 333},
	};

	(void)state;
	run_table(rows);
}

static void
test_multiple_warnings_role_and_cluster(void **state)
{
	static const char budget[] =
	    "cluster: {name: pg, maxConnections: 200, reservedConnections: 0}\n"
	    "roles: [{name: app, connectionLimit: 200, namespaces: [synergyflow]}]\n";
	static const struct judge_row rows[] = {
		{.name = "role and cluster at 90%", .budget = budget, .replicas = 9, .pool = 20,
		    .allowed = 1, .warnings = {"role 'app' at 180 of 200",
		    "cluster 'pg' at 180 of 200 connections (90%)"}, .role_used = 180,
		    .cluster_used = 180},
	};

	(void)state;
	run_table(rows);
}

static void
test_move_between_roles(void **state)
{
	static const char budget[] =
	    "cluster: {name: pg, maxConnections: 1000}\n"
	    "roles:\n"
	    "  - {name: a, connectionLimit: 100, namespaces: [synergyflow]}\n"
	    "  - {name: b, connectionLimit: 100, namespaces: [other]}\n";
	/* A workload of 6 x 10 = 60 counted in one role now matches the other. */
	static const struct judge_row rows[] = {
		/* Into a at 90: 150 of 100, an increase for a; the cluster total stays. */
		{.name = "b to a, a over", .budget = budget, .usage = {90, 60},
		    .counted = HOLDS(1, 60), .previous = HOLDS(1, 60), .replicas = 6, .pool = 10,
		    .allowed = 0, .message = {"role 'a' would use 150 of 100", "what fits: at "
		    "most 1 replicas at pool size 10, or pool size at most 1 at 6 replicas"},
		    .role_used = 150, .cluster_used = 150},
		{.name = "b to a, a at 90%", .budget = budget, .usage = {30, 60},
		    .counted = HOLDS(1, 60), .previous = HOLDS(1, 60), .replicas = 6, .pool = 10,
		    .allowed = 1, .warnings = {"role 'a' at 90 of 100 connections (90%), warning "
		    "level 80%"}, .role_used = 90, .cluster_used = 90},
		{.name = "b to a, scaled down", .budget = budget, .usage = {30, 60},
		    .counted = HOLDS(1, 60), .previous = HOLDS(1, 60), .replicas = 3, .pool = 10,
		    .allowed = 1, .role_used = 60, .cluster_used = 60},
		/* a is over already; what comes in from b is an increase for a. */
		{.name = "b to a, a already over", .budget = budget, .usage = {120, 60},
		    .counted = HOLDS(1, 60), .previous = HOLDS(1, 60), .replicas = 6, .pool = 10,
		    .allowed = 0, .message = {"role 'a' would use 180 of 100 connections (180%), "
		    "80 over", "what fits: nothing at pool size 10, the rest of the budget leaves "
		    "room for 0 connections"}, .role_used = 180, .cluster_used = 180},
		{.name = "a to b, b at 90%", .budget = budget, .usage = {90, 30}, .role = 1,
		    .counted = HOLDS(0, 60), .previous = HOLDS(0, 60), .replicas = 6, .pool = 10,
		    .allowed = 1, .warnings = {"role 'b' at 90 of 100 connections (90%)"},
		    .role_used = 90, .cluster_used = 120},
	};

	(void)state;
	run_table(rows);
}

static const char *
test_label(const void *labels, const char *key)
{
	const char *const *kv;

	for (kv = labels; kv && kv[0]; kv += 2)
		if (strcmp(kv[0], key) == 0)
			return kv[1];
	return NULL;
}

static void
test_role_matching(void **state)
{
	static const char budget[] =
	    "cluster: {maxConnections: 1000}\n"
	    "roles:\n"
	    "  - name: unmanaged\n"
	    "    connectionLimit: 10\n"
	    "  - name: by_label\n"
	    "    connectionLimit: 10\n"
	    "    namespaces: [shop, billing]\n"
	    "    selector: {matchLabels: {app.kubernetes.io/part-of: shop}}\n"
	    "  - name: by_expression\n"
	    "    connectionLimit: 10\n"
	    "    selector:\n"
	    "      matchExpressions:\n"
	    "        - {key: tier, operator: In, values: [backend, api]}\n"
	    "        - {key: legacy, operator: DoesNotExist}\n"
	    "  - name: notin\n"
	    "    connectionLimit: 10\n"
	    "    selector:\n"
	    "      matchExpressions:\n"
	    "        - {key: tier, operator: NotIn, values: [web]}\n"
	    "        - {key: team, operator: Exists}\n"
	    "  - name: shop_rest\n"
	    "    connectionLimit: 10\n"
	    "    namespaces: [shop]\n";
	static const char *const shop[] = {"app.kubernetes.io/part-of", "shop", NULL};
	static const char *const backend[] = {"tier", "backend", NULL};
	static const char *const legacy[] = {"tier", "backend", "legacy", "yes", "team", "x",
	    NULL};
	static const char *const team[] = {"team", "x", NULL};
	static const char *const web_team[] = {"tier", "web", "team", "x", NULL};
	static const struct {
		const char *namespace;
		const char *const *labels;
		int role;
	} rows[] = {
		{"shop", shop, 1},
		{"billing", shop, 1},
		{"other", shop, -1},
		{"other", backend, 2},		/* no namespaces listed: all namespaces */
		{"shop", backend, 2},
		{"other", legacy, 3},		/* DoesNotExist fails, NotIn + Exists match */
		{"other", team, 3},
		{"other", web_team, -1},
		{"shop", NULL, 4},		/* first match wins: by_label needs the label */
		{"nowhere", NULL, -1},
	};
	struct config *cfg = test_config(budget);
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		print_message("row %zu: %s\n", i, rows[i].namespace);
		assert_int_equal(budget_role_for(cfg, rows[i].namespace, test_label, rows[i].labels),
		    rows[i].role);
	}
	config_free(cfg);
}

static void
test_percent_and_band(void **state)
{
	struct config *cfg = test_config(budget_worked);

	(void)state;
	assert_int_equal(budget_percent(203, 200), 102);
	assert_int_equal(budget_percent(200, 300), 67);
	assert_int_equal(budget_percent(150, 200), 75);
	assert_int_equal(budget_percent(5, 0), 0);
	assert_false(budget_in_warning_band(cfg, 159, 200));
	assert_true(budget_in_warning_band(cfg, 160, 200));
	assert_false(budget_in_warning_band(cfg, 1000, CONFIG_NO_LIMIT));
	config_free(cfg);
}

static void
test_warning_is_short_and_printable(void **state)
{
	static const char budget[] =
	    "cluster: {name: \"a-very-long-cluster-name-that-goes-on-and-on-and-on-and-on\","
	    " maxConnections: 100}\n"
	    "roles: [{name: \"role\\nwith\\tcontrol-characters-and-a-long-name-too-long-to-fit\","
	    " connectionLimit: 100, namespaces: [synergyflow]}]\n";
	struct judge_row row = {.budget = budget, .replicas = 9, .pool = 10};
	struct config *cfg = test_config(budget);
	struct verdict v;
	size_t i;
	const char *p;

	(void)state;
	judge(cfg, &row, &v);
	assert_true(v.allowed);
	assert_int_equal(v.warning_count, 2);
	for (i = 0; i < v.warning_count; i++) {
		assert_true(strlen(v.warnings[i]) <= VERDICT_WARNING_MAX);
		for (p = v.warnings[i]; *p; p++)
			assert_true((unsigned char)*p >= 0x20);
	}
	config_free(cfg);
}

static const char budget_pooled[] =
    "cluster: {name: pg, maxConnections: 100, reservedConnections: 3}\n"
    "roles:\n"
    "  - name: app\n"
    "    connectionLimit: 60\n"
    "    namespaces: [synergyflow]\n"
    "    pooler: {name: pgbouncer, instances: 3, maxClientConn: 100, defaultPoolSize: 20,"
    " maxDbConnections: 15}\n"
    "  - name: batch\n"
    "    connectionLimit: 30\n"
    "    namespaces: [batch]\n"
    "    pooler: {name: pgbouncer, instances: 3, maxClientConn: 100, defaultPoolSize: 5}\n";

static void
test_pooled_role(void **state)
{
	/*
	 * Pods talk to PgBouncer: 3 x 100 = 300 client connections, shared by app and
	 * batch. The database sees the pooler's server connections, not the pods':
	 * app 3 x min(20, 15) = 45 of its 60, batch 3 x 5 = 15, so the cluster holds
	 * 3 + 45 + 15 = 63 whatever the pods do.
	 */
	static const struct judge_row rows[] = {
		{.name = "200 of 300 clients", .budget = budget_pooled, .replicas = 10, .pool = 20,
		    .allowed = 1, .role_used = 45, .cluster_used = 3 + 45 + 15, .pooler_used = 200},
		{.name = "260 of 300 clients: warned", .budget = budget_pooled, .replicas = 13,
		    .pool = 20, .allowed = 1, .warnings = {"pooler 'pgbouncer' at 260 of 300 "
		    "client connections (87%)"}, .role_used = 45, .cluster_used = 63,
		    .pooler_used = 260},
		{.name = "320 of 300 clients: denied", .budget = budget_pooled, .replicas = 16,
		    .pool = 20, .allowed = 0, .message = {"pooler 'pgbouncer' would take 320 of "
		    "300 client connections (107%), 20 over", "at most 15 replicas at pool size "
		    "20, or pool size at most 18 at 16 replicas"}, .absent = "role 'app'",
		    .role_used = 45, .cluster_used = 63, .pooler_used = 320},
		/* batch's 150 clients take the same pooler: app's 8 x 20 = 160 makes 310 of 300. */
		{.name = "shared: 150 + 160 = 310, denied", .budget = budget_pooled,
		    .usage = {0, 150}, .replicas = 8, .pool = 20, .allowed = 0,
		    .message = {"pooler 'pgbouncer' would take 310 of 300", "what fits: at most 7 "
		    "replicas at pool size 20, or pool size at most 18 at 8 replicas"},
		    .role_used = 45, .cluster_used = 63, .pooler_used = 310},
		{.name = "shared: 150 + 120 = 270, warned", .budget = budget_pooled,
		    .usage = {0, 150}, .replicas = 6, .pool = 20, .allowed = 1,
		    .warnings = {"pooler 'pgbouncer' at 270 of 300 client connections (90%), "
		    "warning level 80%"}, .role_used = 45, .cluster_used = 63, .pooler_used = 270},
		/* The pooler is over already (200 of app's, 150 of batch's): the ratchet holds. */
		{.name = "pooler over, same connections", .budget = budget_pooled,
		    .usage = {200, 150}, .counted = HOLDS(0, 200), .previous = HOLDS(0, 200),
		    .replicas = 10, .pool = 20, .allowed = 1,
		    .warnings = {"already over budget, this change adds no connections: pooler "
		    "'pgbouncer' would take 350 of 300 client connections"}, .role_used = 45,
		    .cluster_used = 63, .pooler_used = 350},
		{.name = "pooler over, scale down", .budget = budget_pooled, .usage = {200, 150},
		    .counted = HOLDS(0, 200), .previous = HOLDS(0, 200), .replicas = 9, .pool = 20,
		    .allowed = 1, .warnings = {"already over budget, this change adds no "
		    "connections: pooler 'pgbouncer' would take 330 of 300"}, .role_used = 45,
		    .cluster_used = 63, .pooler_used = 330},
		{.name = "pooler over, scale up", .budget = budget_pooled, .usage = {200, 150},
		    .counted = HOLDS(0, 200), .previous = HOLDS(0, 200), .replicas = 11, .pool = 20,
		    .allowed = 0, .message = {"pooler 'pgbouncer' would take 370 of 300 client "
		    "connections (123%), 70 over", "what fits: at most 7 replicas at pool size 20, "
		    "or pool size at most 13 at 11 replicas"}, .role_used = 45, .cluster_used = 63,
		    .pooler_used = 370},
	};
	struct config *cfg = test_config(budget_pooled);
	long usage[2] = {0, 150};

	(void)state;
	run_table(rows);
	assert_int_equal(config_role_server_connections(cfg, 0), 45);
	assert_int_equal(config_role_server_connections(cfg, 1), 15);
	assert_int_equal(budget_pooler_used(cfg, usage, 0), 150);
	assert_int_equal(budget_pooler_capacity(cfg, 0), 300);
	config_free(cfg);
}


static void
test_pooler_findings(void **state)
{
	static const char budget[] =
	    "cluster: {maxConnections: 500}\n"
	    "roles:\n"
	    "  - {name: ok, connectionLimit: 60, namespaces: [a],"
	    " pooler: {name: p1, instances: 3, maxClientConn: 100, defaultPoolSize: 20}}\n"
	    "  - {name: too_many, connectionLimit: 50, namespaces: [b],"
	    " pooler: {name: p2, instances: 3, maxClientConn: 100, maxDbConnections: 50}}\n";
	char findings[4][VERDICT_MESSAGE_MAX];
	struct config *cfg = test_config(budget);

	(void)state;
	/* Three PgBouncers with max_db_connections 50 can open 150 for a role limited to 50. */
	assert_int_equal(budget_findings(cfg, findings, 4), 1);
	assert_string_equal(findings[0], "role 'too_many': pooler 'p2' can open 3 x "
	    "min(defaultPoolSize 20, maxDbConnections 50) = 60 server connections, more than its "
	    "connection limit 50");
	config_free(cfg);
}

static void
test_pooler_config_errors(void **state)
{
	static const struct {
		const char *yaml;
		const char *message;
	} rows[] = {
		{"cluster: {maxConnections: 500}\nroles:\n"
		    "  - {name: a, connectionLimit: 5, pooler: {name: p, instances: 3, maxClientConn: 9}}\n"
		    "  - {name: b, connectionLimit: 5, pooler: {name: p, instances: 2, maxClientConn: 9}}\n",
		    "test.yaml:4: roles[1].pooler: pooler 'p' is declared with other instances or "
		    "maxClientConn by another role"},
		{"cluster: {maxConnections: 500}\nroles:\n"
		    "  - {name: a, connectionLimit: 5, pooler: {name: p, maxClientConn: 9}}\n",
		    "test.yaml:3: roles[0].pooler.instances: required key is missing"},
		{"cluster: {maxConnections: 500}\nroles:\n"
		    "  - {name: a, connectionLimit: 5, pooler: {name: p, instances: 0, maxClientConn: 9}}\n",
		    "roles[0].pooler.instances: must be between 1 and"},
		{"cluster: {maxConnections: 500}\nroles:\n"
		    "  - {name: a, connectionLimit: 5, pooler: {name: p, instances: 1, maxClientConn: 9,"
		    " poolMode: transaction}}\n", "roles[0].pooler.poolMode: unknown key"},
	};
	struct config *cfg;
	struct pg_error err;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		assert_int_equal(config_parse(rows[i].yaml, strlen(rows[i].yaml), "test.yaml", 0, &cfg,
		    &err), PG_ERR_INVALID);
		assert_contains(err.msg, rows[i].message);
	}
}

/*
 * BUG-12: absurd but accepted inputs must not overflow (UBSan fails the
 * ASan+UBSan run on signed overflow): 1.6e17 connections in a percentage,
 * ten pooled roles of 1e9 x 1e9 in the cluster's sum.
 */
static void
test_no_overflow(void **state)
{
	static const char pooled_role[] = "  - {name: r%d, connectionLimit: 1000000000, namespaces: "
	    "[n%d], pooler: {name: p%d, instances: 1000000000, maxClientConn: 1000000000, "
	    "defaultPoolSize: 1000000000}}\n";
	char budget[4096], *at;
	struct config *cfg;
	struct budget_change c;
	struct verdict v;
	long usage[16] = {0};
	int i;

	(void)state;
	assert_true(budget_percent(160000000000000000L, 200) > 0);
	assert_int_equal(budget_percent(160000000000000000L, 200), 80000000000000000L);
	at = budget + snprintf(budget, sizeof(budget), "cluster: {maxConnections: 1000000000}\n"
	    "roles:\n");
	for (i = 0; i < 10; i++)
		at += snprintf(at, sizeof(budget) - (size_t)(at - budget), pooled_role, i, i, i);
	cfg = test_config(budget);
	assert_int_equal(budget_cluster_used(cfg, usage), BUDGET_SATURATED);
	memset(&c, 0, sizeof(c));
	c.kind = "deployment";
	c.namespace = "n0";
	c.name = "api";
	c.role = 0;
	c.replicas = 1000000;
	c.pool_per_pod = 1000000000;
	c.counted.role = -1;
	c.previous.role = -1;
	/* Behind its pooler (1e18 client connections) it fits; the cluster is over already. */
	budget_judge(cfg, usage, &c, &v);
	assert_true(v.allowed);
	assert_int_equal(v.cluster_used, BUDGET_SATURATED);
	assert_int_equal(v.warning_count, 1);
	assert_contains(v.warnings[0], "already over budget, this change adds no connections");
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worked_numbers),
		cmocka_unit_test(test_role_fits_cluster_does_not_names_only_cluster),
		cmocka_unit_test(test_scale_up_through_inventory),
		cmocka_unit_test(test_aggregation_new_deployment),
		cmocka_unit_test(test_ratchet),
		cmocka_unit_test(test_scale_to_zero),
		cmocka_unit_test(test_outside_the_budget),
		cmocka_unit_test(test_enforcement_warn),
		cmocka_unit_test(test_external_connections),
		cmocka_unit_test(test_unlimited_role_still_counts_for_cluster),
		cmocka_unit_test(test_cluster_over_role_fine),
		cmocka_unit_test(test_multiple_warnings_role_and_cluster),
		cmocka_unit_test(test_move_between_roles),
		cmocka_unit_test(test_role_matching),
		cmocka_unit_test(test_percent_and_band),
		cmocka_unit_test(test_warning_is_short_and_printable),
		cmocka_unit_test(test_pooled_role),
		cmocka_unit_test(test_pooler_findings),
		cmocka_unit_test(test_pooler_config_errors),
		cmocka_unit_test(test_no_overflow),
	};

	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
