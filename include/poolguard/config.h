/*
 * config.h - the connection budget: budget.yaml loaded into an immutable snapshot.
 *
 * A struct config is built whole by config_load() or config_parse() and never
 * changed after; a reload builds a new one and swaps it in, so a bad budget
 * never replaces a good one. Every mistake in the input is reported as
 * "FILE:LINE: KEY.PATH: what is wrong", unknown keys included.
 */
#ifndef POOLGUARD_CONFIG_H
#define POOLGUARD_CONFIG_H

#include <stddef.h>

#include "poolguard/error.h"

/* The largest budget.yaml (or ConfigMap manifest holding it) poolguard reads. */
#define CONFIG_MAX_BYTES (1024 * 1024)

/* The key of the budget in the poolguard-budget ConfigMap. */
#define CONFIG_CONFIGMAP_KEY "budget.yaml"

/* A connection limit of -1 means "no limit", as in PostgreSQL's pg_roles. */
#define CONFIG_NO_LIMIT (-1L)

enum enforcement {
	ENFORCEMENT_DENY,	/* reject changes that raise connections past a limit */
	ENFORCEMENT_WARN	/* admit them, with a warning */
};

/* What a rollout whose peak breaks a budget gets. */
enum rollout_peak_policy {
	ROLLOUT_PEAK_WARN,	/* admitted with a warning (the default) */
	ROLLOUT_PEAK_DENY,
	ROLLOUT_PEAK_IGNORE
};

enum selector_op {
	SELECTOR_IN,
	SELECTOR_NOT_IN,
	SELECTOR_EXISTS,
	SELECTOR_DOES_NOT_EXIST
};

struct label {
	char *key;
	char *value;
};

struct selector_requirement {
	char *key;
	enum selector_op op;
	char **values;
	size_t value_count;
};

/* A Kubernetes label selector: matchLabels and matchExpressions, all must hold. */
struct selector {
	struct label *match_labels;
	size_t match_label_count;
	struct selector_requirement *requirements;
	size_t requirement_count;
};

/*
 * A PgBouncer deployment in front of the database, named after PgBouncer's
 * settings. Roles behind the same pooler name share its client capacity.
 */
struct pooler {
	char *name;
	long instances;			/* PgBouncer processes (pods) */
	long max_client_conn;		/* max_client_conn of each */
};

struct role_pooler {
	int index;			/* into config.poolers, -1: not pooled */
	char *name;
	long instances;
	long max_client_conn;
	long default_pool_size;		/* default_pool_size (server connections per pool) */
	long max_db_connections;	/* max_db_connections, 0: no cap */
	int line;
};

struct role {
	char *name;
	long connection_limit;		/* CONFIG_NO_LIMIT or >= 0 */
	long external_connections;	/* held by clients that are not workloads here */
	char **namespaces;		/* the namespaces it manages; none listed: all */
	size_t namespace_count;
	int has_selector;
	struct selector selector;
	struct role_pooler pooler;	/* pods reach the database through PgBouncer */
	int line;			/* where the role starts in the source, for messages */
};

struct config {
	char *cluster_name;
	long max_connections;
	long reserved_connections;
	int warn_percent;		/* 1..100 */
	enum enforcement enforcement;
	long default_pool_size;		/* >= 1 */
	int count_hpa_max_replicas;	/* a workload with an HPA counts maxReplicas pods */
	int unknown_pool_deny;		/* deny when a pool size cannot be known (else warn) */
	enum rollout_peak_policy rollout_peak;	/* rolloutPeak: warn, deny or ignore */
	int reservation_unavailable_allow;	/* reservationUnavailable: allow (else deny) an
						   increase whose shared reservation cannot be
						   written */
	char **pool_size_variables;	/* in order of precedence */
	size_t pool_size_variable_count;
	struct role *roles;
	size_t role_count;
	struct pooler *poolers;		/* distinct pooler names, in order of appearance */
	size_t pooler_count;
	char *source;			/* the file it was read from */
};

/*
 * The server connections a pooled role's PgBouncer instances can open:
 * instances x min(default_pool_size, max_db_connections); 0 if not pooled.
 */
long config_role_server_connections(const struct config *cfg, size_t r);

/*
 * Loads a budget from path, which is a budget.yaml, a ConfigMap manifest
 * holding the key budget.yaml, or a directory (a mounted ConfigMap) holding
 * the file budget.yaml. On success *out is a new snapshot the caller frees
 * with config_free(). On failure *out is NULL and err says file, line and key.
 */
int config_load(const char *path, struct config **out, struct pg_error *err);

/*
 * Parses budget text. source names it in messages; line_offset is added to
 * every line number (for a budget embedded in a ConfigMap manifest). A text
 * whose top level is a ConfigMap is unwrapped, once: a ConfigMap in its
 * budget.yaml is an error, and so is a second non-empty YAML document.
 * Same ownership as config_load().
 */
int config_parse(const char *text, size_t len, const char *source, int line_offset,
    struct config **out, struct pg_error *err);

/* Frees a snapshot; config_free(NULL) does nothing. */
void config_free(struct config *cfg);

#endif
