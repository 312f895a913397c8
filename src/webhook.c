/*
 * webhook.c - decode, judge, encode and log one AdmissionReview.
 */
#include <stdlib.h>
#include <time.h>

#include "poolguard/admission.h"
#include "poolguard/log.h"
#include "poolguard/review.h"
#include "poolguard/webhook.h"

static double
webhook_ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	    (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static void
webhook_log_decision(const struct webhook *wh, const struct review_request *req,
    const struct admission_subject *subject, const struct verdict *v, double ms)
{
	cJSON *f;

	if (!log_enabled(LOG_INFO) || (f = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(f, "uid", req->uid);
	cJSON_AddStringToObject(f, "user", req->username);
	cJSON_AddStringToObject(f, "operation", req->operation);
	cJSON_AddStringToObject(f, "resource", req->resource);
	cJSON_AddStringToObject(f, "subResource", req->sub_resource);
	cJSON_AddStringToObject(f, "namespace", req->namespace);
	cJSON_AddStringToObject(f, "name", req->name);
	cJSON_AddBoolToObject(f, "dryRun", req->dry_run);
	cJSON_AddStringToObject(f, "verdict", !v->allowed ? "deny" : v->warning_count ? "warn" :
	    "allow");
	if (subject->kind != WORKLOAD_NONE) {
		cJSON_AddStringToObject(f, "kind", workload_kind_name(subject->kind));
		cJSON_AddNumberToObject(f, "connectionsBefore", (double)v->connections_before);
		cJSON_AddNumberToObject(f, "connectionsAfter", (double)v->connections_after);
	}
	if (v->role >= 0) {
		cJSON_AddStringToObject(f, "role", wh->cfg->roles[v->role].name);
		cJSON_AddNumberToObject(f, "roleUsed", (double)v->role_used);
		cJSON_AddNumberToObject(f, "roleLimit", (double)v->role_limit);
		cJSON_AddNumberToObject(f, "clusterUsed", (double)v->cluster_used);
		cJSON_AddNumberToObject(f, "clusterLimit", (double)v->cluster_limit);
	}
	if (!v->allowed)
		cJSON_AddStringToObject(f, "message", v->message);
	cJSON_AddNumberToObject(f, "latencyMs", ms);
	log_write(LOG_INFO, "decision", f);
}

int
webhook_review(const struct webhook *wh, const char *body, size_t len, char **response,
    struct pg_error *err)
{
	struct review_request req;
	struct admission_subject subject;
	struct verdict v;
	struct timespec start;
	int result;

	*response = NULL;
	clock_gettime(CLOCK_MONOTONIC, &start);
	if ((result = review_decode(body, len, wh->allow_bare, &req, err)))
		return result;
	admission_judge(wh->cfg, wh->inv, &req, &v, &subject);
	*response = review_encode(&req, &v, wh->pretty);
	if (*response == NULL)
		result = pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	else
		webhook_log_decision(wh, &req, &subject, &v, webhook_ms_since(&start));
	review_release(&req);
	return result;
}

char *
webhook_error_body(const char *message, int code)
{
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;

	if (root && cJSON_AddStringToObject(root, "error", message) &&
	    cJSON_AddNumberToObject(root, "code", code))
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

void
webhook_validate(void *ctx, const char *body, size_t len, int *status, char **response)
{
	struct pg_error err;
	int result;

	result = webhook_review(ctx, body, len, response, &err);
	if (result == PG_OK) {
		*status = 200;
		return;
	}
	*status = result == PG_ERR_NOMEM ? 500 : 400;
	log_message(LOG_WARN, "bad_request", "%s", err.msg);
	*response = webhook_error_body(err.msg, *status);
}
