/*
 * server.c - libmicrohttpd HTTPS daemon, routing, per-request state, request
 * deadlines and the memory budget of request bodies.
 */
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "poolguard/arena.h"
#include "poolguard/fileio.h"
#include "poolguard/log.h"
#include "poolguard/metrics.h"
#include "poolguard/server.h"
#include "poolguard/tlscert.h"

#define SERVER_PEM_MAX (1024 * 1024)
#define SERVER_SETTLE_MS 300
/* TLS 1.2 and 1.3 only, the server's cipher order. */
#define SERVER_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"

#define SERVER_CHAIN_MAX 8
/* A body buffer starts this large (or at its Content-Length, when smaller) and doubles. */
#define SERVER_BODY_FIRST (64 * 1024)
/* How late past its deadline a connection may be closed. */
#define SERVER_WATCH_MS 250

/* A certificate chain and key in GnuTLS's form, as handed to each handshake. */
struct server_cert {
	gnutls_pcert_st chain[SERVER_CHAIN_MAX];
	unsigned int chain_length;
	gnutls_privkey_t key;
	struct server_cert *retired_next;
};

/*
 * The certificate handshakes use. GnuTLS's retrieve callback carries no
 * argument, so this is the one global of the server; it is swapped on
 * reload, and a replaced certificate is kept until the server stops, since a
 * handshake may still be using it.
 */
static _Atomic(struct server_cert *) server_cert_current;
static struct server_cert *server_cert_retired;
static pthread_mutex_t server_cert_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * One open connection, from libmicrohttpd's start notification to its close
 * notification, for the watchdog that closes it when its deadline passes.
 */
struct server_conn {
	struct server_conn *prev, *next;
	MHD_socket fd;
	double deadline;	/* CLOCK_MONOTONIC seconds; 0: none (a request is being answered) */
	int shut;		/* the watchdog has shut it down */
};

struct server {
	struct MHD_Daemon *daemon;
	struct server_options opts;
	char *client_ca_pem;	/* must outlive the daemon */
	unsigned port;
	time_t not_after;
	atomic_int in_flight;
	/* The open connections and the watchdog thread that enforces their deadlines. */
	pthread_mutex_t conn_lock;
	pthread_cond_t conn_wake;
	struct server_conn *conns;
	pthread_t watchdog;
	int watchdog_started;
	int stopping;
};

/* Per-request state, freed in server_completed(). */
struct server_request {
	char *body;
	size_t len;
	size_t alloc;		/* also what the body has charged to the memory budget */
	int status;		/* an error decided before the body is complete, or 0 */
	unsigned long long declared;	/* Content-Length, 0 when absent */
	int route;
};

enum server_route {
	ROUTE_NONE,
	ROUTE_VALIDATE,
	ROUTE_HEALTHZ,
	ROUTE_READYZ,
	ROUTE_METRICS
};

static double
server_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static struct server_conn *
server_conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info;

	info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return info ? info->socket_context : NULL;
}

/*
 * Sets the deadline of conn's connection: to at, or, with earliest, to at
 * only when that comes before the deadline it has; at 0 clears it.
 */
static void
server_conn_deadline(struct server *srv, struct MHD_Connection *conn, double at, int earliest)
{
	struct server_conn *c = server_conn_of(conn);

	if (c == NULL)
		return;
	pthread_mutex_lock(&srv->conn_lock);
	if (!earliest || c->deadline == 0 || at < c->deadline)
		c->deadline = at;
	pthread_mutex_unlock(&srv->conn_lock);
}

/*
 * libmicrohttpd's connection start and close. A new connection must deliver
 * its first request whole within request_timeout. The close notification
 * comes before libmicrohttpd closes the socket, so the watchdog, which shuts
 * sockets down under the same lock, never touches a descriptor that has been
 * closed and perhaps reused.
 */
static void
server_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct server *srv = cls;
	const union MHD_ConnectionInfo *info;
	struct server_conn *c;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (info == NULL || (c = calloc(1, sizeof(*c))) == NULL)
			return;		/* untracked: only the idle timeout applies to it */
		c->fd = info->connect_fd;
		c->deadline = server_now() + srv->opts.request_timeout;
		pthread_mutex_lock(&srv->conn_lock);
		c->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = c;
		srv->conns = c;
		pthread_mutex_unlock(&srv->conn_lock);
		*socket_context = c;
		return;
	}
	if ((c = *socket_context) == NULL)
		return;
	pthread_mutex_lock(&srv->conn_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&srv->conn_lock);
	free(c);
	*socket_context = NULL;
}

/*
 * Called when a request line has arrived, before its headers: the request
 * must now be whole within request_timeout, and never later than the
 * deadline the connection already has (from its start, or from its last
 * answer when kept alive).
 */
static void *
server_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct server *srv = cls;

	(void)uri;
	server_conn_deadline(srv, conn, server_now() + srv->opts.request_timeout, 1);
	return NULL;
}

/*
 * Shuts down the connections past their deadline. libmicrohttpd then sees the
 * socket end, closes the connection and sends the close notification.
 */
static void *
server_watchdog(void *arg)
{
	struct server *srv = arg;
	struct server_conn *c;
	struct timespec wake;
	double now;

	pthread_mutex_lock(&srv->conn_lock);
	while (!srv->stopping) {
		now = server_now();
		for (c = srv->conns; c; c = c->next)
			if (!c->shut && c->deadline != 0 && c->deadline <= now) {
				shutdown(c->fd, SHUT_RDWR);
				c->shut = 1;
				metrics_count_refusal(METRICS_REQUEST_TIMEOUT);
			}
		clock_gettime(CLOCK_MONOTONIC, &wake);
		wake.tv_nsec += SERVER_WATCH_MS * 1000000L;
		if (wake.tv_nsec >= 1000000000L) {
			wake.tv_sec++;
			wake.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&srv->conn_wake, &srv->conn_lock, &wake);
	}
	pthread_mutex_unlock(&srv->conn_lock);
	return NULL;
}

static enum MHD_Result
server_reply_full(struct MHD_Connection *conn, unsigned status, char *body, const char *allow,
    const char *type)
{
	struct MHD_Response *response;
	enum MHD_Result ret;

	response = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (response == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow);
	/* client-go retries a 429 or 5xx that carries Retry-After (the API server's webhook client). */
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
		MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	ret = MHD_queue_response(conn, status, response);
	MHD_destroy_response(response);
	return ret;
}

static enum MHD_Result
server_reply(struct MHD_Connection *conn, unsigned status, char *body, const char *allow)
{
	return server_reply_full(conn, status, body, allow, "application/json");
}

static enum MHD_Result
server_reply_typed(struct MHD_Connection *conn, unsigned status, char *body, const char *type)
{
	return server_reply_full(conn, status, body, NULL, type);
}

/* What the JSON error of a request the server refuses says. */
enum server_refusal {
	REFUSE_BODY_CAP = 1000,		/* 413 */
	REFUSE_MEMORY_TOO_LARGE,	/* 413 */
	REFUSE_MEMORY_BUSY,		/* 503 */
};

/* The status of a request's error (a status, or one of enum server_refusal). */
static unsigned
server_status_of(int error)
{
	switch (error) {
	case REFUSE_BODY_CAP:
	case REFUSE_MEMORY_TOO_LARGE:
		return MHD_HTTP_CONTENT_TOO_LARGE;
	case REFUSE_MEMORY_BUSY:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	default:
		return (unsigned)error;
	}
}

static enum MHD_Result
server_reply_error(struct MHD_Connection *conn, int error, const char *allow)
{
	const char *what;
	char *body;
	size_t size = 320;
	unsigned status = server_status_of(error);

	switch (error) {
	case MHD_HTTP_NOT_FOUND:
		what = "not found: the webhook serves POST /validate, GET /healthz, GET /readyz "
		    "and GET /metrics";
		break;
	case MHD_HTTP_METHOD_NOT_ALLOWED:
		what = "method not allowed";
		break;
	case MHD_HTTP_UNSUPPORTED_MEDIA_TYPE:
		what = "unsupported media type: send Content-Type: application/json";
		break;
	case REFUSE_BODY_CAP:
		what = "request body too large: over --max-body-bytes";
		metrics_count_refusal(METRICS_BODY_TOO_LARGE);
		break;
	case REFUSE_MEMORY_TOO_LARGE:
		what = "request body too large to judge: its parsed JSON needs more memory than "
		    "--max-request-memory allows";
		metrics_count_refusal(METRICS_MEMORY_TOO_LARGE);
		break;
	case REFUSE_MEMORY_BUSY:
		what = "busy: the requests in flight hold the memory budget (--max-request-memory); "
		    "retry";
		metrics_count_refusal(METRICS_MEMORY_BUSY);
		break;
	case MHD_HTTP_FORBIDDEN:
		what = "a client certificate signed by the configured client CA, for client "
		    "authentication (extended key usage clientAuth), is required: the API server "
		    "sends one when its AdmissionConfiguration names it";
		metrics_count_refusal(METRICS_CLIENT_CERTIFICATE);
		break;
	default:
		what = "internal error";
	}
	if ((body = malloc(size)) == NULL)
		return MHD_NO;
	snprintf(body, size, "{\"error\":\"%s\",\"code\":%u}", what, status);
	return server_reply(conn, status, body, allow);
}

static int
server_is_json(const char *content_type)
{
	size_t n = strlen("application/json");

	return content_type && strncasecmp(content_type, "application/json", n) == 0 &&
	    (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

/*
 * 1 when the peer presented a certificate that chains to the client CA and
 * may authenticate a TLS client: GnuTLS refuses one whose extended key usage
 * lacks clientAuth (a serving certificate from the same CA, say), and takes
 * one with no extended key usage at all.
 */
static int
server_client_verified(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info;
	gnutls_typed_vdata_st purpose;
	gnutls_session_t tls;
	unsigned int status = 1, count = 0;

	info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (info == NULL || info->tls_session == NULL)
		return 0;
	tls = info->tls_session;
	if (gnutls_certificate_get_peers(tls, &count) == NULL || count == 0)
		return 0;
	memset(&purpose, 0, sizeof(purpose));
	purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
	purpose.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT;
	return gnutls_certificate_verify_peers(tls, &purpose, 1, &status) == 0 && status == 0;
}

/* Decides the route and any error that needs no body, on the first call. */
static void
server_route(struct server *srv, struct MHD_Connection *conn, const char *url,
    const char *method, struct server_request *req)
{
	const char *length;
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	if (strcmp(url, "/validate") == 0) {
		req->route = ROUTE_VALIDATE;
		if (strcmp(method, "POST") != 0)
			req->status = MHD_HTTP_METHOD_NOT_ALLOWED;
		else if (srv->client_ca_pem && !server_client_verified(conn))
			req->status = MHD_HTTP_FORBIDDEN;
		else if (!server_is_json(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_TYPE)))
			req->status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
		else if ((length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH)) != NULL &&
		    (req->declared = strtoull(length, NULL, 10)) > srv->opts.body_cap)
			req->status = REFUSE_BODY_CAP;
	} else if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
	    (strcmp(url, "/metrics") == 0 && srv->opts.metrics)) {
		req->route = url[1] == 'h' ? ROUTE_HEALTHZ : url[1] == 'r' ? ROUTE_READYZ :
		    ROUTE_METRICS;
		if (!get)
			req->status = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else
		req->status = MHD_HTTP_NOT_FOUND;
}

/* Frees the body and gives back what it charged to the memory budget. */
static void
server_drop_body(struct server_request *req)
{
	free(req->body);
	req->body = NULL;
	arena_credit(req->alloc);
	req->alloc = 0;
}

/*
 * Appends upload data. The buffer grows by doubling, up to the Content-Length
 * or the cap, and every growth is charged to the memory budget first: a body
 * over the cap marks the request 413, one the budget cannot take now 503.
 * Either way the body is dropped and the rest of the upload read and ignored,
 * so the client is still listening when the error comes.
 */
static void
server_append(struct server *srv, struct server_request *req, const char *data, size_t size)
{
	size_t alloc, most;
	char *grown;

	if (req->status != 0)
		return;
	if (size > srv->opts.body_cap - req->len) {
		req->status = REFUSE_BODY_CAP;
		server_drop_body(req);
		return;
	}
	if (req->len + size + 1 > req->alloc) {
		most = (req->declared && req->declared < srv->opts.body_cap ? req->declared :
		    srv->opts.body_cap) + 1;
		alloc = req->alloc ? req->alloc : SERVER_BODY_FIRST;
		while (alloc < req->len + size + 1)
			alloc *= 2;
		if (alloc > most)
			alloc = most > req->len + size + 1 ? most : req->len + size + 1;
		if (arena_charge(alloc - req->alloc) != 0) {
			req->status = REFUSE_MEMORY_BUSY;
			server_drop_body(req);
			return;
		}
		if ((grown = realloc(req->body, alloc)) == NULL) {
			arena_credit(alloc - req->alloc);
			req->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
			server_drop_body(req);
			return;
		}
		req->body = grown;
		req->alloc = alloc;
	}
	memcpy(req->body + req->len, data, size);
	req->len += size;
	req->body[req->len] = '\0';
}

/*
 * Hands a whole body to the validate callback. When the callback's JSON tree
 * was refused memory, the answer it made (400, not valid JSON) is replaced:
 * 413 when the request could never fit the budget, 503 when others held it.
 */
static enum MHD_Result
server_validate(struct server *srv, struct MHD_Connection *conn, struct server_request *req)
{
	char *response = NULL;
	size_t refused;
	int status = 0;

	srv->opts.validate(srv->opts.ctx, req->body ? req->body : "", req->len, &status,
	    &response);
	if ((refused = arena_refused()) != 0) {
		free(response);
		log_message(LOG_WARN, "request_refused", "parsing a body of %zu bytes needed more of "
		    "the memory budget (%zu bytes) than %s", req->len, arena_budget(),
		    refused + req->alloc > arena_budget() ? "it has" : "was free");
		return server_reply_error(conn, refused + req->alloc > arena_budget() ?
		    REFUSE_MEMORY_TOO_LARGE : REFUSE_MEMORY_BUSY, NULL);
	}
	if (response == NULL)
		return server_reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
	return server_reply(conn, (unsigned)status, response, NULL);
}

static enum MHD_Result
server_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct server *srv = cls;
	struct server_request *req = *con_cls;
	char *response = NULL;

	(void)version;
	if (req == NULL) {
		if ((req = calloc(1, sizeof(*req))) == NULL)
			return MHD_NO;
		*con_cls = req;
		atomic_fetch_add(&srv->in_flight, 1);
		server_route(srv, conn, url, method, req);
		/*
		 * A body over the cap is read and dropped, so the client is still
		 * listening when the 413 comes; one far past it is refused at once,
		 * at the risk of a reset the client may see instead.
		 */
		if (req->status == REFUSE_BODY_CAP && req->declared / 16 > srv->opts.body_cap) {
			server_conn_deadline(srv, conn, 0, 0);
			return server_reply_error(conn, REFUSE_BODY_CAP, NULL);
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		server_append(srv, req, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	/* The request is whole: no deadline while it is judged and answered. */
	server_conn_deadline(srv, conn, 0, 0);
	if (req->status != 0)
		return server_reply_error(conn, req->status,
		    req->status != MHD_HTTP_METHOD_NOT_ALLOWED ? NULL :
		    req->route == ROUTE_VALIDATE ? "POST" : "GET, HEAD");
	switch (req->route) {
	case ROUTE_READYZ:
		response = NULL;
		if (srv->opts.ready && !srv->opts.ready(srv->opts.ctx, &response)) {
			if (response == NULL && (response = strdup("{\"status\":\"not ready\"}")) ==
			    NULL)
				return MHD_NO;
			return server_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, response, NULL);
		}
		if (response)
			return server_reply(conn, MHD_HTTP_OK, response, NULL);
		/* FALLTHROUGH */
	case ROUTE_HEALTHZ:
		if ((response = strdup("{\"status\":\"ok\"}")) == NULL)
			return MHD_NO;
		return server_reply(conn, MHD_HTTP_OK, response, NULL);
	case ROUTE_METRICS:
		if ((response = srv->opts.metrics(srv->opts.ctx)) == NULL)
			return server_reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
		return server_reply_typed(conn, MHD_HTTP_OK, response,
		    "text/plain; version=0.0.4; charset=utf-8");
	case ROUTE_VALIDATE:
		return server_validate(srv, conn, req);
	default:
		return server_reply_error(conn, MHD_HTTP_NOT_FOUND, NULL);
	}
}

static void
server_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode code)
{
	struct server *srv = cls;
	struct server_request *req = *con_cls;

	(void)code;
	/* Kept alive: the next request line must come within the idle timeout. */
	server_conn_deadline(srv, conn, server_now() + srv->opts.connection_timeout, 0);
	if (req == NULL)
		return;
	server_drop_body(req);
	free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->in_flight, 1);
}

static void
server_log(void *cls, const char *fmt, va_list ap)
{
	char message[512];
	size_t n;

	(void)cls;
	if (!log_enabled(LOG_DEBUG))
		return;
	vsnprintf(message, sizeof(message), fmt, ap);
	n = strlen(message);
	while (n > 0 && message[n - 1] == '\n')
		message[--n] = '\0';
	log_message(LOG_DEBUG, "http", "%s", message);
}

/*
 * Splits "host:port", ":port" or "[v6]:port". An empty host means every
 * address; then *addr is left untouched and *any is set.
 */
static int
server_parse_listen(const char *listen, struct sockaddr_storage *addr, int *any,
    unsigned *port, struct pg_error *err)
{
	char host[256];
	const char *colon, *start = listen, *end;
	struct addrinfo hints, *res = NULL;
	char *stop;
	unsigned long p;
	size_t n;

	if (listen[0] == '[') {
		start = listen + 1;
		if ((end = strchr(start, ']')) == NULL || end[1] != ':')
			goto bad;
		colon = end + 1;
	} else {
		if ((colon = strrchr(listen, ':')) == NULL)
			goto bad;
		end = colon;
	}
	/* Digits only: strtoul would take a sign or leading blanks. */
	if (colon[1] < '0' || colon[1] > '9')
		goto bad;
	p = strtoul(colon + 1, &stop, 10);
	if (*stop != '\0' || p > 65535)
		goto bad;
	*port = (unsigned)p;
	n = (size_t)(end - start);
	if (n >= sizeof(host))
		goto bad;
	memcpy(host, start, n);
	host[n] = '\0';
	*any = n == 0;
	if (*any)
		return PG_OK;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
		return pg_error_set(err, PG_ERR_INVALID, "--listen '%s': unknown host '%s'", listen,
		    host);
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	if (addr->ss_family == AF_INET)
		((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)p);
	else
		((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)p);
	freeaddrinfo(res);
	return PG_OK;
bad:
	return pg_error_set(err, PG_ERR_INVALID, "--listen '%s': expected HOST:PORT, :PORT or "
	    "[IPV6]:PORT", listen);
}

static void
server_cert_free(struct server_cert *c)
{
	unsigned int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->chain_length; i++)
		gnutls_pcert_deinit(&c->chain[i]);
	if (c->key)
		gnutls_privkey_deinit(c->key);
	free(c);
}

/* Reads, checks (OpenSSL) and converts (GnuTLS) a certificate and key from files. */
static int
server_cert_load(const char *cert_file, const char *key_file, struct server_cert **out,
    time_t *not_after, struct pg_error *err)
{
	struct server_cert *c = NULL;
	char *cert_pem = NULL, *key_pem = NULL;
	size_t cert_len, key_len;
	gnutls_datum_t datum;
	int result;

	*out = NULL;
	if ((result = fileio_read(cert_file, SERVER_PEM_MAX, &cert_pem, &cert_len, err)) ||
	    (result = fileio_read(key_file, SERVER_PEM_MAX, &key_pem, &key_len, err)) ||
	    (result = tlscert_check(cert_pem, cert_len, key_pem, key_len, cert_file, key_file,
	    time(NULL), not_after, err)))
		goto out;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		result = pg_error_set(err, PG_ERR_NOMEM, "out of memory");
		goto out;
	}
	c->chain_length = SERVER_CHAIN_MAX;
	datum.data = (unsigned char *)cert_pem;
	datum.size = (unsigned int)cert_len;
	if (gnutls_pcert_list_import_x509_raw(c->chain, &c->chain_length, &datum,
	    GNUTLS_X509_FMT_PEM, 0) < 0) {
		c->chain_length = 0;
		result = pg_error_set(err, PG_ERR_INVALID, "GnuTLS refused the certificate chain "
		    "in '%s' (more than %d certificates?)", cert_file, SERVER_CHAIN_MAX);
		goto out;
	}
	datum.data = (unsigned char *)key_pem;
	datum.size = (unsigned int)key_len;
	if (gnutls_privkey_init(&c->key) < 0 || gnutls_privkey_import_x509_raw(c->key, &datum,
	    GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
		result = pg_error_set(err, PG_ERR_INVALID, "GnuTLS refused the key in '%s'", key_file);
		goto out;
	}
	*out = c;
	c = NULL;
out:
	server_cert_free(c);
	if (key_pem)
		explicit_bzero(key_pem, key_len);
	free(key_pem);
	free(cert_pem);
	return result;
}

static int
server_cert_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
    unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	struct server_cert *c = atomic_load(&server_cert_current);

	(void)session;
	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	if (c == NULL)
		return -1;
	*pcert = c->chain;
	*pcert_length = c->chain_length;
	*privkey = c->key;
	return 0;
}

/* Puts c in force; the one it replaces is kept until the server stops. */
static void
server_cert_install(struct server_cert *c)
{
	struct server_cert *old;

	pthread_mutex_lock(&server_cert_lock);
	old = atomic_exchange(&server_cert_current, c);
	if (old) {
		old->retired_next = server_cert_retired;
		server_cert_retired = old;
	}
	pthread_mutex_unlock(&server_cert_lock);
}

int
server_reload_certificate(struct server *srv, struct pg_error *err)
{
	struct server_cert *c;
	time_t not_after;
	int result;

	if ((result = server_cert_load(srv->opts.cert_file, srv->opts.key_file, &c, &not_after,
	    err)))
		return result;
	server_cert_install(c);
	srv->not_after = not_after;
	return PG_OK;
}

/* The CPUs this process may run on (its affinity mask), not every CPU of the machine. */
static unsigned
server_cpus(void)
{
	cpu_set_t set;
	long online;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	online = sysconf(_SC_NPROCESSORS_ONLN);
	return online > 0 ? (unsigned)online : 1;
}

static struct MHD_OptionItem server_no_options[] = {{MHD_OPTION_END, 0, NULL}};

static struct MHD_Daemon *
server_daemon(struct server *srv, unsigned flags, unsigned port, struct sockaddr *addr)
{
	unsigned threads = srv->opts.threads ? srv->opts.threads : server_cpus();

	return MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, server_access, srv,
	    MHD_OPTION_HTTPS_CERT_CALLBACK, server_cert_retrieve,
	    srv->client_ca_pem ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_ARRAY,
	    srv->client_ca_pem ? (void *)srv->client_ca_pem : (void *)server_no_options,
	    MHD_OPTION_HTTPS_PRIORITIES, SERVER_TLS_PRIORITIES,
	    MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_LIMIT, srv->opts.connection_limit,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->opts.per_ip_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, srv->opts.connection_timeout,
	    MHD_OPTION_NOTIFY_COMPLETED, server_completed, srv,
	    MHD_OPTION_NOTIFY_CONNECTION, server_notify_connection, srv,
	    MHD_OPTION_URI_LOG_CALLBACK, server_request_line, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, server_log, srv,
	    addr ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, addr,
	    MHD_OPTION_END);
}

/* Fills in the defaults of the options left 0 and checks that they fit together. */
static int
server_settle_options(struct server_options *o, struct pg_error *err)
{
	if (o->connection_limit == 0)
		o->connection_limit = SERVER_DEFAULT_CONNECTIONS;
	if (o->per_ip_limit == 0)
		o->per_ip_limit = o->connection_limit > 1 ? o->connection_limit / 2 : 1;
	if (o->connection_timeout == 0)
		o->connection_timeout = SERVER_DEFAULT_IDLE_TIMEOUT;
	if (o->request_timeout == 0)
		o->request_timeout = SERVER_DEFAULT_REQUEST_TIMEOUT;
	if (o->body_cap == 0)
		o->body_cap = SERVER_DEFAULT_BODY_CAP;
	if (o->memory_budget == 0)
		o->memory_budget = SERVER_DEFAULT_MEMORY;
	if (o->per_ip_limit > o->connection_limit)
		return pg_error_set(err, PG_ERR_INVALID, "--max-connections-per-ip %u is more than "
		    "--max-connections %u", o->per_ip_limit, o->connection_limit);
	if (o->memory_budget / 2 < o->body_cap)
		return pg_error_set(err, PG_ERR_INVALID, "--max-request-memory %zu is less than "
		    "twice --max-body-bytes %zu: a body that size could never be parsed",
		    o->memory_budget, o->body_cap);
	return PG_OK;
}

static int
server_watchdog_start(struct server *srv, struct pg_error *err)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&srv->conn_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->conn_wake, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&srv->watchdog, NULL, server_watchdog, srv) != 0)
		return pg_error_set(err, PG_ERR_IO, "unable to start the connection watchdog");
	srv->watchdog_started = 1;
	return PG_OK;
}

static void
server_watchdog_stop(struct server *srv)
{
	if (srv->watchdog_started) {
		pthread_mutex_lock(&srv->conn_lock);
		srv->stopping = 1;
		pthread_cond_signal(&srv->conn_wake);
		pthread_mutex_unlock(&srv->conn_lock);
		pthread_join(srv->watchdog, NULL);
		srv->watchdog_started = 0;
	}
}

/* After the daemon has stopped: the watchdog's state. */
static void
server_watchdog_release(struct server *srv)
{
	struct server_conn *c, *next;

	server_watchdog_stop(srv);
	for (c = srv->conns; c; c = next) {
		next = c->next;
		free(c);
	}
	srv->conns = NULL;
	pthread_cond_destroy(&srv->conn_wake);
	pthread_mutex_destroy(&srv->conn_lock);
}

int
server_start(const struct server_options *opts, struct server **out, struct pg_error *err)
{
	struct server *srv;
	struct sockaddr_storage addr;
	const union MHD_DaemonInfo *info;
	unsigned flags, port = 0;
	size_t cert_len;
	int any = 0, result;

	*out = NULL;
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	srv->opts = *opts;
	if ((result = server_settle_options(&srv->opts, err)) != PG_OK) {
		free(srv);
		return result;
	}
	arena_set_budget(srv->opts.memory_budget);
	if (opts->client_ca_file && (result = fileio_read(opts->client_ca_file, SERVER_PEM_MAX,
	    &srv->client_ca_pem, &cert_len, err)))
		goto fail;
	if ((result = server_reload_certificate(srv, err)) ||
	    (result = server_parse_listen(opts->listen, &addr, &any, &port, err)) ||
	    (result = server_watchdog_start(srv, err)))
		goto fail;
	flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
	    MHD_USE_ERROR_LOG;
	if (any) {
		srv->daemon = server_daemon(srv, flags | MHD_USE_DUAL_STACK, port, NULL);
		if (srv->daemon == NULL)	/* no IPv6 here: every IPv4 address */
			srv->daemon = server_daemon(srv, flags, port, NULL);
	} else
		srv->daemon = server_daemon(srv, flags | (addr.ss_family == AF_INET6 ?
		    MHD_USE_IPv6 : 0), port, (struct sockaddr *)&addr);
	if (srv->daemon == NULL) {
		result = pg_error_set(err, PG_ERR_IO, "unable to listen on '%s' (address in use, "
		    "or the TLS certificate was refused)", opts->listen);
		goto fail;
	}
	info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : port;
	*out = srv;
	return PG_OK;
fail:
	if (srv->watchdog_started)
		server_watchdog_release(srv);
	free(srv->client_ca_pem);
	free(srv);
	return result;
}

unsigned
server_port(const struct server *srv)
{
	return srv->port;
}

time_t
server_certificate_expiry(const struct server *srv)
{
	return srv->not_after;
}

void
server_stop(struct server *srv, unsigned grace_ms)
{
	struct timespec pause = {0, 10 * 1000 * 1000};
	unsigned waited = 0;
	MHD_socket fd;

	if (srv == NULL)
		return;
	fd = MHD_quiesce_daemon(srv->daemon);
	/*
	 * A connection accepted just before may not have had its request read
	 * yet, so wait a moment even when nothing is in flight.
	 */
	while ((atomic_load(&srv->in_flight) > 0 || waited < SERVER_SETTLE_MS) &&
	    waited < grace_ms) {
		nanosleep(&pause, NULL);
		waited += 10;
	}
	/* The watchdog goes first: stopping the daemon closes every connection it tracks. */
	server_watchdog_stop(srv);
	MHD_stop_daemon(srv->daemon);
	server_watchdog_release(srv);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	pthread_mutex_lock(&server_cert_lock);
	server_cert_free(atomic_exchange(&server_cert_current, NULL));
	while (server_cert_retired) {
		struct server_cert *next = server_cert_retired->retired_next;

		server_cert_free(server_cert_retired);
		server_cert_retired = next;
	}
	pthread_mutex_unlock(&server_cert_lock);
	free(srv->client_ca_pem);
	free(srv);
}
