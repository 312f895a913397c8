/*
 * dbcmd.c - `poolguard db`: the budget against what the database (and
 * PgBouncer) actually say, and the connections open now beside what the
 * budget predicts; or, with --write-budget, a budget.yaml read from the database.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "poolguard/budget.h"
#include "poolguard/config.h"
#include "poolguard/db.h"
#include "poolguard/inventory.h"
#include "poolguard/manifest.h"

#define DBCMD_EXIT_DRIFT 1
#define DBCMD_EXIT_ERROR 2
#define DBCMD_MAX_INVENTORY 256

static const char dbcmd_usage[] =
    "usage: poolguard db --config PATH [--conninfo STR] [--pgbouncer STR [--pooler NAME]]\n"
    "                    [--inventory PATH]... [--namespace NS] [-o text|json]\n"
    "                    [--connect-timeout SECONDS]\n"
    "       poolguard db --write-budget [--conninfo STR] [--pgbouncer STR]\n"
    "\n"
    "Compares the budget with the database: cluster.maxConnections with max_connections,\n"
    "cluster.reservedConnections with superuser_reserved_connections (+ reserved_connections\n"
    "from PostgreSQL 16), each role's connectionLimit with its CONNECTION LIMIT, and with\n"
    "--pgbouncer (a conninfo for the admin console: dbname=pgbouncer, a user in admin_users or\n"
    "stats_users) each pooler block with PgBouncer's SHOW CONFIG. Shows the connections each\n"
    "role holds now beside the budget's prediction (its workloads come from --inventory).\n"
    "--conninfo is a libpq connection string or URI; empty (the default) uses the PG*\n"
    "environment variables. Passwords come from PGPASSWORD, PGPASSFILE or ~/.pgpass, never\n"
    "from the command line. --write-budget prints a budget.yaml read from the database.\n"
    "Exit status: 0 no drift, 1 drift, 2 error.\n";

struct dbcmd_options {
	const char *config_path;
	const char *conninfo;
	const char *pgbouncer;
	const char *pooler;
	const char *namespace;
	const char *inventory[DBCMD_MAX_INVENTORY];
	int inventory_count;
	int json;
	int write_budget;
	int connect_timeout;
};

/* What was read and compared, for the printers. */
struct dbcmd_state {
	const struct dbcmd_options *opts;
	struct config *cfg;
	struct inventory *inv;
	const long *usage;		/* per role, from the inventory or all zero */
	long *zero_usage;
	struct db *db;
	struct db *console;
	struct db_settings settings;
	struct db_roles roles;
	struct db_pgbouncer pgb;
	struct db_report report;
};

enum {
	DBCMD_OPT_CONFIG = 256,
	DBCMD_OPT_CONNINFO,
	DBCMD_OPT_PGBOUNCER,
	DBCMD_OPT_POOLER,
	DBCMD_OPT_INVENTORY,
	DBCMD_OPT_NAMESPACE,
	DBCMD_OPT_WRITE_BUDGET,
	DBCMD_OPT_TIMEOUT,
	DBCMD_OPT_HELP
};

static const struct option dbcmd_long_options[] = {
	{"config", required_argument, NULL, DBCMD_OPT_CONFIG},
	{"conninfo", required_argument, NULL, DBCMD_OPT_CONNINFO},
	{"pgbouncer", required_argument, NULL, DBCMD_OPT_PGBOUNCER},
	{"pooler", required_argument, NULL, DBCMD_OPT_POOLER},
	{"inventory", required_argument, NULL, DBCMD_OPT_INVENTORY},
	{"namespace", required_argument, NULL, DBCMD_OPT_NAMESPACE},
	{"output", required_argument, NULL, 'o'},
	{"write-budget", no_argument, NULL, DBCMD_OPT_WRITE_BUDGET},
	{"connect-timeout", required_argument, NULL, DBCMD_OPT_TIMEOUT},
	{"help", no_argument, NULL, DBCMD_OPT_HELP},
	{NULL, 0, NULL, 0},
};

static int
dbcmd_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "poolguard db: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n\n%s", dbcmd_usage);
	return DBCMD_EXIT_ERROR;
}

/* Parses argv into o; returns -1 after printing help, 0 to go on, or an exit status. */
static int
dbcmd_parse(int argc, char **argv, struct dbcmd_options *o)
{
	char *end;
	long n;
	int c;

	memset(o, 0, sizeof(*o));
	o->conninfo = "";
	o->namespace = "default";
	o->connect_timeout = DB_DEFAULT_CONNECT_TIMEOUT;
	optind = 0;	/* GNU getopt: start afresh, whatever ran before */
	while ((c = getopt_long(argc, argv, "o:", dbcmd_long_options, NULL)) != -1) {
		switch (c) {
		case DBCMD_OPT_CONFIG:
			o->config_path = optarg;
			break;
		case DBCMD_OPT_CONNINFO:
			o->conninfo = optarg;
			break;
		case DBCMD_OPT_PGBOUNCER:
			o->pgbouncer = optarg;
			break;
		case DBCMD_OPT_POOLER:
			o->pooler = optarg;
			break;
		case DBCMD_OPT_INVENTORY:
			if (o->inventory_count == DBCMD_MAX_INVENTORY)
				return dbcmd_usage_error("too many --inventory paths (at most "
				    "256)%s", "");
			o->inventory[o->inventory_count++] = optarg;
			break;
		case DBCMD_OPT_NAMESPACE:
			o->namespace = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "json") == 0)
				o->json = 1;
			else if (strcmp(optarg, "text") != 0)
				return dbcmd_usage_error("-o '%s': expected text or json", optarg);
			break;
		case DBCMD_OPT_WRITE_BUDGET:
			o->write_budget = 1;
			break;
		case DBCMD_OPT_TIMEOUT:
			n = strtol(optarg, &end, 10);
			if (*end != '\0' || end == optarg || n < 1 || n > 3600)
				return dbcmd_usage_error("--connect-timeout '%s': expected 1 to "
				    "3600 seconds", optarg);
			o->connect_timeout = (int)n;
			break;
		case DBCMD_OPT_HELP:
			fputs(dbcmd_usage, stdout);
			return -1;
		default:
			return dbcmd_usage_error("%s", "unknown option");
		}
	}
	if (optind < argc)
		return dbcmd_usage_error("unexpected argument '%s'", argv[optind]);
	if (o->write_budget) {
		if (o->config_path || o->inventory_count > 0 || o->json)
			return dbcmd_usage_error("%s", "--write-budget reads the database only; it "
			    "takes no --config, --inventory or -o");
	} else if (o->config_path == NULL)
		return dbcmd_usage_error("%s", "--config is required");
	if (o->pooler && o->pgbouncer == NULL)
		return dbcmd_usage_error("%s", "--pooler names the pooler --pgbouncer reaches; "
		    "give --pgbouncer too");
	return 0;
}

/* Loads the budget and the inventory the prediction counts; prints the error. */
static int
dbcmd_load(struct dbcmd_state *st)
{
	const struct dbcmd_options *o = st->opts;
	struct manifest_set set;
	struct pg_error err;
	size_t i;
	int k;

	if (config_load(o->config_path, &st->cfg, &err)) {
		fprintf(stderr, "poolguard: %s\n", err.msg);
		return DBCMD_EXIT_ERROR;
	}
	if (o->pgbouncer && o->pooler == NULL && st->cfg->pooler_count > 1)
		return dbcmd_usage_error("%s", "the budget has several poolers: name the one "
		    "--pgbouncer reaches with --pooler NAME");
	if (o->pooler) {
		for (i = 0; i < st->cfg->pooler_count; i++)
			if (strcmp(st->cfg->poolers[i].name, o->pooler) == 0)
				break;
		if (i == st->cfg->pooler_count)
			return dbcmd_usage_error("--pooler '%s': no role of the budget has a "
			    "pooler of that name", o->pooler);
	}
	if ((st->zero_usage = calloc(st->cfg->role_count + 1, sizeof(long))) == NULL) {
		fprintf(stderr, "poolguard: out of memory\n");
		return DBCMD_EXIT_ERROR;
	}
	st->usage = st->zero_usage;
	if (o->inventory_count == 0)
		return 0;
	if ((st->inv = inventory_new(st->cfg)) == NULL) {
		fprintf(stderr, "poolguard: out of memory\n");
		return DBCMD_EXIT_ERROR;
	}
	manifest_set_init(&set);
	for (k = 0; k < o->inventory_count; k++)
		if (manifest_load(&set, o->inventory[k], &err))
			goto fail;
	if (inventory_add_manifests(st->inv, &set, o->namespace, &err))
		goto fail;
	manifest_set_release(&set);
	st->usage = inventory_role_usage(st->inv);
	return 0;
fail:
	fprintf(stderr, "poolguard: %s\n", err.msg);
	manifest_set_release(&set);
	return DBCMD_EXIT_ERROR;
}

/* Connects and reads the database and PgBouncer; prints the error. */
static int
dbcmd_read(struct dbcmd_state *st)
{
	const struct dbcmd_options *o = st->opts;
	struct pg_error err;

	if (db_conninfo_check(o->conninfo, &err)) {
		fprintf(stderr, "poolguard: --conninfo: %s\n", err.msg);
		return DBCMD_EXIT_ERROR;
	}
	if (o->pgbouncer && db_conninfo_check(o->pgbouncer, &err)) {
		fprintf(stderr, "poolguard: --pgbouncer: %s\n", err.msg);
		return DBCMD_EXIT_ERROR;
	}
	if (db_connect(o->conninfo, o->connect_timeout, &st->db, &err) ||
	    db_read_settings(st->db, &st->settings, &err) ||
	    db_read_roles(st->db, &st->roles, &err)) {
		fprintf(stderr, "poolguard: %s\n", err.msg);
		return DBCMD_EXIT_ERROR;
	}
	if (o->pgbouncer == NULL)
		return 0;
	if (db_connect(o->pgbouncer, o->connect_timeout, &st->console, &err) ||
	    db_read_pgbouncer(st->console, &st->pgb, &err)) {
		fprintf(stderr, "poolguard: PgBouncer admin console: %s\n", err.msg);
		return DBCMD_EXIT_ERROR;
	}
	return 0;
}

/* A limit for people: "none" for -1. */
static const char *
dbcmd_limit(char *buf, size_t size, long limit)
{
	if (limit == CONFIG_NO_LIMIT)
		return "none";
	snprintf(buf, size, "%ld", limit);
	return buf;
}

/* "role 'app': connectionLimit is 20 in the budget, rolconnlimit is 15 in the database". */
static void
dbcmd_describe(const struct db_item *item, char *buf, size_t size)
{
	const char *key = item->field, *where;
	char b[32], d[32];

	if (item->role && strncmp(key, "roles[", 6) == 0 && (key = strchr(key, '.')) != NULL)
		key++;
	else
		key = item->field;
	if (item->missing) {
		snprintf(buf, size, "role '%s' is in the budget (%.*s) but not in the database",
		    item->role, (int)(strchr(item->field, '.') - item->field), item->field);
		return;
	}
	where = strstr(item->field, ".pooler.") ? "PgBouncer" : "the database";
	snprintf(buf, size, "%s%s%s%s is %s in the budget, %s is %s in %s",
	    item->role ? "role '" : "", item->role ? item->role : "", item->role ? "': " : "",
	    key, dbcmd_limit(b, sizeof(b), item->budget), item->source,
	    dbcmd_limit(d, sizeof(d), item->database), where);
}

static void
dbcmd_print_items(const struct dbcmd_state *st, FILE *out)
{
	const struct db_report *rep = &st->report;
	int fw = 4, rw = 4, sw = 4, n;
	char b[32], d[32];
	size_t i;

	for (i = 0; i < rep->count; i++) {
		if ((n = (int)strlen(rep->items[i].field)) > fw)
			fw = n;
		if (rep->items[i].role && (n = (int)strlen(rep->items[i].role)) > rw)
			rw = n;
		if ((n = (int)strlen(rep->items[i].source)) > sw)
			sw = n;
	}
	fprintf(out, "%-*s  %-*s  %8s  %8s  %s\n", fw, "ITEM", rw, "ROLE", "BUDGET", "DATABASE",
	    "FROM");
	for (i = 0; i < rep->count; i++) {
		const struct db_item *it = &rep->items[i];

		fprintf(out, "%-*s  %-*s  %8s  %8s  %-*s%s\n", fw, it->field, rw,
		    it->role ? it->role : "-", dbcmd_limit(b, sizeof(b), it->budget),
		    it->missing ? "missing" : dbcmd_limit(d, sizeof(d), it->database),
		    it->drift ? sw : 0, it->source, it->drift ? "  DRIFT" : "");
	}
}

static void
dbcmd_print_live_row(FILE *out, int rw, const char *name, long live, const char *predicted,
    const char *limit, const char *note)
{
	fprintf(out, "%-*s  %6ld  %9s  %6s%s%s\n", rw, name, live, predicted, limit,
	    note[0] ? "  " : "", note);
}

/* Live connections per role beside the budget's prediction. */
static void
dbcmd_print_live(const struct dbcmd_state *st, FILE *out)
{
	const struct config *cfg = st->cfg;
	const struct db_role *role;
	char p[32], l[32];
	int rw = 7, n;
	size_t r, i;

	for (r = 0; r < cfg->role_count; r++)
		if ((n = (int)strlen(cfg->roles[r].name)) > rw)
			rw = n;
	for (i = 0; i < st->roles.count; i++)
		if (st->roles.items[i].live > 0 && (n = (int)strlen(st->roles.items[i].name)) > rw)
			rw = n;
	fprintf(out, "\n%-*s  %6s  %9s  %6s\n", rw, "ROLE", "LIVE", "PREDICTED", "LIMIT");
	for (r = 0; r < cfg->role_count; r++) {
		role = db_roles_find(&st->roles, cfg->roles[r].name);
		snprintf(p, sizeof(p), "%ld", budget_role_used(cfg, st->usage, r));
		dbcmd_print_live_row(out, rw, cfg->roles[r].name, role ? role->live : 0, p,
		    role ? dbcmd_limit(l, sizeof(l), role->connection_limit) : "missing",
		    role && role->live > budget_role_used(cfg, st->usage, r) ?
		    "more than predicted" : "");
	}
	for (i = 0; i < st->roles.count; i++) {
		role = &st->roles.items[i];
		for (r = 0; r < cfg->role_count; r++)
			if (strcmp(cfg->roles[r].name, role->name) == 0)
				break;
		if (r == cfg->role_count && role->live > 0)
			dbcmd_print_live_row(out, rw, role->name, role->live, "-",
			    dbcmd_limit(l, sizeof(l), role->connection_limit), "not in the budget");
	}
	snprintf(p, sizeof(p), "%ld", budget_cluster_used(cfg, st->usage));
	snprintf(l, sizeof(l), "%ld", st->settings.max_connections);
	dbcmd_print_live_row(out, rw, "CLUSTER", st->roles.live_total, p, l,
	    "predicted includes the reserved connections");
	if (st->opts->inventory_count == 0)
		fprintf(out, "(no --inventory: PREDICTED counts externalConnections and pooler "
		    "server connections only)\n");
	else
		fprintf(out, "(PREDICTED: the --inventory workloads' replicas x pool, plus "
		    "externalConnections; a pooled role counts its poolers' server connections)\n");
	fprintf(out, "(LIVE: client backends in pg_stat_activity now, this session left out)\n");
}

static void
dbcmd_print_text(const struct dbcmd_state *st, FILE *out)
{
	const struct db_report *rep = &st->report;
	char line[VERDICT_MESSAGE_MAX];
	size_t i;

	fprintf(out, "budget %s against PostgreSQL %s at %s:%s", st->cfg->source,
	    st->settings.server_version, db_host(st->db), db_port(st->db));
	if (st->console)
		fprintf(out, ", PgBouncer at %s:%s (pool_mode %s)", db_host(st->console),
		    db_port(st->console), st->pgb.pool_mode);
	fputs("\n\n", out);
	dbcmd_print_items(st, out);
	dbcmd_print_live(st, out);
	fputc('\n', out);
	for (i = 0; i < rep->count; i++)
		if (rep->items[i].drift) {
			dbcmd_describe(&rep->items[i], line, sizeof(line));
			fprintf(out, "DRIFT  %s\n", line);
		}
	for (i = 0; i < rep->note_count; i++)
		fprintf(out, "NOTE   %s\n", rep->notes[i]);
	if (st->roles.live_hidden > 0)
		fprintf(out, "NOTE   %ld sessions of other users were counted as clients: this "
		    "user cannot see their type (grant it pg_monitor)\n", st->roles.live_hidden);
	fprintf(out, "%zu items compared: %zu drift\n", rep->count, rep->drift_count);
}

static void
dbcmd_json_limit(cJSON *to, const char *key, long limit)
{
	if (limit == CONFIG_NO_LIMIT)
		cJSON_AddNullToObject(to, key);
	else
		cJSON_AddNumberToObject(to, key, (double)limit);
}

static cJSON *
dbcmd_json_sources(const struct dbcmd_state *st)
{
	cJSON *root = cJSON_CreateObject(), *o;

	cJSON_AddStringToObject(root, "budget", st->cfg->source);
	o = cJSON_AddObjectToObject(root, "database");
	cJSON_AddStringToObject(o, "host", db_host(st->db));
	cJSON_AddStringToObject(o, "port", db_port(st->db));
	cJSON_AddStringToObject(o, "version", st->settings.server_version);
	cJSON_AddNumberToObject(o, "maxConnections", (double)st->settings.max_connections);
	cJSON_AddNumberToObject(o, "superuserReservedConnections",
	    (double)st->settings.superuser_reserved_connections);
	if (st->settings.has_reserved_connections)
		cJSON_AddNumberToObject(o, "reservedConnections",
		    (double)st->settings.reserved_connections);
	else
		cJSON_AddNullToObject(o, "reservedConnections");
	if (st->console == NULL) {
		cJSON_AddNullToObject(root, "pgbouncer");
		return root;
	}
	o = cJSON_AddObjectToObject(root, "pgbouncer");
	cJSON_AddStringToObject(o, "host", db_host(st->console));
	cJSON_AddStringToObject(o, "port", db_port(st->console));
	cJSON_AddNumberToObject(o, "maxClientConn", (double)st->pgb.max_client_conn);
	cJSON_AddNumberToObject(o, "defaultPoolSize", (double)st->pgb.default_pool_size);
	cJSON_AddNumberToObject(o, "maxDbConnections", (double)st->pgb.max_db_connections);
	cJSON_AddStringToObject(o, "poolMode", st->pgb.pool_mode);
	return root;
}

static void
dbcmd_json_items(const struct dbcmd_state *st, cJSON *root)
{
	cJSON *items = cJSON_AddArrayToObject(root, "items");
	cJSON *drift = cJSON_AddArrayToObject(root, "drift");
	char line[VERDICT_MESSAGE_MAX];
	cJSON *o;
	size_t i;

	for (i = 0; i < st->report.count; i++) {
		const struct db_item *it = &st->report.items[i];

		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "field", it->field);
		if (it->role)
			cJSON_AddStringToObject(o, "role", it->role);
		else
			cJSON_AddNullToObject(o, "role");
		cJSON_AddStringToObject(o, "source", it->source);
		cJSON_AddNumberToObject(o, "budget", (double)it->budget);
		if (it->missing)
			cJSON_AddNullToObject(o, "database");
		else
			cJSON_AddNumberToObject(o, "database", (double)it->database);
		cJSON_AddBoolToObject(o, "missing", it->missing);
		cJSON_AddBoolToObject(o, "drift", it->drift);
		if (it->drift) {
			dbcmd_describe(it, line, sizeof(line));
			cJSON_AddStringToObject(o, "message", line);
			cJSON_AddItemToArray(drift, cJSON_Duplicate(o, 1));
		}
		cJSON_AddItemToArray(items, o);
	}
}

static void
dbcmd_json_live(const struct dbcmd_state *st, cJSON *root)
{
	const struct config *cfg = st->cfg;
	cJSON *live = cJSON_AddObjectToObject(root, "live"), *roles, *o;
	const struct db_role *role;
	size_t r, i;

	roles = cJSON_AddArrayToObject(live, "roles");
	for (r = 0; r < cfg->role_count; r++) {
		role = db_roles_find(&st->roles, cfg->roles[r].name);
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", cfg->roles[r].name);
		cJSON_AddBoolToObject(o, "inBudget", 1);
		cJSON_AddNumberToObject(o, "live", role ? (double)role->live : 0);
		cJSON_AddNumberToObject(o, "predicted",
		    (double)budget_role_used(cfg, st->usage, r));
		if (role)
			dbcmd_json_limit(o, "limit", role->connection_limit);
		else
			cJSON_AddNullToObject(o, "limit");
		cJSON_AddItemToArray(roles, o);
	}
	for (i = 0; i < st->roles.count; i++) {
		role = &st->roles.items[i];
		for (r = 0; r < cfg->role_count; r++)
			if (strcmp(cfg->roles[r].name, role->name) == 0)
				break;
		if (r < cfg->role_count || role->live == 0)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", role->name);
		cJSON_AddBoolToObject(o, "inBudget", 0);
		cJSON_AddNumberToObject(o, "live", (double)role->live);
		cJSON_AddNullToObject(o, "predicted");
		dbcmd_json_limit(o, "limit", role->connection_limit);
		cJSON_AddItemToArray(roles, o);
	}
	cJSON_AddNumberToObject(live, "total", (double)st->roles.live_total);
	cJSON_AddNumberToObject(live, "predicted", (double)budget_cluster_used(cfg, st->usage));
	cJSON_AddNumberToObject(live, "maxConnections", (double)st->settings.max_connections);
	cJSON_AddNumberToObject(live, "hiddenSessions", (double)st->roles.live_hidden);
	cJSON_AddBoolToObject(live, "inventory", st->opts->inventory_count > 0);
}

static int
dbcmd_print_json(const struct dbcmd_state *st, FILE *out)
{
	cJSON *root = dbcmd_json_sources(st), *notes, *sum;
	char *text;
	size_t i;

	dbcmd_json_items(st, root);
	dbcmd_json_live(st, root);
	notes = cJSON_AddArrayToObject(root, "notes");
	for (i = 0; i < st->report.note_count; i++)
		cJSON_AddItemToArray(notes, cJSON_CreateString(st->report.notes[i]));
	sum = cJSON_AddObjectToObject(root, "summary");
	cJSON_AddNumberToObject(sum, "items", (double)st->report.count);
	cJSON_AddNumberToObject(sum, "drift", (double)st->report.drift_count);
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (text == NULL) {
		fprintf(stderr, "poolguard: out of memory\n");
		return DBCMD_EXIT_ERROR;
	}
	fprintf(out, "%s\n", text);
	cJSON_free(text);
	return 0;
}

static int
dbcmd_write_budget(struct dbcmd_state *st)
{
	char from[300];
	struct pg_error err;

	snprintf(from, sizeof(from), "%s:%s", db_host(st->db), db_port(st->db));
	if (db_write_budget(stdout, &st->settings, &st->roles, st->console ? &st->pgb : NULL,
	    from, &err)) {
		fprintf(stderr, "poolguard: %s\n", err.msg);
		return DBCMD_EXIT_ERROR;
	}
	return 0;
}

static int
dbcmd_run(struct dbcmd_state *st)
{
	struct pg_error err;
	int result;

	if (!st->opts->write_budget && (result = dbcmd_load(st)))
		return result;
	if ((result = dbcmd_read(st)))
		return result;
	if (st->opts->write_budget)
		return dbcmd_write_budget(st);
	if (db_compare(st->cfg, &st->settings, &st->roles, st->console ? &st->pgb : NULL,
	    st->opts->pooler, &st->report, &err)) {
		fprintf(stderr, "poolguard: %s\n", err.msg);
		return DBCMD_EXIT_ERROR;
	}
	if (st->opts->json) {
		if ((result = dbcmd_print_json(st, stdout)))
			return result;
	} else
		dbcmd_print_text(st, stdout);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "poolguard: unable to write the output\n");
		return DBCMD_EXIT_ERROR;
	}
	return st->report.drift_count > 0 ? DBCMD_EXIT_DRIFT : 0;
}

int
dbcmd_main(int argc, char **argv)
{
	struct dbcmd_options opts;
	struct dbcmd_state st;
	int result;

	if ((result = dbcmd_parse(argc, argv, &opts)))
		return result < 0 ? 0 : result;
	memset(&st, 0, sizeof(st));
	st.opts = &opts;
	result = dbcmd_run(&st);
	db_report_release(&st.report);
	db_roles_release(&st.roles);
	db_close(st.console);
	db_close(st.db);
	inventory_free(st.inv);
	free(st.zero_usage);
	config_free(st.cfg);
	return result;
}
