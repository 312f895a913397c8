/*
 * limits_test.c - the server under connections that do nothing or trickle,
 * and client certificates (--client-ca).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "integration/harness.h"

static char *dir;
static char budget[512];

static int
group_setup(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	dir = harness_tmpdir();
	harness_certs(dir);
	snprintf(budget, sizeof(budget), "%s/budget.yaml", dir);
	harness_write(budget, harness_budget_worked);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	harness_rmdir(dir);
	curl_global_cleanup();
	return 0;
}

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void
test_idle_and_trickling_connections(void **state)
{
	enum { IDLE = 500 };
	const char *extra[] = {"--config", budget, NULL};
	static const unsigned char hello_start[] = {0x16, 0x03, 0x01, 0x00, 0xa0, 0x01};
	struct harness_server s;
	struct harness_response r;
	struct sockaddr_in addr;
	int fds[IDLE], i, open_count = 0;
	double start, took, limit;
	char *body;

	(void)state;
	assert_int_equal(harness_start(&s, dir, extra), 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)s.port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < IDLE; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
		if (connect(fds[i], (struct sockaddr *)&addr, sizeof(addr)) == 0)
			open_count++;
		/* Half of them start a TLS handshake and stop after a few bytes. */
		if (i % 2 && write(fds[i], hello_start, sizeof(hello_start)) < 0)
			fail_msg("write failed");
	}
	assert_int_equal(open_count, IDLE);
	usleep(200000);
	body = harness_create_review("real", "api", 3, "20");
	/* Under valgrind everything is some 30 times slower; the bound is for the real build. */
	limit = getenv("POOLGUARD_VALGRIND") ? 3000 : 100;
	start = now_ms();
	r = harness_post_json(&s, body);
	took = now_ms() - start;
	print_message("with %d idle or trickling connections: answered in %.1f ms\n", IDLE, took);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"allowed\":true");
	assert_true(took < limit);
	harness_response_free(&r);
	/* A trickle: one more byte on each handshake, the request still goes through. */
	for (i = 1; i < IDLE; i += 2)
		if (write(fds[i], "\x03", 1) < 0)
			fail_msg("write failed");
	r = harness_post_json(&s, body);
	assert_int_equal(r.status, 200);
	harness_response_free(&r);
	for (i = 0; i < IDLE; i++)
		close(fds[i]);
	free(body);
	assert_int_equal(harness_stop(&s), 0);
}

/* Issues a client certificate signed by the CA in ca_dir into ca_dir/client.{crt,key}. */
static void
client_cert(const char *ca_dir)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "cd '%s' && printf 'extendedKeyUsage=clientAuth\\n' > client.ext && "
	    "openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
	    "-keyout client.key -out client.csr -subj /CN=kube-apiserver 2>/dev/null && "
	    "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
	    "-out client.crt -days 1 -extfile client.ext 2>/dev/null", ca_dir);
	assert_int_equal(system(cmd), 0);
}

static char client_crt[600], client_key[600];

static void
set_client_cert(CURL *curl)
{
	curl_easy_setopt(curl, CURLOPT_SSLCERT, client_crt);
	curl_easy_setopt(curl, CURLOPT_SSLKEY, client_key);
}

static void
test_client_ca(void **state)
{
	char trusted[600], other[600], ca[700];
	const char *extra[] = {"--config", budget, "--client-ca", ca, NULL};
	struct harness_server s;
	struct harness_response r;
	char *body = harness_create_review("mtls", "api", 3, "20");

	(void)state;
	snprintf(trusted, sizeof(trusted), "%s/clients", dir);
	snprintf(other, sizeof(other), "%s/strangers", dir);
	harness_certs(trusted);
	harness_certs(other);
	client_cert(trusted);
	client_cert(other);
	snprintf(ca, sizeof(ca), "%s/ca.crt", trusted);
	assert_int_equal(harness_start(&s, dir, extra), 0);

	/* No client certificate: refused, but probes still answer. */
	r = harness_post_json(&s, body);
	assert_int_equal(r.status, 403);
	assert_contains(r.body, "a client certificate signed by the configured client CA is required");
	harness_response_free(&r);
	r = harness_request(&s, "GET", "/healthz", NULL, NULL);
	assert_int_equal(r.status, 200);
	harness_response_free(&r);
	/* Signed by the client CA: answered. */
	snprintf(client_crt, sizeof(client_crt), "%s/client.crt", trusted);
	snprintf(client_key, sizeof(client_key), "%s/client.key", trusted);
	r = harness_request_with(&s, "POST", "/validate", "application/json", body, strlen(body),
	    set_client_cert);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"uid\":\"mtls\",\"allowed\":true");
	harness_response_free(&r);
	/* Signed by another CA: refused. */
	snprintf(client_crt, sizeof(client_crt), "%s/client.crt", other);
	snprintf(client_key, sizeof(client_key), "%s/client.key", other);
	r = harness_request_with(&s, "POST", "/validate", "application/json", body, strlen(body),
	    set_client_cert);
	assert_true(r.status == 403 || r.status == 0);
	harness_response_free(&r);
	free(body);
	assert_int_equal(harness_stop(&s), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_and_trickling_connections),
		cmocka_unit_test(test_client_ca),
	};

	return cmocka_run_group_tests_name("limits", tests, group_setup, group_teardown);
}
