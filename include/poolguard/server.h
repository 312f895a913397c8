/*
 * server.h - the HTTPS server: libmicrohttpd with TLS, routing, body caps,
 * deadlines and the memory budget of requests.
 *
 * Routes: POST /validate (handed to the validate callback), GET /healthz,
 * GET /readyz, GET /metrics. The errors the server decides are JSON: 404
 * unknown path, 405 wrong method, 415 a content type other than JSON, 403 no
 * client certificate (with a client CA), 413 a body over the cap or too large
 * to parse within the memory budget, 503 with Retry-After when the requests
 * in flight hold the budget. libmicrohttpd answers the requests it cannot
 * parse itself (bad Content-Length, oversized headers, unknown HTTP versions)
 * with its own HTML bodies. The server never exits on a request.
 */
#ifndef POOLGUARD_SERVER_H
#define POOLGUARD_SERVER_H

#include <stddef.h>
#include <time.h>

#include "poolguard/error.h"

#define SERVER_DEFAULT_LISTEN ":8443"
#define SERVER_DEFAULT_BODY_CAP (4 * 1024 * 1024)
#define SERVER_DEFAULT_CONNECTIONS 1000
#define SERVER_DEFAULT_IDLE_TIMEOUT 30
#define SERVER_DEFAULT_REQUEST_TIMEOUT 10
#define SERVER_DEFAULT_MEMORY (32 * 1024 * 1024)

/*
 * Called for each complete POST /validate body. Sets *status (200, or 400 for
 * a body that is no AdmissionReview) and *response, a NUL-terminated JSON
 * string allocated with malloc() that the server frees. Called from several
 * threads at once.
 */
typedef void (*server_validate_fn)(void *ctx, const char *body, size_t len, int *status,
    char **response);

struct server_options {
	const char *listen;		/* "host:port", ":port" (all addresses), "[::1]:port" */
	const char *cert_file;
	const char *key_file;
	const char *client_ca_file;	/* POST /validate needs a client certificate it signed */
	size_t body_cap;
	unsigned threads;		/* 0: one per core */
	unsigned connection_limit;
	unsigned per_ip_limit;		/* connections one client address may hold; 0: half the limit */
	unsigned connection_timeout;	/* seconds a connection may idle */
	/*
	 * Seconds a request may take to arrive whole (TLS handshake, head and
	 * body): counted from the connection's start for its first request;
	 * on a kept-alive connection the next request line must come within
	 * connection_timeout of the last answer, however many bytes trickle
	 * in, and the request must then be whole within request_timeout of it.
	 * A connection past its deadline is closed.
	 */
	unsigned request_timeout;
	/*
	 * Bytes that the bodies and parsed JSON trees of all requests in flight
	 * may hold together (arena.h); at least twice body_cap. 0: the default.
	 */
	size_t memory_budget;
	server_validate_fn validate;
	/* /readyz: 1 ready, 0 not (503), and *body a JSON object to answer (or NULL); NULL: always */
	int (*ready)(void *ctx, char **body);
	char *(*metrics)(void *ctx);		/* GET /metrics: a malloc()ed text, or NULL: 500 */
	void *ctx;
};

struct server;

/*
 * Checks the certificate and key, binds and starts serving in background
 * threads. On success *out is the running server and its port is known
 * (server_port), so ":0" picks a free one. err says what failed.
 */
int server_start(const struct server_options *opts, struct server **out, struct pg_error *err);

/* The port the server listens on. */
unsigned server_port(const struct server *srv);

/*
 * Loads the certificate and key files again and uses them for new
 * handshakes; connections already open keep theirs. On failure (a key that
 * does not match, an expired certificate) the old pair stays and err says why.
 */
int server_reload_certificate(struct server *srv, struct pg_error *err);

/* When the serving certificate expires. */
time_t server_certificate_expiry(const struct server *srv);

/*
 * Stops accepting connections, waits up to grace_ms for requests in flight
 * to finish, then stops and frees the server. server_stop(NULL, ...) does nothing.
 */
void server_stop(struct server *srv, unsigned grace_ms);

#endif
