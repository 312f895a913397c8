/*
 * check.c - `poolguard check`: the budget of a set of manifests as a table.
 */
#include <stdlib.h>
#include <string.h>

#include "poolguard/budget.h"
#include "poolguard/check.h"
#include "poolguard/inventory.h"
#include "poolguard/workload.h"

struct check_row {
	struct workload w;
	int role;
	long pods;		/* replicas, or the HPA's maxReplicas */
	char label[300];	/* "namespace/name" */
	struct verdict verdict;
};

/* 1 if a later object of the set is the same workload (kubectl apply keeps the last). */
static int
check_superseded(const struct check_row *rows, size_t count, size_t i)
{
	size_t j;

	for (j = i + 1; j < count; j++)
		if (rows[j].w.kind == rows[i].w.kind && strcmp(rows[j].w.name, rows[i].w.name) == 0 &&
		    strcmp(rows[j].w.namespace, rows[i].w.namespace) == 0)
			return 1;
	return 0;
}

static void
check_judge(const struct config *cfg, const struct inventory *inv, struct check_row *row)
{
	struct budget_change c;

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
	if (row->w.note[0] && row->role >= 0)
		verdict_warn(&row->verdict, "%s", row->w.note);
}

static void
check_print_row(FILE *out, int rw, const char *role, int dw, const struct check_row *row)
{
	char pods[32];

	snprintf(pods, sizeof(pods), "%ld%s", row->pods, row->pods != row->w.replicas ? "*" : "");
	fprintf(out, "%-*s  %-*s  %8s  %8ld  %11ld\n", rw, role, dw, row->label, pods,
	    row->w.pool_per_pod, row->pods * row->w.pool_per_pod);
}

static void
check_print_limit_columns(FILE *out, long used, long limit)
{
	if (limit == CONFIG_NO_LIMIT)
		fprintf(out, "  %6s  %5s  %8s\n", "none", "-", "-");
	else
		fprintf(out, "  %6ld  %4ld%%  %8ld\n", limit, budget_percent(used, limit),
		    limit - used);
}

static void
check_print_table(const struct config *cfg, const struct inventory *inv,
    const struct check_row *rows, size_t count, FILE *out)
{
	const long *usage = inventory_role_usage(inv);
	int rw = 7, dw = 10;
	size_t r, i, n;
	long used;

	for (r = 0; r < cfg->role_count; r++)
		if ((n = strlen(cfg->roles[r].name)) > (size_t)rw)
			rw = (int)n;
	for (i = 0; i < count; i++)
		if ((n = strlen(rows[i].label)) > (size_t)dw)
			dw = (int)n;
	if ((n = strlen(cfg->cluster_name)) > (size_t)dw)
		dw = (int)n;
	fprintf(out, "%-*s  %-*s  %8s  %8s  %11s  %6s  %5s  %8s\n", rw, "ROLE", dw, "DEPLOYMENT",
	    "REPLICAS", "POOL/POD", "CONNECTIONS", "LIMIT", "USED%", "HEADROOM");
	for (r = 0; r < cfg->role_count; r++) {
		for (i = 0; i < count; i++)
			if (rows[i].role == (int)r)
				check_print_row(out, rw, cfg->roles[r].name, dw, &rows[i]);
		if (cfg->roles[r].external_connections > 0)
			fprintf(out, "%-*s  %-*s  %8s  %8s  %11ld\n", rw, cfg->roles[r].name, dw,
			    "(external)", "", "", cfg->roles[r].external_connections);
		used = budget_role_used(cfg, usage, r);
		fprintf(out, "%-*s  %-*s  %8s  %8s  %11ld", rw, cfg->roles[r].name, dw, "(total)",
		    "", "", used);
		check_print_limit_columns(out, used, cfg->roles[r].connection_limit);
	}
	for (i = 0; i < count; i++)
		if (rows[i].role < 0)
			check_print_row(out, rw, "(none)", dw, &rows[i]);
	used = budget_cluster_used(cfg, usage);
	fprintf(out, "%-*s  %-*s  %8s  %8s  %11ld", rw, "CLUSTER", dw, cfg->cluster_name, "",
	    "", used);
	check_print_limit_columns(out, used, cfg->max_connections);
	fprintf(out, "(cluster usage includes %ld reserved connections; workloads under (none) "
	    "match no role and are outside the budget)\n", cfg->reserved_connections);
	for (i = 0; i < count; i++)
		if (rows[i].pods != rows[i].w.replicas) {
			fprintf(out, "(* counted at its HorizontalPodAutoscaler's maxReplicas)\n");
			break;
		}
}

int
check_run(const struct config *cfg, const struct manifest_set *set,
    const char *default_namespace, FILE *out, struct check_summary *summary,
    struct pg_error *err)
{
	struct inventory *inv = NULL;
	struct check_row *rows = NULL;
	struct workload_resolver resolver;
	size_t i, j, count = 0;
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
		row->role = budget_role_for(cfg, row->w.namespace, workload_label, row->w.labels);
		row->pods = inventory_hpa_max(inv, row->w.kind, row->w.namespace, row->w.name);
		if (row->pods == 0)
			row->pods = row->w.replicas;
		snprintf(row->label, sizeof(row->label), "%s/%s%s", row->w.namespace, row->w.name,
		    row->w.kind == WORKLOAD_STATEFULSET ? " (sts)" : "");
		count++;
	}
	for (i = 0, j = 0; i < count; i++)
		if (!check_superseded(rows, count, i))
			rows[j++] = rows[i];
	count = j;
	for (i = 0; i < count; i++)
		check_judge(cfg, inv, &rows[i]);

	check_print_table(cfg, inv, rows, count, out);
	fputc('\n', out);
	summary->workloads = count;
	for (i = 0; i < count; i++) {
		const struct verdict *v = &rows[i].verdict;

		if (!v->allowed) {
			summary->denied++;
			fprintf(out, "DENY  %s\n", v->message);
		}
		for (j = 0; j < v->warning_count; j++)
			fprintf(out, "WARN  %s %s: %s\n", workload_kind_name(rows[i].w.kind),
			    rows[i].label, v->warnings[j]);
		summary->warned += v->allowed && v->warning_count > 0;
	}
	fprintf(out, "%zu workload%s: %zu denied, %zu with warnings, %zu within budget\n", count,
	    count == 1 ? "" : "s", summary->denied, summary->warned,
	    count - summary->denied - summary->warned);
out:
	free(rows);
	inventory_free(inv);
	return result;
}
