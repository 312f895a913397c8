/*
 * budget.c - the connection-budget engine.
 *
 * Everything here is arithmetic over the config snapshot and numbers the
 * caller passes in, so every rule can be tested with a table and the same
 * verdict comes out of the webhook, `poolguard review` and `poolguard check`.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "poolguard/budget.h"

void
verdict_init(struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->allowed = 1;
	v->role = -1;
	v->role_limit = CONFIG_NO_LIMIT;
}

/* Replaces control characters so a message stays one printable line. */
static void
budget_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

void
verdict_warn(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	if (v->warning_count >= VERDICT_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(v->warnings[v->warning_count], sizeof(v->warnings[0]), fmt, ap);
	va_end(ap);
	budget_sanitize(v->warnings[v->warning_count++]);
}

void
verdict_deny(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	v->allowed = 0;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof(v->message), fmt, ap);
	va_end(ap);
	budget_sanitize(v->message);
}

static int
budget_selector_matches(const struct selector *sel, budget_label_fn label, const void *labels)
{
	const struct selector_requirement *req;
	const char *value;
	size_t i, j;
	int listed;

	for (i = 0; i < sel->match_label_count; i++) {
		value = label(labels, sel->match_labels[i].key);
		if (value == NULL || strcmp(value, sel->match_labels[i].value) != 0)
			return 0;
	}
	for (i = 0; i < sel->requirement_count; i++) {
		req = &sel->requirements[i];
		value = label(labels, req->key);
		listed = 0;
		for (j = 0; value && j < req->value_count; j++)
			listed |= strcmp(value, req->values[j]) == 0;
		switch (req->op) {
		case SELECTOR_IN:
			if (!listed)
				return 0;
			break;
		case SELECTOR_NOT_IN:
			if (listed)
				return 0;
			break;
		case SELECTOR_EXISTS:
			if (value == NULL)
				return 0;
			break;
		case SELECTOR_DOES_NOT_EXIST:
			if (value != NULL)
				return 0;
			break;
		}
	}
	return 1;
}

int
budget_role_for(const struct config *cfg, const char *namespace, budget_label_fn label,
    const void *labels)
{
	const struct role *role;
	size_t r, i;
	int in_namespace;

	for (r = 0; r < cfg->role_count; r++) {
		role = &cfg->roles[r];
		if (role->namespace_count == 0 && !role->has_selector)
			continue;
		in_namespace = role->namespace_count == 0;
		for (i = 0; i < role->namespace_count && !in_namespace; i++)
			in_namespace = strcmp(role->namespaces[i], namespace) == 0;
		if (!in_namespace)
			continue;
		if (role->has_selector && !budget_selector_matches(&role->selector, label, labels))
			continue;
		return (int)r;
	}
	return -1;
}

int
budget_selector_role_in(const struct config *cfg, const char *namespace)
{
	const struct role *role;
	size_t r, i;

	for (r = 0; r < cfg->role_count; r++) {
		role = &cfg->roles[r];
		if (!role->has_selector)
			continue;
		if (role->namespace_count == 0)
			return (int)r;
		for (i = 0; i < role->namespace_count; i++)
			if (strcmp(role->namespaces[i], namespace) == 0)
				return (int)r;
	}
	return -1;
}

long
budget_role_used(const struct config *cfg, const long *role_usage, size_t r)
{
	if (cfg->roles[r].pooler.index >= 0)
		return config_role_server_connections(cfg, r) + cfg->roles[r].external_connections;
	return role_usage[r] + cfg->roles[r].external_connections;
}

long
budget_pooler_used(const struct config *cfg, const long *role_usage, size_t p)
{
	long used = 0;
	size_t r;

	for (r = 0; r < cfg->role_count; r++)
		if (cfg->roles[r].pooler.index == (int)p)
			used += role_usage[r];
	return used;
}

long
budget_pooler_capacity(const struct config *cfg, size_t p)
{
	return cfg->poolers[p].instances * cfg->poolers[p].max_client_conn;
}

size_t
budget_findings(const struct config *cfg, char (*out)[VERDICT_MESSAGE_MAX], size_t max)
{
	const struct role *role;
	size_t r, n = 0;
	long server;

	for (r = 0; r < cfg->role_count; r++) {
		role = &cfg->roles[r];
		server = config_role_server_connections(cfg, r);
		if (role->pooler.index < 0 || role->connection_limit == CONFIG_NO_LIMIT ||
		    server + role->external_connections <= role->connection_limit)
			continue;
		if (n < max)
			snprintf(out[n], VERDICT_MESSAGE_MAX, "role '%s': pooler '%s' can open %ld x "
			    "min(defaultPoolSize %ld, maxDbConnections %ld) = %ld server connections%s, "
			    "more than its connection limit %ld", role->name, role->pooler.name,
			    role->pooler.instances, role->pooler.default_pool_size,
			    role->pooler.max_db_connections, server, role->external_connections ?
			    " plus its external ones" : "", role->connection_limit);
		n++;
	}
	return n;
}

/* What a workload's connections weigh at the database: nothing when a pooler stands between. */
static long
budget_db_share(const struct config *cfg, int role, long connections)
{
	return role >= 0 && cfg->roles[role].pooler.index < 0 ? connections : 0;
}

/* 1 when role r sits behind pooler p. */
static int
budget_behind(const struct config *cfg, int role, int p)
{
	return role >= 0 && p >= 0 && cfg->roles[role].pooler.index == p;
}

long
budget_sum(long a, long b)
{
	if (b > 0 && a > BUDGET_SATURATED - b)
		return BUDGET_SATURATED;
	if (b < 0 && a < -BUDGET_SATURATED - b)
		return -BUDGET_SATURATED;
	return a + b;
}

long
budget_cluster_used(const struct config *cfg, const long *role_usage)
{
	long used = cfg->reserved_connections;
	size_t r;

	for (r = 0; r < cfg->role_count; r++)
		used = budget_sum(used, budget_role_used(cfg, role_usage, r));
	return used;
}

long
budget_percent(long used, long limit)
{
	if (limit <= 0)
		return 0;
	if (used > BUDGET_SATURATED / 100 || used < -BUDGET_SATURATED / 100)
		return (long)((long double)used * 100 / limit + 0.5L);
	return (used * 100 + limit / 2) / limit;
}

int
budget_in_warning_band(const struct config *cfg, long used, long limit)
{
	if (limit < 0)
		return 0;
	return (long double)used * 100 >= (long double)cfg->warn_percent * limit;
}

/*
 * The limits a change is judged against, one row each. A row's usage is
 * what the others hold plus this workload's share of it; the share depends
 * on where the workload's connections land (the database, or a pooler).
 */
enum budget_limit_kind {
	BUDGET_LIMIT_ROLE,
	BUDGET_LIMIT_POOLER,
	BUDGET_LIMIT_CLUSTER,
	BUDGET_LIMIT_COUNT
};

struct budget_limit {
	const char *what;	/* "role", for messages */
	const char *name;
	const char *verb;	/* "would use" */
	const char *unit;	/* "connections" */
	int applies;
	int over_order;		/* where it stands in the denial's list of limits over */
	long used;		/* after the change */
	long limit;		/* CONFIG_NO_LIMIT: none */
	long share;		/* the change's own share of used */
	int grows;		/* the change adds to this limit's usage */
};

/* What a holding of connections in role weighs on limit k of the change's role. */
static long
budget_share(const struct config *cfg, enum budget_limit_kind k, int change_role, int role,
    long connections)
{
	int pooler = change_role >= 0 ? cfg->roles[change_role].pooler.index : -1;

	switch (k) {
	case BUDGET_LIMIT_ROLE:
		return role == change_role && pooler < 0 ? connections : 0;
	case BUDGET_LIMIT_POOLER:
		return budget_behind(cfg, role, pooler) ? connections : 0;
	case BUDGET_LIMIT_CLUSTER:
		return budget_db_share(cfg, role, connections);
	default:
		return 0;
	}
}

/* Fills the rows for change c: usage after it, and whether it grows each one. */
static void
budget_limits(const struct config *cfg, const long *role_usage, const struct budget_change *c,
    long after, struct budget_limit *rows)
{
	const struct role *role = c->role >= 0 ? &cfg->roles[c->role] : NULL;
	int pooler = role ? role->pooler.index : -1, k;
	long base[BUDGET_LIMIT_COUNT], share_now, share_before;

	memset(rows, 0, BUDGET_LIMIT_COUNT * sizeof(*rows));
	rows[BUDGET_LIMIT_ROLE] = (struct budget_limit){.what = "role", .name = role ? role->name :
	    "", .verb = "would use", .unit = "connections", .applies = role != NULL,
	    .over_order = 0, .limit = role ? role->connection_limit : CONFIG_NO_LIMIT};
	rows[BUDGET_LIMIT_POOLER] = (struct budget_limit){.what = "pooler", .name = pooler >= 0 ?
	    cfg->poolers[pooler].name : "", .verb = "would take", .unit = "client connections",
	    .applies = pooler >= 0, .over_order = 2, .limit = pooler >= 0 ?
	    budget_pooler_capacity(cfg, (size_t)pooler) : CONFIG_NO_LIMIT};
	rows[BUDGET_LIMIT_CLUSTER] = (struct budget_limit){.what = "cluster", .name =
	    cfg->cluster_name, .verb = "would use", .unit = "connections", .applies = 1,
	    .over_order = 1, .limit = cfg->max_connections};
	base[BUDGET_LIMIT_ROLE] = role ? budget_role_used(cfg, role_usage, (size_t)c->role) : 0;
	base[BUDGET_LIMIT_POOLER] = pooler >= 0 ? budget_pooler_used(cfg, role_usage,
	    (size_t)pooler) : 0;
	base[BUDGET_LIMIT_CLUSTER] = budget_cluster_used(cfg, role_usage);
	for (k = 0; k < BUDGET_LIMIT_COUNT; k++) {
		rows[k].share = budget_share(cfg, k, c->role, c->role, after);
		share_now = budget_share(cfg, k, c->role, c->counted.role, c->counted.connections);
		share_before = budget_share(cfg, k, c->role, c->previous.role,
		    c->previous.connections);
		rows[k].used = budget_sum(base[k], rows[k].share - share_now);
		rows[k].grows = rows[k].share > share_before;
	}
}

/* "role 'app' would use 220 of 200 connections (110%), 20 over" into buf. */
static void
budget_describe_over(char *buf, size_t size, const struct budget_limit *l)
{
	snprintf(buf, size, "%s '%s' %s %ld of %ld %s (%ld%%), %ld over", l->what, l->name,
	    l->verb, l->used, l->limit, l->unit, budget_percent(l->used, l->limit),
	    l->used - l->limit);
}

/*
 * What would fit: the largest replica count at this pool size and the largest
 * pool per pod at this replica count, given what the rest of the role and the
 * cluster already hold.
 */
static void
budget_describe_fit(char *buf, size_t size, const struct budget_change *c, long room)
{
	if (room < 0)
		room = 0;
	if (room < c->pool_per_pod) {
		snprintf(buf, size, "what fits: nothing at pool size %ld, the rest of the budget "
		    "leaves room for %ld connections", c->pool_per_pod, room);
		return;
	}
	if (c->replicas > 0 && room / c->replicas > 0)
		snprintf(buf, size, "what fits: at most %ld replicas at pool size %ld, or pool size "
		    "at most %ld at %ld replicas", room / c->pool_per_pod, c->pool_per_pod,
		    room / c->replicas, c->replicas);
	else
		snprintf(buf, size, "what fits: at most %ld replicas at pool size %ld",
		    room / c->pool_per_pod, c->pool_per_pod);
}

/*
 * The connections left for this workload: the tightest of the limits it
 * takes a share of, recorded in v.
 */
static long
budget_room(const struct budget_limit *rows, struct verdict *v)
{
	long room = BUDGET_SATURATED, left;
	int k;

	for (k = 0; k < BUDGET_LIMIT_COUNT; k++) {
		if (!rows[k].applies || rows[k].share <= 0 || rows[k].limit == CONFIG_NO_LIMIT)
			continue;
		left = rows[k].limit - (rows[k].used - rows[k].share);
		if (left < room) {
			room = left;
			v->room_what = rows[k].what;
			v->room_name = rows[k].name;
			v->room_limit = rows[k].limit;
		}
	}
	v->room = room;
	return room;
}

void
budget_judge(const struct config *cfg, const long *role_usage,
    const struct budget_change *c, struct verdict *v)
{
	struct budget_limit rows[BUDGET_LIMIT_COUNT];
	const struct budget_limit *l;
	long after = c->replicas * c->pool_per_pod;
	int k, order, any_over = 0, denied = 0;
	char over[1000] = "", fit[300], one[300];

	verdict_init(v);
	v->pooler = -1;
	v->connections_after = after;
	v->connections_before = c->previous.role >= 0 ? c->previous.connections : 0;
	budget_limits(cfg, role_usage, c, after, rows);
	v->cluster_limit = rows[BUDGET_LIMIT_CLUSTER].limit;
	v->cluster_used = rows[BUDGET_LIMIT_CLUSTER].used;
	if (c->role < 0)
		return;
	budget_room(rows, v);
	v->role = c->role;
	v->role_limit = rows[BUDGET_LIMIT_ROLE].limit;
	v->role_used = rows[BUDGET_LIMIT_ROLE].used;
	if (rows[BUDGET_LIMIT_POOLER].applies) {
		v->pooler = cfg->roles[c->role].pooler.index;
		v->pooler_used = rows[BUDGET_LIMIT_POOLER].used;
		v->pooler_capacity = rows[BUDGET_LIMIT_POOLER].limit;
	}

	for (order = 0; order < BUDGET_LIMIT_COUNT; order++)
		for (k = 0; k < BUDGET_LIMIT_COUNT; k++) {
			l = &rows[k];
			if (l->over_order != order || !l->applies || l->limit == CONFIG_NO_LIMIT ||
			    l->used <= l->limit)
				continue;
			budget_describe_over(one, sizeof(one), l);
			snprintf(over + strlen(over), sizeof(over) - strlen(over), "%s%s",
			    over[0] ? "; " : "", one);
			snprintf(v->over, sizeof(v->over), "%s", over);
			any_over = 1;
			denied |= l->grows;
		}
	if (denied) {
		if (cfg->enforcement == ENFORCEMENT_WARN) {
			verdict_warn(v, "over budget, admitted because enforcement is warn: %s", over);
			return;
		}
		budget_describe_fit(fit, sizeof(fit), c, v->room);
		verdict_deny(v, "poolguard: %s %s/%s would hold %ld replicas x pool %ld = %ld "
		    "connections; %s; %s", c->kind, c->namespace, c->name, c->replicas,
		    c->pool_per_pod, after, over, fit);
		return;
	}
	if (any_over) {
		verdict_warn(v, "already over budget, this change adds no connections: %s", over);
		return;
	}
	for (k = 0; k < BUDGET_LIMIT_COUNT; k++) {
		l = &rows[k];
		if (l->applies && budget_in_warning_band(cfg, l->used, l->limit))
			verdict_warn(v, "%s '%s' at %ld of %ld %s (%ld%%), warning level %d%%", l->what,
			    l->name, l->used, l->limit, l->unit, budget_percent(l->used, l->limit),
			    cfg->warn_percent);
	}
}
