/*
 * db.c - the database's view of the budget, read with libpq, compared with a
 * budget, or written out as one.
 *
 * Every query is a read of the catalogs or of settings. PgBouncer's admin
 * console only speaks the simple query protocol, so everything goes through
 * PQexec() without parameters; the texts are fixed, nothing is interpolated.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * libpq names its opaque result struct `struct pg_result`, the tag of
 * poolguard's `enum pg_result` (error.h); C has one namespace for tags, so
 * libpq's is renamed in this file. It is only ever used through pointers.
 *
 * Debian installs libpq-fe.h under /usr/include/postgresql, which
 * `pkg-config --cflags libpq` adds to the include path; without that flag the
 * directory is named here.
 */
#define pg_result db_libpq_result
#if defined(__has_include)
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif
#else
#include <libpq-fe.h>
#endif
#undef pg_result

#include "poolguard/db.h"

struct db {
	PGconn *conn;
};

/* Copies libpq's message into buf on one line: newlines and tabs become spaces. */
static void
db_flatten_message(const char *msg, char *buf, size_t size)
{
	size_t i = 0;
	int space = 0;

	if (size == 0)
		return;
	for (; msg && *msg && i + 1 < size; msg++) {
		if (*msg == '\n' || *msg == '\t' || *msg == '\r') {
			space = 1;
			continue;
		}
		if (space && i > 0)
			buf[i++] = ' ';
		space = 0;
		if (i + 1 < size)
			buf[i++] = *msg;
	}
	buf[i] = '\0';
}

int
db_conninfo_check(const char *conninfo, struct pg_error *err)
{
	PQconninfoOption *opts, *o;
	char *errmsg = NULL;
	char flat[PG_ERROR_MAX];
	int result = PG_OK;

	if ((opts = PQconninfoParse(conninfo ? conninfo : "", &errmsg)) == NULL) {
		if (errmsg == NULL)
			return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
		db_flatten_message(errmsg, flat, sizeof(flat));
		PQfreemem(errmsg);
		return pg_error_set(err, PG_ERR_INVALID, "invalid conninfo: %s", flat);
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0')
			result = pg_error_set(err, PG_ERR_INVALID, "the conninfo carries a "
			    "password, which would show in the process list; put it in "
			    "PGPASSWORD, PGPASSFILE or ~/.pgpass instead");
	PQconninfoFree(opts);
	return result;
}

int
db_connect(const char *conninfo, int connect_timeout, struct db **out, struct pg_error *err)
{
	const char *keywords[4], *values[4];
	char timeout[32], flat[PG_ERROR_MAX];
	struct db *db;
	int n = 0, result;

	*out = NULL;
	if ((result = db_conninfo_check(conninfo, err)))
		return result;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	/*
	 * Keywords are applied in order and the conninfo, expanded from dbname,
	 * comes last, so a connect_timeout it sets wins over ours.
	 */
	if (getenv("PGCONNECT_TIMEOUT") == NULL) {
		snprintf(timeout, sizeof(timeout), "%d",
		    connect_timeout > 0 ? connect_timeout : DB_DEFAULT_CONNECT_TIMEOUT);
		keywords[n] = "connect_timeout";
		values[n++] = timeout;
	}
	keywords[n] = "fallback_application_name";
	values[n++] = "poolguard";
	keywords[n] = "dbname";
	values[n++] = conninfo ? conninfo : "";
	keywords[n] = NULL;
	values[n] = NULL;
	db->conn = PQconnectdbParams(keywords, values, 1);
	if (db->conn == NULL) {
		free(db);
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db_flatten_message(PQerrorMessage(db->conn), flat, sizeof(flat));
		result = pg_error_set(err, PG_ERR_IO, "unable to connect to '%s:%s': %s",
		    PQhost(db->conn) ? PQhost(db->conn) : "", PQport(db->conn) ? PQport(db->conn) :
		    "", flat);
		db_close(db);
		return result;
	}
	*out = db;
	return PG_OK;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	PQfinish(db->conn);
	free(db);
}

const char *
db_host(const struct db *db)
{
	const char *h = PQhost(db->conn);

	return h ? h : "";
}

const char *
db_port(const struct db *db)
{
	const char *p = PQport(db->conn);

	return p ? p : "";
}

/*
 * Runs a fixed query through the simple protocol and checks it returned rows
 * with at least columns columns. On success *out is the result the caller
 * frees with PQclear().
 */
static int
db_query(struct db *db, const char *sql, int columns, PGresult **out, struct pg_error *err)
{
	char flat[PG_ERROR_MAX];
	PGresult *res;

	*out = NULL;
	if ((res = PQexec(db->conn, sql)) == NULL) {
		db_flatten_message(PQerrorMessage(db->conn), flat, sizeof(flat));
		return pg_error_set(err, PG_ERR_IO, "query on '%s:%s' failed: %s", db_host(db),
		    db_port(db), flat);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_flatten_message(PQresultErrorMessage(res), flat, sizeof(flat));
		PQclear(res);
		return pg_error_set(err, PG_ERR_IO, "query on '%s:%s' failed: %s", db_host(db),
		    db_port(db), flat);
	}
	if (PQnfields(res) < columns) {
		PQclear(res);
		return pg_error_set(err, PG_ERR_UNSUPPORTED, "query on '%s:%s' returned %d "
		    "columns, expected %d", db_host(db), db_port(db), PQnfields(res), columns);
	}
	*out = res;
	return PG_OK;
}

/* Reads a whole decimal integer; 0 on success. */
static int
db_parse_long(const char *s, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
db_field_long(PGresult *res, int row, int col, const char *what, long *out,
    struct pg_error *err)
{
	const char *s = PQgetvalue(res, row, col);

	if (PQgetisnull(res, row, col) || db_parse_long(s, out))
		return pg_error_set(err, PG_ERR_UNSUPPORTED, "%s: expected an integer, got '%.40s'",
		    what, PQgetisnull(res, row, col) ? "NULL" : s);
	return PG_OK;
}

static void
db_copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

int
db_read_settings(struct db *db, struct db_settings *out, struct pg_error *err)
{
	static const char sql[] =
	    "SELECT current_setting('max_connections'), "
	    "current_setting('superuser_reserved_connections'), "
	    "current_setting('reserved_connections', true), "
	    "current_setting('server_version_num'), "
	    "current_setting('server_version'), "
	    "current_setting('cluster_name')";
	PGresult *res;
	int result;

	memset(out, 0, sizeof(*out));
	if ((result = db_query(db, sql, 6, &res, err)))
		return result;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return pg_error_set(err, PG_ERR_UNSUPPORTED, "settings query returned no row");
	}
	if ((result = db_field_long(res, 0, 0, "max_connections", &out->max_connections, err)) ||
	    (result = db_field_long(res, 0, 1, "superuser_reserved_connections",
	    &out->superuser_reserved_connections, err)) ||
	    (result = db_field_long(res, 0, 3, "server_version_num", &out->server_version_num,
	    err)))
		goto out;
	/* reserved_connections exists from PostgreSQL 16; before, current_setting() gives NULL. */
	if (!PQgetisnull(res, 0, 2)) {
		if ((result = db_field_long(res, 0, 2, "reserved_connections",
		    &out->reserved_connections, err)))
			goto out;
		out->has_reserved_connections = 1;
	}
	db_copy(out->server_version, sizeof(out->server_version), PQgetvalue(res, 0, 4));
	db_copy(out->cluster_name, sizeof(out->cluster_name), PQgetvalue(res, 0, 5));
out:
	PQclear(res);
	return result;
}

long
db_settings_reserved(const struct db_settings *s)
{
	return s->superuser_reserved_connections + s->reserved_connections;
}

static int
db_role_compare(const void *a, const void *b)
{
	return strcmp(((const struct db_role *)a)->name, ((const struct db_role *)b)->name);
}

/* Adds the client backends of pg_stat_activity to the roles read before. */
static int
db_read_live(struct db *db, struct db_roles *roles, struct pg_error *err)
{
	/*
	 * Without pg_read_all_stats, backend_type of other users' sessions reads
	 * NULL: count those as clients (they nearly always are) and say so. The
	 * session asking is not counted.
	 */
	static const char sql[] =
	    "SELECT a.usename, count(*), count(*) FILTER (WHERE a.backend_type IS NULL) "
	    "FROM pg_catalog.pg_stat_activity a "
	    "WHERE a.usename IS NOT NULL AND a.pid <> pg_catalog.pg_backend_pid() "
	    "AND (a.backend_type = 'client backend' OR a.backend_type IS NULL) "
	    "GROUP BY a.usename";
	struct db_role key, *role;
	long count, hidden;
	PGresult *res;
	int i, result = PG_OK;

	if ((result = db_query(db, sql, 3, &res, err)))
		return result;
	for (i = 0; i < PQntuples(res); i++) {
		if ((result = db_field_long(res, i, 1, "pg_stat_activity count", &count, err)) ||
		    (result = db_field_long(res, i, 2, "pg_stat_activity count", &hidden, err)))
			break;
		roles->live_total += count;
		roles->live_hidden += hidden;
		key.name = PQgetvalue(res, i, 0);
		role = bsearch(&key, roles->items, roles->count, sizeof(*roles->items),
		    db_role_compare);
		if (role != NULL)
			role->live += count;
	}
	PQclear(res);
	return result;
}

int
db_read_roles(struct db *db, struct db_roles *out, struct pg_error *err)
{
	static const char sql[] =
	    "SELECT r.rolname, r.rolconnlimit, r.rolcanlogin, r.rolsuper "
	    "FROM pg_catalog.pg_roles r LIMIT 100001";
	struct db_role *role;
	PGresult *res;
	int i, n, result = PG_OK;

	memset(out, 0, sizeof(*out));
	if ((result = db_query(db, sql, 4, &res, err)))
		return result;
	if ((n = PQntuples(res)) > DB_MAX_ROLES) {
		PQclear(res);
		return pg_error_set(err, PG_ERR_TOOBIG, "the database has more than %d roles",
		    DB_MAX_ROLES);
	}
	if (n > 0 && (out->items = calloc((size_t)n, sizeof(*out->items))) == NULL) {
		PQclear(res);
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		role = &out->items[out->count];
		if ((result = db_field_long(res, i, 1, "rolconnlimit", &role->connection_limit,
		    err)))
			break;
		if ((role->name = strdup(PQgetvalue(res, i, 0))) == NULL) {
			result = pg_error_set(err, PG_ERR_NOMEM, "out of memory");
			break;
		}
		role->can_login = strcmp(PQgetvalue(res, i, 2), "t") == 0;
		role->superuser = strcmp(PQgetvalue(res, i, 3), "t") == 0;
		out->count++;
	}
	PQclear(res);
	/* Byte order, not the database's collation, so lookups and the output are stable. */
	if (result == PG_OK && out->count > 1)
		qsort(out->items, out->count, sizeof(*out->items), db_role_compare);
	if (result == PG_OK)
		result = db_read_live(db, out, err);
	if (result)
		db_roles_release(out);
	return result;
}

void
db_roles_release(struct db_roles *roles)
{
	size_t i;

	for (i = 0; i < roles->count; i++)
		free(roles->items[i].name);
	free(roles->items);
	memset(roles, 0, sizeof(*roles));
}

const struct db_role *
db_roles_find(const struct db_roles *roles, const char *name)
{
	struct db_role key;

	if (roles->count == 0)
		return NULL;
	key.name = (char *)name;
	return bsearch(&key, roles->items, roles->count, sizeof(*roles->items), db_role_compare);
}

int
db_role_is_system(const struct db_role *role)
{
	return strncmp(role->name, "pg_", 3) == 0 || role->superuser || !role->can_login;
}

int
db_read_pgbouncer(struct db *console, struct db_pgbouncer *out, struct pg_error *err)
{
	int i, key, value, seen = 0, result = PG_OK;
	const char *k, *v;
	PGresult *res;
	long *dst;

	memset(out, 0, sizeof(*out));
	if ((result = db_query(console, "SHOW CONFIG;", 2, &res, err)))
		return result;
	key = PQfnumber(res, "key");
	value = PQfnumber(res, "value");
	if (key < 0 || value < 0) {
		PQclear(res);
		return pg_error_set(err, PG_ERR_UNSUPPORTED, "SHOW CONFIG on '%s:%s' has no key "
		    "and value columns: is it a PgBouncer admin console (dbname=pgbouncer)?",
		    db_host(console), db_port(console));
	}
	for (i = 0; i < PQntuples(res); i++) {
		k = PQgetvalue(res, i, key);
		v = PQgetvalue(res, i, value);
		dst = NULL;
		if (strcmp(k, "max_client_conn") == 0)
			dst = &out->max_client_conn;
		else if (strcmp(k, "default_pool_size") == 0)
			dst = &out->default_pool_size;
		else if (strcmp(k, "max_db_connections") == 0)
			dst = &out->max_db_connections;
		else if (strcmp(k, "pool_mode") == 0) {
			db_copy(out->pool_mode, sizeof(out->pool_mode), v);
			seen |= 8;
			continue;
		} else
			continue;
		if ((result = db_field_long(res, i, value, k, dst, err)))
			break;
		seen |= dst == &out->max_client_conn ? 1 : dst == &out->default_pool_size ? 2 : 4;
	}
	PQclear(res);
	if (result == PG_OK && (seen & 7) != 7)
		result = pg_error_set(err, PG_ERR_UNSUPPORTED, "SHOW CONFIG on '%s:%s' lacks "
		    "max_client_conn, default_pool_size or max_db_connections", db_host(console),
		    db_port(console));
	return result;
}

static void
db_report_note(struct db_report *report, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Adds a note; notes past DB_MAX_NOTES are dropped. */
static void
db_report_note(struct db_report *report, const char *fmt, ...)
{
	va_list ap;

	if (report->note_count == DB_MAX_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(report->notes[report->note_count++], DB_NOTE_MAX, fmt, ap);
	va_end(ap);
}

static struct db_item *
db_report_add(struct db_report *report, const char *source, const char *role, long budget,
    long database, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Appends an item (room was made by the caller) with the field path formatted from fmt. */
static struct db_item *
db_report_add(struct db_report *report, const char *source, const char *role, long budget,
    long database, const char *fmt, ...)
{
	struct db_item *item = &report->items[report->count++];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(item->field, sizeof(item->field), fmt, ap);
	va_end(ap);
	item->role = role;
	item->source = source;
	item->budget = budget;
	item->database = database;
	item->drift = budget != database;
	if (item->drift)
		report->drift_count++;
	return item;
}

/* Compares the pooler block of role r with PgBouncer's settings. */
static void
db_compare_pooler(const struct config *cfg, size_t r, const struct db_pgbouncer *pgb,
    struct db_report *report)
{
	const struct role *role = &cfg->roles[r];

	db_report_add(report, "max_client_conn", role->name, role->pooler.max_client_conn,
	    pgb->max_client_conn, "roles[%zu].pooler.maxClientConn", r);
	db_report_add(report, "default_pool_size", role->name, role->pooler.default_pool_size,
	    pgb->default_pool_size, "roles[%zu].pooler.defaultPoolSize", r);
	db_report_add(report, "max_db_connections", role->name, role->pooler.max_db_connections,
	    pgb->max_db_connections, "roles[%zu].pooler.maxDbConnections", r);
}

int
db_compare(const struct config *cfg, const struct db_settings *settings,
    const struct db_roles *roles, const struct db_pgbouncer *pgb, const char *pooler,
    struct db_report *out, struct pg_error *err)
{
	const struct db_role *found;
	const struct role *role;
	struct db_item *item;
	size_t r, pooled = 0;
	const char *last_pooler = NULL;

	memset(out, 0, sizeof(*out));
	if ((out->items = calloc(2 + cfg->role_count * 4, sizeof(*out->items))) == NULL)
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	db_report_add(out, "max_connections", NULL, cfg->max_connections,
	    settings->max_connections, "cluster.maxConnections");
	db_report_add(out, settings->has_reserved_connections ?
	    "superuser_reserved_connections + reserved_connections" :
	    "superuser_reserved_connections", NULL, cfg->reserved_connections,
	    db_settings_reserved(settings), "cluster.reservedConnections");
	for (r = 0; r < cfg->role_count; r++) {
		role = &cfg->roles[r];
		found = db_roles_find(roles, role->name);
		item = db_report_add(out, "rolconnlimit", role->name, role->connection_limit,
		    found ? found->connection_limit : CONFIG_NO_LIMIT, "roles[%zu].connectionLimit",
		    r);
		if (found == NULL) {
			item->missing = 1;
			if (!item->drift)
				out->drift_count++;
			item->drift = 1;
			continue;
		}
		if (found->superuser)
			db_report_note(out, "role '%.63s' is a superuser: PostgreSQL does not "
			    "enforce its connection limit", role->name);
		else if (!found->can_login)
			db_report_note(out, "role '%.63s' cannot log in (NOLOGIN): its workloads' "
			    "connections would be refused", role->name);
	}
	if (pgb == NULL)
		return PG_OK;
	for (r = 0; r < cfg->role_count; r++) {
		role = &cfg->roles[r];
		if (role->pooler.index < 0 || (pooler && strcmp(pooler, role->pooler.name) != 0))
			continue;
		db_compare_pooler(cfg, r, pgb, out);
		if (last_pooler == NULL || strcmp(last_pooler, role->pooler.name) != 0)
			db_report_note(out, "pooler '%.63s': instances (%ld in the budget) cannot "
			    "be read from one admin console; count the PgBouncer pods",
			    role->pooler.name, role->pooler.instances);
		last_pooler = role->pooler.name;
		pooled++;
	}
	if (pooled == 0)
		db_report_note(out, "no role in the budget has a pooler%s%.63s%s: PgBouncer's "
		    "settings were read but not compared", pooler ? " named '" : "",
		    pooler ? pooler : "", pooler ? "'" : "");
	else
		db_report_note(out, "PgBouncer's global settings were compared; pool_size or "
		    "max_db_connections set for one database in [databases] were not");
	if (strcmp(pgb->pool_mode, "transaction") != 0 && strcmp(pgb->pool_mode, "statement") != 0)
		db_report_note(out, "PgBouncer runs pool_mode=%.20s: each client holds a server "
		    "connection for its whole session, so clients beyond the pool wait",
		    pgb->pool_mode[0] ? pgb->pool_mode : "(unknown)");
	return PG_OK;
}

void
db_report_release(struct db_report *report)
{
	free(report->items);
	memset(report, 0, sizeof(*report));
}

/*
 * Decodes one UTF-8 sequence at s (n bytes left) into *cp; returns its
 * length, or 0 when it is not valid UTF-8 (overlong, surrogate, past U+10FFFF).
 */
static size_t
db_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return len;
}

/* 1 when s is valid UTF-8. */
static int
db_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), len, i;
	uint32_t c;

	for (i = 0; i < n; i += len)
		if ((len = db_utf8_decode(p + i, n - i, &c)) == 0)
			return 0;
	return 1;
}

/*
 * 1 for a character libyaml reads back unchanged inside a double-quoted
 * scalar: printable, and not one of the line breaks it would fold (NEL, LS, PS).
 */
static int
db_yaml_printable(uint32_t c)
{
	return (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\') ||
	    (c >= 0xa0 && c <= 0xd7ff && c != 0x2028 && c != 0x2029) ||
	    (c >= 0xe000 && c <= 0xfffd && c != 0xfeff) || (c >= 0x10000 && c <= 0x10ffff);
}

/*
 * Writes s as a YAML double-quoted scalar that reads back as the same bytes.
 * Returns -1 (nothing written) when s is not valid UTF-8, which YAML cannot hold.
 */
static int
db_yaml_quote(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), len, i;
	uint32_t c = 0;

	if (!db_utf8_valid(s))
		return -1;
	fputc('"', out);
	for (i = 0; i < n; i += len) {
		len = db_utf8_decode(p + i, n - i, &c);
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", (int)c);
		else if (db_yaml_printable(c))
			fwrite(p + i, 1, len, out);
		else if (c < 0x100)
			fprintf(out, "\\x%02X", (unsigned)c);
		else if (c < 0x10000)
			fprintf(out, "\\u%04X", (unsigned)c);
		else
			fprintf(out, "\\U%08X", (unsigned)c);
	}
	fputc('"', out);
	return 0;
}

/* Writes the roles db_write_budget() leaves out, as comments. */
static void
db_write_left_out(FILE *out, const struct db_roles *roles)
{
	size_t i, n = 0;

	for (i = 0; i < roles->count; i++) {
		const struct db_role *role = &roles->items[i];

		if (!role->can_login || strncmp(role->name, "pg_", 3) == 0 || !role->superuser)
			continue;
		if (n++ == 0)
			fputs("# Left out: superusers, which PostgreSQL does not limit (they use "
			    "the reserved slots):", out);
		fputc(' ', out);
		if (db_yaml_quote(out, role->name))
			fputs("(a name that is not UTF-8)", out);
	}
	if (n > 0)
		fputc('\n', out);
	fputs("# Left out: pg_* roles and roles that cannot log in.\n", out);
}

int
db_write_budget(FILE *out, const struct db_settings *settings, const struct db_roles *roles,
    const struct db_pgbouncer *pgb, const char *from, struct pg_error *err)
{
	const struct db_role *role;
	size_t i, written = 0;

	fputs("# budget.yaml written by `poolguard db --write-budget` from ", out);
	if (db_yaml_quote(out, from ? from : ""))
		fputs("(a server)", out);
	fprintf(out, ", PostgreSQL %ld.%ld\n", settings->server_version_num / 10000,
	    settings->server_version_num % 10000);
	fputs("# Each role manages no workloads until it names its namespaces or a selector.\n",
	    out);
	db_write_left_out(out, roles);
	fputs("cluster:\n  name: ", out);
	if (settings->cluster_name[0] == '\0' || db_yaml_quote(out, settings->cluster_name))
		fputs("postgres", out);
	fprintf(out, "\n  maxConnections: %ld  # max_connections\n", settings->max_connections);
	fprintf(out, "  reservedConnections: %ld  # superuser_reserved_connections %ld",
	    db_settings_reserved(settings), settings->superuser_reserved_connections);
	if (settings->has_reserved_connections)
		fprintf(out, " + reserved_connections %ld", settings->reserved_connections);
	fputc('\n', out);
	for (i = 0; i < roles->count; i++) {
		role = &roles->items[i];
		if (db_role_is_system(role))
			continue;
		if (db_utf8_valid(role->name) == 0) {
			/* YAML cannot hold it; say so rather than drop it silently. */
			fputs("# a login role whose name is not valid UTF-8 was left out\n", out);
			continue;
		}
		if (written == 0)
			fputs("roles:\n", out);
		fputs("  - name: ", out);
		db_yaml_quote(out, role->name);
		fprintf(out, "\n    connectionLimit: %ld%s\n", role->connection_limit,
		    role->connection_limit == CONFIG_NO_LIMIT ? "  # none" : "");
		fputs("    # namespaces: [NAMESPACE]  # the namespaces whose workloads connect as "
		    "this role\n", out);
		fputs("    externalConnections: 0  # clients that are not workloads here\n", out);
		if (pgb != NULL)
			fprintf(out, "    # pooler: {name: pgbouncer, instances: 1, maxClientConn: "
			    "%ld, defaultPoolSize: %ld, maxDbConnections: %ld}   # if its pods "
			    "connect through PgBouncer\n", pgb->max_client_conn,
			    pgb->default_pool_size, pgb->max_db_connections);
		written++;
	}
	if (written == 0)
		fputs("roles: []\n", out);
	if (fflush(out) != 0 || ferror(out))
		return pg_error_set(err, PG_ERR_IO, "unable to write the budget: %s",
		    strerror(errno));
	return PG_OK;
}
