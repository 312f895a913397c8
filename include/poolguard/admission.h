/*
 * admission.h - the admission decision: a decoded AdmissionReview request,
 * the budget and the inventory in, a verdict out.
 *
 * This is where Kubernetes request shapes meet the engine: Deployment and
 * StatefulSet CREATE and UPDATE, and UPDATE of their scale subresource. The
 * object under review replaces its own inventory entry for the judgement;
 * the inventory itself is not changed. Everything else is allowed.
 */
#ifndef POOLGUARD_ADMISSION_H
#define POOLGUARD_ADMISSION_H

#include "poolguard/budget.h"
#include "poolguard/config.h"
#include "poolguard/inventory.h"
#include "poolguard/review.h"

/* What the request was about, for logs and metrics; filled whatever the verdict. */
struct admission_subject {
	enum workload_kind kind;	/* WORKLOAD_NONE when poolguard ignored the request */
	int is_scale;			/* the scale subresource */
	const char *namespace;
	const char *name;
};

/*
 * Judges req against cfg and inv into v. Bad input in the object (a pool
 * size that is not a positive integer) is a denial that names it. subject
 * may be NULL.
 */
void admission_judge(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, struct verdict *v, struct admission_subject *subject);

#endif
