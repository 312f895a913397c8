/*
 * review.h - AdmissionReview v1 JSON to a request struct, and a verdict back to JSON.
 *
 * No policy here: decoding checks the shape of the document, encoding writes
 * what the API server expects. The decoded request borrows every string from
 * the cJSON tree it owns, so they stay valid until review_release().
 */
#ifndef POOLGUARD_REVIEW_H
#define POOLGUARD_REVIEW_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "poolguard/budget.h"
#include "poolguard/error.h"
#include "poolguard/workload.h"

#define REVIEW_API_VERSION "admission.k8s.io/v1"

enum review_operation {
	REVIEW_OTHER = 0,		/* anything the API server does not send */
	REVIEW_CREATE,
	REVIEW_UPDATE,
	REVIEW_DELETE,
	REVIEW_CONNECT
};

/* What a request addresses, classified once when it is decoded. */
enum review_target {
	REVIEW_TARGET_NONE = 0,		/* nothing poolguard judges */
	REVIEW_TARGET_WORKLOAD,		/* a Deployment or StatefulSet object */
	REVIEW_TARGET_SCALE,		/* the scale subresource of one */
	REVIEW_TARGET_HPA,		/* an autoscaling HorizontalPodAutoscaler */
	REVIEW_TARGET_CONFIGMAP		/* a core v1 ConfigMap: pool sizes may come from it */
};

struct review_request {
	cJSON *root;			/* owned */
	const char *api_version;
	const char *uid;
	const char *kind_group;		/* of the object: "apps", "autoscaling" */
	const char *kind_version;
	const char *kind;		/* "Deployment", "Scale" */
	const char *resource_group;	/* of the resource addressed: "apps" */
	const char *resource_version;
	const char *resource;		/* "deployments" */
	const char *sub_resource;	/* "scale", or "" */
	const char *operation;		/* CREATE, UPDATE, DELETE, CONNECT, as sent */
	enum review_operation op;
	enum review_target target;
	enum workload_kind workload;	/* for WORKLOAD and SCALE: the kind addressed */
	const char *namespace;		/* "" for cluster-scoped objects */
	const char *name;		/* "" on CREATE with generateName */
	const char *username;		/* userInfo.username, or "" */
	int dry_run;
	const cJSON *object;		/* NULL when absent or null */
	const cJSON *old_object;	/* NULL when absent or null */
};

/* "CREATE" for REVIEW_CREATE ...; "other" for REVIEW_OTHER. */
const char *review_operation_name(enum review_operation op);

/*
 * Decodes body. With allow_bare, a bare AdmissionRequest (the "request" part
 * alone, as some tools save them) is accepted too. Fails with PG_ERR_PARSE on
 * bad JSON and PG_ERR_INVALID when it is no AdmissionReview v1, err saying
 * which field is wrong; so does anything but white space after the JSON
 * document. The operation and what the request addresses are classified into
 * op, target and workload. On failure nothing is left to release.
 */
int review_decode(const char *body, size_t len, int allow_bare, struct review_request *out,
    struct pg_error *err);

/* Frees the tree; the request's strings are gone after this. */
void review_release(struct review_request *req);

/*
 * The AdmissionReview response for a verdict: uid echoed, allowed, status
 * 403 Forbidden with the message on denial, warnings. Returns a new string
 * the caller frees with free(), or NULL when out of memory.
 */
char *review_encode(const struct review_request *req, const struct verdict *v, int pretty);

#endif
