/*
 * lease.c - the reservation Lease: its encoding, and reading and writing it.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "poolguard/lease.h"
#include "poolguard/metrics.h"

#define LEASE_API "/apis/coordination.k8s.io/v1/namespaces/"

struct lease_ledger {
	struct kube_client *client;
	char namespace[LEASE_FIELD_MAX];
	char name[254];
	char full_name[LEASE_FIELD_MAX + 256];
	char replica[LEASE_FIELD_MAX];
	double timeout;
	pthread_mutex_t writer;
};

/* Copies a string field of an entry; fails when it is missing, empty or too long. */
static int
lease_copy(const cJSON *item, char *dst, size_t size, size_t index, const char *what,
    struct pg_error *err)
{
	const char *s = cJSON_GetStringValue(item);

	if (s == NULL || *s == '\0' || strlen(s) >= size)
		return pg_error_set(err, PG_ERR_INVALID, "annotation %s: entry %zu: %s must be a "
		    "string of 1 to %zu bytes", LEASE_ANNOTATION, index, what, size - 1);
	memcpy(dst, s, strlen(s) + 1);
	return PG_OK;
}

static int
lease_decode_entry(const cJSON *item, size_t index, struct lease_entry *e, struct pg_error *err)
{
	const cJSON *f[8];
	char kind[32];
	int result, i;

	if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != 8)
		return pg_error_set(err, PG_ERR_INVALID, "annotation %s: entry %zu: must be an array "
		    "of 8 fields [kind, namespace, name, role, connections, expires, replica, "
		    "generation]", LEASE_ANNOTATION, index);
	for (i = 0; i < 8; i++)
		f[i] = cJSON_GetArrayItem(item, i);
	if ((result = lease_copy(f[0], kind, sizeof(kind), index, "kind", err)) ||
	    (result = lease_copy(f[1], e->namespace, sizeof(e->namespace), index, "namespace",
	    err)) ||
	    (result = lease_copy(f[2], e->name, sizeof(e->name), index, "name", err)) ||
	    (result = lease_copy(f[3], e->role, sizeof(e->role), index, "role", err)) ||
	    (result = lease_copy(f[6], e->replica, sizeof(e->replica), index, "replica", err)))
		return result;
	if ((e->kind = workload_kind_by_name(kind)) == WORKLOAD_NONE)
		return pg_error_set(err, PG_ERR_INVALID, "annotation %s: entry %zu: kind '%s' is "
		    "not a workload kind", LEASE_ANNOTATION, index, kind);
	if (!cJSON_IsNumber(f[4]) || f[4]->valuedouble < 1 ||
	    f[4]->valuedouble > 1e12 || f[4]->valuedouble != floor(f[4]->valuedouble))
		return pg_error_set(err, PG_ERR_INVALID, "annotation %s: entry %zu: connections "
		    "must be a whole number from 1 to 1e12", LEASE_ANNOTATION, index);
	e->connections = (long)f[4]->valuedouble;
	/* Up to 1e11 (the year 5138): written to the millisecond, it still reads back the same. */
	if (!cJSON_IsNumber(f[5]) || !isfinite(f[5]->valuedouble) || f[5]->valuedouble <= 0 ||
	    f[5]->valuedouble > 1e11)
		return pg_error_set(err, PG_ERR_INVALID, "annotation %s: entry %zu: expires must be "
		    "seconds since the epoch, up to 1e11", LEASE_ANNOTATION, index);
	e->expires = f[5]->valuedouble;
	if (!cJSON_IsNumber(f[7]) || f[7]->valuedouble < 0 || f[7]->valuedouble > 9e15 ||
	    f[7]->valuedouble != floor(f[7]->valuedouble))
		return pg_error_set(err, PG_ERR_INVALID, "annotation %s: entry %zu: generation must "
		    "be a whole number, 0 when unknown", LEASE_ANNOTATION, index);
	e->generation = (long)f[7]->valuedouble;
	return PG_OK;
}

static int
lease_decode_annotation(const char *text, struct lease_state *out, struct pg_error *err)
{
	cJSON *root = cJSON_Parse(text);
	const cJSON *version, *entries, *item;
	size_t index = 0;
	int result = PG_OK;

	if (root == NULL)
		return pg_error_set(err, PG_ERR_PARSE, "annotation %s: not JSON", LEASE_ANNOTATION);
	version = cJSON_GetObjectItemCaseSensitive(root, "v");
	entries = cJSON_GetObjectItemCaseSensitive(root, "entries");
	if (!cJSON_IsNumber(version) || version->valuedouble != 1) {
		result = pg_error_set(err, PG_ERR_UNSUPPORTED, "annotation %s: version \"v\" must be "
		    "1", LEASE_ANNOTATION);
		goto out;
	}
	if (!cJSON_IsArray(entries)) {
		result = pg_error_set(err, PG_ERR_INVALID, "annotation %s: \"entries\" must be an "
		    "array", LEASE_ANNOTATION);
		goto out;
	}
	if (cJSON_GetArraySize(entries) > LEASE_ENTRIES_MAX) {
		result = pg_error_set(err, PG_ERR_TOOBIG, "annotation %s: more than %d entries",
		    LEASE_ANNOTATION, LEASE_ENTRIES_MAX);
		goto out;
	}
	cJSON_ArrayForEach(item, entries) {
		if ((result = lease_decode_entry(item, index, &out->entries[out->count], err)))
			goto out;
		out->count++;
		index++;
	}
out:
	cJSON_Delete(root);
	return result;
}

int
lease_decode(const char *json, size_t len, struct lease_state *out, struct pg_error *err)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *metadata, *rv, *annotations, *text;
	int result = PG_OK;

	out->exists = 1;
	out->resource_version[0] = '\0';
	out->count = 0;
	if (root == NULL)
		return pg_error_set(err, PG_ERR_PARSE, "the Lease is not JSON");
	metadata = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	rv = cJSON_GetObjectItemCaseSensitive(metadata, "resourceVersion");
	if (cJSON_GetStringValue(rv) == NULL || rv->valuestring[0] == '\0' ||
	    strlen(rv->valuestring) >= sizeof(out->resource_version)) {
		result = pg_error_set(err, PG_ERR_INVALID, "the Lease has no metadata.resourceVersion");
		goto out;
	}
	memcpy(out->resource_version, rv->valuestring, strlen(rv->valuestring) + 1);
	annotations = cJSON_GetObjectItemCaseSensitive(metadata, "annotations");
	text = cJSON_GetObjectItemCaseSensitive(annotations, LEASE_ANNOTATION);
	if (text == NULL)
		goto out;
	if (cJSON_GetStringValue(text) == NULL)
		result = pg_error_set(err, PG_ERR_INVALID, "annotation %s: must be a string",
		    LEASE_ANNOTATION);
	else
		result = lease_decode_annotation(text->valuestring, out, err);
	if (result)
		out->count = 0;
out:
	cJSON_Delete(root);
	return result;
}

static char *
lease_encode_entries(const struct lease_state *st)
{
	cJSON *root = cJSON_CreateObject(), *entries, *e;
	const struct workload_kind_info *info;
	const struct lease_entry *x;
	char *text = NULL;
	size_t i;

	if (root == NULL || cJSON_AddNumberToObject(root, "v", 1) == NULL ||
	    (entries = cJSON_AddArrayToObject(root, "entries")) == NULL)
		goto out;
	for (i = 0; i < st->count; i++) {
		x = &st->entries[i];
		if ((e = cJSON_CreateArray()) == NULL || !cJSON_AddItemToArray(entries, e))
			goto out;
		info = workload_kind_info(x->kind);
		if (!cJSON_AddItemToArray(e, cJSON_CreateString(info ? info->object_kind : "")) ||
		    !cJSON_AddItemToArray(e, cJSON_CreateString(x->namespace)) ||
		    !cJSON_AddItemToArray(e, cJSON_CreateString(x->name)) ||
		    !cJSON_AddItemToArray(e, cJSON_CreateString(x->role)) ||
		    !cJSON_AddItemToArray(e, cJSON_CreateNumber((double)x->connections)) ||
		    !cJSON_AddItemToArray(e, cJSON_CreateNumber(floor(x->expires * 1000) / 1000)) ||
		    !cJSON_AddItemToArray(e, cJSON_CreateString(x->replica)) ||
		    !cJSON_AddItemToArray(e, cJSON_CreateNumber((double)x->generation)))
			goto out;
	}
	text = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return text;
}

/* RFC 3339 with microseconds, as spec.renewTime (a MicroTime) wants. */
static void
lease_micro_time(char *buf, size_t size, double t)
{
	time_t secs = (time_t)t;
	struct tm tm;
	char day[32];

	gmtime_r(&secs, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%06ldZ", day, (long)((t - (double)secs) * 1e6));
}

char *
lease_encode(const struct lease_state *st, const char *namespace, const char *name,
    const char *holder, double now)
{
	cJSON *root = cJSON_CreateObject(), *metadata, *annotations, *spec;
	char *entries = lease_encode_entries(st), *text = NULL, when[64];

	lease_micro_time(when, sizeof(when), now);
	if (root == NULL || entries == NULL ||
	    !cJSON_AddStringToObject(root, "apiVersion", "coordination.k8s.io/v1") ||
	    !cJSON_AddStringToObject(root, "kind", "Lease") ||
	    (metadata = cJSON_AddObjectToObject(root, "metadata")) == NULL ||
	    !cJSON_AddStringToObject(metadata, "name", name) ||
	    !cJSON_AddStringToObject(metadata, "namespace", namespace) ||
	    (st->exists && !cJSON_AddStringToObject(metadata, "resourceVersion",
	    st->resource_version)) ||
	    (annotations = cJSON_AddObjectToObject(metadata, "annotations")) == NULL ||
	    !cJSON_AddStringToObject(annotations, LEASE_ANNOTATION, entries) ||
	    (spec = cJSON_AddObjectToObject(root, "spec")) == NULL ||
	    !cJSON_AddStringToObject(spec, "holderIdentity", holder) ||
	    !cJSON_AddStringToObject(spec, "renewTime", when))
		goto out;
	text = cJSON_PrintUnformatted(root);
out:
	free(entries);
	cJSON_Delete(root);
	return text;
}

size_t
lease_prune(struct lease_state *st, double now)
{
	size_t i, kept = 0, dropped;

	for (i = 0; i < st->count; i++)
		if (st->entries[i].expires > now)
			st->entries[kept++] = st->entries[i];
	dropped = st->count - kept;
	st->count = kept;
	return dropped;
}

int
lease_add(struct lease_state *st, const struct lease_entry *e, struct pg_error *err)
{
	if (st->count == LEASE_ENTRIES_MAX)
		return pg_error_set(err, PG_ERR_TOOBIG, "%d admitted increases are waiting to be "
		    "stored, the most the Lease holds", LEASE_ENTRIES_MAX);
	st->entries[st->count++] = *e;
	return PG_OK;
}

int
lease_ledger_new(struct kube_client *client, const char *namespace, const char *name,
    const char *replica, double timeout, struct lease_ledger **out, struct pg_error *err)
{
	struct lease_ledger *l;

	*out = NULL;
	if (*namespace == '\0' || strlen(namespace) >= LEASE_FIELD_MAX || *name == '\0' ||
	    strlen(name) > 253 || strspn(namespace, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(namespace) || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-.") !=
	    strlen(name))
		return pg_error_set(err, PG_ERR_INVALID, "Lease '%s/%s': a namespace and a name of "
		    "lower-case letters, digits and '-' are needed", namespace, name);
	if (*replica == '\0' || strlen(replica) >= LEASE_FIELD_MAX)
		return pg_error_set(err, PG_ERR_INVALID, "replica id '%s': 1 to %d bytes", replica,
		    LEASE_FIELD_MAX - 1);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	l->client = client;
	snprintf(l->namespace, sizeof(l->namespace), "%s", namespace);
	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->full_name, sizeof(l->full_name), "%s/%s", namespace, name);
	snprintf(l->replica, sizeof(l->replica), "%s", replica);
	l->timeout = timeout;
	pthread_mutex_init(&l->writer, NULL);
	*out = l;
	return PG_OK;
}

void
lease_ledger_free(struct lease_ledger *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->writer);
	free(l);
}

const char *
lease_ledger_name(const struct lease_ledger *l)
{
	return l->full_name;
}

const char *
lease_ledger_replica(const struct lease_ledger *l)
{
	return l->replica;
}

double
lease_ledger_timeout(const struct lease_ledger *l)
{
	return l->timeout;
}

static double
lease_monotonic(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

int
lease_ledger_lock(struct lease_ledger *l, double deadline)
{
	struct timespec until;
	double left = deadline - lease_monotonic(), whole;

	clock_gettime(CLOCK_REALTIME, &until);
	if (left < 0)
		left = 0;
	left = modf(left, &whole);
	until.tv_sec += (time_t)whole;
	until.tv_nsec += (long)(left * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return pthread_mutex_timedlock(&l->writer, &until) == 0 ? PG_OK : PG_ERR_TIMEOUT;
}

void
lease_ledger_unlock(struct lease_ledger *l)
{
	pthread_mutex_unlock(&l->writer);
}

/* Milliseconds left until deadline, PG_ERR_TIMEOUT in *result when none. */
static long
lease_left_ms(const struct lease_ledger *l, double deadline, int *result, struct pg_error *err)
{
	double left = deadline - lease_monotonic();

	*result = PG_OK;
	if (left < 0.001)
		*result = pg_error_set(err, PG_ERR_TIMEOUT, "Lease %s: no time left of %g s",
		    l->full_name, l->timeout);
	return (long)(left * 1000);
}

/* One call to the API server, timed for the latency histogram. */
static int
lease_call(struct lease_ledger *l, const char *method, const char *path, const char *json,
    double deadline, char **body, size_t *len, long *status, struct pg_error *err)
{
	double start = lease_monotonic();
	long ms;
	int result;

	*body = NULL;
	ms = lease_left_ms(l, deadline, &result, err);
	if (result)
		return result;
	result = kube_send(l->client, method, path, json, ms, body, len, status, err);
	metrics_observe_lease_call(lease_monotonic() - start);
	if (result == PG_ERR_TIMEOUT)
		pg_error_set(err, PG_ERR_TIMEOUT, "%s Lease %s: no answer within %g s", method,
		    l->full_name, l->timeout);
	return result;
}

/* The message of a Status body, or what the status code means. */
static void
lease_status_error(const char *method, const struct lease_ledger *l, long status,
    const char *body, struct pg_error *err)
{
	cJSON *root = cJSON_Parse(body ? body : "");
	const char *message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root,
	    "message"));

	pg_error_set(err, PG_ERR_IO, "%s Lease %s: HTTP %ld%s%s", method, l->full_name, status,
	    message ? ": " : "", message ? message : "");
	cJSON_Delete(root);
}

int
lease_ledger_read(struct lease_ledger *l, double deadline, struct lease_state *out,
    struct pg_error *err)
{
	char path[512], *body;
	size_t len;
	long status;
	int result;

	snprintf(path, sizeof(path), LEASE_API "%s/leases/%s", l->namespace, l->name);
	out->exists = 0;
	out->resource_version[0] = '\0';
	out->count = 0;
	if ((result = lease_call(l, "GET", path, NULL, deadline, &body, &len, &status, err)))
		return result;
	if (status == 404)
		result = PG_OK;
	else if (status != 200) {
		lease_status_error("GET", l, status, body, err);
		result = PG_ERR_IO;
	} else if (len > LEASE_BODY_MAX)
		result = pg_error_set(err, PG_ERR_TOOBIG, "Lease %s: over %d bytes", l->full_name,
		    LEASE_BODY_MAX);
	else if ((result = lease_decode(body, len, out, err)))
		/* The annotation's fault comes first: the caller names the Lease. */
		snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
		    " (delete the Lease to start over)");
	free(body);
	return result;
}

int
lease_ledger_write(struct lease_ledger *l, const struct lease_state *st, double deadline,
    struct pg_error *err)
{
	struct timespec wall;
	const char *method = st->exists ? "PUT" : "POST";
	char path[512], *json, *body;
	size_t len;
	long status;
	int result;

	clock_gettime(CLOCK_REALTIME, &wall);
	if (st->exists)
		snprintf(path, sizeof(path), LEASE_API "%s/leases/%s", l->namespace, l->name);
	else
		snprintf(path, sizeof(path), LEASE_API "%s/leases", l->namespace);
	json = lease_encode(st, l->namespace, l->name, l->replica,
	    (double)wall.tv_sec + (double)wall.tv_nsec / 1e9);
	if (json == NULL)
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	result = lease_call(l, method, path, json, deadline, &body, &len, &status, err);
	free(json);
	if (result) {
		metrics_count_lease_write(result == PG_ERR_TIMEOUT ? METRICS_LEASE_TIMEOUT :
		    METRICS_LEASE_ERROR);
		return result;
	}
	if (status == 200 || status == 201) {
		metrics_count_lease_write(METRICS_LEASE_WRITTEN);
		result = PG_OK;
	} else if (status == 409) {
		/* PUT: the resourceVersion moved on; POST: another replica created it first. */
		metrics_count_lease_write(METRICS_LEASE_CONFLICT);
		result = pg_error_set(err, PG_ERR_CONFLICT, "%s Lease %s: resourceVersion %s is "
		    "not the latest", method, l->full_name, st->exists ? st->resource_version :
		    "(none)");
	} else {
		metrics_count_lease_write(METRICS_LEASE_ERROR);
		lease_status_error(method, l, status, body, err);
		result = PG_ERR_IO;
	}
	free(body);
	return result;
}
