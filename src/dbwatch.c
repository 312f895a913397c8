/*
 * dbwatch.c - background refresh of the database's view, for /metrics.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "poolguard/db.h"
#include "poolguard/dbwatch.h"
#include "poolguard/log.h"
#include "poolguard/metrics.h"

/* What one refresh found for a budget role. */
struct dbwatch_role {
	char name[128];
	int found;		/* the role exists in the database */
	long limit;		/* rolconnlimit */
	long live;		/* client backends now */
	int drift;		/* its connectionLimit differs */
};

struct dbwatch {
	char *conninfo;
	unsigned interval;
	struct snapshot_holder *holder;
	pthread_t thread;
	pthread_mutex_t lock;		/* guards the results below, and stop */
	pthread_cond_t cond;
	int stop;
	int up;
	time_t last_success;
	long errors;
	long max_connections;
	long reserved;
	size_t drift_count;
	struct dbwatch_role *roles;
	size_t role_count;
};

/* One refresh: read, compare, and publish under the lock. */
static int
dbwatch_refresh(struct dbwatch *w, struct pg_error *err)
{
	struct db_settings settings;
	struct db_roles roles;
	struct db_report report;
	struct dbwatch_role *found = NULL;
	struct snapshot *snap;
	const struct db_role *dr;
	struct db *db = NULL;
	size_t r, i;
	int result;

	memset(&roles, 0, sizeof(roles));
	memset(&report, 0, sizeof(report));
	snap = snapshot_holder_get(w->holder);
	if ((result = db_connect(w->conninfo, 5, &db, err)) ||
	    (result = db_read_settings(db, &settings, err)) ||
	    (result = db_read_roles(db, &roles, err)) ||
	    (result = db_compare(snapshot_config(snap), &settings, &roles, NULL, NULL, &report, err)))
		goto out;
	if ((found = calloc(snapshot_config(snap)->role_count + 1, sizeof(*found))) == NULL) {
		result = pg_error_set(err, PG_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (r = 0; r < snapshot_config(snap)->role_count; r++) {
		snprintf(found[r].name, sizeof(found[r].name), "%s", snapshot_config(snap)->roles[r].name);
		if ((dr = db_roles_find(&roles, snapshot_config(snap)->roles[r].name)) != NULL) {
			found[r].found = 1;
			found[r].limit = dr->connection_limit;
			found[r].live = dr->live;
		}
		for (i = 0; i < report.count; i++)
			if (report.items[i].drift && report.items[i].role &&
			    strcmp(report.items[i].role, found[r].name) == 0)
				found[r].drift = 1;
	}
	pthread_mutex_lock(&w->lock);
	free(w->roles);
	w->roles = found;
	found = NULL;
	w->role_count = snapshot_config(snap)->role_count;
	w->max_connections = settings.max_connections;
	w->reserved = db_settings_reserved(&settings);
	w->drift_count = report.drift_count;
	w->last_success = time(NULL);
	pthread_mutex_unlock(&w->lock);
out:
	free(found);
	db_report_release(&report);
	db_roles_release(&roles);
	db_close(db);
	snapshot_release(snap);
	return result;
}

static void *
dbwatch_run(void *arg)
{
	struct dbwatch *w = arg;
	struct timespec until;
	struct pg_error err;
	int ok, was_up = -1;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		pthread_mutex_unlock(&w->lock);
		ok = dbwatch_refresh(w, &err) == PG_OK;
		pthread_mutex_lock(&w->lock);
		w->up = ok;
		if (!ok)
			w->errors++;
		if (ok != was_up) {
			if (ok)
				log_message(LOG_INFO, "db_refreshed", "the database answers");
			else
				log_message(LOG_WARN, "db_refresh_failed", "%s", err.msg);
			was_up = ok;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += w->interval;
		while (!w->stop && pthread_cond_timedwait(&w->cond, &w->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int
dbwatch_start(const char *conninfo, unsigned interval_seconds, struct snapshot_holder *holder,
    struct dbwatch **out, struct pg_error *err)
{
	struct dbwatch *w;
	int result;

	*out = NULL;
	if ((result = db_conninfo_check(conninfo, err)))
		return result;
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->conninfo = strdup(conninfo)) == NULL) {
		free(w);
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	}
	w->interval = interval_seconds ? interval_seconds : 30;
	w->holder = holder;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, dbwatch_run, w) != 0) {
		free(w->conninfo);
		free(w);
		return pg_error_set(err, PG_ERR_NOMEM, "unable to start the database refresh");
	}
	*out = w;
	return PG_OK;
}

void
dbwatch_write_metrics(struct dbwatch *w, FILE *out)
{
	size_t r;

	pthread_mutex_lock(&w->lock);
	fprintf(out, "# HELP poolguard_db_up 1 when the last refresh from the database worked.\n"
	    "# TYPE poolguard_db_up gauge\npoolguard_db_up %d\n", w->up);
	fprintf(out, "# HELP poolguard_db_refresh_errors_total Refreshes that failed.\n"
	    "# TYPE poolguard_db_refresh_errors_total counter\n"
	    "poolguard_db_refresh_errors_total %ld\n", w->errors);
	fprintf(out, "# HELP poolguard_db_last_refresh_timestamp_seconds When the database was "
	    "last read.\n# TYPE poolguard_db_last_refresh_timestamp_seconds gauge\n"
	    "poolguard_db_last_refresh_timestamp_seconds %ld\n", (long)w->last_success);
	if (w->last_success) {
		fprintf(out, "# HELP poolguard_db_max_connections max_connections as the database "
		    "says.\n# TYPE poolguard_db_max_connections gauge\n"
		    "poolguard_db_max_connections %ld\n", w->max_connections);
		fprintf(out, "# HELP poolguard_db_reserved_connections Reserved slots as the database "
		    "says.\n# TYPE poolguard_db_reserved_connections gauge\n"
		    "poolguard_db_reserved_connections %ld\n", w->reserved);
		fprintf(out, "# HELP poolguard_db_drift_items Budget values that differ from the "
		    "database.\n# TYPE poolguard_db_drift_items gauge\n"
		    "poolguard_db_drift_items %zu\n", w->drift_count);
		fprintf(out, "# HELP poolguard_db_role_connections Client connections of a role open "
		    "now (pg_stat_activity).\n# TYPE poolguard_db_role_connections gauge\n");
		for (r = 0; r < w->role_count; r++)
			if (w->roles[r].found)
				metrics_write_sample(out, "poolguard_db_role_connections", "role",
				    w->roles[r].name, (double)w->roles[r].live);
		fprintf(out, "# HELP poolguard_db_role_connection_limit A role's CONNECTION LIMIT in "
		    "the database, -1 for none.\n# TYPE poolguard_db_role_connection_limit gauge\n");
		for (r = 0; r < w->role_count; r++)
			if (w->roles[r].found)
				metrics_write_sample(out, "poolguard_db_role_connection_limit", "role",
				    w->roles[r].name, (double)w->roles[r].limit);
		fprintf(out, "# HELP poolguard_db_role_drift 1 when the role's limit in the budget "
		    "differs from the database (or the role is missing).\n"
		    "# TYPE poolguard_db_role_drift gauge\n");
		for (r = 0; r < w->role_count; r++)
			metrics_write_sample(out, "poolguard_db_role_drift", "role", w->roles[r].name,
			    w->roles[r].drift);
	}
	pthread_mutex_unlock(&w->lock);
}

void
dbwatch_stop(struct dbwatch *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->roles);
	free(w->conninfo);
	free(w);
}
