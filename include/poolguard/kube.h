/*
 * kube.h - a client for the Kubernetes API server, with libcurl.
 *
 * Credentials come from a kubeconfig (token, token file or client
 * certificate; the CA as a file or inline data) or from the in-cluster
 * service account (its token file is re-read when it changes, since the
 * kubelet rotates it). Workloads, autoscalers and ConfigMaps are only read
 * (get, list and watch); the one object written is the Lease that shares
 * reservations between replicas (lease.c), with kube_send.
 */
#ifndef POOLGUARD_KUBE_H
#define POOLGUARD_KUBE_H

#include <stdatomic.h>
#include <stddef.h>

#include "poolguard/error.h"

/* The largest response body read into memory (one page of a LIST, one object). */
#define KUBE_BODY_MAX (64 * 1024 * 1024)
/* The longest line of a watch stream (one event). */
#define KUBE_EVENT_MAX (16 * 1024 * 1024)

struct kube_client;

/*
 * A client from a kubeconfig file: its current context's cluster and user.
 * exec and auth-provider plugins are not supported (a clear error says so).
 */
int kube_client_from_kubeconfig(const char *path, struct kube_client **out,
    struct pg_error *err);

/*
 * A client from the pod's service account: KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT, and the token and CA under
 * /var/run/secrets/kubernetes.io/serviceaccount (or dir, when not NULL).
 */
int kube_client_in_cluster(const char *dir, struct kube_client **out, struct pg_error *err);

/* The pod's namespace, from the service account's namespace file under dir (NULL: the default). */
int kube_service_account_namespace(const char *dir, char *buf, size_t size,
    struct pg_error *err);

/* kube_client_free(NULL) does nothing. */
void kube_client_free(struct kube_client *c);

/* The server URL, for messages. */
const char *kube_client_server(const struct kube_client *c);

/*
 * GETs path (starting with /api or /apis, query included). *body is the
 * response body (NUL-terminated, the caller frees it) and *status the HTTP
 * status; a transport failure is PG_ERR_IO with err saying why.
 */
int kube_get(struct kube_client *c, const char *path, long timeout_seconds, char **body,
    size_t *len, long *status, struct pg_error *err);

/* kube_get, given up (PG_ERR_IO) within about a second once *stop becomes non-zero. */
int kube_get_until(struct kube_client *c, const char *path, long timeout_seconds,
    const atomic_int *stop, char **body, size_t *len, long *status, struct pg_error *err);

/*
 * Sends method (GET, PUT, POST) to path with json as the body (NULL: none),
 * given up after timeout_ms (PG_ERR_TIMEOUT). Otherwise as kube_get.
 */
int kube_send(struct kube_client *c, const char *method, const char *path, const char *json,
    long timeout_ms, char **body, size_t *len, long *status, struct pg_error *err);

/*
 * GETs a watch path and calls on_line for each line of the stream (one JSON
 * event), until the server ends the stream, on_line returns non-zero, or
 * *stop becomes non-zero. *status is the HTTP status.
 */
int kube_stream(struct kube_client *c, const char *path, long timeout_seconds,
    int (*on_line)(void *ctx, char *line, size_t len), void *ctx, const atomic_int *stop,
    long *status, struct pg_error *err);

#endif
