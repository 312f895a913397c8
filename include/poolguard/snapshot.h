/*
 * snapshot.h - the budget in force and the inventory judged against it, as
 * one reference-counted unit that a reload replaces whole.
 *
 * A request takes a reference for as long as it uses the snapshot; a reload
 * builds a new snapshot (and lets its live inventory sync) while the old one
 * keeps serving, then swaps it in. The old one is freed when its last
 * reference is dropped, so nothing is ever freed under a request.
 */
#ifndef POOLGUARD_SNAPSHOT_H
#define POOLGUARD_SNAPSHOT_H

#include <pthread.h>
#include <stdatomic.h>

#include "poolguard/config.h"
#include "poolguard/error.h"
#include "poolguard/inventory.h"
#include "poolguard/kube.h"
#include "poolguard/live.h"

struct snapshot {
	struct config *cfg;
	struct inventory *inv;
	struct live *live;		/* NULL: a fixed inventory */
	pthread_mutex_t lock;		/* guards inv: requests and the watchers share it */
	atomic_int refs;
};

/*
 * A snapshot owning cfg and inv (both freed with it), with one reference.
 * NULL when out of memory (cfg and inv are freed then too).
 */
struct snapshot *snapshot_new(struct config *cfg, struct inventory *inv);

/* Starts a live inventory into the snapshot with client (which stays the caller's). */
int snapshot_start_live(struct snapshot *snap, struct kube_client *client,
    struct pg_error *err);

/* 1 when the snapshot can judge: no live inventory, or it has listed the cluster once. */
int snapshot_ready(struct snapshot *snap);

/* Adds a reference. */
struct snapshot *snapshot_ref(struct snapshot *snap);

/* Drops a reference; the last one stops the watchers and frees everything. NULL: no-op. */
void snapshot_release(struct snapshot *snap);

/* Holds the snapshot in force. */
struct snapshot_holder {
	pthread_mutex_t lock;
	struct snapshot *current;
};

/* Takes ownership of snap's reference. */
void snapshot_holder_init(struct snapshot_holder *h, struct snapshot *snap);

/* The snapshot in force, with a reference the caller drops with snapshot_release(). */
struct snapshot *snapshot_holder_get(struct snapshot_holder *h);

/* Puts snap (its reference moves to the holder) in force and releases the one it replaces. */
void snapshot_holder_swap(struct snapshot_holder *h, struct snapshot *snap);

/* Releases the snapshot in force. */
void snapshot_holder_release(struct snapshot_holder *h);

#endif
