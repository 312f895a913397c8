/*
 * lease.h - reservations shared between webhook replicas through one
 * coordination.k8s.io/v1 Lease, with the API server as the arbiter.
 *
 * Every replica records an admitted increase in the Lease before it admits
 * it, with the resourceVersion it read as a precondition: of two replicas
 * that read the same version, one write succeeds and the other gets 409
 * Conflict, reads again and judges again with the winner's entry counted.
 * This is how ResourceQuota keeps its usage exact across API servers.
 *
 * One Lease for the whole budget, not one per role: the cluster's
 * max_connections (and a pooler's client capacity) spans roles, so two
 * increases in different roles can only be judged together when their
 * entries meet in one object.
 *
 * The entries live in the annotation LEASE_ANNOTATION as
 * {"v":1,"entries":[[kind,namespace,name,role,connections,expires,replica,
 * generation],...]} with expires in seconds since the epoch and generation
 * the workload's metadata.generation once the change is stored (0: not
 * known). An entry stays until it expires, whichever replica writes next
 * prunes it; a replica whose inventory shows the workload at that generation
 * (or the connections) stops counting it (inventory.c settles reservations).
 *
 * The encoding functions are pure; struct lease_ledger does the I/O.
 */
#ifndef POOLGUARD_LEASE_H
#define POOLGUARD_LEASE_H

#include <stddef.h>

#include "poolguard/admission.h"
#include "poolguard/error.h"
#include "poolguard/kube.h"
#include "poolguard/workload.h"

#define LEASE_ANNOTATION "poolguard.dev/reservations"
#define LEASE_ENTRIES_MAX 512		/* about 100 bytes each: far inside 256 KiB of annotations */
#define LEASE_FIELD_MAX 64		/* a namespace, a role (PostgreSQL: 63 bytes), a replica */
#define LEASE_BODY_MAX (512 * 1024)	/* the largest Lease read */

struct lease_entry {
	enum workload_kind kind;
	char namespace[LEASE_FIELD_MAX];
	char name[ADMISSION_KEY_MAX];
	char role[LEASE_FIELD_MAX];
	long connections;
	double expires;			/* seconds since the epoch */
	char replica[LEASE_FIELD_MAX];	/* who admitted it */
	long generation;		/* the workload's metadata.generation once stored, 0: unknown */
};

/* What a GET of the Lease said. */
struct lease_state {
	int exists;			/* 0: not found, a write creates it */
	char resource_version[64];
	struct lease_entry entries[LEASE_ENTRIES_MAX];
	size_t count;
};

/*
 * Reads a Lease object (the body of a GET) into out. An annotation that is
 * not what this file describes fails with err naming the entry and what is
 * wrong in it; no annotation is no entries.
 */
int lease_decode(const char *json, size_t len, struct lease_state *out, struct pg_error *err);

/*
 * The Lease object to PUT (or POST, when it does not exist) for st: its
 * resourceVersion as the precondition, the entries as the annotation, and
 * holder as spec.holderIdentity. A new string, NULL when out of memory.
 */
char *lease_encode(const struct lease_state *st, const char *namespace, const char *name,
    const char *holder, double now);

/* Drops the entries expired at now (epoch seconds); returns how many. */
size_t lease_prune(struct lease_state *st, double now);

/* Appends e; PG_ERR_TOOBIG when LEASE_ENTRIES_MAX are in already. */
int lease_add(struct lease_state *st, const struct lease_entry *e, struct pg_error *err);

struct lease_ledger;

/*
 * A ledger in Lease namespace/name read and written with client (which stays
 * the caller's), entries signed replica; each admission's round trips end
 * within timeout seconds.
 */
int lease_ledger_new(struct kube_client *client, const char *namespace, const char *name,
    const char *replica, double timeout, struct lease_ledger **out, struct pg_error *err);

/* lease_ledger_free(NULL) does nothing. */
void lease_ledger_free(struct lease_ledger *l);

/* "namespace/name", the replica, the timeout. */
const char *lease_ledger_name(const struct lease_ledger *l);
const char *lease_ledger_replica(const struct lease_ledger *l);
double lease_ledger_timeout(const struct lease_ledger *l);

/*
 * Serializes this process's writers (they would only conflict with each
 * other), waiting until deadline (monotonic seconds): PG_ERR_TIMEOUT then.
 */
int lease_ledger_lock(struct lease_ledger *l, double deadline);
void lease_ledger_unlock(struct lease_ledger *l);

/* GETs the Lease into out, by deadline (monotonic seconds). */
int lease_ledger_read(struct lease_ledger *l, double deadline, struct lease_state *out,
    struct pg_error *err);

/*
 * Writes st with its resourceVersion as the precondition (creates the Lease
 * when st says it does not exist), by deadline. PG_ERR_CONFLICT: another
 * writer came first, read again.
 */
int lease_ledger_write(struct lease_ledger *l, const struct lease_state *st, double deadline,
    struct pg_error *err);

#endif
