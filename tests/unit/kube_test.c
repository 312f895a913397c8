/*
 * kube_test.c - kubeconfig reading: contexts, inline and file credentials,
 * and the errors a user sees for the kubeconfigs poolguard cannot use.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "unit/testutil.h"

#include "poolguard/kube.h"

static char dir[] = "/tmp/poolguard-kube-XXXXXX";

static const char *
write_file(const char *name, const char *text)
{
	static char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

static int
setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void
test_token_and_data(void **state)
{
	static const char kubeconfig[] =
	    "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
	    "contexts:\n- name: other\n  context: {cluster: nowhere, user: nobody}\n"
	    "- name: test\n  context: {cluster: local, user: poolguard}\n"
	    "clusters:\n- name: local\n  cluster:\n    server: https://127.0.0.1:6443/\n"
	    "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
	    "users:\n- name: poolguard\n  user: {token: abc123}\n";
	struct kube_client *c;
	struct pg_error err;

	(void)state;
	assert_int_equal(kube_client_from_kubeconfig(write_file("a.yaml", kubeconfig), &c, &err),
	    PG_OK);
	assert_string_equal(kube_client_server(c), "https://127.0.0.1:6443");
	kube_client_free(c);
}

static void
test_token_file_relative(void **state)
{
	static const char kubeconfig[] =
	    "current-context: t\ncontexts: [{name: t, context: {cluster: c, user: u}}]\n"
	    "clusters: [{name: c, cluster: {server: 'https://10.0.0.1', certificate-authority: ca.crt}}]\n"
	    "users: [{name: u, user: {tokenFile: token}}]\n";
	struct kube_client *c;
	struct pg_error err;

	(void)state;
	write_file("token", "secret-token\n");
	assert_int_equal(kube_client_from_kubeconfig(write_file("b.yaml", kubeconfig), &c, &err),
	    PG_OK);
	kube_client_free(c);
	/* A token file that cannot be read is named. */
	assert_int_not_equal(kube_client_from_kubeconfig(write_file("c.yaml", "current-context: t\n"
	    "contexts: [{name: t, context: {cluster: c, user: u}}]\n"
	    "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
	    "users: [{name: u, user: {tokenFile: /nonexistent/token}}]\n"), &c, &err), PG_OK);
	assert_contains(err.msg, "/nonexistent/token");
}

static void
test_errors(void **state)
{
	static const struct {
		const char *text;
		const char *message;
	} rows[] = {
		{"apiVersion: v1\nkind: Config\n", "has no current-context"},
		{"current-context: x\ncontexts: []\n", "context 'x' not found"},
		{"current-context: t\ncontexts: [{name: t, context: {cluster: c}}]\nclusters: []\n",
		    "cluster 'c' has no server"},
		{"current-context: t\ncontexts: [{name: t, context: {cluster: c, user: u}}]\n"
		    "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		    "users: [{name: u, user: {exec: {command: aws}}}]\n",
		    "uses an exec or auth-provider plugin"},
		{"current-context: t\ncontexts: [{name: t, context: {cluster: c}}]\n"
		    "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority-data: "
		    "'not base64!'}}]\n", "certificate-authority-data is not valid base64"},
		{"current-context: [unclosed\n", "invalid YAML"},
	};
	struct kube_client *c;
	struct pg_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("row %zu\n", i);
		assert_int_not_equal(kube_client_from_kubeconfig(write_file("e.yaml", rows[i].text), &c,
		    &err), PG_OK);
		assert_null(c);
		assert_contains(err.msg, rows[i].message);
	}
	assert_int_equal(kube_client_from_kubeconfig("/nonexistent/kubeconfig", &c, &err), PG_ERR_IO);
	assert_contains(err.msg, "unable to open '/nonexistent/kubeconfig'");
}

static void
test_in_cluster(void **state)
{
	struct kube_client *c;
	struct pg_error err;

	(void)state;
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_client_in_cluster(dir, &c, &err), PG_ERR_INVALID);
	assert_contains(err.msg, "not running in a cluster");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	write_file("token", "t0\n");
	assert_int_equal(kube_client_in_cluster(dir, &c, &err), PG_OK);
	assert_string_equal(kube_client_server(c), "https://10.96.0.1:443");
	kube_client_free(c);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	assert_int_equal(kube_client_in_cluster(dir, &c, &err), PG_OK);
	assert_string_equal(kube_client_server(c), "https://[fd00::1]:443");
	kube_client_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_and_data),
		cmocka_unit_test(test_token_file_relative),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_in_cluster),
	};

	return cmocka_run_group_tests_name("kube", tests, setup, teardown);
}
