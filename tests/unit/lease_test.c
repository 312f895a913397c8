/*
 * lease_test.c - the reservation Lease's encoding: a Lease as the API server
 * returns it, what poolguard writes, pruning, the cap, and every way the
 * annotation can be wrong.
 */
#include "unit/testutil.h"

#include "poolguard/lease.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* A Lease as kube-apiserver 1.31 returns it to a GET, managedFields and all. */
static const char stored_lease[] =
    "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{"
    "\"name\":\"poolguard-reservations\",\"namespace\":\"poolguard-system\","
    "\"uid\":\"0c7a5d1e-55a3-4f0e-9a51-3c1f0e8a2b11\",\"resourceVersion\":\"4711\","
    "\"creationTimestamp\":\"2026-12-03T14:02:11Z\",\"annotations\":{"
    "\"poolguard.dev/reservations\":\"{\\\"v\\\":1,\\\"entries\\\":["
    "[\\\"Deployment\\\",\\\"shop\\\",\\\"api\\\",\\\"app_shop\\\",120,1796306400.5,"
    "\\\"poolguard-7d9f-abcde\\\",7],"
    "[\\\"StatefulSet\\\",\\\"shop\\\",\\\"db-sync*1f2e\\\",\\\"app_batch\\\",30,1796306300,"
    "\\\"poolguard-7d9f-fghij\\\",0]]}\"},"
    "\"managedFields\":[{\"manager\":\"poolguard\",\"operation\":\"Update\","
    "\"apiVersion\":\"coordination.k8s.io/v1\",\"time\":\"2026-12-03T14:02:11Z\","
    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{}}}]},"
    "\"spec\":{\"holderIdentity\":\"poolguard-7d9f-abcde\","
    "\"renewTime\":\"2026-12-03T14:02:11.123456Z\"}}";

static void
test_decode_stored(void **state)
{
	static struct lease_state st;
	struct pg_error err = {""};

	(void)state;
	assert_int_equal(lease_decode(stored_lease, strlen(stored_lease), &st, &err), PG_OK);
	assert_true(st.exists);
	assert_string_equal(st.resource_version, "4711");
	assert_int_equal(st.count, 2);
	assert_int_equal(st.entries[0].kind, WORKLOAD_DEPLOYMENT);
	assert_string_equal(st.entries[0].namespace, "shop");
	assert_string_equal(st.entries[0].name, "api");
	assert_string_equal(st.entries[0].role, "app_shop");
	assert_int_equal(st.entries[0].connections, 120);
	assert_true(st.entries[0].expires == 1796306400.5);
	assert_string_equal(st.entries[0].replica, "poolguard-7d9f-abcde");
	assert_int_equal(st.entries[0].generation, 7);
	assert_int_equal(st.entries[1].generation, 0);
	assert_int_equal(st.entries[1].kind, WORKLOAD_STATEFULSET);
	assert_string_equal(st.entries[1].name, "db-sync*1f2e");
}

/* A Lease created by someone else, without the annotation: no entries. */
static void
test_decode_without_annotation(void **state)
{
	static struct lease_state st;
	static const char lease[] = "{\"metadata\":{\"name\":\"poolguard-reservations\","
	    "\"resourceVersion\":\"12\"},\"spec\":{}}";
	struct pg_error err = {""};

	(void)state;
	assert_int_equal(lease_decode(lease, strlen(lease), &st, &err), PG_OK);
	assert_int_equal(st.count, 0);
	assert_string_equal(st.resource_version, "12");
}

/* What poolguard writes decodes to what it meant, with the precondition and the holder. */
static void
test_encode_round_trip(void **state)
{
	static struct lease_state st, back;
	struct lease_entry e;
	struct pg_error err = {""};
	char *json;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.exists = 1;
	snprintf(st.resource_version, sizeof(st.resource_version), "%s", "99");
	memset(&e, 0, sizeof(e));
	e.kind = WORKLOAD_DEPLOYMENT;
	snprintf(e.namespace, sizeof(e.namespace), "%s", "synergyflow");
	snprintf(e.name, sizeof(e.name), "%s", "worker \"quoted\"");
	snprintf(e.role, sizeof(e.role), "%s", "synergyflow_app");
	e.connections = 20;
	e.expires = 1796306400.25;
	snprintf(e.replica, sizeof(e.replica), "%s", "replica-a");
	e.generation = 12;
	assert_int_equal(lease_add(&st, &e, &err), PG_OK);
	json = lease_encode(&st, "poolguard-system", "poolguard-reservations", "replica-a",
	    1796306370.5);
	assert_non_null(json);
	assert_contains(json, "\"resourceVersion\":\"99\"");
	assert_contains(json, "\"holderIdentity\":\"replica-a\"");
	assert_contains(json, "\"renewTime\":\"2026-12-03T");
	assert_contains(json, ".500000Z\"");
	assert_contains(json, "\"namespace\":\"poolguard-system\"");
	if (lease_decode(json, strlen(json), &back, &err) != PG_OK)
		fail_msg("%s: %s", err.msg, json);
	assert_int_equal(back.count, 1);
	assert_string_equal(back.entries[0].name, "worker \"quoted\"");
	assert_int_equal(back.entries[0].connections, 20);
	assert_true(back.entries[0].expires == 1796306400.25);
	assert_int_equal(back.entries[0].generation, 12);
	free(json);

	/* A Lease to create carries no resourceVersion. */
	st.exists = 0;
	json = lease_encode(&st, "poolguard-system", "poolguard-reservations", "replica-a", 1e9);
	assert_non_null(json);
	assert_not_contains(json, "resourceVersion");
	free(json);
}

static void
test_prune_and_cap(void **state)
{
	static struct lease_state st;
	struct lease_entry e;
	struct pg_error err = {""};
	size_t i;

	(void)state;
	memset(&st, 0, sizeof(st));
	memset(&e, 0, sizeof(e));
	e.kind = WORKLOAD_DEPLOYMENT;
	for (i = 0; i < LEASE_ENTRIES_MAX; i++) {
		e.expires = i % 2 ? 2000.0 : 1000.0;
		e.connections = (long)i + 1;
		assert_int_equal(lease_add(&st, &e, &err), PG_OK);
	}
	assert_int_equal(lease_add(&st, &e, &err), PG_ERR_TOOBIG);
	assert_contains(err.msg, "512 admitted increases are waiting to be stored");
	/* Expired at 1000 (until <= now), kept past it, in their order. */
	assert_int_equal(lease_prune(&st, 1000.0), LEASE_ENTRIES_MAX / 2);
	assert_int_equal(st.count, LEASE_ENTRIES_MAX / 2);
	assert_int_equal(st.entries[0].connections, 2);
	assert_int_equal(st.entries[1].connections, 4);
	assert_int_equal(lease_prune(&st, 1999.0), 0);
	assert_int_equal(lease_prune(&st, 2000.0), LEASE_ENTRIES_MAX / 2);
	assert_int_equal(st.count, 0);
}

struct bad {
	const char *annotation;		/* the annotation's JSON text, NULL: the whole Lease */
	const char *lease;
	const char *want;
};

static const struct bad bad_rows[] = {
	{NULL, "not json", "the Lease is not JSON"},
	{NULL, "{\"metadata\":{\"name\":\"x\"}}", "the Lease has no metadata.resourceVersion"},
	{NULL, "{\"metadata\":{\"resourceVersion\":\"1\",\"annotations\":{"
	    "\"poolguard.dev/reservations\":7}}}",
	    "annotation poolguard.dev/reservations: must be a string"},
	{"[1,2]", NULL, "annotation poolguard.dev/reservations: version \"v\" must be 1"},
	{"{\"v\":2,\"entries\":[]}", NULL, "version \"v\" must be 1"},
	{"{\"v\":1}", NULL, "\"entries\" must be an array"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"a\",\"b\",\"r\",1,5,\"x\"]]}", NULL,
	    "entry 0: must be an array of 8 fields [kind, namespace, name, role, connections, "
	    "expires, replica, generation]"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"a\",\"b\",\"r\",1,5,\"x\",-1]]}", NULL,
	    "entry 0: generation must be a whole number, 0 when unknown"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"a\",\"b\",\"r\",1,5,\"x\",1.5]]}", NULL,
	    "entry 0: generation must be a whole number"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"a\",\"b\",\"r\",1,5,\"x\",0],"
	    "[\"CronJob\",\"a\",\"b\",\"r\",1,5,\"x\",0]]}", NULL,
	    "entry 1: kind 'CronJob' is not a workload kind"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"\",\"b\",\"r\",1,5,\"x\",0]]}", NULL,
	    "entry 0: namespace must be a string of 1 to 63 bytes"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"a\",\"b\",7,1,5,\"x\",0]]}", NULL,
	    "entry 0: role must be a string of 1 to 63 bytes"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"a\",\"b\",\"r\",0,5,\"x\",0]]}", NULL,
	    "entry 0: connections must be a whole number from 1 to 1e12"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"a\",\"b\",\"r\",2.5,5,\"x\",0]]}", NULL,
	    "entry 0: connections must be a whole number"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"a\",\"b\",\"r\",1e13,5,\"x\",0]]}", NULL,
	    "entry 0: connections must be a whole number"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"a\",\"b\",\"r\",1,\"soon\",\"x\",0]]}", NULL,
	    "entry 0: expires must be seconds since the epoch"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"a\",\"b\",\"r\",1,-5,\"x\",0]]}", NULL,
	    "entry 0: expires must be seconds since the epoch"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"a\",\"b\",\"r\",1,7.9e93,\"x\",0]]}", NULL,
	    "entry 0: expires must be seconds since the epoch, up to 1e11"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"a\",\"b\",\"r\",1,5,null,0]]}", NULL,
	    "entry 0: replica must be a string"},
	{"{\"v\":1,\"entries\":[[\"Deployment\",\"a\",\"b\"", NULL,
	    "annotation poolguard.dev/reservations: not JSON"},
};

/* The annotation text as a JSON string value, inside a Lease. */
static char *
bad_lease(const char *annotation)
{
	cJSON *root = cJSON_CreateObject(), *metadata, *annotations;
	char *text;

	metadata = cJSON_AddObjectToObject(root, "metadata");
	cJSON_AddStringToObject(metadata, "resourceVersion", "5");
	annotations = cJSON_AddObjectToObject(metadata, "annotations");
	cJSON_AddStringToObject(annotations, LEASE_ANNOTATION, annotation);
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

static void
test_bad_annotations(void **state)
{
	static struct lease_state st;
	struct pg_error err;
	size_t i;
	char *text;

	(void)state;
	for (i = 0; i < nitems(bad_rows); i++) {
		text = bad_rows[i].annotation ? bad_lease(bad_rows[i].annotation) :
		    strdup(bad_rows[i].lease);
		err.msg[0] = '\0';
		if (lease_decode(text, strlen(text), &st, &err) == PG_OK)
			fail_msg("row %zu: accepted %s", i, text);
		assert_contains(err.msg, bad_rows[i].want);
		assert_int_equal(st.count, 0);
		free(text);
	}
}

/* A 513th entry in a stored Lease is over the cap, not read past it. */
static void
test_too_many_stored(void **state)
{
	static struct lease_state st;
	struct pg_error err = {""};
	char *annotation, *text;
	size_t i, len = 0, size = 64 + (LEASE_ENTRIES_MAX + 1) * 64;

	(void)state;
	annotation = malloc(size);
	len += (size_t)snprintf(annotation + len, size - len, "{\"v\":1,\"entries\":[");
	for (i = 0; i <= LEASE_ENTRIES_MAX; i++)
		len += (size_t)snprintf(annotation + len, size - len,
		    "%s[\"Deployment\",\"a\",\"w%zu\",\"r\",1,5,\"x\",0]", i ? "," : "", i);
	snprintf(annotation + len, size - len, "]}");
	text = bad_lease(annotation);
	assert_int_equal(lease_decode(text, strlen(text), &st, &err), PG_ERR_TOOBIG);
	assert_contains(err.msg, "more than 512 entries");
	free(text);
	free(annotation);
}

static void
test_ledger_names(void **state)
{
	struct lease_ledger *l = NULL;
	struct pg_error err = {""};

	(void)state;
	assert_int_equal(lease_ledger_new(NULL, "poolguard-system", "poolguard-reservations",
	    "replica-a", 2, &l, &err), PG_OK);
	assert_string_equal(lease_ledger_name(l), "poolguard-system/poolguard-reservations");
	assert_string_equal(lease_ledger_replica(l), "replica-a");
	assert_true(lease_ledger_timeout(l) == 2);
	lease_ledger_free(l);
	assert_int_equal(lease_ledger_new(NULL, "Bad_NS", "x", "r", 2, &l, &err), PG_ERR_INVALID);
	assert_contains(err.msg, "Lease 'Bad_NS/x': a namespace and a name of lower-case letters");
	assert_null(l);
	assert_int_equal(lease_ledger_new(NULL, "ns", "", "r", 2, &l, &err), PG_ERR_INVALID);
	assert_int_equal(lease_ledger_new(NULL, "ns", "x", "", 2, &l, &err), PG_ERR_INVALID);
	assert_contains(err.msg, "replica id '': 1 to 63 bytes");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_stored),
		cmocka_unit_test(test_decode_without_annotation),
		cmocka_unit_test(test_encode_round_trip),
		cmocka_unit_test(test_prune_and_cap),
		cmocka_unit_test(test_bad_annotations),
		cmocka_unit_test(test_too_many_stored),
		cmocka_unit_test(test_ledger_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
