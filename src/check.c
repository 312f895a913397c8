/*
 * check.c - `poolguard check`: the budget of a set of manifests as a table.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "poolguard/budget.h"
#include "poolguard/check.h"
#include "poolguard/inventory.h"
#include "poolguard/rollout.h"
#include "poolguard/table.h"
#include "poolguard/workload.h"

struct check_row {
	struct workload w;
	int role;
	long pods;		/* replicas, or the HPA's maxReplicas */
	long peak;		/* connections at the peak of a rollout restart */
	const cJSON *object;	/* the manifest's object, borrowed */
	char label[300];	/* "namespace/name" */
	struct verdict verdict;
};

/*
 * Drops the rows that a later row of the same kind, namespace and name
 * supersedes (kubectl apply keeps the last), keeping the order of the rest,
 * in time linear in *count. Returns PG_OK, or PG_ERR_NOMEM with the rows
 * untouched.
 */
static int
check_drop_superseded(struct check_row *rows, size_t *count)
{
	struct table *seen;
	unsigned char *keep;
	char *key = NULL, *grown;
	size_t i, j, need, size = 0;
	int result = PG_ERR_NOMEM;

	seen = table_new();
	keep = calloc(*count + 1, 1);
	if (seen == NULL || keep == NULL)
		goto out;
	for (i = *count; i-- > 0;) {
		const struct workload *w = &rows[i].w;

		/* The namespace's length keeps "a/b" + "c" apart from "a" + "b/c". */
		need = strlen(w->namespace) + strlen(w->name) + 48;
		if (need > size) {
			if ((grown = realloc(key, need)) == NULL)
				goto out;
			key = grown;
			size = need;
		}
		snprintf(key, size, "%d/%zu/%s/%s", (int)w->kind, strlen(w->namespace),
		    w->namespace, w->name);
		if (table_get(seen, key) != NULL)
			continue;
		if (table_put(seen, key, &rows[i], NULL))
			goto out;
		keep[i] = 1;
	}
	for (i = 0, j = 0; i < *count; i++)
		if (keep[i]) {
			if (j != i)
				rows[j] = rows[i];
			j++;
		}
	*count = j;
	result = PG_OK;
out:
	free(key);
	free(keep);
	table_free(seen, NULL);
	return result;
}

static void
check_judge(const struct config *cfg, const struct inventory *inv, struct check_row *row)
{
	struct budget_change c;
	struct rollout plan;
	struct pg_error err;

	memset(&c, 0, sizeof(c));
	c.kind = workload_kind_name(row->w.kind);
	c.namespace = row->w.namespace;
	c.name = row->w.name;
	c.role = row->role;
	c.replicas = row->pods;
	c.pool_per_pod = row->w.pool_per_pod;
	c.counted.role = row->role;
	c.counted.connections = row->pods * row->w.pool_per_pod;
	c.previous.role = -1;
	budget_judge(cfg, inventory_role_usage(inv), &c, &row->verdict);
	/*
	 * A `kubectl rollout restart` of it as written: old and new pods side by
	 * side, shown as PEAK. Only rolloutPeak: deny makes it a verdict here, since
	 * applying a manifest rolls out only when its template changes.
	 */
	row->peak = c.replicas * c.pool_per_pod;
	if (rollout_restart(row->w.kind, row->object, c.replicas, c.pool_per_pod, &plan,
	    &err) != PG_OK)
		verdict_deny(&row->verdict, "poolguard: %s %s/%s: %s", c.kind, c.namespace, c.name,
		    err.msg);
	else {
		row->peak = rollout_peak(&plan).connections;
		if (cfg->rollout_peak == ROLLOUT_PEAK_DENY)
			rollout_judge(cfg, &plan, &c, &row->verdict);
	}
	if (row->w.note[0] && row->role >= 0)
		verdict_warn(&row->verdict, "%s", row->w.note);
}

/*
 * Writes one line of text output: fmt and its arguments, every control
 * character replaced (pg_error_sanitize()), then a newline. Names and values
 * come from manifests and the budget, so an ESC, CR or newline in them could
 * otherwise colour a CI log, overwrite a line or forge one; fmt itself holds
 * no newline. All the text output goes through here.
 */
static void
check_line(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
check_line(FILE *out, const char *fmt, ...)
{
	char small[512], *line = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(small)) {
		if ((line = malloc((size_t)n + 1)) == NULL) {
			line = small;	/* out of memory: the line, cut */
		} else {
			va_start(ap, fmt);
			vsnprintf(line, (size_t)n + 1, fmt, ap);
			va_end(ap);
		}
	}
	pg_error_sanitize(line);
	fputs(line, out);
	fputc('\n', out);
	if (line != small)
		free(line);
}

static void
check_print_row(FILE *out, int rw, const char *role, int dw, const struct check_row *row)
{
	char pods[32];

	snprintf(pods, sizeof(pods), "%ld%s", row->pods, row->pods != row->w.replicas ? "*" : "");
	check_line(out, "%-*s  %-*s  %8s  %8ld  %11ld  %6ld", rw, role, dw, row->label, pods,
	    row->w.pool_per_pod, row->pods * row->w.pool_per_pod, row->peak);
}

/* A 20-character bar of used over limit: '#' used, '.' free, '!' past the limit. */
static void
check_bar(char *bar, long used, long limit)
{
	long filled = limit > 0 ? (used * 20 + limit / 2) / limit : 0;
	int i;

	bar[0] = '[';
	for (i = 0; i < 20; i++)
		bar[i + 1] = i < filled ? '#' : '.';
	if (used > limit)
		bar[20] = '!';
	bar[21] = ']';
	bar[22] = '\0';
}

/* A total line: its name, the connections used, and the limit, percent, headroom and bar. */
static void
check_print_total(FILE *out, int rw, const char *first, int dw, const char *second, long used,
    long limit)
{
	char bar[24];

	if (limit == CONFIG_NO_LIMIT) {
		check_line(out, "%-*s  %-*s  %8s  %8s  %11ld  %6s  %6s  %5s  %8s", rw, first, dw,
		    second, "", "", used, "", "none", "-", "-");
		return;
	}
	check_bar(bar, used, limit);
	check_line(out, "%-*s  %-*s  %8s  %8s  %11ld  %6s  %6ld  %4ld%%  %8ld  %s", rw, first, dw,
	    second, "", "", used, "", limit, budget_percent(used, limit), limit - used, bar);
}

static void
check_print_table(const struct config *cfg, const struct inventory *inv,
    const struct check_row *rows, size_t count, FILE *out)
{
	const long *usage = inventory_role_usage(inv);
	int rw = 7, dw = 12;
	size_t r, i, n;

	for (r = 0; r < cfg->role_count; r++)
		if ((n = strlen(cfg->roles[r].name)) > (size_t)rw)
			rw = (int)n;
	for (i = 0; i < count; i++)
		if ((n = strlen(rows[i].label)) > (size_t)dw)
			dw = (int)n;
	if ((n = strlen(cfg->cluster_name)) > (size_t)dw)
		dw = (int)n;
	check_line(out, "%-*s  %-*s  %8s  %8s  %11s  %6s  %6s  %5s  %8s", rw, "ROLE", dw,
	    "DEPLOYMENT", "REPLICAS", "POOL/POD", "CONNECTIONS", "PEAK", "LIMIT", "USED%",
	    "HEADROOM");
	for (r = 0; r < cfg->role_count; r++) {
		for (i = 0; i < count; i++)
			if (rows[i].role == (int)r)
				check_print_row(out, rw, cfg->roles[r].name, dw, &rows[i]);
		if (cfg->roles[r].pooler.index >= 0)
			check_line(out, "%-*s  %-*s  %8s  %8s  %11ld", rw, cfg->roles[r].name, dw,
			    "(via pooler)", "", "", config_role_server_connections(cfg, r));
		if (cfg->roles[r].external_connections > 0)
			check_line(out, "%-*s  %-*s  %8s  %8s  %11ld", rw, cfg->roles[r].name, dw,
			    "(external)", "", "", cfg->roles[r].external_connections);
		check_print_total(out, rw, cfg->roles[r].name, dw, "(total)",
		    budget_role_used(cfg, usage, r), cfg->roles[r].connection_limit);
	}
	for (i = 0; i < count; i++)
		if (rows[i].role < 0)
			check_print_row(out, rw, "(none)", dw, &rows[i]);
	for (i = 0; i < cfg->pooler_count; i++)
		check_print_total(out, rw, "POOLER", dw, cfg->poolers[i].name,
		    budget_pooler_used(cfg, usage, i), budget_pooler_capacity(cfg, i));
	check_print_total(out, rw, "CLUSTER", dw, cfg->cluster_name, budget_cluster_used(cfg, usage),
	    cfg->max_connections);
	check_line(out, "(cluster usage includes %ld reserved connections; workloads under (none) "
	    "match no role and are outside the budget)", cfg->reserved_connections);
	if (cfg->pooler_count > 0)
		check_line(out, "(a role behind a pooler counts the pooler's server connections at the "
		    "database; its pods' connections count against the POOLER's client capacity)");
	for (i = 0; i < count; i++)
		if (rows[i].pods != rows[i].w.replicas) {
			check_line(out, "(* counted at its HorizontalPodAutoscaler's maxReplicas)");
			break;
		}
}

static void
check_print_verdicts(const struct config *cfg, const struct check_row *rows, size_t count,
    FILE *out, const struct check_summary *summary)
{
	char findings[8][VERDICT_MESSAGE_MAX];
	size_t i, j, n = budget_findings(cfg, findings, 8);

	for (i = 0; i < n && i < 8; i++)
		check_line(out, "FINDING  %s", findings[i]);

	for (i = 0; i < count; i++) {
		const struct verdict *v = &rows[i].verdict;

		if (!v->allowed)
			check_line(out, "DENY  %s", v->message);
		for (j = 0; j < v->warning_count; j++)
			check_line(out, "WARN  %s %s: %s", workload_kind_name(rows[i].w.kind),
			    rows[i].label, v->warnings[j]);
	}
	check_line(out, "%zu workload%s: %zu denied, %zu with warnings, %zu within budget",
	    summary->workloads, summary->workloads == 1 ? "" : "s", summary->denied,
	    summary->warned, summary->workloads - summary->denied - summary->warned);
}

static cJSON *
check_json_usage(cJSON *to, long used, long limit)
{
	cJSON_AddNumberToObject(to, "connections", (double)used);
	if (limit == CONFIG_NO_LIMIT)
		cJSON_AddNullToObject(to, "limit");
	else {
		cJSON_AddNumberToObject(to, "limit", (double)limit);
		cJSON_AddNumberToObject(to, "usedPercent", (double)budget_percent(used, limit));
		cJSON_AddNumberToObject(to, "headroom", (double)(limit - used));
	}
	return to;
}

static int
check_print_json(const struct config *cfg, const struct inventory *inv,
    const struct check_row *rows, size_t count, FILE *out, const struct check_summary *summary)
{
	const long *usage = inventory_role_usage(inv);
	cJSON *root = cJSON_CreateObject(), *roles, *role, *list, *item, *warnings, *sum;
	char *text;
	size_t r, i, j;

	if (root == NULL)
		return PG_ERR_NOMEM;
	roles = cJSON_AddArrayToObject(root, "roles");
	for (r = 0; r < cfg->role_count; r++) {
		role = cJSON_CreateObject();
		cJSON_AddItemToArray(roles, role);
		cJSON_AddStringToObject(role, "name", cfg->roles[r].name);
		check_json_usage(role, budget_role_used(cfg, usage, r),
		    cfg->roles[r].connection_limit);
		cJSON_AddNumberToObject(role, "externalConnections",
		    (double)cfg->roles[r].external_connections);
	}
	item = cJSON_AddObjectToObject(root, "cluster");
	cJSON_AddStringToObject(item, "name", cfg->cluster_name);
	check_json_usage(item, budget_cluster_used(cfg, usage), cfg->max_connections);
	cJSON_AddNumberToObject(item, "reservedConnections", (double)cfg->reserved_connections);
	list = cJSON_AddArrayToObject(root, "workloads");
	for (i = 0; i < count; i++) {
		const struct check_row *row = &rows[i];

		item = cJSON_CreateObject();
		cJSON_AddItemToArray(list, item);
		cJSON_AddStringToObject(item, "kind", workload_kind_name(row->w.kind));
		cJSON_AddStringToObject(item, "namespace", row->w.namespace);
		cJSON_AddStringToObject(item, "name", row->w.name);
		if (row->role >= 0)
			cJSON_AddStringToObject(item, "role", cfg->roles[row->role].name);
		else
			cJSON_AddNullToObject(item, "role");
		cJSON_AddNumberToObject(item, "replicas", (double)row->w.replicas);
		cJSON_AddNumberToObject(item, "pods", (double)row->pods);
		cJSON_AddNumberToObject(item, "poolPerPod", (double)row->w.pool_per_pod);
		cJSON_AddNumberToObject(item, "connections", (double)(row->pods * row->w.pool_per_pod));
		cJSON_AddNumberToObject(item, "rolloutPeak", (double)row->peak);
		cJSON_AddStringToObject(item, "poolSource", row->w.pool_source[0] ?
		    row->w.pool_source : "defaultPoolSize");
		cJSON_AddStringToObject(item, "verdict", !row->verdict.allowed ? "deny" :
		    row->verdict.warning_count ? "warn" : "allow");
		if (!row->verdict.allowed)
			cJSON_AddStringToObject(item, "message", row->verdict.message);
		warnings = cJSON_AddArrayToObject(item, "warnings");
		for (j = 0; j < row->verdict.warning_count; j++)
			cJSON_AddItemToArray(warnings, cJSON_CreateString(row->verdict.warnings[j]));
	}
	{
		char findings[8][VERDICT_MESSAGE_MAX];
		size_t n = budget_findings(cfg, findings, 8);

		list = cJSON_AddArrayToObject(root, "findings");
		for (i = 0; i < n && i < 8; i++)
			cJSON_AddItemToArray(list, cJSON_CreateString(findings[i]));
	}
	sum = cJSON_AddObjectToObject(root, "summary");
	cJSON_AddNumberToObject(sum, "workloads", (double)summary->workloads);
	cJSON_AddNumberToObject(sum, "denied", (double)summary->denied);
	cJSON_AddNumberToObject(sum, "warned", (double)summary->warned);
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (text == NULL)
		return PG_ERR_NOMEM;
	fprintf(out, "%s\n", text);
	free(text);
	return PG_OK;
}

/* Writes s with the five XML special characters escaped and control characters dropped. */
static void
check_xml(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\n')
				fputc(*s, out);
		}
	}
}

static void
check_print_junit(const struct config *cfg, const struct check_row *rows, size_t count,
    FILE *out, const struct check_summary *summary, int warnings_fail)
{
	size_t i, j, failures = summary->denied + (warnings_fail ? summary->warned : 0);

	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<testsuites tests=\"%zu\" failures=\"%zu\">\n"
	    "  <testsuite name=\"poolguard budget ", count, failures);
	check_xml(out, cfg->cluster_name);
	fprintf(out, "\" tests=\"%zu\" failures=\"%zu\">\n", count, failures);
	for (i = 0; i < count; i++) {
		const struct check_row *row = &rows[i];
		const struct verdict *v = &row->verdict;
		int fails = !v->allowed || (warnings_fail && v->warning_count > 0);

		fputs("    <testcase classname=\"poolguard.", out);
		check_xml(out, row->role >= 0 ? cfg->roles[row->role].name : "no-role");
		fprintf(out, "\" name=\"%s ", workload_kind_name(row->w.kind));
		check_xml(out, row->label);
		fputs(fails ? "\">\n" : "\"", out);
		if (fails) {
			fputs("      <failure message=\"", out);
			check_xml(out, !v->allowed ? v->message : v->warnings[0]);
			fputs("\"/>\n", out);
		}
		if (v->warning_count > 0) {
			fputs(fails ? "      <system-out>" : ">\n      <system-out>", out);
			for (j = 0; j < v->warning_count; j++) {
				fputs("Warning: ", out);
				check_xml(out, v->warnings[j]);
				fputc('\n', out);
			}
			fputs("</system-out>\n    </testcase>\n", out);
		} else
			fputs(fails ? "    </testcase>\n" : "/>\n", out);
	}
	fputs("  </testsuite>\n</testsuites>\n", out);
}

int
check_run(const struct config *cfg, const struct manifest_set *set,
    const char *default_namespace, enum check_format format, int warnings_fail, FILE *out,
    struct check_summary *summary, struct pg_error *err)
{
	struct inventory *inv = NULL;
	struct check_row *rows = NULL;
	struct workload_resolver resolver;
	size_t i, count = 0;
	int result = PG_OK;

	memset(summary, 0, sizeof(*summary));
	if ((inv = inventory_new(cfg)) == NULL || (rows = calloc(set->count + 1,
	    sizeof(*rows))) == NULL) {
		result = pg_error_set(err, PG_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* ConfigMaps and HPAs first, so pool references and ceilings resolve. */
	if ((result = inventory_add_manifests(inv, set, default_namespace, err)))
		goto out;
	resolver = inventory_resolver(inv);
	for (i = 0; i < set->count; i++) {
		struct check_row *row = &rows[count];

		if (workload_kind_of(set->items[i].object) == WORKLOAD_NONE)
			continue;
		result = workload_from_object(set->items[i].object, cfg, default_namespace, &resolver,
		    &row->w, err);
		if (result) {
			pg_error_prefix(err, "%s", set->items[i].source);
			goto out;
		}
		row->object = set->items[i].object;
		row->role = budget_role_for(cfg, row->w.namespace, workload_label, row->w.labels);
		row->pods = inventory_counted_pods(inv, row->w.kind, row->w.namespace, row->w.name,
		    row->w.replicas);
		snprintf(row->label, sizeof(row->label), "%s/%s%s", row->w.namespace, row->w.name,
		    row->w.kind == WORKLOAD_STATEFULSET ? " (sts)" : "");
		count++;
	}
	if ((result = check_drop_superseded(rows, &count))) {
		pg_error_set(err, result, "out of memory");
		goto out;
	}
	summary->workloads = count;
	for (i = 0; i < count; i++) {
		check_judge(cfg, inv, &rows[i]);
		summary->denied += !rows[i].verdict.allowed;
		summary->warned += rows[i].verdict.allowed && rows[i].verdict.warning_count > 0;
	}
	switch (format) {
	case CHECK_TEXT:
		check_print_table(cfg, inv, rows, count, out);
		check_line(out, "%s", "");
		check_print_verdicts(cfg, rows, count, out, summary);
		break;
	case CHECK_JSON:
		if ((result = check_print_json(cfg, inv, rows, count, out, summary)))
			pg_error_set(err, result, "out of memory");
		break;
	case CHECK_JUNIT:
		check_print_junit(cfg, rows, count, out, summary, warnings_fail);
		break;
	}
out:
	free(rows);
	inventory_free(inv);
	return result;
}
