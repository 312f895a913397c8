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

/* Counts one admission: operation (CREATE...), resource (deployments/scale), decision. */
void metrics_count_request(const char *operation, const char *resource, const char *decision,
    double seconds);

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
};

/*
 * Writes every metric to out (a memstream or file). Returns 0, or -1 when
 * writing failed.
 */
int metrics_write(FILE *out, const struct metrics_view *view);

/*
 * Writes one sample, `name{key="value"} number`, with the label value kept to
 * characters that need no escaping; key NULL writes a sample without labels.
 */
void metrics_write_sample(FILE *out, const char *name, const char *key, const char *value,
    double number);

/* Clears the counters (tests). */
void metrics_reset(void);

#endif
