/*
 * snapshot.c - reference-counted budget + inventory snapshots, the lock that
 * guards their inventory, and the holder of the one in force.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "poolguard/log.h"
#include "poolguard/metrics.h"
#include "poolguard/snapshot.h"

struct snapshot {
	struct config *cfg;
	struct inventory *inv;		/* guarded by lock */
	struct live *live;		/* NULL: a fixed inventory */
	pthread_mutex_t lock;
	atomic_int refs;
};

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

const struct config *
snapshot_config(const struct snapshot *snap)
{
	return snap->cfg;
}

/* live_sink put: one object from a LIST, a watch event or a GET. */
static void
snapshot_put_object(void *ctx, const cJSON *object)
{
	struct snapshot *snap = ctx;
	struct pg_error err;
	int result;

	pthread_mutex_lock(&snap->lock);
	result = inventory_apply_object(snap->inv, object, &err);
	pthread_mutex_unlock(&snap->lock);
	if (result == PG_ERR_NOMEM)
		log_message(LOG_ERROR, "out_of_memory", "applying a watched object");
	else if (result != PG_OK && workload_kind_of(object) != WORKLOAD_NONE)
		log_message(LOG_WARN, "bad_workload", "%s; counted as defaultPoolSize %ld", err.msg,
		    snap->cfg->default_pool_size);
	else if (result != PG_OK)
		log_message(LOG_WARN, "bad_object", "%s", err.msg);
}

/* live_sink remove: an object deleted, or gone from a relist. */
static void
snapshot_remove_object(void *ctx, const char *kind, const char *namespace, const char *name)
{
	struct snapshot *snap = ctx;

	pthread_mutex_lock(&snap->lock);
	inventory_remove_object(snap->inv, kind, namespace, name);
	pthread_mutex_unlock(&snap->lock);
}

int
snapshot_start_live(struct snapshot *snap, struct kube_client *client, struct pg_error *err)
{
	struct live_sink sink = {snapshot_put_object, snapshot_remove_object, snap};

	return live_start(client, snap->cfg, &sink, &snap->live, err);
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

/*
 * A scale of a workload the watch has not delivered yet: fetch it, so its
 * pool size is known. Failures leave the judgement to the defaults.
 */
static void
snapshot_fetch_missing(struct snapshot *snap, const struct review_request *req)
{
	struct inventory_facts facts;
	struct pg_error err;
	int present;

	if (snap->live == NULL || req->target != REVIEW_TARGET_SCALE)
		return;
	pthread_mutex_lock(&snap->lock);
	present = inventory_lookup(snap->inv, req->workload, req->namespace, req->name, &facts);
	pthread_mutex_unlock(&snap->lock);
	if (!present && live_fetch_workload(snap->live, req->workload, req->namespace, req->name,
	    &err) != PG_OK)
		log_message(LOG_DEBUG, "fetch_failed", "%s", err.msg);
}

static double
snapshot_monotonic(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static double
snapshot_wall(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Holds what subject reserves until until (monotonic); the caller has the lock. */
static void
snapshot_hold_locked(struct snapshot *snap, const struct admission_subject *subject,
    double until)
{
	const struct admission_reservation *r;
	size_t i;

	for (i = 0; i < subject->reserve_count; i++) {
		r = &subject->reserve[i];
		if (inventory_reserve_generation(snap->inv, r->kind, r->namespace, r->name, r->role,
		    r->connections, r->generation, until) != PG_OK)
			log_message(LOG_ERROR, "out_of_memory", "reserving for %s", r->name);
	}
}

static int
snapshot_role_index(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->role_count; i++)
		if (strcmp(cfg->roles[i].name, name) == 0)
			return (int)i;
	return -1;
}

/*
 * Counts the Lease's entries in the inventory as reservations, their ends
 * moved from the epoch (wall) to the monotonic clock (mono). An entry for a
 * role this budget does not have counts nowhere. The caller has the lock.
 */
static void
snapshot_import_locked(struct snapshot *snap, const struct lease_state *st, double wall,
    double mono)
{
	const struct lease_entry *e;
	size_t i;
	int role;

	for (i = 0; i < st->count; i++) {
		e = &st->entries[i];
		if ((role = snapshot_role_index(snap->cfg, e->role)) < 0)
			continue;
		if (inventory_reserve_shared(snap->inv, e->kind, e->namespace, e->name, role,
		    e->connections, e->generation, mono + (e->expires - wall)) != PG_OK)
			log_message(LOG_ERROR, "out_of_memory", "reserving for %s", e->name);
	}
}

/* Adds subject's reservations to st as entries of replica, ending at expires (epoch). */
static int
snapshot_add_entries(const struct snapshot *snap, const struct admission_subject *subject,
    const char *replica, double expires, struct lease_state *st, struct pg_error *err)
{
	const struct admission_reservation *r;
	struct lease_entry e;
	size_t i;
	int result;

	for (i = 0; i < subject->reserve_count; i++) {
		r = &subject->reserve[i];
		memset(&e, 0, sizeof(e));
		e.kind = r->kind;
		snprintf(e.namespace, sizeof(e.namespace), "%s", r->namespace);
		snprintf(e.name, sizeof(e.name), "%s", r->name);
		snprintf(e.role, sizeof(e.role), "%s", snap->cfg->roles[r->role].name);
		e.connections = r->connections;
		e.generation = r->generation;
		e.expires = expires;
		snprintf(e.replica, sizeof(e.replica), "%s", replica);
		if ((result = lease_add(st, &e, err)))
			return result;
	}
	return PG_OK;
}

/*
 * The admitted increase could not be recorded in the Lease in time: refused,
 * or (reservationUnavailable: allow) admitted with a warning and held here.
 */
static void
snapshot_unshared(struct snapshot *snap, struct lease_ledger *ledger, double until,
    const struct pg_error *why, struct verdict *v, struct admission_subject *subject)
{
	int allow = snap->cfg->reservation_unavailable_allow;

	subject->lease = "unavailable";
	metrics_count_lease_unavailable(allow);
	log_message(LOG_WARN, "reservation_unavailable", "%s; %s", why->msg, allow ?
	    "admitted unshared" : "refused");
	if (!allow) {
		verdict_deny(v, "poolguard could not record the reservation in Lease %s within %g s "
		    "(%s), so this increase cannot be judged beside the other replicas' admissions; "
		    "retry, or see reservationUnavailable in the budget", lease_ledger_name(ledger),
		    lease_ledger_timeout(ledger), why->msg);
		subject->reserve_count = 0;
		return;
	}
	verdict_warn(v, "poolguard could not record the reservation in Lease %s within %g s (%s): "
	    "admitted, held by this replica only (reservationUnavailable: allow)",
	    lease_ledger_name(ledger), lease_ledger_timeout(ledger), why->msg);
	pthread_mutex_lock(&snap->lock);
	snapshot_hold_locked(snap, subject, until);
	pthread_mutex_unlock(&snap->lock);
}

/*
 * An increase the inventory admits, judged again with every replica's
 * reservations from the Lease and admitted only once its own are written
 * there with the resourceVersion read: on a conflict, read, judge and write
 * again, until the deadline.
 */
static void
snapshot_judge_shared(struct snapshot *snap, struct lease_ledger *ledger,
    const struct review_request *req, double now, double reservation_seconds,
    struct verdict *v, struct admission_subject *subject)
{
	double deadline = now + lease_ledger_timeout(ledger), wall, mono;
	struct lease_state *st = malloc(sizeof(*st));
	struct pg_error err;
	unsigned attempt;
	size_t pruned;
	int result;

	if (st == NULL) {
		pg_error_set(&err, PG_ERR_NOMEM, "out of memory");
		snapshot_unshared(snap, ledger, now + reservation_seconds, &err, v, subject);
		return;
	}
	if (lease_ledger_lock(ledger, deadline) != PG_OK) {
		pg_error_set(&err, PG_ERR_TIMEOUT, "this replica's earlier increases held the "
		    "Lease past the deadline");
		snapshot_unshared(snap, ledger, now + reservation_seconds, &err, v, subject);
		free(st);
		return;
	}
	for (attempt = 1;; attempt++) {
		if ((result = lease_ledger_read(ledger, deadline, st, &err)))
			break;
		wall = snapshot_wall();
		mono = snapshot_monotonic();
		if ((pruned = lease_prune(st, wall)) > 0)
			metrics_count_lease_expired(pruned);
		pthread_mutex_lock(&snap->lock);
		inventory_expire(snap->inv, mono);
		snapshot_import_locked(snap, st, wall, mono);
		memset(subject, 0, sizeof(*subject));
		admission_judge(snap->cfg, snap->inv, req, v, subject);
		pthread_mutex_unlock(&snap->lock);
		if (!v->allowed || subject->reserve_count == 0) {
			/* The other replicas' reservations leave no room, or it is no increase now. */
			subject->lease = !v->allowed ? "refused" : "read";
			break;
		}
		if ((result = snapshot_add_entries(snap, subject, lease_ledger_replica(ledger),
		    wall + reservation_seconds, st, &err)))
			break;
		if ((result = lease_ledger_write(ledger, st, deadline, &err)) == PG_OK) {
			subject->lease = attempt > 1 ? "written after a conflict" : "written";
			pthread_mutex_lock(&snap->lock);
			snapshot_hold_locked(snap, subject, mono + reservation_seconds);
			pthread_mutex_unlock(&snap->lock);
			break;
		}
		if (result != PG_ERR_CONFLICT)
			break;
		log_message(LOG_INFO, "reservation_conflict", "%s; attempt %u for %s %s/%s, "
		    "judging again", err.msg, attempt, workload_kind_name(subject->kind),
		    req->namespace, req->name);
		metrics_count_lease_retry();
	}
	lease_ledger_unlock(ledger);
	free(st);
	if (result != PG_OK)
		snapshot_unshared(snap, ledger, snapshot_monotonic() + reservation_seconds, &err, v,
		    subject);
}

void
snapshot_judge(struct snapshot *snap, struct lease_ledger *ledger,
    const struct review_request *req, double now, double reservation_seconds,
    struct verdict *v, struct admission_subject *subject)
{
	int hold;

	snapshot_fetch_missing(snap, req);
	pthread_mutex_lock(&snap->lock);
	inventory_expire(snap->inv, now);
	admission_judge(snap->cfg, snap->inv, req, v, subject);
	hold = v->allowed && subject->reserve_count > 0 && !req->dry_run &&
	    reservation_seconds > 0;
	if (hold && ledger == NULL)
		snapshot_hold_locked(snap, subject, now + reservation_seconds);
	pthread_mutex_unlock(&snap->lock);
	/* Only an admitted increase goes to the API server: everything else is answered here. */
	if (hold && ledger != NULL)
		snapshot_judge_shared(snap, ledger, req, now, reservation_seconds, v, subject);
}

void
snapshot_usage(struct snapshot *snap, double now, struct snapshot_usage *out)
{
	pthread_mutex_lock(&snap->lock);
	inventory_expire(snap->inv, now);
	if (out->role_usage)
		memcpy(out->role_usage, inventory_role_usage(snap->inv),
		    snap->cfg->role_count * sizeof(long));
	out->workloads = inventory_count(snap->inv);
	out->reservations = inventory_reservations(snap->inv);
	pthread_mutex_unlock(&snap->lock);
	out->live = snap->live != NULL;
	if (snap->live)
		live_stats(snap->live, &out->live_stats);
}

size_t
snapshot_workloads(struct snapshot *snap)
{
	size_t n;

	pthread_mutex_lock(&snap->lock);
	n = inventory_count(snap->inv);
	pthread_mutex_unlock(&snap->lock);
	return n;
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
	memset(h, 0, sizeof(*h));
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
	struct snapshot *old, **grown;
	size_t alloc;

	pthread_mutex_lock(&h->lock);
	old = h->current;
	h->current = snap;
	if (h->retired_count == h->retired_alloc) {
		alloc = h->retired_alloc ? h->retired_alloc * 2 : 4;
		if ((grown = realloc(h->retired, alloc * sizeof(*grown))) != NULL) {
			h->retired = grown;
			h->retired_alloc = alloc;
		}
	}
	if (h->retired_count < h->retired_alloc) {
		h->retired[h->retired_count++] = old;
		old = NULL;
	}
	pthread_mutex_unlock(&h->lock);
	/* Out of memory for the list: the old one goes now, as it did before retiring. */
	snapshot_release(old);
}

size_t
snapshot_holder_reap(struct snapshot_holder *h)
{
	struct snapshot *unused[16];
	size_t i = 0, n = 0, left;

	pthread_mutex_lock(&h->lock);
	while (i < h->retired_count && n < sizeof(unused) / sizeof(unused[0]))
		if (atomic_load(&h->retired[i]->refs) == 1) {
			/* Only the holder has it: no request can take a new reference now. */
			unused[n++] = h->retired[i];
			h->retired[i] = h->retired[--h->retired_count];
		} else
			i++;
	left = h->retired_count;
	pthread_mutex_unlock(&h->lock);
	for (i = 0; i < n; i++)
		snapshot_release(unused[i]);
	return left;
}

void
snapshot_holder_release(struct snapshot_holder *h)
{
	size_t i;

	snapshot_release(h->current);
	h->current = NULL;
	for (i = 0; i < h->retired_count; i++)
		snapshot_release(h->retired[i]);
	free(h->retired);
	h->retired = NULL;
	h->retired_count = h->retired_alloc = 0;
	pthread_mutex_destroy(&h->lock);
}
