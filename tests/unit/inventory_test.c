/*
 * inventory_test.c - per-role sums, HPA ceilings, ConfigMap references and
 * reservations.
 */
#include "unit/testutil.h"

#include "poolguard/inventory.h"
#include "poolguard/log.h"
#include "poolguard/manifest.h"

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
	struct inventory_facts facts;

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
	assert_int_equal(inventory_lookup(inv, WORKLOAD_DEPLOYMENT, "shop", "api", &facts), 0);
	assert_int_equal(facts.reservations, 0);
	inventory_free(inv);
	config_free(cfg);
}

static void
test_hpa_ceiling(void **state)
{
	struct config *cfg = test_config(budget_text);
	struct inventory *inv = inventory_new(cfg);
	const long *usage = inventory_role_usage(inv);
	struct inventory_facts facts;

	(void)state;
	/* The HPA may arrive before its workload. */
	assert_int_equal(inventory_put_hpa(inv, "shop", "api-hpa", WORKLOAD_DEPLOYMENT, "api", 8),
	    0);
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 3, 20), 0);
	assert_int_equal(usage[0], 160);
	assert_int_equal(inventory_lookup(inv, WORKLOAD_DEPLOYMENT, "shop", "api", &facts), 1);
	assert_int_equal(facts.pods, 8);
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
	/* Two ConfigMaps: "other" without the key (a missing one could set anything). */
	static const char spring_map[] = "apiVersion: v1\nkind: ConfigMap\n"
	    "metadata: {name: spring, namespace: shop}\n"
	    "data: {DATASOURCE_HIKARI_MAXIMUMPOOLSIZE: \"7\", unrelated: \"x\"}\n---\n"
	    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: shop}\n"
	    "data: {unrelated: \"y\"}\n";
	struct config *cfg = test_config(budget_text);
	struct inventory *inv = inventory_new(cfg);
	const long *usage = inventory_role_usage(inv);
	struct inventory_facts facts;
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
	assert_int_equal(inventory_lookup(inv, WORKLOAD_DEPLOYMENT, "shop", "api", &facts), 1);
	assert_true(facts.pool_unknown);

	/* envFrom with a prefix; the later source wins, a source without the key is skipped. */
	snprintf(both, sizeof(both), "%s---\n%s", env_from, spring_map);
	assert_int_equal(load(inv, both), 0);
	assert_int_equal(usage[0], 21);
	assert_int_equal(inventory_lookup(inv, WORKLOAD_DEPLOYMENT, "shop", "api", &facts), 1);
	assert_false(facts.pool_unknown);
	inventory_free(inv);
	config_free(cfg);
}

static void
test_reservations(void **state)
{
	struct config *cfg = test_config(budget_text);
	struct inventory *inv = inventory_new(cfg);
	const long *usage = inventory_role_usage(inv);
	struct inventory_facts facts;

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
	assert_int_equal(inventory_lookup(inv, WORKLOAD_DEPLOYMENT, "shop", "new", &facts), 0);
	assert_int_equal(facts.reservations, 0);
	inventory_free(inv);
	config_free(cfg);
}

/*
 * Two scale-ups admitted before the watch shows either, the first stored, then
 * a third admitted: the third takes the slot the first left, and must not
 * take away what that one held (it once subtracted it again: 20 too few).
 */
static void
test_reservation_slot_reused(void **state)
{
	struct config *cfg = test_config(budget_text);
	struct inventory *inv = inventory_new(cfg);
	const long *usage = inventory_role_usage(inv);

	(void)state;
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 2, 20), 0);
	assert_int_equal(inventory_reserve(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 60, 10.0),
	    0);
	assert_int_equal(inventory_reserve(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 80, 10.0),
	    0);
	assert_int_equal(usage[0], 80);
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 3, 20), 0);
	assert_int_equal(inventory_reservations(inv), 1);
	assert_int_equal(usage[0], 80);
	assert_int_equal(inventory_reserve(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 100, 10.0),
	    0);
	assert_int_equal(usage[0], 100);
	inventory_expire(inv, 10.0);
	assert_int_equal(usage[0], 60);
	inventory_free(inv);
	config_free(cfg);
}

/*
 * Shared reservations are read from the Lease again at every increase: the
 * same hold again extends the one there, one the stored state shows is not
 * kept, and the sums stay what one hold of each would make them.
 */
static void
test_reservations_read_again(void **state)
{
	struct config *cfg = test_config(budget_text);
	struct inventory *inv = inventory_new(cfg);
	const long *usage = inventory_role_usage(inv);
	struct inventory_facts facts;
	int i;

	(void)state;
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 3, 20), 0);
	for (i = 0; i < 20; i++)
		assert_int_equal(inventory_reserve(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 100,
		    10.0 + i), 0);
	assert_int_equal(inventory_reservations(inv), 1);
	assert_int_equal(usage[0], 100);
	inventory_expire(inv, 28.0);		/* the last read said 29 */
	assert_int_equal(usage[0], 100);
	/* Stored: the hold ends; read again from the Lease, it is not taken back. */
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 5, 20), 0);
	assert_int_equal(inventory_reservations(inv), 0);
	assert_int_equal(inventory_reserve(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 100, 40.0),
	    0);
	assert_int_equal(inventory_reservations(inv), 0);
	assert_int_equal(usage[0], 100);
	/* A later raise stored; the old entry read again adds nothing above it. */
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 8, 20), 0);
	assert_int_equal(inventory_reserve(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 100, 40.0),
	    0);
	assert_int_equal(usage[0], 160);
	/* Scaled down meanwhile: the entry holds its 100 until it ends, never less than stored. */
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 2, 20), 0);
	assert_int_equal(usage[0], 100);
	assert_int_equal(inventory_lookup(inv, WORKLOAD_DEPLOYMENT, "shop", "api", &facts), 1);
	assert_int_equal(facts.reservations, 1);
	inventory_expire(inv, 40.0);
	assert_int_equal(usage[0], 40);
	/* Up and down around a reservation, and it ends: the sum is the stored state again. */
	for (i = 0; i < 10; i++) {
		assert_int_equal(inventory_reserve(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0,
		    20 * (i % 4 + 1), 50.0), 0);
		assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, i % 3,
		    20), 0);
		assert_true(usage[0] >= 0);
	}
	inventory_expire(inv, 50.0);
	assert_int_equal(usage[0], 20 * (9 % 3));
	inventory_free(inv);
	config_free(cfg);
}

/*
 * An entry of the shared Lease is read again at every increase, for as long
 * as it stays there: once this inventory has seen it stored, a scale-down
 * afterwards is counted as it is, not at the entry's raise.
 */
static void
test_shared_entry_settled(void **state)
{
	struct config *cfg = test_config(budget_text);
	struct inventory *inv = inventory_new(cfg);
	const long *usage = inventory_role_usage(inv);

	(void)state;
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 3, 20), 0);
	/* Another replica's raise to 5, read from the Lease: held. */
	assert_int_equal(inventory_reserve_shared(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 100, 0,
	    30.0), 0);
	assert_int_equal(usage[0], 100);
	/* Stored, then scaled down to 1: the entry, read again (its end moved a little), is not held. */
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 5, 20), 0);
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 1, 20), 0);
	assert_int_equal(inventory_reserve_shared(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 100, 0,
	    30.004), 0);
	assert_int_equal(usage[0], 20);
	assert_int_equal(inventory_reservations(inv), 0);
	/* A new raise to the same size (another end) is another admission: held. */
	assert_int_equal(inventory_reserve_shared(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 100, 0,
	    31.0), 0);
	assert_int_equal(usage[0], 100);

	/* First read when it is stored already: remembered, so a scale-down does not revive it. */
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "web", 0, 2, 10), 0);
	assert_int_equal(inventory_reserve_shared(inv, WORKLOAD_DEPLOYMENT, "shop", "web", 0, 20, 0,
	    40.0), 0);
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "web", 0, 0, 10), 0);
	assert_int_equal(inventory_reserve_shared(inv, WORKLOAD_DEPLOYMENT, "shop", "web", 0, 20, 0,
	    40.0), 0);
	assert_int_equal(usage[0], 100);

	/* A local reservation settled is remembered too: its own entry read back is not held. */
	assert_int_equal(inventory_reserve(inv, WORKLOAD_DEPLOYMENT, "shop", "web", 0, 30, 50.0),
	    0);
	assert_int_equal(usage[0], 130);
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "web", 0, 3, 10), 0);
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "web", 0, 1, 10), 0);
	assert_int_equal(inventory_reserve_shared(inv, WORKLOAD_DEPLOYMENT, "shop", "web", 0, 30, 0,
	    49.999), 0);
	assert_int_equal(usage[0], 110);

	/* Created (an entry read when it was stored), then deleted: read again, not held. */
	assert_int_equal(inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "gone", 0, 1, 10), 0);
	assert_int_equal(inventory_reserve_shared(inv, WORKLOAD_DEPLOYMENT, "shop", "gone", 0, 10,
	    0, 60.0), 0);
	inventory_remove(inv, WORKLOAD_DEPLOYMENT, "shop", "gone");
	assert_int_equal(inventory_reserve_shared(inv, WORKLOAD_DEPLOYMENT, "shop", "gone", 0, 10,
	    0, 60.0), 0);
	assert_int_equal(usage[0], 110);
	/* Once that end has passed, what was remembered goes, and the entry with it. */
	inventory_expire(inv, 61.0);
	assert_int_equal(inventory_count(inv), 2);
	inventory_free(inv);
	config_free(cfg);
}

/*
 * An update admitted on a workload at generation 4 is stored at 5: a stored
 * generation of 5 or more ends its hold whatever the connections (the change,
 * or a later one judged on its own, is stored), and a shared entry saying so
 * is not held at all.
 */
static void
test_reservation_generation(void **state)
{
	struct config *cfg = test_config(budget_text);
	struct inventory *inv = inventory_new(cfg);
	const long *usage = inventory_role_usage(inv);
	struct inventory_facts facts;
	struct workload w;

	(void)state;
	memset(&w, 0, sizeof(w));
	w.kind = WORKLOAD_DEPLOYMENT;
	w.namespace = "shop";
	w.name = "api";
	w.replicas = 3;
	w.pool_per_pod = 20;
	w.generation = 4;
	w.resource_version = "1001";
	assert_int_equal(inventory_put_workload(inv, &w, 0), 0);
	assert_int_equal(inventory_lookup(inv, WORKLOAD_DEPLOYMENT, "shop", "api", &facts), 1);
	assert_int_equal(facts.generation, 4);
	assert_string_equal(facts.resource_version, "1001");
	assert_int_equal(inventory_reserve_generation(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0,
	    100, 5, 30.0), 0);
	assert_int_equal(usage[0], 100);
	/* A status update (same generation, new resourceVersion) does not end it. */
	w.resource_version = "1002";
	assert_int_equal(inventory_put_workload(inv, &w, 0), 0);
	assert_int_equal(usage[0], 100);
	/* Generation 6 at 2 replicas: a later change stored; the hold ends, 40 counted. */
	w.generation = 6;
	w.replicas = 2;
	assert_int_equal(inventory_put_workload(inv, &w, 0), 0);
	assert_int_equal(inventory_reservations(inv), 0);
	assert_int_equal(usage[0], 40);
	/* Read again from the Lease, with another end: not held. */
	assert_int_equal(inventory_reserve_shared(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 100,
	    5, 31.0), 0);
	assert_int_equal(usage[0], 40);
	/* An entry for generation 7, not stored yet: held. */
	assert_int_equal(inventory_reserve_shared(inv, WORKLOAD_DEPLOYMENT, "shop", "api", 0, 100,
	    7, 31.0), 0);
	assert_int_equal(usage[0], 100);
	inventory_free(inv);
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
		cmocka_unit_test(test_reservation_slot_reused),
		cmocka_unit_test(test_reservations_read_again),
		cmocka_unit_test(test_shared_entry_settled),
		cmocka_unit_test(test_reservation_generation),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests_name("inventory", tests, NULL, NULL);
}
