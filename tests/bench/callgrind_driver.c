/*
 * callgrind_driver.c - runs AdmissionReview bodies through webhook_review(),
 * the decode, judge and encode path behind POST /validate, without HTTP, TLS
 * or the decision log, for instruction counts and inventory-size timings.
 *
 *   callgrind_driver --config BUDGET [--inventory PATH]... [--fill N]
 *                    [--fill-namespace NS] [--fill-role NAME]
 *                    (--count N | --time ROUNDS) [--print] PAYLOAD...
 *
 * --count N   answers each payload N times inside driver_loop(), the one
 *             function tests/bench/bench.sh tells callgrind to count
 *             (--toggle-collect=driver_loop); run it twice with two N and
 *             divide the difference to get instructions per admission.
 * --time R    times each payload in R rounds of a fixed number of admissions
 *             and prints the best round: "time PAYLOAD BYTES USEC_PER_ADMISSION".
 * --fill N    adds N Deployments (NS/fill-000000...) to the inventory with
 *             inventory_put() before anything is timed, in role NAME.
 * --print     prints the first response of each payload on standard output.
 * --no-arena  leaves cJSON on malloc; by default the per-request arena is
 *             installed as `poolguard serve` does (when the library has one).
 *
 * Part of the benchmark, not of poolguard: it links build/libpoolguard.a and
 * calls only what include/poolguard/ exposes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "poolguard/config.h"
#include "poolguard/error.h"
#include "poolguard/inventory.h"
#include "poolguard/log.h"
#include "poolguard/manifest.h"
#include "poolguard/snapshot.h"
#include "poolguard/webhook.h"
#if __has_include("poolguard/arena.h")
#include "poolguard/arena.h"
#define DRIVER_ARENA 1
#endif

#define DRIVER_MAX_PATHS 16

struct driver_payload {
	const char *path;
	char *body;
	size_t len;
};

static void
driver_die(const char *what, const char *detail)
{
	fprintf(stderr, "callgrind_driver: %s%s%s\n", what, detail ? ": " : "",
	    detail ? detail : "");
	exit(2);
}

/* Reads a whole file into a new NUL-terminated buffer. */
static void
driver_read(struct driver_payload *p)
{
	FILE *f = fopen(p->path, "rb");
	long size;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		driver_die("unable to read", p->path);
	if ((p->body = malloc((size_t)size + 1)) == NULL)
		driver_die("out of memory", NULL);
	if (fread(p->body, 1, (size_t)size, f) != (size_t)size)
		driver_die("unable to read", p->path);
	p->body[size] = '\0';
	p->len = (size_t)size;
	fclose(f);
}

/*
 * The measured loop: n answers to one body. Kept out of line so that
 * callgrind's --toggle-collect counts exactly this and what it calls.
 */
__attribute__((noinline)) void driver_loop(const struct webhook *wh,
    const struct driver_payload *p, long n);

__attribute__((noinline)) void
driver_loop(const struct webhook *wh, const struct driver_payload *p, long n)
{
	struct pg_error err;
	char *response;
	long i;

	for (i = 0; i < n; i++) {
		if (webhook_review(wh, p->body, p->len, &response, &err) != PG_OK)
			driver_die("webhook_review failed", err.msg);
		free(response);
	}
}

static double
driver_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Best of rounds: microseconds per admission, over about 20 MB of body per round. */
static double
driver_time(const struct webhook *wh, const struct driver_payload *p, int rounds)
{
	long n = (long)(20000000 / (p->len ? p->len : 1));
	double best = -1, t0, us;
	int r;

	if (n < 20)
		n = 20;
	if (n > 20000)
		n = 20000;
	driver_loop(wh, p, n / 10 + 1);	/* warm caches and the allocator */
	for (r = 0; r < rounds; r++) {
		t0 = driver_seconds();
		driver_loop(wh, p, n);
		us = (driver_seconds() - t0) * 1e6 / (double)n;
		if (best < 0 || us < best)
			best = us;
	}
	return best;
}

static int
driver_role(const struct config *cfg, const char *name)
{
	size_t r;

	for (r = 0; r < cfg->role_count; r++)
		if (strcmp(cfg->roles[r].name, name) == 0)
			return (int)r;
	driver_die("no such role in the budget", name);
	return -1;
}

int
main(int argc, char **argv)
{
	const char *inventory[DRIVER_MAX_PATHS];
	const char *config = NULL, *fill_ns = "fleet", *fill_role = NULL;
	struct driver_payload payloads[DRIVER_MAX_PATHS];
	struct manifest_set set;
	struct config *cfg;
	struct inventory *inv;
	struct snapshot_holder holder;
	struct snapshot *snap;
	struct webhook wh;
	struct pg_error err;
	long count = -1, fill = 0, i;
	int npaths = 0, payload_count = 0, rounds = 0, print = 0, arena = 1, a, role;
	char name[64], *response;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--config") == 0 && a + 1 < argc)
			config = argv[++a];
		else if (strcmp(argv[a], "--inventory") == 0 && a + 1 < argc &&
		    npaths < DRIVER_MAX_PATHS)
			inventory[npaths++] = argv[++a];
		else if (strcmp(argv[a], "--fill") == 0 && a + 1 < argc)
			fill = strtol(argv[++a], NULL, 10);
		else if (strcmp(argv[a], "--fill-namespace") == 0 && a + 1 < argc)
			fill_ns = argv[++a];
		else if (strcmp(argv[a], "--fill-role") == 0 && a + 1 < argc)
			fill_role = argv[++a];
		else if (strcmp(argv[a], "--count") == 0 && a + 1 < argc)
			count = strtol(argv[++a], NULL, 10);
		else if (strcmp(argv[a], "--time") == 0 && a + 1 < argc)
			rounds = (int)strtol(argv[++a], NULL, 10);
		else if (strcmp(argv[a], "--print") == 0)
			print = 1;
		else if (strcmp(argv[a], "--no-arena") == 0)
			arena = 0;
		else if (argv[a][0] == '-' && argv[a][1] == '-')
			driver_die("unknown option", argv[a]);
		else if (payload_count < DRIVER_MAX_PATHS)
			payloads[payload_count++].path = argv[a];
	}
	if (config == NULL || payload_count == 0 || (count < 0 && rounds <= 0))
		driver_die("usage: callgrind_driver --config BUDGET [--inventory PATH]... "
		    "[--fill N] (--count N | --time ROUNDS) [--print] PAYLOAD...", NULL);

	/* The decision log is the server's I/O, not the engine's: leave it out. */
	log_set_level(LOG_ERROR);
#ifdef DRIVER_ARENA
	if (arena)
		arena_install();	/* as cmd_serve() does, before anything is loaded */
#else
	arena = 0;
#endif

	/* As reload_build() does, with the fill added before the snapshot is shared. */
	if (config_load(config, &cfg, &err) != PG_OK)
		driver_die("unable to load the budget", err.msg);
	if ((inv = inventory_new(cfg)) == NULL)
		driver_die("out of memory", "inventory");
	for (i = 0; i < npaths; i++) {
		manifest_set_init(&set);
		if (manifest_load(&set, inventory[i], &err) != PG_OK ||
		    inventory_add_manifests(inv, &set, "default", &err) != PG_OK)
			driver_die("unable to load the inventory", err.msg);
		manifest_set_release(&set);
	}
	if (fill > 0) {
		role = fill_role ? driver_role(cfg, fill_role) : -1;
		for (i = 0; i < fill; i++) {
			snprintf(name, sizeof(name), "fill-%06ld", i);
			if (inventory_put(inv, WORKLOAD_DEPLOYMENT, fill_ns, name, role, 2,
			    10) != PG_OK)
				driver_die("inventory_put failed", name);
		}
	}
	if ((snap = snapshot_new(cfg, inv)) == NULL)
		driver_die("out of memory", "snapshot");
	snapshot_holder_init(&holder, snap);

	memset(&wh, 0, sizeof(wh));
	wh.holder = &holder;
	wh.reservation_seconds = 30;	/* what `poolguard serve` holds by default */

	for (a = 0; a < payload_count; a++) {
		driver_read(&payloads[a]);
		if (print) {
			if (webhook_review(&wh, payloads[a].body, payloads[a].len, &response,
			    &err) != PG_OK)
				driver_die("webhook_review failed", err.msg);
			printf("%s\n", response);
			free(response);
		}
	}
	for (a = 0; a < payload_count; a++) {
		if (count >= 0)
			driver_loop(&wh, &payloads[a], count);
		if (rounds > 0)
			printf("time %s %zu %.3f\n", payloads[a].path, payloads[a].len,
			    driver_time(&wh, &payloads[a], rounds));
	}
	snap = snapshot_holder_get(&holder);
	printf("workloads %zu arena %s\n", snapshot_workloads(snap), arena ? "yes" : "no");
	snapshot_release(snap);

	snapshot_holder_release(&holder);
	for (a = 0; a < payload_count; a++)
		free(payloads[a].body);
	return 0;
}
