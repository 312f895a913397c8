/*
 * admission_test.c - AdmissionReview decoding, the admission decision and the
 * response, on real AdmissionReviews and on the shapes kubectl sends.
 */
#include "unit/testutil.h"

#include "poolguard/admission.h"
#include "poolguard/fileio.h"
#include "poolguard/inventory.h"
#include "poolguard/review.h"

static const char budget_text[] =
    "cluster: {name: shared-postgres, maxConnections: 300, reservedConnections: 3}\n"
    "warnPercent: 80\n"
    "roles:\n"
    "  - name: synergyflow_app\n"
    "    connectionLimit: 200\n"
    "    namespaces: [synergyflow]\n"
    "  - name: web\n"
    "    connectionLimit: 15\n"
    "    namespaces: [default]\n";

struct fixture {
	struct config *cfg;
	struct inventory *inv;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->cfg = test_config(budget_text);
	f->inv = inventory_new(f->cfg);
	/* synergyflow/api runs 3 x 20 = 60 of the role's 200. */
	assert_int_equal(inventory_put(f->inv, WORKLOAD_DEPLOYMENT, "synergyflow", "api", 0, 3, 20),
	    0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	inventory_free(f->inv);
	config_free(f->cfg);
	free(f);
	return 0;
}

/* A Deployment as `kubectl create deployment` + `kubectl set env` write it. */
static void
deployment_json(char *buf, size_t size, const char *name, long replicas, const char *pool)
{
	char replicas_field[64] = "", env[200] = "";

	if (replicas >= 0)
		snprintf(replicas_field, sizeof(replicas_field), "\"replicas\":%ld,", replicas);
	if (pool)
		snprintf(env, sizeof(env), ",\"env\":[{\"name\":"
		    "\"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\",\"value\":\"%s\"}]", pool);
	snprintf(buf, size, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
	    "{\"name\":\"%s\",\"namespace\":\"synergyflow\",\"labels\":{\"app\":\"%s\"}},"
	    "\"spec\":{%s\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},\"template\":{"
	    "\"metadata\":{\"labels\":{\"app\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":"
	    "\"app\",\"image\":\"nginx\"%s}]}}}}", name, name, replicas_field, name, name, env);
}

/* An AdmissionReview for a Deployment CREATE or UPDATE; old may be NULL. */
static char *
review_json(const char *operation, const char *object, const char *old, int dry_run)
{
	size_t size = strlen(object) + (old ? strlen(old) : 4) + 1024;
	char *buf = malloc(size);

	snprintf(buf, size, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
	    "\"request\":{\"uid\":\"705ab4f5-6393-11e8-b7cc-42010a800002\",\"kind\":{\"group\":"
	    "\"apps\",\"version\":\"v1\",\"kind\":\"Deployment\"},\"resource\":{\"group\":\"apps\","
	    "\"version\":\"v1\",\"resource\":\"deployments\"},\"namespace\":\"synergyflow\","
	    "\"name\":\"api\",\"operation\":\"%s\",\"userInfo\":{\"username\":\"dev\"},"
	    "\"object\":%s,\"oldObject\":%s,\"dryRun\":%s}}", operation, object, old ? old : "null",
	    dry_run ? "true" : "false");
	return buf;
}

/* A deployments/scale UPDATE as `kubectl scale` sends it; replicas < 0: empty spec. */
static char *
scale_json(const char *name, long replicas, long old_replicas)
{
	char spec[64] = "{}", *buf = malloc(2048);

	if (replicas >= 0)
		snprintf(spec, sizeof(spec), "{\"replicas\":%ld}", replicas);
	snprintf(buf, 2048, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
	    "\"request\":{\"uid\":\"u-scale\",\"kind\":{\"group\":\"autoscaling\",\"version\":\"v1\","
	    "\"kind\":\"Scale\"},\"resource\":{\"group\":\"apps\",\"version\":\"v1\",\"resource\":"
	    "\"deployments\"},\"subResource\":\"scale\",\"namespace\":\"synergyflow\",\"name\":\"%s\","
	    "\"operation\":\"UPDATE\",\"object\":{\"apiVersion\":\"autoscaling/v1\",\"kind\":\"Scale\","
	    "\"metadata\":{\"name\":\"%s\",\"namespace\":\"synergyflow\"},\"spec\":%s,\"status\":"
	    "{\"replicas\":%ld,\"selector\":\"app=%s\"}},\"oldObject\":{\"apiVersion\":"
	    "\"autoscaling/v1\",\"kind\":\"Scale\",\"metadata\":{\"name\":\"%s\",\"namespace\":"
	    "\"synergyflow\"},\"spec\":{\"replicas\":%ld}},\"dryRun\":false}}", name, name, spec,
	    old_replicas, name, name, old_replicas);
	return buf;
}

/* A new string: text with the first from replaced by to; text is freed. */
static char *
replace(char *text, const char *from, const char *to)
{
	char *at = strstr(text, from), *out;
	size_t head;

	assert_non_null(at);
	head = (size_t)(at - text);
	out = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
	memcpy(out, text, head);
	memcpy(out + head, to, strlen(to));
	memcpy(out + head + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
	free(text);
	return out;
}

/* Decodes and judges text, which is freed. */
static void
judge_text(struct fixture *f, char *text, int allow_bare, struct verdict *v)
{
	struct review_request req;
	struct pg_error err;

	if (review_decode(text, strlen(text), allow_bare, &req, &err))
		fail_msg("decode: %s", err.msg);
	admission_judge(f->cfg, f->inv, &req, v, NULL);
	review_release(&req);
	free(text);
}

static void
test_scale_uses_inventory_pool(void **state)
{
	struct fixture *f = *state;
	struct verdict v;

	/* 10 x 20 = 200 of 200: allowed with a warning. */
	judge_text(f, scale_json("api", 10, 3), 0, &v);
	assert_true(v.allowed);
	assert_int_equal(v.warning_count, 1);
	assert_contains(v.warnings[0], "at 200 of 200 connections (100%)");
	/* 11 x 20 = 220: denied, 20 over, with what fits. */
	judge_text(f, scale_json("api", 11, 3), 0, &v);
	assert_false(v.allowed);
	assert_contains(v.message, "deployment synergyflow/api would hold 11 replicas x pool 20 = "
	    "220 connections; role 'synergyflow_app' would use 220 of 200 connections (110%), 20 over");
	assert_contains(v.message, "at most 10 replicas at pool size 20, or pool size at most 18 "
	    "at 11 replicas");
	assert_int_equal(v.connections_before, 60);
	assert_int_equal(v.connections_after, 220);
}

/*
 * api stored at 3 x 20 while a reservation (another replica's entry) holds it
 * at 6 x 20: a scale to 6 adds nothing to the sums, but past the stored state
 * it still asks for a reservation of its own. Without one, nothing records
 * it when the entry it leaned on ends (the stored 6 came and went): found by
 * the two-replica e2e as HPA raises admitted twice, 121 of 100.
 */
static void
test_covered_increase_still_reserved(void **state)
{
	struct fixture *f = *state;
	struct admission_subject subject;
	struct review_request req;
	struct pg_error err;
	struct verdict v;
	char *text = scale_json("api", 6, 3);

	assert_int_equal(inventory_reserve(f->inv, WORKLOAD_DEPLOYMENT, "synergyflow", "api", 0,
	    120, 30.0), 0);
	if (review_decode(text, strlen(text), 0, &req, &err))
		fail_msg("decode: %s", err.msg);
	memset(&subject, 0, sizeof(subject));
	admission_judge(f->cfg, f->inv, &req, &v, &subject);
	assert_true(v.allowed);
	assert_int_equal(v.connections_before, 120);
	assert_int_equal(subject.reserve_count, 1);
	assert_int_equal(subject.reserve[0].connections, 120);
	/* A scale to the stored 3 is no increase: nothing to hold. */
	review_release(&req);
	free(text);
	text = scale_json("api", 3, 6);
	if (review_decode(text, strlen(text), 0, &req, &err))
		fail_msg("decode: %s", err.msg);
	memset(&subject, 0, sizeof(subject));
	admission_judge(f->cfg, f->inv, &req, &v, &subject);
	assert_int_equal(subject.reserve_count, 0);
	review_release(&req);
	free(text);
}

static void
test_scale_to_zero_empty_spec(void **state)
{
	struct fixture *f = *state;
	struct verdict v;

	judge_text(f, scale_json("api", -1, 3), 0, &v);
	assert_true(v.allowed);
	assert_int_equal(v.warning_count, 0);
	assert_int_equal(v.connections_after, 0);
}

static void
test_scale_not_in_inventory(void **state)
{
	struct fixture *f = *state;
	struct verdict v;

	/* Unknown to the inventory: defaultPoolSize 10, and a warning says so. */
	judge_text(f, scale_json("batch", 5, 1), 0, &v);
	assert_true(v.allowed);
	assert_int_equal(v.connections_after, 50);
	assert_int_equal(v.warning_count, 1);
	assert_contains(v.warnings[0], "deployment synergyflow/batch is not in poolguard's "
	    "inventory: pool size counted as defaultPoolSize 10");
	judge_text(f, scale_json("batch", 15, 1), 0, &v);
	assert_false(v.allowed);
	assert_contains(v.message, "would use 210 of 200");
}

static void
test_set_env_raises_pool(void **state)
{
	struct fixture *f = *state;
	char old[2048], new[2048];
	struct verdict v;

	/* kubectl set env SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE=70 on 3 replicas. */
	deployment_json(old, sizeof(old), "api", 3, "20");
	deployment_json(new, sizeof(new), "api", 3, "70");
	judge_text(f, review_json("UPDATE", new, old, 0), 0, &v);
	assert_false(v.allowed);
	assert_contains(v.message, "3 replicas x pool 70 = 210 connections");
	assert_contains(v.message, "pool size at most 66 at 3 replicas");
	/* The same as a dry run: judged the same way. */
	judge_text(f, review_json("UPDATE", new, old, 1), 0, &v);
	assert_false(v.allowed);
	/* 3 x 60 = 180: in the warning band. */
	deployment_json(new, sizeof(new), "api", 3, "60");
	judge_text(f, review_json("UPDATE", new, old, 0), 0, &v);
	assert_true(v.allowed);
	assert_contains(v.warnings[0], "at 180 of 200 connections (90%)");
}

static void
test_create_counts_with_inventory(void **state)
{
	struct fixture *f = *state;
	char obj[2048];
	struct verdict v;

	/* A new 7 x 20 next to api's 60: 200 of 200. */
	deployment_json(obj, sizeof(obj), "reports", 7, "20");
	judge_text(f, review_json("CREATE", obj, NULL, 0), 0, &v);
	assert_true(v.allowed);
	assert_int_equal(v.role_used, 200);
	deployment_json(obj, sizeof(obj), "reports", 8, "20");
	judge_text(f, review_json("CREATE", obj, NULL, 0), 0, &v);
	assert_false(v.allowed);
	assert_contains(v.message, "at most 7 replicas at pool size 20");
	/* No replicas and no pool variable: 1 x defaultPoolSize. */
	deployment_json(obj, sizeof(obj), "tiny", -1, NULL);
	judge_text(f, review_json("CREATE", obj, NULL, 0), 0, &v);
	assert_true(v.allowed);
	assert_int_equal(v.connections_after, 10);
	assert_int_equal(v.role_used, 70);
}

static void
test_unrelated_edit_while_over(void **state)
{
	struct fixture *f = *state;
	char old[2048], new[2048];
	struct verdict v;

	/* The role is over (someone lowered the limit): 12 x 20 = 240 of 200. */
	assert_int_equal(inventory_put(f->inv, WORKLOAD_DEPLOYMENT, "synergyflow", "api", 0, 12,
	    20), 0);
	deployment_json(old, sizeof(old), "api", 12, "20");
	deployment_json(new, sizeof(new), "api", 12, "20");
	judge_text(f, review_json("UPDATE", new, old, 0), 0, &v);
	assert_true(v.allowed);
	assert_contains(v.warnings[0], "already over budget");
	deployment_json(new, sizeof(new), "api", 13, "20");
	judge_text(f, review_json("UPDATE", new, old, 0), 0, &v);
	assert_false(v.allowed);
}

static void
test_bad_pool_value_denied(void **state)
{
	static const char *const values[] = {"abc", "0", "-5", "20 ", "", "1e3"};
	struct fixture *f = *state;
	char obj[2048];
	struct verdict v;
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		deployment_json(obj, sizeof(obj), "api", 1, values[i]);
		judge_text(f, review_json("CREATE", obj, NULL, 0), 0, &v);
		assert_false(v.allowed);
		assert_contains(v.message, "container 'app' env SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE");
		assert_contains(v.message, "is not a positive integer string");
	}
}

static void
test_other_requests_allowed(void **state)
{
	struct fixture *f = *state;
	char obj[2048], *text;
	struct verdict v;

	deployment_json(obj, sizeof(obj), "api", 1000, "20");
	/* DELETE, CONNECT and other resources are not poolguard's business. */
	text = review_json("DELETE", obj, NULL, 0);
	judge_text(f, text, 0, &v);
	assert_true(v.allowed);
	assert_int_equal(v.warning_count, 0);
	text = replace(review_json("CREATE", obj, NULL, 0), "\"deployments\"", "\"replicasets\"");
	judge_text(f, text, 0, &v);
	assert_true(v.allowed);
	/* The status subresource. */
	text = replace(review_json("UPDATE", obj, obj, 0), "\"operation\"",
	    "\"subResource\":\"status\",\"operation\"");
	judge_text(f, text, 0, &v);
	assert_true(v.allowed);
	assert_int_equal(v.warning_count, 0);
}

static void
test_statefulset(void **state)
{
	struct fixture *f = *state;
	char obj[2048], *text;
	struct verdict v;

	deployment_json(obj, sizeof(obj), "db-client", 11, "20");
	text = replace(review_json("CREATE", obj, NULL, 0), "\"kind\":\"Deployment\",\"metadata\"",
	    "\"kind\":\"StatefulSet\",\"metadata\"");
	text = replace(text, "\"deployments\"", "\"statefulsets\"");
	judge_text(f, text, 0, &v);
	assert_false(v.allowed);
	assert_contains(v.message, "statefulset synergyflow/db-client would hold 11 replicas");
}

static char *
read_fixture(const char *name)
{
	char path[512], *text;
	size_t len;
	struct pg_error err;

	snprintf(path, sizeof(path), "tests/fixtures/public/%s", name);
	if (fileio_read(path, 1 << 24, &text, &len, &err))
		fail_msg("%s", err.msg);
	return text;
}

static void
test_real_kube_review_create(void **state)
{
	struct fixture *f = *state;
	struct verdict v;

	/* kube-review output: no namespace in the request, no replicas, dryRun true. */
	judge_text(f, read_fixture("kube-review__README.md__example-output-AdmissionReview-"
	    "deployment-create.json"), 0, &v);
	/* Neither the request nor the object names a namespace: "default", as kubectl does. */
	assert_true(v.allowed);
	assert_int_equal(v.role, 1);
	assert_int_equal(v.connections_after, 10);
}

static void
test_real_image_cve_create(void **state)
{
	struct fixture *f = *state;
	struct verdict v;

	/* nginx in namespace default, 1 replica, no pool variable: 10 of web's 15 (67%). */
	judge_text(f, read_fixture("kubewarden-policies__image-cve-policy__test_data__"
	    "deployment.json"), 0, &v);
	assert_true(v.allowed);
	assert_int_equal(v.role, 1);
	assert_int_equal(v.connections_after, 10);
	assert_int_equal(v.warning_count, 0);
	/* With another 10 already in the role it no longer fits. */
	assert_int_equal(inventory_put(f->inv, WORKLOAD_DEPLOYMENT, "default", "other", 1, 1, 10),
	    0);
	judge_text(f, read_fixture("kubewarden-policies__image-cve-policy__test_data__"
	    "deployment.json"), 0, &v);
	assert_false(v.allowed);
	assert_contains(v.message, "role 'web' would use 20 of 15 connections (133%), 5 over");
	assert_contains(v.message, "what fits: nothing at pool size 10, the rest of the budget "
	    "leaves room for 5 connections");
}

static void
test_real_bare_requests(void **state)
{
	struct fixture *f = *state;
	struct review_request req;
	struct pg_error err;
	struct verdict v;
	char *text;

	/* A bare AdmissionRequest is no AdmissionReview: the server refuses it... */
	text = read_fixture("kubewarden-policies__echo__test_data__update_accept.json");
	assert_int_equal(review_decode(text, strlen(text), 0, &req, &err), PG_ERR_INVALID);
	assert_contains(err.msg, "kind must be AdmissionReview");
	/* ...the review command takes it: an UPDATE with 0 replicas in both. */
	judge_text(f, text, 1, &v);
	assert_true(v.allowed);
	assert_int_equal(v.role, 1);
	assert_int_equal(v.connections_after, 0);
	judge_text(f, read_fixture("kubewarden-policies__echo__test_data__delete_accept.json"), 1,
	    &v);
	assert_true(v.allowed);
	assert_int_equal(v.role, -1);
}

static void
test_real_placeholder_review(void **state)
{
	struct fixture *f = *state;
	struct review_request req;
	struct pg_error err;
	struct verdict v;
	char *text;

	/* Every field a placeholder: decodes, and is nothing poolguard judges. */
	text = read_fixture("kubernetes-api__testdata-HEAD__admission.k8s.io.v1.AdmissionReview.json");
	assert_int_equal(review_decode(text, strlen(text), 0, &req, &err), 0);
	assert_string_equal(req.uid, "uidValue");
	assert_string_equal(req.operation, "operationValue");
	assert_string_equal(req.resource, "resourceValue");
	admission_judge(f->cfg, f->inv, &req, &v, NULL);
	assert_true(v.allowed);
	review_release(&req);
	free(text);
}

static void
test_decode_errors(void **state)
{
	static const struct {
		const char *body;
		int result;
		const char *message;
	} rows[] = {
		{"{bad", PG_ERR_PARSE, "not valid JSON"},
		{"", PG_ERR_PARSE, "not valid JSON"},
		{"[1,2]", PG_ERR_INVALID, "not an AdmissionReview object"},
		{"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\"}", PG_ERR_INVALID,
		    "kind must be AdmissionReview"},
		{"{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\","
		    "\"request\":{}}", PG_ERR_INVALID, "apiVersion 'admission.k8s.io/v1beta1' is not "
		    "supported"},
		{"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
		    PG_ERR_INVALID, "has no request"},
		{"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
		    "{\"operation\":\"CREATE\"}}", PG_ERR_INVALID, "request.uid is missing"},
		{"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
		    "{\"uid\":\"x\",\"operation\":5}}", PG_ERR_INVALID, "request.operation"},
		{"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
		    "{\"uid\":\"x\",\"operation\":\"CREATE\",\"dryRun\":\"yes\"}}", PG_ERR_INVALID,
		    "request.dryRun must be a boolean"},
		{"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
		    "{\"uid\":\"x\",\"operation\":\"CREATE\",\"resource\":{\"group\":7}}}",
		    PG_ERR_INVALID, "request.resource.group must be a string"},
	};
	struct review_request req;
	struct pg_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("row %zu\n", i);
		assert_int_equal(review_decode(rows[i].body, strlen(rows[i].body), 0, &req, &err),
		    rows[i].result);
		assert_contains(err.msg, rows[i].message);
		assert_null(req.root);
	}
}

static void
test_encode_response(void **state)
{
	struct fixture *f = *state;
	struct review_request req;
	struct pg_error err;
	struct verdict v;
	cJSON *root, *response, *status, *warnings;
	char *text = scale_json("api", 11, 3), *out;

	assert_int_equal(review_decode(text, strlen(text), 0, &req, &err), 0);
	admission_judge(f->cfg, f->inv, &req, &v, NULL);
	out = review_encode(&req, &v, 0);
	root = cJSON_Parse(out);
	assert_non_null(root);
	assert_string_equal(cJSON_GetObjectItem(root, "apiVersion")->valuestring,
	    "admission.k8s.io/v1");
	assert_string_equal(cJSON_GetObjectItem(root, "kind")->valuestring, "AdmissionReview");
	response = cJSON_GetObjectItem(root, "response");
	assert_string_equal(cJSON_GetObjectItem(response, "uid")->valuestring, "u-scale");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(response, "allowed")));
	status = cJSON_GetObjectItem(response, "status");
	assert_int_equal(cJSON_GetObjectItem(status, "code")->valueint, 403);
	assert_string_equal(cJSON_GetObjectItem(status, "reason")->valuestring, "Forbidden");
	assert_contains(cJSON_GetObjectItem(status, "message")->valuestring, "20 over");
	assert_null(cJSON_GetObjectItem(response, "warnings"));
	cJSON_Delete(root);
	free(out);
	review_release(&req);
	free(text);

	/* Allowed with a warning: no status, a warnings array. */
	text = scale_json("api", 9, 3);
	assert_int_equal(review_decode(text, strlen(text), 0, &req, &err), 0);
	admission_judge(f->cfg, f->inv, &req, &v, NULL);
	out = review_encode(&req, &v, 0);
	root = cJSON_Parse(out);
	response = cJSON_GetObjectItem(root, "response");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(response, "allowed")));
	assert_null(cJSON_GetObjectItem(response, "status"));
	warnings = cJSON_GetObjectItem(response, "warnings");
	assert_int_equal(cJSON_GetArraySize(warnings), 1);
	assert_contains(cJSON_GetArrayItem(warnings, 0)->valuestring, "at 180 of 200");
	cJSON_Delete(root);
	free(out);
	review_release(&req);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scale_uses_inventory_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_covered_increase_still_reserved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scale_to_zero_empty_spec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scale_not_in_inventory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_env_raises_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_counts_with_inventory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unrelated_edit_while_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_pool_value_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_requests_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statefulset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_kube_review_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_image_cve_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_bare_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_placeholder_review, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encode_response, setup, teardown),
	};

	return cmocka_run_group_tests_name("admission", tests, NULL, NULL);
}
