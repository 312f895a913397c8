/*
 * fakeapi.h - a fake Kubernetes API server for the integration tests, over
 * HTTPS with libmicrohttpd, scripted by the test that runs it.
 *
 * It serves what poolguard reads: apps/v1 Deployments and StatefulSets,
 * autoscaling/v2 HorizontalPodAutoscalers and v1 ConfigMaps, per namespace
 * (/apis/apps/v1/namespaces/NS/deployments) or cluster-wide. A collection is
 * its path without the query; it exists, empty, as soon as it is asked for.
 *
 * - LIST honours limit (and a smaller page size the test may set, as a real
 *   server may return fewer items than asked for) with continue tokens; the
 *   items come without apiVersion and kind, as in a real list.
 * - WATCH replays every event of the collection newer than the watch's
 *   resourceVersion, then sends new ones as the test makes them: one
 *   resourceVersion counter for every collection, as etcd has. Without a
 *   resourceVersion it starts with an ADDED event for every object.
 * - Faults, each for one collection and used once: the next event a watch
 *   sends goes out half and the connection drops; an ERROR 410 Gone event
 *   ends the watch; the next watch request is answered HTTP 410; the next N
 *   LISTs fail with a status; LISTs wait while the test holds them.
 * - Every request is logged with its full URI, the time it came and the
 *   status it got, for the test to count and to time.
 *
 * Requests without "Authorization: Bearer FAKEAPI_TOKEN" get 401. One
 * thread per connection, so a held LIST or an open watch blocks nothing
 * else. Header-only, like harness.h: every function is static inline.
 */
#ifndef POOLGUARD_FAKEAPI_H
#define POOLGUARD_FAKEAPI_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#define FAKEAPI_TOKEN "fake-token"
#define FAKEAPI_COLLECTIONS 64
#define FAKEAPI_URI_MAX 1024

struct fakeapi_event {
	long rv;
	char *line;			/* one JSON event and its newline */
};

struct fakeapi_collection {
	char path[256];
	cJSON *items;			/* array of the stored objects, each with its metadata */
	struct fakeapi_event *log;
	size_t log_count;
	size_t log_alloc;
	int page_size;			/* items per LIST page at most, 0: as many as limit */
	int fail_lists;			/* LISTs still to answer fail_status */
	int fail_status;
	int hold_lists;			/* LISTs wait while set */
	int held;			/* LISTs waiting now */
	int cut_next;			/* the next event goes out half, then the line drops */
	int gone_next;			/* the watch sends ERROR 410 and ends */
	int gone_watch;			/* the next watch request is answered HTTP 410 */
	unsigned watch_gen;		/* a new watch ends the older ones of the collection */
	int watches_open;
};

struct fakeapi_request {
	char uri[FAKEAPI_URI_MAX];	/* path and query as sent */
	char collection[256];		/* "" when the path is none of the collections */
	int watch;
	int status;
	double at;			/* CLOCK_MONOTONIC seconds */
};

struct fakeapi {
	struct MHD_Daemon *daemon;
	unsigned port;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* broadcast on every change */
	int stopping;
	long rv;
	struct fakeapi_collection *collections[FAKEAPI_COLLECTIONS];
	size_t collection_count;
	struct fakeapi_request *requests;
	size_t request_count;
	size_t request_alloc;
	char *cert;
	char *key;
};

/* What one open watch has sent; freed by libmicrohttpd's free callback. */
struct fakeapi_stream {
	struct fakeapi *f;
	struct fakeapi_collection *c;
	unsigned gen;
	long sent_rv;
	char *pending;			/* the rest of a line to send */
	size_t pending_len;
	size_t pending_off;
	int cut_after;			/* drop the connection once pending is out */
	int end_after;			/* end the stream once pending is out */
};

static inline double
fakeapi_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static inline char *
fakeapi_read_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *data = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
	    (data = calloc(1, (size_t)n + 1)) != NULL &&
	    fread(data, 1, (size_t)n, fp) != (size_t)n) {
		free(data);
		data = NULL;
	}
	fclose(fp);
	return data;
}

/* The collection of path, made on first use; the caller holds the lock. */
static inline struct fakeapi_collection *
fakeapi_collection_locked(struct fakeapi *f, const char *path)
{
	struct fakeapi_collection *c;
	size_t i;

	for (i = 0; i < f->collection_count; i++)
		if (strcmp(f->collections[i]->path, path) == 0)
			return f->collections[i];
	if (f->collection_count == FAKEAPI_COLLECTIONS || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->items = cJSON_CreateArray();
	f->collections[f->collection_count++] = c;
	return c;
}

/*
 * Splits a request path into its collection (the path up to the resource's
 * plural) and the object name after it (empty for the collection itself).
 * Returns 0 for the four kinds poolguard reads, -1 for anything else.
 */
static inline int
fakeapi_route(const char *url, char *collection, size_t size, char *name, size_t name_size)
{
	static const struct {
		const char *prefix;
		const char *plurals[3];
	} groups[] = {
		{"/api/v1/", {"configmaps", NULL, NULL}},
		{"/apis/apps/v1/", {"deployments", "statefulsets", NULL}},
		{"/apis/autoscaling/v2/", {"horizontalpodautoscalers", NULL, NULL}},
	};
	const char *rest, *slash, *end;
	size_t g, p, n;

	for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		if (strncmp(url, groups[g].prefix, strlen(groups[g].prefix)) != 0)
			continue;
		rest = url + strlen(groups[g].prefix);
		if (strncmp(rest, "namespaces/", 11) == 0) {
			if ((slash = strchr(rest + 11, '/')) == NULL || slash == rest + 11)
				return -1;
			rest = slash + 1;
		}
		end = strchr(rest, '/');
		n = end ? (size_t)(end - rest) : strlen(rest);
		for (p = 0; p < 3 && groups[g].plurals[p]; p++) {
			if (strlen(groups[g].plurals[p]) != n ||
			    strncmp(rest, groups[g].plurals[p], n) != 0)
				continue;
			if (end && (end[1] == '\0' || strchr(end + 1, '/')))
				return -1;
			snprintf(collection, size, "%.*s", (int)(rest + n - url), url);
			snprintf(name, name_size, "%s", end ? end + 1 : "");
			return 0;
		}
		return -1;
	}
	return -1;
}

static inline char *
fakeapi_status_json(int code, const char *reason, const char *message)
{
	cJSON *s = cJSON_CreateObject();
	char *text;

	cJSON_AddStringToObject(s, "kind", "Status");
	cJSON_AddStringToObject(s, "apiVersion", "v1");
	cJSON_AddObjectToObject(s, "metadata");
	cJSON_AddStringToObject(s, "status", "Failure");
	cJSON_AddStringToObject(s, "message", message);
	cJSON_AddStringToObject(s, "reason", reason);
	cJSON_AddNumberToObject(s, "code", code);
	text = cJSON_PrintUnformatted(s);
	cJSON_Delete(s);
	return text;
}

/*
 * The response a handler built under the fake's lock, queued once the lock
 * is let go: libmicrohttpd takes its own locks in MHD_queue_response and
 * calls fakeapi_stream_read (which takes ours) under them, so queueing under
 * our lock would order the two both ways. One per connection thread.
 */
static __thread struct MHD_Response *fakeapi_pending;
static __thread unsigned fakeapi_pending_status;

static inline enum MHD_Result
fakeapi_defer(unsigned status, struct MHD_Response *response)
{
	fakeapi_pending = response;
	fakeapi_pending_status = status;
	return MHD_YES;
}

/* Queues the deferred response, with no lock of the fake's held. */
static inline enum MHD_Result
fakeapi_queue_pending(struct MHD_Connection *conn, enum MHD_Result ret)
{
	struct MHD_Response *response = fakeapi_pending;

	fakeapi_pending = NULL;
	if (response == NULL)
		return ret;
	ret = MHD_queue_response(conn, fakeapi_pending_status, response);
	MHD_destroy_response(response);
	return ret;
}

static inline enum MHD_Result
fakeapi_reply(struct MHD_Connection *conn, unsigned status, char *text)
{
	struct MHD_Response *response;

	if (text == NULL)
		return MHD_NO;
	response = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (response == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(response, "Content-Type", "application/json");
	(void)conn;
	return fakeapi_defer(status, response);
}

static inline enum MHD_Result
fakeapi_reply_status(struct MHD_Connection *conn, unsigned status, const char *reason,
    const char *message)
{
	return fakeapi_reply(conn, status, fakeapi_status_json((int)status, reason, message));
}

/* The stored object named name, or NULL; the caller holds the lock. */
static inline cJSON *
fakeapi_find(struct fakeapi_collection *c, const char *name, int *index)
{
	cJSON *item, *n;
	int i = 0;

	cJSON_ArrayForEach(item, c->items) {
		n = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(item,
		    "metadata"), "name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) {
			if (index)
				*index = i;
			return item;
		}
		i++;
	}
	return NULL;
}

/* One page of a LIST; the caller holds the lock. */
static inline char *
fakeapi_list_page(struct fakeapi *f, struct fakeapi_collection *c, const char *limit_arg,
    const char *cont, int *status)
{
	cJSON *doc, *metadata, *items, *copy, *item;
	char rv[32], token[64], *end;
	long limit = 0, offset = 0, total = cJSON_GetArraySize(c->items), count, i;

	if (limit_arg && ((limit = strtol(limit_arg, &end, 10)) <= 0 || *end)) {
		*status = 400;
		return fakeapi_status_json(400, "BadRequest", "limit must be a positive integer");
	}
	if (cont && cont[0] && (strncmp(cont, "page-", 5) != 0 ||
	    (offset = strtol(cont + 5, &end, 10)) < 0 || offset > total || *end)) {
		*status = 410;
		return fakeapi_status_json(410, "Expired", "the provided continue parameter is too "
		    "old to display a consistent list result");
	}
	count = total - offset;
	if (limit > 0 && count > limit)
		count = limit;
	if (c->page_size > 0 && count > c->page_size)
		count = c->page_size;
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "kind", "List");
	cJSON_AddStringToObject(doc, "apiVersion", "v1");
	metadata = cJSON_AddObjectToObject(doc, "metadata");
	snprintf(rv, sizeof(rv), "%ld", f->rv);
	cJSON_AddStringToObject(metadata, "resourceVersion", rv);
	if (offset + count < total) {
		snprintf(token, sizeof(token), "page-%ld", offset + count);
		cJSON_AddStringToObject(metadata, "continue", token);
	}
	items = cJSON_AddArrayToObject(doc, "items");
	for (i = offset; i < offset + count; i++) {
		item = cJSON_GetArrayItem(c->items, (int)i);
		copy = cJSON_Duplicate(item, 1);
		cJSON_DeleteItemFromObjectCaseSensitive(copy, "apiVersion");
		cJSON_DeleteItemFromObjectCaseSensitive(copy, "kind");
		cJSON_AddItemToArray(items, copy);
	}
	*status = 200;
	end = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return end;
}

/* The next bytes of a watch: replayed and new events, and the faults. */
static inline ssize_t
fakeapi_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct fakeapi_stream *s = cls;
	struct fakeapi *f = s->f;
	struct fakeapi_collection *c = s->c;
	struct timespec until;
	size_t i, n;
	ssize_t ret;

	(void)pos;
	pthread_mutex_lock(&f->lock);
	for (;;) {
		if (s->pending) {
			n = s->pending_len - s->pending_off;
			n = n < max ? n : max;
			memcpy(buf, s->pending + s->pending_off, n);
			if ((s->pending_off += n) == s->pending_len) {
				free(s->pending);
				s->pending = NULL;
			}
			ret = (ssize_t)n;
			break;
		}
		if (f->stopping || s->cut_after || c->watch_gen != s->gen) {
			ret = MHD_CONTENT_READER_END_WITH_ERROR;
			break;
		}
		if (s->end_after) {
			ret = MHD_CONTENT_READER_END_OF_STREAM;
			break;
		}
		if (c->gone_next) {
			c->gone_next = 0;
			s->pending = strdup("{\"type\":\"ERROR\",\"object\":{\"kind\":"
			    "\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
			    "\"Failure\",\"message\":\"too old resource version\",\"reason\":"
			    "\"Expired\",\"code\":410}}\n");
			s->pending_len = strlen(s->pending);
			s->pending_off = 0;
			s->end_after = 1;
			continue;
		}
		for (i = 0; i < c->log_count && c->log[i].rv <= s->sent_rv; i++)
			;
		if (i < c->log_count) {
			s->pending = strdup(c->log[i].line);
			s->pending_len = strlen(s->pending);
			s->pending_off = 0;
			s->sent_rv = c->log[i].rv;
			if (c->cut_next) {
				c->cut_next = 0;
				s->pending_len /= 2;
				s->cut_after = 1;
			}
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&f->cond, &f->lock, &until);
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}

static inline void
fakeapi_stream_free(void *cls)
{
	struct fakeapi_stream *s = cls;

	pthread_mutex_lock(&s->f->lock);
	s->c->watches_open--;
	pthread_cond_broadcast(&s->f->cond);
	pthread_mutex_unlock(&s->f->lock);
	free(s->pending);
	free(s);
}

/*
 * A watch without a resourceVersion (or "0") starts with an ADDED event for
 * every object there is, as a real one does; the caller holds the lock.
 */
static inline void
fakeapi_synthetic_added(struct fakeapi_collection *c, struct fakeapi_stream *s)
{
	cJSON *item, *event;
	char *line, *grown;
	size_t n;

	cJSON_ArrayForEach(item, c->items) {
		event = cJSON_CreateObject();
		cJSON_AddStringToObject(event, "type", "ADDED");
		cJSON_AddItemToObject(event, "object", cJSON_Duplicate(item, 1));
		line = cJSON_PrintUnformatted(event);
		cJSON_Delete(event);
		n = strlen(line);
		if ((grown = realloc(s->pending, s->pending_len + n + 2)) == NULL)
			abort();
		s->pending = grown;
		memcpy(s->pending + s->pending_len, line, n);
		memcpy(s->pending + s->pending_len + n, "\n", 2);
		s->pending_len += n + 1;
		free(line);
	}
}

/* Starts a watch of c from resourceVersion rv; the caller holds the lock. */
static inline enum MHD_Result
fakeapi_watch(struct fakeapi *f, struct fakeapi_collection *c, struct MHD_Connection *conn,
    const char *rv, int *status)
{
	struct fakeapi_stream *s;
	struct MHD_Response *response;

	if (c->gone_watch) {
		c->gone_watch = 0;
		*status = 410;
		return fakeapi_reply_status(conn, 410, "Expired", "too old resource version");
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MHD_NO;
	s->f = f;
	s->c = c;
	s->gen = ++c->watch_gen;
	s->sent_rv = f->rv;
	if (rv && rv[0] && strcmp(rv, "0") != 0)
		s->sent_rv = strtol(rv, NULL, 10);
	else
		fakeapi_synthetic_added(c, s);
	c->watches_open++;
	pthread_cond_broadcast(&f->cond);
	response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, fakeapi_stream_read, s,
	    fakeapi_stream_free);
	if (response == NULL) {
		c->watches_open--;
		free(s);
		return MHD_NO;
	}
	MHD_add_response_header(response, "Content-Type", "application/json");
	*status = 200;
	(void)conn;
	return fakeapi_defer(200, response);
}

/* Logs a request and returns its index; the caller holds the lock. */
static inline size_t
fakeapi_log_request(struct fakeapi *f, const char *uri, const char *collection, int watch)
{
	struct fakeapi_request *grown, *r;

	if (f->request_count == f->request_alloc) {
		f->request_alloc = f->request_alloc ? f->request_alloc * 2 : 64;
		grown = realloc(f->requests, f->request_alloc * sizeof(*grown));
		if (grown == NULL)
			abort();
		f->requests = grown;
	}
	r = &f->requests[f->request_count];
	memset(r, 0, sizeof(*r));
	snprintf(r->uri, sizeof(r->uri), "%s", uri);
	snprintf(r->collection, sizeof(r->collection), "%s", collection);
	r->watch = watch;
	r->at = fakeapi_now();
	pthread_cond_broadcast(&f->cond);
	return f->request_count++;
}

static inline enum MHD_Result
fakeapi_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
	struct fakeapi *f = cls;
	struct fakeapi_collection *c = NULL;
	const char *auth, *watch_arg, *uri = *req_cls;
	char collection[256] = "", name[256] = "", *text;
	enum MHD_Result ret;
	cJSON *item;
	size_t at;
	int status = 0, watch;

	(void)version;
	(void)upload;
	(void)upload_size;
	watch_arg = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "watch");
	watch = watch_arg && (strcmp(watch_arg, "1") == 0 || strcmp(watch_arg, "true") == 0);
	pthread_mutex_lock(&f->lock);
	if (fakeapi_route(url, collection, sizeof(collection), name, sizeof(name)) != 0)
		collection[0] = '\0';
	at = fakeapi_log_request(f, uri ? uri : url, collection, watch);
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	if (strcmp(method, "GET") != 0) {
		status = 405;
		ret = fakeapi_reply_status(conn, 405, "MethodNotAllowed", "GET only");
	} else if (auth == NULL || strcmp(auth, "Bearer " FAKEAPI_TOKEN) != 0) {
		status = 401;
		ret = fakeapi_reply_status(conn, 401, "Unauthorized", "Unauthorized");
	} else if (collection[0] == '\0' || (c = fakeapi_collection_locked(f, collection)) ==
	    NULL) {
		status = 404;
		ret = fakeapi_reply_status(conn, 404, "NotFound", "the server could not find the "
		    "requested resource");
	} else if (watch)
		ret = fakeapi_watch(f, c, conn, MHD_lookup_connection_value(conn,
		    MHD_GET_ARGUMENT_KIND, "resourceVersion"), &status);
	else if (name[0]) {
		if ((item = fakeapi_find(c, name, NULL)) != NULL) {
			status = 200;
			ret = fakeapi_reply(conn, 200, cJSON_PrintUnformatted(item));
		} else {
			status = 404;
			ret = fakeapi_reply_status(conn, 404, "NotFound", "not found");
		}
	} else {
		c->held++;
		pthread_cond_broadcast(&f->cond);
		while (c->hold_lists && !f->stopping)
			pthread_cond_wait(&f->cond, &f->lock);
		c->held--;
		if (f->stopping) {
			status = 503;
			ret = fakeapi_reply_status(conn, 503, "ServiceUnavailable", "stopping");
		} else if (c->fail_lists > 0) {
			c->fail_lists--;
			status = c->fail_status;
			ret = fakeapi_reply_status(conn, (unsigned)status, "InternalError",
			    "the fake was told to fail this LIST");
		} else {
			text = fakeapi_list_page(f, c, MHD_lookup_connection_value(conn,
			    MHD_GET_ARGUMENT_KIND, "limit"), MHD_lookup_connection_value(conn,
			    MHD_GET_ARGUMENT_KIND, "continue"), &status);
			ret = fakeapi_reply(conn, (unsigned)status, text);
		}
	}
	f->requests[at].status = status;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return fakeapi_queue_pending(conn, ret);
}

/* The raw URI of each request, kept for the log; freed when the request completes. */
static inline void *
fakeapi_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	(void)conn;
	return strdup(uri);
}

static inline void
fakeapi_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
    enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)conn;
	(void)why;
	free(*req_cls);
	*req_cls = NULL;
}

/*
 * Starts the fake on 127.0.0.1 with a free port, serving certdir's
 * serving.crt and serving.key (make-certs.sh). Returns 0 or -1.
 */
static inline int
fakeapi_start(struct fakeapi *f, const char *certdir)
{
	struct sockaddr_in addr;
	const union MHD_DaemonInfo *info;
	char path[512];

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->rv = 100;
	snprintf(path, sizeof(path), "%s/serving.crt", certdir);
	f->cert = fakeapi_read_file(path);
	snprintf(path, sizeof(path), "%s/serving.key", certdir);
	f->key = fakeapi_read_file(path);
	if (f->cert == NULL || f->key == NULL)
		return -1;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL, fakeapi_handle, f,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
	    MHD_OPTION_HTTPS_MEM_CERT, f->cert,
	    MHD_OPTION_HTTPS_MEM_KEY, f->key,
	    MHD_OPTION_URI_LOG_CALLBACK, fakeapi_uri_log, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, fakeapi_completed, NULL,
	    MHD_OPTION_END);
	if (f->daemon == NULL)
		return -1;
	info = MHD_get_daemon_info(f->daemon, MHD_DAEMON_INFO_BIND_PORT);
	f->port = info ? info->port : 0;
	return f->port ? 0 : -1;
}

/* Ends every watch and held LIST, stops the daemon and frees everything. */
static inline void
fakeapi_stop(struct fakeapi *f)
{
	size_t i, j;

	pthread_mutex_lock(&f->lock);
	f->stopping = 1;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	if (f->daemon)
		MHD_stop_daemon(f->daemon);
	for (i = 0; i < f->collection_count; i++) {
		for (j = 0; j < f->collections[i]->log_count; j++)
			free(f->collections[i]->log[j].line);
		free(f->collections[i]->log);
		cJSON_Delete(f->collections[i]->items);
		free(f->collections[i]);
	}
	free(f->requests);
	free(f->cert);
	free(f->key);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	memset(f, 0, sizeof(*f));
}

/* Writes a kubeconfig for poolguard: this server, the CA at ca_path, the token. */
static inline int
fakeapi_write_kubeconfig(const struct fakeapi *f, const char *path, const char *ca_path)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		return -1;
	fprintf(fp, "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
	    "contexts:\n- name: fake\n  context: {cluster: fake, user: poolguard}\n"
	    "clusters:\n- name: fake\n  cluster:\n    server: https://127.0.0.1:%u\n"
	    "    certificate-authority: %s\n"
	    "users:\n- name: poolguard\n  user: {token: %s}\n", f->port, ca_path, FAKEAPI_TOKEN);
	return fclose(fp) == 0 ? 0 : -1;
}

/*
 * Stores object (JSON text) in collection with a new resourceVersion and,
 * when type is not NULL, logs the watch event of that type ("ADDED",
 * "MODIFIED", "DELETED") for the watches. DELETED removes it from the
 * store, as does type NULL with delete set. Returns the resourceVersion, or
 * -1 when the text is not a JSON object with metadata.name.
 */
static inline long
fakeapi_change(struct fakeapi *f, const char *collection, const char *type, const char *json,
    int delete)
{
	struct fakeapi_collection *c;
	struct fakeapi_event *grown;
	cJSON *object = cJSON_Parse(json), *metadata, *name, *event, *old;
	char rv[32];
	long result = -1;
	int index;

	metadata = cJSON_GetObjectItemCaseSensitive(object, "metadata");
	name = cJSON_GetObjectItemCaseSensitive(metadata, "name");
	if (!cJSON_IsString(name)) {
		cJSON_Delete(object);
		return -1;
	}
	pthread_mutex_lock(&f->lock);
	if ((c = fakeapi_collection_locked(f, collection)) == NULL)
		goto out;
	snprintf(rv, sizeof(rv), "%ld", ++f->rv);
	cJSON_DeleteItemFromObjectCaseSensitive(metadata, "resourceVersion");
	cJSON_AddStringToObject(metadata, "resourceVersion", rv);
	delete |= type && strcmp(type, "DELETED") == 0;
	if ((old = fakeapi_find(c, name->valuestring, &index)) != NULL)
		cJSON_DeleteItemFromArray(c->items, index);
	if (!delete)
		cJSON_AddItemToArray(c->items, cJSON_Duplicate(object, 1));
	if (type) {
		if (c->log_count == c->log_alloc) {
			c->log_alloc = c->log_alloc ? c->log_alloc * 2 : 16;
			if ((grown = realloc(c->log, c->log_alloc * sizeof(*grown))) == NULL)
				abort();
			c->log = grown;
		}
		event = cJSON_CreateObject();
		cJSON_AddStringToObject(event, "type", type);
		cJSON_AddItemToObject(event, "object", object);
		object = NULL;
		c->log[c->log_count].rv = f->rv;
		c->log[c->log_count].line = cJSON_PrintUnformatted(event);
		cJSON_Delete(event);
		grown = &c->log[c->log_count++];
		if ((grown->line = realloc(grown->line, strlen(grown->line) + 2)) == NULL)
			abort();
		memcpy(grown->line + strlen(grown->line), "\n", 2);
	}
	result = f->rv;
	pthread_cond_broadcast(&f->cond);
out:
	pthread_mutex_unlock(&f->lock);
	cJSON_Delete(object);
	return result;
}

/* Stores an object without a watch event: it was there before the LIST, or the watch missed it. */
static inline long
fakeapi_put(struct fakeapi *f, const char *collection, const char *json)
{
	return fakeapi_change(f, collection, NULL, json, 0);
}

/* A watch event, applied to the store as well. */
static inline long
fakeapi_event(struct fakeapi *f, const char *collection, const char *type, const char *json)
{
	return fakeapi_change(f, collection, type, json, 0);
}

/* Removes an object without a watch event (a DELETE the watch never saw). */
static inline void
fakeapi_forget(struct fakeapi *f, const char *collection, const char *name)
{
	char json[512];

	snprintf(json, sizeof(json), "{\"metadata\":{\"name\":\"%s\"}}", name);
	fakeapi_change(f, collection, NULL, json, 1);
}

/* A BOOKMARK event: a new resourceVersion, nothing changed. Returns it. */
static inline long
fakeapi_bookmark(struct fakeapi *f, const char *collection, const char *api_version,
    const char *kind)
{
	char json[512];
	long rv;

	pthread_mutex_lock(&f->lock);
	rv = f->rv + 1;
	pthread_mutex_unlock(&f->lock);
	/* metadata.name only to pass fakeapi_change's check; a bookmark stores nothing. */
	snprintf(json, sizeof(json), "{\"apiVersion\":\"%s\",\"kind\":\"%s\",\"metadata\":"
	    "{\"name\":\"\"}}", api_version, kind);
	return fakeapi_change(f, collection, "BOOKMARK", json, 1) == rv ? rv : -1;
}

enum fakeapi_knob {
	FAKEAPI_PAGE_SIZE,		/* value: items per page at most */
	FAKEAPI_FAIL_LISTS,		/* value: LISTs to fail, status: with which HTTP status */
	FAKEAPI_HOLD_LISTS,		/* value: 1 holds every LIST, 0 lets them go */
	FAKEAPI_CUT_NEXT_EVENT,		/* the next event goes out half, then the line drops */
	FAKEAPI_GONE_EVENT,		/* the watch sends ERROR 410 Gone and ends */
	FAKEAPI_GONE_WATCH,		/* the next watch request gets HTTP 410 */
};

static inline void
fakeapi_set(struct fakeapi *f, const char *collection, enum fakeapi_knob knob, int value,
    int status)
{
	struct fakeapi_collection *c;

	pthread_mutex_lock(&f->lock);
	if ((c = fakeapi_collection_locked(f, collection)) != NULL) {
		switch (knob) {
		case FAKEAPI_PAGE_SIZE:
			c->page_size = value;
			break;
		case FAKEAPI_FAIL_LISTS:
			c->fail_lists = value;
			c->fail_status = status;
			break;
		case FAKEAPI_HOLD_LISTS:
			c->hold_lists = value;
			break;
		case FAKEAPI_CUT_NEXT_EVENT:
			c->cut_next = 1;
			break;
		case FAKEAPI_GONE_EVENT:
			c->gone_next = 1;
			break;
		case FAKEAPI_GONE_WATCH:
			c->gone_watch = 1;
			break;
		}
	}
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

enum fakeapi_what {
	FAKEAPI_LISTS,			/* LIST requests (GET of the collection without watch) */
	FAKEAPI_WATCHES,		/* watch requests */
	FAKEAPI_OPEN_WATCHES,		/* watches whose stream is open now */
	FAKEAPI_HELD,			/* LISTs waiting now */
};

/* How many of what collection has; the caller holds the lock. */
static inline int
fakeapi_count_locked(struct fakeapi *f, const char *collection, enum fakeapi_what what)
{
	struct fakeapi_collection *c;
	size_t i;
	int n = 0;

	if (what == FAKEAPI_OPEN_WATCHES || what == FAKEAPI_HELD) {
		c = fakeapi_collection_locked(f, collection);
		return c == NULL ? 0 : what == FAKEAPI_HELD ? c->held : c->watches_open;
	}
	for (i = 0; i < f->request_count; i++)
		if (strcmp(f->requests[i].collection, collection) == 0 &&
		    f->requests[i].watch == (what == FAKEAPI_WATCHES))
			n++;
	return n;
}

static inline int
fakeapi_count(struct fakeapi *f, const char *collection, enum fakeapi_what what)
{
	int n;

	pthread_mutex_lock(&f->lock);
	n = fakeapi_count_locked(f, collection, what);
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* Waits until the count of what reaches at least n; 0 when it did within seconds, else -1. */
static inline int
fakeapi_wait(struct fakeapi *f, const char *collection, enum fakeapi_what what, int n,
    double seconds)
{
	double deadline = fakeapi_now() + seconds;
	struct timespec until;
	int result = -1;

	pthread_mutex_lock(&f->lock);
	while (fakeapi_now() < deadline) {
		if (fakeapi_count_locked(f, collection, what) >= n) {
			result = 0;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 50 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&f->cond, &f->lock, &until);
	}
	pthread_mutex_unlock(&f->lock);
	return result;
}

/* The index-th request (from 0) of what (FAKEAPI_LISTS or FAKEAPI_WATCHES) to collection. */
static inline int
fakeapi_request(struct fakeapi *f, const char *collection, enum fakeapi_what what, int index,
    struct fakeapi_request *out)
{
	size_t i;
	int n = 0, result = -1;

	pthread_mutex_lock(&f->lock);
	for (i = 0; i < f->request_count; i++) {
		if (strcmp(f->requests[i].collection, collection) != 0 ||
		    f->requests[i].watch != (what == FAKEAPI_WATCHES))
			continue;
		if (n++ == index) {
			*out = f->requests[i];
			result = 0;
			break;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return result;
}

/* Requests with a status of code, on any path (401 and 404 say poolguard asked wrongly). */
static inline int
fakeapi_count_status(struct fakeapi *f, int code)
{
	size_t i;
	int n = 0;

	pthread_mutex_lock(&f->lock);
	for (i = 0; i < f->request_count; i++)
		n += f->requests[i].status == code;
	pthread_mutex_unlock(&f->lock);
	return n;
}

#endif
