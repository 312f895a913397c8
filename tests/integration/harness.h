/*
 * harness.h - integration test helpers: run the real poolguard binary, start
 * the real TLS server on a free port, and speak HTTPS to it with libcurl.
 */
#ifndef POOLGUARD_HARNESS_H
#define POOLGUARD_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

/* The binary under test: build/poolguard, or $POOLGUARD_BIN (the sanitizer build). */
static inline const char *
harness_bin(void)
{
	const char *bin = getenv("POOLGUARD_BIN");

	return bin && bin[0] ? bin : "build/poolguard";
}

#define POOLGUARD_BIN harness_bin()

/*
 * With POOLGUARD_VALGRIND set, the binary runs under valgrind memcheck: an
 * error makes it exit 99, and what valgrind says goes to
 * build/test-logs/memcheck-PID.log for the Makefile to check.
 */
static inline void
harness_exec(const char *const *argv)
{
	const char *wrapped[80];
	int i = 0, j;

	if (getenv("POOLGUARD_VALGRIND") && strcmp(argv[0], harness_bin()) == 0) {
		wrapped[i++] = "/usr/bin/valgrind";
		wrapped[i++] = "-q";
		wrapped[i++] = "--leak-check=full";
		wrapped[i++] = "--errors-for-leak-kinds=definite";
		wrapped[i++] = "--error-exitcode=99";
		wrapped[i++] = "--log-file=build/test-logs/memcheck-%p.log";
		for (j = 0; argv[j] && i < 79; j++)
			wrapped[i++] = argv[j];
		wrapped[i] = NULL;
		argv = wrapped;
	}
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

#define assert_contains(haystack, needle) do { \
	const char *h_ = (haystack), *n_ = (needle); \
	if (h_ == NULL || strstr(h_, n_) == NULL) \
		fail_msg("expected \"%s\" in \"%s\"", n_, h_ ? h_ : "(null)"); \
} while (0)

struct buffer {
	char *data;
	size_t len;
};

static inline char *
harness_slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *data;
	long n;

	if (fp == NULL)
		return strdup("");
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	data = calloc(1, (size_t)n + 1);
	if (fread(data, 1, (size_t)n, fp) != (size_t)n)
		n = 0;
	fclose(fp);
	return data;
}

static inline void
harness_write(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	fclose(fp);
}

/* A new temporary directory, removed by harness_rmdir(). */
static inline char *
harness_tmpdir(void)
{
	char *dir = strdup("/tmp/poolguard-test-XXXXXX");

	assert_non_null(mkdtemp(dir));
	return dir;
}

static inline void
harness_rmdir(char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		print_message("could not remove %s\n", dir);
	free(dir);
}

/*
 * Runs argv (NULL-terminated) with stdin from in_path (or /dev/null), waits
 * for it and returns its exit status; *out and *err get what it printed.
 */
static inline int
harness_run(const char *const *argv, const char *in_path, char **out, char **err)
{
	char out_path[] = "/tmp/poolguard-out-XXXXXX", err_path[] = "/tmp/poolguard-err-XXXXXX";
	int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path), status, in_fd;
	pid_t pid;

	assert_true(out_fd >= 0 && err_fd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		in_fd = open(in_path ? in_path : "/dev/null", O_RDONLY);
		dup2(in_fd, 0);
		dup2(out_fd, 1);
		dup2(err_fd, 2);
		harness_exec(argv);
	}
	close(out_fd);
	close(err_fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	*out = harness_slurp(out_path);
	*err = harness_slurp(err_path);
	unlink(out_path);
	unlink(err_path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Makes a CA and serving certificate in dir with the project's script. */
static inline void
harness_certs(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "FORCE=1 sh certs/make-certs.sh '%s' >/dev/null", dir);
	assert_int_equal(system(cmd), 0);
}

struct harness_server {
	pid_t pid;
	unsigned port;
	char log_path[512];
	char ca_path[512];
};

/*
 * Starts `poolguard serve` on 127.0.0.1 with a port of its own choosing and
 * the certificate in certdir, plus extra arguments; waits until it logs that
 * it listens. Returns 0, or the exit status when it fails to start.
 */
static inline int
harness_start(struct harness_server *s, const char *certdir, const char *const *extra)
{
	static int started;
	const char *argv[64];
	char cert[512], key[512], *log, *at;
	int i = 0, j, fd, status;
	struct timespec pause = {0, 20 * 1000 * 1000};

	snprintf(cert, sizeof(cert), "%s/serving.crt", certdir);
	snprintf(key, sizeof(key), "%s/serving.key", certdir);
	snprintf(s->ca_path, sizeof(s->ca_path), "%s/ca.crt", certdir);
	snprintf(s->log_path, sizeof(s->log_path), "%s/server-%d-%d.log", certdir, (int)getpid(),
	    ++started);
	argv[i++] = POOLGUARD_BIN;
	argv[i++] = "serve";
	argv[i++] = "--listen";
	argv[i++] = "127.0.0.1:0";
	argv[i++] = "--tls-cert";
	argv[i++] = cert;
	argv[i++] = "--tls-key";
	argv[i++] = key;
	for (j = 0; extra && extra[j] && i < 62; j++)
		argv[i++] = extra[j];
	argv[i] = NULL;
	s->port = 0;
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		/* Dies with the test, and keeps no pipe of the test's open. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		harness_exec(argv);
	}
	for (i = 0; i < 1500; i++) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		}
		log = harness_slurp(s->log_path);
		at = strstr(log, "\"event\":\"listening\"");
		if (at && (at = strstr(at, "\"port\":")) != NULL) {
			s->port = (unsigned)strtoul(at + 7, NULL, 10);
			free(log);
			return 0;
		}
		free(log);
		nanosleep(&pause, NULL);
	}
	fail_msg("the server did not start within 30 s");
	return -1;
}

/* Sends SIGTERM and returns the exit status. */
static inline int
harness_stop(struct harness_server *s)
{
	int status, i;
	struct timespec pause = {0, 10 * 1000 * 1000};

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	for (i = 0; i < 2000; i++) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		nanosleep(&pause, NULL);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	s->pid = 0;
	fail_msg("the server did not stop within 20 s of SIGTERM");
	return -1;
}

static inline size_t
harness_collect(char *data, size_t size, size_t n, void *arg)
{
	struct buffer *b = arg;
	char *grown = realloc(b->data, b->len + size * n + 1);

	if (grown == NULL)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, data, size * n);
	b->len += size * n;
	b->data[b->len] = '\0';
	return size * n;
}

struct harness_response {
	long status;		/* 0 when the request failed */
	CURLcode curl;
	char *body;
	char *headers;
};

static inline void
harness_response_free(struct harness_response *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

/*
 * One HTTPS request to the server: method, path, content type (NULL: none),
 * body (NULL: none). setup, if given, adjusts the handle before it runs.
 */
static inline struct harness_response
harness_request_with(const struct harness_server *s, const char *method, const char *path,
    const char *content_type, const char *body, size_t len, void (*setup)(CURL *))
{
	struct harness_response r;
	struct buffer out = {NULL, 0}, hdr = {NULL, 0};
	struct curl_slist *headers = NULL;
	char url[256], header[256];
	CURL *curl = curl_easy_init();

	memset(&r, 0, sizeof(r));
	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", s->port, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CAINFO, s->ca_path);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
	if (body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (content_type) {
		snprintf(header, sizeof(header), "Content-Type: %s", content_type);
		headers = curl_slist_append(headers, header);
	} else
		headers = curl_slist_append(headers, "Content-Type:");
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, harness_collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, harness_collect);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &hdr);
	if (setup)
		setup(curl);
	r.curl = curl_easy_perform(curl);
	if (r.curl == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
	r.body = out.data ? out.data : strdup("");
	r.headers = hdr.data ? hdr.data : strdup("");
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return r;
}

static inline struct harness_response
harness_request(const struct harness_server *s, const char *method, const char *path,
    const char *content_type, const char *body)
{
	return harness_request_with(s, method, path, content_type, body, body ? strlen(body) : 0,
	    NULL);
}

static inline struct harness_response
harness_post_json(const struct harness_server *s, const char *body)
{
	return harness_request(s, "POST", "/validate", "application/json", body);
}

/* The worked-numbers budget: role limit 200, cluster max 300, reserved 3, warn at 80%. */
static const char harness_budget_worked[] =
    "cluster:\n"
    "  name: shared-postgres\n"
    "  maxConnections: 300\n"
    "  reservedConnections: 3\n"
    "warnPercent: 80\n"
    "enforcement: deny\n"
    "defaultPoolSize: 10\n"
    "roles:\n"
    "  - name: synergyflow_app\n"
    "    connectionLimit: 200\n"
    "    namespaces: [synergyflow]\n";

/* Role limit 300, cluster max 200. */
static const char harness_budget_small_cluster[] =
    "cluster: {name: shared-postgres, maxConnections: 200, reservedConnections: 3}\n"
    "roles:\n"
    "  - name: synergyflow_app\n"
    "    connectionLimit: 300\n"
    "    namespaces: [synergyflow]\n";

/* A Deployment manifest with replicas x pool; pool NULL sets no variable. */
static inline void
harness_deployment_yaml(char *buf, size_t size, const char *name, long replicas,
    const char *pool)
{
	char env[256] = "";

	if (pool)
		snprintf(env, sizeof(env), "          env:\n"
		    "            - name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\n"
		    "              value: \"%s\"\n", pool);
	snprintf(buf, size, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n"
	    "  namespace: synergyflow\nspec:\n  replicas: %ld\n  selector:\n    matchLabels: "
	    "{app: %s}\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n"
	    "      containers:\n        - name: app\n          image: nginx\n%s", name, replicas,
	    name, name, env);
}

/* An AdmissionReview CREATE of a Deployment with replicas x pool. */
static inline char *
harness_create_review(const char *uid, const char *name, long replicas, const char *pool)
{
	char *buf = malloc(4096);

	snprintf(buf, 4096, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
	    "\"request\":{\"uid\":\"%s\",\"kind\":{\"group\":\"apps\",\"version\":\"v1\",\"kind\":"
	    "\"Deployment\"},\"resource\":{\"group\":\"apps\",\"version\":\"v1\",\"resource\":"
	    "\"deployments\"},\"namespace\":\"synergyflow\",\"name\":\"%s\",\"operation\":\"CREATE\","
	    "\"userInfo\":{\"username\":\"dev\"},\"object\":{\"apiVersion\":\"apps/v1\",\"kind\":"
	    "\"Deployment\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"synergyflow\"},\"spec\":"
	    "{\"replicas\":%ld,\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},\"template\":"
	    "{\"metadata\":{\"labels\":{\"app\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":\"app\","
	    "\"image\":\"nginx\",\"env\":[{\"name\":\"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\","
	    "\"value\":\"%s\"}]}]}}}},\"oldObject\":null,\"dryRun\":false}}", uid, name, name,
	    replicas, name, name, pool);
	return buf;
}

/* The worked numbers: replicas, pool, budget, allowed, warned, and text the answer holds. */
struct harness_worked_row {
	long replicas;
	const char *pool;
	const char *budget;
	int allowed;
	int warned;
	const char *text;
};

static const struct harness_worked_row harness_worked_rows[] = {
	{3, "20", harness_budget_worked, 1, 0, NULL},
	{6, "20", harness_budget_worked, 1, 0, NULL},
	{10, "15", harness_budget_worked, 1, 0, NULL},
	{10, "18", harness_budget_worked, 1, 1, "at 180 of 200 connections (90%)"},
	{10, "20", harness_budget_worked, 1, 1, "at 200 of 200 connections (100%)"},
	{11, "20", harness_budget_worked, 0, 0, "would use 220 of 200 connections (110%), 20 over"},
	{10, "20", harness_budget_small_cluster, 0, 0,
	    "cluster 'shared-postgres' would use 203 of 200 connections (102%), 3 over"},
};

#define HARNESS_WORKED_ROWS (sizeof(harness_worked_rows) / sizeof(harness_worked_rows[0]))

#endif
