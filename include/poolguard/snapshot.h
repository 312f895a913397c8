/*
 * snapshot.h - the budget in force and the inventory judged against it, as
 * one reference-counted unit that a reload replaces whole.
 *
 * The snapshot is the one owner of the state that threads share: request
 * threads judge against its inventory, watcher threads feed it, the metrics
 * read it. Its lock is taken here and nowhere else, and nothing hands out a
 * pointer into the inventory: what leaves a call is a copy.
 *
 * A request takes a reference for as long as it uses the snapshot; a reload
 * builds a new snapshot (and lets its live inventory sync) while the old one
 * keeps serving, then swaps it in. The holder keeps the snapshots it replaced
 * until their last request is done, and the reloader frees them on its own
 * thread (snapshot_holder_reap), so a request thread never stops watchers or
 * frees an inventory.
 */
#ifndef POOLGUARD_SNAPSHOT_H
#define POOLGUARD_SNAPSHOT_H

#include <pthread.h>
#include <stddef.h>

#include "poolguard/admission.h"
#include "poolguard/config.h"
#include "poolguard/error.h"
#include "poolguard/inventory.h"
#include "poolguard/kube.h"
#include "poolguard/lease.h"
#include "poolguard/live.h"
#include "poolguard/review.h"

struct snapshot;

/*
 * A snapshot owning cfg and inv (both freed with it), with one reference.
 * NULL when out of memory (cfg and inv are freed then too). Until the
 * snapshot is shared with other threads the caller may still fill inv.
 */
struct snapshot *snapshot_new(struct config *cfg, struct inventory *inv);

/* The budget of the snapshot: immutable, valid while a reference is held. */
const struct config *snapshot_config(const struct snapshot *snap);

/* Starts a live inventory into the snapshot with client (which stays the caller's). */
int snapshot_start_live(struct snapshot *snap, struct kube_client *client,
    struct pg_error *err);

/* 1 when the snapshot can judge: no live inventory, or it has listed the cluster once. */
int snapshot_ready(struct snapshot *snap);

/*
 * Judges req at monotonic time now: reservations that ended by now are
 * dropped, the request is judged, and an admitted increase that is not a
 * dry run is held for reservation_seconds (0: not held). A scale of a
 * workload the live inventory has not delivered yet is fetched first, with
 * no lock held.
 *
 * With a ledger, such an increase is judged again with the reservations of
 * every replica and admitted only once it is recorded in the Lease (no lock
 * held while the API server answers); when that cannot be done within the
 * ledger's timeout, the budget's reservationUnavailable answers it.
 */
void snapshot_judge(struct snapshot *snap, struct lease_ledger *ledger,
    const struct review_request *req, double now, double reservation_seconds,
    struct verdict *v, struct admission_subject *subject);

/* Numbers for /metrics, copied out at monotonic time now (ended reservations dropped first). */
struct snapshot_usage {
	long *role_usage;		/* the caller's array of role_count entries, or NULL */
	size_t workloads;
	size_t reservations;
	int live;			/* 1: live_stats below is filled */
	struct live_stats live_stats;
};
void snapshot_usage(struct snapshot *snap, double now, struct snapshot_usage *out);

/* Workloads present in the inventory. */
size_t snapshot_workloads(struct snapshot *snap);

/* Adds a reference. */
struct snapshot *snapshot_ref(struct snapshot *snap);

/*
 * Drops a reference; NULL: no-op. The last one stops the watchers and frees
 * everything: only the holder (on the reloader's thread) and single-threaded
 * callers drop the last one.
 */
void snapshot_release(struct snapshot *snap);

/* Holds the snapshot in force, and the ones it replaced until they are unused. */
struct snapshot_holder {
	pthread_mutex_t lock;
	struct snapshot *current;
	struct snapshot **retired;
	size_t retired_count;
	size_t retired_alloc;
};

/* Takes ownership of snap's reference. */
void snapshot_holder_init(struct snapshot_holder *h, struct snapshot *snap);

/* The snapshot in force, with a reference the caller drops with snapshot_release(). */
struct snapshot *snapshot_holder_get(struct snapshot_holder *h);

/*
 * Puts snap (its reference moves to the holder) in force. The one it
 * replaces is retired: kept until snapshot_holder_reap() finds it unused.
 */
void snapshot_holder_swap(struct snapshot_holder *h, struct snapshot *snap);

/* Frees the retired snapshots no request uses any more; returns how many are left. */
size_t snapshot_holder_reap(struct snapshot_holder *h);

/* Releases the snapshot in force and every retired one. */
void snapshot_holder_release(struct snapshot_holder *h);

#endif
