/*
 * webhook.c - decode, judge, encode and log one AdmissionReview.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "poolguard/admission.h"
#include "poolguard/arena.h"
#include "poolguard/dbwatch.h"
#include "poolguard/lease.h"
#include "poolguard/log.h"
#include "poolguard/metrics.h"
#include "poolguard/review.h"
#include "poolguard/webhook.h"

static double
webhook_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

int
webhook_ready(void *ctx, char **body)
{
	const struct webhook *wh = ctx;
	struct snapshot *snap = snapshot_holder_get(wh->holder);
	struct snapshot_usage usage;
	int ready = snapshot_ready(snap);
	cJSON *root;

	memset(&usage, 0, sizeof(usage));
	snapshot_usage(snap, webhook_now(), &usage);
	snapshot_release(snap);
	*body = NULL;
	if ((root = cJSON_CreateObject()) == NULL)
		return ready;
	cJSON_AddStringToObject(root, "status", ready ? "ok" : "not ready");
	if (!ready)
		cJSON_AddStringToObject(root, "reason", "the inventory has not synced with the API "
		    "server");
	cJSON_AddStringToObject(root, "inventory", usage.live ? "live" : "manifests");
	if (usage.live) {
		cJSON_AddBoolToObject(root, "synced", usage.live_stats.synced);
		cJSON_AddNumberToObject(root, "watchesOpen", (double)usage.live_stats.watches_open);
		cJSON_AddNumberToObject(root, "watches", (double)usage.live_stats.watches);
		cJSON_AddNumberToObject(root, "watchRestarts",
		    (double)usage.live_stats.watch_restarts);
		cJSON_AddNumberToObject(root, "relists", (double)usage.live_stats.relists);
	}
	cJSON_AddNumberToObject(root, "workloads", (double)usage.workloads);
	cJSON_AddStringToObject(root, "reservations", wh->ledger ?
	    lease_ledger_name(wh->ledger) : "memory");
	*body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return ready;
}

static double
webhook_ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	    (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static void
webhook_log_decision(const struct snapshot *snap, const struct review_request *req,
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
		if (subject->pool_source[0])
			cJSON_AddStringToObject(f, "poolSource", subject->pool_source);
	}
	if (subject->lease)
		cJSON_AddStringToObject(f, "lease", subject->lease);
	if (v->role >= 0) {
		cJSON_AddStringToObject(f, "role", snapshot_config(snap)->roles[v->role].name);
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
	struct snapshot *snap;
	struct verdict v;
	struct timespec start;
	char resource[128];
	double ms;
	int result, in_arena;

	*response = NULL;
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* The request's tree lives in this thread's arena, freed at once at the end. */
	in_arena = arena_begin();
	result = review_decode(body, len, wh->allow_bare, &req, err);
	arena_end();
	if (result) {
		arena_reset();
		return result;
	}
	snap = snapshot_holder_get(wh->holder);
	memset(&subject, 0, sizeof(subject));
	if (!snapshot_ready(snap)) {
		verdict_init(&v);
		if (wh->unsynced_allow)
			verdict_warn(&v, "poolguard has not finished reading the cluster yet: admitted "
			    "unchecked (--unsynced=allow)");
		else
			verdict_deny(&v, "poolguard has not finished reading the cluster's workloads "
			    "from the API server yet, so it cannot judge this change; retry in a few "
			    "seconds");
	} else
		snapshot_judge(snap, wh->ledger, &req, webhook_now(), wh->reservation_seconds, &v,
		    &subject);
	*response = review_encode(&req, &v, wh->pretty);
	if (*response == NULL)
		result = pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	else {
		ms = webhook_ms_since(&start);
		snprintf(resource, sizeof(resource), "%s%s%s", req.resource,
		    req.sub_resource[0] ? "/" : "", req.sub_resource);
		metrics_count_request(review_operation_name(req.op), resource, !v.allowed ? "deny" :
		    v.warning_count ? "warn" : "allow", ms / 1e3);
		webhook_log_decision(snap, &req, &subject, &v, ms);
	}
	snapshot_release(snap);
	if (in_arena)
		req.root = NULL;	/* no need to walk the tree: the reset frees it whole */
	review_release(&req);
	arena_reset();
	return result;
}

char *
webhook_metrics(void *ctx)
{
	const struct webhook *wh = ctx;
	struct snapshot *snap = snapshot_holder_get(wh->holder);
	const struct config *cfg = snapshot_config(snap);
	struct snapshot_usage usage;
	struct metrics_view view;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	memset(&usage, 0, sizeof(usage));
	if ((usage.role_usage = calloc(cfg->role_count + 1, sizeof(long))) == NULL) {
		snapshot_release(snap);
		return NULL;
	}
	snapshot_usage(snap, webhook_now(), &usage);
	memset(&view, 0, sizeof(view));
	view.cfg = cfg;
	view.role_usage = usage.role_usage;
	view.workloads = usage.workloads;
	view.reservations = usage.reservations;
	view.shared = wh->ledger != NULL;
	if (usage.live)
		view.live = &usage.live_stats;
	if ((out = open_memstream(&text, &len)) != NULL) {
		if (wh->db)
			dbwatch_write_metrics(wh->db, out);
		if (metrics_write(out, &view) != 0) {
			fclose(out);
			free(text);
			text = NULL;
		} else
			fclose(out);
	}
	free(usage.role_usage);
	snapshot_release(snap);
	return text;
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
	/* Refused memory, not bad input: the server answers, logs and counts that itself. */
	if (arena_refused() == 0) {
		metrics_count_request("", "", "error", 0);
		log_message(LOG_WARN, "bad_request", "%s", err.msg);
	}
	*response = webhook_error_body(err.msg, *status);
}
