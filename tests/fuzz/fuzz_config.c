/*
 * fuzz_config.c - libFuzzer target: the bytes are a budget.yaml, or a
 * ConfigMap manifest holding one, read by config_parse().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "poolguard/config.h"
#include "poolguard/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = (struct config *)1;	/* config_parse must reset it */
	struct pg_error err;
	int result;

	result = config_parse((const char *)data, size, "budget.yaml", 0, &cfg, &err);
	if (result == PG_OK) {
		if (cfg == NULL)
			abort();
	} else if (cfg != NULL || memchr(err.msg, '\0', sizeof(err.msg)) == NULL) {
		abort();	/* on failure *out is NULL and err says why */
	}
	config_free(cfg);
	return 0;
}
