/*
 * budget.h - the connection-budget engine: which role a workload belongs to,
 * and whether a change keeps every role and the cluster within its limit.
 *
 * Pure: no I/O, no clock, no globals, no allocation. The caller supplies the
 * current per-role usage (the sum of replicas x pool over the workloads each
 * role manages, external connections not included) and the change; the
 * engine returns a verdict with the message and warnings a user sees.
 */
#ifndef POOLGUARD_BUDGET_H
#define POOLGUARD_BUDGET_H

#include <stddef.h>

#include "poolguard/config.h"

#define VERDICT_MESSAGE_MAX 1024
#define VERDICT_MAX_WARNINGS 8
#define VERDICT_WARNING_MAX 120	/* kubectl prints warnings on one line each */
/* Sums of connections stop here: far past any limit, and x100 still fits in a long. */
#define BUDGET_SATURATED (1L << 55)

/* Looks up a label value by key in the caller's label set; NULL when absent. */
typedef const char *(*budget_label_fn)(const void *labels, const char *key);

/* What one workload holds in the budget: its role (-1: none) and its connections. */
struct budget_holding {
	int role;
	long connections;
};

struct budget_change {
	const char *kind;		/* "deployment", for messages */
	const char *namespace;
	const char *name;
	int role;			/* the role after the change, -1: outside the budget */
	long replicas;			/* after the change */
	long pool_per_pod;		/* after the change */
	struct budget_holding counted;	/* what the usage sums hold for it now */
	struct budget_holding previous;	/* what it held before the change (the ratchet) */
};

struct verdict {
	int allowed;
	char message[VERDICT_MESSAGE_MAX];	/* why it was denied; "" when allowed */
	char over[VERDICT_MESSAGE_MAX / 2];	/* the limits over after the change, as phrased in
						   message ("role 'app' would use 220 of 200 ..."), or "" */
	char warnings[VERDICT_MAX_WARNINGS][VERDICT_WARNING_MAX + 1];
	size_t warning_count;

	/* The numbers behind the verdict, for logs, metrics and tables. */
	int role;			/* -1: outside the budget */
	long connections_before;
	long connections_after;
	long role_used;			/* after the change, external connections included */
	long role_limit;
	long cluster_used;		/* after the change, reserved connections included */
	long cluster_limit;
	int pooler;			/* the role's pooler, -1: none */
	long pooler_used;		/* client connections after the change */
	long pooler_capacity;

	/*
	 * The tightest limit the workload takes a share of: the connections the
	 * rest of the budget leaves it (room), and that limit's kind, name and
	 * size. room_what is NULL when no limit applies (outside the budget).
	 */
	long room;
	const char *room_what;		/* "role", "pooler", "cluster" */
	const char *room_name;		/* borrowed from the config */
	long room_limit;
};

/* Clears v to "allowed, no warnings, outside the budget". */
void verdict_init(struct verdict *v);

/*
 * Adds a warning, cut to VERDICT_WARNING_MAX characters with control
 * characters replaced by spaces; warnings past VERDICT_MAX_WARNINGS are dropped.
 */
void verdict_warn(struct verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Denies with a message, cut to fit. */
void verdict_deny(struct verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The index of the first role that manages a workload in namespace with the
 * given labels, or -1. A role manages the namespaces it lists (all when it
 * lists none) and the workloads its selector matches (all when it has none);
 * a role with neither namespaces nor a selector manages nothing.
 */
int budget_role_for(const struct config *cfg, const char *namespace, budget_label_fn label,
    const void *labels);

/*
 * The first role with a selector that manages namespace, or -1: a workload
 * there whose labels are unknown may belong to it.
 */
int budget_selector_role_in(const struct config *cfg, const char *namespace);

/*
 * Usage of role r at the database: its workloads' connections plus its
 * external connections; for a role behind a pooler, the pooler's server
 * connections instead of its workloads'.
 */
long budget_role_used(const struct config *cfg, const long *role_usage, size_t r);

/* Client connections into pooler p: the workloads of every role behind it. */
long budget_pooler_used(const struct config *cfg, const long *role_usage, size_t p);

/* Client capacity of pooler p: instances x maxClientConn. */
long budget_pooler_capacity(const struct config *cfg, size_t p);

/*
 * Findings about the budget itself: roles whose poolers can open more server
 * connections than the role's limit. Writes up to max messages (each at most
 * VERDICT_MESSAGE_MAX) and returns how many there are.
 */
size_t budget_findings(const struct config *cfg, char (*out)[VERDICT_MESSAGE_MAX], size_t max);

/* a + b, held at BUDGET_SATURATED (or its negative) so that absurd inputs cannot overflow. */
long budget_sum(long a, long b);

/* Usage of the cluster: reserved connections plus every role's usage (held at BUDGET_SATURATED). */
long budget_cluster_used(const struct config *cfg, const long *role_usage);

/* used as a whole percentage of limit, rounded half up; 0 for a limit of 0 or less. */
long budget_percent(long used, long limit);

/* 1 when used is at or above the warning share of limit. */
int budget_in_warning_band(const struct config *cfg, long used, long limit);

/*
 * Judges a change against the current usage (role_usage has cfg->role_count
 * entries and includes what change->counted says it does).
 *
 * An increase that leaves the role or the cluster over its limit is denied
 * (with enforcement: warn, allowed with a warning); a change that does not
 * increase connections is allowed, with a warning when a limit is already
 * exceeded; usage at or above warnPercent is allowed with a warning.
 */
void budget_judge(const struct config *cfg, const long *role_usage,
    const struct budget_change *change, struct verdict *v);

#endif
