/*
 * lease_test.c - reservations shared between replicas through the Lease
 * poolguard-system/poolguard-reservations: two real `poolguard serve
 * --kubeconfig --lease` processes against the fake API server of fakeapi.h,
 * which serves the Lease with kube-apiserver's resourceVersion preconditions
 * and lets the test hold, delay and fail its reads and writes. Seen from
 * outside: /validate verdicts and their timing, /metrics, the log, the
 * Lease's contents and the fake's request log.
 */
#include <pthread.h>
#include "integration/harness.h"
#include "integration/fakeapi.h"
#include "poolguard/lease.h"

#define DEPLOYMENTS "/apis/apps/v1/namespaces/synergyflow/deployments"
#define LEASES "/apis/coordination.k8s.io/v1/namespaces/poolguard-system/leases"
#define LEASE_PATH LEASES "/poolguard-reservations"
#define LEASE_NAME "poolguard-system/poolguard-reservations"
#define UNRECORDED "could not record the reservation in Lease " LEASE_NAME

#define APP "poolguard_role_connections{role=\"app\"}"
#define RESERVATIONS "poolguard_reservations"
#define WRITTEN "poolguard_reservation_writes_total{result=\"written\"}"
#define CONFLICTS "poolguard_reservation_writes_total{result=\"conflict\"}"
#define ERRORS "poolguard_reservation_writes_total{result=\"error\"}"
#define TIMEOUTS "poolguard_reservation_writes_total{result=\"timeout\"}"
#define RETRIES "poolguard_reservation_retries_total"
#define EXPIRED "poolguard_reservation_expired_total"
#define DENIED "poolguard_reservation_unavailable_total{answer=\"deny\"}"
#define ALLOWED "poolguard_reservation_unavailable_total{answer=\"allow\"}"
#define API_CALLS "poolguard_reservation_api_seconds_count"

/* Long enough for poolguard under valgrind; every wait ends as soon as it is met. */
#define WAIT_SECONDS 20.0

/* What /validate answered, and how long it took. */
struct answer {
	long status;
	int allowed;
	char message[4096];		/* the denial's */
	char warnings[4096];		/* every warning, joined by " | " */
	double seconds;
};

/*
 * A review sent from a thread while the fake holds its Lease write. It lives
 * in world, not on a test's stack: a failed assertion leaves the test while
 * the thread may still write its answer, and teardown joins it.
 */
struct pending {
	const struct harness_server *s;
	char *review;
	struct answer answer;
	pthread_t thread;
	int started;
};

struct world {
	char *dir;
	char budget[512];
	char lenient[512];		/* reservationUnavailable: allow */
	char kubeconfig[512];
	int slow;			/* poolguard runs under valgrind */
	const char *short_timeout;	/* --lease-timeout for the timeout tests */
	double short_seconds;
	double slack;			/* what an answer may take beyond a deadline */
	struct fakeapi api;
	struct harness_server a;
	struct harness_server b;
	struct pending pending;
};

static struct world world;

static const char budget_yaml[] =
    "cluster: {name: shared-postgres, maxConnections: 1000, reservedConnections: 3}\n"
    "defaultPoolSize: 10\n"
    "warnPercent: 90\n"
    "roles:\n"
    "  - name: app\n"
    "    connectionLimit: 400\n"
    "    namespaces: [synergyflow]\n";

static const char lenient_yaml[] =
    "cluster: {name: shared-postgres, maxConnections: 1000, reservedConnections: 3}\n"
    "defaultPoolSize: 10\n"
    "warnPercent: 90\n"
    "reservationUnavailable: allow\n"
    "roles:\n"
    "  - name: app\n"
    "    connectionLimit: 400\n"
    "    namespaces: [synergyflow]\n";

static int
group_setup(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	world.dir = harness_tmpdir();
	harness_certs(world.dir);
	snprintf(world.budget, sizeof(world.budget), "%s/budget.yaml", world.dir);
	snprintf(world.lenient, sizeof(world.lenient), "%s/lenient.yaml", world.dir);
	snprintf(world.kubeconfig, sizeof(world.kubeconfig), "%s/kubeconfig", world.dir);
	harness_write(world.budget, budget_yaml);
	harness_write(world.lenient, lenient_yaml);
	/*
	 * Under valgrind one TLS handshake of poolguard's takes longer than
	 * 0.3 s, so the deadline would end in the GET before the write the test
	 * delays: the same scenarios with a deadline of 2 s there.
	 */
	world.slow = getenv("POOLGUARD_VALGRIND") != NULL;
	world.short_timeout = world.slow ? "2" : "0.3";
	world.short_seconds = world.slow ? 2.0 : 0.3;
	world.slack = world.slow ? 3.0 : 0.25;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	harness_rmdir(world.dir);
	curl_global_cleanup();
	return 0;
}

static int
setup(void **state)
{
	char ca[600];

	(void)state;
	assert_int_equal(fakeapi_start(&world.api, world.dir), 0);
	snprintf(ca, sizeof(ca), "%s/ca.crt", world.dir);
	assert_int_equal(fakeapi_write_kubeconfig(&world.api, world.kubeconfig, ca), 0);
	memset(&world.a, 0, sizeof(world.a));
	memset(&world.b, 0, sizeof(world.b));
	memset(&world.pending, 0, sizeof(world.pending));
	return 0;
}

/* SIGTERM, then SIGKILL after seconds; the exit status, -1 when it had to be killed. */
static int
stop_within(struct harness_server *s, double seconds)
{
	double deadline = fakeapi_now() + seconds;
	struct timespec pause = {0, 10 * 1000 * 1000};
	int status;

	if (s->pid <= 0)
		return 0;
	kill(s->pid, SIGTERM);
	while (fakeapi_now() < deadline) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		nanosleep(&pause, NULL);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	s->pid = 0;
	return -1;
}

/* The fake first: a request it holds would keep poolguard from stopping. */
static int
teardown(void **state)
{
	(void)state;
	fakeapi_stop(&world.api);
	if (world.pending.started)	/* its write is let go: poolguard answers it */
		pthread_join(world.pending.thread, NULL);
	world.pending.started = 0;
	stop_within(&world.a, 20);
	stop_within(&world.b, 20);
	return 0;
}

static void
print_log(const struct harness_server *s)
{
	char *log = harness_slurp(s->log_path);
	size_t len = strlen(log);

	print_message("poolguard's log (last 4000 bytes):\n%s\n", len > 4000 ? log + len - 4000 :
	    log);
	free(log);
}

/* Stops poolguard, which must exit 0 (99: valgrind found errors). */
static void
stop_server(struct harness_server *s)
{
	int status = stop_within(s, 20);

	if (status != 0)
		print_log(s);
	assert_int_equal(status, 0);
}

/* A Deployment in synergyflow with replicas x pool, there before poolguard lists. */
static void
put_deployment(const char *name, long replicas, long pool)
{
	char json[2048];

	snprintf(json, sizeof(json), "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	    "\"metadata\":{\"name\":\"%s\",\"namespace\":\"synergyflow\"},\"spec\":{\"replicas\":"
	    "%ld,\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"nginx\","
	    "\"env\":[{\"name\":\"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\",\"value\":"
	    "\"%ld\"}]}]}}}}", name, replicas, pool);
	assert_true(fakeapi_put(&world.api, DEPLOYMENTS, json) > 0);
}

/*
 * Stores the Lease as if another replica had written it: annotation (NULL:
 * none) as its poolguard.dev/reservations. Returns its resourceVersion.
 */
static long
seed_lease(const char *annotation)
{
	cJSON *lease = cJSON_CreateObject(), *metadata, *annotations;
	char *json;
	long rv;

	cJSON_AddStringToObject(lease, "apiVersion", "coordination.k8s.io/v1");
	cJSON_AddStringToObject(lease, "kind", "Lease");
	metadata = cJSON_AddObjectToObject(lease, "metadata");
	cJSON_AddStringToObject(metadata, "name", "poolguard-reservations");
	cJSON_AddStringToObject(metadata, "namespace", "poolguard-system");
	if (annotation) {
		annotations = cJSON_AddObjectToObject(metadata, "annotations");
		cJSON_AddStringToObject(annotations, LEASE_ANNOTATION, annotation);
	}
	cJSON_AddStringToObject(cJSON_AddObjectToObject(lease, "spec"), "holderIdentity",
	    "replica-z");
	json = cJSON_PrintUnformatted(lease);
	cJSON_Delete(lease);
	rv = fakeapi_put(&world.api, LEASES, json);
	free(json);
	assert_true(rv > 0);
	return rv;
}

/* The Lease's resourceVersion as stored, -1 when there is no Lease. */
static long
lease_version(void)
{
	char *json = fakeapi_object(&world.api, LEASES, "poolguard-reservations");
	cJSON *root = json ? cJSON_Parse(json) : NULL;
	const char *rv = fakeapi_meta_string(root, "resourceVersion");
	long version = rv ? strtol(rv, NULL, 10) : -1;

	cJSON_Delete(root);
	free(json);
	return version;
}

/* The Lease's entries as poolguard's own decoder reads them; NULL when there is no Lease. */
static struct lease_state *
lease_now(void)
{
	char *json = fakeapi_object(&world.api, LEASES, "poolguard-reservations");
	struct lease_state *st;
	struct pg_error err;

	if (json == NULL)
		return NULL;
	assert_non_null(st = calloc(1, sizeof(*st)));
	if (lease_decode(json, strlen(json), st, &err) != PG_OK)
		fail_msg("the Lease does not decode: %s\n%s", err.msg, json);
	free(json);
	return st;
}

/* Asserts entry i of st: Deployment synergyflow/name in role app, connections, by replica. */
static void
assert_entry(const struct lease_state *st, size_t i, const char *name, long connections,
    const char *replica)
{
	assert_true(i < st->count);
	assert_int_equal(st->entries[i].kind, WORKLOAD_DEPLOYMENT);
	assert_string_equal(st->entries[i].namespace, "synergyflow");
	assert_string_equal(st->entries[i].name, name);
	assert_string_equal(st->entries[i].role, "app");
	assert_int_equal(st->entries[i].connections, connections);
	assert_string_equal(st->entries[i].replica, replica);
}

static double
wall_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/*
 * Starts poolguard as replica id on the shared Lease with budget, deadline
 * timeout (NULL: the default 2 s) and extra arguments (NULL-terminated, may
 * be NULL); waits until it has listed the fake's workloads.
 */
static void
start_replica(struct harness_server *s, const char *id, const char *budget, const char *timeout,
    const char *const *extra)
{
	const char *argv[24];
	double deadline;
	struct harness_response r;
	struct timespec pause = {0, 20 * 1000 * 1000};
	int i = 0, j;

	argv[i++] = "--config";
	argv[i++] = budget;
	argv[i++] = "--kubeconfig";
	argv[i++] = world.kubeconfig;
	argv[i++] = "--lease";
	argv[i++] = LEASE_NAME;
	argv[i++] = "--replica-id";
	argv[i++] = id;
	if (timeout) {
		argv[i++] = "--lease-timeout";
		argv[i++] = timeout;
	}
	for (j = 0; extra && extra[j] && i < 23; j++)
		argv[i++] = extra[j];
	argv[i] = NULL;
	assert_int_equal(harness_start(s, world.dir, argv), 0);
	for (deadline = fakeapi_now() + WAIT_SECONDS;; nanosleep(&pause, NULL)) {
		r = harness_request(s, "GET", "/readyz", NULL, NULL);
		if (r.status == 200)
			break;
		harness_response_free(&r);
		if (fakeapi_now() > deadline) {
			print_log(s);
			fail_msg("replica %s was not ready within %.0f s", id, WAIT_SECONDS);
		}
	}
	harness_response_free(&r);
}


/*
 * An AdmissionReview of Deployment synergyflow/name: op "CREATE" (old_replicas
 * < 0) or "UPDATE" from old_replicas, to replicas x pool. A new string.
 */
static char *
review_json(const char *op, const char *name, long old_replicas, long replicas, long pool,
    int dry_run)
{
	static const char object[] = "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	    "\"metadata\":{\"name\":\"%s\",\"namespace\":\"synergyflow\"},\"spec\":{\"replicas\":"
	    "%ld,\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"nginx\","
	    "\"env\":[{\"name\":\"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\",\"value\":"
	    "\"%ld\"}]}]}}}}";
	static unsigned uid;
	char now[2048], before[2048] = "null", *review = malloc(8192);

	snprintf(now, sizeof(now), object, name, replicas, pool);
	if (old_replicas >= 0)
		snprintf(before, sizeof(before), object, name, old_replicas, pool);
	snprintf(review, 8192, "{\"apiVersion\":\"admission.k8s.io/v1\","
	    "\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"%s-%u\",\"kind\":"
	    "{\"group\":\"apps\",\"version\":\"v1\","
	    "\"kind\":\"Deployment\"},\"resource\":{\"group\":\"apps\",\"version\":\"v1\","
	    "\"resource\":\"deployments\"},\"namespace\":\"synergyflow\",\"name\":\"%s\","
	    "\"operation\":\"%s\",\"userInfo\":{\"username\":\"dev\"},\"object\":%s,"
	    "\"oldObject\":%s,\"dryRun\":%s}}", name, __atomic_add_fetch(&uid, 1, __ATOMIC_RELAXED),
	    name, op, now, before, dry_run ? "true" : "false");
	return review;
}

/* Sends review (freed here) to s; never fails the test itself (it may run in a thread). */
static struct answer
post_review(const struct harness_server *s, char *review)
{
	struct harness_response r;
	struct answer a;
	const cJSON *response, *warning;
	cJSON *root;
	double start = fakeapi_now();
	size_t n = 0;

	memset(&a, 0, sizeof(a));
	r = harness_post_json(s, review);
	a.seconds = fakeapi_now() - start;
	a.status = r.status;
	free(review);
	root = cJSON_Parse(r.body);
	response = cJSON_GetObjectItemCaseSensitive(root, "response");
	a.allowed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(response, "allowed"));
	snprintf(a.message, sizeof(a.message), "%s", cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(response, "status"),
	    "message")) ? cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    response, "status"), "message")->valuestring : "");
	cJSON_ArrayForEach(warning, cJSON_GetObjectItemCaseSensitive(response, "warnings"))
		if (cJSON_IsString(warning) && n < sizeof(a.warnings))
			n += (size_t)snprintf(a.warnings + n, sizeof(a.warnings) - n, "%s%s",
			    n ? " | " : "", warning->valuestring);
	cJSON_Delete(root);
	harness_response_free(&r);
	return a;
}

/* CREATE of Deployment name with replicas x pool. */
static struct answer
create(const struct harness_server *s, const char *name, long replicas, long pool)
{
	struct answer a = post_review(s, review_json("CREATE", name, -1, replicas, pool, 0));

	assert_int_equal(a.status, 200);
	return a;
}

/* The value of the sample named name (labels included); -1 when there is none. */
static long
metric(const struct harness_server *s, const char *name)
{
	struct harness_response r = harness_request(s, "GET", "/metrics", NULL, NULL);
	char start[256];
	const char *at;
	long value = -1;

	assert_int_equal(r.status, 200);
	snprintf(start, sizeof(start), "\n%s ", name);
	if ((at = strstr(r.body, start)) != NULL)
		value = strtol(at + strlen(start), NULL, 10);
	harness_response_free(&r);
	return value;
}

/* Asserts the Lease counters of replica s, in the order of the arguments. */
static void
assert_counters(const struct harness_server *s, long written, long conflicts, long errors,
    long timeouts, long retries)
{
	long got[5] = {metric(s, WRITTEN), metric(s, CONFLICTS), metric(s, ERRORS),
	    metric(s, TIMEOUTS), metric(s, RETRIES)};

	if (got[0] != written || got[1] != conflicts || got[2] != errors || got[3] != timeouts ||
	    got[4] != retries) {
		print_log(s);
		fail_msg("writes written %ld conflict %ld error %ld timeout %ld, retries %ld; "
		    "expected %ld %ld %ld %ld, %ld", got[0], got[1], got[2], got[3], got[4],
		    written, conflicts, errors, timeouts, retries);
	}
}

/* How often the log of s has an event. */
static int
log_events(const struct harness_server *s, const char *event)
{
	char *log = harness_slurp(s->log_path), needle[128];
	const char *at = log;
	int n = 0;

	snprintf(needle, sizeof(needle), "\"event\":\"%s\"", event);
	while ((at = strstr(at, needle)) != NULL) {
		n++;
		at += strlen(needle);
	}
	free(log);
	return n;
}

/* The fake's Lease requests, in order: "GET 404,POST 201 replica-a,...". */
static void
assert_trace(const char *want)
{
	char trace[4096];

	assert_int_equal(fakeapi_wait_answered(&world.api, LEASES, WAIT_SECONDS), 0);
	assert_string_equal(fakeapi_trace(&world.api, LEASES, trace, sizeof(trace)), want);
}

/* Every request carried the token, a method and a body the API server takes. */
static void
assert_requests_well_formed(void)
{
	static const int bad[] = {400, 401, 405, 413, 422};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fakeapi_count_status(&world.api, bad[i]) != 0)
			fail_msg("%d request(s) answered %d",
			    fakeapi_count_status(&world.api, bad[i]), bad[i]);
	assert_int_equal(fakeapi_count_requests(&world.api, NULL, DEPLOYMENTS, 404), 0);
}

/*
 * Two replicas, one budget: A admits alpha (200 connections, 260 of 400),
 * then B is asked for beta (160), which fits alone (its dry run says so, and
 * reads no Lease) but not beside alpha: refused with the sums of both. The
 * first increase creates the Lease (POST, 201), and it holds A's entry.
 */
static void
test_second_replica_counts_first(void **state)
{
	struct lease_state *st;
	struct answer a;
	double before, after;
	char *json;
	cJSON *lease;

	(void)state;
	put_deployment("api", 3, 20);
	start_replica(&world.a, "replica-a", world.budget, NULL, NULL);
	start_replica(&world.b, "replica-b", world.budget, NULL, NULL);
	assert_null(lease_now());

	a = post_review(&world.b, review_json("CREATE", "beta", -1, 8, 20, 1));
	assert_true(a.allowed);
	assert_int_equal(fakeapi_count_requests(&world.api, NULL, LEASES, 0), 0);

	before = wall_now();
	a = create(&world.a, "alpha", 10, 20);
	after = wall_now();
	assert_true(a.allowed);
	assert_string_equal(a.warnings, "");
	assert_trace("GET 404,POST 201 replica-a");

	a = create(&world.b, "beta", 8, 20);
	assert_false(a.allowed);
	assert_string_equal(a.message, "poolguard: deployment synergyflow/beta would hold 8 "
	    "replicas x pool 20 = 160 connections; role 'app' would use 420 of 400 connections "
	    "(105%), 20 over; what fits: at most 7 replicas at pool size 20, or pool size at most "
	    "17 at 8 replicas");
	assert_trace("GET 404,POST 201 replica-a,GET 200");

	assert_non_null(st = lease_now());
	assert_int_equal(st->count, 1);
	assert_entry(st, 0, "alpha", 200, "replica-a");
	/* --reservation-seconds 30 from the moment A judged it */
	assert_true(st->entries[0].expires >= before + 30 - 1);
	assert_true(st->entries[0].expires <= after + 30 + 1);
	free(st);
	json = fakeapi_object(&world.api, LEASES, "poolguard-reservations");
	lease = cJSON_Parse(json);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(lease, "spec"), "holderIdentity")), "replica-a");
	cJSON_Delete(lease);
	free(json);

	/* Each counts alpha: A holds it, B took it from the Lease. */
	assert_int_equal(metric(&world.a, APP), 260);
	assert_int_equal(metric(&world.b, APP), 260);
	assert_int_equal(metric(&world.a, RESERVATIONS), 1);
	assert_int_equal(metric(&world.b, RESERVATIONS), 1);
	assert_counters(&world.a, 1, 0, 0, 0, 0);
	assert_counters(&world.b, 0, 0, 0, 0, 0);
	assert_int_equal(metric(&world.a, API_CALLS), 2);
	assert_int_equal(metric(&world.b, API_CALLS), 1);
	assert_requests_well_formed();
	stop_server(&world.a);
	stop_server(&world.b);
}


/* Lets the held write go and returns the answer to the review sent with send_held(). */
static struct answer
release_held(void)
{
	fakeapi_set(&world.api, LEASES, FAKEAPI_HOLD_WRITES, 0, 0);
	pthread_join(world.pending.thread, NULL);
	world.pending.started = 0;
	return world.pending.answer;
}

static void *
pending_run(void *arg)
{
	struct pending *p = arg;

	p->answer = post_review(p->s, p->review);
	return NULL;
}

/* Holds the next Lease write, then sends review to s in a thread; returns once it is held. */
static void
send_held(const struct harness_server *s, char *review)
{
	struct pending *p = &world.pending;

	fakeapi_set(&world.api, LEASES, FAKEAPI_HOLD_WRITES, 1, 0);
	p->s = s;
	p->review = review;
	assert_int_equal(pthread_create(&p->thread, NULL, pending_run, p), 0);
	p->started = 1;
	if (fakeapi_wait(&world.api, LEASES, FAKEAPI_HELD_WRITES, 1, WAIT_SECONDS) != 0) {
		print_log(s);
		fail_msg("no Lease write came to be held");
	}
}

/*
 * Both replicas read the same resourceVersion: A's PUT is held at the fake
 * while B reads and writes beta (160), then let go. A gets 409, reads the
 * Lease again with beta in it, judges again and writes again only if alpha
 * still fits beside beta.
 */
static void
conflict(long alpha_replicas, int fits)
{
	struct lease_state *st;
	struct answer a, held;
	char *log, want[256];
	long seeded;

	put_deployment("api", 3, 20);
	seeded = seed_lease(NULL);
	start_replica(&world.a, "replica-a", world.budget, "4", NULL);
	start_replica(&world.b, "replica-b", world.budget, "4", NULL);

	send_held(&world.a, review_json("CREATE", "alpha", -1, alpha_replicas, 20, 0));
	a = create(&world.b, "beta", 8, 20);
	assert_true(a.allowed);
	assert_int_equal(lease_version(), seeded + 1);
	held = release_held();
	print_message("A answered after %.2f s, with the conflict and the second judgement\n",
	    held.seconds);
	assert_int_equal(held.status, 200);

	assert_non_null(st = lease_now());
	if (fits) {
		/* 60 + 160 + 100 = 320 of 400 */
		assert_true(held.allowed);
		assert_trace("GET 200,PUT 409 replica-a,GET 200,PUT 200 replica-b,GET 200,"
		    "PUT 200 replica-a");
		assert_int_equal(st->count, 2);
		assert_entry(st, 0, "beta", 160, "replica-b");
		assert_entry(st, 1, "alpha", 100, "replica-a");
		assert_counters(&world.a, 1, 1, 0, 0, 1);
		assert_int_equal(metric(&world.a, APP), 320);
	} else {
		/* 60 + 160 + 200 = 420 of 400: refused with the sums of both */
		assert_false(held.allowed);
		assert_string_equal(held.message, "poolguard: deployment synergyflow/alpha would "
		    "hold 10 replicas x pool 20 = 200 connections; role 'app' would use 420 of 400 "
		    "connections (105%), 20 over; what fits: at most 9 replicas at pool size 20, "
		    "or pool size at most 18 at 10 replicas");
		assert_trace("GET 200,PUT 409 replica-a,GET 200,PUT 200 replica-b,GET 200");
		assert_int_equal(st->count, 1);
		assert_entry(st, 0, "beta", 160, "replica-b");
		assert_counters(&world.a, 0, 1, 0, 0, 1);
		assert_int_equal(metric(&world.a, APP), 220);
		assert_int_equal(metric(&world.a, RESERVATIONS), 1);	/* beta, from the Lease */
	}
	free(st);
	assert_counters(&world.b, 1, 0, 0, 0, 0);
	assert_int_equal(metric(&world.a, DENIED) + metric(&world.a, ALLOWED), 0);

	/* One reservation_conflict line, saying what happened. */
	assert_int_equal(log_events(&world.a, "reservation_conflict"), 1);
	assert_int_equal(log_events(&world.b, "reservation_conflict"), 0);
	log = harness_slurp(world.a.log_path);
	snprintf(want, sizeof(want), "PUT Lease " LEASE_NAME ": resourceVersion %ld is not the "
	    "latest; attempt 1 for deployment synergyflow/alpha, judging again", seeded);
	assert_contains(log, want);
	free(log);
	assert_requests_well_formed();
	stop_server(&world.a);
	stop_server(&world.b);
}

static void
test_conflict_then_refused(void **state)
{
	(void)state;
	conflict(10, 0);
}

static void
test_conflict_then_admitted(void **state)
{
	(void)state;
	conflict(5, 1);
}

/*
 * No Lease yet, and both replicas find none: A's POST is held while B's
 * creates it; A's then gets 409 AlreadyExists, and A reads it (GET) and
 * writes its entry beside B's (PUT).
 */
static void
test_create_race(void **state)
{
	struct lease_state *st;
	struct answer a, held;
	char *log;

	(void)state;
	put_deployment("api", 3, 20);
	start_replica(&world.a, "replica-a", world.budget, "4", NULL);
	start_replica(&world.b, "replica-b", world.budget, "4", NULL);
	send_held(&world.a, review_json("CREATE", "alpha", -1, 5, 20, 0));
	a = create(&world.b, "beta", 8, 20);
	assert_true(a.allowed);
	held = release_held();
	assert_int_equal(held.status, 200);
	assert_true(held.allowed);
	assert_trace("GET 404,POST 409 replica-a,GET 404,POST 201 replica-b,GET 200,"
	    "PUT 200 replica-a");
	assert_non_null(st = lease_now());
	assert_int_equal(st->count, 2);
	assert_entry(st, 0, "beta", 160, "replica-b");
	assert_entry(st, 1, "alpha", 100, "replica-a");
	free(st);
	assert_counters(&world.a, 1, 1, 0, 0, 1);
	assert_counters(&world.b, 1, 0, 0, 0, 0);
	assert_int_equal(log_events(&world.a, "reservation_conflict"), 1);
	log = harness_slurp(world.a.log_path);
	assert_contains(log, "POST Lease " LEASE_NAME ": resourceVersion (none) is not the latest");
	free(log);
	assert_requests_well_formed();
	stop_server(&world.a);
	stop_server(&world.b);
}

/* Asserts that a took the deadline, and no more than the slack beyond it. */
static void
assert_took_deadline(const struct answer *a, const char *what)
{
	print_message("%s: answered after %.3f s (deadline %.1f s)\n", what, a->seconds,
	    world.short_seconds);
	assert_true(a->seconds >= world.short_seconds - 0.05);
	assert_true(a->seconds <= world.short_seconds + world.slack);
}

/*
 * The Lease cannot be written: 500 and 403 on the write, 403 on the read,
 * no answer within --lease-timeout. With the default reservationUnavailable
 * (deny) each increase is refused saying so, within the deadline; nothing is
 * held or written.
 */
static void
test_unavailable_denies(void **state)
{
	struct answer a;
	char want[512];
	long rv;

	(void)state;
	put_deployment("api", 3, 20);
	rv = seed_lease(NULL);
	start_replica(&world.a, "replica-a", world.budget, world.short_timeout, NULL);

	fakeapi_set(&world.api, LEASES, FAKEAPI_FAIL_WRITES, 1, 500);
	a = create(&world.a, "alpha", 10, 20);
	assert_false(a.allowed);
	snprintf(want, sizeof(want), "poolguard " UNRECORDED " within %s s (PUT Lease " LEASE_NAME
	    ": HTTP 500: the fake was told to fail this write), so this increase cannot be judged "
	    "beside the other replicas' admissions; retry, or see reservationUnavailable in the "
	    "budget", world.short_timeout);
	assert_string_equal(a.message, want);
	assert_true(a.seconds < world.short_seconds + world.slack);

	fakeapi_set(&world.api, LEASES, FAKEAPI_FAIL_WRITES, 1, 403);
	a = create(&world.a, "alpha", 10, 20);
	assert_false(a.allowed);
	assert_contains(a.message, UNRECORDED);
	assert_contains(a.message, "(PUT Lease " LEASE_NAME ": HTTP 403: the fake was told to fail "
	    "this write)");

	fakeapi_set(&world.api, LEASES, FAKEAPI_FAIL_READS, 1, 403);
	a = create(&world.a, "alpha", 10, 20);
	assert_false(a.allowed);
	assert_contains(a.message, "(GET Lease " LEASE_NAME ": HTTP 403: the fake was told to fail "
	    "this read)");
	assert_trace("GET 200,PUT 500 replica-a,GET 200,PUT 403 replica-a,GET 403");

	/* A write that takes longer than the deadline. */
	fakeapi_set(&world.api, LEASES, FAKEAPI_DELAY_WRITES,
	    (int)(world.short_seconds * 1000) + 1500, 0);
	a = create(&world.a, "alpha", 10, 20);
	assert_false(a.allowed);
	snprintf(want, sizeof(want), "(PUT Lease " LEASE_NAME ": no answer within %s s)",
	    world.short_timeout);
	assert_contains(a.message, UNRECORDED);
	assert_contains(a.message, want);
	assert_took_deadline(&a, "a write past --lease-timeout");

	/* Nothing is held, and the three writes refused changed nothing. */
	assert_int_equal(metric(&world.a, RESERVATIONS), 0);
	assert_int_equal(metric(&world.a, APP), 60);
	assert_counters(&world.a, 0, 0, 2, 1, 0);
	assert_int_equal(metric(&world.a, DENIED), 4);
	assert_int_equal(metric(&world.a, ALLOWED), 0);
	assert_int_equal(log_events(&world.a, "reservation_unavailable"), 4);
	assert_int_equal(lease_version(), rv);
	/* The write that timed out lands once the fake lets it through, as a real one may. */
	fakeapi_set(&world.api, LEASES, FAKEAPI_DELAY_WRITES, 0, 0);
	assert_int_equal(fakeapi_wait_answered(&world.api, LEASES, WAIT_SECONDS), 0);
	assert_int_equal(lease_version(), rv + 1);
	assert_requests_well_formed();
	stop_server(&world.a);
}

/*
 * The same with reservationUnavailable: allow: admitted with the warning,
 * and held by this replica, so its next increase counts it.
 */
static void
test_unavailable_allows(void **state)
{
	struct answer a;
	char want[512];

	(void)state;
	put_deployment("api", 3, 20);
	seed_lease(NULL);
	start_replica(&world.a, "replica-a", world.lenient, world.short_timeout, NULL);

	/* The first warning; the answer and the cause follow: test_allow_warning_says_why. */
	snprintf(want, sizeof(want), "poolguard " UNRECORDED " within %s s | admitted, held by "
	    "this replica only (reservationUnavailable: allow) | why: ", world.short_timeout);
	fakeapi_set(&world.api, LEASES, FAKEAPI_FAIL_WRITES, 1, 500);
	a = create(&world.a, "alpha", 5, 20);
	assert_true(a.allowed);
	assert_int_equal(strncmp(a.warnings, want, strlen(want)), 0);

	fakeapi_set(&world.api, LEASES, FAKEAPI_DELAY_WRITES,
	    (int)(world.short_seconds * 1000) + 1500, 0);
	a = create(&world.a, "gamma", 5, 20);
	assert_true(a.allowed);
	assert_int_equal(strncmp(a.warnings, want, strlen(want)), 0);
	assert_took_deadline(&a, "a write past --lease-timeout, allowed");
	fakeapi_set(&world.api, LEASES, FAKEAPI_DELAY_WRITES, 0, 0);
	assert_int_equal(fakeapi_wait_answered(&world.api, LEASES, WAIT_SECONDS), 0);

	/* 60 + 100 + 100 held here; beta (160) fits the Lease's count but not this one. */
	assert_int_equal(metric(&world.a, RESERVATIONS), 2);
	assert_int_equal(metric(&world.a, APP), 260);
	a = create(&world.a, "beta", 8, 20);
	assert_false(a.allowed);
	assert_contains(a.message, "role 'app' would use 420 of 400 connections (105%), 20 over");
	assert_counters(&world.a, 0, 0, 1, 1, 0);
	assert_int_equal(metric(&world.a, ALLOWED), 2);
	assert_int_equal(metric(&world.a, DENIED), 0);
	assert_requests_well_formed();
	stop_server(&world.a);
}

/*
 * Decreases, unchanged updates and dry runs never touch the API server:
 * with every Lease read delayed for 10 s and every write held and failing,
 * they are answered at once and the fake sees no Lease request. An
 * increase then waits out its deadline on the read, which shows the fake
 * was indeed holding.
 */
static void
test_no_lease_call_without_increase(void **state)
{
	struct answer a;
	double limit = world.slow ? 5.0 : 1.0;

	(void)state;
	put_deployment("api", 3, 20);
	seed_lease(NULL);
	start_replica(&world.a, "replica-a", world.budget, world.short_timeout, NULL);
	fakeapi_set(&world.api, LEASES, FAKEAPI_DELAY_READS, 10000, 0);
	fakeapi_set(&world.api, LEASES, FAKEAPI_HOLD_WRITES, 100, 0);
	fakeapi_set(&world.api, LEASES, FAKEAPI_FAIL_WRITES, 100, 500);

	a = post_review(&world.a, review_json("UPDATE", "api", 3, 2, 20, 0));
	assert_true(a.allowed);
	assert_true(a.seconds < limit);
	a = post_review(&world.a, review_json("UPDATE", "api", 3, 3, 20, 0));
	assert_true(a.allowed);
	assert_true(a.seconds < limit);
	a = post_review(&world.a, review_json("CREATE", "alpha", -1, 10, 20, 1));
	assert_true(a.allowed);
	assert_true(a.seconds < limit);
	a = post_review(&world.a, review_json("UPDATE", "api", 3, 21, 20, 1));
	assert_false(a.allowed);		/* judged all the same */
	assert_contains(a.message, "role 'app' would use 420 of 400 connections");
	assert_true(a.seconds < limit);
	assert_int_equal(fakeapi_count_requests(&world.api, NULL, LEASES, 0), 0);

	a = create(&world.a, "alpha", 10, 20);
	assert_false(a.allowed);
	assert_contains(a.message, "(GET Lease " LEASE_NAME ": no answer within");
	assert_took_deadline(&a, "a read past --lease-timeout");
	assert_int_equal(fakeapi_count_requests(&world.api, NULL, LEASES, 0), 1);
	assert_int_equal(fakeapi_count_requests(&world.api, "GET", LEASES, 0), 1);
	assert_counters(&world.a, 0, 0, 0, 0, 0);
	assert_int_equal(metric(&world.a, DENIED), 1);
	stop_server(&world.a);
}

/*
 * Entries another replica left: one expired (300 connections in app), one
 * for a role this budget does not have (900, enough to break the cluster's
 * 1000). Neither counts, so alpha (200) is admitted at 260 of 400; the
 * write prunes the expired one and keeps the other.
 */
static void
test_expired_and_foreign_entries(void **state)
{
	struct lease_state *st;
	struct answer a;
	char annotation[1024];
	double now = wall_now();

	(void)state;
	put_deployment("api", 3, 20);
	snprintf(annotation, sizeof(annotation), "{\"v\":1,\"entries\":["
	    "[\"Deployment\",\"synergyflow\",\"old\",\"app\",300,%.3f,\"replica-z\",0],"
	    "[\"Deployment\",\"synergyflow\",\"other\",\"ghost\",900,%.3f,\"replica-z\",0]]}",
	    now - 60, now + 600);
	seed_lease(annotation);
	start_replica(&world.a, "replica-a", world.budget, "4", NULL);
	a = create(&world.a, "alpha", 10, 20);
	if (!a.allowed)
		fail_msg("refused: %s", a.message);
	assert_non_null(st = lease_now());
	assert_int_equal(st->count, 2);
	assert_string_equal(st->entries[0].name, "other");
	assert_string_equal(st->entries[0].role, "ghost");
	assert_int_equal(st->entries[0].connections, 900);
	assert_entry(st, 1, "alpha", 200, "replica-a");
	free(st);
	assert_int_equal(metric(&world.a, EXPIRED), 1);
	assert_int_equal(metric(&world.a, APP), 260);
	assert_int_equal(metric(&world.a, RESERVATIONS), 1);
	assert_counters(&world.a, 1, 0, 0, 0, 0);
	assert_trace("GET 200,PUT 200 replica-a");
	assert_requests_well_formed();
	stop_server(&world.a);
}

/*
 * An entry expires between two judgements of B: A admits alpha (200) with
 * --reservation-seconds 3, B refuses beta (160) beside it, and once alpha's
 * entry has expired B admits beta, pruning alpha from the Lease.
 */
static void
test_expiry_between_replicas(void **state)
{
	const char *seconds[] = {"--reservation-seconds", world.slow ? "8" : "3", NULL};
	struct timespec pause;
	struct lease_state *st;
	struct answer a;
	double expires, wait;

	(void)state;
	put_deployment("api", 3, 20);
	start_replica(&world.a, "replica-a", world.budget, "4", seconds);
	start_replica(&world.b, "replica-b", world.budget, "4", NULL);
	a = create(&world.a, "alpha", 10, 20);
	assert_true(a.allowed);
	a = create(&world.b, "beta", 8, 20);
	assert_false(a.allowed);
	assert_contains(a.message, "role 'app' would use 420 of 400 connections");
	assert_non_null(st = lease_now());
	assert_int_equal(st->count, 1);
	expires = st->entries[0].expires;
	free(st);
	if (wall_now() >= expires)
		fail_msg("B was answered after alpha's entry expired: too slow to test this");

	wait = expires - wall_now() + 0.2;
	pause.tv_sec = (time_t)wait;
	pause.tv_nsec = (long)((wait - (double)pause.tv_sec) * 1e9);
	nanosleep(&pause, NULL);
	a = create(&world.b, "beta", 8, 20);
	if (!a.allowed)
		fail_msg("refused after alpha's entry expired: %s", a.message);
	assert_non_null(st = lease_now());
	assert_int_equal(st->count, 1);
	assert_entry(st, 0, "beta", 160, "replica-b");
	free(st);
	assert_int_equal(metric(&world.b, EXPIRED), 1);
	assert_int_equal(metric(&world.a, EXPIRED), 0);
	assert_int_equal(metric(&world.b, APP), 220);
	assert_int_equal(metric(&world.a, APP), 60);	/* its own hold ended too */
	assert_counters(&world.b, 1, 0, 0, 0, 0);
	assert_trace("GET 404,POST 201 replica-a,GET 200,GET 200,PUT 200 replica-b");
	assert_requests_well_formed();
	stop_server(&world.a);
	stop_server(&world.b);
}

/*
 * A Lease whose annotation poolguard cannot read: an increase is answered
 * per reservationUnavailable (A denies, B allows), with a message naming
 * the Lease, the annotation and the entry; neither overwrites it.
 */
static void
test_corrupt_annotation(void **state)
{
	static const struct {
		const char *annotation;
		const char *why;
	} rows[] = {
		{"{\"v\":1,\"entries\":[[\"Deployment\",\"synergyflow\",\"x\",\"app\",10,4e9,"
		    "\"r\",0],[\"Deployment\",\"synergyflow\",\"y\",\"app\",\"many\",4e9,\"r\",0]]}",
		    "annotation " LEASE_ANNOTATION ": entry 1: connections must be a whole number "
		    "from 1 to 1e12"},
		{"{\"v\":1,\"entries\":[[\"Pod\",\"synergyflow\",\"x\",\"app\",10,4e9,\"r\",0]]}",
		    "annotation " LEASE_ANNOTATION ": entry 0: kind 'Pod' is not a workload kind"},
		{"{\"v\":1,\"entries\":[[\"Deployment\",\"synergyflow\",\"x\",\"app\",10,4e9]]}",
		    "annotation " LEASE_ANNOTATION ": entry 0: must be an array of 8 fields"},
		{"{\"v\":2,\"entries\":[]}",
		    "annotation " LEASE_ANNOTATION ": version \"v\" must be 1"},
		{"[\"Deployment\"", "annotation " LEASE_ANNOTATION ": not JSON"},
	};
	struct answer a;
	char want[1024], name[32];
	size_t i;
	long rv;

	(void)state;
	put_deployment("api", 3, 20);
	start_replica(&world.a, "replica-a", world.budget, "4", NULL);
	start_replica(&world.b, "replica-b", world.lenient, "4", NULL);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rv = seed_lease(rows[i].annotation);
		snprintf(want, sizeof(want), "(%s", rows[i].why);
		/* A new workload each time: B holds each one it admits (2 x 20) */
		snprintf(name, sizeof(name), "alpha-%zu", i);
		a = create(&world.a, name, 2, 20);
		assert_false(a.allowed);
		assert_contains(a.message, UNRECORDED);
		assert_contains(a.message, want);
		a = create(&world.b, name, 2, 20);
		assert_true(a.allowed);
		assert_contains(a.warnings, UNRECORDED);	/* the rest: below */
		assert_int_equal(lease_version(), rv);
	}
	assert_int_equal(fakeapi_count_requests(&world.api, "GET", LEASES, 200), 10);
	assert_int_equal(fakeapi_count_requests(&world.api, "PUT", LEASES, 0), 0);
	assert_int_equal(fakeapi_count_requests(&world.api, "POST", LEASES, 0), 0);
	assert_int_equal(metric(&world.a, DENIED), 5);
	assert_int_equal(metric(&world.b, ALLOWED), 5);
	assert_counters(&world.a, 0, 0, 0, 0, 0);
	assert_counters(&world.b, 0, 0, 0, 0, 0);
	assert_int_equal(metric(&world.a, APP), 60);
	assert_int_equal(metric(&world.b, APP), 60 + 5 * 40);
	assert_requests_well_formed();
	stop_server(&world.a);
	stop_server(&world.b);
}

/*
 * With reservationUnavailable: allow the warnings say why the Lease could
 * not be written and that the increase was admitted unshared, as the
 * denial does, each within VERDICT_WARNING_MAX (120) characters, which is
 * what kubectl shows of a warning (once one sentence of 250, cut short).
 */
static void
test_allow_warning_says_why(void **state)
{
	static const struct {
		const char *annotation;		/* NULL: a good Lease whose write fails */
		const char *cause;
	} rows[] = {
		{NULL, "HTTP 500"},
		{"{\"v\":1,\"entries\":[[\"Deployment\",\"synergyflow\",\"y\",\"app\",\"many\",4e9,"
		    "\"r\",0]]}", "entry 0: connections must be a whole number"},
	};
	struct answer a;
	char name[32];
	size_t i;
	int missing = 0;

	(void)state;
	put_deployment("api", 3, 20);
	start_replica(&world.a, "replica-a", world.lenient, "4", NULL);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		seed_lease(rows[i].annotation);
		if (rows[i].annotation == NULL)
			fakeapi_set(&world.api, LEASES, FAKEAPI_FAIL_WRITES, 1, 500);
		snprintf(name, sizeof(name), "alpha-%zu", i);
		a = create(&world.a, name, 2, 20);
		assert_true(a.allowed);
		assert_contains(a.warnings, UNRECORDED);
		if (strstr(a.warnings, rows[i].cause) == NULL ||
		    strstr(a.warnings, "reservationUnavailable: allow") == NULL) {
			print_message("the warning names neither '%s' nor the setting, or only "
			    "one: \"%s\" (%zu characters)\n", rows[i].cause, a.warnings,
			    strlen(a.warnings));
			missing++;
		}
	}
	assert_int_equal(metric(&world.a, ALLOWED), 2);
	stop_server(&world.a);
	assert_int_equal(missing, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_second_replica_counts_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_then_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_then_admitted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unavailable_denies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unavailable_allows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_lease_call_without_increase, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_expired_and_foreign_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_between_replicas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_annotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allow_warning_says_why, setup, teardown),
	};

	return cmocka_run_group_tests_name("lease", tests, group_setup, group_teardown);
}
