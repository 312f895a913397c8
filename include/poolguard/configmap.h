/*
 * configmap.h - a ConfigMap change judged by what it does to the workloads
 * whose pool sizes come from it.
 *
 * `kubectl edit configmap` or an apply that raises a pool size raises every
 * workload that reads it (configMapKeyRef, envFrom), at their next restart.
 * The change is judged now, as the raise of all of them at once: a raise
 * that breaks a role's or the cluster's budget is denied, naming the
 * ConfigMap, the key, the workloads and by how much, and the largest value of
 * the key that fits.
 */
#ifndef POOLGUARD_CONFIGMAP_H
#define POOLGUARD_CONFIGMAP_H

#include "poolguard/admission.h"

/*
 * Judges a ConfigMap CREATE, UPDATE or DELETE (req->target is
 * REVIEW_TARGET_CONFIGMAP) against cfg and inv into v; admitted raises are
 * listed in subject's reservations.
 */
void configmap_judge(const struct config *cfg, const struct inventory *inv,
    const struct review_request *req, struct verdict *v, struct admission_subject *subject);

#endif
