/*
 * main.c - command line: serve, review, check. The only place that exits.
 */
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "poolguard/arena.h"
#include "poolguard/check.h"
#include "poolguard/config.h"
#include "poolguard/db.h"
#include "poolguard/dbwatch.h"
#include "poolguard/fileio.h"
#include "poolguard/inventory.h"
#include "poolguard/lease.h"
#include "poolguard/kube.h"
#include "poolguard/live.h"
#include "poolguard/log.h"
#include "poolguard/manifest.h"
#include "poolguard/metrics.h"
#include "poolguard/reload.h"
#include "poolguard/review.h"
#include "poolguard/server.h"
#include "poolguard/webhook.h"

#define POOLGUARD_VERSION "0.1.0"
#define EXIT_DENIED 1
#define EXIT_USAGE 2

#define MAX_INVENTORY_PATHS 256

static const char usage_text[] =
    "usage: poolguard serve  --config PATH --tls-cert FILE --tls-key FILE\n"
    "                        [--inventory PATH... | --kube | --kubeconfig FILE]\n"
    "                        [--unsynced deny|allow] [--reservation-seconds N] [--client-ca FILE]\n"
    "                        [--lease NAMESPACE/NAME|none] [--lease-timeout SECONDS]\n"
    "                        [--replica-id ID]\n"
    "                        [--db[=CONNINFO]]\n"
    "                        [--listen HOST:PORT] [--max-body-bytes N] [--log-level LEVEL]\n"
    "                        [--max-connections N] [--max-connections-per-ip N]\n"
    "                        [--idle-timeout SECONDS] [--request-timeout SECONDS]\n"
    "                        [--max-request-memory BYTES] [--threads N]\n"
    "       poolguard review --config PATH [--inventory PATH]... [FILE|-]\n"
    "       poolguard check  --config PATH [--namespace NS] [-o text|json|junit]\n"
    "                        [--warnings-as-errors] PATH...\n"
    "       poolguard db     --config PATH [--conninfo STR] [--pgbouncer STR [--pooler NAME]]\n"
    "                        [--inventory PATH]... [-o text|json]\n"
    "       poolguard db     --write-budget [--conninfo STR]\n"
    "       poolguard version\n"
    "\n"
    "PATH for --config: a budget.yaml, a ConfigMap manifest holding it, or a mounted\n"
    "ConfigMap directory. --inventory and check take files, directories and - (stdin).\n"
    "--kube reads the cluster with the pod's service account; --kubeconfig with a kubeconfig.\n"
    "With either, admitted increases are shared between replicas in the Lease --lease\n"
    "(default: the pod's namespace, from POD_NAMESPACE or the service account, and\n"
    "poolguard-reservations); --lease none keeps them in this process.\n";

struct cli {
	const char *config_path;
	const char *inventory[MAX_INVENTORY_PATHS];
	int inventory_count;
	const char *namespace;
	const char *listen;
	const char *tls_cert;
	const char *tls_key;
	const char *client_ca;
	const char *db_conninfo;		/* serve --db */
	int with_db;
	size_t body_cap;
	unsigned max_connections;
	unsigned per_ip;
	unsigned idle_timeout;
	unsigned request_timeout;
	size_t request_memory;
	unsigned threads;
	int in_cluster;
	const char *kubeconfig;
	int unsynced_allow;
	double reservation_seconds;
	const char *lease;		/* NAMESPACE/NAME, "none", NULL: the default */
	double lease_timeout;
	const char *replica_id;
	enum check_format output;
	int warnings_as_errors;
};

enum {
	OPT_CONFIG = 256,
	OPT_INVENTORY,
	OPT_NAMESPACE,
	OPT_LISTEN,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_MAX_BODY,
	OPT_LOG_LEVEL,
	OPT_KUBE,
	OPT_KUBECONFIG,
	OPT_UNSYNCED,
	OPT_RESERVATION,
	OPT_WARNINGS_AS_ERRORS,
	OPT_CLIENT_CA,
	OPT_DB,
	OPT_MAX_CONNECTIONS,
	OPT_PER_IP,
	OPT_IDLE_TIMEOUT,
	OPT_REQUEST_TIMEOUT,
	OPT_REQUEST_MEMORY,
	OPT_THREADS,
	OPT_LEASE,
	OPT_LEASE_TIMEOUT,
	OPT_REPLICA_ID,
	OPT_HELP
};

static const struct option cli_options[] = {
	{"config", required_argument, NULL, OPT_CONFIG},
	{"inventory", required_argument, NULL, OPT_INVENTORY},
	{"namespace", required_argument, NULL, OPT_NAMESPACE},
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},
	{"max-body-bytes", required_argument, NULL, OPT_MAX_BODY},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"kube", no_argument, NULL, OPT_KUBE},
	{"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
	{"unsynced", required_argument, NULL, OPT_UNSYNCED},
	{"reservation-seconds", required_argument, NULL, OPT_RESERVATION},
	{"output", required_argument, NULL, 'o'},
	{"warnings-as-errors", no_argument, NULL, OPT_WARNINGS_AS_ERRORS},
	{"client-ca", required_argument, NULL, OPT_CLIENT_CA},
	{"db", optional_argument, NULL, OPT_DB},
	{"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
	{"max-connections-per-ip", required_argument, NULL, OPT_PER_IP},
	{"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
	{"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
	{"max-request-memory", required_argument, NULL, OPT_REQUEST_MEMORY},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"lease", required_argument, NULL, OPT_LEASE},
	{"lease-timeout", required_argument, NULL, OPT_LEASE_TIMEOUT},
	{"replica-id", required_argument, NULL, OPT_REPLICA_ID},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

static void __attribute__((noreturn))
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "poolguard: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n\n%s", usage_text);
	exit(EXIT_USAGE);
}

/*
 * The value of a numeric flag: decimal digits only (with fraction, also one
 * '.' between digits), from min to max. A sign, blanks, hexadecimal, an
 * exponent or a value out of range is a usage error that names the flag;
 * strtoul alone would have wrapped "-1" into a huge number.
 */
static double
cli_number(const char *flag, const char *arg, double min, double max, int fraction)
{
	char message[256];
	const char *p;
	int digits = 0, dots = 0, ok = 1;
	double value = 0;

	for (p = arg; *p && ok; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (*p == '.' && fraction && dots++ == 0 && digits > 0 && p[1] >= '0' &&
		    p[1] <= '9')
			continue;
		else
			ok = 0;
	}
	if (ok && digits > 0)
		value = strtod(arg, NULL);
	if (!ok || digits == 0 || !(value >= min && value <= max)) {
		snprintf(message, sizeof(message), "%s '%s': expected a %s from %.0f to %.0f", flag,
		    arg, fraction ? "number" : "whole number", min, max);
		usage_error("%s", message);
	}
	return value;
}

/* Parses the options every subcommand shares; returns the index of the first operand. */
static int
cli_parse(int argc, char **argv, struct cli *cli)
{
	int c, level;

	memset(cli, 0, sizeof(*cli));
	cli->namespace = "default";
	cli->listen = SERVER_DEFAULT_LISTEN;
	cli->body_cap = SERVER_DEFAULT_BODY_CAP;
	cli->reservation_seconds = 30;
	cli->lease_timeout = 2;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", cli_options, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG:
			cli->config_path = optarg;
			break;
		case OPT_INVENTORY:
			if (cli->inventory_count == MAX_INVENTORY_PATHS)
				usage_error("too many --inventory paths (at most 256)%s", "");
			cli->inventory[cli->inventory_count++] = optarg;
			break;
		case OPT_NAMESPACE:
			cli->namespace = optarg;
			break;
		case OPT_LISTEN:
			cli->listen = optarg;
			break;
		case OPT_TLS_CERT:
			cli->tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			cli->tls_key = optarg;
			break;
		case OPT_MAX_BODY:
			cli->body_cap = (size_t)cli_number("--max-body-bytes", optarg, 1024,
			    1024.0 * 1024 * 1024, 0);
			break;
		case OPT_MAX_CONNECTIONS:
			cli->max_connections = (unsigned)cli_number("--max-connections", optarg, 1,
			    65536, 0);
			break;
		case OPT_PER_IP:
			cli->per_ip = (unsigned)cli_number("--max-connections-per-ip", optarg, 1,
			    65536, 0);
			break;
		case OPT_IDLE_TIMEOUT:
			cli->idle_timeout = (unsigned)cli_number("--idle-timeout", optarg, 1, 3600, 0);
			break;
		case OPT_REQUEST_TIMEOUT:
			cli->request_timeout = (unsigned)cli_number("--request-timeout", optarg, 1,
			    3600, 0);
			break;
		case OPT_REQUEST_MEMORY:
			cli->request_memory = (size_t)cli_number("--max-request-memory", optarg,
			    1024.0 * 1024, 1024.0 * 1024 * 1024 * 1024, 0);
			break;
		case OPT_THREADS:
			cli->threads = (unsigned)cli_number("--threads", optarg, 1, 256, 0);
			break;
		case OPT_LOG_LEVEL:
			if ((level = log_level_parse(optarg)) < 0)
				usage_error("--log-level '%s': expected debug, info, warn or error",
				    optarg);
			log_set_level((enum log_level)level);
			break;
		case 'o':
			if (strcmp(optarg, "text") == 0)
				cli->output = CHECK_TEXT;
			else if (strcmp(optarg, "json") == 0)
				cli->output = CHECK_JSON;
			else if (strcmp(optarg, "junit") == 0)
				cli->output = CHECK_JUNIT;
			else
				usage_error("-o '%s': expected text, json or junit", optarg);
			break;
		case OPT_DB:
			cli->with_db = 1;
			cli->db_conninfo = optarg ? optarg : "";
			break;
		case OPT_CLIENT_CA:
			cli->client_ca = optarg;
			break;
		case OPT_WARNINGS_AS_ERRORS:
			cli->warnings_as_errors = 1;
			break;
		case OPT_KUBE:
			cli->in_cluster = 1;
			break;
		case OPT_KUBECONFIG:
			cli->kubeconfig = optarg;
			break;
		case OPT_UNSYNCED:
			if (strcmp(optarg, "deny") != 0 && strcmp(optarg, "allow") != 0)
				usage_error("--unsynced '%s': expected deny or allow", optarg);
			cli->unsynced_allow = optarg[0] == 'a';
			break;
		case OPT_RESERVATION:
			cli->reservation_seconds = cli_number("--reservation-seconds", optarg, 0, 3600,
			    1);
			break;
		case OPT_LEASE:
			cli->lease = optarg;
			break;
		case OPT_LEASE_TIMEOUT:
			cli->lease_timeout = cli_number("--lease-timeout", optarg, 0.05, 4, 1);
			break;
		case OPT_REPLICA_ID:
			cli->replica_id = optarg;
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			exit(0);
		default:
			usage_error("%s", "unknown option");
		}
	}
	if (cli->config_path == NULL)
		usage_error("%s", "--config is required");
	return optind;
}

/* The reload options the command line describes. */
static void
cli_reload_options(const struct cli *cli, struct kube_client *client, struct reload_options *o)
{
	memset(o, 0, sizeof(*o));
	o->config_path = cli->config_path;
	o->inventory_paths = cli->inventory;
	o->inventory_count = cli->inventory_count;
	o->namespace = cli->namespace;
	o->client = client;
}

/*
 * The ledger that shares reservations, or *out NULL to keep them in memory:
 * --lease none, a fixed inventory, or no namespace to put the Lease in.
 */
static int
cli_ledger(const struct cli *cli, struct kube_client *client, struct lease_ledger **out,
    struct pg_error *err)
{
	char namespace[LEASE_FIELD_MAX], replica[LEASE_FIELD_MAX], host[256];
	const char *name = "poolguard-reservations", *slash, *env;

	*out = NULL;
	if (cli->lease && strcmp(cli->lease, "none") == 0)
		return PG_OK;
	if (client == NULL) {
		if (cli->lease)
			return pg_error_set(err, PG_ERR_INVALID, "--lease needs --kube or "
			    "--kubeconfig: a fixed inventory keeps reservations in memory");
		return PG_OK;
	}
	if (cli->lease) {
		if ((slash = strchr(cli->lease, '/')) == NULL ||
		    (size_t)(slash - cli->lease) >= sizeof(namespace))
			return pg_error_set(err, PG_ERR_INVALID, "--lease '%s': expected "
			    "NAMESPACE/NAME or none", cli->lease);
		snprintf(namespace, sizeof(namespace), "%.*s", (int)(slash - cli->lease),
		    cli->lease);
		name = slash + 1;
	} else if ((env = getenv("POD_NAMESPACE")) != NULL && *env)
		snprintf(namespace, sizeof(namespace), "%s", env);
	else if (!cli->in_cluster || kube_service_account_namespace(NULL, namespace,
	    sizeof(namespace), err) != PG_OK) {
		log_message(LOG_WARN, "reservations_local", "no --lease and no POD_NAMESPACE: "
		    "admitted increases are held by this replica only");
		return PG_OK;
	}
	if (cli->replica_id)
		snprintf(replica, sizeof(replica), "%s", cli->replica_id);
	else if ((env = getenv("POD_NAME")) != NULL && *env)
		snprintf(replica, sizeof(replica), "%s", env);
	else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "poolguard");
		host[sizeof(host) - 1] = '\0';
		snprintf(replica, sizeof(replica), "%.40s:%ld", host, (long)getpid());
	}
	return lease_ledger_new(client, namespace, name, replica, cli->lease_timeout, out, err);
}

static void
log_listening(const struct cli *cli, struct server *srv, struct snapshot_holder *holder,
    struct kube_client *client, const struct lease_ledger *ledger)
{
	struct snapshot *snap = snapshot_holder_get(holder);
	cJSON *f = cJSON_CreateObject();

	cJSON_AddStringToObject(f, "listen", cli->listen);
	cJSON_AddNumberToObject(f, "port", server_port(srv));
	cJSON_AddStringToObject(f, "config", snapshot_config(snap)->source);
	cJSON_AddNumberToObject(f, "roles", (double)snapshot_config(snap)->role_count);
	cJSON_AddNumberToObject(f, "inventoryWorkloads", (double)snapshot_workloads(snap));
	cJSON_AddStringToObject(f, "inventory", client ? kube_client_server(client) : "manifests");
	cJSON_AddStringToObject(f, "reservations", ledger ? lease_ledger_name(ledger) : "memory");
	if (ledger)
		cJSON_AddStringToObject(f, "replica", lease_ledger_replica(ledger));
	cJSON_AddStringToObject(f, "version", POOLGUARD_VERSION);
	log_write(LOG_INFO, "listening", f);
	snapshot_release(snap);
}

static int
cmd_serve(int argc, char **argv)
{
	struct kube_client *client = NULL;
	struct lease_ledger *ledger = NULL;
	struct snapshot_holder holder;
	struct reload_options reload;
	struct reloader *reloader = NULL;
	struct server_options opts;
	struct snapshot *snap;
	struct webhook wh;
	struct server *srv;
	struct pg_error err;
	sigset_t signals;
	int sig = 0, result;
	struct cli cli;

	cli_parse(argc, argv, &cli);
	if (cli.tls_cert == NULL || cli.tls_key == NULL)
		usage_error("%s", "serve needs --tls-cert and --tls-key: the webhook speaks HTTPS "
		    "only");
	if (optind != argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if ((cli.in_cluster || cli.kubeconfig) && cli.inventory_count > 0)
		usage_error("%s", "--inventory reads a fixed inventory; --kube and --kubeconfig read "
		    "the cluster: use one or the other");
	if (cli.in_cluster && cli.kubeconfig)
		usage_error("%s", "--kube and --kubeconfig exclude each other");
	if (cli.in_cluster || cli.kubeconfig) {
		result = cli.in_cluster ? kube_client_in_cluster(NULL, &client, &err) :
		    kube_client_from_kubeconfig(cli.kubeconfig, &client, &err);
		if (result) {
			fprintf(stderr, "poolguard: %s\n", err.msg);
			return EXIT_USAGE;
		}
	}
	if (cli_ledger(&cli, client, &ledger, &err)) {
		fprintf(stderr, "poolguard: %s\n", err.msg);
		lease_ledger_free(ledger);
		kube_client_free(client);
		return EXIT_USAGE;
	}

	/* Signals are taken synchronously below, so every thread blocks them. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * glibc raises its mmap threshold to the size of each large block freed, so
	 * after one burst of big requests their buffers come from the heap and
	 * stay resident. A fixed threshold (the default's starting value) keeps
	 * every buffer and arena block from 128 KiB up in mmap, given back on free.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	arena_install();
	cli_reload_options(&cli, client, &reload);
	if (reload_build(&reload, &snap, &err)) {
		fprintf(stderr, "poolguard: %s\n", err.msg);
		lease_ledger_free(ledger);
		kube_client_free(client);
		return EXIT_USAGE;
	}
	snapshot_holder_init(&holder, snap);
	memset(&wh, 0, sizeof(wh));
	wh.holder = &holder;
	wh.unsynced_allow = cli.unsynced_allow;
	wh.reservation_seconds = cli.reservation_seconds;
	wh.ledger = ledger;
	memset(&opts, 0, sizeof(opts));
	opts.ready = webhook_ready;
	opts.metrics = webhook_metrics;
	opts.listen = cli.listen;
	opts.cert_file = cli.tls_cert;
	opts.key_file = cli.tls_key;
	opts.client_ca_file = cli.client_ca;
	opts.body_cap = cli.body_cap;
	opts.connection_limit = cli.max_connections;
	opts.per_ip_limit = cli.per_ip;
	opts.connection_timeout = cli.idle_timeout;
	opts.request_timeout = cli.request_timeout;
	opts.memory_budget = cli.request_memory;
	opts.threads = cli.threads;
	opts.validate = webhook_validate;
	opts.ctx = &wh;
	if (server_start(&opts, &srv, &err)) {
		log_message(LOG_ERROR, "start_failed", "%s", err.msg);
		fprintf(stderr, "poolguard: %s\n", err.msg);
		snapshot_holder_release(&holder);
		lease_ledger_free(ledger);
		kube_client_free(client);
		return EXIT_USAGE;
	}
	if ((cli.with_db && dbwatch_start(cli.db_conninfo, 30, &holder, &wh.db, &err)) ||
	    reloader_start(&reload, &holder, srv, cli.tls_cert, cli.tls_key, &reloader, &err)) {
		log_message(LOG_ERROR, "start_failed", "%s", err.msg);
		fprintf(stderr, "poolguard: %s\n", err.msg);
		dbwatch_stop(wh.db);
		server_stop(srv, 0);
		snapshot_holder_release(&holder);
		lease_ledger_free(ledger);
		kube_client_free(client);
		return EXIT_USAGE;
	}
	metrics_set_certificate_expiry(server_certificate_expiry(srv));
	metrics_count_reload(1, time(NULL));
	log_listening(&cli, srv, &holder, client, wh.ledger);
	while (sig != SIGTERM && sig != SIGINT)
		if (sigwait(&signals, &sig) != 0)
			break;
	log_message(LOG_INFO, "stopping", "signal %d: finishing requests in flight", sig);
	reloader_stop(reloader);
	server_stop(srv, 10000);
	dbwatch_stop(wh.db);
	snapshot_holder_release(&holder);
	lease_ledger_free(ledger);
	kube_client_free(client);
	log_message(LOG_INFO, "stopped", "bye");
	return 0;
}

static int
cmd_review(int argc, char **argv)
{
	struct snapshot_holder holder;
	struct reload_options reload;
	struct snapshot *snap;
	struct webhook wh;
	struct pg_error err;
	struct cli cli;
	const char *path;
	char *body, *response;
	size_t len;
	int first, result;

	log_set_level(LOG_WARN);
	first = cli_parse(argc, argv, &cli);
	if (argc - first > 1)
		usage_error("review takes one file, got also '%s'", argv[first + 1]);
	path = first < argc ? argv[first] : "-";
	cli_reload_options(&cli, NULL, &reload);
	if (reload_build(&reload, &snap, &err)) {
		fprintf(stderr, "poolguard: %s\n", err.msg);
		return EXIT_USAGE;
	}
	if (fileio_read(path, SERVER_DEFAULT_BODY_CAP, &body, &len, &err)) {
		fprintf(stderr, "poolguard: %s\n", err.msg);
		snapshot_release(snap);
		return EXIT_USAGE;
	}
	snapshot_holder_init(&holder, snap);
	memset(&wh, 0, sizeof(wh));
	wh.holder = &holder;
	wh.allow_bare = 1;
	wh.pretty = 1;
	result = webhook_review(&wh, body, len, &response, &err);
	if (result)
		fprintf(stderr, "poolguard: %s: %s\n", strcmp(path, "-") ? path : "<stdin>", err.msg);
	else {
		puts(response);
		free(response);
	}
	free(body);
	snapshot_holder_release(&holder);
	return result ? EXIT_USAGE : 0;
}

static int
cmd_check(int argc, char **argv)
{
	struct check_summary summary;
	struct manifest_set set;
	struct config *cfg;
	struct pg_error err;
	struct cli cli;
	int first, i, result;

	first = cli_parse(argc, argv, &cli);
	if (first == argc)
		usage_error("%s", "check needs at least one manifest path (or - for stdin)");
	if (cli.inventory_count > 0)
		usage_error("%s", "check takes manifests as operands, not --inventory");
	if (config_load(cli.config_path, &cfg, &err)) {
		fprintf(stderr, "poolguard: %s\n", err.msg);
		return EXIT_USAGE;
	}
	manifest_set_init(&set);
	for (i = first; i < argc; i++)
		if (manifest_load(&set, argv[i], &err)) {
			fprintf(stderr, "poolguard: %s\n", err.msg);
			manifest_set_release(&set);
			config_free(cfg);
			return EXIT_USAGE;
		}
	result = check_run(cfg, &set, cli.namespace, cli.output, cli.warnings_as_errors, stdout,
	    &summary, &err);
	manifest_set_release(&set);
	config_free(cfg);
	if (result) {
		fprintf(stderr, "poolguard: %s\n", err.msg);
		return EXIT_USAGE;
	}
	if (summary.denied > 0 || (cli.warnings_as_errors && summary.warned > 0))
		return EXIT_DENIED;
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage_error("%s", "missing command");
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "review") == 0)
		return cmd_review(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "db") == 0)
		return dbcmd_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		puts("poolguard " POOLGUARD_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	usage_error("unknown command '%s'", argv[1]);
}
