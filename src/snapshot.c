/*
 * snapshot.c - reference-counted budget + inventory snapshots and their holder.
 */
#include <stdlib.h>

#include "poolguard/snapshot.h"

struct snapshot *
snapshot_new(struct config *cfg, struct inventory *inv)
{
	struct snapshot *snap = calloc(1, sizeof(*snap));

	if (snap == NULL) {
		inventory_free(inv);
		config_free(cfg);
		return NULL;
	}
	snap->cfg = cfg;
	snap->inv = inv;
	pthread_mutex_init(&snap->lock, NULL);
	atomic_init(&snap->refs, 1);
	return snap;
}

int
snapshot_start_live(struct snapshot *snap, struct kube_client *client, struct pg_error *err)
{
	return live_start(client, snap->cfg, snap->inv, &snap->lock, &snap->live, err);
}

int
snapshot_ready(struct snapshot *snap)
{
	struct live_stats stats;

	if (snap->live == NULL)
		return 1;
	live_stats(snap->live, &stats);
	return stats.synced;
}

struct snapshot *
snapshot_ref(struct snapshot *snap)
{
	atomic_fetch_add(&snap->refs, 1);
	return snap;
}

void
snapshot_release(struct snapshot *snap)
{
	if (snap == NULL || atomic_fetch_sub(&snap->refs, 1) != 1)
		return;
	live_stop(snap->live);		/* before the inventory its threads write to */
	inventory_free(snap->inv);
	config_free(snap->cfg);
	pthread_mutex_destroy(&snap->lock);
	free(snap);
}

void
snapshot_holder_init(struct snapshot_holder *h, struct snapshot *snap)
{
	pthread_mutex_init(&h->lock, NULL);
	h->current = snap;
}

struct snapshot *
snapshot_holder_get(struct snapshot_holder *h)
{
	struct snapshot *snap;

	pthread_mutex_lock(&h->lock);
	snap = snapshot_ref(h->current);
	pthread_mutex_unlock(&h->lock);
	return snap;
}

void
snapshot_holder_swap(struct snapshot_holder *h, struct snapshot *snap)
{
	struct snapshot *old;

	pthread_mutex_lock(&h->lock);
	old = h->current;
	h->current = snap;
	pthread_mutex_unlock(&h->lock);
	snapshot_release(old);
}

void
snapshot_holder_release(struct snapshot_holder *h)
{
	snapshot_release(h->current);
	h->current = NULL;
	pthread_mutex_destroy(&h->lock);
}
