/*
 * kube.c - libcurl client for the API server: credentials, GET, watch streams,
 * and the writes of the reservation Lease.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "poolguard/fileio.h"
#include "poolguard/kube.h"
#include "poolguard/manifest.h"

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_SECRET_MAX (1024 * 1024)

struct kube_blob {
	char *data;
	size_t len;
};

struct kube_client {
	char *server;
	char *ca_file;
	struct kube_blob ca;
	struct kube_blob cert;
	struct kube_blob key;
	char *cert_file;
	char *key_file;
	int insecure;
	pthread_mutex_t lock;		/* guards the token */
	char *token;
	char *token_file;
	struct timespec token_mtime;
};

static pthread_once_t kube_once = PTHREAD_ONCE_INIT;

static void
kube_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
kube_client_free(struct kube_client *c)
{
	if (c == NULL)
		return;
	free(c->server);
	free(c->ca_file);
	free(c->ca.data);
	free(c->cert.data);
	free(c->key.data);
	free(c->cert_file);
	free(c->key_file);
	free(c->token);
	free(c->token_file);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const char *
kube_client_server(const struct kube_client *c)
{
	return c->server;
}

static struct kube_client *
kube_client_alloc(void)
{
	struct kube_client *c = calloc(1, sizeof(*c));

	pthread_once(&kube_once, kube_global_init);
	if (c != NULL)
		pthread_mutex_init(&c->lock, NULL);
	return c;
}

/* Trims trailing white space, as token files often end in a newline. */
static void
kube_trim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
}

/* Re-reads the token file when its modification time changed. */
static int
kube_refresh_token(struct kube_client *c, struct pg_error *err)
{
	struct stat st;
	char *text;
	size_t len;
	int result;

	if (c->token_file == NULL)
		return PG_OK;
	if (stat(c->token_file, &st) != 0)
		return pg_error_set(err, PG_ERR_IO, "unable to read token file '%s'", c->token_file);
	if (c->token && st.st_mtim.tv_sec == c->token_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == c->token_mtime.tv_nsec)
		return PG_OK;
	if ((result = fileio_read(c->token_file, KUBE_SECRET_MAX, &text, &len, err)))
		return result;
	kube_trim(text);
	free(c->token);
	c->token = text;
	c->token_mtime = st.st_mtim;
	return PG_OK;
}

/* Base64 data of a kubeconfig field, decoded. */
static int
kube_decode_base64(const char *in, struct kube_blob *out, const char *what, struct pg_error *err)
{
	size_t len = strlen(in), pad = 0;
	int n;

	out->data = malloc(len / 4 * 3 + 4);
	if (out->data == NULL)
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	n = EVP_DecodeBlock((unsigned char *)out->data, (const unsigned char *)in, (int)len);
	if (n < 0 || len % 4 != 0) {
		free(out->data);
		out->data = NULL;
		return pg_error_set(err, PG_ERR_INVALID, "kubeconfig %s is not valid base64", what);
	}
	while (len > 0 && in[len - 1] == '=') {
		len--;
		pad++;
	}
	out->len = (size_t)n - pad;
	out->data[out->len] = '\0';
	return PG_OK;
}

static const cJSON *
kube_named(const cJSON *list, const char *name, const char *inner)
{
	const cJSON *item, *n;

	cJSON_ArrayForEach(item, list) {
		n = cJSON_GetObjectItemCaseSensitive(item, "name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			return cJSON_GetObjectItemCaseSensitive(item, inner);
	}
	return NULL;
}

static const char *
kube_str(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	return cJSON_IsString(item) && item->valuestring[0] ? item->valuestring : NULL;
}

/* A path in a kubeconfig, relative to the kubeconfig's directory unless absolute. */
static char *
kube_path(const char *kubeconfig, const char *path)
{
	const char *slash = strrchr(kubeconfig, '/');
	char *out;
	size_t dir;

	if (path[0] == '/' || slash == NULL)
		return strdup(path);
	dir = (size_t)(slash - kubeconfig) + 1;
	if ((out = malloc(dir + strlen(path) + 1)) == NULL)
		return NULL;
	memcpy(out, kubeconfig, dir);
	memcpy(out + dir, path, strlen(path) + 1);
	return out;
}

/* Reads either FIELD-data (base64) or FIELD (a file) into blob or file. */
static int
kube_material(const char *kubeconfig, const cJSON *object, const char *field,
    struct kube_blob *blob, char **file, struct pg_error *err)
{
	char data_key[64];
	const char *data, *path;

	snprintf(data_key, sizeof(data_key), "%s-data", field);
	if ((data = kube_str(object, data_key)) != NULL)
		return kube_decode_base64(data, blob, data_key, err);
	if ((path = kube_str(object, field)) != NULL &&
	    (*file = kube_path(kubeconfig, path)) == NULL)
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	return PG_OK;
}

int
kube_client_from_kubeconfig(const char *path, struct kube_client **out, struct pg_error *err)
{
	const cJSON *context, *cluster, *user;
	const char *current, *server, *token, *token_file;
	struct kube_client *c = NULL;
	cJSON *doc = NULL;
	char *text = NULL;
	size_t len;
	int result;

	*out = NULL;
	if ((result = fileio_read(path, KUBE_SECRET_MAX, &text, &len, err)))
		return result;
	if ((result = manifest_yaml_to_json(text, len, &doc, err))) {
		pg_error_prefix(err, "kubeconfig '%s'", path);
		goto out;
	}
	result = PG_ERR_INVALID;
	if ((current = kube_str(doc, "current-context")) == NULL) {
		pg_error_set(err, result, "kubeconfig '%s' has no current-context", path);
		goto out;
	}
	context = kube_named(cJSON_GetObjectItemCaseSensitive(doc, "contexts"), current, "context");
	if (context == NULL || kube_str(context, "cluster") == NULL) {
		pg_error_set(err, result, "kubeconfig '%s': context '%s' not found or has no cluster",
		    path, current);
		goto out;
	}
	cluster = kube_named(cJSON_GetObjectItemCaseSensitive(doc, "clusters"),
	    kube_str(context, "cluster"), "cluster");
	if ((server = kube_str(cluster, "server")) == NULL) {
		pg_error_set(err, result, "kubeconfig '%s': cluster '%s' has no server", path,
		    kube_str(context, "cluster"));
		goto out;
	}
	user = kube_str(context, "user") ? kube_named(cJSON_GetObjectItemCaseSensitive(doc,
	    "users"), kube_str(context, "user"), "user") : NULL;
	if (cJSON_GetObjectItemCaseSensitive(user, "exec") ||
	    cJSON_GetObjectItemCaseSensitive(user, "auth-provider")) {
		pg_error_set(err, PG_ERR_UNSUPPORTED, "kubeconfig '%s': user '%s' uses an exec or "
		    "auth-provider plugin, which poolguard does not run; use a token or a client "
		    "certificate", path, kube_str(context, "user"));
		result = PG_ERR_UNSUPPORTED;
		goto out;
	}
	if ((c = kube_client_alloc()) == NULL || (c->server = strdup(server)) == NULL) {
		result = pg_error_set(err, PG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (c->server[strlen(c->server) - 1] == '/')
		c->server[strlen(c->server) - 1] = '\0';
	c->insecure = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cluster,
	    "insecure-skip-tls-verify"));
	if ((result = kube_material(path, cluster, "certificate-authority", &c->ca, &c->ca_file,
	    err)) || (result = kube_material(path, user, "client-certificate", &c->cert,
	    &c->cert_file, err)) || (result = kube_material(path, user, "client-key", &c->key,
	    &c->key_file, err)))
		goto out;
	if ((token = kube_str(user, "token")) != NULL && (c->token = strdup(token)) == NULL) {
		result = pg_error_set(err, PG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((token_file = kube_str(user, "tokenFile")) != NULL) {
		c->token_file = kube_path(path, token_file);
		if ((result = kube_refresh_token(c, err)))
			goto out;
	}
	*out = c;
	c = NULL;
	result = PG_OK;
out:
	kube_client_free(c);
	cJSON_Delete(doc);
	free(text);
	return result;
}

int
kube_client_in_cluster(const char *dir, struct kube_client **out, struct pg_error *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	struct kube_client *c;
	char buf[512];
	int result;

	*out = NULL;
	if (dir == NULL)
		dir = KUBE_SA_DIR;
	if (host == NULL || port == NULL)
		return pg_error_set(err, PG_ERR_INVALID, "not running in a cluster: "
		    "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
	if ((c = kube_client_alloc()) == NULL)
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	snprintf(buf, sizeof(buf), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
	    port);
	c->server = strdup(buf);
	snprintf(buf, sizeof(buf), "%s/ca.crt", dir);
	c->ca_file = strdup(buf);
	snprintf(buf, sizeof(buf), "%s/token", dir);
	c->token_file = strdup(buf);
	if (c->server == NULL || c->ca_file == NULL || c->token_file == NULL) {
		kube_client_free(c);
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	}
	if ((result = kube_refresh_token(c, err))) {
		kube_client_free(c);
		return result;
	}
	*out = c;
	return PG_OK;
}

int
kube_service_account_namespace(const char *dir, char *buf, size_t size, struct pg_error *err)
{
	char path[512], *text;
	size_t len;
	int result;

	snprintf(path, sizeof(path), "%s/namespace", dir ? dir : KUBE_SA_DIR);
	if ((result = fileio_read(path, 256, &text, &len, err)))
		return result;
	kube_trim(text);
	if (*text == '\0' || strlen(text) >= size)
		result = pg_error_set(err, PG_ERR_INVALID, "'%s' holds no namespace", path);
	else
		memcpy(buf, text, strlen(text) + 1);
	free(text);
	return result;
}

/*
 * Sets up a GET of path with the client's TLS material and credentials,
 * given up after timeout_ms (connecting included).
 */
static int
kube_prepare(struct kube_client *c, CURL *curl, const char *path, long timeout_ms,
    struct curl_slist **headers, struct pg_error *err)
{
	struct curl_blob blob;
	char url[4096], auth[8192];
	int result;

	snprintf(url, sizeof(url), "%s%s", c->server, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(curl, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
	if (c->ca.data) {
		blob.data = c->ca.data;
		blob.len = c->ca.len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
	} else if (c->ca_file)
		curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca_file);
	if (c->insecure) {
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->cert.data) {
		blob.data = c->cert.data;
		blob.len = c->cert.len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &blob);
	} else if (c->cert_file)
		curl_easy_setopt(curl, CURLOPT_SSLCERT, c->cert_file);
	if (c->key.data) {
		blob.data = c->key.data;
		blob.len = c->key.len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &blob);
	} else if (c->key_file)
		curl_easy_setopt(curl, CURLOPT_SSLKEY, c->key_file);
	*headers = curl_slist_append(NULL, "Accept: application/json");
	pthread_mutex_lock(&c->lock);
	result = kube_refresh_token(c, err);
	if (result == PG_OK && c->token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
		*headers = curl_slist_append(*headers, auth);
	}
	pthread_mutex_unlock(&c->lock);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *headers);
	return result;
}

struct kube_body {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap;
	int too_big;
};

static size_t
kube_collect(char *data, size_t size, size_t n, void *arg)
{
	struct kube_body *b = arg;
	size_t add = size * n, alloc;
	char *grown;

	if (b->len + add > b->cap) {
		b->too_big = 1;
		return 0;
	}
	if (b->len + add + 1 > b->alloc) {
		for (alloc = b->alloc ? b->alloc : 16384; alloc < b->len + add + 1; alloc *= 2)
			;
		if ((grown = realloc(b->data, alloc)) == NULL)
			return 0;
		b->data = grown;
		b->alloc = alloc;
	}
	memcpy(b->data + b->len, data, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

/* CURLOPT_XFERINFOFUNCTION of a GET: gives up once *stop is set. */
static int
kube_get_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	const atomic_int *stop = arg;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return stop && atomic_load(stop);
}

int
kube_get(struct kube_client *c, const char *path, long timeout_seconds, char **body,
    size_t *len, long *status, struct pg_error *err)
{
	return kube_get_until(c, path, timeout_seconds, NULL, body, len, status, err);
}

int
kube_get_until(struct kube_client *c, const char *path, long timeout_seconds,
    const atomic_int *stop, char **body, size_t *len, long *status, struct pg_error *err)
{
	struct kube_body b = {NULL, 0, 0, KUBE_BODY_MAX, 0};
	struct curl_slist *headers = NULL;
	CURL *curl = curl_easy_init();
	CURLcode code;
	int result;

	*body = NULL;
	*len = 0;
	*status = 0;
	if (curl == NULL)
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	if ((result = kube_prepare(c, curl, path, timeout_seconds * 1000, &headers, err)))
		goto out;
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, kube_collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	if (stop) {
		curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, kube_get_progress);
		curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)(uintptr_t)stop);
	}
	code = curl_easy_perform(curl);
	if (code != CURLE_OK) {
		result = pg_error_set(err, b.too_big ? PG_ERR_TOOBIG : PG_ERR_IO, "GET %s%s: %s",
		    c->server, path, b.too_big ? "response too large" : curl_easy_strerror(code));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	*body = b.data ? b.data : strdup("");
	*len = b.len;
	b.data = NULL;
out:
	free(b.data);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return result;
}

int
kube_send(struct kube_client *c, const char *method, const char *path, const char *json,
    long timeout_ms, char **body, size_t *len, long *status, struct pg_error *err)
{
	struct kube_body b = {NULL, 0, 0, KUBE_BODY_MAX, 0};
	struct curl_slist *headers = NULL;
	CURL *curl = curl_easy_init();
	CURLcode code;
	int result;

	*body = NULL;
	*len = 0;
	*status = 0;
	if (curl == NULL)
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	if ((result = kube_prepare(c, curl, path, timeout_ms > 0 ? timeout_ms : 1, &headers, err)))
		goto out;
	if (json) {
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
	}
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, kube_collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	code = curl_easy_perform(curl);
	if (code != CURLE_OK) {
		result = pg_error_set(err, code == CURLE_OPERATION_TIMEDOUT ? PG_ERR_TIMEOUT :
		    b.too_big ? PG_ERR_TOOBIG : PG_ERR_IO, "%s %s%s: %s", method, c->server, path,
		    b.too_big ? "response too large" : curl_easy_strerror(code));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	*body = b.data ? b.data : strdup("");
	*len = b.len;
	b.data = NULL;
out:
	free(b.data);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return result;
}

struct kube_stream_state {
	struct kube_body line;
	int (*on_line)(void *, char *, size_t);
	void *ctx;
	const atomic_int *stop;
	int stopped;
};

static size_t
kube_stream_write(char *data, size_t size, size_t n, void *arg)
{
	struct kube_stream_state *s = arg;
	size_t total = size * n, i, start = 0;

	for (i = 0; i < total; i++) {
		if (data[i] != '\n')
			continue;
		if (kube_collect(data + start, 1, i - start, &s->line) != i - start)
			return 0;
		if (s->line.len > 0 && s->on_line(s->ctx, s->line.data ? s->line.data : "",
		    s->line.len)) {
			s->stopped = 1;
			return 0;
		}
		s->line.len = 0;
		start = i + 1;
	}
	if (start < total && kube_collect(data + start, 1, total - start, &s->line) !=
	    total - start)
		return 0;
	return total;
}

static int
kube_stream_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct kube_stream_state *s = arg;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	if (s->stop && atomic_load(s->stop)) {
		s->stopped = 1;
		return 1;
	}
	return 0;
}

int
kube_stream(struct kube_client *c, const char *path, long timeout_seconds,
    int (*on_line)(void *ctx, char *line, size_t len), void *ctx, const atomic_int *stop,
    long *status, struct pg_error *err)
{
	struct kube_stream_state s;
	struct curl_slist *headers = NULL;
	CURL *curl = curl_easy_init();
	CURLcode code;
	int result;

	*status = 0;
	memset(&s, 0, sizeof(s));
	s.line.cap = KUBE_EVENT_MAX;
	s.on_line = on_line;
	s.ctx = ctx;
	s.stop = stop;
	if (curl == NULL)
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	if ((result = kube_prepare(c, curl, path, timeout_seconds * 1000, &headers, err)))
		goto out;
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, kube_stream_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, kube_stream_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &s);
	code = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	if (code != CURLE_OK && !s.stopped)
		result = pg_error_set(err, s.line.too_big ? PG_ERR_TOOBIG : PG_ERR_IO, "watch %s%s: %s",
		    c->server, path, s.line.too_big ? "event too large" : curl_easy_strerror(code));
	else if (s.line.len > 0 && !s.stopped)
		on_line(ctx, s.line.data, s.line.len);	/* a last event without a newline */
out:
	free(s.line.data);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return result;
}
