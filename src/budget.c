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
budget_cluster_used(const struct config *cfg, const long *role_usage)
{
	long used = cfg->reserved_connections;
	size_t r;

	for (r = 0; r < cfg->role_count; r++)
		used += budget_role_used(cfg, role_usage, r);
	return used;
}

long
budget_percent(long used, long limit)
{
	if (limit <= 0)
		return 0;
	return (used * 100 + limit / 2) / limit;
}

int
budget_in_warning_band(const struct config *cfg, long used, long limit)
{
	if (limit < 0)
		return 0;
	return used * 100 >= (long)cfg->warn_percent * limit;
}

/* "role 'app' would use 220 of 200 connections (110%), 20 over" into buf. */
static void
budget_describe_over(char *buf, size_t size, const char *what, const char *name, long used,
    long limit)
{
	snprintf(buf, size, "%s '%s' would use %ld of %ld connections (%ld%%), %ld over", what,
	    name, used, limit, budget_percent(used, limit), used - limit);
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

/* The connections left for this workload: the tightest of the limits that count it. */
static long
budget_room(const struct config *cfg, const struct budget_change *c, const struct verdict *v,
    long after)
{
	long room, limit = cfg->roles[c->role].connection_limit;

	if (v->pooler >= 0)
		return v->pooler_capacity - (v->pooler_used - after);
	room = cfg->max_connections - (v->cluster_used - after);
	if (limit != CONFIG_NO_LIMIT && limit - (v->role_used - after) < room)
		room = limit - (v->role_used - after);
	return room;
}

void
budget_judge(const struct config *cfg, const long *role_usage,
    const struct budget_change *c, struct verdict *v)
{
	const struct role *role;
	long after = c->replicas * c->pool_per_pod, role_prev, pooler_prev;
	int role_over, cluster_over, pooler_over, role_grows, cluster_grows, pooler_grows, pooled;
	char over[3][300] = {"", "", ""}, text[1000] = "", fit[300];
	size_t i;

	verdict_init(v);
	v->pooler = -1;
	v->connections_after = after;
	v->connections_before = c->previous.role >= 0 ? c->previous.connections : 0;
	v->cluster_limit = cfg->max_connections;
	v->cluster_used = budget_cluster_used(cfg, role_usage) -
	    budget_db_share(cfg, c->counted.role, c->counted.connections) +
	    budget_db_share(cfg, c->role, after);
	if (c->role < 0)
		return;
	role = &cfg->roles[c->role];
	pooled = role->pooler.index >= 0;
	v->role = c->role;
	v->role_limit = role->connection_limit;
	v->role_used = budget_role_used(cfg, role_usage, (size_t)c->role);
	if (!pooled)
		v->role_used += after - (c->counted.role == c->role ? c->counted.connections : 0);

	role_prev = c->previous.role == c->role ? c->previous.connections : 0;
	role_grows = !pooled && after > role_prev;
	cluster_grows = budget_db_share(cfg, c->role, after) >
	    budget_db_share(cfg, c->previous.role, c->previous.connections);
	role_over = v->role_limit != CONFIG_NO_LIMIT && v->role_used > v->role_limit;
	cluster_over = v->cluster_used > v->cluster_limit;
	pooler_over = pooler_grows = 0;
	if (pooled) {
		v->pooler = role->pooler.index;
		v->pooler_capacity = budget_pooler_capacity(cfg, (size_t)v->pooler);
		v->pooler_used = budget_pooler_used(cfg, role_usage, (size_t)v->pooler) + after -
		    (budget_behind(cfg, c->counted.role, v->pooler) ? c->counted.connections : 0);
		pooler_prev = budget_behind(cfg, c->previous.role, v->pooler) ?
		    c->previous.connections : 0;
		pooler_grows = after > pooler_prev;
		pooler_over = v->pooler_used > v->pooler_capacity;
	}
	if (role_over)
		budget_describe_over(over[0], sizeof(over[0]), "role", role->name, v->role_used,
		    v->role_limit);
	if (cluster_over)
		budget_describe_over(over[1], sizeof(over[1]), "cluster", cfg->cluster_name,
		    v->cluster_used, v->cluster_limit);
	if (pooler_over)
		snprintf(over[2], sizeof(over[2]), "pooler '%s' would take %ld of %ld client "
		    "connections (%ld%%), %ld over", cfg->poolers[v->pooler].name, v->pooler_used,
		    v->pooler_capacity, budget_percent(v->pooler_used, v->pooler_capacity),
		    v->pooler_used - v->pooler_capacity);
	for (i = 0; i < 3; i++)
		if (over[i][0])
			snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s",
			    text[0] ? "; " : "", over[i]);

	if ((role_over && role_grows) || (cluster_over && cluster_grows) ||
	    (pooler_over && pooler_grows)) {
		if (cfg->enforcement == ENFORCEMENT_WARN) {
			verdict_warn(v, "over budget, admitted because enforcement is warn: %s", text);
			return;
		}
		budget_describe_fit(fit, sizeof(fit), c, budget_room(cfg, c, v, after));
		verdict_deny(v, "poolguard: %s %s/%s would hold %ld replicas x pool %ld = %ld "
		    "connections; %s; %s", c->kind, c->namespace, c->name, c->replicas,
		    c->pool_per_pod, after, text, fit);
		return;
	}
	if (role_over || cluster_over || pooler_over) {
		verdict_warn(v, "already over budget, this change adds no connections: %s", text);
		return;
	}
	if (budget_in_warning_band(cfg, v->role_used, v->role_limit))
		verdict_warn(v, "role '%s' at %ld of %ld connections (%ld%%), warning level %d%%",
		    role->name, v->role_used, v->role_limit,
		    budget_percent(v->role_used, v->role_limit), cfg->warn_percent);
	if (pooled && budget_in_warning_band(cfg, v->pooler_used, v->pooler_capacity))
		verdict_warn(v, "pooler '%s' at %ld of %ld client connections (%ld%%), warning "
		    "level %d%%", cfg->poolers[v->pooler].name, v->pooler_used, v->pooler_capacity,
		    budget_percent(v->pooler_used, v->pooler_capacity), cfg->warn_percent);
	if (budget_in_warning_band(cfg, v->cluster_used, v->cluster_limit))
		verdict_warn(v, "cluster '%s' at %ld of %ld connections (%ld%%), warning level %d%%",
		    cfg->cluster_name, v->cluster_used, v->cluster_limit,
		    budget_percent(v->cluster_used, v->cluster_limit), cfg->warn_percent);
}
