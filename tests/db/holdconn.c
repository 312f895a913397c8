/*
 * holdconn.c - opens N libpq connections one after another and holds them,
 * the way N pooled application connections sit on a server.
 *
 *   holdconn -n N [-q SQL [-e VALUE]] [-r FILE] CONNINFO
 *
 * Stops opening at the first failure. With -q, sends SQL on every open
 * connection at once (asynchronously, so a pooler in front has to queue
 * them) and checks each answers with rows, the first value being VALUE when
 * -e is given. Then prints
 *
 *   opened K of N
 *   queries ok Q of K
 *   first error: MESSAGE          (only when something failed)
 *
 * and, with -r, holds the connections until FILE exists (at most 120 s).
 * Exit 0 when all N opened and all queries passed, 1 otherwise, 2 on usage.
 * The password comes from PGPASSWORD or PGPASSFILE, as for any libpq client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

static char first_error[512];

static void
note_error(const char *what, const char *msg)
{
	size_t i;

	if (first_error[0] != '\0')
		return;
	snprintf(first_error, sizeof(first_error), "%s%s", what, msg);
	for (i = 0; first_error[i]; i++)
		if (first_error[i] == '\n' || first_error[i] == '\t')
			first_error[i] = ' ';
}

/* Sends sql on every connection, then collects every answer. Returns how many passed. */
static int
run_queries(PGconn **conns, int n, const char *sql, const char *expect)
{
	PGresult *res;
	int i, ok = 0, good;
	int *sent = calloc((size_t)n + 1, sizeof(int));

	for (i = 0; i < n; i++) {
		sent[i] = PQsendQuery(conns[i], sql);
		if (!sent[i])
			note_error("send: ", PQerrorMessage(conns[i]));
	}
	for (i = 0; i < n; i++) {
		if (!sent[i])
			continue;
		good = 0;
		while ((res = PQgetResult(conns[i])) != NULL) {
			if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 &&
			    (expect == NULL || strcmp(PQgetvalue(res, 0, 0), expect) == 0))
				good = 1;
			else if (PQresultStatus(res) != PGRES_TUPLES_OK)
				note_error("query: ", PQresultErrorMessage(res));
			else
				note_error("query: ", "unexpected answer");
			PQclear(res);
		}
		ok += good;
	}
	free(sent);
	return ok;
}

int
main(int argc, char **argv)
{
	const char *sql = NULL, *expect = NULL, *release = NULL;
	PGconn **conns;
	int c, n = 1, i, opened = 0, ok = 0, waited;

	while ((c = getopt(argc, argv, "n:q:e:r:")) != -1) {
		switch (c) {
		case 'n':
			n = (int)strtol(optarg, NULL, 10);
			break;
		case 'q':
			sql = optarg;
			break;
		case 'e':
			expect = optarg;
			break;
		case 'r':
			release = optarg;
			break;
		default:
			fprintf(stderr, "usage: holdconn -n N [-q SQL [-e VALUE]] [-r FILE] "
			    "CONNINFO\n");
			return 2;
		}
	}
	if (optind != argc - 1 || n < 1 || n > 10000) {
		fprintf(stderr, "usage: holdconn -n N [-q SQL [-e VALUE]] [-r FILE] CONNINFO\n");
		return 2;
	}
	if ((conns = calloc((size_t)n, sizeof(*conns))) == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		conns[i] = PQconnectdb(argv[optind]);
		if (conns[i] == NULL || PQstatus(conns[i]) != CONNECTION_OK) {
			note_error("", conns[i] ? PQerrorMessage(conns[i]) : "out of memory");
			PQfinish(conns[i]);
			conns[i] = NULL;
			break;
		}
		opened++;
	}
	if (sql != NULL && opened > 0)
		ok = run_queries(conns, opened, sql, expect);
	printf("opened %d of %d\n", opened, n);
	printf("queries ok %d of %d\n", ok, sql ? opened : 0);
	if (first_error[0] != '\0')
		printf("first error: %s\n", first_error);
	printf("holding\n");
	fflush(stdout);
	for (waited = 0; release && access(release, F_OK) != 0 && waited < 2400; waited++) {
		struct timespec ts = {0, 50 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	for (i = 0; i < opened; i++)
		PQfinish(conns[i]);
	free(conns);
	return opened == n && (sql == NULL || ok == opened) ? 0 : 1;
}
