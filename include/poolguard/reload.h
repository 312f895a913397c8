/*
 * reload.h - building the snapshot in force, and building it again when the
 * budget file changes; reloading the serving certificate when its files change.
 *
 * A mounted ConfigMap or Secret changes by the kubelet swapping a symlink, so
 * the files are polled (stat follows the link) rather than watched. A budget
 * that fails to load is refused, logged and counted, and the last good one
 * stays in force; so does the last good certificate.
 */
#ifndef POOLGUARD_RELOAD_H
#define POOLGUARD_RELOAD_H

#include "poolguard/error.h"
#include "poolguard/kube.h"
#include "poolguard/server.h"
#include "poolguard/snapshot.h"

struct reload_options {
	const char *config_path;
	const char *const *inventory_paths;	/* a fixed inventory, or none */
	int inventory_count;
	const char *namespace;		/* for inventory objects without one */
	struct kube_client *client;	/* the live inventory, or NULL */
	unsigned interval_ms;		/* how often files are looked at (default 1000) */
	unsigned sync_timeout_ms;	/* how long a new live inventory may take to sync */
};

/* Loads the budget and the inventory into a new snapshot (with one reference). */
int reload_build(const struct reload_options *opts, struct snapshot **out, struct pg_error *err);

struct reloader;

/*
 * Starts polling the budget (swapping new snapshots into holder) and, when
 * server is not NULL, the certificate files of opts (cert_file, key_file).
 */
int reloader_start(const struct reload_options *opts, struct snapshot_holder *holder,
    struct server *server, const char *cert_file, const char *key_file,
    struct reloader **out, struct pg_error *err);

/* reloader_stop(NULL) does nothing. */
void reloader_stop(struct reloader *r);

#endif
