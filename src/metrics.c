/*
 * metrics.c - Prometheus text exposition of poolguard's counters and gauges.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "poolguard/budget.h"
#include "poolguard/metrics.h"

/* Latency buckets in seconds: an admission takes tens of microseconds. */
static const double metrics_buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5,
};
#define METRICS_BUCKETS (sizeof(metrics_buckets) / sizeof(metrics_buckets[0]))

/*
 * The label values a request may produce. The last of each list, "other",
 * stands for everything the list does not name; "" is a body that did not
 * decode. So the table below has a fixed size and a client cannot add series.
 */
static const char *const metrics_operations[] = {
	"", "CREATE", "UPDATE", "DELETE", "CONNECT", "other",
};
static const char *const metrics_resources[] = {
	"", "deployments", "deployments/scale", "statefulsets", "statefulsets/scale",
	"horizontalpodautoscalers", "other",
};
static const char *const metrics_decisions[] = {
	"allow", "warn", "deny", "error", "other",
};
#define METRICS_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define METRICS_OPERATIONS METRICS_COUNT(metrics_operations)
#define METRICS_RESOURCES METRICS_COUNT(metrics_resources)
#define METRICS_DECISIONS METRICS_COUNT(metrics_decisions)

static const char *const metrics_refusal_reasons[METRICS_REFUSALS] = {
	[METRICS_REQUEST_TIMEOUT] = "request_timeout",
	[METRICS_MEMORY_BUSY] = "memory_busy",
	[METRICS_MEMORY_TOO_LARGE] = "memory_too_large",
	[METRICS_BODY_TOO_LARGE] = "body_too_large",
	[METRICS_CLIENT_CERTIFICATE] = "client_certificate",
};

/* Latency buckets of a call to the API server: milliseconds to the Lease's timeout. */
static const double metrics_api_buckets[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};
#define METRICS_API_BUCKETS METRICS_COUNT(metrics_api_buckets)

static const char *const metrics_lease_results[METRICS_LEASE_WRITE_RESULTS] = {
	[METRICS_LEASE_WRITTEN] = "written",
	[METRICS_LEASE_CONFLICT] = "conflict",
	[METRICS_LEASE_ERROR] = "error",
	[METRICS_LEASE_TIMEOUT] = "timeout",
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static long metrics_requests[METRICS_OPERATIONS][METRICS_RESOURCES][METRICS_DECISIONS];
static long metrics_bucket_counts[METRICS_BUCKETS];
static long metrics_latency_count;
static double metrics_latency_sum;
static atomic_long metrics_refusals[METRICS_REFUSALS];
static atomic_long metrics_reloads_ok;
static atomic_long metrics_reloads_failed;
static atomic_long metrics_last_reload;
static atomic_long metrics_cert_expiry;
static atomic_long metrics_lease_writes[METRICS_LEASE_WRITE_RESULTS];
static atomic_long metrics_lease_retries;
static atomic_long metrics_lease_expired;
static atomic_long metrics_lease_unavailable[2];	/* denied, allowed */
static long metrics_api_bucket_counts[METRICS_API_BUCKETS];	/* under metrics_lock */
static long metrics_api_count;
static double metrics_api_sum;

void
metrics_reset(void)
{
	size_t i;

	pthread_mutex_lock(&metrics_lock);
	memset(metrics_requests, 0, sizeof(metrics_requests));
	memset(metrics_bucket_counts, 0, sizeof(metrics_bucket_counts));
	metrics_latency_count = 0;
	metrics_latency_sum = 0;
	memset(metrics_api_bucket_counts, 0, sizeof(metrics_api_bucket_counts));
	metrics_api_count = 0;
	metrics_api_sum = 0;
	pthread_mutex_unlock(&metrics_lock);
	for (i = 0; i < METRICS_LEASE_WRITE_RESULTS; i++)
		atomic_store(&metrics_lease_writes[i], 0);
	atomic_store(&metrics_lease_retries, 0);
	atomic_store(&metrics_lease_expired, 0);
	atomic_store(&metrics_lease_unavailable[0], 0);
	atomic_store(&metrics_lease_unavailable[1], 0);
	for (i = 0; i < METRICS_REFUSALS; i++)
		atomic_store(&metrics_refusals[i], 0);
	atomic_store(&metrics_reloads_ok, 0);
	atomic_store(&metrics_reloads_failed, 0);
	atomic_store(&metrics_last_reload, 0);
	atomic_store(&metrics_cert_expiry, 0);
}

/* The index of value in a list whose last entry is "other"; NULL counts as "". */
static size_t
metrics_index(const char *const *list, size_t n, const char *value)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (strcmp(list[i], value ? value : "") == 0)
			return i;
	return n - 1;
}

/*
 * The length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0 when s starts none.
 */
static size_t
metrics_utf8_length(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * Writes in as a label value of the text format into out: backslash, double
 * quote and newline escaped, every byte that starts no valid UTF-8 sequence
 * replaced by U+FFFD. Cut at a character when out is full, so the result is
 * always valid.
 */
static void
metrics_escape(char *out, size_t size, const char *in)
{
	const unsigned char *s = (const unsigned char *)(in ? in : "");
	const char *add;
	size_t n, len = 0, step;
	char two[2];

	while (*s) {
		step = 1;
		if (*s == '\\' || *s == '"' || *s == '\n') {
			two[0] = '\\';
			two[1] = *s == '\n' ? 'n' : (char)*s;
			add = two;
			n = 2;
		} else if ((n = metrics_utf8_length(s)) != 0) {
			add = (const char *)s;
			step = n;
		} else {
			add = "\xef\xbf\xbd";
			n = 3;
		}
		if (len + n + 1 > size)
			break;
		memcpy(out + len, add, n);
		len += n;
		s += step;
	}
	out[len] = '\0';
}

void
metrics_count_request(const char *operation, const char *resource, const char *decision,
    double seconds)
{
	size_t o = metrics_index(metrics_operations, METRICS_OPERATIONS, operation);
	size_t r = metrics_index(metrics_resources, METRICS_RESOURCES, resource);
	size_t d = metrics_index(metrics_decisions, METRICS_DECISIONS, decision);
	size_t i;

	pthread_mutex_lock(&metrics_lock);
	metrics_requests[o][r][d]++;
	for (i = 0; i < METRICS_BUCKETS; i++)
		if (seconds <= metrics_buckets[i])
			metrics_bucket_counts[i]++;
	metrics_latency_count++;
	metrics_latency_sum += seconds;
	pthread_mutex_unlock(&metrics_lock);
}

void
metrics_count_refusal(enum metrics_refusal what)
{
	if (what < METRICS_REFUSALS)
		atomic_fetch_add(&metrics_refusals[what], 1);
}

void
metrics_count_lease_write(enum metrics_lease_write result)
{
	if (result < METRICS_LEASE_WRITE_RESULTS)
		atomic_fetch_add(&metrics_lease_writes[result], 1);
}

void
metrics_count_lease_retry(void)
{
	atomic_fetch_add(&metrics_lease_retries, 1);
}

void
metrics_count_lease_expired(size_t n)
{
	atomic_fetch_add(&metrics_lease_expired, (long)n);
}

void
metrics_count_lease_unavailable(int allowed)
{
	atomic_fetch_add(&metrics_lease_unavailable[allowed != 0], 1);
}

void
metrics_observe_lease_call(double seconds)
{
	size_t i;

	pthread_mutex_lock(&metrics_lock);
	for (i = 0; i < METRICS_API_BUCKETS; i++)
		if (seconds <= metrics_api_buckets[i])
			metrics_api_bucket_counts[i]++;
	metrics_api_count++;
	metrics_api_sum += seconds;
	pthread_mutex_unlock(&metrics_lock);
}

void
metrics_count_reload(int success, time_t when)
{
	if (success) {
		atomic_fetch_add(&metrics_reloads_ok, 1);
		atomic_store(&metrics_last_reload, (long)when);
	} else
		atomic_fetch_add(&metrics_reloads_failed, 1);
}

void
metrics_set_certificate_expiry(time_t not_after)
{
	atomic_store(&metrics_cert_expiry, (long)not_after);
}

static void
metrics_head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics_write_requests(FILE *out)
{
	size_t i, o, r, d;

	metrics_head(out, "poolguard_admission_requests_total", "counter",
	    "Admission reviews answered, by operation, resource and decision.");
	pthread_mutex_lock(&metrics_lock);
	/* The label values are the fixed lists above: nothing to escape. */
	for (o = 0; o < METRICS_OPERATIONS; o++)
		for (r = 0; r < METRICS_RESOURCES; r++)
			for (d = 0; d < METRICS_DECISIONS; d++)
				if (metrics_requests[o][r][d] != 0)
					fprintf(out, "poolguard_admission_requests_total{operation="
					    "\"%s\",resource=\"%s\",decision=\"%s\"} %ld\n",
					    metrics_operations[o], metrics_resources[r],
					    metrics_decisions[d], metrics_requests[o][r][d]);
	metrics_head(out, "poolguard_admission_duration_seconds", "histogram",
	    "Time to decode, judge and encode one admission review.");
	for (i = 0; i < METRICS_BUCKETS; i++)
		fprintf(out, "poolguard_admission_duration_seconds_bucket{le=\"%g\"} %ld\n",
		    metrics_buckets[i], metrics_bucket_counts[i]);
	fprintf(out, "poolguard_admission_duration_seconds_bucket{le=\"+Inf\"} %ld\n"
	    "poolguard_admission_duration_seconds_sum %.9f\n"
	    "poolguard_admission_duration_seconds_count %ld\n", metrics_latency_count,
	    metrics_latency_sum, metrics_latency_count);
	pthread_mutex_unlock(&metrics_lock);
}

static double
metrics_ratio(long used, long limit)
{
	return limit > 0 ? (double)used / (double)limit : 0;
}

void
metrics_write_sample(FILE *out, const char *name, const char *key, const char *value,
    double number)
{
	char label[512];

	if (key == NULL) {
		fprintf(out, "%s %.15g\n", name, number);
		return;
	}
	metrics_escape(label, sizeof(label), value);
	fprintf(out, "%s{%s=\"%s\"} %.15g\n", name, key, label, number);
}

static void
metrics_write_budget(FILE *out, const struct metrics_view *v)
{
	const struct config *cfg = v->cfg;
	long used, limit;
	size_t r;

	metrics_head(out, "poolguard_role_connections", "gauge",
	    "Connections a role holds: its workloads' replicas x pool plus external connections.");
	for (r = 0; r < cfg->role_count; r++)
		metrics_write_sample(out, "poolguard_role_connections", "role", cfg->roles[r].name,
		    (double)budget_role_used(cfg, v->role_usage, r));
	metrics_head(out, "poolguard_role_connection_limit", "gauge",
	    "The role's CONNECTION LIMIT in the budget (roles without a limit are left out).");
	for (r = 0; r < cfg->role_count; r++)
		if ((limit = cfg->roles[r].connection_limit) != CONFIG_NO_LIMIT)
			metrics_write_sample(out, "poolguard_role_connection_limit", "role",
			    cfg->roles[r].name, (double)limit);
	metrics_head(out, "poolguard_role_utilization_ratio", "gauge",
	    "Connections held over the role's limit, 1 is full.");
	for (r = 0; r < cfg->role_count; r++)
		if ((limit = cfg->roles[r].connection_limit) != CONFIG_NO_LIMIT)
			metrics_write_sample(out, "poolguard_role_utilization_ratio", "role",
			    cfg->roles[r].name, metrics_ratio(budget_role_used(cfg, v->role_usage, r),
			    limit));
	used = budget_cluster_used(cfg, v->role_usage);
	metrics_head(out, "poolguard_cluster_connections", "gauge",
	    "Connections the cluster holds: reserved plus every role's.");
	metrics_write_sample(out, "poolguard_cluster_connections", "cluster", cfg->cluster_name,
	    (double)used);
	metrics_head(out, "poolguard_cluster_max_connections", "gauge",
	    "PostgreSQL max_connections in the budget.");
	metrics_write_sample(out, "poolguard_cluster_max_connections", "cluster",
	    cfg->cluster_name, (double)cfg->max_connections);
	metrics_head(out, "poolguard_cluster_utilization_ratio", "gauge",
	    "Connections held over max_connections, 1 is full.");
	metrics_write_sample(out, "poolguard_cluster_utilization_ratio", "cluster",
	    cfg->cluster_name, metrics_ratio(used, cfg->max_connections));
	if (cfg->pooler_count > 0) {
		metrics_head(out, "poolguard_pooler_client_connections", "gauge",
		    "Client connections the pods of the roles behind a pooler hold.");
		for (r = 0; r < cfg->pooler_count; r++)
			metrics_write_sample(out, "poolguard_pooler_client_connections", "pooler",
			    cfg->poolers[r].name, (double)budget_pooler_used(cfg, v->role_usage, r));
		metrics_head(out, "poolguard_pooler_max_client_connections", "gauge",
		    "A pooler's client capacity: instances x max_client_conn.");
		for (r = 0; r < cfg->pooler_count; r++)
			metrics_write_sample(out, "poolguard_pooler_max_client_connections", "pooler",
			    cfg->poolers[r].name, (double)budget_pooler_capacity(cfg, r));
	}
	metrics_head(out, "poolguard_budget_findings", "gauge",
	    "Roles whose poolers can open more server connections than the role's limit.");
	metrics_write_sample(out, "poolguard_budget_findings", NULL, NULL,
	    (double)budget_findings(cfg, NULL, 0));
	metrics_head(out, "poolguard_warn_ratio", "gauge",
	    "The budget's warnPercent as a ratio, for alerts that follow the budget.");
	metrics_write_sample(out, "poolguard_warn_ratio", NULL, NULL, cfg->warn_percent / 100.0);
}

/* The series of the reservation Lease, when reservations are shared. */
static void
metrics_write_lease(FILE *out)
{
	size_t i;

	metrics_head(out, "poolguard_reservation_writes_total", "counter",
	    "Writes of the reservation Lease, by result (conflict: another replica wrote first).");
	for (i = 0; i < METRICS_LEASE_WRITE_RESULTS; i++)
		metrics_write_sample(out, "poolguard_reservation_writes_total", "result",
		    metrics_lease_results[i], (double)atomic_load(&metrics_lease_writes[i]));
	metrics_head(out, "poolguard_reservation_retries_total", "counter",
	    "Increases judged again after a conflict on the reservation Lease.");
	fprintf(out, "poolguard_reservation_retries_total %ld\n",
	    atomic_load(&metrics_lease_retries));
	metrics_head(out, "poolguard_reservation_expired_total", "counter",
	    "Reservations this replica pruned from the Lease after they expired.");
	fprintf(out, "poolguard_reservation_expired_total %ld\n",
	    atomic_load(&metrics_lease_expired));
	metrics_head(out, "poolguard_reservation_unavailable_total", "counter",
	    "Increases answered without a shared reservation (the Lease could not be written "
	    "in time), by answer (reservationUnavailable).");
	metrics_write_sample(out, "poolguard_reservation_unavailable_total", "answer", "deny",
	    (double)atomic_load(&metrics_lease_unavailable[0]));
	metrics_write_sample(out, "poolguard_reservation_unavailable_total", "answer", "allow",
	    (double)atomic_load(&metrics_lease_unavailable[1]));
	metrics_head(out, "poolguard_reservation_api_seconds", "histogram",
	    "Latency of one call to the API server about the reservation Lease.");
	pthread_mutex_lock(&metrics_lock);
	for (i = 0; i < METRICS_API_BUCKETS; i++)
		fprintf(out, "poolguard_reservation_api_seconds_bucket{le=\"%g\"} %ld\n",
		    metrics_api_buckets[i], metrics_api_bucket_counts[i]);
	fprintf(out, "poolguard_reservation_api_seconds_bucket{le=\"+Inf\"} %ld\n"
	    "poolguard_reservation_api_seconds_sum %.9f\n"
	    "poolguard_reservation_api_seconds_count %ld\n", metrics_api_count, metrics_api_sum,
	    metrics_api_count);
	pthread_mutex_unlock(&metrics_lock);
}

int
metrics_write(FILE *out, const struct metrics_view *v)
{
	size_t i;

	metrics_write_requests(out);
	if (v && v->cfg)
		metrics_write_budget(out, v);
	metrics_head(out, "poolguard_requests_refused_total", "counter",
	    "Requests the server refused or cut off before judging them, by reason.");
	for (i = 0; i < METRICS_REFUSALS; i++)
		metrics_write_sample(out, "poolguard_requests_refused_total", "reason",
		    metrics_refusal_reasons[i], (double)atomic_load(&metrics_refusals[i]));
	metrics_head(out, "poolguard_config_reloads_total", "counter",
	    "Budget reloads, by result; a failed one leaves the last good budget in force.");
	fprintf(out, "poolguard_config_reloads_total{result=\"success\"} %ld\n"
	    "poolguard_config_reloads_total{result=\"failure\"} %ld\n",
	    atomic_load(&metrics_reloads_ok), atomic_load(&metrics_reloads_failed));
	metrics_head(out, "poolguard_config_last_reload_success_timestamp_seconds", "gauge",
	    "When the budget in force was loaded.");
	fprintf(out, "poolguard_config_last_reload_success_timestamp_seconds %ld\n",
	    atomic_load(&metrics_last_reload));
	metrics_head(out, "poolguard_certificate_expiry_timestamp_seconds", "gauge",
	    "When the serving certificate expires.");
	fprintf(out, "poolguard_certificate_expiry_timestamp_seconds %ld\n",
	    atomic_load(&metrics_cert_expiry));
	if (v) {
		metrics_head(out, "poolguard_inventory_workloads", "gauge",
		    "Workloads in the inventory.");
		fprintf(out, "poolguard_inventory_workloads %zu\n", v->workloads);
		metrics_head(out, "poolguard_reservations", "gauge",
		    "Admitted increases held until the inventory shows them.");
		fprintf(out, "poolguard_reservations %zu\n", v->reservations);
		if (v->shared)
			metrics_write_lease(out);
	}
	if (v && v->live) {
		metrics_head(out, "poolguard_inventory_synced", "gauge",
		    "1 once the inventory has listed everything from the API server.");
		fprintf(out, "poolguard_inventory_synced %d\n", v->live->synced);
		metrics_head(out, "poolguard_inventory_watch_restarts_total", "counter",
		    "Watches that failed and were started again.");
		fprintf(out, "poolguard_inventory_watch_restarts_total %ld\n",
		    v->live->watch_restarts);
		metrics_head(out, "poolguard_inventory_relists_total", "counter",
		    "LISTs after the first (410 Gone or errors).");
		fprintf(out, "poolguard_inventory_relists_total %ld\n", v->live->relists);
		metrics_head(out, "poolguard_inventory_watches_open", "gauge",
		    "Watches open now, of poolguard_inventory_watches (one per resource and namespace).");
		fprintf(out, "poolguard_inventory_watches_open %zu\n", v->live->watches_open);
		metrics_head(out, "poolguard_inventory_watches", "gauge",
		    "Watches the live inventory keeps: one per resource and namespace read.");
		fprintf(out, "poolguard_inventory_watches %zu\n", v->live->watches);
	}
	return ferror(out) ? -1 : 0;
}
