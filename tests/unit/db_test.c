/*
 * db_test.c - the parts of db.c that need no server: the comparison of
 * a budget with what the database says, and the budget.yaml writer, whose
 * output must load with config_parse() and give back every role name byte
 * for byte, however odd.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "poolguard/config.h"
#include "poolguard/db.h"

static struct config *
parse(const char *yaml)
{
	struct config *cfg = NULL;
	struct pg_error err = {""};

	if (config_parse(yaml, strlen(yaml), "test.yaml", 0, &cfg, &err))
		fail_msg("config: %s", err.msg);
	return cfg;
}

static int
role_order(const void *a, const void *b)
{
	return strcmp(((const struct db_role *)a)->name, ((const struct db_role *)b)->name);
}

/* A db_roles as db_read_roles() fills it (sorted by name), from a table. */
static void
roles_fill(struct db_roles *roles, const struct db_role *table, size_t n)
{
	size_t i;

	memset(roles, 0, sizeof(*roles));
	roles->items = calloc(n, sizeof(*roles->items));
	assert_non_null(roles->items);
	for (i = 0; i < n; i++) {
		roles->items[i] = table[i];
		roles->items[i].name = strdup(table[i].name);
	}
	roles->count = n;
	qsort(roles->items, n, sizeof(*roles->items), role_order);
}

static const struct db_settings pg15 = {
	.max_connections = 100, .superuser_reserved_connections = 3,
	.server_version_num = 150018, .server_version = "15.18", .cluster_name = "",
};

static const char budget[] =
    "cluster: {maxConnections: 100, reservedConnections: 3}\n"
    "roles:\n"
    "  - {name: app, connectionLimit: 20, namespaces: [default]}\n"
    "  - {name: batch, connectionLimit: -1}\n"
    "  - {name: ghost, connectionLimit: 5}\n"
    "  - {name: admin, connectionLimit: 2}\n";

static void
test_compare_items(void **state)
{
	const struct db_role table[] = {
		{"app", 15, 1, 0, 3}, {"batch", -1, 1, 0, 0}, {"admin", 2, 1, 1, 1},
		{"other", 7, 1, 0, 0},
	};
	struct db_settings s = pg15;
	struct config *cfg = parse(budget);
	struct pg_error err;
	struct db_report rep;
	struct db_roles roles;

	(void)state;
	s.has_reserved_connections = 1;
	s.reserved_connections = 2;		/* PostgreSQL 16: 3 + 2 reserved */
	roles_fill(&roles, table, 4);
	assert_int_equal(db_compare(cfg, &s, &roles, NULL, NULL, &rep, &err), 0);
	assert_int_equal(rep.count, 6);
	assert_string_equal(rep.items[0].field, "cluster.maxConnections");
	assert_false(rep.items[0].drift);
	assert_string_equal(rep.items[1].field, "cluster.reservedConnections");
	assert_int_equal(rep.items[1].database, 5);
	assert_true(rep.items[1].drift);
	assert_string_equal(rep.items[2].field, "roles[0].connectionLimit");
	assert_string_equal(rep.items[2].role, "app");
	assert_int_equal(rep.items[2].budget, 20);
	assert_int_equal(rep.items[2].database, 15);
	assert_true(rep.items[2].drift);
	assert_false(rep.items[3].drift);	/* -1 and -1: no limit on either side */
	assert_true(rep.items[4].missing);	/* ghost */
	assert_true(rep.items[4].drift);
	assert_false(rep.items[5].drift);
	assert_int_equal(rep.drift_count, 3);
	assert_int_equal(rep.note_count, 1);	/* admin is a superuser */
	assert_non_null(strstr(rep.notes[0], "'admin' is a superuser"));
	db_report_release(&rep);
	db_roles_release(&roles);
	config_free(cfg);
}

static void
test_compare_pooler(void **state)
{
	const struct db_role table[] = {{"app", 20, 1, 0, 10}, {"web", 30, 1, 0, 0}};
	struct db_pgbouncer pgb = {200, 10, 10, "session"};
	struct config *cfg = parse(
	    "cluster: {maxConnections: 100, reservedConnections: 3}\n"
	    "roles:\n"
	    "  - name: app\n"
	    "    connectionLimit: 20\n"
	    "    pooler: {name: pgb, instances: 2, maxClientConn: 200, defaultPoolSize: 10,\n"
	    "             maxDbConnections: 10}\n"
	    "  - name: web\n"
	    "    connectionLimit: 30\n"
	    "    pooler: {name: other, instances: 1, maxClientConn: 50}\n");
	struct pg_error err;
	struct db_report rep;
	struct db_roles roles;
	size_t i;
	int session_note = 0;

	(void)state;
	roles_fill(&roles, table, 2);
	assert_int_equal(db_compare(cfg, &pg15, &roles, &pgb, "pgb", &rep, &err), 0);
	assert_int_equal(rep.count, 2 + 2 + 3);
	assert_string_equal(rep.items[4].field, "roles[0].pooler.maxClientConn");
	assert_string_equal(rep.items[6].field, "roles[0].pooler.maxDbConnections");
	assert_int_equal(rep.drift_count, 0);
	for (i = 0; i < rep.note_count; i++)
		session_note |= strstr(rep.notes[i], "pool_mode=session") != NULL;
	assert_true(session_note);
	db_report_release(&rep);

	/* Every pooled role: web's pooler says 50 clients, PgBouncer's default pool 20, no cap. */
	assert_int_equal(db_compare(cfg, &pg15, &roles, &pgb, NULL, &rep, &err), 0);
	assert_int_equal(rep.count, 2 + 2 + 6);
	assert_int_equal(rep.drift_count, 3);
	assert_string_equal(rep.items[7].field, "roles[1].pooler.maxClientConn");
	assert_true(rep.items[7].drift);
	assert_int_equal(rep.items[8].budget, 20);
	assert_true(rep.items[8].drift);
	assert_true(rep.items[9].drift);	/* maxDbConnections 0 (none) against 10 */
	db_report_release(&rep);
	db_roles_release(&roles);
	config_free(cfg);
}

/* Writes a budget to memory with db_write_budget(). */
static char *
write_budget(const struct db_settings *s, const struct db_roles *roles,
    const struct db_pgbouncer *pgb, size_t *len)
{
	struct pg_error err;
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	assert_non_null(f);
	assert_int_equal(db_write_budget(f, s, roles, pgb, "127.0.0.1:5432", &err), 0);
	fclose(f);
	return text;
}

static void
test_write_round_trip(void **state)
{
	const struct db_role table[] = {
		{"app", 20, 1, 0, 0},
		{"no limit", -1, 1, 0, 0},
		{"quote\" back\\slash: #hash", 3, 1, 0, 0},
		{"tab\there\nnewline", 4, 1, 0, 0},
		{"null", 5, 1, 0, 0},
		{"123", 6, 1, 0, 0},
		{"- dash", 7, 1, 0, 0},
		/* ü, ø, then LS, NEL and a BOM, which YAML would fold or drop unescaped */
		{"\xc3\xbcnic\xc3\xb8" "de \xe2\x80\xa8 ls \xc2\x85 nel \xef\xbb\xbf bom", 8, 1,
		    0, 0},
		{"\x7f\x01" "ctl", 9, 1, 0, 0},
		{"postgres", -1, 1, 1, 0},		/* superuser: left out */
		{"readers", -1, 0, 0, 0},		/* NOLOGIN: left out */
		{"pg_monitor", -1, 0, 0, 0},
		{"bad\xff" "utf8", 1, 1, 0, 0},		/* cannot be YAML: left out */
	};
	const size_t n = sizeof(table) / sizeof(table[0]);
	struct db_settings s = pg15;
	struct db_pgbouncer pgb = {200, 10, 0, "transaction"};
	struct config *cfg = NULL;
	struct db_roles roles;
	struct pg_error err;
	size_t len, i, r;
	char *text;

	(void)state;
	snprintf(s.cluster_name, sizeof(s.cluster_name), "main: \"prod\"");
	roles_fill(&roles, table, n);
	text = write_budget(&s, &roles, &pgb, &len);
	if (config_parse(text, len, "written.yaml", 0, &cfg, &err))
		fail_msg("the written budget does not load: %s\n%s", err.msg, text);
	assert_string_equal(cfg->cluster_name, "main: \"prod\"");
	assert_int_equal(cfg->max_connections, 100);
	assert_int_equal(cfg->reserved_connections, 3);
	assert_int_equal(cfg->role_count, 9);
	for (i = 0; i < n; i++) {
		for (r = 0; r < cfg->role_count; r++)
			if (strcmp(cfg->roles[r].name, table[i].name) == 0)
				break;
		if (i < 9) {
			if (r == cfg->role_count)
				fail_msg("role %zu did not come back:\n%s", i, text);
			assert_int_equal(cfg->roles[r].connection_limit, table[i].connection_limit);
			assert_int_equal(cfg->roles[r].namespace_count, 0);
		} else
			assert_int_equal(r, cfg->role_count);
	}
	assert_non_null(strstr(text, "# pooler: {name: pgbouncer, instances: 1, "
	    "maxClientConn: 200, defaultPoolSize: 10, maxDbConnections: 0}"));
	assert_non_null(strstr(text, "not valid UTF-8 was left out"));
	free(text);
	config_free(cfg);
	db_roles_release(&roles);
}

static void
test_write_no_roles(void **state)
{
	struct db_roles roles = {NULL, 0, 0, 0};
	struct config *cfg = NULL;
	struct db_settings s = pg15;
	struct pg_error err;
	size_t len;
	char *text;

	(void)state;
	s.has_reserved_connections = 1;
	s.reserved_connections = 5;
	text = write_budget(&s, &roles, NULL, &len);
	if (config_parse(text, len, "written.yaml", 0, &cfg, &err))
		fail_msg("the written budget does not load: %s\n%s", err.msg, text);
	assert_int_equal(cfg->role_count, 0);
	assert_int_equal(cfg->reserved_connections, 8);
	assert_string_equal(cfg->cluster_name, "postgres");
	free(text);
	config_free(cfg);
}

static void
test_conninfo_check(void **state)
{
	struct pg_error err;

	(void)state;
	assert_int_equal(db_conninfo_check("", &err), 0);
	assert_int_equal(db_conninfo_check("host=db port=5432 user=app", &err), 0);
	assert_int_equal(db_conninfo_check("postgresql://app@db:5432/x", &err), 0);
	assert_int_equal(db_conninfo_check("host=db password=secret", &err), PG_ERR_INVALID);
	assert_non_null(strstr(err.msg, "carries a password"));
	assert_int_equal(db_conninfo_check("postgresql://app:secret@db/x", &err), PG_ERR_INVALID);
	assert_int_equal(db_conninfo_check("host=db nonsense", &err), PG_ERR_INVALID);
	assert_non_null(strstr(err.msg, "invalid conninfo"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compare_items),
		cmocka_unit_test(test_compare_pooler),
		cmocka_unit_test(test_write_round_trip),
		cmocka_unit_test(test_write_no_roles),
		cmocka_unit_test(test_conninfo_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
