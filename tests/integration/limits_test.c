/*
 * limits_test.c - the server under connections that do nothing or trickle,
 * at its connection cap and per-address limit, under bodies built to cost the
 * most memory, against requests libmicrohttpd refuses itself, and client
 * certificates (--client-ca).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "integration/harness.h"

static char *dir;
static char budget[512];
static SSL_CTX *tls_ctx;

static int
group_setup(void **state)
{
	struct rlimit files;
	char ca[600];

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	dir = harness_tmpdir();
	harness_certs(dir);
	snprintf(budget, sizeof(budget), "%s/budget.yaml", dir);
	harness_write(budget, harness_budget_worked);
	/* A thousand connections, here and in the server this process starts. */
	if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
		files.rlim_cur = files.rlim_max;
		setrlimit(RLIMIT_NOFILE, &files);
	}
	signal(SIGPIPE, SIG_IGN);	/* a write to a connection the server closed */
	tls_ctx = SSL_CTX_new(TLS_client_method());
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	assert_int_equal(SSL_CTX_load_verify_locations(tls_ctx, ca, NULL), 1);
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	SSL_CTX_free(tls_ctx);
	harness_rmdir(dir);
	curl_global_cleanup();
	return 0;
}

/* A TLS connection of our own, for what libcurl will not send: partial heads, trickles. */
struct tls_conn {
	int fd;
	SSL *ssl;
};

/*
 * Connects from source (an address of 127.0.0.0/8, or NULL) to the server and
 * completes the TLS handshake within 5 s. Returns 0, or -1 when the server
 * refused or dropped the connection.
 */
static int
tls_open(struct tls_conn *c, const char *source, unsigned port)
{
	struct sockaddr_in addr;
	struct timeval limit = {5, 0};

	memset(c, 0, sizeof(*c));
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	if (source) {
		inet_pton(AF_INET, source, &addr.sin_addr);
		if (bind(c->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
			goto fail;
	}
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		goto fail;
	if ((c->ssl = SSL_new(tls_ctx)) == NULL)
		goto fail;
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, "localhost");
	if (SSL_connect(c->ssl) != 1)
		goto fail;
	return 0;
fail:
	ERR_clear_error();
	SSL_free(c->ssl);
	close(c->fd);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	return -1;
}

static int
tls_send(struct tls_conn *c, const char *data, size_t len)
{
	if (c->ssl == NULL || SSL_write(c->ssl, data, (int)len) != (int)len) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* Reads what the server sends until it closes or ms pass; a new string. */
static char *
tls_read_all(struct tls_conn *c, int ms)
{
	struct buffer b = {calloc(1, 1), 0};
	struct pollfd p = {c->fd, POLLIN, 0};
	char chunk[16384];
	int n;

	while (c->ssl && (SSL_pending(c->ssl) > 0 || poll(&p, 1, ms) == 1)) {
		if ((n = SSL_read(c->ssl, chunk, sizeof(chunk))) <= 0)
			break;
		harness_collect(chunk, 1, (size_t)n, &b);
	}
	ERR_clear_error();
	return b.data;
}

/* 1 when the server has closed the connection (an end of stream, or a reset). */
static int
tls_closed(struct tls_conn *c)
{
	struct pollfd p = {c->fd, POLLIN, 0};
	char byte;

	if (c->ssl == NULL)
		return 1;
	if (poll(&p, 1, 0) != 1)
		return 0;
	if (SSL_read(c->ssl, &byte, 1) <= 0) {
		ERR_clear_error();
		return 1;
	}
	return 0;
}

static void
tls_close(struct tls_conn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Under valgrind or the sanitizers the server is many times slower and larger. */
static int
instrumented(void)
{
	return getenv("POOLGUARD_VALGRIND") != NULL || strstr(harness_bin(), "asan") != NULL;
}

/* kB of a field of /proc/PID/status (VmHWM, VmRSS), or -1. */
static long
proc_status_kb(pid_t pid, const char *field)
{
	char path[64], text[4096], *at;
	size_t n = 0, got;
	long kb = -1;
	FILE *fp;

	/* Read to the end: a /proc file has no size to seek to. */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (n + 1 < sizeof(text) && (got = fread(text + n, 1, sizeof(text) - 1 - n, fp)) > 0)
		n += got;
	fclose(fp);
	text[n] = '\0';
	if ((at = strstr(text, field)) != NULL)
		kb = strtol(at + strlen(field) + 1, NULL, 10);
	return kb;
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
	struct sockaddr_in addr, from;
	int fds[IDLE], i, open_count = 0;
	double start, took, limit;
	char *body;

	(void)state;
	assert_int_equal(harness_start(&s, dir, extra), 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)s.port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&from, 0, sizeof(from));
	from.sin_family = AF_INET;
	for (i = 0; i < IDLE; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
		/*
		 * From 127.0.0.2 and .3, so the real request from 127.0.0.1 is not
		 * refused by the per-address limit (500, half the default cap).
		 */
		inet_pton(AF_INET, i % 4 < 2 ? "127.0.0.2" : "127.0.0.3", &from.sin_addr);
		assert_int_equal(bind(fds[i], (struct sockaddr *)&from, sizeof(from)), 0);
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

static const char partial_head[] = "POST /validate HTTP/1.1\r\nHost: x\r\n"
    "Content-Type: application/json\r\n";

/* Sends one byte on each of its connections every 500 ms until stop is set. */
struct trickler {
	struct tls_conn *conns;
	int count;
	atomic_int stop;
	pthread_t thread;
};

static void *
trickle(void *arg)
{
	struct trickler *t = arg;
	int i;

	while (!atomic_load(&t->stop)) {
		for (i = 0; i < t->count; i++)
			if (t->conns[i].ssl && tls_send(&t->conns[i], "X", 1) != 0)
				tls_close(&t->conns[i]);	/* the server closed it */
		usleep(500000);
	}
	return NULL;
}

static long
metric_value(const char *text, const char *series)
{
	const char *at = strstr(text, series);

	return at ? strtol(at + strlen(series), NULL, 10) : -1;
}

/*
 * The report's slowloris at the limit, scaled down: every slot of a server
 * capped at 20 connections held by clients that send a byte of their head
 * every 500 ms, which an idle timeout never ends. A real request must still
 * be answered, once the deadline (--request-timeout 2) has closed them.
 */
static void
test_trickling_clients_at_the_connection_cap(void **state)
{
	enum { CAP = 20, DEADLINE = 2 };
	const char *extra[] = {"--config", budget, "--max-connections", "20",
	    "--max-connections-per-ip", "20", "--request-timeout", "2", "--threads", "2", NULL};
	struct tls_conn conns[CAP];
	struct trickler t;
	struct harness_server s;
	struct harness_response r;
	double start, took, limit, opened;
	int i, closed = 0;
	char *body;

	(void)state;
	assert_int_equal(harness_start(&s, dir, extra), 0);
	for (i = 0; i < CAP; i++) {
		assert_int_equal(tls_open(&conns[i], NULL, s.port), 0);
		assert_int_equal(tls_send(&conns[i], partial_head, strlen(partial_head)), 0);
	}
	opened = now_ms();
	memset(&t, 0, sizeof(t));
	t.conns = conns;
	t.count = CAP;
	assert_int_equal(pthread_create(&t.thread, NULL, trickle, &t), 0);
	body = harness_create_review("at-cap", "api", 3, "20");
	start = now_ms();
	r = harness_post_json(&s, body);
	took = now_ms() - start;
	print_message("%d trickling connections at a cap of %d: a real request answered in "
	    "%.0f ms (status %ld)\n", CAP, CAP, took, r.status);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"uid\":\"at-cap\",\"allowed\":true");
	limit = (DEADLINE + (instrumented() ? 8 : 2)) * 1000.0;
	assert_true(took < limit);
	harness_response_free(&r);
	/* The last trickler opened latest: each is cut within its own deadline, plus a little. */
	while (closed < CAP && now_ms() < opened + limit) {
		usleep(100000);
		for (i = 0, closed = 0; i < CAP; i++)
			closed += conns[i].ssl == NULL || tls_closed(&conns[i]);
	}
	atomic_store(&t.stop, 1);
	pthread_join(t.thread, NULL);
	for (i = 0; i < CAP; i++)
		tls_close(&conns[i]);
	assert_int_equal(closed, CAP);
	r = harness_request(&s, "GET", "/metrics", NULL, NULL);
	assert_true(metric_value(r.body,
	    "poolguard_requests_refused_total{reason=\"request_timeout\"} ") >= CAP);
	harness_response_free(&r);
	free(body);
	assert_int_equal(harness_stop(&s), 0);
}

/* Reads until text arrives or ms pass; 1 when it came. */
static int
tls_read_until(struct tls_conn *c, const char *text, int ms)
{
	struct buffer b = {calloc(1, 1), 0};
	struct pollfd p = {c->fd, POLLIN, 0};
	double end = now_ms() + ms;
	char chunk[4096];
	int n, found = 0;

	while (!found && now_ms() < end) {
		if (SSL_pending(c->ssl) == 0 && poll(&p, 1, 100) != 1)
			continue;
		if ((n = SSL_read(c->ssl, chunk, sizeof(chunk))) <= 0)
			break;
		harness_collect(chunk, 1, (size_t)n, &b);
		found = strstr(b.data, text) != NULL;
	}
	ERR_clear_error();
	free(b.data);
	return found;
}

/*
 * After an answer a kept-alive connection waits for its next request line no
 * longer than the idle timeout, even when bytes of it trickle in: each byte
 * used to start the idle timeout again.
 */
static void
test_kept_alive_trickle_cut_at_idle_timeout(void **state)
{
	const char *extra[] = {"--config", budget, "--request-timeout", "2", "--idle-timeout", "3",
	    NULL};
	static const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char next[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
	struct harness_server s;
	struct tls_conn c;
	double answered, cut = 0;
	size_t i;

	(void)state;
	assert_int_equal(harness_start(&s, dir, extra), 0);
	assert_int_equal(tls_open(&c, NULL, s.port), 0);
	assert_int_equal(tls_send(&c, get, strlen(get)), 0);
	assert_true(tls_read_until(&c, "\"status\":\"ok\"", 5000));
	answered = now_ms();
	/* One byte of the next request every 250 ms: 8 s for all of it. */
	for (i = 0; i < strlen(next) && cut == 0; i++) {
		usleep(250000);
		if (tls_send(&c, next + i, 1) != 0 || tls_closed(&c))
			cut = now_ms() - answered;
	}
	print_message("kept alive and trickling: closed %.0f ms after the answer\n", cut);
	assert_true(cut > 2500 && cut < (instrumented() ? 7000 : 4500));
	tls_close(&c);
	assert_int_equal(harness_stop(&s), 0);
}

/* A slow client that still sends its request whole within the deadline is answered. */
static void
test_slow_request_within_deadline(void **state)
{
	const char *extra[] = {"--config", budget, "--request-timeout", instrumented() ? "15" : "3",
	    NULL};
	struct harness_server s;
	struct tls_conn c;
	char head[256], *body = harness_create_review("slow", "api", 3, "20");
	size_t len = strlen(body), part = len / 4 + 1, off;

	(void)state;
	assert_int_equal(harness_start(&s, dir, extra), 0);
	assert_int_equal(tls_open(&c, NULL, s.port), 0);
	snprintf(head, sizeof(head), "%sContent-Length: %zu\r\n\r\n", partial_head, len);
	assert_int_equal(tls_send(&c, head, strlen(head)), 0);
	for (off = 0; off < len; off += part) {
		usleep(300000);
		assert_int_equal(tls_send(&c, body + off, len - off < part ? len - off : part), 0);
	}
	assert_true(tls_read_until(&c, "\"uid\":\"slow\",\"allowed\":true",
	    instrumented() ? 20000 : 5000));
	tls_close(&c);
	free(body);
	assert_int_equal(harness_stop(&s), 0);
}

/*
 * One client address may hold at most half the connections by default (4 of
 * --max-connections 8); another address still gets in.
 */
static void
test_connections_per_address(void **state)
{
	const char *extra[] = {"--config", budget, "--max-connections", "8", NULL};
	const char *too_many[] = {POOLGUARD_BIN, "serve", "--config", budget, "--tls-cert", "x",
	    "--tls-key", "x", "--max-connections", "8", "--max-connections-per-ip", "9", NULL};
	struct harness_server s;
	struct tls_conn mine[5], other;
	char *out, *err;
	int i, again = -1;

	(void)state;
	assert_int_equal(harness_start(&s, dir, extra), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(tls_open(&mine[i], NULL, s.port), 0);
	assert_int_equal(tls_open(&mine[4], NULL, s.port), -1);
	assert_int_equal(tls_open(&other, "127.0.0.2", s.port), 0);
	/* A slot freed is a slot again. */
	tls_close(&mine[0]);
	for (i = 0; i < 40 && again != 0; i++) {
		usleep(50000);
		again = tls_open(&mine[0], NULL, s.port);
	}
	assert_int_equal(again, 0);
	for (i = 0; i < 4; i++)
		tls_close(&mine[i]);
	tls_close(&other);
	assert_int_equal(harness_stop(&s), 0);
	assert_int_equal(harness_run(too_many, NULL, &out, &err), 2);
	assert_contains(err, "--max-connections-per-ip 9 is more than --max-connections 8");
	free(out);
	free(err);
}

/*
 * An AdmissionReview of about size bytes that allows a Deployment, padded
 * with request.x: zeros ([0,0,...], the most cJSON nodes a byte can buy, 2
 * bytes for 64), or env-like objects ({"name":"V1","value":"1"}, the shape of
 * a real object with a huge env list).
 */
static char *
padded_review(size_t size, int zeros)
{
	char *head = harness_create_review("big", "api", 3, "20"), *buf = malloc(size + 64);
	size_t len = strlen(head) - 2, n = 0;	/* without the closing "}}" */
	int i = 0;

	memcpy(buf, head, len);
	n = len;
	n += (size_t)snprintf(buf + n, 16, ",\"x\":[");
	while (n + 40 < size) {
		if (zeros) {
			memcpy(buf + n, "0,", 2);
			n += 2;
		} else
			n += (size_t)snprintf(buf + n, 40, "{\"name\":\"V%d\",\"value\":\"1\"},", i++);
	}
	memcpy(buf + n, "0]}}", 5);
	free(head);
	return buf;
}

struct poster {
	const struct harness_server *server;
	const char *body;
	int retries;		/* on 503, as the API server's client does with Retry-After */
	long status;
	int json;		/* the answer was JSON */
	int retry_after;	/* a 503 carried Retry-After */
	pthread_t thread;
};

static void *
post_body(void *arg)
{
	struct poster *p = arg;
	struct harness_response r;
	int attempt;

	for (attempt = 0; attempt <= p->retries; attempt++) {
		r = harness_post_json(p->server, p->body);
		p->status = r.status;
		p->json = strstr(r.headers, "Content-Type: application/json") != NULL &&
		    strstr(r.body, "\"code\":") != NULL;
		if (r.status == 503)
			p->retry_after = strstr(r.headers, "Retry-After: 1") != NULL;
		harness_response_free(&r);
		if (p->status != 503)
			break;
		usleep(200000);
	}
	return NULL;
}

/* Posts body from n threads at once, each retrying a 503 up to retries times. */
static void
post_parallel(struct poster *p, int n, const struct harness_server *s, const char *body,
    int retries)
{
	int i;

	for (i = 0; i < n; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].server = s;
		p[i].body = body;
		p[i].retries = retries;
		assert_int_equal(pthread_create(&p[i].thread, NULL, post_body, &p[i]), 0);
	}
	for (i = 0; i < n; i++)
		pthread_join(p[i].thread, NULL);
}

/* 1 when the binary under test lists flag in its usage text. */
static int
binary_knows(const char *flag)
{
	const char *argv[] = {POOLGUARD_BIN, "help", NULL};
	char *out, *err;
	int known;

	harness_run(argv, NULL, &out, &err);
	known = strstr(out, flag) != NULL;
	free(out);
	free(err);
	return known;
}

/*
 * The worst legal input at the connection cap of the shipped Deployment
 * (manifests/base/deployment.yaml: --max-connections 512, 256 per address,
 * --threads 2, limits.memory 128Mi): every slot but eight held by a
 * connection with a 28 KB header in progress (what libmicrohttpd's 32 KiB
 * pool per connection lets through) from 127.0.0.2 and .3, and eight 4 MiB
 * bodies of zeros at once, which cJSON would turn into trees of 130 MB each.
 * The peak (VmHWM) must leave a quarter of the 128Mi for the inventory: under
 * 96 MiB. Bodies shaped like a huge real object are then still judged.
 * Flags the binary does not know are left out (the deadline is raised so
 * slow handshakes on a busy machine keep their slots), so the same test
 * measures an older build (README, Limits).
 */
static void
test_memory_under_hostile_bodies(void **state)
{
	enum { CAP = 512, HOSTILE = 8, LEGIT = 4 };
	/* Under valgrind a 4 MiB parse takes many seconds: fewer, smaller bodies, same paths. */
	int hostile = instrumented() ? 2 : HOSTILE;
	const char *size = instrumented() ? "1 MiB" : "4 MiB";
	const char *extra[16] = {"--config", budget, NULL};
	struct poster p[HOSTILE];
	struct harness_server s;
	struct tls_conn *fill;
	int fillers = instrumented() ? 10 : CAP - HOSTILE, open_count = 0, i, j, n = 2;
	char *pad = malloc(28001), *zeros, *legit;
	long rest, peak, after;
	double start;

	(void)state;
	if (binary_knows("--request-timeout")) {
		const char *more[] = {"--max-connections", "512", "--max-connections-per-ip", "256",
		    "--threads", "2", "--request-timeout", "120", NULL};

		for (i = 0; more[i]; i++)
			extra[n++] = more[i];
		extra[n] = NULL;
	}
	memset(pad, 'a', 28000);
	pad[28000] = '\0';
	zeros = padded_review(instrumented() ? 1024 * 1024 + 4096 : 4 * 1024 * 1024 - 1024, 1);
	legit = padded_review(1024 * 1024, 0);
	fill = calloc((size_t)fillers, sizeof(*fill));
	assert_int_equal(harness_start(&s, dir, extra), 0);
	rest = proc_status_kb(s.pid, "VmRSS");
	start = now_ms();
	for (i = 0; i < fillers; i++)
		if (tls_open(&fill[i], i % 2 ? "127.0.0.3" : "127.0.0.2", s.port) == 0 &&
		    tls_send(&fill[i], partial_head, strlen(partial_head)) == 0 &&
		    tls_send(&fill[i], "X-Pad: ", 7) == 0 && tls_send(&fill[i], pad, 28000) == 0)
			open_count++;
	print_message("%d filler connections open after %.0f ms, VmRSS %ld kB (at rest %ld kB)\n",
	    open_count, now_ms() - start, proc_status_kb(s.pid, "VmRSS"), rest);
	post_parallel(p, hostile, &s, zeros, 0);
	for (i = 0; i < hostile; i++)
		print_message("%s of zeros #%d: %ld%s\n", size, i, p[i].status, p[i].json ?
		    ", JSON" : "");
	peak = proc_status_kb(s.pid, "VmHWM");
	print_message("%d bodies of %s of zeros at once, %d connections open: VmHWM %ld kB "
	    "(%.1f MiB)\n", hostile, size, open_count + hostile, peak, peak / 1024.0);
	for (i = 0, j = 0; i < fillers; i++) {
		j += fill[i].ssl != NULL && !tls_closed(&fill[i]);
		tls_close(&fill[i]);
	}
	print_message("%d filler connections were still open then\n", j);
	post_parallel(p + HOSTILE - LEGIT, LEGIT, &s, legit, 10);
	for (i = HOSTILE - LEGIT; i < HOSTILE; i++)
		print_message("1 MiB env-like body: %ld\n", p[i].status);
	usleep(300000);
	after = proc_status_kb(s.pid, "VmRSS");
	print_message("VmHWM %ld kB at the end; VmRSS %ld kB once all are answered\n",
	    proc_status_kb(s.pid, "VmHWM"), after);
	for (i = 0; i < hostile && i < HOSTILE - LEGIT; i++) {
		assert_true(p[i].status == 413 || p[i].status == 503);
		assert_true(p[i].json);
		if (p[i].status == 503)
			assert_true(p[i].retry_after);
	}
	for (i = HOSTILE - LEGIT; i < HOSTILE; i++)
		assert_int_equal(p[i].status, 200);
	if (!instrumented()) {
		assert_true(open_count == fillers && j == fillers);
		assert_true(peak < 96 * 1024);
	}
	free(fill);
	free(pad);
	free(zeros);
	free(legit);
	assert_int_equal(harness_stop(&s), 0);
}

/*
 * The requests libmicrohttpd refuses before poolguard sees them get its own
 * HTML bodies, and the connection is closed; the README (Limits) lists them.
 * This pins each status so the list stays true; poolguard's own refusal of a
 * huge Content-Length is JSON. The server keeps serving.
 */
static void
test_library_answers(void **state)
{
	static const struct {
		const char *what;
		const char *head;
		const char *status;
		int json;
	} rows[] = {
		{"Content-Length far over the cap (poolguard)", "POST /validate HTTP/1.1\r\nHost: x\r\n"
		    "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n",
		    "HTTP/1.1 413 ", 1},
		{"Content-Length -1", "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		    "HTTP/1.1 400 ", 0},
		{"Content-Length over 2^64", "POST /validate HTTP/1.1\r\nHost: x\r\n"
		    "Content-Length: 99999999999999999999999\r\n\r\n", "HTTP/1.1 413 ", 0},
		{"bad chunk size", "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
		    "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "HTTP/1.1 400 ", 0},
		{"HTTP/2.0 in text", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505 ", 0},
		{"header section over 32 KiB", NULL, "HTTP/1.1 431 ", 0},
		{"request line over 32 KiB", NULL, "HTTP/1.1 414 ", 0},
	};
	const char *extra[] = {"--config", budget, NULL};
	struct harness_server s;
	struct harness_response r;
	struct tls_conn c;
	char *big = malloc(40000 + 256), *answer, *at;
	size_t i;
	int heads;

	(void)state;
	assert_int_equal(harness_start(&s, dir, extra), 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (rows[i].head == NULL) {
			static const char h_start[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ";
			static const char h_end[] = "\r\n\r\n";
			static const char l_start[] = "GET /";
			static const char l_end[] = " HTTP/1.1\r\nHost: x\r\n\r\n";
			int header = strstr(rows[i].status, "431") != NULL;

			memset(big, 'a', 40000);
			memcpy(big, header ? h_start : l_start, header ? strlen(h_start) :
			    strlen(l_start));
			memcpy(big + 40000, header ? h_end : l_end, header ? sizeof(h_end) :
			    sizeof(l_end));
		}
		assert_int_equal(tls_open(&c, NULL, s.port), 0);
		tls_send(&c, rows[i].head ? rows[i].head : big, strlen(rows[i].head ? rows[i].head :
		    big));
		answer = tls_read_all(&c, 3000);
		tls_close(&c);
		for (heads = 0, at = answer; (at = strstr(at, "HTTP/1.1 ")) != NULL; at++)
			heads++;
		print_message("%s: %.*s, %d status lines, %s body\n", rows[i].what,
		    (int)strcspn(answer, "\r"), answer, heads,
		    strstr(answer, "<html>") ? "HTML" : strstr(answer, "{\"error\"") ? "JSON" : "no");
		assert_true(strncmp(answer, rows[i].status, strlen(rows[i].status)) == 0);
		if (rows[i].json)
			assert_contains(answer, "{\"error\":\"request body too large");
		else
			assert_contains(answer, "<html>");
		/* libmicrohttpd 0.9.75 sends the status line and headers twice here. */
		if (strcmp(rows[i].what, "Content-Length -1") == 0)
			assert_int_equal(heads, 2);
		free(answer);
	}
	r = harness_request(&s, "GET", "/healthz", NULL, NULL);
	assert_int_equal(r.status, 200);
	harness_response_free(&r);
	free(big);
	assert_int_equal(harness_stop(&s), 0);
}

/*
 * Issues a certificate signed by the CA in ca_dir into ca_dir/NAME.{crt,key},
 * with the extensions in ext (openssl x509 -extfile lines).
 */
static void
issue_cert(const char *ca_dir, const char *name, const char *ext)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "cd '%s' && printf '%s\\n' > %s.ext && "
	    "openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
	    "-keyout %s.key -out %s.csr -subj /CN=kube-apiserver 2>/dev/null && "
	    "openssl x509 -req -in %s.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
	    "-out %s.crt -days 1 -extfile %s.ext 2>/dev/null", ca_dir, ext, name, name, name, name,
	    name, name);
	assert_int_equal(system(cmd), 0);
}

/* A client certificate signed by the CA in ca_dir, in ca_dir/client.{crt,key}. */
static void
client_cert(const char *ca_dir)
{
	issue_cert(ca_dir, "client", "extendedKeyUsage=clientAuth");
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
	assert_contains(r.body, "a client certificate signed by the configured client CA, for client "
	    "authentication (extended key usage clientAuth), is required");
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
	/*
	 * Signed by the client CA but not for client authentication: the CA's
	 * serving certificate (extended key usage serverAuth) is refused, and so
	 * is one for code signing.
	 */
	snprintf(client_crt, sizeof(client_crt), "%s/serving.crt", trusted);
	snprintf(client_key, sizeof(client_key), "%s/serving.key", trusted);
	r = harness_request_with(&s, "POST", "/validate", "application/json", body, strlen(body),
	    set_client_cert);
	assert_int_equal(r.status, 403);
	assert_contains(r.body, "extended key usage clientAuth");
	harness_response_free(&r);
	issue_cert(trusted, "signer", "extendedKeyUsage=codeSigning");
	snprintf(client_crt, sizeof(client_crt), "%s/signer.crt", trusted);
	snprintf(client_key, sizeof(client_key), "%s/signer.key", trusted);
	r = harness_request_with(&s, "POST", "/validate", "application/json", body, strlen(body),
	    set_client_cert);
	assert_int_equal(r.status, 403);
	harness_response_free(&r);
	/* With clientAuth among other usages, or with no extended key usage at all: answered. */
	issue_cert(trusted, "both", "extendedKeyUsage=serverAuth,clientAuth");
	issue_cert(trusted, "plain", "basicConstraints=CA:FALSE");
	snprintf(client_crt, sizeof(client_crt), "%s/both.crt", trusted);
	snprintf(client_key, sizeof(client_key), "%s/both.key", trusted);
	r = harness_request_with(&s, "POST", "/validate", "application/json", body, strlen(body),
	    set_client_cert);
	assert_int_equal(r.status, 200);
	harness_response_free(&r);
	snprintf(client_crt, sizeof(client_crt), "%s/plain.crt", trusted);
	snprintf(client_key, sizeof(client_key), "%s/plain.key", trusted);
	r = harness_request_with(&s, "POST", "/validate", "application/json", body, strlen(body),
	    set_client_cert);
	assert_int_equal(r.status, 200);
	harness_response_free(&r);
	r = harness_request(&s, "GET", "/metrics", NULL, NULL);
	assert_true(metric_value(r.body,
	    "poolguard_requests_refused_total{reason=\"client_certificate\"} ") >= 3);
	harness_response_free(&r);
	free(body);
	assert_int_equal(harness_stop(&s), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_and_trickling_connections),
		cmocka_unit_test(test_trickling_clients_at_the_connection_cap),
		cmocka_unit_test(test_kept_alive_trickle_cut_at_idle_timeout),
		cmocka_unit_test(test_slow_request_within_deadline),
		cmocka_unit_test(test_connections_per_address),
		cmocka_unit_test(test_memory_under_hostile_bodies),
		cmocka_unit_test(test_library_answers),
		cmocka_unit_test(test_client_ca),
	};

	return cmocka_run_group_tests_name("limits", tests, group_setup, group_teardown);
}
