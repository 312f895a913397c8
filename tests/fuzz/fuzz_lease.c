/*
 * fuzz_lease.c - libFuzzer target: the bytes are a Lease as a GET of the API
 * server returns it, read by lease_decode(). Anyone with update rights on the
 * Lease can write its annotation, so whatever it holds must be refused
 * cleanly or read whole. What decodes is pruned, encoded the way poolguard
 * writes it and decoded again: the second reading must equal the first.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "poolguard/lease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lease_state first, second;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pg_error err;
	const struct lease_entry *a, *b;
	char *json;
	size_t i;

	if (lease_decode((const char *)data, size, &first, &err) != PG_OK) {
		if (first.count != 0 || strlen(err.msg) == 0)
			abort();	/* a refusal keeps no entries and says why */
		return 0;
	}
	lease_prune(&first, 1796306400.0);
	if ((json = lease_encode(&first, "poolguard-system", "poolguard-reservations", "fuzz",
	    1796306400.0)) == NULL)
		return 0;
	if (lease_decode(json, strlen(json), &second, &err) != PG_OK ||
	    second.count != first.count ||
	    strcmp(second.resource_version, first.resource_version) != 0)
		abort();
	for (i = 0; i < first.count; i++) {
		a = &first.entries[i];
		b = &second.entries[i];
		/* expires is written to the millisecond */
		if (a->kind != b->kind || strcmp(a->namespace, b->namespace) != 0 ||
		    strcmp(a->name, b->name) != 0 || strcmp(a->role, b->role) != 0 ||
		    strcmp(a->replica, b->replica) != 0 || a->connections != b->connections ||
		    a->generation != b->generation ||
		    b->expires > a->expires || a->expires - b->expires > 0.001)
			abort();
	}
	free(json);
	return 0;
}
