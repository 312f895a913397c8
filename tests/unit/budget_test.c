/*
 * budget_test.c - the engine's rules, one table row each.
 */
#include "unit/testutil.h"

#include "poolguard/budget.h"

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

struct judge_row {
	const char *budget;
	long usage;		/* the role's usage now, this workload included as counted */
	long counted;		/* what the usage holds for this workload; -1: not counted */
	long previous;		/* what it held before the change; -1: a new workload */
	long replicas;
	long pool;
	int allowed;
	size_t warnings;
	const char *expect1;	/* in the message (denied) or the first warning */
	const char *expect2;
};

static void
judge(const struct config *cfg, const struct judge_row *row, struct verdict *v)
{
	struct budget_change c;
	long usage[4] = {row->usage, 0, 0, 0};

	memset(&c, 0, sizeof(c));
	c.kind = "deployment";
	c.namespace = "synergyflow";
	c.name = "api";
	c.role = 0;
	c.replicas = row->replicas;
	c.pool_per_pod = row->pool;
	c.counted.role = row->counted >= 0 ? 0 : -1;
	c.counted.connections = row->counted >= 0 ? row->counted : 0;
	c.previous.role = row->previous >= 0 ? 0 : -1;
	c.previous.connections = row->previous >= 0 ? row->previous : 0;
	budget_judge(cfg, usage, &c, v);
}

static void
run_rows(const struct judge_row *rows, size_t n)
{
	struct verdict v;
	struct config *cfg;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct judge_row *row = &rows[i];
		const char *text;

		cfg = test_config(row->budget);
		judge(cfg, row, &v);
		print_message("row %zu: %ld x %ld -> allowed %d, %zu warnings: %s%s\n", i,
		    row->replicas, row->pool, v.allowed, v.warning_count, v.message,
		    v.warning_count ? v.warnings[0] : "");
		assert_int_equal(v.allowed, row->allowed);
		assert_int_equal(v.warning_count, row->warnings);
		text = row->allowed ? v.warnings[0] : v.message;
		if (row->expect1)
			assert_contains(text, row->expect1);
		if (row->expect2)
			assert_contains(text, row->expect2);
		if (row->allowed)
			assert_string_equal(v.message, "");
		config_free(cfg);
	}
}

static void
test_worked_numbers(void **state)
{
	static const struct judge_row rows[] = {
		{budget_worked, 0, -1, -1, 3, 20, 1, 0, NULL, NULL},
		{budget_worked, 0, -1, -1, 6, 20, 1, 0, NULL, NULL},
		{budget_worked, 0, -1, -1, 10, 15, 1, 0, NULL, NULL},
		{budget_worked, 0, -1, -1, 10, 18, 1, 1,
		    "role 'synergyflow_app' at 180 of 200 connections (90%)", "warning level 80%"},
		{budget_worked, 0, -1, -1, 10, 20, 1, 1,
		    "role 'synergyflow_app' at 200 of 200 connections (100%)", NULL},
		{budget_worked, 0, -1, -1, 11, 20, 0, 0,
		    "deployment synergyflow/api would hold 11 replicas x pool 20 = 220 connections; "
		    "role 'synergyflow_app' would use 220 of 200 connections (110%), 20 over",
		    "what fits: at most 10 replicas at pool size 20, or pool size at most 18 at 11 "
		    "replicas"},
		/* The role fits (200 of 300, 67%) but the cluster would hold 203 of 200. */
		{budget_small_cluster, 0, -1, -1, 10, 20, 0, 0,
		    "cluster 'shared-postgres' would use 203 of 200 connections (102%), 3 over",
		    "what fits: at most 9 replicas at pool size 20, or pool size at most 19 at 10 "
		    "replicas"},
	};

	(void)state;
	run_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

static void
test_role_fits_cluster_does_not_names_only_cluster(void **state)
{
	struct judge_row row = {budget_small_cluster, 0, -1, -1, 10, 20, 0, 0, NULL, NULL};
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
	/* The role holds 3 x 20 of this workload plus 40 of others: the scale judges the sum. */
	static const struct judge_row rows[] = {
		/* 100 now, this one 60 of it: 9 x 20 gives 40 + 180 = 220. */
		{budget_worked, 100, 60, 60, 9, 20, 0, 0, "would use 220 of 200 connections (110%), "
		    "20 over", "at most 8 replicas at pool size 20, or pool size at most 17 at 9"},
		{budget_worked, 100, 60, 60, 8, 20, 1, 1, "at 200 of 200 connections", NULL},
		{budget_worked, 100, 60, 60, 5, 20, 1, 1, "at 140 of 200 connections (70%)", NULL},
	};

	(void)state;
	/* 140 of 200 is 70%: below the band, but the cluster is 143 of 300: no warning. */
	run_rows(rows, 2);
	{
		struct config *cfg = test_config(budget_worked);
		struct verdict v;

		judge(cfg, &rows[2], &v);
		assert_true(v.allowed);
		assert_int_equal(v.warning_count, 0);
		assert_int_equal(v.role_used, 140);
		assert_int_equal(v.cluster_used, 143);
		config_free(cfg);
	}
}

static void
test_aggregation_new_deployment(void **state)
{
	/* Other workloads hold 150; a new 3 x 20 takes the role to 210. */
	static const struct judge_row rows[] = {
		{budget_worked, 150, -1, -1, 3, 20, 0, 0, "would use 210 of 200 connections (105%), "
		    "10 over", "at most 2 replicas at pool size 20, or pool size at most 16 at 3 "
		    "replicas"},
		{budget_worked, 150, -1, -1, 2, 20, 1, 1, "at 190 of 200", NULL},
		{budget_worked, 200, -1, -1, 1, 10, 0, 0, "what fits: nothing at pool size 10, the "
		    "rest of the budget leaves room for 0 connections", NULL},
	};

	(void)state;
	run_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

static void
test_ratchet(void **state)
{
	/* The role is already at 250 of 200, 100 of it this workload (10 x 10). */
	static const struct judge_row rows[] = {
		/* An unrelated edit (a new image): same connections, allowed with a warning. */
		{budget_worked, 250, 100, 100, 10, 10, 1, 1, "already over budget, this change adds "
		    "no connections: role 'synergyflow_app' would use 250 of 200", NULL},
		/* Scaling down while over: allowed, still warned. */
		{budget_worked, 250, 100, 100, 9, 10, 1, 1, "would use 240 of 200", NULL},
		/* Any increase while over: denied. */
		{budget_worked, 250, 100, 100, 11, 10, 0, 0, "would use 260 of 200", NULL},
		/* Scaling to 0 always fits: 150 of 200 is 75%, below the band. */
		{budget_worked, 250, 100, 100, 0, 10, 1, 0, NULL, NULL},
		/* Lowering the pool while raising replicas, fewer connections in all: allowed. */
		{budget_worked, 250, 100, 100, 12, 8, 1, 1, "would use 246 of 200", NULL},
	};

	(void)state;
	run_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

static void
test_scale_to_zero_within_budget(void **state)
{
	static const struct judge_row rows[] = {
		{budget_worked, 60, 60, 60, 0, 20, 1, 0, NULL, NULL},
	};
	struct config *cfg = test_config(budget_worked);
	struct verdict v;

	(void)state;
	run_rows(rows, 1);
	judge(cfg, &rows[0], &v);
	assert_int_equal(v.connections_after, 0);
	assert_int_equal(v.connections_before, 60);
	assert_int_equal(v.role_used, 0);
	config_free(cfg);
}

static void
test_outside_the_budget(void **state)
{
	struct config *cfg = test_config(budget_worked);
	struct budget_change c;
	struct verdict v;
	long usage[1] = {190};

	(void)state;
	memset(&c, 0, sizeof(c));
	c.kind = "deployment";
	c.namespace = "elsewhere";
	c.name = "big";
	c.role = -1;
	c.replicas = 1000;
	c.pool_per_pod = 100;
	c.counted.role = -1;
	c.previous.role = -1;
	budget_judge(cfg, usage, &c, &v);
	assert_true(v.allowed);
	assert_int_equal(v.warning_count, 0);
	assert_int_equal(v.role, -1);
	assert_int_equal(v.cluster_used, 3 + 190);
	config_free(cfg);
}

static void
test_enforcement_warn(void **state)
{
	static const char budget[] =
	    "cluster: {maxConnections: 300, reservedConnections: 3}\n"
	    "enforcement: warn\n"
	    "roles: [{name: app, connectionLimit: 200, namespaces: [synergyflow]}]\n";
	static const struct judge_row rows[] = {
		{budget, 0, -1, -1, 11, 20, 1, 1, "over budget, admitted because enforcement is warn: "
		    "role 'app' would use 220 of 200 connections (110%), 20 over", NULL},
	};

	(void)state;
	run_rows(rows, 1);
}

static void
test_external_connections(void **state)
{
	static const char budget[] =
	    "cluster: {name: pg, maxConnections: 300, reservedConnections: 3}\n"
	    "roles: [{name: app, connectionLimit: 200, namespaces: [synergyflow],"
	    " externalConnections: 50}]\n";
	static const struct judge_row rows[] = {
		{budget, 0, -1, -1, 5, 20, 1, 0, NULL, NULL},
		/* 7 x 20 + 50 external = 190 of 200. */
		{budget, 0, -1, -1, 7, 20, 1, 1, "role 'app' at 190 of 200 connections (95%)", NULL},
		{budget, 0, -1, -1, 8, 20, 0, 0, "would use 210 of 200", "at most 7 replicas"},
		{budget, 0, -1, -1, 9, 20, 0, 0, "would use 230 of 200", "at most 7 replicas"},
	};

	(void)state;
	run_rows(rows, 3);
	{
		struct config *cfg = test_config(budget);
		struct verdict v;

		judge(cfg, &rows[3], &v);
		assert_false(v.allowed);
		assert_contains(v.message, "would use 230 of 200");
		assert_contains(v.message, "at most 7 replicas at pool size 20");
		assert_int_equal(v.cluster_used, 3 + 230);
		config_free(cfg);
	}
}

static void
test_unlimited_role_still_counts_for_cluster(void **state)
{
	static const char budget[] =
	    "cluster: {name: pg, maxConnections: 300, reservedConnections: 3}\n"
	    "roles: [{name: app, connectionLimit: -1, namespaces: [synergyflow]}]\n";
	static const struct judge_row rows[] = {
		{budget, 0, -1, -1, 14, 20, 1, 1, "cluster 'pg' at 283 of 300 connections (94%)",
		    NULL},
		{budget, 0, -1, -1, 15, 20, 0, 0, "cluster 'pg' would use 303 of 300 connections "
		    "(101%), 3 over", "at most 14 replicas at pool size 20"},
	};

	(void)state;
	run_rows(rows, 2);
}

static void
test_multiple_warnings_role_and_cluster(void **state)
{
	static const char budget[] =
	    "cluster: {name: pg, maxConnections: 200, reservedConnections: 0}\n"
	    "roles: [{name: app, connectionLimit: 200, namespaces: [synergyflow]}]\n";
	static const struct judge_row rows[] = {
		{budget, 0, -1, -1, 9, 20, 1, 2, "role 'app' at 180 of 200", NULL},
	};
	struct config *cfg = test_config(budget);
	struct verdict v;

	(void)state;
	run_rows(rows, 1);
	judge(cfg, &rows[0], &v);
	assert_contains(v.warnings[1], "cluster 'pg' at 180 of 200 connections (90%)");
	config_free(cfg);
}

static void
test_move_between_roles(void **state)
{
	static const char budget[] =
	    "cluster: {name: pg, maxConnections: 1000}\n"
	    "roles:\n"
	    "  - {name: a, connectionLimit: 100, namespaces: [synergyflow]}\n"
	    "  - {name: b, connectionLimit: 100, namespaces: [other]}\n";
	struct config *cfg = test_config(budget);
	struct budget_change c;
	struct verdict v;
	long usage[2] = {90, 60};

	(void)state;
	/* A workload of 60 in role b now matches role a: a goes to 150 of 100, an increase. */
	memset(&c, 0, sizeof(c));
	c.kind = "deployment";
	c.namespace = "synergyflow";
	c.name = "mover";
	c.role = 0;
	c.replicas = 6;
	c.pool_per_pod = 10;
	c.counted.role = 1;
	c.counted.connections = 60;
	c.previous = c.counted;
	budget_judge(cfg, usage, &c, &v);
	assert_false(v.allowed);
	assert_contains(v.message, "role 'a' would use 150 of 100");
	/* The cluster total does not change by a move. */
	assert_int_equal(v.cluster_used, 150);
	config_free(cfg);
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
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
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
	struct judge_row row = {budget, 0, -1, -1, 9, 10, 1, 2, NULL, NULL};
	struct config *cfg = test_config(budget);
	struct verdict v;
	size_t i;
	const char *p;

	(void)state;
	judge(cfg, &row, &v);
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
	/* Pods talk to PgBouncer: 3 x 100 = 300 client connections, shared by app and batch. */
	static const struct judge_row rows[] = {
		{budget_pooled, 0, -1, -1, 10, 20, 1, 0, NULL, NULL},
		{budget_pooled, 0, -1, -1, 13, 20, 1, 1, "pooler 'pgbouncer' at 260 of 300 client "
		    "connections (87%)", NULL},
		{budget_pooled, 0, -1, -1, 16, 20, 0, 0, "pooler 'pgbouncer' would take 320 of 300 "
		    "client connections (107%), 20 over", "at most 15 replicas at pool size 20, or "
		    "pool size at most 18 at 16 replicas"},
	};
	struct config *cfg = test_config(budget_pooled);
	struct judge_row shared = {budget_pooled, 0, -1, -1, 8, 20, 0, 0, NULL, NULL};
	struct budget_change c;
	struct verdict v;
	long usage[2] = {0, 150};

	(void)state;
	run_rows(rows, sizeof(rows) / sizeof(rows[0]));
	/* The database sees the pooler's server connections, not the pods': 3 x min(20, 15). */
	judge(cfg, &rows[0], &v);
	assert_int_equal(v.role_used, 45);
	assert_int_equal(v.cluster_used, 3 + 45 + 15);
	assert_int_equal(config_role_server_connections(cfg, 0), 45);
	assert_int_equal(config_role_server_connections(cfg, 1), 15);
	/* batch's 150 clients take the same pooler: app's 8 x 20 = 160 makes 310 of 300. */
	memset(&c, 0, sizeof(c));
	c.kind = "deployment";
	c.namespace = "synergyflow";
	c.name = "api";
	c.role = 0;
	c.replicas = shared.replicas;
	c.pool_per_pod = 20;
	c.counted.role = -1;
	c.previous.role = -1;
	budget_judge(cfg, usage, &c, &v);
	assert_false(v.allowed);
	assert_contains(v.message, "pooler 'pgbouncer' would take 310 of 300");
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
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(config_parse(rows[i].yaml, strlen(rows[i].yaml), "test.yaml", 0, &cfg,
		    &err), PG_ERR_INVALID);
		assert_contains(err.msg, rows[i].message);
	}
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
		cmocka_unit_test(test_scale_to_zero_within_budget),
		cmocka_unit_test(test_outside_the_budget),
		cmocka_unit_test(test_enforcement_warn),
		cmocka_unit_test(test_external_connections),
		cmocka_unit_test(test_unlimited_role_still_counts_for_cluster),
		cmocka_unit_test(test_multiple_warnings_role_and_cluster),
		cmocka_unit_test(test_move_between_roles),
		cmocka_unit_test(test_role_matching),
		cmocka_unit_test(test_percent_and_band),
		cmocka_unit_test(test_warning_is_short_and_printable),
		cmocka_unit_test(test_pooled_role),
		cmocka_unit_test(test_pooler_findings),
		cmocka_unit_test(test_pooler_config_errors),
	};

	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
