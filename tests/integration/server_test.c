/*
 * server_test.c - the real `poolguard serve` over TLS on 127.0.0.1: admission
 * verdicts, bad input of every kind, TLS versions, startup checks, SIGTERM.
 */
#include "integration/harness.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

struct world {
	char *dir;
	char budget[512];
	char inventory[512];
	struct harness_server server;
};

static struct world world;

static const char inventory_yaml[] =
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: synergyflow\n"
    "spec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n        - name: api\n"
    "          image: nginx\n          env:\n"
    "            - {name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE, value: \"20\"}\n";

static int
group_setup(void **state)
{
	const char *extra[8];

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	world.dir = harness_tmpdir();
	harness_certs(world.dir);
	snprintf(world.budget, sizeof(world.budget), "%s/budget.yaml", world.dir);
	snprintf(world.inventory, sizeof(world.inventory), "%s/inventory.yaml", world.dir);
	harness_write(world.budget, harness_budget_worked);
	harness_write(world.inventory, inventory_yaml);
	extra[0] = "--config";
	extra[1] = world.budget;
	extra[2] = "--inventory";
	extra[3] = world.inventory;
	extra[4] = "--max-body-bytes";
	extra[5] = "65536";
	extra[6] = NULL;
	assert_int_equal(harness_start(&world.server, world.dir, extra), 0);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (world.server.pid > 0)
		harness_stop(&world.server);
	harness_rmdir(world.dir);
	curl_global_cleanup();
	return 0;
}

static char *
scale_review(long replicas)
{
	char *buf = malloc(2048);

	snprintf(buf, 2048, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
	    "\"request\":{\"uid\":\"scale-%ld\",\"kind\":{\"group\":\"autoscaling\",\"version\":\"v1\","
	    "\"kind\":\"Scale\"},\"resource\":{\"group\":\"apps\",\"version\":\"v1\",\"resource\":"
	    "\"deployments\"},\"subResource\":\"scale\",\"namespace\":\"synergyflow\",\"name\":\"api\","
	    "\"operation\":\"UPDATE\",\"object\":{\"apiVersion\":\"autoscaling/v1\",\"kind\":\"Scale\","
	    "\"metadata\":{\"name\":\"api\",\"namespace\":\"synergyflow\"},\"spec\":{\"replicas\":%ld}},"
	    "\"oldObject\":{\"apiVersion\":\"autoscaling/v1\",\"kind\":\"Scale\",\"metadata\":{\"name\":"
	    "\"api\",\"namespace\":\"synergyflow\"},\"spec\":{\"replicas\":3}},\"dryRun\":false}}",
	    replicas, replicas);
	return buf;
}

static void
test_health(void **state)
{
	struct harness_response r;

	(void)state;
	r = harness_request(&world.server, "GET", "/healthz", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"status\":\"ok\"");
	harness_response_free(&r);
	r = harness_request(&world.server, "GET", "/readyz", NULL, NULL);
	assert_int_equal(r.status, 200);
	harness_response_free(&r);
}

static void
test_scale_denied_and_warned(void **state)
{
	struct harness_response r;
	char *body;

	(void)state;
	body = scale_review(11);
	r = harness_post_json(&world.server, body);
	assert_int_equal(r.status, 200);
	assert_contains(r.headers, "Content-Type: application/json");
	assert_contains(r.body, "\"uid\":\"scale-11\"");
	assert_contains(r.body, "\"allowed\":false");
	assert_contains(r.body, "\"code\":403");
	assert_contains(r.body, "\"reason\":\"Forbidden\"");
	assert_contains(r.body, "deployment synergyflow/api would hold 11 replicas x pool 20 = 220 "
	    "connections; role 'synergyflow_app' would use 220 of 200 connections (110%), 20 over");
	assert_contains(r.body, "at most 10 replicas at pool size 20");
	harness_response_free(&r);
	free(body);

	body = scale_review(9);
	r = harness_post_json(&world.server, body);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"allowed\":true");
	assert_contains(r.body, "\"warnings\":[\"role 'synergyflow_app' at 180 of 200 connections "
	    "(90%), warning level 80%\"]");
	harness_response_free(&r);
	free(body);
}

static void
test_worked_numbers_through_server(void **state)
{
	struct harness_response r;
	char uid[32], pool[8], *body;
	size_t i;

	(void)state;
	for (i = 0; i < HARNESS_WORKED_ROWS; i++) {
		const struct harness_worked_row *row = &harness_worked_rows[i];

		if (row->budget != harness_budget_worked)
			continue;	/* the other budget runs in its own server below */
		snprintf(uid, sizeof(uid), "worked-%zu", i);
		snprintf(pool, sizeof(pool), "%s", row->pool);
		/* A new Deployment "api" replaces the inventory's own entry. */
		body = harness_create_review(uid, "api", row->replicas, pool);
		r = harness_post_json(&world.server, body);
		print_message("row %zu: %s\n", i, r.body);
		assert_int_equal(r.status, 200);
		assert_contains(r.body, row->allowed ? "\"allowed\":true" : "\"allowed\":false");
		if (row->warned)
			assert_contains(r.body, "\"warnings\"");
		else
			assert_null(strstr(r.body, "\"warnings\""));
		if (row->text)
			assert_contains(r.body, row->text);
		harness_response_free(&r);
		free(body);
	}
}

static void
test_small_cluster_server(void **state)
{
	struct harness_server s;
	struct harness_response r;
	char budget[512], *body;
	const char *extra[] = {"--config", budget, NULL};

	(void)state;
	snprintf(budget, sizeof(budget), "%s/small.yaml", world.dir);
	harness_write(budget, harness_budget_small_cluster);
	assert_int_equal(harness_start(&s, world.dir, extra), 0);
	body = harness_create_review("small", "api", 10, "20");
	r = harness_post_json(&s, body);
	assert_contains(r.body, "\"allowed\":false");
	assert_contains(r.body, "cluster 'shared-postgres' would use 203 of 200 connections (102%), "
	    "3 over");
	harness_response_free(&r);
	free(body);
	assert_int_equal(harness_stop(&s), 0);
}

static void
test_set_env_denied(void **state)
{
	static const char review[] =
	    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
	    "\"uid\":\"set-env\",\"kind\":{\"group\":\"apps\",\"version\":\"v1\",\"kind\":"
	    "\"Deployment\"},\"resource\":{\"group\":\"apps\",\"version\":\"v1\",\"resource\":"
	    "\"deployments\"},\"namespace\":\"synergyflow\",\"name\":\"api\",\"operation\":\"UPDATE\","
	    "\"object\":{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
	    "\"api\",\"namespace\":\"synergyflow\"},\"spec\":{\"replicas\":3,\"template\":{\"spec\":"
	    "{\"containers\":[{\"name\":\"api\",\"image\":\"nginx\",\"env\":[{\"name\":"
	    "\"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\",\"value\":\"80\"}]}]}}}},"
	    "\"oldObject\":{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
	    "\"api\",\"namespace\":\"synergyflow\"},\"spec\":{\"replicas\":3,\"template\":{\"spec\":"
	    "{\"containers\":[{\"name\":\"api\",\"image\":\"nginx\",\"env\":[{\"name\":"
	    "\"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\",\"value\":\"20\"}]}]}}}},\"dryRun\":true}}";
	struct harness_response r;

	(void)state;
	r = harness_post_json(&world.server, review);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"uid\":\"set-env\"");
	assert_contains(r.body, "\"allowed\":false");
	assert_contains(r.body, "3 replicas x pool 80 = 240 connections");
	assert_contains(r.body, "pool size at most 66 at 3 replicas");
	harness_response_free(&r);
}

static void
test_delete_and_bad_value(void **state)
{
	static const char delete_review[] =
	    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
	    "\"uid\":\"del\",\"kind\":{\"group\":\"apps\",\"version\":\"v1\",\"kind\":\"Deployment\"},"
	    "\"resource\":{\"group\":\"apps\",\"version\":\"v1\",\"resource\":\"deployments\"},"
	    "\"namespace\":\"synergyflow\",\"name\":\"api\",\"operation\":\"DELETE\",\"object\":null,"
	    "\"oldObject\":null}}";
	struct harness_response r;
	char *body;

	(void)state;
	r = harness_post_json(&world.server, delete_review);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "{\"uid\":\"del\",\"allowed\":true}");
	harness_response_free(&r);

	body = harness_create_review("bad-pool", "api", 2, "twenty");
	r = harness_post_json(&world.server, body);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"allowed\":false");
	assert_contains(r.body, "container 'app' env SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE: value "
	    "'twenty' is not a positive integer string");
	harness_response_free(&r);
	free(body);
}

static void
set_tls11(CURL *curl)
{
	curl_easy_setopt(curl, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_0 |
	    CURL_SSLVERSION_MAX_TLSv1_1);
}

static void
set_tls12(CURL *curl)
{
	curl_easy_setopt(curl, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2 |
	    CURL_SSLVERSION_MAX_TLSv1_2);
}

static void
set_plain_http(CURL *curl)
{
	char url[128];
	long port;

	curl_easy_getinfo(curl, CURLINFO_PRIMARY_PORT, &port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", world.server.port);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 3L);
}

static void
test_tls_versions(void **state)
{
	struct harness_response r;

	(void)state;
	r = harness_request_with(&world.server, "GET", "/healthz", NULL, NULL, 0, set_tls12);
	assert_int_equal(r.status, 200);
	harness_response_free(&r);
	r = harness_request_with(&world.server, "GET", "/healthz", NULL, NULL, 0, set_tls11);
	assert_int_equal(r.status, 0);
	assert_int_not_equal(r.curl, CURLE_OK);
	harness_response_free(&r);
	r = harness_request_with(&world.server, "GET", "/healthz", NULL, NULL, 0, set_plain_http);
	assert_true(r.status == 0 || r.status >= 400);
	harness_response_free(&r);
}

static void
test_bad_requests_keep_serving(void **state)
{
	static const struct {
		const char *method;
		const char *path;
		const char *content_type;
		const char *body;
		long status;
		const char *text;
	} rows[] = {
		{"POST", "/validate", "application/json", "{not json", 400, "not valid JSON"},
		{"POST", "/validate", "application/json", "", 400, "not valid JSON"},
		{"POST", "/validate", "application/json", "{\"kind\":\"Pod\"}", 400,
		    "kind must be AdmissionReview"},
		{"POST", "/validate", "application/json", "{\"apiVersion\":\"admission.k8s.io/v1\","
		    "\"kind\":\"AdmissionReview\",\"request\":{\"operation\":\"CREATE\"}}", 400,
		    "request.uid is missing"},
		{"POST", "/validate", "application/json", "[]", 400, "not an AdmissionReview"},
		{"GET", "/validate", NULL, NULL, 405, "method not allowed"},
		{"PUT", "/validate", "application/json", "{}", 405, "method not allowed"},
		{"POST", "/validate", "text/plain", "{}", 415, "unsupported media type"},
		{"POST", "/validate", NULL, "{}", 415, "unsupported media type"},
		{"POST", "/validate", "application/jsonp", "{}", 415, "unsupported media type"},
		{"POST", "/healthz", "application/json", "{}", 405, "method not allowed"},
		{"GET", "/nowhere", NULL, NULL, 404, "not found"},
	};
	struct harness_response r;
	char *body;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = harness_request(&world.server, rows[i].method, rows[i].path, rows[i].content_type,
		    rows[i].body);
		print_message("row %zu: %ld %s\n", i, r.status, r.body);
		assert_int_equal(r.status, rows[i].status);
		assert_contains(r.headers, "Content-Type: application/json");
		assert_contains(r.body, "\"error\":");
		assert_contains(r.body, rows[i].text);
		if (rows[i].status == 405)
			assert_contains(r.headers, "Allow: ");
		harness_response_free(&r);
	}
	/* Charset parameters are fine. */
	body = scale_review(4);
	r = harness_request(&world.server, "POST", "/validate", "application/json; charset=utf-8",
	    body);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"allowed\":true");
	harness_response_free(&r);
	free(body);
	/* Still up, still answering. */
	assert_int_equal(kill(world.server.pid, 0), 0);
	r = harness_request(&world.server, "GET", "/healthz", NULL, NULL);
	assert_int_equal(r.status, 200);
	harness_response_free(&r);
}

static size_t
read_zeros(char *buf, size_t size, size_t n, void *arg)
{
	size_t *left = arg, want = size * n < *left ? size * n : *left;

	memset(buf, ' ', want);
	*left -= want;
	return want;
}

static size_t chunked_left;

static void
set_chunked_upload(CURL *curl)
{
	static struct curl_slist *headers;

	if (headers == NULL) {
		headers = curl_slist_append(headers, "Content-Type: application/json");
		headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
		headers = curl_slist_append(headers, "Expect:");
	}
	chunked_left = 200000;
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_zeros);
	curl_easy_setopt(curl, CURLOPT_READDATA, &chunked_left);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
}

static void
test_body_cap(void **state)
{
	struct harness_response r;
	size_t len = 100000;
	char *big = malloc(len + 1);

	(void)state;
	memset(big, ' ', len);
	big[len] = '\0';
	/* Over the 64 KiB cap of this server, with Content-Length... */
	r = harness_post_json(&world.server, big);
	assert_int_equal(r.status, 413);
	assert_contains(r.body, "request body too large");
	harness_response_free(&r);
	/* ...and chunked, where the length is only known while reading. */
	r = harness_request_with(&world.server, "POST", "/validate", "application/json", NULL, 0,
	    set_chunked_upload);
	assert_int_equal(r.status, 413);
	harness_response_free(&r);
	free(big);
	r = harness_request(&world.server, "GET", "/healthz", NULL, NULL);
	assert_int_equal(r.status, 200);
	harness_response_free(&r);
}

/* Writes a self-signed certificate valid from -2 days to -1 day, and its key. */
static void
write_expired_cert(const char *cert_path, const char *key_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	FILE *fp;

	assert_non_null(key);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
	X509_gmtime_adj(X509_getm_notBefore(cert), -2L * 86400);
	X509_gmtime_adj(X509_getm_notAfter(cert), -1L * 86400);
	X509_set_pubkey(cert, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(cert));
	assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
	fp = fopen(cert_path, "w");
	PEM_write_X509(fp, cert);
	fclose(fp);
	fp = fopen(key_path, "w");
	PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL);
	fclose(fp);
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void
test_startup_checks(void **state)
{
	char other[512], expired[512], cert[512], key[512], bad_budget[512], cmd[1200];
	char *out, *err, *cwd_cert;
	const char *argv[16];

	(void)state;
	/* A key from another certificate. */
	snprintf(other, sizeof(other), "%s/other", world.dir);
	harness_certs(other);
	snprintf(cert, sizeof(cert), "%s/serving.crt", world.dir);
	snprintf(key, sizeof(key), "%s/serving.key", other);
	argv[0] = POOLGUARD_BIN;
	argv[1] = "serve";
	argv[2] = "--config";
	argv[3] = world.budget;
	argv[4] = "--tls-cert";
	argv[5] = cert;
	argv[6] = "--tls-key";
	argv[7] = key;
	argv[8] = "--listen";
	argv[9] = "127.0.0.1:0";
	argv[10] = NULL;
	assert_int_equal(harness_run(argv, NULL, &out, &err), 2);
	assert_contains(err, "does not match the certificate");
	free(out);
	free(err);

	/* An expired certificate. */
	snprintf(expired, sizeof(expired), "%s/expired", world.dir);
	mkdir(expired, 0700);
	snprintf(cert, sizeof(cert), "%s/serving.crt", expired);
	snprintf(key, sizeof(key), "%s/serving.key", expired);
	write_expired_cert(cert, key);
	assert_int_equal(harness_run(argv, NULL, &out, &err), 2);
	assert_contains(err, "has expired");
	free(out);
	free(err);

	/* Not a certificate at all. */
	argv[5] = world.budget;
	assert_int_equal(harness_run(argv, NULL, &out, &err), 2);
	assert_contains(err, "holds no PEM certificate");
	free(out);
	free(err);

	/* A budget with a typo: named with file, line and key. */
	snprintf(bad_budget, sizeof(bad_budget), "%s/typo.yaml", world.dir);
	harness_write(bad_budget, "cluster: {maxConnections: 100}\nroles:\n  - name: a\n"
	    "    conectionLimit: 5\n");
	argv[3] = bad_budget;
	cwd_cert = NULL;
	assert_int_equal(harness_run(argv, NULL, &out, &err), 2);
	assert_contains(err, "typo.yaml:4: roles[0].conectionLimit: unknown key (did you mean "
	    "'connectionLimit'?)");
	free(out);
	free(err);
	(void)cmd;
	(void)cwd_cert;

	/* No TLS flags: refused, HTTPS only. */
	argv[4] = NULL;
	argv[3] = world.budget;
	assert_int_equal(harness_run(argv, NULL, &out, &err), 2);
	assert_contains(err, "serve needs --tls-cert and --tls-key");
	free(out);
	free(err);
}

/* Sends a body slowly, so the request is in flight when SIGTERM arrives. */
struct slow_body {
	const char *data;
	size_t len;
	size_t sent;
	pid_t server;
};

static struct slow_body slow;

static size_t
read_slowly(char *buf, size_t size, size_t n, void *arg)
{
	struct slow_body *b = arg;
	struct timespec pause = {0, 100 * 1000 * 1000};
	size_t want = b->len - b->sent < 64 ? b->len - b->sent : 64;

	(void)size;
	(void)n;
	if (b->sent == 64)
		kill(b->server, SIGTERM);	/* mid-request */
	if (b->sent > 0 && b->sent < 64 * 4)
		nanosleep(&pause, NULL);
	memcpy(buf, b->data + b->sent, want);
	b->sent += want;
	return want;
}

static void
set_slow_upload(CURL *curl)
{
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_slowly);
	curl_easy_setopt(curl, CURLOPT_READDATA, &slow);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)slow.len);
}

static void
test_sigterm_finishes_in_flight(void **state)
{
	struct harness_server s;
	struct harness_response r;
	const char *extra[] = {"--config", world.budget, "--inventory", world.inventory, NULL};
	char *body = scale_review(11), *log;
	int status;

	(void)state;
	assert_int_equal(harness_start(&s, world.dir, extra), 0);
	slow.data = body;
	slow.len = strlen(body);
	slow.sent = 0;
	slow.server = s.pid;
	r = harness_request_with(&s, "POST", "/validate", "application/json", NULL, 0,
	    set_slow_upload);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"uid\":\"scale-11\"");
	assert_contains(r.body, "\"allowed\":false");
	harness_response_free(&r);
	assert_int_equal(waitpid(s.pid, &status, 0), s.pid);
	s.pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	log = harness_slurp(s.log_path);
	assert_contains(log, "\"event\":\"stopping\"");
	assert_contains(log, "\"event\":\"stopped\"");
	free(log);
	free(body);
}

static void
test_decision_log(void **state)
{
	char *log;

	(void)state;
	log = harness_slurp(world.server.log_path);
	assert_contains(log, "\"event\":\"decision\",\"uid\":\"scale-11\",\"user\":\"\","
	    "\"operation\":\"UPDATE\",\"resource\":\"deployments\",\"subResource\":\"scale\","
	    "\"namespace\":\"synergyflow\",\"name\":\"api\",\"dryRun\":false,\"verdict\":\"deny\"");
	assert_contains(log, "\"connectionsBefore\":60,\"connectionsAfter\":220,\"role\":"
	    "\"synergyflow_app\",\"roleUsed\":220,\"roleLimit\":200");
	assert_contains(log, "\"event\":\"bad_request\"");
	free(log);
}

/*
 * Every numeric flag refuses a negative number, a number out of range and
 * anything that is not plain digits, naming the flag; strtoul used to wrap
 * --max-body-bytes -1 into no cap at all. The certificate does not exist, so
 * a value that slipped through would fail later, on the certificate instead.
 */
static void
test_numeric_flags(void **state)
{
	static const struct {
		const char *flag;
		const char *value;
		const char *message;
	} rows[] = {
		{"--max-body-bytes", "-1", "--max-body-bytes '-1': expected a whole number from 1024 "
		    "to 1073741824"},
		{"--max-body-bytes", "18446744073709551615", "--max-body-bytes '18446744073709551615'"},
		{"--max-body-bytes", " 4096", "--max-body-bytes ' 4096': expected a whole number"},
		{"--max-body-bytes", "4e6", "--max-body-bytes '4e6': expected a whole number"},
		{"--max-body-bytes", "0x1000", "--max-body-bytes '0x1000': expected a whole number"},
		{"--max-connections", "-1", "--max-connections '-1': expected a whole number from 1 to "
		    "65536"},
		{"--max-connections", "0", "--max-connections '0': expected"},
		{"--max-connections-per-ip", "-5", "--max-connections-per-ip '-5': expected a whole "
		    "number from 1 to 65536"},
		{"--idle-timeout", "-1", "--idle-timeout '-1': expected a whole number from 1 to 3600"},
		{"--idle-timeout", "3601", "--idle-timeout '3601': expected"},
		{"--request-timeout", "-1", "--request-timeout '-1': expected a whole number from 1 to "
		    "3600"},
		{"--request-timeout", "1.5", "--request-timeout '1.5': expected a whole number"},
		{"--max-request-memory", "-1", "--max-request-memory '-1': expected a whole number from "
		    "1048576 to 1099511627776"},
		{"--threads", "-2", "--threads '-2': expected a whole number from 1 to 256"},
		{"--threads", "", "--threads '': expected"},
		{"--reservation-seconds", "-1", "--reservation-seconds '-1': expected a number from 0 "
		    "to 3600"},
		{"--reservation-seconds", "nan", "--reservation-seconds 'nan': expected a number"},
		{"--reservation-seconds", "1e3", "--reservation-seconds '1e3': expected a number"},
	};
	const char *argv[16];
	char *out, *err;
	size_t i;

	(void)state;
	argv[0] = POOLGUARD_BIN;
	argv[1] = "serve";
	argv[2] = "--config";
	argv[3] = world.budget;
	argv[4] = "--tls-cert";
	argv[5] = "/nonexistent/serving.crt";
	argv[6] = "--tls-key";
	argv[7] = "/nonexistent/serving.key";
	argv[8] = "--listen";
	argv[9] = "127.0.0.1:0";
	argv[12] = NULL;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		argv[10] = rows[i].flag;
		argv[11] = rows[i].value;
		assert_int_equal(harness_run(argv, NULL, &out, &err), 2);
		print_message("%s '%s': %.*s\n", rows[i].flag, rows[i].value,
		    (int)strcspn(err, "\n"), err);
		assert_contains(err, rows[i].message);
		free(out);
		free(err);
	}
	/* Values that are fine alone but not together. */
	argv[10] = "--max-request-memory";
	argv[11] = "4194304";
	assert_int_equal(harness_run(argv, NULL, &out, &err), 2);
	assert_contains(err, "--max-request-memory 4194304 is less than twice --max-body-bytes "
	    "4194304");
	free(out);
	free(err);
}

/* Counts occurrences of text in a string. */
static int
count_of(const char *hay, const char *text)
{
	int n = 0;

	while ((hay = strstr(hay, text)) != NULL) {
		n++;
		hay += strlen(text);
	}
	return n;
}

/*
 * The report's metrics attack: 130 junk operations, an operation of invalid
 * UTF-8 and a resource with quotes, then a real denial. The denial must be
 * counted (the table used to fill up at 128 series and drop it), the junk must
 * land in "other", and promtool must accept the scrape (invalid UTF-8 used to
 * make every later scrape fail). Budget names with quotes, a backslash, a
 * newline and non-ASCII letters are escaped.
 */
static void
test_metrics_hostile_labels(void **state)
{
	static const char odd_budget[] =
	    "cluster: {name: 'shared \"pg\" \\ x', maxConnections: 300, reservedConnections: 3}\n"
	    "roles:\n"
	    "  - name: \"synergyflow_app\\nä\"\n"
	    "    connectionLimit: 200\n"
	    "    namespaces: [synergyflow]\n";
	struct harness_server s;
	struct harness_response r;
	char budget[512], path[600], cmd[800], body[512], *deny, *out, *err;
	const char *extra[] = {"--config", budget, "--inventory", world.inventory, NULL};
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	int i;

	(void)state;
	snprintf(budget, sizeof(budget), "%s/odd-names.yaml", world.dir);
	harness_write(budget, odd_budget);
	assert_int_equal(harness_start(&s, world.dir, extra), 0);
	for (i = 0; i < 132; i++) {
		snprintf(body, sizeof(body), "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":"
		    "\"AdmissionReview\",\"request\":{\"uid\":\"x\",\"operation\":\"%s%d\","
		    "\"resource\":{\"group\":\"apps\",\"version\":\"v1\",\"resource\":\"%s\"}}}",
		    i == 130 ? "\xff\xfe" : "JUNK", i, i == 131 ? "a\\\"b\\\\c" : "deployments");
		r = harness_post_json(&s, body);
		assert_int_equal(r.status, 200);
		harness_response_free(&r);
	}
	deny = scale_review(11);
	r = harness_post_json(&s, deny);
	assert_contains(r.body, "\"allowed\":false");
	harness_response_free(&r);
	free(deny);
	r = harness_request(&s, "GET", "/metrics", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "poolguard_admission_requests_total{operation=\"UPDATE\","
	    "resource=\"deployments/scale\",decision=\"deny\"} 1\n");
	assert_contains(r.body, "poolguard_admission_requests_total{operation=\"other\","
	    "resource=\"deployments\",decision=\"allow\"} 131\n");
	assert_contains(r.body, "poolguard_admission_requests_total{operation=\"other\","
	    "resource=\"other\",decision=\"allow\"} 1\n");
	assert_null(strstr(r.body, "JUNK"));
	assert_null(strstr(r.body, "\xff"));
	assert_contains(r.body, "cluster=\"shared \\\"pg\\\" \\\\ x\"");
	assert_contains(r.body, "role=\"synergyflow_app\\nä\"");
	assert_int_equal(count_of(r.body, "poolguard_admission_requests_total{"), 3);
	snprintf(path, sizeof(path), "%s/hostile-scrape.txt", world.dir);
	harness_write(path, r.body);
	harness_response_free(&r);
	if (system("command -v promtool >/dev/null") != 0)
		fail_msg("promtool is not installed (Debian package prometheus; make deps)");
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
	i = harness_run(argv, NULL, &out, &err);
	print_message("promtool check metrics: exit %d %s%s\n", i, out, err);
	assert_int_equal(i, 0);
	free(out);
	free(err);
	assert_int_equal(harness_stop(&s), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_scale_denied_and_warned),
		cmocka_unit_test(test_worked_numbers_through_server),
		cmocka_unit_test(test_small_cluster_server),
		cmocka_unit_test(test_set_env_denied),
		cmocka_unit_test(test_delete_and_bad_value),
		cmocka_unit_test(test_tls_versions),
		cmocka_unit_test(test_bad_requests_keep_serving),
		cmocka_unit_test(test_body_cap),
		cmocka_unit_test(test_startup_checks),
		cmocka_unit_test(test_numeric_flags),
		cmocka_unit_test(test_metrics_hostile_labels),
		cmocka_unit_test(test_sigterm_finishes_in_flight),
		cmocka_unit_test(test_decision_log),
	};

	return cmocka_run_group_tests_name("server", tests, group_setup, group_teardown);
}
