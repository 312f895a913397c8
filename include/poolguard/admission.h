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

/* What the request was about, for logs, metrics and reservations. */
struct admission_subject {
	enum workload_kind kind;	/* the workload judged, WORKLOAD_NONE when ignored */
	const char *namespace;
	const char *name;
	int increase;			/* admitted with more connections than it holds now */
	int role;			/* what it holds once admitted */
	long connections;
};

/*
 * Judges req against cfg and inv into v. Bad input in the object (a pool
 * size that is not a positive integer) is a denial that names it.
 */
void admission_judge(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, struct verdict *v, struct admission_subject *subject);

#endif
