/*
 * config_test.c - budget.yaml to a config snapshot: the values read, the
 * defaults, and every mistake reported as "FILE:LINE: KEY.PATH: what is wrong".
 *
 * Run from the repository root: the sample ConfigMap is read from
 * manifests/budget-configmap.yaml.
 */
#include "unit/testutil_files.h"

#include "poolguard/config.h"
#include "poolguard/error.h"

#define SAMPLE_CONFIGMAP "manifests/budget-configmap.yaml"

/* 64 characters: one more than a namespace name may have. */
#define NAME64 "a123456789b123456789c123456789d123456789e123456789f123456789g123"
#define NAME63 "a123456789b123456789c123456789d123456789e123456789f123456789g12"

/* Lines 1-2 of most budgets below. */
#define CLUSTER "cluster:\n  maxConnections: 200\n"
/* Lines 3-5 after CLUSTER: one role, so more keys can follow on line 6. */
#define ROLE_APP "roles:\n  - name: app\n    connectionLimit: 50\n"

/* config_parse() must set *out to NULL on failure; this shows it did. */
static struct config config_sentinel;

static struct config *
parse_ok(const char *text)
{
	struct config *cfg = NULL;
	struct pg_error err = {""};
	int result = config_parse(text, strlen(text), "budget.yaml", 0, &cfg, &err);

	if (result != PG_OK)
		fail_msg("config_parse failed (%s): %s", pg_result_name(result), err.msg);
	assert_non_null(cfg);
	return cfg;
}

static void
assert_role_basics(const struct role *role, const char *name, long limit, long external)
{
	assert_string_equal(role->name, name);
	assert_int_equal(role->connection_limit, limit);
	assert_int_equal(role->external_connections, external);
}

/* The sample ConfigMap shipped in manifests/ loads with the values it spells out. */
static void
test_sample_configmap_loads(void **state)
{
	struct config *cfg = NULL;
	struct pg_error err = {""};
	char *text = tf_read_file(SAMPLE_CONFIGMAP, NULL);
	const struct role *role;
	int result;

	(void)state;
	result = config_load(SAMPLE_CONFIGMAP, &cfg, &err);
	if (result != PG_OK)
		fail_msg("config_load: %s", err.msg);
	assert_string_equal(cfg->source, SAMPLE_CONFIGMAP);
	assert_string_equal(cfg->cluster_name, "shared-postgres");
	assert_int_equal(cfg->max_connections, 300);
	assert_int_equal(cfg->reserved_connections, 3);
	assert_int_equal(cfg->warn_percent, 80);
	assert_int_equal(cfg->enforcement, ENFORCEMENT_DENY);
	assert_int_equal(cfg->default_pool_size, 10);
	assert_int_equal(cfg->pool_size_variable_count, 2);
	assert_string_equal(cfg->pool_size_variables[0],
	    "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE");
	assert_string_equal(cfg->pool_size_variables[1],
	    "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE");
	assert_int_equal(cfg->role_count, 2);

	role = &cfg->roles[0];
	assert_role_basics(role, "synergyflow_app", 200, 0);
	assert_int_equal(role->namespace_count, 1);
	assert_string_equal(role->namespaces[0], "synergyflow");
	assert_true(role->has_selector);
	assert_int_equal(role->selector.match_label_count, 1);
	assert_string_equal(role->selector.match_labels[0].key, "app.kubernetes.io/part-of");
	assert_string_equal(role->selector.match_labels[0].value, "synergyflow");
	assert_int_equal(role->selector.requirement_count, 0);
	/* Lines are those of the manifest file, not of the embedded text. */
	assert_int_equal(role->line, tf_line_of(text, "- name: synergyflow_app"));

	role = &cfg->roles[1];
	assert_role_basics(role, "gitlab_app", 60, 40);
	assert_int_equal(role->namespace_count, 0);
	assert_false(role->has_selector);
	assert_int_equal(role->line, tf_line_of(text, "- name: gitlab_app"));

	config_free(cfg);
	free(text);
}

/*
 * A mistake inside the budget embedded in the sample ConfigMap is reported
 * at its line in the manifest file, through config_parse() with the source
 * name and through config_load() of a file holding the same text.
 */
static void
test_sample_configmap_error_lines(void **state)
{
	static const struct {
		const char *from, *to, *message;
	} rows[] = {
		{"connectionLimit: 60", "conectionLimit: 60",
		    "roles[1].conectionLimit: unknown key (did you mean 'connectionLimit'?)"},
		{"warnPercent: 80", "warnPercent: 180",
		    "warnPercent: must be between 1 and 100, got 180"},
		{"enforcement: deny", "enforcement: block",
		    "enforcement: must be 'deny' or 'warn', got 'block'"},
		{"namespaces: [synergyflow]", "namespaces: [Synergyflow]",
		    "roles[0].namespaces[0]: 'Synergyflow' is not a valid namespace name"},
		{"maxConnections: 300", "maxConnections: \"300\"",
		    "cluster.maxConnections: must be an integer, got the string \"300\""},
	};
	char *sample = tf_read_file(SAMPLE_CONFIGMAP, NULL), *text;
	char dir[4096], path[4200], expected[PG_ERROR_MAX];
	struct config *cfg;
	struct pg_error err;
	size_t i;
	int result, line;

	(void)state;
	tf_make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/budget-configmap.yaml", dir);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		line = tf_line_of(sample, rows[i].from);
		text = tf_replace(sample, rows[i].from, rows[i].to);

		cfg = &config_sentinel;
		memset(&err, 0, sizeof(err));
		result = config_parse(text, strlen(text), SAMPLE_CONFIGMAP, 0, &cfg, &err);
		snprintf(expected, sizeof(expected), "%s:%d: %s", SAMPLE_CONFIGMAP, line,
		    rows[i].message);
		assert_int_equal(result, PG_ERR_INVALID);
		assert_null(cfg);
		assert_string_equal(err.msg, expected);

		tf_write_file(NULL, path, text);
		cfg = &config_sentinel;
		memset(&err, 0, sizeof(err));
		result = config_load(path, &cfg, &err);
		snprintf(expected, sizeof(expected), "%s:%d: %s", path, line, rows[i].message);
		assert_int_equal(result, PG_ERR_INVALID);
		assert_null(cfg);
		assert_string_equal(err.msg, expected);
		free(text);
	}
	tf_remove_tree(dir);
	free(sample);
}

/* ConfigMaps written here: the line offset for block styles, and a missing key. */
static void
test_configmap_unwrapping(void **state)
{
#define CM_HEAD "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: poolguard-budget\n"
	static const struct {
		const char *name, *yaml;
		int code;
		const char *message;
		int prefix;
	} rows[] = {
		{"unknown key in a literal block",
		    CM_HEAD "data:\n  budget.yaml: |\n    cluster:\n      maxConnections: 100\n"
		    "    roles:\n      - name: a\n        conectionLimit: 1\n",
		    PG_ERR_INVALID,
		    "cm.yaml:11: roles[0].conectionLimit: unknown key "
		    "(did you mean 'connectionLimit'?)",
		    0},
		{"unknown key in a |- block after a comment line",
		    CM_HEAD "# the budget\ndata:\n  budget.yaml: |-\n    # comment\n    cluster:\n"
		    "      maxConnections: 100\n      reservedConnection: 1\n    roles: []\n",
		    PG_ERR_INVALID,
		    "cm.yaml:11: cluster.reservedConnection: unknown key "
		    "(did you mean 'reservedConnections'?)", 0},
		{"bad YAML inside the block",
		    CM_HEAD "data:\n  budget.yaml: |\n    cluster:\n      maxConnections: 100\n"
		    "    roles: [\n      - name: a\n",
		    PG_ERR_PARSE, "cm.yaml:10: invalid YAML: ", 1},
		{"no budget.yaml key",
		    CM_HEAD "data:\n  other.yaml: x\n", PG_ERR_INVALID,
		    "cm.yaml:6: data: the ConfigMap has no key 'budget.yaml'", 0},
		{"no data at all",
		    CM_HEAD, PG_ERR_INVALID,
		    "cm.yaml:1: data: the ConfigMap has no key 'budget.yaml'", 0},
	};
	struct config *cfg;
	struct pg_error err;
	size_t i;
	int result;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cfg = &config_sentinel;
		memset(&err, 0, sizeof(err));
		result = config_parse(rows[i].yaml, strlen(rows[i].yaml), "cm.yaml", 0, &cfg, &err);
		if (result != rows[i].code)
			fail_msg("%s: result %d, want %d (%s)", rows[i].name, result, rows[i].code,
			    err.msg);
		assert_null(cfg);
		if (rows[i].prefix)
			TF_ASSERT_PREFIX(err.msg, rows[i].message);
		else if (strcmp(err.msg, rows[i].message) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", rows[i].name, err.msg,
			    rows[i].message);
	}
#undef CM_HEAD
}

/* A valid ConfigMap written here: values and role lines of the manifest. */
static void
test_configmap_values(void **state)
{
	static const char yaml[] =
	    "apiVersion: v1\n"			/* 1 */
	    "kind: ConfigMap\n"
	    "metadata:\n"
	    "  name: poolguard-budget\n"
	    "data:\n"				/* 5 */
	    "  budget.yaml: |\n"
	    "    cluster:\n"
	    "      maxConnections: 100\n"
	    "    enforcement: warn\n"
	    "    roles:\n"			/* 10 */
	    "      - name: a\n"
	    "        connectionLimit: 10\n"
	    "      - name: b\n"
	    "        connectionLimit: 20\n";
	struct config *cfg = parse_ok(yaml);

	(void)state;
	assert_string_equal(cfg->source, "budget.yaml");
	assert_int_equal(cfg->max_connections, 100);
	assert_int_equal(cfg->enforcement, ENFORCEMENT_WARN);
	assert_int_equal(cfg->role_count, 2);
	assert_int_equal(cfg->roles[0].line, 11);
	assert_int_equal(cfg->roles[1].line, 13);
	config_free(cfg);
}

/* Only cluster.maxConnections and roles are required; everything else has a default. */
static void
test_defaults(void **state)
{
	struct config *cfg = parse_ok(CLUSTER "roles:\n  - name: app\n    connectionLimit: 5\n");

	(void)state;
	assert_string_equal(cfg->source, "budget.yaml");
	assert_string_equal(cfg->cluster_name, "postgres");
	assert_int_equal(cfg->max_connections, 200);
	assert_int_equal(cfg->reserved_connections, 0);
	assert_int_equal(cfg->warn_percent, 80);
	assert_int_equal(cfg->enforcement, ENFORCEMENT_DENY);
	assert_int_equal(cfg->default_pool_size, 10);
	assert_int_equal(cfg->pool_size_variable_count, 2);
	assert_string_equal(cfg->pool_size_variables[0],
	    "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE");
	assert_string_equal(cfg->pool_size_variables[1],
	    "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE");
	assert_int_equal(cfg->role_count, 1);
	assert_role_basics(&cfg->roles[0], "app", 5, 0);
	assert_int_equal(cfg->roles[0].namespace_count, 0);
	assert_false(cfg->roles[0].has_selector);
	assert_int_equal(cfg->roles[0].line, 4);
	config_free(cfg);
	config_free(NULL);
}

/* Every optional key set to something other than its default. */
static void
test_explicit_values(void **state)
{
	struct config *cfg = parse_ok(
	    "cluster:\n  name: main\n  maxConnections: 1000\n  reservedConnections: 999\n"
	    "warnPercent: 100\nenforcement: warn\ndefaultPoolSize: 100000\n"
	    "poolSizeVariables: [DB_POOL_SIZE, SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE]\n"
	    "roles: []\n");

	(void)state;
	assert_string_equal(cfg->cluster_name, "main");
	assert_int_equal(cfg->max_connections, 1000);
	assert_int_equal(cfg->reserved_connections, 999);
	assert_int_equal(cfg->warn_percent, 100);
	assert_int_equal(cfg->enforcement, ENFORCEMENT_WARN);
	assert_int_equal(cfg->default_pool_size, 100000);
	assert_int_equal(cfg->pool_size_variable_count, 2);
	assert_string_equal(cfg->pool_size_variables[0], "DB_POOL_SIZE");
	assert_string_equal(cfg->pool_size_variables[1],
	    "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE");
	assert_int_equal(cfg->role_count, 0);
	config_free(cfg);
}

/* connectionLimit -1 is "no limit", as in pg_roles; 0 is a real limit. */
static void
test_connection_limits(void **state)
{
	struct config *cfg = parse_ok(CLUSTER "roles:\n"
	    "  - name: unlimited\n    connectionLimit: -1\n"
	    "  - name: locked\n    connectionLimit: 0\n"
	    "  - name: big\n    connectionLimit: 1000000000\n    externalConnections: 7\n");

	(void)state;
	assert_int_equal(cfg->role_count, 3);
	assert_role_basics(&cfg->roles[0], "unlimited", CONFIG_NO_LIMIT, 0);
	assert_int_equal(cfg->roles[0].connection_limit, -1);
	assert_role_basics(&cfg->roles[1], "locked", 0, 0);
	assert_role_basics(&cfg->roles[2], "big", 1000000000L, 7);
	config_free(cfg);
}

/* A selector with matchLabels and matchExpressions of every operator. */
static void
test_selector_parsed(void **state)
{
	struct config *cfg = parse_ok(
	    "cluster:\n  maxConnections: 500\n"
	    "roles:\n"
	    "  - name: shop\n"
	    "    connectionLimit: 100\n"
	    "    namespaces: [shop, shop-eu, 1st, " NAME63 "]\n"
	    "    selector:\n"
	    "      matchLabels:\n"
	    "        app.kubernetes.io/part-of: shop\n"
	    "        tier: backend\n"
	    "      matchExpressions:\n"
	    "        - {key: env, operator: In, values: [prod, staging]}\n"
	    "        - key: canary\n"
	    "          operator: NotIn\n"
	    "          values: [\"true\"]\n"
	    "        - {key: db, operator: Exists}\n"
	    "        - {key: legacy, operator: DoesNotExist}\n"
	    "  - name: other\n"
	    "    connectionLimit: 5\n"
	    "    selector: {matchExpressions: [{key: team, operator: Exists}]}\n");
	const struct selector *sel;

	(void)state;
	assert_int_equal(cfg->role_count, 2);
	assert_int_equal(cfg->roles[0].namespace_count, 4);
	assert_string_equal(cfg->roles[0].namespaces[0], "shop");
	assert_string_equal(cfg->roles[0].namespaces[1], "shop-eu");
	assert_string_equal(cfg->roles[0].namespaces[2], "1st");
	assert_string_equal(cfg->roles[0].namespaces[3], NAME63);
	assert_true(cfg->roles[0].has_selector);
	sel = &cfg->roles[0].selector;
	assert_int_equal(sel->match_label_count, 2);
	assert_string_equal(sel->match_labels[0].key, "app.kubernetes.io/part-of");
	assert_string_equal(sel->match_labels[0].value, "shop");
	assert_string_equal(sel->match_labels[1].key, "tier");
	assert_string_equal(sel->match_labels[1].value, "backend");
	assert_int_equal(sel->requirement_count, 4);
	assert_string_equal(sel->requirements[0].key, "env");
	assert_int_equal(sel->requirements[0].op, SELECTOR_IN);
	assert_int_equal(sel->requirements[0].value_count, 2);
	assert_string_equal(sel->requirements[0].values[0], "prod");
	assert_string_equal(sel->requirements[0].values[1], "staging");
	assert_string_equal(sel->requirements[1].key, "canary");
	assert_int_equal(sel->requirements[1].op, SELECTOR_NOT_IN);
	assert_int_equal(sel->requirements[1].value_count, 1);
	assert_string_equal(sel->requirements[1].values[0], "true");
	assert_string_equal(sel->requirements[2].key, "db");
	assert_int_equal(sel->requirements[2].op, SELECTOR_EXISTS);
	assert_int_equal(sel->requirements[2].value_count, 0);
	assert_string_equal(sel->requirements[3].key, "legacy");
	assert_int_equal(sel->requirements[3].op, SELECTOR_DOES_NOT_EXIST);
	assert_int_equal(sel->requirements[3].value_count, 0);

	assert_true(cfg->roles[1].has_selector);
	assert_int_equal(cfg->roles[1].namespace_count, 0);
	sel = &cfg->roles[1].selector;
	assert_int_equal(sel->match_label_count, 0);
	assert_int_equal(sel->requirement_count, 1);
	assert_string_equal(sel->requirements[0].key, "team");
	assert_int_equal(sel->requirements[0].op, SELECTOR_EXISTS);
	config_free(cfg);
}

struct error_row {
	const char *name;
	const char *yaml;
	int code;
	const char *message;	/* the whole message, or its start when prefix is set */
	int prefix;
};

/* Every mistake is PG_ERR_INVALID or PG_ERR_PARSE with file:line: key.path: what. */
static const struct error_row error_rows[] = {
	/* Unknown keys, with a hint when a known key is close. */
	{"unknown role key with hint",
	    "cluster:\n  name: main\n  maxConnections: 200\n  reservedConnections: 3\n"
	    "roles:\n  - name: app\n    conectionLimit: 50\n",
	    PG_ERR_INVALID,
	    "budget.yaml:7: roles[0].conectionLimit: unknown key "
	    "(did you mean 'connectionLimit'?)", 0},
	{"unknown top-level key, wrong case",
	    CLUSTER "WarnPercent: 90\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:3: WarnPercent: unknown key (did you mean 'warnPercent'?)", 0},
	{"unknown cluster key with hint",
	    "cluster:\n  maxConnection: 200\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:2: cluster.maxConnection: unknown key "
	    "(did you mean 'maxConnections'?)", 0},
	{"unknown selector key with hint",
	    CLUSTER ROLE_APP "    selector:\n      matchLabel: {a: b}\n", PG_ERR_INVALID,
	    "budget.yaml:7: roles[0].selector.matchLabel: unknown key "
	    "(did you mean 'matchLabels'?)", 0},
	{"unknown key two edits away: hint",
	    CLUSTER "warnPrcnt: 90\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:3: warnPrcnt: unknown key (did you mean 'warnPercent'?)", 0},
	{"unknown key three edits away: no hint",
	    CLUSTER "warnPrcn: 90\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:3: warnPrcn: unknown key", 0},
	{"unknown key without hint",
	    CLUSTER "roles: []\nfrobnicate: 1\n", PG_ERR_INVALID,
	    "budget.yaml:4: frobnicate: unknown key", 0},
	{"duplicate key",
	    CLUSTER "warnPercent: 70\nwarnPercent: 90\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:4: warnPercent: duplicate key", 0},

	/* Wrong types. */
	{"quoted integer",
	    "cluster:\n  maxConnections: \"200\"\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:2: cluster.maxConnections: must be an integer, got the string \"200\"", 0},
	{"single-quoted integer",
	    CLUSTER "roles:\n  - name: app\n    connectionLimit: '50'\n", PG_ERR_INVALID,
	    "budget.yaml:5: roles[0].connectionLimit: must be an integer, "
	    "got the string \"50\"", 0},
	{"word for an integer",
	    CLUSTER "roles:\n  - name: app\n    connectionLimit: many\n", PG_ERR_INVALID,
	    "budget.yaml:5: roles[0].connectionLimit: must be an integer, got 'many'", 0},
	{"fraction for an integer",
	    CLUSTER "defaultPoolSize: 2.5\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:3: defaultPoolSize: must be an integer, got '2.5'", 0},
	{"list for an integer",
	    CLUSTER "warnPercent: [80]\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:3: warnPercent: must be an integer, got a list", 0},
	{"mapping for the role list",
	    CLUSTER "roles: {name: app}\n", PG_ERR_INVALID,
	    "budget.yaml:3: roles: must be a list, got a mapping", 0},
	{"scalar for the cluster",
	    "cluster: big\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:1: cluster: must be a mapping, got a scalar", 0},
	{"null cluster name",
	    "cluster:\n  name:\n  maxConnections: 200\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:2: cluster.name: must be a string, got null", 0},
	{"top level is a scalar",
	    "hello\n", PG_ERR_INVALID,
	    "budget.yaml:1: (top level): must be a mapping, got a scalar", 0},
	{"top level is a list",
	    "- cluster\n", PG_ERR_INVALID,
	    "budget.yaml:1: (top level): must be a mapping, got a list", 0},

	/* Missing required keys: reported at the mapping that lacks them. */
	{"missing cluster.maxConnections",
	    "cluster:\n  name: main\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:2: cluster.maxConnections: required key is missing", 0},
	{"missing roles[0].name",
	    CLUSTER "roles:\n  - connectionLimit: 5\n", PG_ERR_INVALID,
	    "budget.yaml:4: roles[0].name: required key is missing", 0},
	{"missing roles[1].connectionLimit",
	    CLUSTER ROLE_APP "  - name: other\n", PG_ERR_INVALID,
	    "budget.yaml:6: roles[1].connectionLimit: required key is missing", 0},
	{"missing roles",
	    CLUSTER, PG_ERR_INVALID, "budget.yaml:1: roles: required key is missing", 0},
	{"missing cluster",
	    "roles: []\n", PG_ERR_INVALID, "budget.yaml:1: cluster: required key is missing", 0},

	/* Values out of range or not allowed. */
	{"duplicate role name",
	    CLUSTER "roles:\n  - name: app\n    connectionLimit: 5\n  - name: other\n"
	    "    connectionLimit: 5\n  - name: app\n    connectionLimit: 7\n", PG_ERR_INVALID,
	    "budget.yaml:8: roles[2]: role 'app' is listed twice (first at line 4)", 0},
	{"reservedConnections equal to maxConnections",
	    "cluster:\n  reservedConnections: 200\n  maxConnections: 200\nroles: []\n",
	    PG_ERR_INVALID,
	    "budget.yaml:2: cluster.reservedConnections: 200 reserved leaves no connection of "
	    "maxConnections 200 for applications", 0},
	{"reservedConnections above maxConnections",
	    "cluster:\n  reservedConnections: 250\n  maxConnections: 200\nroles: []\n",
	    PG_ERR_INVALID,
	    "budget.yaml:2: cluster.reservedConnections: 250 reserved leaves no connection of "
	    "maxConnections 200 for applications", 0},
	{"maxConnections 0",
	    "cluster:\n  maxConnections: 0\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:2: cluster.maxConnections: must be between 1 and 1000000000, got 0", 0},
	{"enforcement with a capital",
	    CLUSTER "enforcement: Deny\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:3: enforcement: must be 'deny' or 'warn', got 'Deny'", 0},
	{"enforcement audit",
	    CLUSTER "enforcement: audit\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:3: enforcement: must be 'deny' or 'warn', got 'audit'", 0},
	{"warnPercent 0",
	    CLUSTER "warnPercent: 0\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:3: warnPercent: must be between 1 and 100, got 0", 0},
	{"warnPercent 101",
	    CLUSTER "warnPercent: 101\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:3: warnPercent: must be between 1 and 100, got 101", 0},
	{"warnPercent negative",
	    CLUSTER "warnPercent: -5\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:3: warnPercent: must be between 1 and 100, got -5", 0},
	{"defaultPoolSize 0",
	    CLUSTER "defaultPoolSize: 0\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:3: defaultPoolSize: must be between 1 and 100000, got 0", 0},
	{"empty poolSizeVariables",
	    CLUSTER "poolSizeVariables: []\nroles: []\n", PG_ERR_INVALID,
	    "budget.yaml:3: poolSizeVariables: must name at least one variable", 0},
	{"connectionLimit below -1",
	    CLUSTER "roles:\n  - name: app\n    connectionLimit: -2\n", PG_ERR_INVALID,
	    "budget.yaml:5: roles[0].connectionLimit: must be between -1 and 1000000000, "
	    "got -2", 0},
	{"negative externalConnections",
	    CLUSTER ROLE_APP "    externalConnections: -1\n", PG_ERR_INVALID,
	    "budget.yaml:6: roles[0].externalConnections: must be between 0 and 1000000000, "
	    "got -1", 0},

	/* Namespace names are RFC 1123 labels. */
	{"namespace with capital and underscore",
	    CLUSTER ROLE_APP "    namespaces:\n      - shop\n      - Shop_EU\n", PG_ERR_INVALID,
	    "budget.yaml:8: roles[0].namespaces[1]: 'Shop_EU' is not a valid namespace name", 0},
	{"namespace starting with a dash",
	    CLUSTER ROLE_APP "    namespaces: [-shop]\n", PG_ERR_INVALID,
	    "budget.yaml:6: roles[0].namespaces[0]: '-shop' is not a valid namespace name", 0},
	{"namespace ending with a dash",
	    CLUSTER ROLE_APP "    namespaces: [shop-]\n", PG_ERR_INVALID,
	    "budget.yaml:6: roles[0].namespaces[0]: 'shop-' is not a valid namespace name", 0},
	{"namespace with a dot",
	    CLUSTER ROLE_APP "    namespaces: [shop.eu]\n", PG_ERR_INVALID,
	    "budget.yaml:6: roles[0].namespaces[0]: 'shop.eu' is not a valid namespace name", 0},
	{"namespace of 64 characters",
	    CLUSTER ROLE_APP "    namespaces: [" NAME64 "]\n", PG_ERR_INVALID,
	    "budget.yaml:6: roles[0].namespaces[0]: '" NAME63 "' is not a valid namespace name", 0},
	{"empty namespace",
	    CLUSTER ROLE_APP "    namespaces: [\"\"]\n", PG_ERR_INVALID,
	    "budget.yaml:6: roles[0].namespaces[0]: must not be empty", 0},
	{"namespace listed twice",
	    CLUSTER ROLE_APP "    namespaces: [shop, shop]\n", PG_ERR_INVALID,
	    "budget.yaml:6: roles[0].namespaces[1]: 'shop' is listed twice", 0},

	/* Selectors. */
	{"empty selector",
	    CLUSTER ROLE_APP "    selector: {}\n", PG_ERR_INVALID,
	    "budget.yaml:6: roles[0].selector: an empty selector would match every workload; "
	    "leave it out instead", 0},
	{"selector with empty matchLabels",
	    CLUSTER ROLE_APP "    selector:\n      matchLabels: {}\n", PG_ERR_INVALID,
	    "budget.yaml:7: roles[0].selector: an empty selector would match every workload; "
	    "leave it out instead", 0},
	{"In without values",
	    CLUSTER ROLE_APP "    selector:\n      matchExpressions:\n        - key: tier\n"
	    "          operator: In\n", PG_ERR_INVALID,
	    "budget.yaml:8: roles[0].selector.matchExpressions[0]: operator In and NotIn "
	    "need values", 0},
	{"NotIn with an empty value list",
	    CLUSTER ROLE_APP "    selector:\n      matchExpressions:\n"
	    "        - {key: tier, operator: NotIn, values: []}\n", PG_ERR_INVALID,
	    "budget.yaml:8: roles[0].selector.matchExpressions[0]: operator In and NotIn "
	    "need values", 0},
	{"Exists with values",
	    CLUSTER ROLE_APP "    selector:\n      matchExpressions:\n"
	    "        - {key: tier, operator: In, values: [a]}\n"
	    "        - {key: tier, operator: Exists, values: [x]}\n", PG_ERR_INVALID,
	    "budget.yaml:9: roles[0].selector.matchExpressions[1]: operator Exists and "
	    "DoesNotExist take no values", 0},
	{"lower-case operator",
	    CLUSTER ROLE_APP "    selector:\n      matchExpressions:\n"
	    "        - {key: tier, operator: in, values: [a]}\n", PG_ERR_INVALID,
	    "budget.yaml:8: roles[0].selector.matchExpressions[0].operator: must be In, NotIn, "
	    "Exists or DoesNotExist", 0},
	{"expression without key",
	    CLUSTER ROLE_APP "    selector:\n      matchExpressions:\n"
	    "        - {operator: Exists}\n", PG_ERR_INVALID,
	    "budget.yaml:8: roles[0].selector.matchExpressions[0].key: required key is missing", 0},
	{"label without value",
	    CLUSTER ROLE_APP "    selector:\n      matchLabels:\n        tier:\n", PG_ERR_INVALID,
	    "budget.yaml:8: roles[0].selector.matchLabels.tier: label value must be a string", 0},

	/* Not YAML, or nothing at all. */
	{"empty text", "", PG_ERR_INVALID, "budget.yaml: the budget is empty", 0},
	{"only comments", "# nothing here\n\n", PG_ERR_INVALID,
	    "budget.yaml: the budget is empty", 0},
	{"unclosed flow list",
	    "cluster: [\n", PG_ERR_PARSE, "budget.yaml:2: invalid YAML: ", 1},
	{"bad indentation",
	    CLUSTER " roles: []\n", PG_ERR_PARSE, "budget.yaml:3: invalid YAML: ", 1},
	{"tab indentation",
	    "cluster:\n\tmaxConnections: 200\n", PG_ERR_PARSE, "budget.yaml:2: invalid YAML: ", 1},
};

static void
test_errors(void **state)
{
	const struct error_row *row;
	struct config *cfg;
	struct pg_error err;
	size_t i;
	int result;

	(void)state;
	for (i = 0; i < sizeof(error_rows) / sizeof(error_rows[0]); i++) {
		row = &error_rows[i];
		cfg = &config_sentinel;
		memset(&err, 0, sizeof(err));
		result = config_parse(row->yaml, strlen(row->yaml), "budget.yaml", 0, &cfg, &err);
		if (result != row->code) {
			config_free(result == PG_OK ? cfg : NULL);
			fail_msg("%s: result %s, want %s (%s)", row->name, pg_result_name(result),
			    pg_result_name(row->code), err.msg);
		}
		if (cfg != NULL)
			fail_msg("%s: *out is not NULL after a failure", row->name);
		if (row->prefix) {
			TF_ASSERT_PREFIX(err.msg, row->message);
			TF_ASSERT_CONTAINS(err.msg, "invalid YAML");
		} else if (strcmp(err.msg, row->message) != 0)
			fail_msg("%s:\n got  \"%s\"\n want \"%s\"", row->name, err.msg,
			    row->message);
	}
}

/* line_offset is added to every line, of YAML errors too. */
static void
test_line_offset(void **state)
{
	static const char bad_key[] = CLUSTER "roles: []\nwarnpercent: 10\n";
	static const char bad_yaml[] = CLUSTER "roles: [\n";
	struct config *cfg;
	struct pg_error err = {""};

	(void)state;
	assert_int_equal(config_parse(bad_key, strlen(bad_key), "x.yaml", 100, &cfg, &err),
	    PG_ERR_INVALID);
	assert_null(cfg);
	assert_string_equal(err.msg,
	    "x.yaml:104: warnpercent: unknown key (did you mean 'warnPercent'?)");
	assert_int_equal(config_parse(bad_yaml, strlen(bad_yaml), "x.yaml", 100, &cfg, &err),
	    PG_ERR_PARSE);
	TF_ASSERT_PREFIX(err.msg, "x.yaml:104: invalid YAML: ");
}

/* A directory (a mounted ConfigMap) is read through its budget.yaml. */
static void
test_load_directory(void **state)
{
	char dir[4096], expected[PG_ERROR_MAX];
	struct config *cfg = NULL;
	struct pg_error err = {""};
	int result;

	(void)state;
	tf_make_tmpdir(dir, sizeof(dir));
	tf_write_file(dir, "budget.yaml", "cluster:\n  maxConnections: 42\nroles:\n"
	    "  - name: app\n    connectionLimit: 40\n");
	tf_write_file(dir, "other.yaml", "not: a budget\n");
	result = config_load(dir, &cfg, &err);
	if (result != PG_OK)
		fail_msg("config_load: %s", err.msg);
	snprintf(expected, sizeof(expected), "%s/budget.yaml", dir);
	assert_string_equal(cfg->source, expected);
	assert_int_equal(cfg->max_connections, 42);
	assert_int_equal(cfg->role_count, 1);
	assert_role_basics(&cfg->roles[0], "app", 40, 0);
	config_free(cfg);

	/* A mistake in it names the file inside the directory. */
	tf_write_file(dir, "budget.yaml",
	    "cluster:\n  maxConnections: 42\nroles: []\nenforcment: warn\n");
	cfg = &config_sentinel;
	assert_int_equal(config_load(dir, &cfg, &err), PG_ERR_INVALID);
	assert_null(cfg);
	snprintf(expected, sizeof(expected), "%s/budget.yaml:4: enforcment: unknown key "
	    "(did you mean 'enforcement'?)", dir);
	assert_string_equal(err.msg, expected);

	/* Without budget.yaml the directory is an I/O error naming the file looked for. */
	tf_remove_tree(dir);
	tf_make_tmpdir(dir, sizeof(dir));
	tf_write_file(dir, "budget.yml", "cluster:\n  maxConnections: 42\nroles: []\n");
	cfg = &config_sentinel;
	assert_int_equal(config_load(dir, &cfg, &err), PG_ERR_IO);
	assert_null(cfg);
	snprintf(expected, sizeof(expected), "unable to open '%s/budget.yaml'", dir);
	TF_ASSERT_PREFIX(err.msg, expected);
	tf_remove_tree(dir);
}

/* A plain budget.yaml file loads; its path becomes the source. */
static void
test_load_plain_file(void **state)
{
	char dir[4096], path[4200];
	struct config *cfg = NULL;
	struct pg_error err = {""};

	(void)state;
	tf_make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/my-budget.yaml", dir);
	tf_write_file(NULL, path, "cluster: {maxConnections: 50, reservedConnections: 5}\n"
	    "roles: [{name: app, connectionLimit: 45}]\n");
	if (config_load(path, &cfg, &err) != PG_OK)
		fail_msg("config_load: %s", err.msg);
	assert_string_equal(cfg->source, path);
	assert_int_equal(cfg->max_connections, 50);
	assert_int_equal(cfg->reserved_connections, 5);
	assert_role_basics(&cfg->roles[0], "app", 45, 0);
	config_free(cfg);
	tf_remove_tree(dir);
}

static void
test_load_missing_file(void **state)
{
	static const char path[] = "tests/no-such-dir/budget.yaml";
	struct config *cfg = &config_sentinel;
	struct pg_error err = {""};

	(void)state;
	assert_int_equal(config_load(path, &cfg, &err), PG_ERR_IO);
	assert_null(cfg);
	TF_ASSERT_PREFIX(err.msg, "unable to open 'tests/no-such-dir/budget.yaml'");
}

/* More than CONFIG_MAX_BYTES is refused before parsing, by config_parse and config_load. */
static void
test_too_big(void **state)
{
	size_t n = CONFIG_MAX_BYTES + 1;
	char *text = malloc(n + 1), dir[4096], path[4200];
	struct config *cfg = &config_sentinel;
	struct pg_error err = {""};

	(void)state;
	assert_non_null(text);
	memset(text, '#', n);
	text[n] = '\0';
	assert_int_equal(config_parse(text, n, "big.yaml", 0, &cfg, &err), PG_ERR_TOOBIG);
	assert_null(cfg);
	assert_string_equal(err.msg, "big.yaml: larger than 1048576 bytes");

	tf_make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/budget.yaml", dir);
	tf_write_file(NULL, path, text);
	cfg = &config_sentinel;
	assert_int_equal(config_load(path, &cfg, &err), PG_ERR_TOOBIG);
	assert_null(cfg);
	TF_ASSERT_CONTAINS(err.msg, path);
	tf_remove_tree(dir);
	free(text);
}

/*
 * Regression (fixed): config.c, config_field_cluster(): the "reservedConnections >= maxConnections"
 * error was reported at the line where the cluster mapping starts (its first
 * key), not at the line of cluster.reservedConnections that the message
 * names. It said budget.yaml:2 (the "name:" line) instead of budget.yaml:4.
 */
static void
test_regression_reserved_connections_line(void **state)
{
	static const char yaml[] = "cluster:\n  name: main\n  maxConnections: 100\n"
	    "  reservedConnections: 100\nroles: []\n";
	struct config *cfg = &config_sentinel;
	struct pg_error err = {""};

	(void)state;
	assert_int_equal(config_parse(yaml, strlen(yaml), "budget.yaml", 0, &cfg, &err),
	    PG_ERR_INVALID);
	assert_null(cfg);
	assert_string_equal(err.msg, "budget.yaml:4: cluster.reservedConnections: 100 reserved "
	    "leaves no connection of maxConnections 100 for applications");
}

/*
 * Regression (DOUBT "two YAML documents in the budget" of the 2026-12-03
 * robustness report, row 103): a second document was silently ignored, so
 * of two budgets pasted into one file only the first was in force, and
 * garbage after a "---" went unnoticed. It is refused with the line where
 * the second document starts, also inside a ConfigMap's budget.yaml.
 * Empty documents (a trailing "---") are fine.
 */
static void
test_regression_second_document(void **state)
{
	static const struct {
		const char *name, *yaml;
		int code;
		const char *message;
	} rows[] = {
		{"two budgets", CLUSTER "roles: []\n---\ncluster:\n  maxConnections: 900\nroles: []\n",
		    PG_ERR_INVALID, "budget.yaml:4: a second YAML document; the budget is one "
		    "document (a ConfigMap, or budget.yaml alone)"},
		{"a ConfigMap, then other objects", "apiVersion: v1\nkind: ConfigMap\ndata:\n"
		    "  budget.yaml: |\n    cluster: {maxConnections: 200}\n    roles: []\n---\n---\n"
		    "apiVersion: v1\n"
		    "kind: Service\n", PG_ERR_INVALID, "budget.yaml:8: a second YAML document; the "
		    "budget is one document (a ConfigMap, or budget.yaml alone)"},
		{"two documents in the ConfigMap's budget.yaml", "apiVersion: v1\nkind: ConfigMap\n"
		    "data:\n  budget.yaml: |\n    cluster: {maxConnections: 200}\n    roles: []\n"
		    "    ---\n    roles: [{name: a, connectionLimit: 1}]\n", PG_ERR_INVALID,
		    "budget.yaml:7: a second YAML document; the budget is one document "
		    "(a ConfigMap, or budget.yaml alone)"},
		{"invalid YAML in the second document", CLUSTER "roles: []\n---\n[\n", PG_ERR_PARSE,
		    "budget.yaml:6: invalid YAML: did not find expected node content"},
		{"a trailing ---", CLUSTER "roles: []\n---\n", PG_OK, NULL},
		{"a --- and a comment", CLUSTER "roles: []\n---\n# nothing\n...\n", PG_OK, NULL},
	};
	struct config *cfg;
	struct pg_error err;
	size_t i;
	int result;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cfg = &config_sentinel;
		memset(&err, 0, sizeof(err));
		result = config_parse(rows[i].yaml, strlen(rows[i].yaml), "budget.yaml", 0, &cfg,
		    &err);
		if (result != rows[i].code)
			fail_msg("%s: result %s, want %s (%s)", rows[i].name, pg_result_name(result),
			    pg_result_name(rows[i].code), err.msg);
		if (rows[i].code == PG_OK) {
			assert_non_null(cfg);
			assert_int_equal(cfg->max_connections, 200);
			config_free(cfg);
			continue;
		}
		assert_null(cfg);
		if (strcmp(err.msg, rows[i].message) != 0)
			fail_msg("%s:\n got  \"%s\"\n want \"%s\"", rows[i].name, err.msg,
			    rows[i].message);
	}
}

/* A ConfigMap whose budget.yaml is a ConfigMap, depth times over, around a budget. */
static char *
nested_configmaps(int depth)
{
	size_t cap = 64, len;
	char *text = strdup(CLUSTER "roles: []\n"), *wrapped, *line, *next;
	int i;

	assert_non_null(text);
	for (i = 0; i < depth; i++) {
		len = strlen(text);
		cap = 2 * len + 64;
		wrapped = malloc(cap);
		assert_non_null(wrapped);
		len = (size_t)snprintf(wrapped, cap, "kind: ConfigMap\ndata:\n budget.yaml: |\n");
		for (line = text; *line; line = next) {
			next = strchr(line, '\n') + 1;
			len += (size_t)snprintf(wrapped + len, cap - len, "  %.*s",
			    (int)(next - line), line);
		}
		free(text);
		text = wrapped;
	}
	return text;
}

/*
 * Regression (DOUBT "nested ConfigMaps" of the 2026-12-03 robustness report,
 * row 104): a ConfigMap inside a ConfigMap was unwrapped without end; 390
 * levels (0.5 MB here) loaded, holding every level's YAML document at once
 * (115 MB RSS with this file, 200 MB with the report's). One level is
 * unwrapped; a second is refused with the line of its kind.
 */
static void
test_regression_nested_configmaps(void **state)
{
	struct config *cfg = &config_sentinel;
	struct pg_error err = {""};
	char *text;

	(void)state;
	text = nested_configmaps(1);
	assert_int_equal(config_parse(text, strlen(text), "budget.yaml", 0, &cfg, &err), PG_OK);
	assert_int_equal(cfg->max_connections, 200);
	config_free(cfg);
	free(text);

	text = nested_configmaps(2);
	cfg = &config_sentinel;
	assert_int_equal(config_parse(text, strlen(text), "budget.yaml", 0, &cfg, &err),
	    PG_ERR_INVALID);
	assert_null(cfg);
	assert_string_equal(err.msg, "budget.yaml:4: data.budget.yaml: is a ConfigMap again; a "
	    "budget ConfigMap is unwrapped once, its key 'budget.yaml' holds the budget itself");
	free(text);

	text = nested_configmaps(390);
	cfg = &config_sentinel;
	assert_int_equal(config_parse(text, strlen(text), "budget.yaml", 0, &cfg, &err),
	    PG_ERR_INVALID);
	assert_null(cfg);
	assert_string_equal(err.msg, "budget.yaml:4: data.budget.yaml: is a ConfigMap again; a "
	    "budget ConfigMap is unwrapped once, its key 'budget.yaml' holds the budget itself");
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_configmap_loads),
		cmocka_unit_test(test_sample_configmap_error_lines),
		cmocka_unit_test(test_configmap_unwrapping),
		cmocka_unit_test(test_configmap_values),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_explicit_values),
		cmocka_unit_test(test_connection_limits),
		cmocka_unit_test(test_selector_parsed),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_line_offset),
		cmocka_unit_test(test_load_directory),
		cmocka_unit_test(test_load_plain_file),
		cmocka_unit_test(test_load_missing_file),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_regression_reserved_connections_line),
		cmocka_unit_test(test_regression_second_document),
		cmocka_unit_test(test_regression_nested_configmaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
