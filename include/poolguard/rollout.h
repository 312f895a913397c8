/*
 * rollout.h - how many connections a workload can hold while its pods are
 * replaced: a Deployment's RollingUpdate runs old pods at the old pool size
 * beside new ones at the new size, up to replicas + maxSurge pods.
 *
 * Pure: objects and numbers in, numbers and verdicts out.
 */
#ifndef POOLGUARD_ROLLOUT_H
#define POOLGUARD_ROLLOUT_H

#include <cjson/cJSON.h>

#include "poolguard/budget.h"
#include "poolguard/config.h"
#include "poolguard/error.h"
#include "poolguard/workload.h"

enum rollout_kind {
	ROLLOUT_NONE,		/* no pods replaced: no template change */
	ROLLOUT_ROLLING,	/* Deployment RollingUpdate: up to replicas + maxSurge pods */
	ROLLOUT_RECREATE,	/* every old pod goes before a new one starts */
	ROLLOUT_ONE_BY_ONE	/* StatefulSet: one pod at a time, replaced in place */
};

struct rollout {
	enum rollout_kind kind;
	long old_pods;
	long old_pool;
	long new_pods;
	long new_pool;
	long max_surge;		/* resolved against new_pods, rounded up */
	long max_unavailable;	/* resolved against new_pods, rounded down (at least 1 with no surge) */
};

/* The peak of one mix: old pods at the old pool beside new pods at the new pool. */
struct rollout_peak {
	long connections;
	long old_pods;
	long new_pods;
};

/*
 * What replacing before's pods by after's does, for an UPDATE of a workload
 * of kind: ROLLOUT_NONE unless spec.template changed. old_pods and new_pods
 * are the pods counted before and after (an HPA ceiling included); the pools
 * are per pod. A maxSurge or maxUnavailable that is neither a count nor a
 * percentage fails with PG_ERR_INVALID.
 */
int rollout_plan(enum workload_kind kind, const cJSON *before, const cJSON *after, long old_pods,
    long old_pool, long new_pods, long new_pool, struct rollout *out, struct pg_error *err);

/*
 * A `kubectl rollout restart` of object as it stands: every pod replaced by
 * one like it, pods x pool each, under the object's strategy.
 */
int rollout_restart(enum workload_kind kind, const cJSON *object, long pods, long pool,
    struct rollout *out, struct pg_error *err);

/* The worst mix the rollout can run at once, at its maxSurge. */
struct rollout_peak rollout_peak(const struct rollout *r);

/*
 * The largest maxSurge (0 up to the rollout's) whose peak is at most room,
 * or -1 when even 0 does not fit.
 */
long rollout_fitting_surge(const struct rollout *r, long room);

/*
 * Judges the rollout plan of change c, whose end state v already admitted:
 * a peak past the tightest limit (v->room) is a warning, or with
 * rolloutPeak: deny a denial, naming the peak, the mix and the largest
 * maxSurge (or replica count) that fits. Returns 1 when it denied.
 */
int rollout_judge(const struct config *cfg, const struct rollout *plan,
    const struct budget_change *c, struct verdict *v);

#endif
