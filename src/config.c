/*
 * config.c - budget.yaml to an immutable config snapshot, with validation.
 *
 * The YAML is loaded with libyaml's document API, which keeps the line of
 * every node, and walked against a fixed schema. Each error names the file,
 * the line and the key path, and an unknown key is an error, so a typo such
 * as "conectionLimit" is caught instead of silently falling back to a default.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "poolguard/config.h"
#include "poolguard/fileio.h"

#define CONFIG_INT_MAX 1000000000L
#define CONFIG_MAX_ITEMS 10000

struct config_parser {
	yaml_document_t *doc;
	const char *source;
	int line_offset;
	struct pg_error *err;
};

typedef int (*config_field_fn)(struct config_parser *, yaml_node_t *, const char *, void *);

struct config_field {
	const char *key;
	config_field_fn parse;
	size_t offset;		/* where the parsed value goes in the target struct */
	int required;
};

static yaml_node_t *config_mapping_get(yaml_document_t *, yaml_node_t *, const char *);
static int config_fail(struct config_parser *, yaml_node_t *, const char *, const char *, ...)
	__attribute__((format(printf, 4, 5)));

static int
config_fail(struct config_parser *p, yaml_node_t *node, const char *path, const char *fmt, ...)
{
	char what[PG_ERROR_MAX];
	va_list ap;
	int line = node ? (int)node->start_mark.line + 1 + p->line_offset : 0;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (line > 0)
		return pg_error_set(p->err, PG_ERR_INVALID, "%s:%d: %s: %s", p->source, line,
		    path[0] ? path : "(top level)", what);
	return pg_error_set(p->err, PG_ERR_INVALID, "%s: %s: %s", p->source,
	    path[0] ? path : "(top level)", what);
}

static const char *
config_node_type_name(yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "empty";
	}
}

static const char *
config_scalar(yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

/* A plain scalar that YAML reads as null: empty, "~", "null". */
static int
config_is_null(yaml_node_t *node)
{
	const char *s;

	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = config_scalar(node);
	return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* The edit distance of two short strings, for "did you mean" hints. */
static size_t
config_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, cur, tmp;
	size_t row[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = prev + ((a[i - 1] | 0x20) != (b[j - 1] | 0x20));
			if (row[j] + 1 < cur)
				cur = row[j] + 1;
			if (row[j - 1] + 1 < cur)
				cur = row[j - 1] + 1;
			tmp = row[j];
			row[j] = cur;
			prev = tmp;
		}
	}
	return row[lb];
}

static void
config_join(char *out, size_t size, const char *path, const char *key)
{
	snprintf(out, size, "%s%s%s", path, path[0] ? "." : "", key);
}

/*
 * Walks a mapping node against fields, calling each field's parser with the
 * target struct. Unknown and duplicate keys are errors; so is a missing
 * required key.
 */
static int
config_parse_mapping(struct config_parser *p, yaml_node_t *node, const char *path,
    const struct config_field *fields, size_t nfields, void *target)
{
	yaml_node_pair_t *pair;
	yaml_node_t *key, *value;
	unsigned char seen[32] = {0};
	char child[256];
	size_t i, best;
	int result;

	if (node->type != YAML_MAPPING_NODE)
		return config_fail(p, node, path, "must be a mapping, got %s",
		    config_node_type_name(node));
	for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
		key = yaml_document_get_node(p->doc, pair->key);
		value = yaml_document_get_node(p->doc, pair->value);
		if (key == NULL || value == NULL || key->type != YAML_SCALAR_NODE)
			return config_fail(p, key, path, "keys must be strings");
		for (i = 0; i < nfields; i++)
			if (strcmp(fields[i].key, config_scalar(key)) == 0)
				break;
		config_join(child, sizeof(child), path, config_scalar(key));
		if (i == nfields) {
			for (best = 0; best < nfields; best++)
				if (config_distance(fields[best].key, config_scalar(key)) <= 2)
					break;
			if (best < nfields)
				return config_fail(p, key, child,
				    "unknown key (did you mean '%s'?)", fields[best].key);
			return config_fail(p, key, child, "unknown key");
		}
		if (seen[i])
			return config_fail(p, key, child, "duplicate key");
		seen[i] = 1;
		if ((result = fields[i].parse(p, value, child, (char *)target + fields[i].offset)))
			return result;
	}
	for (i = 0; i < nfields; i++)
		if (fields[i].required && !seen[i]) {
			config_join(child, sizeof(child), path, fields[i].key);
			return config_fail(p, node, child, "required key is missing");
		}
	return PG_OK;
}

static int
config_parse_long(struct config_parser *p, yaml_node_t *node, const char *path, long min,
    long max, long *out)
{
	const char *s;
	char *end;
	long v;

	if (node->type != YAML_SCALAR_NODE)
		return config_fail(p, node, path, "must be an integer, got %s",
		    config_node_type_name(node));
	s = config_scalar(node);
	if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return config_fail(p, node, path, "must be an integer, got the string \"%.40s\"", s);
	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0)
		return config_fail(p, node, path, "must be an integer, got '%.40s'", s);
	if (v < min || v > max)
		return config_fail(p, node, path, "must be between %ld and %ld, got %ld", min, max, v);
	*out = v;
	return PG_OK;
}

static int
config_parse_string(struct config_parser *p, yaml_node_t *node, const char *path, char **out)
{
	if (node->type != YAML_SCALAR_NODE || config_is_null(node))
		return config_fail(p, node, path, "must be a string, got %s",
		    config_is_null(node) ? "null" : config_node_type_name(node));
	if (config_scalar(node)[0] == '\0')
		return config_fail(p, node, path, "must not be empty");
	free(*out);
	if ((*out = strdup(config_scalar(node))) == NULL)
		return pg_error_set(p->err, PG_ERR_NOMEM, "out of memory");
	return PG_OK;
}

/* A list of non-empty, distinct strings; dns_label also checks RFC 1123 label syntax. */
static int
config_parse_string_list(struct config_parser *p, yaml_node_t *node, const char *path,
    int dns_label, char ***out, size_t *count)
{
	yaml_node_item_t *item;
	yaml_node_t *child;
	char at[256];
	const char *s;
	size_t n, i, j;
	int result;

	if (node->type != YAML_SEQUENCE_NODE)
		return config_fail(p, node, path, "must be a list, got %s",
		    config_node_type_name(node));
	n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
	if (n > CONFIG_MAX_ITEMS)
		return config_fail(p, node, path, "more than %d items", CONFIG_MAX_ITEMS);
	if ((*out = calloc(n + 1, sizeof(char *))) == NULL)
		return pg_error_set(p->err, PG_ERR_NOMEM, "out of memory");
	*count = 0;
	for (i = 0, item = node->data.sequence.items.start; i < n; i++, item++) {
		child = yaml_document_get_node(p->doc, *item);
		snprintf(at, sizeof(at), "%s[%zu]", path, i);
		if ((result = config_parse_string(p, child, at, &(*out)[i])))
			return result;
		*count = i + 1;
		s = (*out)[i];
		if (dns_label) {
			for (j = 0; s[j]; j++)
				if (!((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= '0' && s[j] <= '9') ||
				    (s[j] == '-' && j > 0 && s[j + 1] != '\0')))
					break;
			if (s[j] != '\0' || j > 63)
				return config_fail(p, child, at,
				    "'%.63s' is not a valid namespace name", s);
		}
		for (j = 0; j < i; j++)
			if (strcmp((*out)[j], s) == 0)
				return config_fail(p, child, at, "'%.63s' is listed twice", s);
	}
	return PG_OK;
}

static int
config_field_cluster_name(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	return config_parse_string(p, n, path, dst);
}

static int
config_field_max_connections(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	return config_parse_long(p, n, path, 1, CONFIG_INT_MAX, dst);
}

static int
config_field_count(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	return config_parse_long(p, n, path, 0, CONFIG_INT_MAX, dst);
}

static int
config_field_connection_limit(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	return config_parse_long(p, n, path, CONFIG_NO_LIMIT, CONFIG_INT_MAX, dst);
}

static int
config_field_pool_size(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	return config_parse_long(p, n, path, 1, 100000, dst);
}

static int
config_field_warn_percent(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	long v;
	int result;

	if ((result = config_parse_long(p, n, path, 1, 100, &v)))
		return result;
	*(int *)dst = (int)v;
	return PG_OK;
}

static int
config_field_enforcement(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	enum enforcement *e = dst;

	if (n->type == YAML_SCALAR_NODE && strcmp(config_scalar(n), "deny") == 0)
		*e = ENFORCEMENT_DENY;
	else if (n->type == YAML_SCALAR_NODE && strcmp(config_scalar(n), "warn") == 0)
		*e = ENFORCEMENT_WARN;
	else
		return config_fail(p, n, path, "must be 'deny' or 'warn', got '%.40s'",
		    n->type == YAML_SCALAR_NODE ? config_scalar(n) : config_node_type_name(n));
	return PG_OK;
}

static int
config_field_bool(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (strcmp(config_scalar(n), "true") == 0 || strcmp(config_scalar(n), "false") == 0)) {
		*(int *)dst = config_scalar(n)[0] == 't';
		return PG_OK;
	}
	return config_fail(p, n, path, "must be true or false");
}

static int
config_field_unknown_pool(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	if (n->type == YAML_SCALAR_NODE && (strcmp(config_scalar(n), "warn") == 0 ||
	    strcmp(config_scalar(n), "deny") == 0)) {
		*(int *)dst = config_scalar(n)[0] == 'd';
		return PG_OK;
	}
	return config_fail(p, n, path, "must be 'warn' or 'deny'");
}

static int
config_field_reservation_unavailable(struct config_parser *p, yaml_node_t *n, const char *path,
    void *dst)
{
	if (n->type == YAML_SCALAR_NODE && (strcmp(config_scalar(n), "deny") == 0 ||
	    strcmp(config_scalar(n), "allow") == 0)) {
		*(int *)dst = config_scalar(n)[0] == 'a';
		return PG_OK;
	}
	return config_fail(p, n, path, "must be 'deny' or 'allow'");
}

static int
config_field_rollout_peak(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	static const char *const names[] = {
		[ROLLOUT_PEAK_WARN] = "warn",
		[ROLLOUT_PEAK_DENY] = "deny",
		[ROLLOUT_PEAK_IGNORE] = "ignore",
	};
	size_t i;

	for (i = 0; n->type == YAML_SCALAR_NODE && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(config_scalar(n), names[i]) == 0) {
			*(enum rollout_peak_policy *)dst = (enum rollout_peak_policy)i;
			return PG_OK;
		}
	return config_fail(p, n, path, "must be 'warn', 'deny' or 'ignore'");
}

static int
config_field_pool_variables(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	struct config *cfg = (struct config *)((char *)dst - offsetof(struct config,
	    pool_size_variables));
	int result;

	if ((result = config_parse_string_list(p, n, path, 0, dst, &cfg->pool_size_variable_count)))
		return result;
	if (cfg->pool_size_variable_count == 0)
		return config_fail(p, n, path, "must name at least one variable");
	return PG_OK;
}

static int
config_field_namespaces(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	struct role *role = (struct role *)((char *)dst - offsetof(struct role, namespaces));

	return config_parse_string_list(p, n, path, 1, dst, &role->namespace_count);
}

static int
config_field_match_labels(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	struct selector *sel = (struct selector *)((char *)dst -
	    offsetof(struct selector, match_labels));
	yaml_node_pair_t *pair;
	yaml_node_t *key, *value;
	char at[256];
	size_t count, i;
	int result;

	if (n->type != YAML_MAPPING_NODE)
		return config_fail(p, n, path, "must be a mapping of label to value, got %s",
		    config_node_type_name(n));
	count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (count > CONFIG_MAX_ITEMS)
		return config_fail(p, n, path, "more than %d labels", CONFIG_MAX_ITEMS);
	if ((sel->match_labels = calloc(count + 1, sizeof(struct label))) == NULL)
		return pg_error_set(p->err, PG_ERR_NOMEM, "out of memory");
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		key = yaml_document_get_node(p->doc, pair->key);
		value = yaml_document_get_node(p->doc, pair->value);
		if (key == NULL || value == NULL || key->type != YAML_SCALAR_NODE)
			return config_fail(p, key, path, "label keys must be strings");
		config_join(at, sizeof(at), path, config_scalar(key));
		for (i = 0; i < sel->match_label_count; i++)
			if (strcmp(sel->match_labels[i].key, config_scalar(key)) == 0)
				return config_fail(p, key, at, "duplicate label");
		if ((result = config_parse_string(p, key, at,
		    &sel->match_labels[sel->match_label_count].key)))
			return result;
		sel->match_label_count++;
		if (value->type != YAML_SCALAR_NODE || config_is_null(value))
			return config_fail(p, value, at, "label value must be a string");
		if ((sel->match_labels[sel->match_label_count - 1].value =
		    strdup(config_scalar(value))) == NULL)
			return pg_error_set(p->err, PG_ERR_NOMEM, "out of memory");
	}
	return PG_OK;
}

static int
config_field_operator(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	static const char *names[] = {"In", "NotIn", "Exists", "DoesNotExist"};
	size_t i;

	if (n->type == YAML_SCALAR_NODE)
		for (i = 0; i < 4; i++)
			if (strcmp(config_scalar(n), names[i]) == 0) {
				*(enum selector_op *)dst = (enum selector_op)i;
				return PG_OK;
			}
	return config_fail(p, n, path, "must be In, NotIn, Exists or DoesNotExist");
}

static int
config_field_requirement_key(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	return config_parse_string(p, n, path, dst);
}

static int
config_field_values(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	struct selector_requirement *req = (struct selector_requirement *)((char *)dst -
	    offsetof(struct selector_requirement, values));

	return config_parse_string_list(p, n, path, 0, dst, &req->value_count);
}

static const struct config_field config_requirement_fields[] = {
	{"key", config_field_requirement_key, offsetof(struct selector_requirement, key), 1},
	{"operator", config_field_operator, offsetof(struct selector_requirement, op), 1},
	{"values", config_field_values, offsetof(struct selector_requirement, values), 0},
};

static int
config_field_match_expressions(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	struct selector *sel = (struct selector *)((char *)dst -
	    offsetof(struct selector, requirements));
	struct selector_requirement *req;
	yaml_node_item_t *item;
	char at[256];
	size_t count;
	int result;

	if (n->type != YAML_SEQUENCE_NODE)
		return config_fail(p, n, path, "must be a list, got %s", config_node_type_name(n));
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (count > CONFIG_MAX_ITEMS)
		return config_fail(p, n, path, "more than %d expressions", CONFIG_MAX_ITEMS);
	if ((sel->requirements = calloc(count + 1, sizeof(*sel->requirements))) == NULL)
		return pg_error_set(p->err, PG_ERR_NOMEM, "out of memory");
	for (item = n->data.sequence.items.start; item < n->data.sequence.items.top; item++) {
		yaml_node_t *child = yaml_document_get_node(p->doc, *item);

		snprintf(at, sizeof(at), "%s[%zu]", path, sel->requirement_count);
		req = &sel->requirements[sel->requirement_count++];
		if ((result = config_parse_mapping(p, child, at, config_requirement_fields,
		    3, req)))
			return result;
		if ((req->op == SELECTOR_IN || req->op == SELECTOR_NOT_IN) && req->value_count == 0)
			return config_fail(p, child, at, "operator In and NotIn need values");
		if ((req->op == SELECTOR_EXISTS || req->op == SELECTOR_DOES_NOT_EXIST) &&
		    req->value_count > 0)
			return config_fail(p, child, at, "operator Exists and DoesNotExist take no values");
	}
	return PG_OK;
}

static const struct config_field config_selector_fields[] = {
	{"matchLabels", config_field_match_labels, offsetof(struct selector, match_labels), 0},
	{"matchExpressions", config_field_match_expressions,
	    offsetof(struct selector, requirements), 0},
};

static int
config_field_selector(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	struct role *role = (struct role *)((char *)dst - offsetof(struct role, selector));
	int result;

	if ((result = config_parse_mapping(p, n, path, config_selector_fields, 2, dst)))
		return result;
	if (role->selector.match_label_count == 0 && role->selector.requirement_count == 0)
		return config_fail(p, n, path, "an empty selector would match every workload; "
		    "leave it out instead");
	role->has_selector = 1;
	return PG_OK;
}

static int
config_field_pooler_name(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	return config_parse_string(p, n, path, dst);
}

static int
config_field_positive(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	return config_parse_long(p, n, path, 1, CONFIG_INT_MAX, dst);
}

static const struct config_field config_pooler_fields[] = {
	{"name", config_field_pooler_name, offsetof(struct role_pooler, name), 1},
	{"instances", config_field_positive, offsetof(struct role_pooler, instances), 1},
	{"maxClientConn", config_field_positive, offsetof(struct role_pooler, max_client_conn), 1},
	{"defaultPoolSize", config_field_positive,
	    offsetof(struct role_pooler, default_pool_size), 0},
	{"maxDbConnections", config_field_count,
	    offsetof(struct role_pooler, max_db_connections), 0},
};

static int
config_field_pooler(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	struct role_pooler *pooler = dst;

	pooler->default_pool_size = 20;		/* PgBouncer's default_pool_size */
	pooler->line = (int)n->start_mark.line + 1 + p->line_offset;
	return config_parse_mapping(p, n, path, config_pooler_fields, 5, pooler);
}

static int
config_field_role_name(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	return config_parse_string(p, n, path, dst);
}

static const struct config_field config_role_fields[] = {
	{"name", config_field_role_name, offsetof(struct role, name), 1},
	{"connectionLimit", config_field_connection_limit, offsetof(struct role, connection_limit), 1},
	{"namespaces", config_field_namespaces, offsetof(struct role, namespaces), 0},
	{"selector", config_field_selector, offsetof(struct role, selector), 0},
	{"externalConnections", config_field_count, offsetof(struct role, external_connections), 0},
	{"pooler", config_field_pooler, offsetof(struct role, pooler), 0},
};

/* Registers a role's pooler, which must agree with other roles behind the same name. */
static int
config_add_pooler(struct config_parser *p, struct config *cfg, struct role *role,
    yaml_node_t *node, const char *path)
{
	struct pooler *grown, *pl;
	char at[300];
	size_t i;

	snprintf(at, sizeof(at), "%s.pooler", path);
	for (i = 0; i < cfg->pooler_count; i++) {
		pl = &cfg->poolers[i];
		if (strcmp(pl->name, role->pooler.name) != 0)
			continue;
		if (pl->instances != role->pooler.instances ||
		    pl->max_client_conn != role->pooler.max_client_conn)
			return config_fail(p, node, at, "pooler '%.60s' is declared with other "
			    "instances or maxClientConn by another role; roles behind one pooler "
			    "must agree", pl->name);
		role->pooler.index = (int)i;
		return PG_OK;
	}
	if ((grown = realloc(cfg->poolers, (cfg->pooler_count + 1) * sizeof(*grown))) == NULL)
		return pg_error_set(p->err, PG_ERR_NOMEM, "out of memory");
	cfg->poolers = grown;
	pl = &cfg->poolers[cfg->pooler_count];
	if ((pl->name = strdup(role->pooler.name)) == NULL)
		return pg_error_set(p->err, PG_ERR_NOMEM, "out of memory");
	pl->instances = role->pooler.instances;
	pl->max_client_conn = role->pooler.max_client_conn;
	role->pooler.index = (int)cfg->pooler_count++;
	return PG_OK;
}

long
config_role_server_connections(const struct config *cfg, size_t r)
{
	const struct role_pooler *pl = &cfg->roles[r].pooler;
	long per = pl->default_pool_size;

	if (pl->index < 0)
		return 0;
	if (pl->max_db_connections > 0 && pl->max_db_connections < per)
		per = pl->max_db_connections;
	return pl->instances * per;
}

static int
config_field_roles(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	struct config *cfg = (struct config *)((char *)dst - offsetof(struct config, roles));
	yaml_node_item_t *item;
	yaml_node_t *child;
	struct role *role;
	char at[256];
	size_t count, i;
	int result;

	if (n->type != YAML_SEQUENCE_NODE)
		return config_fail(p, n, path, "must be a list, got %s", config_node_type_name(n));
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (count > CONFIG_MAX_ITEMS)
		return config_fail(p, n, path, "more than %d roles", CONFIG_MAX_ITEMS);
	if ((cfg->roles = calloc(count + 1, sizeof(struct role))) == NULL)
		return pg_error_set(p->err, PG_ERR_NOMEM, "out of memory");
	for (item = n->data.sequence.items.start; item < n->data.sequence.items.top; item++) {
		child = yaml_document_get_node(p->doc, *item);
		snprintf(at, sizeof(at), "%s[%zu]", path, cfg->role_count);
		role = &cfg->roles[cfg->role_count++];
		role->line = (int)child->start_mark.line + 1 + p->line_offset;
		role->pooler.index = -1;
		if ((result = config_parse_mapping(p, child, at, config_role_fields, 6, role)))
			return result;
		if (role->pooler.name && (result = config_add_pooler(p, cfg, role, child, at)))
			return result;
		for (i = 0; i + 1 < cfg->role_count; i++)
			if (strcmp(cfg->roles[i].name, role->name) == 0)
				return config_fail(p, child, at, "role '%.63s' is listed twice "
				    "(first at line %d)", role->name, cfg->roles[i].line);
	}
	return PG_OK;
}

static const struct config_field config_cluster_fields[] = {
	{"name", config_field_cluster_name, offsetof(struct config, cluster_name), 0},
	{"maxConnections", config_field_max_connections, offsetof(struct config, max_connections), 1},
	{"reservedConnections", config_field_count,
	    offsetof(struct config, reserved_connections), 0},
};

static int
config_field_cluster(struct config_parser *p, yaml_node_t *n, const char *path, void *dst)
{
	struct config *cfg = dst;

	int result;

	if ((result = config_parse_mapping(p, n, path, config_cluster_fields, 3, cfg)))
		return result;
	if (cfg->reserved_connections >= cfg->max_connections)
		return config_fail(p, config_mapping_get(p->doc, n, "reservedConnections"),
		    "cluster.reservedConnections", "%ld reserved leaves no "
		    "connection of maxConnections %ld for applications",
		    cfg->reserved_connections, cfg->max_connections);
	return PG_OK;
}

static const struct config_field config_top_fields[] = {
	{"cluster", config_field_cluster, 0, 1},
	{"warnPercent", config_field_warn_percent, offsetof(struct config, warn_percent), 0},
	{"enforcement", config_field_enforcement, offsetof(struct config, enforcement), 0},
	{"defaultPoolSize", config_field_pool_size, offsetof(struct config, default_pool_size), 0},
	{"poolSizeVariables", config_field_pool_variables,
	    offsetof(struct config, pool_size_variables), 0},
	{"roles", config_field_roles, offsetof(struct config, roles), 1},
	{"countHpaMaxReplicas", config_field_bool, offsetof(struct config, count_hpa_max_replicas), 0},
	{"unknownPoolSize", config_field_unknown_pool, offsetof(struct config, unknown_pool_deny), 0},
	{"rolloutPeak", config_field_rollout_peak, offsetof(struct config, rollout_peak), 0},
	{"reservationUnavailable", config_field_reservation_unavailable,
	    offsetof(struct config, reservation_unavailable_allow), 0},
};

static int
config_set_defaults(struct config *cfg, const char *source)
{
	cfg->warn_percent = 80;
	cfg->enforcement = ENFORCEMENT_DENY;
	cfg->default_pool_size = 10;
	cfg->count_hpa_max_replicas = 1;
	if ((cfg->source = strdup(source)) == NULL)
		return PG_ERR_NOMEM;
	if ((cfg->cluster_name = strdup("postgres")) == NULL)
		return PG_ERR_NOMEM;
	return PG_OK;
}

/* HikariCP's maximumPoolSize as Spring Boot's relaxed binding spells it in the environment. */
static int
config_default_variables(struct config *cfg)
{
	static const char *variables[] = {
		"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE",
		"SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE",
	};
	size_t i;

	if ((cfg->pool_size_variables = calloc(3, sizeof(char *))) == NULL)
		return PG_ERR_NOMEM;
	for (i = 0; i < 2; i++)
		if ((cfg->pool_size_variables[i] = strdup(variables[i])) == NULL)
			return PG_ERR_NOMEM;
	cfg->pool_size_variable_count = 2;
	return PG_OK;
}

static void
config_free_strings(char **list, size_t count)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < count || list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

static void
config_selector_release(struct selector *sel)
{
	size_t i;

	for (i = 0; sel->match_labels && (i < sel->match_label_count ||
	    sel->match_labels[i].key); i++) {
		free(sel->match_labels[i].key);
		free(sel->match_labels[i].value);
	}
	free(sel->match_labels);
	for (i = 0; sel->requirements && i < sel->requirement_count; i++) {
		free(sel->requirements[i].key);
		config_free_strings(sel->requirements[i].values, sel->requirements[i].value_count);
	}
	free(sel->requirements);
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->pooler_count; i++)
		free(cfg->poolers[i].name);
	free(cfg->poolers);
	for (i = 0; i < cfg->role_count; i++) {
		free(cfg->roles[i].pooler.name);
		free(cfg->roles[i].name);
		config_free_strings(cfg->roles[i].namespaces, cfg->roles[i].namespace_count);
		config_selector_release(&cfg->roles[i].selector);
	}
	free(cfg->roles);
	config_free_strings(cfg->pool_size_variables, cfg->pool_size_variable_count);
	free(cfg->cluster_name);
	free(cfg->source);
	free(cfg);
}

static yaml_node_t *
config_mapping_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pair;
	yaml_node_t *k;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(doc, pair->key);
		if (k && k->type == YAML_SCALAR_NODE && strcmp(config_scalar(k), key) == 0)
			return yaml_document_get_node(doc, pair->value);
	}
	return NULL;
}

static int config_parse_text(const char *, size_t, const char *, int, int, struct config **,
    struct pg_error *);

/*
 * Parses the budget held in a ConfigMap manifest under data["budget.yaml"].
 * That budget may not be a ConfigMap again: one wrapper is what a mounted or
 * applied ConfigMap gives, and unwrapping without end let a 0.9 MB file of
 * 390 ConfigMaps, each inside the last, hold 390 YAML documents (200 MB) at
 * once.
 */
static int
config_parse_configmap(struct config_parser *p, yaml_node_t *root, struct config **out)
{
	yaml_node_t *data, *value;
	int offset;

	data = config_mapping_get(p->doc, root, "data");
	value = config_mapping_get(p->doc, data, CONFIG_CONFIGMAP_KEY);
	if (value == NULL || value->type != YAML_SCALAR_NODE)
		return config_fail(p, data ? data : root, "data",
		    "the ConfigMap has no key '" CONFIG_CONFIGMAP_KEY "'");
	/* Block scalars start on the line after the key. */
	offset = (int)value->start_mark.line + p->line_offset;
	if (value->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
	    value->data.scalar.style == YAML_FOLDED_SCALAR_STYLE)
		offset++;
	else
		offset = 0;
	return config_parse_text(config_scalar(value), value->data.scalar.length, p->source, offset,
	    1, out, p->err);
}

/* 1 if a document is empty: no node, or an empty plain scalar (a "---" with nothing after). */
static int
config_document_empty(yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);

	return root == NULL || (root->type == YAML_SCALAR_NODE &&
	    root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && root->data.scalar.length == 0);
}

/*
 * Refuses a document after the budget's: one file is one budget, and a
 * second document (two budgets pasted together, or a ConfigMap followed by
 * other objects) was silently ignored before. Empty documents, as a
 * trailing "---" gives, are fine.
 */
static int
config_refuse_more_documents(yaml_parser_t *parser, const char *source, int line_offset,
    struct pg_error *err)
{
	yaml_document_t doc;
	size_t line;
	int empty;

	for (;;) {
		if (!yaml_parser_load(parser, &doc))
			return pg_error_set(err, PG_ERR_PARSE, "%s:%zu: invalid YAML: %s", source,
			    parser->problem_mark.line + 1 + (size_t)line_offset,
			    parser->problem ? parser->problem : "unknown error");
		if (yaml_document_get_root_node(&doc) == NULL) {
			yaml_document_delete(&doc);
			return PG_OK;
		}
		empty = config_document_empty(&doc);
		line = doc.start_mark.line + 1 + (size_t)line_offset;
		yaml_document_delete(&doc);
		if (!empty)
			return pg_error_set(err, PG_ERR_INVALID, "%s:%zu: a second YAML document; the "
			    "budget is one document (a ConfigMap, or budget.yaml alone)", source, line);
	}
}

/* config_parse(), inside a ConfigMap when nested is set. */
static int
config_parse_text(const char *text, size_t len, const char *source, int line_offset, int nested,
    struct config **out, struct pg_error *err)
{
	struct config_parser p = {NULL, source, line_offset, err};
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *kind;
	struct config *cfg = NULL;
	int result;

	*out = NULL;
	if (len > CONFIG_MAX_BYTES)
		return pg_error_set(err, PG_ERR_TOOBIG, "%s: larger than %d bytes", source,
		    CONFIG_MAX_BYTES);
	if (!yaml_parser_initialize(&parser))
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		result = pg_error_set(err, PG_ERR_PARSE, "%s:%zu: invalid YAML: %s", source,
		    parser.problem_mark.line + 1 + (size_t)line_offset,
		    parser.problem ? parser.problem : "unknown error");
		yaml_parser_delete(&parser);
		return result;
	}
	p.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		result = pg_error_set(err, PG_ERR_INVALID, "%s: the budget is empty", source);
		goto out;
	}
	if ((result = config_refuse_more_documents(&parser, source, line_offset, err)))
		goto out;
	kind = config_mapping_get(&doc, root, "kind");
	if (kind && kind->type == YAML_SCALAR_NODE && strcmp(config_scalar(kind), "ConfigMap") == 0) {
		if (nested)
			result = config_fail(&p, kind, "data." CONFIG_CONFIGMAP_KEY, "is a ConfigMap "
			    "again; a budget ConfigMap is unwrapped once, its key '"
			    CONFIG_CONFIGMAP_KEY "' holds the budget itself");
		else
			result = config_parse_configmap(&p, root, out);
		goto out;
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL || config_set_defaults(cfg, source)) {
		result = pg_error_set(err, PG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((result = config_parse_mapping(&p, root, "", config_top_fields,
	    sizeof(config_top_fields) / sizeof(config_top_fields[0]), cfg)))
		goto out;
	if (cfg->pool_size_variables == NULL && config_default_variables(cfg)) {
		result = pg_error_set(err, PG_ERR_NOMEM, "out of memory");
		goto out;
	}
	*out = cfg;
	cfg = NULL;
out:
	config_free(cfg);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return result;
}

int
config_parse(const char *text, size_t len, const char *source, int line_offset,
    struct config **out, struct pg_error *err)
{
	return config_parse_text(text, len, source, line_offset, 0, out, err);
}

int
config_load(const char *path, struct config **out, struct pg_error *err)
{
	char file[4096];
	char *text;
	size_t len;
	int result;

	*out = NULL;
	if (fileio_is_dir(path)) {
		snprintf(file, sizeof(file), "%s/%s", path, CONFIG_CONFIGMAP_KEY);
		path = file;
	}
	if ((result = fileio_read(path, CONFIG_MAX_BYTES, &text, &len, err)))
		return result;
	result = config_parse(text, len, path, 0, out, err);
	free(text);
	return result;
}
