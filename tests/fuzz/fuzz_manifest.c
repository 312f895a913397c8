/*
 * fuzz_manifest.c - libFuzzer target: the bytes are a manifest file (YAML with
 * many documents, JSON, kind: List) read by manifest_load_text() and added to
 * an inventory, the way --inventory and `poolguard check` read files: YAML to
 * JSON, workload parsing, HPA targets and ConfigMap references.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "poolguard/config.h"
#include "poolguard/error.h"
#include "poolguard/inventory.h"
#include "poolguard/log.h"
#include "poolguard/manifest.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Roles by namespace and by selector, so workloads land in one, another or none. */
static const char fuzz_budget[] =
    "cluster: {name: pg, maxConnections: 300, reservedConnections: 3}\n"
    "defaultPoolSize: 10\n"
    "poolSizeVariables: [SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE,"
    " SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE]\n"
    "roles:\n"
    "  - name: synergyflow_app\n"
    "    connectionLimit: 200\n"
    "    namespaces: [synergyflow]\n"
    "    selector: {matchLabels: {app.kubernetes.io/part-of: synergyflow}}\n"
    "  - name: bank\n"
    "    connectionLimit: 100\n"
    "    selector:\n"
    "      matchExpressions: [{key: app, operator: Exists}]\n"
    "  - {name: gitlab_app, connectionLimit: 60, externalConnections: 40}\n";

static struct config *fuzz_cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct pg_error err;

	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	if (config_parse(fuzz_budget, strlen(fuzz_budget), "fuzz-budget.yaml", 0, &fuzz_cfg,
	    &err) != PG_OK)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest_set set;
	struct inventory *inv;
	struct pg_error err;

	manifest_set_init(&set);
	if (manifest_load_text(&set, (const char *)data, size, "fuzz.yaml", &err) != PG_OK) {
		if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
			abort();
		manifest_set_release(&set);
		return 0;
	}
	if ((inv = inventory_new(fuzz_cfg)) == NULL)
		abort();
	if (inventory_add_manifests(inv, &set, "default", &err) != PG_OK &&
	    memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
		abort();
	inventory_free(inv);
	manifest_set_release(&set);
	return 0;
}
