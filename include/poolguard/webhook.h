/*
 * webhook.h - one AdmissionReview body in, one AdmissionReview response out.
 *
 * The single code path behind POST /validate and `poolguard review`: decode,
 * judge against the budget and the inventory, encode, and log the decision.
 */
#ifndef POOLGUARD_WEBHOOK_H
#define POOLGUARD_WEBHOOK_H

#include <stddef.h>

#include "poolguard/error.h"
#include "poolguard/snapshot.h"

struct dbwatch;

struct webhook {
	struct snapshot_holder *holder;	/* the budget and inventory in force */
	struct dbwatch *db;		/* serve --db: the database's numbers, or NULL */
	int unsynced_allow;		/* before the first LIST: allow with a warning (else deny) */
	double reservation_seconds;	/* hold admitted increases this long; 0: never */
	struct lease_ledger *ledger;	/* share them through a Lease, NULL: in memory */
	int allow_bare;			/* accept a bare AdmissionRequest (the review command) */
	int pretty;			/* indent the response */
};

/*
 * Answers one review. On success *response is the AdmissionReview response,
 * a new string the caller frees. A body that is not JSON or not an
 * AdmissionReview v1 fails with PG_ERR_PARSE or PG_ERR_INVALID and err says
 * why; nothing is allocated then.
 */
int webhook_review(const struct webhook *wh, const char *body, size_t len, char **response,
    struct pg_error *err);

/* server_validate_fn for struct webhook: 200 with the response, 400 with a JSON error. */
void webhook_validate(void *ctx, const char *body, size_t len, int *status, char **response);

/*
 * 1 when the webhook can judge: no live inventory, or it has synced. For
 * /readyz, *body says what it knows: the inventory, its watches, where
 * reservations are kept (a new string, or NULL when out of memory).
 */
int webhook_ready(void *ctx, char **body);

/* The Prometheus text for GET /metrics, a new string, or NULL when out of memory. */
char *webhook_metrics(void *ctx);

/* A JSON error body {"error": message, "code": code}, or NULL when out of memory. */
char *webhook_error_body(const char *message, int code);

#endif
