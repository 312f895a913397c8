/*
 * fuzz_review.c - libFuzzer target: the bytes are an AdmissionReview body
 * answered by webhook_review(), the path behind POST /validate and
 * `poolguard review`.
 *
 * The budget is parsed and the inventory built once, into the snapshot the
 * webhook judges against. Admitted increases are held as reservations, as in
 * the server; after every input they are all expired again, so no run depends
 * on the ones before it (and one that leaves a reservation behind after that
 * is a bug). The low bit of the first byte chooses allow_bare without
 * consuming it: '{' (odd) accepts a bare AdmissionRequest as the review
 * command does, a leading space or newline (even) is as strict as the server.
 * Seeds stay plain JSON files that way. The low bit of the last byte picks
 * pretty printing.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "poolguard/config.h"
#include "poolguard/error.h"
#include "poolguard/inventory.h"
#include "poolguard/log.h"
#include "poolguard/snapshot.h"
#include "poolguard/webhook.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two managed roles, one that manages nothing, HPAs counted, two pool variables. */
static const char fuzz_budget[] =
    "cluster:\n"
    "  name: shared-postgres\n"
    "  maxConnections: 300\n"
    "  reservedConnections: 3\n"
    "warnPercent: 80\n"
    "enforcement: deny\n"
    "defaultPoolSize: 10\n"
    "countHpaMaxReplicas: true\n"
    "poolSizeVariables:\n"
    "  - SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\n"
    "  - SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE\n"
    "roles:\n"
    "  - name: synergyflow_app\n"
    "    connectionLimit: 200\n"
    "    namespaces: [synergyflow]\n"
    "    selector:\n"
    "      matchLabels: {app.kubernetes.io/part-of: synergyflow}\n"
    "      matchExpressions:\n"
    "        - {key: tier, operator: NotIn, values: [batch]}\n"
    "  - name: shop_app\n"
    "    connectionLimit: 50\n"
    "    namespaces: [shop, default]\n"
    "    externalConnections: 5\n"
    "  - name: gitlab_app\n"
    "    connectionLimit: 60\n"
    "    externalConnections: 40\n";

/* A workload whose pool size comes from a ConfigMap, so a ConfigMap change re-resolves it. */
static const char fuzz_configmap_workload[] =
    "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\","
    " \"metadata\": {\"name\": \"cm-api\", \"namespace\": \"synergyflow\","
    "  \"labels\": {\"app.kubernetes.io/part-of\": \"synergyflow\"}},"
    " \"spec\": {\"replicas\": 2, \"template\": {\"spec\": {\"containers\": [{\"name\": \"c\","
    "  \"env\": [{\"name\": \"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\", \"valueFrom\":"
    "   {\"configMapKeyRef\": {\"name\": \"pool-config\","
    "    \"key\": \"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\"}}}],"
    "  \"envFrom\": [{\"configMapRef\": {\"name\": \"env-config\"}}]}]}}}}";

/* Lives as long as the process: the snapshot in force, budget and inventory. */
static struct snapshot_holder fuzz_holder;

/* The state judged against: what manifests/examples/inventory.yaml holds, and some more. */
static struct inventory *
fuzz_inventory(const struct config *cfg)
{
	struct inventory *inv = inventory_new(cfg);
	cJSON *pool_data, *workload;
	struct pg_error err;

	pool_data = cJSON_Parse("{\"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\": \"12\"}");
	workload = cJSON_Parse(fuzz_configmap_workload);
	if (inv == NULL || pool_data == NULL || workload == NULL)
		abort();
	if (inventory_put_configmap(inv, "synergyflow", "pool-config", pool_data) ||
	    inventory_put_hpa(inv, "synergyflow", "worker", WORKLOAD_DEPLOYMENT, "worker", 6) ||
	    inventory_put(inv, WORKLOAD_DEPLOYMENT, "synergyflow", "api", 0, 3, 20) ||
	    inventory_put(inv, WORKLOAD_DEPLOYMENT, "synergyflow", "worker", 0, 2, 10) ||
	    inventory_put(inv, WORKLOAD_STATEFULSET, "synergyflow", "db-sync", 0, 1, 5) ||
	    inventory_put(inv, WORKLOAD_DEPLOYMENT, "shop", "cart", 1, 4, 10) ||
	    inventory_put(inv, WORKLOAD_DEPLOYMENT, "default", "nginx-deployment", 1, 1, 10) ||
	    inventory_put(inv, WORKLOAD_DEPLOYMENT, "elsewhere", "free", -1, 7, 10) ||
	    inventory_add_object(inv, workload, "default", &err))
		abort();
	cJSON_Delete(pool_data);
	cJSON_Delete(workload);
	return inv;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct config *cfg;
	struct snapshot *snap;
	struct pg_error err;

	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	if (config_parse(fuzz_budget, strlen(fuzz_budget), "fuzz-budget.yaml", 0, &cfg,
	    &err) != PG_OK)
		abort();
	if ((snap = snapshot_new(cfg, fuzz_inventory(cfg))) == NULL)
		abort();
	snapshot_holder_init(&fuzz_holder, snap);
	return 0;
}

/* Ends every reservation the input left, so the inventory is as Initialize built it. */
static void
fuzz_forget_reservations(void)
{
	struct snapshot *snap = snapshot_holder_get(&fuzz_holder);
	struct snapshot_usage usage;
	long role_usage[16];

	memset(&usage, 0, sizeof(usage));
	usage.role_usage = role_usage;
	if (snapshot_config(snap)->role_count > 16)
		abort();
	snapshot_usage(snap, HUGE_VAL, &usage);
	if (usage.reservations != 0)
		abort();
	snapshot_release(snap);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct webhook wh;
	struct pg_error err;
	char *response = NULL;

	memset(&wh, 0, sizeof(wh));
	wh.holder = &fuzz_holder;
	wh.unsynced_allow = 0;
	wh.reservation_seconds = 30;
	wh.allow_bare = size > 0 && (data[0] & 1);
	wh.pretty = size > 1 && (data[size - 1] & 1);
	if (webhook_review(&wh, (const char *)data, size, &response, &err) == PG_OK) {
		if (response == NULL)
			abort();	/* success promises a response */
	} else if (response != NULL || memchr(err.msg, '\0', sizeof(err.msg)) == NULL) {
		abort();	/* failure allocates nothing and leaves a message */
	}
	free(response);
	fuzz_forget_reservations();
	return 0;
}
