/*
 * reload_test.c - the reloader on its own: a budget file written in place in
 * two steps is never put in force half-written, and the snapshots it
 * replaces are freed on its thread once no request holds them.
 */
#include <time.h>
#include <unistd.h>

#include "unit/testutil.h"

#include "poolguard/log.h"
#include "poolguard/reload.h"

static const char half[] =
    "cluster: {name: pg, maxConnections: 300}\n"
    "roles:\n"
    "  - {name: first, connectionLimit: 200, namespaces: [shop]}\n";
static const char rest[] =
    "  - {name: second, connectionLimit: 50, namespaces: [misc]}\n";

static void
write_file(const char *path, const char *mode, const char *text)
{
	FILE *f = fopen(path, mode);

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static size_t
roles_in_force(struct snapshot_holder *h)
{
	struct snapshot *snap = snapshot_holder_get(h);
	size_t n = snapshot_config(snap)->role_count;

	snapshot_release(snap);
	return n;
}

static void
sleep_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&t, NULL);
}

/*
 * The file goes from the full budget (2 roles) to the first half of a new
 * one (1 role) and, 90 ms later, to the whole new one: with a 100 ms poll,
 * the half file is seen but never loaded, five times over.
 */
static void
test_half_written_budget_not_loaded(void **state)
{
	char dir[] = "/tmp/poolguard-reload-XXXXXX", path[600], full[512];
	struct reload_options opts;
	struct snapshot_holder holder;
	struct reloader *r;
	struct snapshot *snap;
	struct pg_error err;
	int round, t, saw_half = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/budget.yaml", dir);
	snprintf(full, sizeof(full), "%s%s", half, rest);
	write_file(path, "w", full);
	memset(&opts, 0, sizeof(opts));
	opts.config_path = path;
	opts.interval_ms = 100;
	assert_int_equal(reload_build(&opts, &snap, &err), 0);
	snapshot_holder_init(&holder, snap);
	assert_int_equal(reloader_start(&opts, &holder, NULL, NULL, NULL, &r, &err), 0);
	for (round = 0; round < 5; round++) {
		/* A different full budget each round, so each one is a change. */
		snprintf(full, sizeof(full), "%s%s# round %d\n", half, rest, round);
		write_file(path, "w", half);
		for (t = 0; t < 9; t++) {
			sleep_ms(10);
			saw_half |= roles_in_force(&holder) == 1;
		}
		write_file(path, "w", full);
		for (t = 0; t < 40; t++) {
			sleep_ms(10);
			saw_half |= roles_in_force(&holder) == 1;
		}
	}
	assert_false(saw_half);
	assert_int_equal(roles_in_force(&holder), 2);
	/* A snapshot a request still holds is not freed with the reaping; then it is. */
	snap = snapshot_holder_get(&holder);
	write_file(path, "a", "# one more change\n");
	sleep_ms(500);
	assert_int_equal(snapshot_config(snap)->role_count, 2);
	snapshot_release(snap);
	sleep_ms(300);
	assert_int_equal(snapshot_holder_reap(&holder), 0);
	reloader_stop(r);
	snapshot_holder_release(&holder);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_half_written_budget_not_loaded),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests_name("reload", tests, NULL, NULL);
}
