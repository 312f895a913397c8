/*
 * cli_test.c - `poolguard review` and `poolguard check` as a user runs them:
 * exit codes, the response, the table and the messages, on the worked
 * numbers, on objects kubectl wrote and on public manifests.
 */
#include "integration/harness.h"

static char *dir;
static char worked_budget[512];
static char small_budget[512];

static int
group_setup(void **state)
{
	(void)state;
	dir = harness_tmpdir();
	snprintf(worked_budget, sizeof(worked_budget), "%s/worked.yaml", dir);
	snprintf(small_budget, sizeof(small_budget), "%s/small.yaml", dir);
	harness_write(worked_budget, harness_budget_worked);
	harness_write(small_budget, harness_budget_small_cluster);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	harness_rmdir(dir);
	return 0;
}

static const char *
budget_path(const char *budget)
{
	return budget == harness_budget_worked ? worked_budget : small_budget;
}

static void
test_review_worked_numbers(void **state)
{
	char path[512], uid[32], *out, *err;
	size_t i;

	(void)state;
	for (i = 0; i < HARNESS_WORKED_ROWS; i++) {
		const struct harness_worked_row *row = &harness_worked_rows[i];
		char *review;
		const char *argv[] = {POOLGUARD_BIN, "review", "--config", budget_path(row->budget),
		    path, NULL};

		snprintf(uid, sizeof(uid), "row-%zu", i);
		review = harness_create_review(uid, "api", row->replicas, row->pool);
		snprintf(path, sizeof(path), "%s/review-%zu.json", dir, i);
		harness_write(path, review);
		free(review);
		assert_int_equal(harness_run(argv, NULL, &out, &err), 0);
		print_message("row %zu: %s\n", i, out);
		assert_contains(out, "\"apiVersion\":\t\"admission.k8s.io/v1\"");
		assert_contains(out, uid);
		assert_contains(out, row->allowed ? "\"allowed\":\ttrue" : "\"allowed\":\tfalse");
		if (!row->allowed) {
			assert_contains(out, "\"code\":\t403");
			assert_contains(out, "\"reason\":\t\"Forbidden\"");
		}
		if (row->warned)
			assert_contains(out, "\"warnings\":");
		else
			assert_null(strstr(out, "\"warnings\":"));
		if (row->text)
			assert_contains(out, row->text);
		free(out);
		free(err);
	}
}

static void
test_review_stdin_inventory_and_bare(void **state)
{
	static const char scale[] =
	    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
	    "\"uid\":\"s\",\"kind\":{\"group\":\"autoscaling\",\"version\":\"v1\",\"kind\":\"Scale\"},"
	    "\"resource\":{\"group\":\"apps\",\"version\":\"v1\",\"resource\":\"deployments\"},"
	    "\"subResource\":\"scale\",\"namespace\":\"synergyflow\",\"name\":\"api\",\"operation\":"
	    "\"UPDATE\",\"object\":{\"apiVersion\":\"autoscaling/v1\",\"kind\":\"Scale\",\"spec\":"
	    "{\"replicas\":11}}}}";
	char review[512], inventory[512], manifest[2048], *out, *err;
	const char *argv[] = {POOLGUARD_BIN, "review", "--config", worked_budget, "--inventory",
	    inventory, "-", NULL};
	const char *bare[] = {POOLGUARD_BIN, "review", "--config", worked_budget,
	    "tests/fixtures/public/kubewarden-policies__echo__test_data__update_accept.json", NULL};

	(void)state;
	snprintf(review, sizeof(review), "%s/scale.json", dir);
	snprintf(inventory, sizeof(inventory), "%s/inventory.yaml", dir);
	harness_write(review, scale);
	/* kubectl scale: the pool size comes from the inventory's Deployment (3 x 20 now). */
	harness_deployment_yaml(manifest, sizeof(manifest), "api", 3, "20");
	harness_write(inventory, manifest);
	assert_int_equal(harness_run(argv, review, &out, &err), 0);
	assert_contains(out, "\"allowed\":\tfalse");
	assert_contains(out, "11 replicas x pool 20 = 220 connections");
	free(out);
	free(err);
	/* A bare AdmissionRequest saved by another tool is answered too. */
	assert_int_equal(harness_run(bare, NULL, &out, &err), 0);
	assert_contains(out, "\"uid\":\t\"ab41adeb-eca2-4add-9336-c263895d3953\"");
	assert_contains(out, "\"allowed\":\ttrue");
	free(out);
	free(err);
}

static void
test_review_bad_input(void **state)
{
	char bad[512], *out, *err;
	const char *argv[] = {POOLGUARD_BIN, "review", "--config", worked_budget, bad, NULL};
	const char *no_config[] = {POOLGUARD_BIN, "review", bad, NULL};
	const char *missing[] = {POOLGUARD_BIN, "review", "--config", worked_budget,
	    "/nonexistent/review.json", NULL};

	(void)state;
	snprintf(bad, sizeof(bad), "%s/bad.json", dir);
	harness_write(bad, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}");
	assert_int_equal(harness_run(argv, NULL, &out, &err), 2);
	assert_contains(err, "bad.json: the AdmissionReview has no request");
	assert_string_equal(out, "");
	free(out);
	free(err);
	harness_write(bad, "not json at all");
	assert_int_equal(harness_run(argv, NULL, &out, &err), 2);
	assert_contains(err, "not valid JSON");
	free(out);
	free(err);
	assert_int_equal(harness_run(no_config, NULL, &out, &err), 2);
	assert_contains(err, "--config is required");
	assert_contains(err, "usage: poolguard");
	free(out);
	free(err);
	assert_int_equal(harness_run(missing, NULL, &out, &err), 2);
	assert_contains(err, "unable to open '/nonexistent/review.json'");
	free(out);
	free(err);
}

static void
test_check_worked_numbers(void **state)
{
	char path[512], manifest[2048], pool[8], *out, *err;
	size_t i;

	(void)state;
	for (i = 0; i < HARNESS_WORKED_ROWS; i++) {
		const struct harness_worked_row *row = &harness_worked_rows[i];
		const char *argv[] = {POOLGUARD_BIN, "check", "--config", budget_path(row->budget),
		    path, NULL};

		snprintf(pool, sizeof(pool), "%s", row->pool);
		harness_deployment_yaml(manifest, sizeof(manifest), "api", row->replicas, pool);
		snprintf(path, sizeof(path), "%s/deploy-%zu.yaml", dir, i);
		harness_write(path, manifest);
		assert_int_equal(harness_run(argv, NULL, &out, &err), row->allowed ? 0 : 1);
		print_message("row %zu:\n%s\n", i, out);
		assert_contains(out, "ROLE             DEPLOYMENT       REPLICAS  POOL/POD  "
		    "CONNECTIONS    PEAK   LIMIT  USED%  HEADROOM");
		assert_contains(out, row->allowed ? "0 denied" : "1 denied");
		if (row->warned)
			assert_contains(out, "WARN  deployment synergyflow/api: ");
		if (row->text)
			assert_contains(out, row->text);
		free(out);
		free(err);
	}
}

static void
test_check_table(void **state)
{
	char a[512], b[512], manifest[2048], *out, *err;
	const char *argv[] = {POOLGUARD_BIN, "check", "--config", worked_budget, a, b, NULL};

	(void)state;
	snprintf(a, sizeof(a), "%s/a.yaml", dir);
	snprintf(b, sizeof(b), "%s/b.yaml", dir);
	harness_deployment_yaml(manifest, sizeof(manifest), "api", 10, "15");
	harness_write(a, manifest);
	harness_deployment_yaml(manifest, sizeof(manifest), "worker", 2, NULL);
	harness_write(b, manifest);
	/* 10 x 15 + 2 x 10 = 170 of 200 (85%): allowed with warnings, exit 0. */
	assert_int_equal(harness_run(argv, NULL, &out, &err), 0);
	assert_contains(out,
	    "synergyflow_app  synergyflow/api           10        15          150     195\n"
	    "synergyflow_app  synergyflow/worker         2        10           20      30\n"
	    "synergyflow_app  (total)                                         170             200    85%"
	    "        30  [#################...]\n"
	    "CLUSTER          shared-postgres                                 173             300    58%"
	    "       127  [############........]\n");
	assert_contains(out, "2 workloads: 0 denied, 2 with warnings, 0 within budget");
	free(out);
	free(err);
	/* Together they break the budget: 6 x 20 + 5 x 20 = 220, both denied. */
	harness_deployment_yaml(manifest, sizeof(manifest), "api", 6, "20");
	harness_write(a, manifest);
	harness_deployment_yaml(manifest, sizeof(manifest), "worker", 5, "20");
	harness_write(b, manifest);
	assert_int_equal(harness_run(argv, NULL, &out, &err), 1);
	assert_contains(out, "DENY  poolguard: deployment synergyflow/api would hold 6 replicas x "
	    "pool 20 = 120 connections; role 'synergyflow_app' would use 220 of 200");
	assert_contains(out, "DENY  poolguard: deployment synergyflow/worker would hold 5 replicas");
	assert_contains(out, "2 workloads: 2 denied");
	free(out);
	free(err);
}

static void
test_check_kubectl_objects(void **state)
{
	static const struct {
		const char *file;
		int exit;
		const char *text;
	} rows[] = {
		{"deploy-api-3x20.json", 0, "synergyflow/api         3        20           60"},
		{"deploy-api-10x15.json", 0, "1 workload: 0 denied, 0 with warnings, 1 within budget"},
		{"deploy-api-10x18.json", 0, "at 180 of 200 connections (90%)"},
		{"deploy-api-10x20.json", 0, "at 200 of 200 connections (100%)"},
		{"deploy-api-11x20.json", 1, "would use 220 of 200 connections (110%), 20 over"},
		{"deploy-api-nopool.json", 0, "synergyflow/api         2        10           20"},
		{"deploy-api-from-configmap.json", 0, "pool size counted as defaultPoolSize 10: "
		    "container 'nginx' takes it from ConfigMap 'pool-config' (missing)"},
	};
	char path[512], *out, *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *argv[] = {POOLGUARD_BIN, "check", "--config", worked_budget, path, NULL};

		snprintf(path, sizeof(path), "tests/fixtures/kubectl/%s", rows[i].file);
		assert_int_equal(harness_run(argv, NULL, &out, &err), rows[i].exit);
		print_message("%s:\n%s\n", rows[i].file, out);
		assert_contains(out, rows[i].text);
		free(out);
		free(err);
	}
}

static void
test_check_configmap_and_hpa(void **state)
{
	static const char hpa[] =
	    "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
	    "metadata: {name: api, namespace: synergyflow}\n"
	    "spec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}\n"
	    "  minReplicas: 3\n  maxReplicas: 15\n";
	char hpa_file[512], *out, *err;
	const char *with_map[] = {POOLGUARD_BIN, "check", "--config", worked_budget,
	    "tests/fixtures/kubectl/deploy-api-from-configmap.json",
	    "tests/fixtures/kubectl/configmap-pool.json", NULL};
	const char *with_hpa[] = {POOLGUARD_BIN, "check", "--config", worked_budget,
	    "tests/fixtures/kubectl/deploy-api-3x20.json", hpa_file, NULL};

	(void)state;
	/* kubectl set env --from=configmap/pool-config: the ConfigMap in the manifests gives 12. */
	assert_int_equal(harness_run(with_map, NULL, &out, &err), 0);
	assert_contains(out, "synergyflow/api         3        12           36");
	assert_contains(out, "1 workload: 0 denied, 0 with warnings, 1 within budget");
	free(out);
	free(err);
	/* An HPA with maxReplicas 15 counts 15 x 20 = 300 of 200. */
	snprintf(hpa_file, sizeof(hpa_file), "%s/hpa.yaml", dir);
	harness_write(hpa_file, hpa);
	assert_int_equal(harness_run(with_hpa, NULL, &out, &err), 1);
	assert_contains(out, "synergyflow/api       15*        20          300");
	assert_contains(out, "(* counted at its HorizontalPodAutoscaler's maxReplicas)");
	assert_contains(out, "would use 300 of 200 connections (150%), 100 over");
	free(out);
	free(err);
}

static void
test_check_pooled_budget(void **state)
{
	static const char pooled[] =
	    "cluster: {name: pg, maxConnections: 100, reservedConnections: 3}\n"
	    "roles:\n"
	    "  - name: app\n"
	    "    connectionLimit: 40\n"
	    "    namespaces: [synergyflow]\n"
	    "    pooler: {name: pgbouncer, instances: 3, maxClientConn: 100, defaultPoolSize: 20,"
	    " maxDbConnections: 15}\n";
	char budget_file[512], *out, *err;
	const char *fits[] = {POOLGUARD_BIN, "check", "--config", budget_file,
	    "tests/fixtures/kubectl/deploy-api-10x20.json", NULL};
	const char *over[] = {POOLGUARD_BIN, "check", "--config", budget_file, "-o", "json",
	    "tests/fixtures/kubectl/deploy-api-11x20.json", "tests/fixtures/kubectl/deploy-api-6x20.json",
	    NULL};

	(void)state;
	snprintf(budget_file, sizeof(budget_file), "%s/pooled.yaml", dir);
	harness_write(budget_file, pooled);
	/* 200 pod connections reach PgBouncer (300 clients); the database sees 3 x min(20, 15). */
	assert_int_equal(harness_run(fits, NULL, &out, &err), 0);
	assert_contains(out, "app      (via pooler)                                  45\n");
	assert_contains(out, "POOLER   pgbouncer                                    200             300    "
	    "67%       100");
	assert_contains(out, "FINDING  role 'app': pooler 'pgbouncer' can open 3 x min(defaultPoolSize "
	    "20, maxDbConnections 15) = 45 server connections, more than its connection limit 40");
	free(out);
	free(err);
	/* Two Deployments named api: the later (6 x 20) wins; 120 clients fit. */
	assert_int_equal(harness_run(over, NULL, &out, &err), 0);
	assert_contains(out, "\"findings\":\t[\"role 'app': pooler 'pgbouncer' can open");
	free(out);
	free(err);
}

static void
test_check_public_manifests_and_namespace(void **state)
{
	static const char budget[] =
	    "cluster: {name: bank, maxConnections: 100, reservedConnections: 3}\n"
	    "roles: [{name: ledger, connectionLimit: 15, namespaces: [bank]}]\n";
	char budget_file[512], *out, *err;
	const char *argv[] = {POOLGUARD_BIN, "check", "--config", budget_file, "--namespace", "bank",
	    "tests/fixtures/public/GoogleCloudPlatform-bank-of-anthos__kubernetes-manifests__"
	    "balance-reader.yaml",
	    "tests/fixtures/public/GoogleCloudPlatform-bank-of-anthos__kubernetes-manifests__"
	    "ledger-db.yaml", NULL};

	(void)state;
	snprintf(budget_file, sizeof(budget_file), "%s/bank.yaml", dir);
	harness_write(budget_file, budget);
	/* balance-reader has no replicas (1) and no pool variable (10); ledger-db is a
	 * StatefulSet with 1 replica: 20 of 15 in namespace bank, taken from --namespace. */
	assert_int_equal(harness_run(argv, NULL, &out, &err), 1);
	assert_contains(out, "bank/balancereader           1        10           10");
	assert_contains(out, "bank/ledger-db (sts)");
	assert_contains(out, "ledger   (total)                                            20              15   "
	    "133%        -5  [###################!]");
	free(out);
	free(err);
}

static void
test_check_sample_and_stdin(void **state)
{
	char *out, *err;
	const char *argv[] = {POOLGUARD_BIN, "check", "--config", "manifests/budget-configmap.yaml",
	    "-", NULL};

	(void)state;
	assert_int_equal(harness_run(argv, "manifests/examples/inventory.yaml", &out, &err), 0);
	assert_contains(out, "synergyflow/api");
	assert_contains(out, "synergyflow/worker");
	assert_contains(out, "gitlab_app       (external)");
	assert_contains(out, "2 workloads: 0 denied");
	free(out);
	free(err);
}

static void
test_check_formats(void **state)
{
	char *out, *err;
	const char *json[] = {POOLGUARD_BIN, "check", "--config", worked_budget, "-o", "json",
	    "tests/fixtures/kubectl/deploy-api-11x20.json", NULL};
	const char *junit[] = {POOLGUARD_BIN, "check", "--config", worked_budget, "--output",
	    "junit", "tests/fixtures/kubectl/deploy-api-11x20.json", NULL};
	const char *warn[] = {POOLGUARD_BIN, "check", "--config", worked_budget,
	    "tests/fixtures/kubectl/deploy-api-10x18.json", NULL};
	const char *warn_fail[] = {POOLGUARD_BIN, "check", "--config", worked_budget,
	    "--warnings-as-errors", "-o", "junit", "tests/fixtures/kubectl/deploy-api-10x18.json",
	    NULL};
	const char *bad[] = {POOLGUARD_BIN, "check", "--config", worked_budget, "-o", "yaml",
	    "tests/fixtures/kubectl/deploy-api-10x18.json", NULL};

	(void)state;
	assert_int_equal(harness_run(json, NULL, &out, &err), 1);
	assert_contains(out, "\"name\":\t\"synergyflow_app\",\n\t\t\t\"connections\":\t220,\n"
	    "\t\t\t\"limit\":\t200,\n\t\t\t\"usedPercent\":\t110,\n\t\t\t\"headroom\":\t-20");
	assert_contains(out, "\"verdict\":\t\"deny\"");
	assert_contains(out, "\"denied\":\t1");
	free(out);
	free(err);
	assert_int_equal(harness_run(junit, NULL, &out, &err), 1);
	assert_contains(out, "<testsuites tests=\"1\" failures=\"1\">");
	assert_contains(out, "<testcase classname=\"poolguard.synergyflow_app\" "
	    "name=\"deployment synergyflow/api\">");
	assert_contains(out, "<failure message=\"poolguard: deployment synergyflow/api would hold 11 "
	    "replicas x pool 20 = 220 connections; role &apos;synergyflow_app&apos; would use 220");
	free(out);
	free(err);
	/* Warnings pass, unless they are errors. */
	assert_int_equal(harness_run(warn, NULL, &out, &err), 0);
	free(out);
	free(err);
	assert_int_equal(harness_run(warn_fail, NULL, &out, &err), 1);
	assert_contains(out, "failures=\"1\"");
	assert_contains(out, "<system-out>Warning: role &apos;synergyflow_app&apos; at 180 of 200");
	free(out);
	free(err);
	assert_int_equal(harness_run(bad, NULL, &out, &err), 2);
	assert_contains(err, "-o 'yaml': expected text, json or junit");
	free(out);
	free(err);
}

static void
test_check_bad_input(void **state)
{
	char path[512], manifest[2048], *out, *err;
	const char *argv[] = {POOLGUARD_BIN, "check", "--config", worked_budget, path, NULL};
	const char *none[] = {POOLGUARD_BIN, "check", "--config", worked_budget, NULL};
	const char *bad_config[] = {POOLGUARD_BIN, "check", "--config", path,
	    "manifests/examples/inventory.yaml", NULL};

	(void)state;
	snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	harness_deployment_yaml(manifest, sizeof(manifest), "api", 3, "lots");
	harness_write(path, manifest);
	assert_int_equal(harness_run(argv, NULL, &out, &err), 2);
	assert_contains(err, "bad.yaml (document 1): deployment synergyflow/api: container 'app' env "
	    "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE: value 'lots' is not a positive integer string");
	free(out);
	free(err);
	harness_write(path, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x\n");
	assert_int_equal(harness_run(argv, NULL, &out, &err), 2);
	assert_contains(err, "bad.yaml:4: invalid YAML");
	free(out);
	free(err);
	assert_int_equal(harness_run(none, NULL, &out, &err), 2);
	assert_contains(err, "check needs at least one manifest path");
	free(out);
	free(err);
	harness_write(path, "cluster: {maxConnections: 100}\nroles:\n  - name: a\n"
	    "    connectionLimit: \"50\"\n");
	assert_int_equal(harness_run(bad_config, NULL, &out, &err), 2);
	assert_contains(err, "bad.yaml:4: roles[0].connectionLimit: must be an integer, got the "
	    "string \"50\"");
	free(out);
	free(err);
}

/*
 * Regression (BUG-4 of the 2026-12-03 robustness report): `check` counted
 * files that kubectl applies differently as "within budget", exit 0. The
 * report's inputs, each 1000 connections of 200 as kubectl applies them:
 * merge keys in spec and in env, !!binary apiVersion and env name, kind
 * DeploymentList. JSON with a key given twice (kubectl keeps the last, cJSON
 * the first) is refused, as a YAML key given twice is.
 */
static void
test_check_kubectl_decoding(void **state)
{
	static const char head[] = "apiVersion: apps/v1\nkind: Deployment\n"
	    "metadata: {name: api, namespace: synergyflow, labels: "
	    "{app.kubernetes.io/part-of: synergyflow}}\n";
	static const char pool20[] = "        - {name: api, image: x, env: [{name: "
	    "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE, value: \"20\"}]}\n";
	static const struct {
		const char *name;
		const char *before;	/* before head; NULL: no head */
		const char *body;
		const char *row;
	} rows[] = {
		{"merge key in spec", "", "spec:\n  <<: {replicas: 50}\n  selector: {matchLabels: "
		    "{app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n"
		    "      containers:\n%s", "synergyflow/api        50        20         1000"},
		{"merge key in env", "", "spec:\n  replicas: 10\n  template:\n    spec:\n"
		    "      containers:\n        - {name: api, image: x, env: [<<: {name: "
		    "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE, value: \"100\"}]}\n",
		    "synergyflow/api        10       100         1000"},
		{"!!binary apiVersion", NULL, "apiVersion: !!binary YXBwcy92MQ==\nkind: Deployment\n"
		    "metadata: {name: api, namespace: synergyflow, labels: "
		    "{app.kubernetes.io/part-of: synergyflow}}\nspec:\n  replicas: 50\n  template:\n"
		    "    spec:\n      containers:\n%s",
		    "synergyflow/api        50        20         1000"},
		{"!!binary env name", "", "spec:\n  replicas: 10\n  template:\n    spec:\n"
		    "      containers:\n        - {name: api, image: x, env: [{name: !!binary "
		    "U1BSSU5HX0RBVEFTT1VSQ0VfSElLQVJJX01BWElNVU1QT09MU0laRQ==, value: \"100\"}]}\n",
		    "synergyflow/api        10       100         1000"},
		{"kind DeploymentList", NULL, "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n"
		    "- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: api, namespace: "
		    "synergyflow, labels: {app.kubernetes.io/part-of: synergyflow}}\n  spec:\n"
		    "    replicas: 50\n    template:\n      spec:\n        containers:\n"
		    "        - {name: api, image: x, env: [{name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE,"
		    " value: \"20\"}]}\n", "synergyflow/api        50        20         1000"},
	};
	static const char json[] = "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	    "\"metadata\":{\"name\":\"api\",\"namespace\":\"synergyflow\",\"labels\":"
	    "{\"app.kubernetes.io/part-of\":\"synergyflow\"}},\"spec\":{\"replicas\":1,"
	    "\"replicas\":50,\"template\":{\"spec\":{\"containers\":[{\"name\":\"api\","
	    "\"image\":\"x\",\"env\":[{\"name\":\"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\","
	    "\"value\":\"20\"}]}]}}}}";
	char path[512], body[2048], text[4096], *out, *err;
	const char *argv[] = {POOLGUARD_BIN, "check", "--config", "manifests/budget-configmap.yaml",
	    path, NULL};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(body, sizeof(body), rows[i].body, pool20);
		snprintf(text, sizeof(text), "%s%s", rows[i].before ? head : "", body);
		snprintf(path, sizeof(path), "%s/kubectl-%zu.yaml", dir, i);
		harness_write(path, text);
		if (harness_run(argv, NULL, &out, &err) != 1)
			fail_msg("%s: want exit 1 (denied):\n%s%s", rows[i].name, out, err);
		print_message("%s:\n%s\n", rows[i].name, out);
		assert_contains(out, rows[i].row);
		assert_contains(out, "1 workload: 1 denied");
		free(out);
		free(err);
	}
	snprintf(path, sizeof(path), "%s/kubectl-twice.json", dir);
	harness_write(path, json);
	assert_int_equal(harness_run(argv, NULL, &out, &err), 2);
	assert_contains(err,
	    "kubectl-twice.json (document 1): key 'spec.replicas' is defined twice");
	assert_string_equal(out, "");
	free(out);
	free(err);
}

/*
 * Regression (BUG-13 of the 2026-12-03 robustness report): check looked for a
 * later copy of each workload by scanning every row after it, O(n^2): 100,000
 * Deployments (50,000 names, each twice) took 294 s, 200,000 distinct ones
 * had not finished after 900 s. A hash table makes it linear: 1.3 s here,
 * 6 s with ASan. The later copy of each name still wins, in the order of the
 * files. Under valgrind only the result is checked, on fewer workloads.
 */
static void
test_check_many_workloads(void **state)
{
	int valgrind = getenv("POOLGUARD_VALGRIND") != NULL;
	size_t names = valgrind ? 2000 : 50000, i, len = 0, cap = names * 2 * 120 + 64;
	char path[512], *text = malloc(cap), *out, *err, want[128];
	const char *argv[] = {POOLGUARD_BIN, "check", "--config", worked_budget, path, NULL};
	time_t start;
	int copy, width;

	(void)state;
	assert_non_null(text);
	for (copy = 1; copy <= 2; copy++)
		for (i = 0; i < names; i++)
			len += (size_t)snprintf(text + len, cap - len, "---\n{apiVersion: apps/v1, "
			    "kind: Deployment, metadata: {name: a%zu, namespace: synergyflow}, "
			    "spec: {replicas: %d}}\n", i, copy);
	snprintf(path, sizeof(path), "%s/many.yaml", dir);
	harness_write(path, text);
	free(text);
	start = time(NULL);
	assert_int_equal(harness_run(argv, NULL, &out, &err), 1);
	if (!valgrind && time(NULL) - start >= 60)
		fail_msg("check of %zu workloads took %ld s", names * 2, (long)(time(NULL) - start));
	snprintf(want, sizeof(want), "%zu workloads: %zu denied", names, names);
	assert_contains(out, want);
	/* The second copies (2 replicas), first name first; the widest label sets the column. */
	width = snprintf(want, sizeof(want), "synergyflow/a%zu", names - 1);
	/* PEAK: a restart runs 2 + maxSurge 1 pods. */
	snprintf(want, sizeof(want), "synergyflow_app  %-*s  %8d  %8d  %11d  %6d\n"
	    "synergyflow_app  %-*s  %8d  %8d  %11d  %6d\n", width, "synergyflow/a0", 2, 10, 20, 30,
	    width, "synergyflow/a1", 2, 10, 20, 30);
	assert_contains(out, want);
	snprintf(want, sizeof(want), "synergyflow_app  %-*s  %8s  %8s  %11zu", width, "(total)", "",
	    "", names * 20);
	assert_contains(out, want);
	free(out);
	free(err);
}

/* 1 if s holds a C0 control character other than newline, DEL, or a UTF-8 C1 one. */
static int
has_control(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f ||
		    (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return 1;
	return 0;
}

/*
 * Regression (BUG-15 of the 2026-12-03 robustness report): check printed
 * ESC, CR and BEL from manifests raw, in error lines
 * ("deployment synergyflow/a^[[31mred^M") and in the table, so a manifest
 * could colour a CI log, rewrite a line or forge one with a newline. Every
 * text line and every error message now shows them as '?'.
 */
static void
test_check_control_characters(void **state)
{
	/* YAML double quotes: \e ESC, \r CR, \a BEL, \n newline, \x9b the C1 CSI. */
	static const char deploy[] = "apiVersion: apps/v1\nkind: Deployment\n"
	    "metadata: {name: \"a\\e[31mred\\r\\a\", namespace: synergyflow}\n"
	    "spec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n"
	    "        - name: \"c\\e]0;title\\a\\n0 workloads: 0 denied\\x9b2J\"\n"
	    "          env: [{name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE, value: \"%s\"}]\n";
	static const char budget[] =
	    "cluster: {name: \"pg\\e[2J\", maxConnections: 300, reservedConnections: 3}\n"
	    "roles: [{name: \"app\\r\", connectionLimit: 200, namespaces: [synergyflow]}]\n";
	char path[512], budget_file[512], missing[512], text[1024], *out, *err;
	const char *argv[] = {POOLGUARD_BIN, "check", "--config", budget_file, path, NULL};
	const char *gone[] = {POOLGUARD_BIN, "check", "--config", budget_file, missing, NULL};

	(void)state;
	snprintf(path, sizeof(path), "%s/control.yaml", dir);
	snprintf(budget_file, sizeof(budget_file), "%s/control-budget.yaml", dir);
	snprintf(missing, sizeof(missing), "%s/no\033[2Jsuch\r.yaml", dir);
	harness_write(budget_file, budget);
	snprintf(text, sizeof(text), deploy, "20");
	harness_write(path, text);
	assert_int_equal(harness_run(argv, NULL, &out, &err), 0);
	print_message("%s", out);
	if (has_control(out))
		fail_msg("control characters in the table:\n%s", out);
	assert_contains(out, "app?     synergyflow/a?[31mred??         2        20           40      60\n");
	assert_contains(out, "CLUSTER  pg?[2J");
	free(out);
	free(err);
	/* The container name reaches the error line, with its forged second line. */
	snprintf(text, sizeof(text), deploy, "lots");
	harness_write(path, text);
	assert_int_equal(harness_run(argv, NULL, &out, &err), 2);
	if (has_control(err) || strchr(err, '\n') != strrchr(err, '\n'))
		fail_msg("control characters in the error:\n%s", err);
	assert_contains(err, "control.yaml (document 1): deployment synergyflow/a?[31mred??: "
	    "container 'c?]0;title??0 workloads: 0 denied??2J' env");
	free(out);
	free(err);
	/* A file name from the command line. */
	assert_int_equal(harness_run(gone, NULL, &out, &err), 2);
	if (has_control(err))
		fail_msg("control characters in the error:\n%s", err);
	assert_contains(err, "no?[2Jsuch?.yaml'");
	free(out);
	free(err);
}

static void
test_usage(void **state)
{
	const char *version[] = {POOLGUARD_BIN, "version", NULL};
	const char *unknown[] = {POOLGUARD_BIN, "frobnicate", NULL};
	const char *bad_option[] = {POOLGUARD_BIN, "check", "--config", worked_budget, "--bogus",
	    NULL};
	char *out, *err;

	(void)state;
	assert_int_equal(harness_run(version, NULL, &out, &err), 0);
	assert_contains(out, "poolguard ");
	free(out);
	free(err);
	assert_int_equal(harness_run(unknown, NULL, &out, &err), 2);
	assert_contains(err, "unknown command 'frobnicate'");
	free(out);
	free(err);
	assert_int_equal(harness_run(bad_option, NULL, &out, &err), 2);
	assert_contains(err, "usage:");
	free(out);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_review_worked_numbers),
		cmocka_unit_test(test_review_stdin_inventory_and_bare),
		cmocka_unit_test(test_review_bad_input),
		cmocka_unit_test(test_check_worked_numbers),
		cmocka_unit_test(test_check_table),
		cmocka_unit_test(test_check_kubectl_objects),
		cmocka_unit_test(test_check_configmap_and_hpa),
		cmocka_unit_test(test_check_pooled_budget),
		cmocka_unit_test(test_check_public_manifests_and_namespace),
		cmocka_unit_test(test_check_sample_and_stdin),
		cmocka_unit_test(test_check_formats),
		cmocka_unit_test(test_check_bad_input),
		cmocka_unit_test(test_check_kubectl_decoding),
		cmocka_unit_test(test_check_many_workloads),
		cmocka_unit_test(test_check_control_characters),
		cmocka_unit_test(test_usage),
	};

	return cmocka_run_group_tests_name("cli", tests, group_setup, group_teardown);
}
