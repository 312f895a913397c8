/*
 * dbwatch.h - `serve --db`: the database's numbers refreshed in the background.
 *
 * A thread connects every interval, reads max_connections, the reserved
 * slots, every role's CONNECTION LIMIT and its live connections, compares
 * them with the budget in force, and keeps the result for /metrics. It never
 * runs on the admission path and admission never waits for it; a database
 * that cannot be reached only shows as poolguard_db_up 0.
 */
#ifndef POOLGUARD_DBWATCH_H
#define POOLGUARD_DBWATCH_H

#include <stdio.h>

#include "poolguard/error.h"
#include "poolguard/snapshot.h"

struct dbwatch;

/*
 * Starts refreshing every interval_seconds with conninfo (checked first: no
 * password on the command line), comparing with the snapshot in force in holder.
 */
int dbwatch_start(const char *conninfo, unsigned interval_seconds,
    struct snapshot_holder *holder, struct dbwatch **out, struct pg_error *err);

/* Writes the poolguard_db_* metrics of the last refresh. */
void dbwatch_write_metrics(struct dbwatch *w, FILE *out);

/* dbwatch_stop(NULL) does nothing. */
void dbwatch_stop(struct dbwatch *w);

#endif
