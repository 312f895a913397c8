/*
 * inventory_test.c - per-role sums, HPA ceilings, ConfigMap references,
 * reservations, and the cost of an admission as the inventory grows.
 */
#include <time.h>

#include "unit/testutil.h"

#include "poolguard/admission.h"
#include "poolguard/inventory.h"
#include "poolguard/log.h"
#include "poolguard/manifest.h"
#include "poolguard/webhook.h"

static const char budget_text[] =
    "cluster: {name: pg, maxConnections: 300, reservedConnections: 3}\n"
    "roles:\n"
    "  - {name: app, connectionLimit: 200, namespaces: [shop]}\n"
    "  - {name: other, connectionLimit: 50, namespaces: [misc]}\n";

static void
test_sums(void **state)
{
	struct config *cfg = test_config(budget_text);
	struct inventory *inv = inventory_new(cfg);
	const long *usage = inventory_role_usage(inv);

	(void)state;
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 3, 20), 0);
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "worker", 0, 2, 10), 0);
	assert_int_equal(inventory_put(inv, WORKLOAD_STATEFULSET, "shop", "api", 0, 1, 5), 0);
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "misc", "x", 1, 4, 10), 0);
	assert_int_equal(usage[0], 60 + 20 + 5);
	assert_int_equal(usage[1], 40);
	assert_int_equal(inventory_count(inv), 4);
	/* Replacing an entry moves its contribution, also between roles. */
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 5, 20), 0);
	assert_int_equal(usage[0], 100 + 20 + 5);
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "worker", 1, 2, 10), 0);
	assert_int_equal(usage[0], 105);
	assert_int_equal(usage[1], 60);
	inventory_remove(inv, WORKLOAD_DEPLOYMENT, "shop", "api");
	inventory_remove(inv, WORKLOAD_DEPLOYMENT, "shop", "nothing");
	assert_int_equal(usage[0], 5);
	assert_int_equal(inventory_count(inv), 3);
	assert_null(inventory_get(inv, WORKLOAD_DEPLOYMENT, "shop", "api"));
	inventory_free(inv);
	config_free(cfg);
}

static void
test_hpa_ceiling(void **state)
{
	struct config *cfg = test_config(budget_text);
	struct inventory *inv = inventory_new(cfg);
	const long *usage = inventory_role_usage(inv);

	(void)state;
	/* The HPA may arrive before its workload. */
	assert_int_equal(inventory_put_hpa(inv, "shop", "api-hpa", WORKLOAD_DEPLOYMENT, "api", 8),
	    0);
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 3, 20), 0);
	assert_int_equal(usage[0], 160);
	assert_int_equal(inventory_entry_pods(inventory_get(inv, WORKLOAD_DEPLOYMENT, "shop",
	    "api")), 8);
	assert_int_equal(inventory_put_hpa(inv, "shop", "api-hpa", WORKLOAD_DEPLOYMENT, "api", 5),
	    0);
	assert_int_equal(usage[0], 100);
	inventory_remove_hpa(inv, "shop", "api-hpa");
	assert_int_equal(usage[0], 60);
	inventory_free(inv);
	config_free(cfg);

	/* countHpaMaxReplicas: false ignores autoscalers. */
	cfg = test_config("cluster: {maxConnections: 300}\ncountHpaMaxReplicas: false\n"
	    "roles: [{name: app, connectionLimit: 200, namespaces: [shop]}]\n");
	inv = inventory_new(cfg);
	usage = inventory_role_usage(inv);
	assert_int_equal(inventory_put_hpa(inv, "shop", "h", WORKLOAD_DEPLOYMENT, "api", 8), 0);
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 3, 20), 0);
	assert_int_equal(usage[0], 60);
	inventory_free(inv);
	config_free(cfg);
}

static int
load(struct inventory *inv, const char *yaml)
{
	struct manifest_set set;
	struct pg_error err;
	int result;

	manifest_set_init(&set);
	assert_int_equal(manifest_load_text(&set, yaml, strlen(yaml), "test", &err), 0);
	result = inventory_add_manifests(inv, &set, "shop", &err);
	if (result)
		print_message("%s\n", err.msg);
	manifest_set_release(&set);
	return result;
}

#define DEPLOY_HEAD \
	"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\n" \
	"spec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n        - name: app\n"

static void
test_configmap_references(void **state)
{
	static const char key_ref[] = DEPLOY_HEAD
	    "          env:\n"
	    "            - name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\n"
	    "              valueFrom: {configMapKeyRef: {name: pool, key: size}}\n";
	static const char env_from[] = DEPLOY_HEAD
	    "          envFrom:\n"
	    "            - configMapRef: {name: other}\n"
	    "            - prefix: SPRING_\n"
	    "              configMapRef: {name: spring}\n";
	static const char pool_map[] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pool}\n"
	    "data: {size: \"12\"}\n";
	static const char spring_map[] = "apiVersion: v1\nkind: ConfigMap\n"
	    "metadata: {name: spring, namespace: shop}\n"
	    "data: {DATASOURCE_HIKARI_MAXIMUMPOOLSIZE: \"7\", unrelated: \"x\"}\n";
	struct config *cfg = test_config(budget_text);
	struct inventory *inv = inventory_new(cfg);
	const long *usage = inventory_role_usage(inv);
	const struct inventory_entry *e;
	cJSON *data;
	char both[1024];

	(void)state;
	/* The workload comes first in the file: ConfigMaps are read first anyway. */
	snprintf(both, sizeof(both), "%s---\n%s", key_ref, pool_map);
	assert_int_equal(load(inv, both), 0);
	assert_int_equal(usage[0], 36);
	/* The ConfigMap changes: the workload's pool follows. */
	data = cJSON_Parse("{\"size\": \"20\"}");
	assert_int_equal(inventory_put_configmap(inv, "shop", "pool", data), 0);
	cJSON_Delete(data);
	assert_int_equal(usage[0], 60);
	/* It goes away: defaultPoolSize, marked unknown. */
	inventory_remove_configmap(inv, "shop", "pool");
	assert_int_equal(usage[0], 30);
	e = inventory_get(inv, WORKLOAD_DEPLOYMENT, "shop", "api");
	assert_true(e->pool_unknown);

	/* envFrom with a prefix; the later source wins, a source without the key is skipped. */
	snprintf(both, sizeof(both), "%s---\n%s", env_from, spring_map);
	assert_int_equal(load(inv, both), 0);
	assert_int_equal(usage[0], 21);
	assert_false(inventory_get(inv, WORKLOAD_DEPLOYMENT, "shop", "api")->pool_unknown);
	inventory_free(inv);
	config_free(cfg);
}

static void
test_reservations(void **state)
{
	struct config *cfg = test_config(budget_text);
	struct inventory *inv = inventory_new(cfg);
	const long *usage = inventory_role_usage(inv);

	(void)state;
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 3, 20), 0);
	/* An admitted scale to 5 is held until the watch shows it. */
	assert_int_equal(inventory_reserve(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 100, 10.0),
	    0);
	assert_int_equal(usage[0], 100);
	assert_int_equal(inventory_reservations(inv), 1);
	/* An unrelated update (old state) does not end it... */
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 3, 20), 0);
	assert_int_equal(usage[0], 100);
	/* ...the admitted state does. */
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 5, 20), 0);
	assert_int_equal(inventory_reservations(inv), 0);
	assert_int_equal(usage[0], 100);

	/* A CREATE that is never stored: held until it expires. */
	assert_int_equal(inventory_reserve(inv, WORKLOAD_DEPLOYMENT, "shop", "new", 0, 40, 10.0),
	    0);
	assert_int_equal(usage[0], 140);
	assert_int_equal(inventory_count(inv), 1);
	inventory_expire(inv, 9.0);
	assert_int_equal(usage[0], 140);
	inventory_expire(inv, 10.0);
	assert_int_equal(usage[0], 100);
	assert_null(inventory_get(inv, WORKLOAD_DEPLOYMENT, "shop", "new"));
	inventory_free(inv);
	config_free(cfg);
}

static char *
scale_review(const char *uid, const char *name, long replicas)
{
	char *buf = malloc(1024);

	snprintf(buf, 1024, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
	    "\"request\":{\"uid\":\"%s\",\"resource\":{\"group\":\"apps\",\"version\":\"v1\","
	    "\"resource\":\"deployments\"},\"subResource\":\"scale\",\"namespace\":\"shop\","
	    "\"name\":\"%s\",\"operation\":\"UPDATE\",\"object\":{\"apiVersion\":\"autoscaling/v1\","
	    "\"kind\":\"Scale\",\"spec\":{\"replicas\":%ld}},\"dryRun\":%s}}", uid, name, replicas,
	    strcmp(uid, "dry") == 0 ? "true" : "false");
	return buf;
}

static char *
review(struct webhook *wh, char *body)
{
	struct pg_error err;
	char *response;

	assert_int_equal(webhook_review(wh, body, strlen(body), &response, &err), 0);
	free(body);
	return response;
}

static void
test_concurrent_scale_ups(void **state)
{
	struct config *cfg = test_config(budget_text);
	struct inventory *inv = inventory_new(cfg);
	struct snapshot_holder holder;
	struct webhook wh;
	char *r;

	(void)state;
	snapshot_holder_init(&holder, snapshot_new(cfg, inv));
	memset(&wh, 0, sizeof(wh));
	wh.holder = &holder;
	wh.reservation_seconds = 30;
	/* api 3 x 20 and worker 3 x 20: 120 of 200. Each scale to 6 fits alone (180), not both. */
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 3, 20), 0);
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "worker", 0, 3, 20), 0);
	/* A dry run reserves nothing. */
	r = review(&wh, scale_review("dry", "api", 6));
	assert_contains(r, "\"allowed\":true");
	free(r);
	assert_int_equal(inventory_reservations(inv), 0);
	r = review(&wh, scale_review("a", "api", 6));
	assert_contains(r, "\"allowed\":true");
	free(r);
	assert_int_equal(inventory_reservations(inv), 1);
	r = review(&wh, scale_review("b", "worker", 6));
	assert_contains(r, "\"allowed\":false");
	assert_contains(r, "role 'app' would use 240 of 200");
	free(r);
	/* Once the reservation has passed (the change was never stored), worker fits again. */
	inventory_expire(inv, 1e12);
	r = review(&wh, scale_review("c", "worker", 6));
	assert_contains(r, "\"allowed\":true");
	free(r);
	snapshot_holder_release(&holder);
}

static void
test_hpa_admission(void **state)
{
	static const char hpa[] =
	    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
	    "\"uid\":\"h\",\"resource\":{\"group\":\"autoscaling\",\"version\":\"v2\",\"resource\":"
	    "\"horizontalpodautoscalers\"},\"namespace\":\"shop\",\"name\":\"api\",\"operation\":"
	    "\"CREATE\",\"object\":{\"apiVersion\":\"autoscaling/v2\",\"kind\":"
	    "\"HorizontalPodAutoscaler\",\"metadata\":{\"name\":\"api\",\"namespace\":\"shop\"},"
	    "\"spec\":{\"scaleTargetRef\":{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	    "\"name\":\"api\"},\"minReplicas\":2,\"maxReplicas\":%d}}}}";
	struct config *cfg = test_config(budget_text);
	struct inventory *inv = inventory_new(cfg);
	struct snapshot_holder holder;
	struct webhook wh;
	char *body = malloc(2048), *r;

	(void)state;
	snapshot_holder_init(&holder, snapshot_new(cfg, inv));
	memset(&wh, 0, sizeof(wh));
	wh.holder = &holder;
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 3, 20), 0);
	snprintf(body, 2048, hpa, 11);
	r = review(&wh, body);
	assert_contains(r, "\"allowed\":false");
	assert_contains(r, "HPA-scaled deployment shop/api would hold 11 replicas x pool 20 = 220 "
	    "connections");
	free(r);
	body = malloc(2048);
	snprintf(body, 2048, hpa, 6);
	r = review(&wh, body);
	assert_contains(r, "\"allowed\":true");
	free(r);
	snapshot_holder_release(&holder);
}

static void
test_unknown_pool_deny(void **state)
{
	static const char create[] =
	    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
	    "\"uid\":\"s\",\"resource\":{\"group\":\"apps\",\"version\":\"v1\",\"resource\":"
	    "\"deployments\"},\"namespace\":\"shop\",\"name\":\"api\",\"operation\":\"CREATE\","
	    "\"object\":{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
	    "\"api\"},\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"env\":"
	    "[{\"name\":\"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\",\"valueFrom\":{\"secretKeyRef\":"
	    "{\"name\":\"db\",\"key\":\"pool\"}}}]}]}}}}}}";
	struct config *cfg = test_config("cluster: {maxConnections: 300}\nunknownPoolSize: deny\n"
	    "roles: [{name: app, connectionLimit: 200, namespaces: [shop]}]\n");
	struct snapshot_holder holder;
	struct webhook wh;
	char *r;

	(void)state;
	snapshot_holder_init(&holder, snapshot_new(cfg, inventory_new(cfg)));
	memset(&wh, 0, sizeof(wh));
	wh.holder = &holder;
	r = review(&wh, strdup(create));
	assert_contains(r, "\"allowed\":false");
	assert_contains(r, "takes it from Secret 'db' key 'pool' (unknownPoolSize: deny)");
	free(r);
	cfg = test_config(budget_text);
	snapshot_holder_swap(&holder, snapshot_new(cfg, inventory_new(cfg)));
	r = review(&wh, strdup(create));
	assert_contains(r, "\"allowed\":true");
	assert_contains(r, "pool size counted as defaultPoolSize 10");
	free(r);
	snapshot_holder_release(&holder);
}

/* Seconds for rounds admissions of one scale request against inv. */
static double
time_admissions(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, int rounds)
{
	struct timespec a, b;
	struct verdict v;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < rounds; i++)
		admission_judge(cfg, inv, req, &v, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_false(v.allowed);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void
test_cost_flat(void **state)
{
	struct config *cfg = test_config(budget_text);
	struct inventory *small = inventory_new(cfg), *large = inventory_new(cfg);
	struct review_request req;
	struct pg_error err;
	char name[64], *body = scale_review("cost", "api", 50);
	double t_small = 1e9, t_large = 1e9, t;
	long i;
	int round;

	(void)state;
	for (i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "w%ld", i);
		if (i < 100)
			assert_int_equal(inventory_put(small, WORKLOAD_DEPLOYMENT, i % 2 ? "shop" : "misc",
			    name, (int)(i % 2), 0, 10), 0);
		assert_int_equal(inventory_put(large, WORKLOAD_DEPLOYMENT, i % 2 ? "shop" : "misc",
		    name, (int)(i % 2), 0, 10), 0);
	}
	assert_int_equal(inventory_put(small, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 3, 20), 0);
	assert_int_equal(inventory_put(large, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 3, 20), 0);
	assert_int_equal(inventory_count(large), 100001);
	assert_int_equal(review_decode(body, strlen(body), 0, &req, &err), 0);
	/* The best of five runs of 20,000 admissions each, so noise does not decide. */
	for (round = 0; round < 5; round++) {
		if ((t = time_admissions(cfg, small, &req, 20000)) < t_small)
			t_small = t;
		if ((t = time_admissions(cfg, large, &req, 20000)) < t_large)
			t_large = t;
	}
	print_message("20,000 admissions: %.2f ms with 101 workloads, %.2f ms with 100,001\n",
	    t_small * 1e3, t_large * 1e3);
	/* A scan of the inventory would make this 1000 times slower, not 3. */
	assert_true(t_large < 3 * t_small);
	review_release(&req);
	free(body);
	inventory_free(small);
	inventory_free(large);
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sums),
		cmocka_unit_test(test_hpa_ceiling),
		cmocka_unit_test(test_configmap_references),
		cmocka_unit_test(test_reservations),
		cmocka_unit_test(test_concurrent_scale_ups),
		cmocka_unit_test(test_hpa_admission),
		cmocka_unit_test(test_unknown_pool_deny),
		cmocka_unit_test(test_cost_flat),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests_name("inventory", tests, NULL, NULL);
}
