/*
 * db.h - the database's own view of the budget, read with libpq: the
 * connection settings, every role's CONNECTION LIMIT, the connections open
 * now, and PgBouncer's settings from its admin console; compared with a
 * budget into drift items, or written out as a budget.yaml.
 *
 * Passwords never travel through here: a conninfo that carries one is
 * refused, and libpq finds it in PGPASSWORD, PGPASSFILE or ~/.pgpass.
 * Nothing here writes to the database; every query is a catalog read.
 */
#ifndef POOLGUARD_DB_H
#define POOLGUARD_DB_H

#include <stddef.h>
#include <stdio.h>

#include "poolguard/config.h"
#include "poolguard/error.h"

/* The connect_timeout used when the caller and the conninfo give none, in seconds. */
#define DB_DEFAULT_CONNECT_TIMEOUT 10

/* The most roles read from pg_roles; a database with more fails with PG_ERR_TOOBIG. */
#define DB_MAX_ROLES 100000

#define DB_NOTE_MAX 256
#define DB_MAX_NOTES 32

/* A connection to a PostgreSQL server or a PgBouncer admin console. */
struct db;

/* The server's connection settings. */
struct db_settings {
	long max_connections;
	long superuser_reserved_connections;
	long reserved_connections;	/* PostgreSQL 16+; 0 before */
	int has_reserved_connections;	/* the server knows reserved_connections */
	long server_version_num;	/* 150018 */
	char server_version[64];	/* "15.18 (Debian 15.18-0+deb12u1)" */
	char cluster_name[64];		/* the cluster_name setting, "" when unset */
};

/* One row of pg_roles, with the client backends it holds now. */
struct db_role {
	char *name;
	long connection_limit;		/* rolconnlimit, -1: none */
	int can_login;
	int superuser;			/* PostgreSQL does not enforce a superuser's limit */
	long live;			/* client backends in pg_stat_activity */
};

struct db_roles {
	struct db_role *items;		/* in name order */
	size_t count;
	long live_total;		/* client backends of every role */
	long live_hidden;		/* sessions of a type this user may not see, counted */
};

/* PgBouncer's settings from SHOW CONFIG on its admin console. */
struct db_pgbouncer {
	long max_client_conn;
	long default_pool_size;
	long max_db_connections;	/* 0: no cap */
	char pool_mode[32];		/* session, transaction or statement */
};

/* One value compared between the budget and the database. */
struct db_item {
	char field[96];		/* the budget's key path, "roles[0].connectionLimit" */
	const char *role;	/* the budget role's name (borrowed from cfg), NULL: cluster */
	const char *source;	/* where the database value comes from, "rolconnlimit" */
	long budget;
	long database;
	int missing;		/* the role is not in the database (database means nothing) */
	int drift;		/* the two differ */
};

/* Everything compared, in budget order, and what could not be. */
struct db_report {
	struct db_item *items;
	size_t count;
	size_t drift_count;
	char notes[DB_MAX_NOTES][DB_NOTE_MAX];	/* what the comparison could not say */
	size_t note_count;
};

/*
 * Checks a conninfo string (keyword=value pairs or a postgresql:// URI; ""
 * for the PG* environment variables) before it is used: PG_ERR_INVALID when
 * libpq cannot parse it or when it carries a password, which belongs in
 * PGPASSWORD, PGPASSFILE or ~/.pgpass, not on a command line.
 */
int db_conninfo_check(const char *conninfo, struct pg_error *err);

/*
 * Connects with conninfo (see db_conninfo_check()). connect_timeout (seconds,
 * > 0) applies unless the conninfo or PGCONNECT_TIMEOUT sets one. On success
 * *out is a connection the caller closes with db_close(). On failure *out is
 * NULL and err says "unable to connect to 'HOST:PORT': " and libpq's message,
 * HOST and PORT being the last ones libpq tried.
 */
int db_connect(const char *conninfo, int connect_timeout, struct db **out,
    struct pg_error *err);

/* Closes a connection; db_close(NULL) does nothing. */
void db_close(struct db *db);

/* The host (or socket directory) and port of a connection; valid until db_close(). */
const char *db_host(const struct db *db);
const char *db_port(const struct db *db);

/* Reads max_connections, the reserved slots, the version and cluster_name. */
int db_read_settings(struct db *db, struct db_settings *out, struct pg_error *err);

/* superuser_reserved_connections + reserved_connections: the slots applications never get. */
long db_settings_reserved(const struct db_settings *s);

/*
 * Reads every role of pg_roles and counts the client backends of each in
 * pg_stat_activity. *out is filled anew (call db_roles_release() after); on
 * failure it is left empty. A user without pg_read_all_stats (pg_monitor)
 * cannot see the type of other users' sessions: those count as clients, and
 * live_hidden says how many.
 */
int db_read_roles(struct db *db, struct db_roles *out, struct pg_error *err);

/* Frees what db_read_roles() filled; the struct can be filled again. */
void db_roles_release(struct db_roles *roles);

/* The role named name, or NULL. */
const struct db_role *db_roles_find(const struct db_roles *roles, const char *name);

/* 1 for a role the written budget leaves out: pg_* roles, superusers, NOLOGIN roles. */
int db_role_is_system(const struct db_role *role);

/*
 * Runs SHOW CONFIG on a PgBouncer admin console (dbname=pgbouncer, a user in
 * admin_users or stats_users). The console speaks only the simple query
 * protocol, which is what this uses.
 */
int db_read_pgbouncer(struct db *console, struct db_pgbouncer *out, struct pg_error *err);

/*
 * Compares cfg with what the database says: cluster.maxConnections with
 * max_connections, cluster.reservedConnections with the reserved slots, each
 * role's connectionLimit with its rolconnlimit (a role missing from the
 * database is drift), and, when pgb is not NULL, the pooler block of every
 * role behind the pooler named pooler (NULL: every pooled role) with
 * PgBouncer's settings. Fills *out (release with db_report_release()); its
 * items borrow role names from cfg, which must outlive it.
 */
int db_compare(const struct config *cfg, const struct db_settings *settings,
    const struct db_roles *roles, const struct db_pgbouncer *pgb, const char *pooler,
    struct db_report *out, struct pg_error *err);

/* Frees the items of a report; db_report_release() on a zeroed report does nothing. */
void db_report_release(struct db_report *report);

/*
 * Writes a budget.yaml that config_parse() loads: the cluster values of
 * settings, and one role per login role that is not a system role
 * (db_role_is_system()) with its CONNECTION LIMIT, names quoted, namespaces
 * left as a commented placeholder (such a role manages no workloads until
 * they are filled in). from names the server in the header comment; pgb, when
 * not NULL, adds PgBouncer's settings as a commented pooler block. Fails with
 * PG_ERR_IO when out cannot be written.
 */
int db_write_budget(FILE *out, const struct db_settings *settings, const struct db_roles *roles,
    const struct db_pgbouncer *pgb, const char *from, struct pg_error *err);

/*
 * dbcmd.c: the `poolguard db` subcommand; argv[0] is "db". Prints the
 * comparison (or, with --write-budget, a budget.yaml) to standard output and
 * errors to standard error. Returns the exit status: 0 no drift (or the
 * budget written), 1 drift, 2 bad usage, a budget that does not load, or a
 * database that cannot be reached or read.
 */
int dbcmd_main(int argc, char **argv);

#endif
