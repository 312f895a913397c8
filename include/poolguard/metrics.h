/*
 * metrics.h - counters and gauges, written in the Prometheus text format.
 *
 * Request counters and the latency histogram are updated from many threads
 * at once (atomics and a small lock); the budget gauges are computed when
 * /metrics is scraped, from the state passed in, so they are always current.
 */
#ifndef POOLGUARD_METRICS_H
#define POOLGUARD_METRICS_H

#include <stdio.h>
#include <time.h>

#include "poolguard/config.h"
#include "poolguard/inventory.h"
#include "poolguard/live.h"

/*
 * Counts one admission: operation (CREATE...), resource (deployments/scale),
 * decision (allow, warn, deny, error). The values come from the request, so
 * they are not used as labels as they are: an operation other than CREATE,
 * UPDATE, DELETE or CONNECT counts as "other", a resource outside the ones the
 * webhook is registered for as "other", and an empty one (a body that did not
 * decode) stays empty. The series are a fixed table, so none can crowd out
 * another.
 */
void metrics_count_request(const char *operation, const char *resource, const char *decision,
    double seconds);

/* What the server refused or cut off before a request reached the webhook. */
enum metrics_refusal {
	METRICS_REQUEST_TIMEOUT,	/* connection closed: the request did not arrive in time */
	METRICS_MEMORY_BUSY,		/* 503: the requests in flight held the memory budget */
	METRICS_MEMORY_TOO_LARGE,	/* 413: the request alone does not fit the memory budget */
	METRICS_BODY_TOO_LARGE,		/* 413: the body is over --max-body-bytes */
	METRICS_CLIENT_CERTIFICATE,	/* 403: no acceptable client certificate */
	METRICS_REFUSALS
};

/* Counts one refusal. */
void metrics_count_refusal(enum metrics_refusal what);

/* The result of one write of the reservation Lease (lease.c). */
enum metrics_lease_write {
	METRICS_LEASE_WRITTEN,
	METRICS_LEASE_CONFLICT,		/* 409: another replica wrote first */
	METRICS_LEASE_ERROR,		/* the API server failed or refused it */
	METRICS_LEASE_TIMEOUT,		/* no answer within --lease-timeout */
	METRICS_LEASE_WRITE_RESULTS
};

/* Counts one Lease write by its result. */
void metrics_count_lease_write(enum metrics_lease_write result);

/* Counts a judgement done again after a conflict. */
void metrics_count_lease_retry(void);

/* Counts entries pruned from the Lease because they expired. */
void metrics_count_lease_expired(size_t n);

/* Counts an increase answered without its shared reservation (allowed or denied). */
void metrics_count_lease_unavailable(int allowed);

/* Records the latency of one call to the API server about the Lease. */
void metrics_observe_lease_call(double seconds);

/* Counts a config reload; success also records its time. */
void metrics_count_reload(int success, time_t when);

/* The serving certificate's expiry. */
void metrics_set_certificate_expiry(time_t not_after);

/* What the scrape reports about the budget and the inventory. */
struct metrics_view {
	const struct config *cfg;
	const long *role_usage;		/* per role, external connections not included */
	size_t workloads;
	size_t reservations;
	const struct live_stats *live;	/* NULL: a fixed inventory */
	int shared;			/* reservations are shared through a Lease */
};

/*
 * Writes every metric to out (a memstream or file). Returns 0, or -1 when
 * writing failed.
 */
int metrics_write(FILE *out, const struct metrics_view *view);

/*
 * Writes one sample, `name{key="value"} number`, the value escaped as the
 * text format wants (backslash, double quote, newline) and kept valid UTF-8
 * (a byte that starts no valid sequence becomes U+FFFD); key NULL writes a
 * sample without labels.
 */
void metrics_write_sample(FILE *out, const char *name, const char *key, const char *value,
    double number);

/* Clears the counters (tests). */
void metrics_reset(void);

#endif
