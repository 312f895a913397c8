/*
 * reload_test.c - the budget and the certificate replaced under a running
 * server while requests flow: zero failed requests, the new budget judged,
 * a broken budget refused with the last good one kept, and /metrics valid
 * for promtool.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "integration/harness.h"

static char *dir;
static char mount[512];		/* a mounted ConfigMap: budget.yaml -> ..data/budget.yaml */
static struct harness_server server;

/* Replaces the mounted budget the way the kubelet does: a new directory, a symlink swap. */
static void
kubelet_swap(const char *budget)
{
	static int version;
	char version_dir[600], file[700], tmp[600], data[600];

	snprintf(version_dir, sizeof(version_dir), "%s/..v%d", mount, ++version);
	assert_int_equal(mkdir(version_dir, 0755), 0);
	snprintf(file, sizeof(file), "%s/budget.yaml", version_dir);
	harness_write(file, budget);
	snprintf(tmp, sizeof(tmp), "%s/..data_tmp", mount);
	snprintf(data, sizeof(data), "%s/..data", mount);
	snprintf(file, sizeof(file), "..v%d", version);
	unlink(tmp);
	assert_int_equal(symlink(file, tmp), 0);
	assert_int_equal(rename(tmp, data), 0);
}

static const char *
budget_with_limit(int limit)
{
	static char text[512];

	snprintf(text, sizeof(text), "cluster: {name: pg, maxConnections: 1000}\n"
	    "roles: [{name: app, connectionLimit: %d, namespaces: [synergyflow]}]\n", limit);
	return text;
}

static int
group_setup(void **state)
{
	char link[600], extra_inventory[600];
	const char *extra[] = {"--config", mount, "--inventory", extra_inventory, NULL};
	char deployment[2048];

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	dir = harness_tmpdir();
	harness_certs(dir);
	snprintf(mount, sizeof(mount), "%s/budget", dir);
	assert_int_equal(mkdir(mount, 0755), 0);
	kubelet_swap(budget_with_limit(200));
	snprintf(link, sizeof(link), "%s/budget.yaml", mount);
	assert_int_equal(symlink("..data/budget.yaml", link), 0);
	snprintf(extra_inventory, sizeof(extra_inventory), "%s/inventory.yaml", dir);
	harness_deployment_yaml(deployment, sizeof(deployment), "api", 3, "20");
	harness_write(extra_inventory, deployment);
	assert_int_equal(harness_start(&server, dir, extra), 0);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (server.pid > 0)
		harness_stop(&server);
	harness_rmdir(dir);
	curl_global_cleanup();
	return 0;
}

/* 8 x 20 = 160: allowed under a limit of 200, denied under 150. */
static char *
create_8x20(void)
{
	return harness_create_review("load", "api", 8, "20");
}

struct load {
	atomic_int stop;
	atomic_long sent;
	atomic_long failed;
	atomic_long allowed;
	atomic_long denied;
};

static void *
load_run(void *arg)
{
	struct load *l = arg;
	struct harness_response r;
	char *body = create_8x20();

	while (!atomic_load(&l->stop)) {
		r = harness_post_json(&server, body);
		atomic_fetch_add(&l->sent, 1);
		if (r.status != 200)
			atomic_fetch_add(&l->failed, 1);
		else if (strstr(r.body, "\"allowed\":true"))
			atomic_fetch_add(&l->allowed, 1);
		else
			atomic_fetch_add(&l->denied, 1);
		harness_response_free(&r);
	}
	free(body);
	return NULL;
}

/* Posts the request until its answer contains want, for up to 10 s; returns 1 if it did. */
static int
wait_for_answer(const char *want)
{
	struct harness_response r;
	char *body = create_8x20();
	int i, seen = 0;

	for (i = 0; i < 200 && !seen; i++) {
		r = harness_post_json(&server, body);
		seen = strstr(r.body, want) != NULL;
		harness_response_free(&r);
		if (!seen)
			usleep(50000);
	}
	free(body);
	return seen;
}

static char *
scrape(void)
{
	struct harness_response r = harness_request(&server, "GET", "/metrics", NULL, NULL);
	char *body;

	assert_int_equal(r.status, 200);
	assert_contains(r.headers, "Content-Type: text/plain; version=0.0.4");
	body = r.body;
	r.body = NULL;
	harness_response_free(&r);
	return body;
}

/* The value of a sample line that starts with name (HELP and TYPE lines are skipped). */
static long
metric(const char *text, const char *name)
{
	char line_start[256];
	const char *at;

	snprintf(line_start, sizeof(line_start), "\n%s", name);
	at = strstr(text, line_start);
	assert_non_null(at);
	return strtol(at + strlen(line_start), NULL, 10);
}

static void
test_reload_under_load(void **state)
{
	struct load load;
	pthread_t threads[2];
	char *m, *log, cmd[700];
	long expiry_before, i;

	(void)state;
	memset(&load, 0, sizeof(load));
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, load_run, &load), 0);
	assert_true(wait_for_answer("\"allowed\":true"));

	/* A tighter budget: 160 no longer fits 150. */
	kubelet_swap(budget_with_limit(150));
	assert_true(wait_for_answer("would use 160 of 150 connections"));

	/* Garbage: refused, the 150 budget stays in force. */
	kubelet_swap("cluster: {maxConnections: 1000}\nroles: [{name: app, conectionLimit: 5}]\n");
	sleep(3);
	assert_true(wait_for_answer("would use 160 of 150 connections"));
	m = scrape();
	assert_int_equal(metric(m, "poolguard_config_reloads_total{result=\"failure\"} "), 1);
	assert_int_equal(metric(m, "poolguard_config_reloads_total{result=\"success\"} "), 2);
	expiry_before = metric(m, "poolguard_certificate_expiry_timestamp_seconds ");
	free(m);

	/* A new serving certificate from the same CA, valid 30 days instead of 365. */
	snprintf(cmd, sizeof(cmd), "FORCE=1 DAYS=30 sh certs/make-certs.sh '%s' >/dev/null", dir);
	assert_int_equal(system(cmd), 0);
	for (i = 0; i < 100; i++) {
		m = scrape();
		if (metric(m, "poolguard_certificate_expiry_timestamp_seconds ") != expiry_before) {
			free(m);
			break;
		}
		free(m);
		usleep(100000);
	}
	assert_true(i < 100);
	m = scrape();
	assert_true(metric(m, "poolguard_certificate_expiry_timestamp_seconds ") <
	    expiry_before - 300L * 86400);
	free(m);

	/* And back to a roomy budget, still under load. */
	kubelet_swap(budget_with_limit(400));
	assert_true(wait_for_answer("\"allowed\":true"));
	sleep(1);
	atomic_store(&load.stop, 1);
	for (i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	print_message("%ld requests: %ld allowed, %ld denied, %ld failed\n", atomic_load(&load.sent),
	    atomic_load(&load.allowed), atomic_load(&load.denied), atomic_load(&load.failed));
	assert_int_equal(atomic_load(&load.failed), 0);
	assert_true(atomic_load(&load.sent) > 50);
	assert_true(atomic_load(&load.allowed) > 0 && atomic_load(&load.denied) > 0);
	log = harness_slurp(server.log_path);
	assert_contains(log, "\"event\":\"reload_failed\"");
	assert_contains(log, "roles[0].conectionLimit: unknown key (did you mean 'connectionLimit'?)");
	assert_contains(log, "the budget in force stays");
	assert_contains(log, "\"event\":\"reloaded\"");
	assert_contains(log, "\"event\":\"certificate_reloaded\"");
	free(log);
}

static void
test_metrics_pass_promtool(void **state)
{
	char path[600], *m, *out, *err;
	const char *argv[] = {"/bin/sh", "-c", NULL, NULL};
	char cmd[800];
	long held;

	(void)state;
	m = scrape();
	/* api 3 x 20, or the 8 x 20 the load just admitted, held as a reservation. */
	held = metric(m, "poolguard_role_connections{role=\"app\"} ");
	assert_true(held == 60 || held == 160);
	assert_contains(m, "poolguard_role_connection_limit{role=\"app\"} 400");
	assert_contains(m, "poolguard_admission_requests_total{operation=\"CREATE\","
	    "resource=\"deployments\",decision=\"deny\"}");
	assert_contains(m, "poolguard_admission_duration_seconds_bucket{le=\"+Inf\"}");
	snprintf(path, sizeof(path), "%s/scrape.txt", dir);
	harness_write(path, m);
	free(m);
	if (system("command -v promtool >/dev/null") != 0)
		fail_msg("promtool is not installed (Debian package prometheus; make deps)");
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
	argv[2] = cmd;
	assert_int_equal(harness_run(argv, NULL, &out, &err), 0);
	print_message("promtool: %s%s\n", out, err);
	free(out);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_under_load),
		cmocka_unit_test(test_metrics_pass_promtool),
	};

	return cmocka_run_group_tests_name("reload", tests, group_setup, group_teardown);
}
