/*
 * live.c - LIST and WATCH of the API server into the inventory.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "poolguard/live.h"
#include "poolguard/log.h"
#include "poolguard/table.h"

#define LIVE_PAGE 500
#define LIVE_WATCH_SECONDS 300
#define LIVE_BACKOFF_MAX 30

/* One kind of object to list and watch: the workload kinds, then HPAs and ConfigMaps. */
struct live_resource {
	const char *group_path;
	const char *plural;
	const char *api_version;
	const char *kind;
	enum workload_kind workload;	/* WORKLOAD_NONE for the others */
};

#define LIVE_RESOURCE_MAX (WORKLOAD_KIND_COUNT + 2)

static const struct live_resource live_others[] = {
	{"/apis/autoscaling/v2", "horizontalpodautoscalers", "autoscaling/v2",
	    "HorizontalPodAutoscaler", WORKLOAD_NONE},
	{"/api/v1", "configmaps", "v1", "ConfigMap", WORKLOAD_NONE},
};

struct live_watcher {
	struct live *live;
	const struct live_resource *res;
	char *namespace;		/* NULL: every namespace */
	pthread_t thread;
	int started;
	struct table *known;		/* "namespace/name" of what this watcher put */
	char version[128];		/* resourceVersion to watch from */
	int gone;			/* the server said 410 Gone: list again */
	atomic_int synced;
	atomic_int watching;		/* a watch stream is open (or being opened) */
};

struct live {
	struct kube_client *client;
	const struct config *cfg;
	struct live_sink sink;
	struct live_resource resources[LIVE_RESOURCE_MAX];
	size_t resource_count;
	struct live_watcher *watchers;
	size_t count;
	atomic_int stop;
	pthread_mutex_t sleep_lock;
	pthread_cond_t sleep_cond;
	atomic_long watch_restarts;
	atomic_long relists;
};

static const char *
live_string(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Sleeps up to seconds, waking early when the live inventory stops. */
static void
live_sleep(struct live *live, int seconds)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&live->sleep_lock);
	while (!live->stop && pthread_cond_timedwait(&live->sleep_cond, &live->sleep_lock,
	    &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&live->sleep_lock);
}

/*
 * Hands one object (added or modified) to the sink. Objects in a list lack
 * apiVersion and kind, so they are set here.
 */
static void
live_apply(struct live_watcher *w, cJSON *object, int known)
{
	const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(object, "metadata");
	const char *namespace = live_string(metadata, "namespace");
	const char *name = live_string(metadata, "name");
	char key[600];

	if (namespace == NULL || name == NULL)
		return;
	if (!cJSON_GetObjectItemCaseSensitive(object, "apiVersion"))
		cJSON_AddStringToObject(object, "apiVersion", w->res->api_version);
	if (!cJSON_GetObjectItemCaseSensitive(object, "kind"))
		cJSON_AddStringToObject(object, "kind", w->res->kind);
	if (known) {
		snprintf(key, sizeof(key), "%s/%s", namespace, name);
		table_put(w->known, key, (void *)1, NULL);
	}
	w->live->sink.put(w->live->sink.ctx, object);
}

/* Tells the sink that what key ("namespace/name") named is gone. */
static void
live_delete(struct live_watcher *w, const char *key)
{
	const char *slash = strchr(key, '/');
	char namespace[300];
	size_t n;

	if (slash == NULL || (n = (size_t)(slash - key)) >= sizeof(namespace))
		return;
	memcpy(namespace, key, n);
	namespace[n] = '\0';
	w->live->sink.remove(w->live->sink.ctx, w->res->kind, namespace, slash + 1);
	table_remove(w->known, key);
}

static void
live_path(const struct live_watcher *w, char *buf, size_t size, const char *query)
{
	if (w->namespace)
		snprintf(buf, size, "%s/namespaces/%s/%s?%s", w->res->group_path, w->namespace,
		    w->res->plural, query);
	else
		snprintf(buf, size, "%s/%s?%s", w->res->group_path, w->res->plural, query);
}

struct live_stale {
	struct table *seen;
	char **keys;
	size_t count;
	size_t alloc;
};

static void
live_collect_stale(void *arg, const char *key, void *value)
{
	struct live_stale *s = arg;
	char **grown;

	(void)value;
	if (table_get(s->seen, key))
		return;
	if (s->count == s->alloc) {
		s->alloc = s->alloc ? s->alloc * 2 : 16;
		if ((grown = realloc(s->keys, s->alloc * sizeof(*grown))) == NULL)
			return;
		s->keys = grown;
	}
	s->keys[s->count++] = strdup(key);
}

/* LISTs the resource page by page, applies it, and removes what is gone since. */
static int
live_list(struct live_watcher *w, struct pg_error *err)
{
	struct live *live = w->live;
	struct table *seen = table_new();
	struct live_stale stale = {seen, NULL, 0, 0};
	char path[2048], query[1024], *body = NULL, cont[1024] = "";
	const cJSON *item, *metadata;
	cJSON *doc = NULL;
	const char *version, *next;
	size_t len, i;
	long status;
	int result = PG_OK;

	if (seen == NULL)
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	do {
		snprintf(query, sizeof(query), "limit=%d%s%s", LIVE_PAGE, cont[0] ? "&continue=" : "",
		    cont);
		live_path(w, path, sizeof(path), query);
		if ((result = kube_get_until(live->client, path, 60, &live->stop, &body, &len,
		    &status, err)))
			goto out;
		if (status != 200) {
			result = pg_error_set(err, PG_ERR_IO, "LIST %s: HTTP %ld: %.200s", path, status,
			    body);
			goto out;
		}
		if ((doc = cJSON_ParseWithLength(body, len)) == NULL) {
			result = pg_error_set(err, PG_ERR_PARSE, "LIST %s: the answer is not JSON", path);
			goto out;
		}
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(doc, "items")) {
			const cJSON *md = cJSON_GetObjectItemCaseSensitive(item, "metadata");
			char key[600];

			live_apply(w, (cJSON *)item, 1);
			snprintf(key, sizeof(key), "%s/%s", live_string(md, "namespace") ?
			    live_string(md, "namespace") : "", live_string(md, "name") ?
			    live_string(md, "name") : "");
			table_put(seen, key, (void *)1, NULL);
		}
		metadata = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
		version = live_string(metadata, "resourceVersion");
		next = live_string(metadata, "continue");
		if (version)
			snprintf(w->version, sizeof(w->version), "%s", version);
		snprintf(cont, sizeof(cont), "%s", next ? next : "");
		cJSON_Delete(doc);
		doc = NULL;
		free(body);
		body = NULL;
	} while (cont[0] && !live->stop);
	/* What the inventory held from before that the LIST no longer has is gone. */
	table_foreach(w->known, live_collect_stale, &stale);
	for (i = 0; i < stale.count; i++)
		if (stale.keys[i])
			live_delete(w, stale.keys[i]);
	w->gone = 0;
out:
	for (i = 0; i < stale.count; i++)
		free(stale.keys[i]);
	free(stale.keys);
	table_free(seen, NULL);
	cJSON_Delete(doc);
	free(body);
	return result;
}

/* One watch event: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
static int
live_on_event(void *ctx, char *line, size_t len)
{
	struct live_watcher *w = ctx;
	cJSON *event = cJSON_ParseWithLength(line, len);
	cJSON *object = cJSON_GetObjectItemCaseSensitive(event, "object");
	const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(object, "metadata");
	const char *type = live_string(event, "type");
	const char *version = live_string(metadata, "resourceVersion");
	const cJSON *code;
	char key[600];
	int stop = 0;

	if (type == NULL) {
		cJSON_Delete(event);
		return 0;
	}
	if (strcmp(type, "ERROR") == 0) {
		code = cJSON_GetObjectItemCaseSensitive(object, "code");
		if (cJSON_IsNumber(code) && code->valueint == 410)
			w->gone = 1;
		else
			log_message(LOG_WARN, "watch_error", "%s: %.200s", w->res->plural,
			    live_string(object, "message") ? live_string(object, "message") : "");
		stop = 1;
	} else if (version != NULL) {
		snprintf(w->version, sizeof(w->version), "%s", version);
		if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0)
			live_apply(w, object, 1);
		else if (strcmp(type, "DELETED") == 0) {
			snprintf(key, sizeof(key), "%s/%s", live_string(metadata, "namespace") ?
			    live_string(metadata, "namespace") : "", live_string(metadata, "name") ?
			    live_string(metadata, "name") : "");
			live_delete(w, key);
		}
	}
	cJSON_Delete(event);
	return stop;
}

static void *
live_run(void *arg)
{
	struct live_watcher *w = arg;
	struct live *live = w->live;
	struct pg_error err;
	char path[2048], query[512];
	int backoff = 1, listed = 0, result;
	long status;

	while (!live->stop) {
		if (!listed || w->gone) {
			if (listed)
				atomic_fetch_add(&live->relists, 1);
			atomic_store(&w->watching, 0);
			if ((result = live_list(w, &err)) != PG_OK) {
				log_message(LOG_WARN, "list_failed", "%s (retrying in %d s)", err.msg,
				    backoff);
				live_sleep(live, backoff);
				backoff = backoff * 2 > LIVE_BACKOFF_MAX ? LIVE_BACKOFF_MAX : backoff * 2;
				continue;
			}
			listed = 1;
			if (!atomic_exchange(&w->synced, 1))
				log_message(LOG_DEBUG, "listed", "%s in %s", w->res->plural,
				    w->namespace ? w->namespace : "all namespaces");
		}
		snprintf(query, sizeof(query), "watch=1&allowWatchBookmarks=true&timeoutSeconds=%d"
		    "&resourceVersion=%s", LIVE_WATCH_SECONDS, w->version);
		live_path(w, path, sizeof(path), query);
		atomic_store(&w->watching, 1);
		result = kube_stream(live->client, path, LIVE_WATCH_SECONDS + 30, live_on_event, w,
		    &live->stop, &status, &err);
		if (live->stop)
			break;
		if (status == 410)
			w->gone = 1;
		if (result != PG_OK || (status != 200 && status != 410)) {
			atomic_store(&w->watching, 0);
			atomic_fetch_add(&live->watch_restarts, 1);
			log_message(LOG_WARN, "watch_failed", "%s (HTTP %ld; retrying in %d s)",
			    result ? err.msg : w->res->plural, status, backoff);
			live_sleep(live, backoff);
			backoff = backoff * 2 > LIVE_BACKOFF_MAX ? LIVE_BACKOFF_MAX : backoff * 2;
			if (status >= 400)
				w->gone = 1;	/* start over from a fresh LIST */
			continue;
		}
		backoff = 1;
	}
	return NULL;
}

/*
 * The namespaces to read: those the managing roles name, or NULL in *all
 * when one manages workloads in every namespace.
 */
static int
live_namespaces(const struct config *cfg, struct table *out, int *all)
{
	const struct role *role;
	size_t r, i;

	*all = 0;
	for (r = 0; r < cfg->role_count; r++) {
		role = &cfg->roles[r];
		if (role->namespace_count == 0 && !role->has_selector)
			continue;	/* manages nothing */
		if (role->namespace_count == 0) {
			*all = 1;
			return PG_OK;
		}
		for (i = 0; i < role->namespace_count; i++)
			if (table_put(out, role->namespaces[i], (void *)1, NULL))
				return PG_ERR_NOMEM;
	}
	return PG_OK;
}

struct live_plan {
	struct live *live;
	size_t next;
};

static void
live_add_namespace(void *arg, const char *namespace, void *value)
{
	struct live_plan *plan = arg;
	size_t i;

	(void)value;
	for (i = 0; i < plan->live->resource_count; i++) {
		plan->live->watchers[plan->next].res = &plan->live->resources[i];
		plan->live->watchers[plan->next].namespace = strdup(namespace);
		plan->next++;
	}
}

/* The resources to watch: every workload kind of workload.c's table, HPAs, ConfigMaps. */
static void
live_plan_resources(struct live *live)
{
	const struct workload_kind_info *info;
	size_t i;
	int k;

	for (k = WORKLOAD_NONE + 1; k < WORKLOAD_KIND_COUNT; k++) {
		info = workload_kind_info((enum workload_kind)k);
		live->resources[live->resource_count++] = (struct live_resource){info->api_path,
		    info->plural, info->api_version, info->object_kind, info->kind};
	}
	for (i = 0; i < sizeof(live_others) / sizeof(live_others[0]); i++)
		live->resources[live->resource_count++] = live_others[i];
}

int
live_start(struct kube_client *client, const struct config *cfg, const struct live_sink *sink,
    struct live **out, struct pg_error *err)
{
	struct table *namespaces = table_new();
	struct live_plan plan;
	struct live *live = NULL;
	size_t i, nres;
	int all;

	*out = NULL;
	if (namespaces == NULL || (live = calloc(1, sizeof(*live))) == NULL ||
	    live_namespaces(cfg, namespaces, &all)) {
		table_free(namespaces, NULL);
		free(live);
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	}
	live->client = client;
	live->cfg = cfg;
	live->sink = *sink;
	live_plan_resources(live);
	nres = live->resource_count;
	pthread_mutex_init(&live->sleep_lock, NULL);
	pthread_cond_init(&live->sleep_cond, NULL);
	live->count = all ? nres : table_count(namespaces) * nres;
	live->watchers = calloc(live->count + 1, sizeof(*live->watchers));
	if (live->watchers == NULL) {
		table_free(namespaces, NULL);
		live_stop(live);
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	}
	if (all)
		for (i = 0; i < nres; i++)
			live->watchers[i].res = &live->resources[i];
	else {
		plan.live = live;
		plan.next = 0;
		table_foreach(namespaces, live_add_namespace, &plan);
	}
	table_free(namespaces, NULL);
	for (i = 0; i < live->count; i++) {
		struct live_watcher *w = &live->watchers[i];

		w->live = live;
		if ((w->known = table_new()) == NULL || (!all && w->namespace == NULL) ||
		    pthread_create(&w->thread, NULL, live_run, w) != 0) {
			live_stop(live);
			return pg_error_set(err, PG_ERR_NOMEM, "unable to start the watchers");
		}
		w->started = 1;
	}
	*out = live;
	return PG_OK;
}

void
live_stats(struct live *live, struct live_stats *out)
{
	size_t i;

	out->synced = 1;
	out->watches = live->count;
	out->watches_open = 0;
	for (i = 0; i < live->count; i++) {
		out->synced &= atomic_load(&live->watchers[i].synced);
		out->watches_open += (size_t)atomic_load(&live->watchers[i].watching);
	}
	out->watch_restarts = atomic_load(&live->watch_restarts);
	out->relists = atomic_load(&live->relists);
}

int
live_fetch_workload(struct live *live, enum workload_kind kind, const char *namespace,
    const char *name, struct pg_error *err)
{
	const struct live_resource *res = NULL;
	struct live_watcher *owner = NULL;
	char path[1024], *body;
	cJSON *object;
	size_t len, i;
	long status;
	int result;

	for (i = 0; i < live->resource_count; i++)
		if (live->resources[i].workload == kind && kind != WORKLOAD_NONE)
			res = &live->resources[i];
	for (i = 0; res && i < live->count; i++)
		if (live->watchers[i].res == res && (live->watchers[i].namespace == NULL ||
		    strcmp(live->watchers[i].namespace, namespace) == 0))
			owner = &live->watchers[i];
	if (owner == NULL)
		return pg_error_set(err, PG_ERR_INVALID, "namespace '%s' is not watched", namespace);
	snprintf(path, sizeof(path), "%s/namespaces/%s/%s/%s", res->group_path, namespace,
	    res->plural, name);
	if ((result = kube_get(live->client, path, 2, &body, &len, &status, err)))
		return result;
	if (status != 200 || (object = cJSON_ParseWithLength(body, len)) == NULL) {
		free(body);
		return pg_error_set(err, PG_ERR_INVALID, "GET %s: HTTP %ld", path, status);
	}
	/*
	 * Not recorded among the watcher's known objects (that table is its
	 * thread's): the watch delivers the object's ADDED event soon anyway.
	 */
	live_apply(owner, object, 0);
	cJSON_Delete(object);
	free(body);
	return PG_OK;
}

void
live_stop(struct live *live)
{
	size_t i;

	if (live == NULL)
		return;
	pthread_mutex_lock(&live->sleep_lock);
	live->stop = 1;
	pthread_cond_broadcast(&live->sleep_cond);
	pthread_mutex_unlock(&live->sleep_lock);
	for (i = 0; i < live->count; i++) {
		if (live->watchers[i].started)
			pthread_join(live->watchers[i].thread, NULL);
		table_free(live->watchers[i].known, NULL);
		free(live->watchers[i].namespace);
	}
	free(live->watchers);
	pthread_cond_destroy(&live->sleep_cond);
	pthread_mutex_destroy(&live->sleep_lock);
	free(live);
}
