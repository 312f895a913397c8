/*
 * admission.h - the admission decision: a decoded AdmissionReview request,
 * the budget and the inventory in, a verdict out.
 *
 * This is where Kubernetes request shapes meet the engine: Deployment and
 * StatefulSet CREATE and UPDATE, UPDATE of their scale subresource, and
 * HorizontalPodAutoscaler CREATE and UPDATE (a raised maxReplicas is a
 * scale-up when HPA ceilings are counted). The object under review replaces
 * its own inventory entry for the judgement; the inventory is not changed.
 * Everything else is allowed.
 */
#ifndef POOLGUARD_ADMISSION_H
#define POOLGUARD_ADMISSION_H

#include "poolguard/budget.h"
#include "poolguard/config.h"
#include "poolguard/inventory.h"
#include "poolguard/review.h"

#define ADMISSION_KEY_MAX 320
#define ADMISSION_RESERVE_MAX 16	/* a ConfigMap raise holds this many workloads at most */

/*
 * An admitted increase, for the caller to hold (inventory_reserve) until the
 * stored state shows it. Filled on every branch that admits more
 * connections than the workload holds: workloads, scales and HPAs alike.
 */
struct admission_reservation {
	enum workload_kind kind;
	const char *namespace;		/* borrowed from the request */
	char name[ADMISSION_KEY_MAX];	/* the workload's; for a generated name, prefix*uid */
	int role;
	long connections;
	long generation;		/* the workload's metadata.generation once stored, 0: unknown */
};

/* What the request was about, for logs, metrics and reservations. */
struct admission_subject {
	enum workload_kind kind;	/* the workload judged, WORKLOAD_NONE when ignored */
	const char *namespace;
	const char *name;
	char pool_source[128];		/* which Spring source gave the pool, "" for the default */
	struct admission_reservation reserve[ADMISSION_RESERVE_MAX];
	size_t reserve_count;		/* 0: nothing to hold */
	const char *lease;		/* what the reservation Lease did (snapshot.c), NULL: not asked */
};

/*
 * Judges req against cfg and inv into v. Bad input in the object (a pool
 * size that is not a positive integer) is a denial that names it, unless no
 * role manages the workload: then it is outside the budget and allowed. A
 * ConfigMap CREATE, UPDATE or DELETE is judged by what it does to every
 * workload whose pool size comes from it.
 * subject (may be NULL) says what was judged and what to reserve.
 */
void admission_judge(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, struct verdict *v, struct admission_subject *subject);

#endif
