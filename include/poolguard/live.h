/*
 * live.h - the inventory fed from the API server: LIST, then WATCH.
 *
 * One thread per resource and namespace lists Deployments, StatefulSets,
 * HorizontalPodAutoscalers (autoscaling/v2) and ConfigMaps, then watches
 * from the list's resourceVersion with bookmarks, reconnecting with backoff
 * and listing again when the server answers 410 Gone. Only the namespaces
 * the budget names are read, all namespaces only when a managing role names
 * none. live.c only speaks LIST and WATCH: every object it reads goes to
 * the caller's sink, which owns whatever state it feeds (and its locking).
 */
#ifndef POOLGUARD_LIVE_H
#define POOLGUARD_LIVE_H

#include <pthread.h>

#include "poolguard/config.h"
#include "poolguard/error.h"
#include "poolguard/kube.h"
#include "poolguard/workload.h"

struct live;

struct live_stats {
	int synced;			/* every resource has been listed once */
	long watch_restarts;		/* watches that ended with an error and were started again */
	long relists;			/* LISTs after the first: 410 Gone, or errors */
	size_t watches;			/* one per resource and namespace read */
	size_t watches_open;		/* of those, open now (not listing, not backing off) */
};

/*
 * Where objects go, called on the watcher threads (and on the thread of
 * live_fetch_workload). put gets an object with apiVersion and kind set,
 * borrowed for the call; remove gets its kind ("Deployment"), namespace and
 * name, for a DELETED event or an object a relist no longer holds.
 */
struct live_sink {
	void (*put)(void *ctx, const cJSON *object);
	void (*remove)(void *ctx, const char *kind, const char *namespace, const char *name);
	void *ctx;
};

/*
 * Starts the watchers for the namespaces cfg's roles name. client and cfg
 * stay the caller's and must outlive the live inventory; sink is copied.
 * Returns at once; live_stats() says when the first LIST of everything has
 * been handed to the sink.
 */
int live_start(struct kube_client *client, const struct config *cfg,
    const struct live_sink *sink, struct live **out, struct pg_error *err);

void live_stats(struct live *live, struct live_stats *out);

/*
 * Fetches one workload with a GET and hands it to the sink, for a change
 * that names a workload the watch has not delivered yet. PG_ERR_INVALID when
 * the API server does not have it or its namespace is not watched.
 */
int live_fetch_workload(struct live *live, enum workload_kind kind, const char *namespace,
    const char *name, struct pg_error *err);

/* Stops every watcher and frees the live inventory; live_stop(NULL) does nothing. */
void live_stop(struct live *live);

#endif
