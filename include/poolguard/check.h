/*
 * check.h - the CI dry run: every workload in a set of manifests judged as if
 * created together, printed as a capacity table and a list of verdicts.
 */
#ifndef POOLGUARD_CHECK_H
#define POOLGUARD_CHECK_H

#include <stdio.h>

#include "poolguard/config.h"
#include "poolguard/error.h"
#include "poolguard/manifest.h"

enum check_format {
	CHECK_TEXT,		/* the capacity table and the verdicts, for a person in a CI log */
	CHECK_JSON,		/* one JSON document */
	CHECK_JUNIT		/* JUnit XML, one test case per workload, for CI test reports */
};

struct check_summary {
	size_t workloads;	/* Deployments and StatefulSets judged */
	size_t denied;
	size_t warned;
};

/*
 * Judges the workloads of set against cfg and prints the table and the
 * verdicts to out in format. warnings_fail marks warned workloads as failed
 * test cases in JUnit (the exit status is the caller's). Objects without a namespace take default_namespace.
 * Fails (nothing printed) on bad input, such as a pool size that is not a
 * positive integer, with err naming the object and where it came from.
 */
int check_run(const struct config *cfg, const struct manifest_set *set,
    const char *default_namespace, enum check_format format, int warnings_fail, FILE *out,
    struct check_summary *summary, struct pg_error *err);

#endif
