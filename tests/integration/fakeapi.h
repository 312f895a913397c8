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
 * - coordination.k8s.io/v1 Leases, the one object poolguard writes: GET of
 *   one (404 Status when absent), POST to the collection (201; 409
 *   AlreadyExists when present; a resourceVersion in the body is refused as
 *   kube-apiserver refuses it) and PUT of one with metadata.resourceVersion
 *   as the precondition, as kube-apiserver checks it (no resourceVersion:
 *   422; not the stored one: 409 Conflict; a PUT of a Lease that is not
 *   there creates it, as AllowCreateOnUpdate says for Leases). Each write
 *   takes a new resourceVersion from the shared counter and is answered
 *   with the stored object. Faults of a Lease collection: the next N reads
 *   or writes answered with a status; every read or write delayed; the next
 *   N writes held (before the precondition is checked) until the test lets
 *   them go, so two writers can be made to send the same resourceVersion.
 * - Every request is logged with its method, full URI, the time it came, the
 *   status it got and, for a Lease write, the spec.holderIdentity it sent,
 *   for the test to count, to time and to put in order (fakeapi_trace).
 *
 * Requests without "Authorization: Bearer FAKEAPI_TOKEN" get 401, methods
 * other than GET outside the Lease collections 405. One thread per
 * connection, so a held LIST or write, a delayed read or an open watch
 * blocks nothing else. Header-only, like harness.h: every function is
 * static inline.
 */
#ifndef POOLGUARD_FAKEAPI_H
#define POOLGUARD_FAKEAPI_H

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
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
#define FAKEAPI_BODY_MAX (1024 * 1024)	/* a write's body; kube-apiserver's limit is 3 MiB */
#define FAKEAPI_LEASES "/apis/coordination.k8s.io/v1/"

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
	/* Lease collections: */
	int fail_reads;			/* GETs of one still to answer read_status */
	int read_status;
	int fail_writes;		/* writes still to answer write_status */
	int write_status;
	long delay_reads_ms;		/* every GET of one waits this long, 0: none */
	long delay_writes_ms;		/* every write waits this long, 0: none */
	int hold_writes;		/* writes still to catch and hold */
	int writes_gate;		/* caught writes wait while set */
	int writes_held;		/* caught writes waiting now */
};

struct fakeapi_request {
	char method[8];
	char uri[FAKEAPI_URI_MAX];	/* path and query as sent */
	char collection[256];		/* "" when the path is none of the collections */
	char holder[64];		/* a Lease write's spec.holderIdentity */
	int watch;
	int status;			/* 0 while it is being answered */
	double at;			/* CLOCK_MONOTONIC seconds */
};

/* One request's state across libmicrohttpd's calls: its URI, and the body of a write. */
struct fakeapi_call {
	char *uri;
	char *body;
	size_t len;
	int begun;
	int too_big;
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
 * Returns 0 for the four kinds poolguard reads and for Leases, -1 for
 * anything else.
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
		{FAKEAPI_LEASES, {"leases", NULL, NULL}},
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
fakeapi_log_request(struct fakeapi *f, const char *method, const char *uri,
    const char *collection, int watch)
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
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->uri, sizeof(r->uri), "%s", uri);
	snprintf(r->collection, sizeof(r->collection), "%s", collection);
	r->watch = watch;
	r->at = fakeapi_now();
	pthread_cond_broadcast(&f->cond);
	return f->request_count++;
}

static inline int
fakeapi_is_lease(const char *collection)
{
	return strncmp(collection, FAKEAPI_LEASES, strlen(FAKEAPI_LEASES)) == 0;
}

/* The reason kube-apiserver gives with a status code. */
static inline const char *
fakeapi_reason(int code)
{
	switch (code) {
	case 400:
		return "BadRequest";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "NotFound";
	case 409:
		return "Conflict";
	case 422:
		return "Invalid";
	case 429:
		return "TooManyRequests";
	case 503:
		return "ServiceUnavailable";
	case 504:
		return "Timeout";
	default:
		return "InternalError";
	}
}

/* A Status about Lease name, with the details kube-apiserver adds. */
static inline enum MHD_Result
fakeapi_lease_status(struct MHD_Connection *conn, int code, const char *reason,
    const char *name, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static inline enum MHD_Result
fakeapi_lease_status(struct MHD_Connection *conn, int code, const char *reason,
    const char *name, const char *fmt, ...)
{
	cJSON *s = cJSON_CreateObject(), *details;
	char message[1024], *text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(s, "kind", "Status");
	cJSON_AddStringToObject(s, "apiVersion", "v1");
	cJSON_AddObjectToObject(s, "metadata");
	cJSON_AddStringToObject(s, "status", "Failure");
	cJSON_AddStringToObject(s, "message", message);
	cJSON_AddStringToObject(s, "reason", reason);
	details = cJSON_AddObjectToObject(s, "details");
	if (name && name[0])
		cJSON_AddStringToObject(details, "name", name);
	cJSON_AddStringToObject(details, "group", "coordination.k8s.io");
	cJSON_AddStringToObject(details, "kind", "leases");
	cJSON_AddNumberToObject(s, "code", code);
	text = cJSON_PrintUnformatted(s);
	cJSON_Delete(s);
	return fakeapi_reply(conn, (unsigned)code, text);
}

/* Waits ms milliseconds, or until the fake stops; the caller holds the lock. */
static inline void
fakeapi_sleep_locked(struct fakeapi *f, long ms)
{
	double deadline = fakeapi_now() + (double)ms / 1e3, left, whole;
	struct timespec until;

	while (!f->stopping && (left = deadline - fakeapi_now()) > 0) {
		clock_gettime(CLOCK_REALTIME, &until);
		left = modf(left, &whole);
		until.tv_sec += (time_t)whole;
		until.tv_nsec += (long)(left * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&f->cond, &f->lock, &until);
	}
}

/* metadata.FIELD of object as a string, NULL when it is not one. */
static inline const char *
fakeapi_meta_string(const cJSON *object, const char *field)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(object, "metadata"), field));
}

/* Sets metadata.FIELD of object to value. */
static inline void
fakeapi_meta_set(cJSON *object, const char *field, const char *value)
{
	cJSON *metadata = cJSON_GetObjectItemCaseSensitive(object, "metadata");

	cJSON_DeleteItemFromObjectCaseSensitive(metadata, field);
	cJSON_AddStringToObject(metadata, field, value);
}

/*
 * Stores object (taken) as the Lease name of c, as a write does: a new
 * resourceVersion, the uid and creationTimestamp of the one it replaces (or
 * new ones). Returns the stored object; the caller holds the lock.
 */
static inline cJSON *
fakeapi_lease_store(struct fakeapi *f, struct fakeapi_collection *c, const char *name,
    cJSON *object)
{
	cJSON *old;
	char rv[32], uid[64];
	int index;

	snprintf(rv, sizeof(rv), "%ld", ++f->rv);
	if ((old = fakeapi_find(c, name, &index)) != NULL) {
		fakeapi_meta_set(object, "uid", fakeapi_meta_string(old, "uid") ?
		    fakeapi_meta_string(old, "uid") : "");
		fakeapi_meta_set(object, "creationTimestamp",
		    fakeapi_meta_string(old, "creationTimestamp") ?
		    fakeapi_meta_string(old, "creationTimestamp") : "");
		cJSON_DeleteItemFromArray(c->items, index);
	} else {
		snprintf(uid, sizeof(uid), "lease-uid-%s", rv);
		fakeapi_meta_set(object, "uid", uid);
		fakeapi_meta_set(object, "creationTimestamp", "2026-01-01T00:00:00Z");
	}
	fakeapi_meta_set(object, "resourceVersion", rv);
	cJSON_AddItemToArray(c->items, object);
	return object;
}

/*
 * A write (PUT of name, or POST to the collection when name is "") of a
 * Lease with body, judged as kube-apiserver judges it; the caller holds the
 * lock and has logged the request as r.
 */
static inline enum MHD_Result
fakeapi_lease_write(struct fakeapi *f, struct fakeapi_collection *c,
    struct MHD_Connection *conn, const char *method, const char *name,
    const struct fakeapi_call *call, struct fakeapi_request *r, int *status)
{
	const char *namespace = c->path + strlen(FAKEAPI_LEASES) + strlen("namespaces/");
	const char *body_name, *body_namespace, *rv, *version, *kind;
	char ns[128];
	cJSON *object, *old;
	int post = strcmp(method, "POST") == 0;

	(void)r;
	snprintf(ns, sizeof(ns), "%.*s", (int)strcspn(namespace, "/"), namespace);
	object = call->body ? cJSON_ParseWithLength(call->body, call->len) : NULL;
	if (call->too_big) {
		cJSON_Delete(object);
		*status = 413;
		return fakeapi_lease_status(conn, 413, "RequestEntityTooLarge", name,
		    "the request body is over %d bytes", FAKEAPI_BODY_MAX);
	}
	if (!cJSON_IsObject(object) || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(object,
	    "metadata"))) {
		cJSON_Delete(object);
		*status = 400;
		return fakeapi_lease_status(conn, 400, "BadRequest", name, "the body of the "
		    "request is not a JSON object with metadata");
	}
	version = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(object, "apiVersion"));
	kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(object, "kind"));
	body_name = fakeapi_meta_string(object, "name");
	body_namespace = fakeapi_meta_string(object, "namespace");
	rv = fakeapi_meta_string(object, "resourceVersion");
	*status = 0;
	if (version == NULL || strcmp(version, "coordination.k8s.io/v1") != 0 || kind == NULL ||
	    strcmp(kind, "Lease") != 0) {
		*status = 400;
		fakeapi_lease_status(conn, 400, "BadRequest", name, "the object is not a "
		    "coordination.k8s.io/v1 Lease (apiVersion '%s', kind '%s')",
		    version ? version : "", kind ? kind : "");
	} else if (body_name == NULL || body_name[0] == '\0') {
		*status = 422;
		fakeapi_lease_status(conn, 422, "Invalid", "", "Lease.coordination.k8s.io \"\" is "
		    "invalid: metadata.name: Required value: name or generateName is required");
	} else if (!post && strcmp(body_name, name) != 0) {
		*status = 400;
		fakeapi_lease_status(conn, 400, "BadRequest", name, "the name of the object (%s) "
		    "does not match the name on the URL (%s)", body_name, name);
	} else if (body_namespace && body_namespace[0] && strcmp(body_namespace, ns) != 0) {
		*status = 400;
		fakeapi_lease_status(conn, 400, "BadRequest", body_name, "the namespace of the "
		    "provided object does not match the namespace sent on the request");
	}
	if (*status) {
		cJSON_Delete(object);
		return MHD_YES;
	}
	old = fakeapi_find(c, body_name, NULL);
	if (post && rv && rv[0]) {
		*status = 500;
		fakeapi_lease_status(conn, 500, "InternalError", body_name, "resourceVersion "
		    "should not be set on objects to be created");
	} else if (post && old) {
		*status = 409;
		fakeapi_lease_status(conn, 409, "AlreadyExists", body_name,
		    "leases.coordination.k8s.io \"%s\" already exists", body_name);
	} else if (!post && old && (rv == NULL || rv[0] == '\0')) {
		*status = 422;
		fakeapi_lease_status(conn, 422, "Invalid", body_name, "leases.coordination.k8s.io "
		    "\"%s\" is invalid: metadata.resourceVersion: Invalid value: 0: must be "
		    "specified for an update", body_name);
	} else if (!post && old && strcmp(rv, fakeapi_meta_string(old, "resourceVersion") ?
	    fakeapi_meta_string(old, "resourceVersion") : "") != 0) {
		*status = 409;
		fakeapi_lease_status(conn, 409, "Conflict", body_name, "Operation cannot be "
		    "fulfilled on leases.coordination.k8s.io \"%s\": the object has been modified; "
		    "please apply your changes to the latest version and try again", body_name);
	}
	if (*status) {
		cJSON_Delete(object);
		return MHD_YES;
	}
	/* Created by a POST, or by a PUT of one that is not there (AllowCreateOnUpdate). */
	*status = old ? 200 : 201;
	fakeapi_meta_set(object, "namespace", ns);
	object = fakeapi_lease_store(f, c, body_name, object);
	return fakeapi_reply(conn, (unsigned)*status, cJSON_PrintUnformatted(object));
}

/*
 * A request to a Lease collection: GET of one, or a write, after the
 * scripted holds, delays and failures; the caller holds the lock.
 */
static inline enum MHD_Result
fakeapi_lease(struct fakeapi *f, struct fakeapi_collection *c, struct MHD_Connection *conn,
    const char *method, const char *name, const struct fakeapi_call *call, size_t at,
    int *status)
{
	struct fakeapi_request *r;
	int write = strcmp(method, "GET") != 0;
	const char *holder;
	cJSON *item, *object;

	if (write && c->hold_writes > 0) {
		c->hold_writes--;
		c->writes_held++;
		pthread_cond_broadcast(&f->cond);
		while (c->writes_gate && !f->stopping)
			pthread_cond_wait(&f->cond, &f->lock);
		c->writes_held--;
	}
	fakeapi_sleep_locked(f, write ? c->delay_writes_ms : c->delay_reads_ms);
	r = &f->requests[at];		/* the log may have grown while it waited */
	if (write && call && call->body && (object = cJSON_Parse(call->body)) != NULL) {
		holder = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(object, "spec"), "holderIdentity"));
		snprintf(r->holder, sizeof(r->holder), "%s", holder ? holder : "");
		cJSON_Delete(object);
	}
	if (f->stopping) {
		*status = 503;
		return fakeapi_reply_status(conn, 503, "ServiceUnavailable", "stopping");
	}
	if (write && c->fail_writes > 0) {
		c->fail_writes--;
		*status = c->write_status;
		return fakeapi_lease_status(conn, *status, fakeapi_reason(*status), name,
		    "the fake was told to fail this write");
	}
	if (!write && c->fail_reads > 0) {
		c->fail_reads--;
		*status = c->read_status;
		return fakeapi_lease_status(conn, *status, fakeapi_reason(*status), name,
		    "the fake was told to fail this read");
	}
	if (write)
		return fakeapi_lease_write(f, c, conn, method, name, call, r, status);
	if ((item = fakeapi_find(c, name, NULL)) == NULL) {
		*status = 404;
		return fakeapi_lease_status(conn, 404, "NotFound", name,
		    "leases.coordination.k8s.io \"%s\" not found", name);
	}
	*status = 200;
	return fakeapi_reply(conn, 200, cJSON_PrintUnformatted(item));
}

/*
 * Collects the body of a write into call across libmicrohttpd's calls.
 * Returns 1 while more is to come (the caller returns MHD_YES), 0 once it is
 * all there.
 */
static inline int
fakeapi_collect_body(struct fakeapi_call *call, const char *upload, size_t *upload_size)
{
	char *grown;

	if (!call->begun) {
		call->begun = 1;
		return 1;
	}
	if (*upload_size == 0)
		return 0;
	if (call->len + *upload_size > FAKEAPI_BODY_MAX)
		call->too_big = 1;
	else if ((grown = realloc(call->body, call->len + *upload_size + 1)) != NULL) {
		call->body = grown;
		memcpy(call->body + call->len, upload, *upload_size);
		call->len += *upload_size;
		call->body[call->len] = '\0';
	}
	*upload_size = 0;
	return 1;
}

static inline enum MHD_Result
fakeapi_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
	struct fakeapi *f = cls;
	struct fakeapi_collection *c = NULL;
	struct fakeapi_call *call = *req_cls;
	const char *auth, *watch_arg;
	char collection[256] = "", name[256] = "", *text;
	enum MHD_Result ret;
	cJSON *item;
	size_t at;
	int status = 0, watch, write, lease;

	(void)version;
	write = strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0;
	if (write && call && fakeapi_collect_body(call, upload, upload_size))
		return MHD_YES;
	watch_arg = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "watch");
	watch = watch_arg && (strcmp(watch_arg, "1") == 0 || strcmp(watch_arg, "true") == 0);
	pthread_mutex_lock(&f->lock);
	if (fakeapi_route(url, collection, sizeof(collection), name, sizeof(name)) != 0)
		collection[0] = '\0';
	lease = collection[0] && fakeapi_is_lease(collection);
	at = fakeapi_log_request(f, method, call && call->uri ? call->uri : url, collection,
	    watch);
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	if (strcmp(method, "GET") != 0 && !(lease && ((strcmp(method, "PUT") == 0 && name[0]) ||
	    (strcmp(method, "POST") == 0 && name[0] == '\0')))) {
		status = 405;
		ret = fakeapi_reply_status(conn, 405, "MethodNotAllowed", lease ? "GET or PUT of a "
		    "Lease, POST to the collection" : "GET only");
	} else if (auth == NULL || strcmp(auth, "Bearer " FAKEAPI_TOKEN) != 0) {
		status = 401;
		ret = fakeapi_reply_status(conn, 401, "Unauthorized", "Unauthorized");
	} else if (collection[0] == '\0' || (c = fakeapi_collection_locked(f, collection)) ==
	    NULL) {
		status = 404;
		ret = fakeapi_reply_status(conn, 404, "NotFound", "the server could not find the "
		    "requested resource");
	} else if (lease && !watch && (write || name[0]))
		ret = fakeapi_lease(f, c, conn, method, name, call, at, &status);
	else if (watch)
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

/* Each request's state, with its raw URI for the log; freed when the request completes. */
static inline void *
fakeapi_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct fakeapi_call *call = calloc(1, sizeof(*call));

	(void)cls;
	(void)conn;
	if (call != NULL && (call->uri = strdup(uri)) == NULL) {
		free(call);
		call = NULL;
	}
	return call;
}

static inline void
fakeapi_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
    enum MHD_RequestTerminationCode why)
{
	struct fakeapi_call *call = *req_cls;

	(void)cls;
	(void)conn;
	(void)why;
	if (call != NULL) {
		free(call->uri);
		free(call->body);
		free(call);
	}
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
	/* Of a Lease collection: */
	FAKEAPI_FAIL_READS,		/* value: GETs of a Lease to fail, status: with which */
	FAKEAPI_FAIL_WRITES,		/* value: writes to fail, status: with which HTTP status */
	FAKEAPI_DELAY_READS,		/* value: ms every GET of a Lease waits, 0: none */
	FAKEAPI_DELAY_WRITES,		/* value: ms every write waits, 0: none */
	FAKEAPI_HOLD_WRITES,		/* value: the next N writes wait; 0 lets the held ones go */
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
		case FAKEAPI_FAIL_READS:
			c->fail_reads = value;
			c->read_status = status;
			break;
		case FAKEAPI_FAIL_WRITES:
			c->fail_writes = value;
			c->write_status = status;
			break;
		case FAKEAPI_DELAY_READS:
			c->delay_reads_ms = value;
			break;
		case FAKEAPI_DELAY_WRITES:
			c->delay_writes_ms = value;
			break;
		case FAKEAPI_HOLD_WRITES:
			c->hold_writes = value;
			c->writes_gate = value > 0;
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
	FAKEAPI_HELD_WRITES,		/* Lease writes held now (FAKEAPI_HOLD_WRITES) */
};

/* How many of what collection has; the caller holds the lock. */
static inline int
fakeapi_count_locked(struct fakeapi *f, const char *collection, enum fakeapi_what what)
{
	struct fakeapi_collection *c;
	size_t i;
	int n = 0;

	if (what == FAKEAPI_OPEN_WATCHES || what == FAKEAPI_HELD || what == FAKEAPI_HELD_WRITES) {
		c = fakeapi_collection_locked(f, collection);
		if (c == NULL)
			return 0;
		return what == FAKEAPI_HELD ? c->held : what == FAKEAPI_HELD_WRITES ?
		    c->writes_held : c->watches_open;
	}
	for (i = 0; i < f->request_count; i++)
		if (strcmp(f->requests[i].collection, collection) == 0 &&
		    strcmp(f->requests[i].method, "GET") == 0 &&
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
		    strcmp(f->requests[i].method, "GET") != 0 ||
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

/* Does request r match method (NULL: any), a URI starting with prefix and status (0: any)? */
static inline int
fakeapi_matches(const struct fakeapi_request *r, const char *method, const char *prefix,
    int status)
{
	return (method == NULL || strcmp(r->method, method) == 0) &&
	    strncmp(r->uri, prefix, strlen(prefix)) == 0 && (status == 0 || r->status == status);
}

/* Requests of method (NULL: any) to URIs starting with prefix, answered status (0: any). */
static inline int
fakeapi_count_requests(struct fakeapi *f, const char *method, const char *prefix, int status)
{
	size_t i;
	int n = 0;

	pthread_mutex_lock(&f->lock);
	for (i = 0; i < f->request_count; i++)
		n += fakeapi_matches(&f->requests[i], method, prefix, status);
	pthread_mutex_unlock(&f->lock);
	return n;
}

/*
 * The requests to URIs starting with prefix, in the order they came, as
 * "GET 404,POST 201 holder,..." (a write with the holderIdentity it sent; a
 * request still being answered has status 0). Returns buf.
 */
static inline char *
fakeapi_trace(struct fakeapi *f, const char *prefix, char *buf, size_t size)
{
	const struct fakeapi_request *r;
	size_t i, n = 0;

	buf[0] = '\0';
	pthread_mutex_lock(&f->lock);
	for (i = 0; i < f->request_count && n < size; i++) {
		r = &f->requests[i];
		if (!fakeapi_matches(r, NULL, prefix, 0))
			continue;
		n += (size_t)snprintf(buf + n, size - n, "%s%s %d%s%s", n ? "," : "", r->method,
		    r->status, r->holder[0] ? " " : "", r->holder);
	}
	pthread_mutex_unlock(&f->lock);
	return buf;
}

/* Waits until every request to prefix has been answered; 0, or -1 after seconds. */
static inline int
fakeapi_wait_answered(struct fakeapi *f, const char *prefix, double seconds)
{
	double deadline = fakeapi_now() + seconds;
	struct timespec until;
	size_t i;
	int busy = 1;

	pthread_mutex_lock(&f->lock);
	while (busy && fakeapi_now() < deadline) {
		for (busy = 0, i = 0; i < f->request_count && !busy; i++)
			busy = f->requests[i].status == 0 &&
			    fakeapi_matches(&f->requests[i], NULL, prefix, 0);
		if (!busy)
			break;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 50 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&f->cond, &f->lock, &until);
	}
	pthread_mutex_unlock(&f->lock);
	return busy ? -1 : 0;
}

/* The stored object name of collection as JSON text (the caller frees it), NULL when none. */
static inline char *
fakeapi_object(struct fakeapi *f, const char *collection, const char *name)
{
	struct fakeapi_collection *c;
	cJSON *item;
	char *text = NULL;

	pthread_mutex_lock(&f->lock);
	if ((c = fakeapi_collection_locked(f, collection)) != NULL &&
	    (item = fakeapi_find(c, name, NULL)) != NULL)
		text = cJSON_PrintUnformatted(item);
	pthread_mutex_unlock(&f->lock);
	return text;
}

#endif
