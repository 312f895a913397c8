/*
 * workload_test.c - Deployment, StatefulSet and Scale objects to replicas and
 * pool sizes: the defaults, the pool variables, the bad values that must be
 * refused, and real objects from public repositories (tests/fixtures/public).
 *
 * Objects are written as JSON with ' for " (see tf_quotes()).
 */
#include "unit/testutil_files.h"

#include <cjson/cJSON.h>

#include "poolguard/config.h"
#include "poolguard/error.h"
#include "poolguard/manifest.h"
#include "poolguard/workload.h"

#define POOL_VAR "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE"
#define POOL_VAR2 "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE"
#define DECOY_VAR "SPRING_REPLICA_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE"

#define API_DEPLOYMENT_JSON "kubernetes-api__testdata-HEAD__apps.v1.Deployment.json"
#define KUBEWARDEN_51 "kubewarden-policies__cel-policy__test_data__deployment_gt_max_replicas.json"
#define BALANCE_READER \
	"GoogleCloudPlatform-bank-of-anthos__kubernetes-manifests__balance-reader.yaml"

/* The defaults: defaultPoolSize 10, the two Spring variables. */
static const char default_budget[] = "cluster:\n  maxConnections: 100\nroles: []\n";
/* Another pool size and variable list, to show they are the config's and not built in. */
static const char custom_budget[] = "cluster:\n  maxConnections: 100\ndefaultPoolSize: 4\n"
    "poolSizeVariables: [DB_POOL, " POOL_VAR "]\nroles: []\n";

struct fixture {
	struct config *defaults;
	struct config *custom;
};

static struct config *
budget(const char *yaml)
{
	struct config *cfg = NULL;
	struct pg_error err = {""};

	if (config_parse(yaml, strlen(yaml), "budget.yaml", 0, &cfg, &err) != PG_OK)
		fail_msg("budget: %s", err.msg);
	return cfg;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->defaults = budget(default_budget);
	f->custom = budget(custom_budget);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	config_free(f->defaults);
	config_free(f->custom);
	free(f);
	return 0;
}

/* A new tree from JSON written with ' for "; the caller frees it. */
static cJSON *
json(const char *text)
{
	char *real = tf_quotes(text);
	cJSON *tree = cJSON_Parse(real);

	if (tree == NULL)
		fail_msg("test JSON does not parse: %s", real);
	free(real);
	return tree;
}

/*
 * Deployment shop/api labelled app=api: spec holds spec_extra (e.g.
 * "'replicas': 3, ") and the containers given.
 */
static cJSON *
deployment(const char *spec_extra, const char *containers)
{
	char text[8192];

	snprintf(text, sizeof(text), "{'apiVersion': 'apps/v1', 'kind': 'Deployment', "
	    "'metadata': {'name': 'api', 'namespace': 'shop', 'labels': {'app': 'api'}}, "
	    "'spec': {%s'template': {'spec': {'containers': [%s]}}}}", spec_extra, containers);
	return json(text);
}

static int
read_workload(const char *spec_extra, const char *containers, const struct config *cfg,
    struct workload *w, struct pg_error *err)
{
	cJSON *object = deployment(spec_extra, containers);
	int result = workload_from_object(object, cfg, "fallback", NULL, w, err);

	cJSON_Delete(object);
	return result;
}

struct replicas_row {
	const char *spec;
	int code;
	long replicas;
};

static const struct replicas_row replicas_rows[] = {
	{"", PG_OK, 1},
	{"'replicas': null, ", PG_OK, 1},
	{"'replicas': 0, ", PG_OK, 0},
	{"'replicas': 3, ", PG_OK, 3},
	{"'replicas': 3.0, ", PG_OK, 3},
	{"'replicas': 1000000, ", PG_OK, 1000000},
	{"'replicas': 2.5, ", PG_ERR_INVALID, 0},
	{"'replicas': -1, ", PG_ERR_INVALID, 0},
	{"'replicas': -0.5, ", PG_ERR_INVALID, 0},
	{"'replicas': 1000001, ", PG_ERR_INVALID, 0},
	{"'replicas': '3', ", PG_ERR_INVALID, 0},
	{"'replicas': true, ", PG_ERR_INVALID, 0},
	{"'replicas': [3], ", PG_ERR_INVALID, 0},
};

/* spec.replicas: absent or null is 1; otherwise a whole number from 0 to 1000000. */
static void
test_replicas(void **state)
{
	struct fixture *f = *state;
	struct workload w;
	struct pg_error err;
	size_t i;
	int result;

	for (i = 0; i < sizeof(replicas_rows) / sizeof(replicas_rows[0]); i++) {
		memset(&err, 0, sizeof(err));
		result = read_workload(replicas_rows[i].spec, "{'name': 'app'}", f->defaults, &w,
		    &err);
		if (result != replicas_rows[i].code)
			fail_msg("{%s}: result %s, want %s (%s)", replicas_rows[i].spec,
			    pg_result_name(result), pg_result_name(replicas_rows[i].code), err.msg);
		if (result == PG_OK && w.replicas != replicas_rows[i].replicas)
			fail_msg("{%s}: %ld replicas, want %ld", replicas_rows[i].spec, w.replicas,
			    replicas_rows[i].replicas);
		if (result != PG_OK && strcmp(err.msg, "deployment shop/api: spec.replicas must be "
		    "a whole number from 0 to 1000000") != 0)
			fail_msg("{%s}: message \"%s\"", replicas_rows[i].spec, err.msg);
	}
}

/* An object with no spec at all: one replica, the default pool. */
static void
test_no_spec(void **state)
{
	struct fixture *f = *state;
	cJSON *object = json("{'apiVersion': 'apps/v1', 'kind': 'Deployment', "
	    "'metadata': {'name': 'bare'}}");
	struct workload w;
	struct pg_error err = {""};

	assert_int_equal(workload_from_object(object, f->defaults, "shop", NULL, &w, &err), PG_OK);
	assert_int_equal(w.replicas, 1);
	assert_int_equal(w.pool_per_pod, 10);
	assert_true(w.pool_is_default);
	assert_string_equal(w.note, "");
	assert_int_equal(workload_connections(&w), 10);
	cJSON_Delete(object);
}

struct pool_row {
	const char *name;
	int custom;		/* read with custom_budget instead of default_budget */
	const char *containers;
	long pool;
	int is_default;
	const char *note;
};

#define APP_WITH(env) "{'name': 'app', 'env': [" env "]}"
#define ENV(var, value) "{'name': '" var "', 'value': '" value "'}"
#define ENV_REF(var) "{'name': '" var "', 'valueFrom': {'secretKeyRef': " \
	"{'name': 'db', 'key': 'pool'}}}"

static const struct pool_row pool_rows[] = {
	{"no containers", 0, "", 10, 1, ""},
	{"no env", 0, "{'name': 'app'}", 10, 1, ""},
	{"env null", 0, "{'name': 'app', 'env': null}", 10, 1, ""},
	{"unrelated variables", 0,
	    APP_WITH(ENV("PORT", "8080") ", "
	    ENV("SPRING_DATASOURCE_URL", "jdbc:postgresql://db/x")),
	    10, 1, ""},
	{"MAXIMUMPOOLSIZE", 0, APP_WITH(ENV(POOL_VAR, "20")), 20, 0, ""},
	{"MAXIMUM_POOL_SIZE", 0, APP_WITH(ENV(POOL_VAR2, "15")), 15, 0, ""},
	{"the replica-datasource decoy is not a pool variable", 0,
	    APP_WITH(ENV(DECOY_VAR, "25")), 10, 1, ""},
	{"decoy beside the real variable", 0,
	    APP_WITH(ENV(DECOY_VAR, "25") ", " ENV(POOL_VAR2, "15")), 15, 0, ""},
	{"first configured variable wins, not first in env", 0,
	    APP_WITH(ENV(POOL_VAR2, "15") ", " ENV(POOL_VAR, "20")), 20, 0, ""},
	{"a later configured variable is not read once one is set", 0,
	    APP_WITH(ENV(POOL_VAR, "20") ", " ENV(POOL_VAR2, "abc")), 20, 0, ""},
	{"duplicate entry: the last wins", 0,
	    APP_WITH(ENV(POOL_VAR, "5") ", " ENV(POOL_VAR, "30")), 30, 0, ""},
	{"duplicate entry: a bad earlier one is overridden", 0,
	    APP_WITH(ENV(POOL_VAR, "abc") ", " ENV(POOL_VAR, "30")), 30, 0, ""},
	{"summed across containers", 0,
	    APP_WITH(ENV(POOL_VAR, "20")) ", {'name': 'worker', 'env': [" ENV(POOL_VAR2, "5")
	    "]}, {'name': 'sidecar', 'env': [" ENV("PORT", "9000") "]}", 25, 0, ""},
	{"leading zero", 0, APP_WITH(ENV(POOL_VAR, "020")), 20, 0, ""},
	{"largest pool", 0, APP_WITH(ENV(POOL_VAR, "100000")), 100000, 0, ""},
	{"valueFrom counts as defaultPoolSize", 0, APP_WITH(ENV_REF(POOL_VAR)), 10, 0,
	    "pool size counted as defaultPoolSize 10: container 'app' takes it from Secret 'db' key "
	    "'pool'"},
	{"valueFrom in one container, a value in another", 0,
	    "{'name': 'worker', 'env': [" ENV(POOL_VAR, "5") "]}, " APP_WITH(ENV_REF(POOL_VAR2)),
	    15, 0,
	    "pool size counted as defaultPoolSize 10: container 'app' takes it from Secret 'db' key "
	    "'pool'"},
	{"value beside valueFrom: the value counts", 0,
	    APP_WITH("{'name': '" POOL_VAR "', 'value': '7', 'valueFrom': {'fieldRef': "
	    "{'fieldPath': 'metadata.name'}}}"), 7, 0, ""},
	/* custom_budget: defaultPoolSize 4, variables DB_POOL then MAXIMUMPOOLSIZE. */
	{"custom: no variable", 1, "{'name': 'app'}", 4, 1, ""},
	{"custom: an unlisted Spring variable", 1, APP_WITH(ENV(POOL_VAR2, "15")), 4, 1, ""},
	{"custom: first listed wins", 1,
	    APP_WITH(ENV(POOL_VAR, "20") ", " ENV("DB_POOL", "3")), 3, 0, ""},
	{"custom: second listed", 1, APP_WITH(ENV(POOL_VAR, "20")), 20, 0, ""},
	{"custom: valueFrom", 1, APP_WITH(ENV_REF("DB_POOL")), 4, 0,
	    "pool size counted as defaultPoolSize 4: container 'app' takes it from Secret 'db' key "
	    "'pool'"},
};

/* Pool per pod: the first configured variable each container sets, summed over containers. */
static void
test_pool(void **state)
{
	struct fixture *f = *state;
	const struct pool_row *row;
	struct workload w;
	struct pg_error err;
	size_t i;
	int result;

	for (i = 0; i < sizeof(pool_rows) / sizeof(pool_rows[0]); i++) {
		row = &pool_rows[i];
		memset(&err, 0, sizeof(err));
		result = read_workload("'replicas': 3, ", row->containers,
		    row->custom ? f->custom : f->defaults, &w, &err);
		if (result != PG_OK)
			fail_msg("%s: %s", row->name, err.msg);
		if (w.pool_per_pod != row->pool || w.pool_is_default != row->is_default)
			fail_msg("%s: pool %ld (default %d), want %ld (default %d)", row->name,
			    w.pool_per_pod, w.pool_is_default, row->pool, row->is_default);
		if (strcmp(w.note, row->note) != 0)
			fail_msg("%s: note \"%s\", want \"%s\"", row->name, w.note, row->note);
		assert_int_equal(w.replicas, 3);
		assert_int_equal(workload_connections(&w), 3 * row->pool);
	}
}

struct bad_row {
	const char *entry;	/* the env entry of container 'app' */
	const char *message;	/* what follows "container 'app' env VAR: " */
};

#define NOT_POSITIVE " is not a positive integer string (1 to 100000)"

static const struct bad_row bad_rows[] = {
	{ENV(POOL_VAR, "abc"), "value 'abc'" NOT_POSITIVE},
	{ENV(POOL_VAR, "0"), "value '0'" NOT_POSITIVE},
	{ENV(POOL_VAR, "-5"), "value '-5'" NOT_POSITIVE},
	{ENV(POOL_VAR, "20 "), "value '20 '" NOT_POSITIVE},
	{ENV(POOL_VAR, " 20"), "value ' 20'" NOT_POSITIVE},
	{ENV(POOL_VAR, ""), "value ''" NOT_POSITIVE},
	{ENV(POOL_VAR, "+20"), "value '+20'" NOT_POSITIVE},
	{ENV(POOL_VAR, "2.5"), "value '2.5'" NOT_POSITIVE},
	{ENV(POOL_VAR, "0x14"), "value '0x14'" NOT_POSITIVE},
	{ENV(POOL_VAR, "100001"), "value '100001'" NOT_POSITIVE},
	{ENV(POOL_VAR, "99999999999999999999"), "value '99999999999999999999'" NOT_POSITIVE},
	{"{'name': '" POOL_VAR "', 'value': 20}", "value '(not a string)'" NOT_POSITIVE},
	{"{'name': '" POOL_VAR "', 'value': null}", "value '(not a string)'" NOT_POSITIVE},
	{"{'name': '" POOL_VAR "', 'value': true}", "value '(not a string)'" NOT_POSITIVE},
	{"{'name': '" POOL_VAR "'}", "value ''" NOT_POSITIVE},
};

/* A pool value that is not a positive integer string fails, naming container and variable. */
static void
test_bad_pool_values(void **state)
{
	struct fixture *f = *state;
	char containers[512], expected[PG_ERROR_MAX];
	struct workload w;
	struct pg_error err;
	size_t i;

	for (i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		snprintf(containers, sizeof(containers), "{'name': 'app', 'env': [%s]}",
		    bad_rows[i].entry);
		memset(&err, 0, sizeof(err));
		if (read_workload("", containers, f->defaults, &w, &err) != PG_ERR_INVALID)
			fail_msg("%s: accepted", bad_rows[i].entry);
		snprintf(expected, sizeof(expected), "container 'app' env " POOL_VAR ": %s",
		    bad_rows[i].message);
		TF_ASSERT_PREFIX(err.msg, "deployment shop/api:");
		TF_ASSERT_CONTAINS(err.msg, expected);
	}

	/* The message names the container and variable that are wrong, not the first ones. */
	memset(&err, 0, sizeof(err));
	assert_int_equal(read_workload("", APP_WITH(ENV(POOL_VAR, "20")) ", {'name': 'worker', "
	    "'env': [" ENV(POOL_VAR2, "lots") "]}", f->defaults, &w, &err), PG_ERR_INVALID);
	TF_ASSERT_CONTAINS(err.msg, "container 'worker' env " POOL_VAR2 ": value 'lots'"
	    NOT_POSITIVE);
	/* A container without a name is shown as '?'. */
	assert_int_equal(read_workload("", "{'env': [" ENV(POOL_VAR, "x") "]}", f->defaults, &w,
	    &err), PG_ERR_INVALID);
	TF_ASSERT_CONTAINS(err.msg, "container '?' env " POOL_VAR ": value 'x'" NOT_POSITIVE);
	/* The custom variable list is the one checked. */
	assert_int_equal(read_workload("", APP_WITH(ENV("DB_POOL", "0")), f->custom, &w, &err),
	    PG_ERR_INVALID);
	TF_ASSERT_CONTAINS(err.msg, "container 'app' env DB_POOL: value '0'" NOT_POSITIVE);
}

/* Shapes that are not lists where lists belong. */
static void
test_bad_shapes(void **state)
{
	struct fixture *f = *state;
	cJSON *object = json("{'apiVersion': 'apps/v1', 'kind': 'Deployment', "
	    "'metadata': {'name': 'api', 'namespace': 'shop'}, "
	    "'spec': {'template': {'spec': {'containers': {'name': 'app'}}}}}");
	struct workload w;
	struct pg_error err = {""};

	assert_int_equal(workload_from_object(object, f->defaults, NULL, NULL, &w, &err),
	    PG_ERR_INVALID);
	assert_string_equal(err.msg,
	    "deployment shop/api: spec.template.spec.containers must be a list");
	cJSON_Delete(object);

	assert_int_equal(read_workload("", "{'name': 'app', 'env': {'" POOL_VAR "': '20'}}",
	    f->defaults, &w, &err), PG_ERR_INVALID);
	TF_ASSERT_PREFIX(err.msg, "deployment shop/api:");
	TF_ASSERT_CONTAINS(err.msg, "container 'app': env must be a list");
}

/* Only apps/v1 Deployment and StatefulSet are workloads. */
static void
test_kinds(void **state)
{
	static const struct {
		const char *object;
		enum workload_kind kind;
	} rows[] = {
		{"{'apiVersion': 'apps/v1', 'kind': 'Deployment'}", WORKLOAD_DEPLOYMENT},
		{"{'apiVersion': 'apps/v1', 'kind': 'StatefulSet'}", WORKLOAD_STATEFULSET},
		{"{'apiVersion': 'apps/v1', 'kind': 'DaemonSet'}", WORKLOAD_NONE},
		{"{'apiVersion': 'apps/v1', 'kind': 'ReplicaSet'}", WORKLOAD_NONE},
		{"{'apiVersion': 'apps/v1', 'kind': 'deployment'}", WORKLOAD_NONE},
		{"{'apiVersion': 'apps/v1beta2', 'kind': 'Deployment'}", WORKLOAD_NONE},
		{"{'apiVersion': 'extensions/v1beta1', 'kind': 'Deployment'}", WORKLOAD_NONE},
		{"{'apiVersion': 'v1', 'kind': 'Service'}", WORKLOAD_NONE},
		{"{'apiVersion': 'batch/v1', 'kind': 'Job'}", WORKLOAD_NONE},
		{"{'apiVersion': 'autoscaling/v1', 'kind': 'Scale'}", WORKLOAD_NONE},
		{"{'kind': 'Deployment'}", WORKLOAD_NONE},
		{"{'apiVersion': 'apps/v1'}", WORKLOAD_NONE},
		{"{'apiVersion': 'apps/v1', 'kind': 1}", WORKLOAD_NONE},
		{"[]", WORKLOAD_NONE},
	};
	struct fixture *f = *state;
	struct workload w;
	struct pg_error err;
	cJSON *object;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		object = json(rows[i].object);
		if (workload_kind_of(object) != rows[i].kind)
			fail_msg("%s: kind %d, want %d", rows[i].object, workload_kind_of(object),
			    rows[i].kind);
		if (rows[i].kind == WORKLOAD_NONE) {
			memset(&err, 0, sizeof(err));
			assert_int_equal(workload_from_object(object, f->defaults, NULL, NULL, &w, &err),
			    PG_ERR_UNSUPPORTED);
			assert_int_equal(w.kind, WORKLOAD_NONE);
			assert_string_equal(err.msg, "not an apps/v1 Deployment or StatefulSet");
		}
		cJSON_Delete(object);
	}
	assert_int_equal(workload_kind_of(NULL), WORKLOAD_NONE);
	assert_string_equal(workload_kind_name(WORKLOAD_DEPLOYMENT), "deployment");
	assert_string_equal(workload_kind_name(WORKLOAD_STATEFULSET), "statefulset");
	assert_string_equal(workload_kind_name(WORKLOAD_NONE), "object");
}

/* A StatefulSet is read like a Deployment and named as one in messages. */
static void
test_statefulset(void **state)
{
	struct fixture *f = *state;
	cJSON *object = json("{'apiVersion': 'apps/v1', 'kind': 'StatefulSet', "
	    "'metadata': {'name': 'db', 'namespace': 'data'}, 'spec': {'replicas': 3, "
	    "'serviceName': 'db', 'template': {'spec': {'containers': ["
	    APP_WITH(ENV(POOL_VAR, "12")) "]}}}}");
	struct workload w;
	struct pg_error err = {""};

	assert_int_equal(workload_from_object(object, f->defaults, NULL, NULL, &w, &err), PG_OK);
	assert_int_equal(w.kind, WORKLOAD_STATEFULSET);
	assert_string_equal(w.namespace, "data");
	assert_string_equal(w.name, "db");
	assert_int_equal(w.replicas, 3);
	assert_int_equal(w.pool_per_pod, 12);
	assert_false(w.pool_is_default);
	assert_int_equal(workload_connections(&w), 36);
	cJSON_Delete(object);

	object = json("{'apiVersion': 'apps/v1', 'kind': 'StatefulSet', "
	    "'metadata': {'name': 'db', 'namespace': 'data'}, 'spec': {'replicas': -3}}");
	assert_int_equal(workload_from_object(object, f->defaults, NULL, NULL, &w, &err),
	    PG_ERR_INVALID);
	assert_string_equal(err.msg,
	    "statefulset data/db: spec.replicas must be a whole number from 0 to 1000000");
	cJSON_Delete(object);
}

/* Namespace and name: the default namespace fills in, generateName stands in for name. */
static void
test_namespace_and_name(void **state)
{
	static const struct {
		const char *metadata;
		const char *default_namespace;
		const char *namespace, *name;
	} rows[] = {
		{"{'name': 'api', 'namespace': 'shop'}", "other", "shop", "api"},
		{"{'name': 'api'}", "other", "other", "api"},
		{"{'name': 'api', 'namespace': ''}", "other", "other", "api"},
		{"{'name': 'api', 'namespace': null}", "other", "other", "api"},
		{"{'name': 'api'}", NULL, "default", "api"},
		{"{'generateName': 'api-'}", "shop", "shop", "api-"},
		{"{'name': '', 'generateName': 'api-'}", "shop", "shop", "api-"},
		{"{}", NULL, "default", ""},
	};
	struct fixture *f = *state;
	char text[512];
	struct workload w;
	struct pg_error err = {""};
	cJSON *object;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(text, sizeof(text), "{'apiVersion': 'apps/v1', 'kind': 'Deployment', "
		    "'metadata': %s}", rows[i].metadata);
		object = json(text);
		if (workload_from_object(object, f->defaults, rows[i].default_namespace, NULL, &w, &err))
			fail_msg("%s: %s", rows[i].metadata, err.msg);
		if (strcmp(w.namespace, rows[i].namespace) != 0 || strcmp(w.name, rows[i].name))
			fail_msg("%s with default %s: %s/%s, want %s/%s", rows[i].metadata,
			    rows[i].default_namespace ? rows[i].default_namespace : "NULL",
			    w.namespace, w.name, rows[i].namespace, rows[i].name);
		cJSON_Delete(object);
	}

	/* The name used in messages is the one read. */
	object = json("{'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': "
	    "{'generateName': 'job-'}, 'spec': {'replicas': 1.5}}");
	assert_int_equal(workload_from_object(object, f->defaults, "batch", NULL, &w, &err),
	    PG_ERR_INVALID);
	TF_ASSERT_PREFIX(err.msg, "deployment batch/job-: spec.replicas");
	cJSON_Delete(object);
}

/* Labels are borrowed from metadata.labels; workload_label() looks them up. */
static void
test_labels(void **state)
{
	struct fixture *f = *state;
	cJSON *object = deployment("", "");
	struct workload w;
	struct pg_error err = {""};

	assert_int_equal(workload_from_object(object, f->defaults, NULL, NULL, &w, &err), PG_OK);
	assert_ptr_equal(w.labels, cJSON_GetObjectItem(cJSON_GetObjectItem(object, "metadata"),
	    "labels"));
	assert_string_equal(workload_label(w.labels, "app"), "api");
	assert_null(workload_label(w.labels, "tier"));
	assert_null(workload_label(w.labels, "App"));
	cJSON_Delete(object);

	object = json("{'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': "
	    "{'name': 'api', 'labels': 'app=api'}}");
	assert_int_equal(workload_from_object(object, f->defaults, NULL, NULL, &w, &err), PG_OK);
	assert_null(w.labels);
	assert_null(workload_label(w.labels, "app"));
	cJSON_Delete(object);

	object = json("{'tier': 3, 'app': 'api'}");
	assert_null(workload_label(object, "tier"));
	assert_string_equal(workload_label(object, "app"), "api");
	cJSON_Delete(object);
	assert_null(workload_label(NULL, "app"));
}

/* Scale: spec.replicas, absent (scaled to 0, spec left empty) is 0. */
static void
test_scale_replicas(void **state)
{
	static const struct {
		const char *scale;
		int code;
		long replicas;
	} rows[] = {
		{"{'apiVersion': 'autoscaling/v1', 'kind': 'Scale', 'spec': {}}", PG_OK, 0},
		{"{'apiVersion': 'autoscaling/v1', 'kind': 'Scale'}", PG_OK, 0},
		{"{'spec': {'replicas': null}}", PG_OK, 0},
		{"{'spec': {'replicas': 0}}", PG_OK, 0},
		{"{'spec': {'replicas': 4}}", PG_OK, 4},
		{"{'spec': {'replicas': 1000000}}", PG_OK, 1000000},
		{"{'spec': {'replicas': -1}}", PG_ERR_INVALID, 0},
		{"{'spec': {'replicas': 1.5}}", PG_ERR_INVALID, 0},
		{"{'spec': {'replicas': '4'}}", PG_ERR_INVALID, 0},
		{"{'spec': {'replicas': 1000001}}", PG_ERR_INVALID, 0},
	};
	struct pg_error err;
	cJSON *scale;
	long replicas;
	size_t i;
	int result;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		scale = json(rows[i].scale);
		replicas = -99;
		memset(&err, 0, sizeof(err));
		result = workload_scale_replicas(scale, &replicas, &err);
		if (result != rows[i].code)
			fail_msg("%s: result %s, want %s (%s)", rows[i].scale,
			    pg_result_name(result), pg_result_name(rows[i].code), err.msg);
		if (result == PG_OK && replicas != rows[i].replicas)
			fail_msg("%s: %ld replicas, want %ld", rows[i].scale, replicas,
			    rows[i].replicas);
		if (result != PG_OK)
			assert_string_equal(err.msg,
			    "scale: spec.replicas must be a whole number from 0 to 1000000");
		cJSON_Delete(scale);
	}
}

/*
 * kubernetes/api testdata apps.v1.Deployment.json: every field set to a
 * placeholder. Its one env entry ("nameValue") has both value "valueValue"
 * and valueFrom; with the default variables nothing matches; made a pool
 * variable, the value is read (valueFrom is used only without a value) and
 * refused as not a number.
 */
static void
test_fixture_api_deployment(void **state)
{
	struct fixture *f = *state;
	struct config *cfg = budget("cluster:\n  maxConnections: 100\n"
	    "poolSizeVariables: [nameValue]\nroles: []\n");
	char path[4096], *text;
	cJSON *object;
	struct workload w;
	struct pg_error err = {""};

	tf_fixture_path(path, sizeof(path), API_DEPLOYMENT_JSON);
	text = tf_read_file(path, NULL);
	object = cJSON_Parse(text);
	assert_non_null(object);

	assert_int_equal(workload_from_object(object, f->defaults, "fallback", NULL, &w, &err), PG_OK);
	assert_int_equal(w.kind, WORKLOAD_DEPLOYMENT);
	assert_string_equal(w.namespace, "namespaceValue");
	assert_string_equal(w.name, "nameValue");
	assert_int_equal(w.replicas, 1);
	assert_int_equal(w.pool_per_pod, 10);
	assert_true(w.pool_is_default);
	assert_string_equal(w.note, "");
	assert_string_equal(workload_label(w.labels, "labelsKey"), "labelsValue");

	assert_int_equal(workload_from_object(object, cfg, "fallback", NULL, &w, &err), PG_ERR_INVALID);
	TF_ASSERT_PREFIX(err.msg, "deployment namespaceValue/nameValue:");
	TF_ASSERT_CONTAINS(err.msg, "container 'nameValue' env nameValue: value 'valueValue'"
	    NOT_POSITIVE);
	cJSON_Delete(object);
	free(text);
	config_free(cfg);
}

/* kubewarden cel-policy: a bare AdmissionRequest whose object has 51 replicas. */
static void
test_fixture_kubewarden_51_replicas(void **state)
{
	struct fixture *f = *state;
	char path[4096], *text;
	cJSON *request;
	const cJSON *object;
	struct workload w;
	struct pg_error err = {""};

	tf_fixture_path(path, sizeof(path), KUBEWARDEN_51);
	text = tf_read_file(path, NULL);
	request = cJSON_Parse(text);
	assert_non_null(request);
	object = cJSON_GetObjectItemCaseSensitive(request, "object");
	assert_non_null(object);
	assert_int_equal(workload_kind_of(request), WORKLOAD_NONE);
	assert_int_equal(workload_kind_of(object), WORKLOAD_DEPLOYMENT);
	assert_int_equal(workload_from_object(object, f->defaults, NULL, NULL, &w, &err), PG_OK);
	assert_string_equal(w.namespace, "default");
	assert_string_equal(w.name, "nginx");
	assert_int_equal(w.replicas, 51);
	assert_int_equal(w.pool_per_pod, 10);
	assert_true(w.pool_is_default);
	assert_null(w.labels);
	assert_int_equal(workload_connections(&w), 510);
	assert_int_equal(workload_from_object(object, f->custom, NULL, NULL, &w, &err), PG_OK);
	assert_int_equal(workload_connections(&w), 51 * 4);
	cJSON_Delete(request);
	free(text);
}

/*
 * bank-of-anthos balance-reader.yaml: a Spring Boot Deployment with no
 * replicas and its datasource from envFrom, so no pool variable: 1 x 10.
 */
static void
test_fixture_balance_reader(void **state)
{
	struct fixture *f = *state;
	struct manifest_set set;
	char path[4096];
	struct workload w;
	struct pg_error err = {""};

	tf_fixture_path(path, sizeof(path), BALANCE_READER);
	manifest_set_init(&set);
	if (manifest_load(&set, path, &err) != PG_OK)
		fail_msg("%s: %s", path, err.msg);
	assert_int_equal(set.count, 2);
	assert_int_equal(workload_kind_of(set.items[0].object), WORKLOAD_NONE);
	assert_int_equal(workload_from_object(set.items[1].object, f->defaults, "bank", NULL, &w, &err),
	    PG_OK);
	assert_int_equal(w.kind, WORKLOAD_DEPLOYMENT);
	assert_string_equal(w.namespace, "bank");
	assert_string_equal(w.name, "balancereader");
	assert_int_equal(w.replicas, 1);
	assert_int_equal(w.pool_per_pod, 10);
	assert_true(w.pool_is_default);
	assert_string_equal(w.note, "");
	assert_string_equal(workload_label(w.labels, "team"), "ledger");
	manifest_set_release(&set);
}

/*
 * Regression (fixed): workload.c, workload_from_object(): the prefix "what" already ends in
 * a colon ("deployment shop/api:", written for the spec.replicas message) and
 * is then passed to pg_error_prefix(), which adds ": ", so container errors
 * read "deployment shop/api:: container 'app' env ...". Expected one colon.
 */
static void
test_regression_double_colon_in_container_errors(void **state)
{
	struct fixture *f = *state;
	struct workload w;
	struct pg_error err = {""};

	assert_int_equal(read_workload("", APP_WITH(ENV(POOL_VAR, "abc")), f->defaults, &w, &err),
	    PG_ERR_INVALID);
	assert_string_equal(err.msg, "deployment shop/api: container 'app' env " POOL_VAR
	    ": value 'abc'" NOT_POSITIVE);
	assert_int_equal(read_workload("", "{'name': 'app', 'env': 'x'}", f->defaults, &w, &err),
	    PG_ERR_INVALID);
	assert_string_equal(err.msg, "deployment shop/api: container 'app': env must be a list");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replicas),
		cmocka_unit_test(test_no_spec),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_bad_pool_values),
		cmocka_unit_test(test_bad_shapes),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_statefulset),
		cmocka_unit_test(test_namespace_and_name),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_scale_replicas),
		cmocka_unit_test(test_fixture_api_deployment),
		cmocka_unit_test(test_fixture_kubewarden_51_replicas),
		cmocka_unit_test(test_fixture_balance_reader),
		cmocka_unit_test(test_regression_double_colon_in_container_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
