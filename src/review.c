/*
 * review.c - AdmissionReview v1 decoding and encoding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolguard/review.h"

static const char *
review_string(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* A string field that may be absent (""), but not of another type. */
static int
review_optional_string(const cJSON *object, const char *key, const char *path, const char **out,
    struct pg_error *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	*out = "";
	if (item == NULL || cJSON_IsNull(item))
		return PG_OK;
	if (!cJSON_IsString(item))
		return pg_error_set(err, PG_ERR_INVALID, "%s.%s must be a string", path, key);
	*out = item->valuestring;
	return PG_OK;
}

static const cJSON *
review_object_or_null(const cJSON *request, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(request, key);

	return cJSON_IsObject(item) ? item : NULL;
}

/* Reads {group, version, kind|resource}; the core group is "". */
static int
review_gvk(const cJSON *request, const char *key, const char *last, const char **group,
    const char **version, const char **name, struct pg_error *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(request, key);
	char path[64];

	*group = *version = *name = "";
	if (item == NULL)
		return PG_OK;
	if (!cJSON_IsObject(item))
		return pg_error_set(err, PG_ERR_INVALID, "request.%s must be an object", key);
	snprintf(path, sizeof(path), "request.%s", key);
	if (review_optional_string(item, "group", path, group, err) ||
	    review_optional_string(item, "version", path, version, err) ||
	    review_optional_string(item, last, path, name, err))
		return PG_ERR_INVALID;
	return PG_OK;
}

static const char *const review_operations[] = {
	[REVIEW_OTHER] = "other",
	[REVIEW_CREATE] = "CREATE",
	[REVIEW_UPDATE] = "UPDATE",
	[REVIEW_DELETE] = "DELETE",
	[REVIEW_CONNECT] = "CONNECT",
};

const char *
review_operation_name(enum review_operation op)
{
	return op > REVIEW_OTHER && op <= REVIEW_CONNECT ? review_operations[op] : "other";
}

/* The operation, the target and the workload kind, from the strings the request carries. */
static void
review_classify(struct review_request *out)
{
	int op;

	out->op = REVIEW_OTHER;
	for (op = REVIEW_CREATE; op <= REVIEW_CONNECT; op++)
		if (strcmp(out->operation, review_operations[op]) == 0)
			out->op = (enum review_operation)op;
	out->target = REVIEW_TARGET_NONE;
	out->workload = workload_kind_of_resource(out->resource_group, out->resource);
	if (out->workload != WORKLOAD_NONE) {
		if (out->sub_resource[0] == '\0')
			out->target = REVIEW_TARGET_WORKLOAD;
		else if (strcmp(out->sub_resource, "scale") == 0)
			out->target = REVIEW_TARGET_SCALE;
	} else if (strcmp(out->resource_group, "autoscaling") == 0 &&
	    strcmp(out->resource, "horizontalpodautoscalers") == 0 && out->sub_resource[0] == '\0')
		out->target = REVIEW_TARGET_HPA;
	else if (out->resource_group[0] == '\0' && strcmp(out->resource, "configmaps") == 0 &&
	    out->sub_resource[0] == '\0')
		out->target = REVIEW_TARGET_CONFIGMAP;
}

static int
review_fill(struct review_request *out, const cJSON *request, struct pg_error *err)
{
	const cJSON *dry_run, *user;

	if (!cJSON_IsObject(request))
		return pg_error_set(err, PG_ERR_INVALID, "request must be an object");
	out->uid = review_string(request, "uid");
	if (out->uid == NULL || out->uid[0] == '\0')
		return pg_error_set(err, PG_ERR_INVALID, "request.uid is missing or not a string");
	out->operation = review_string(request, "operation");
	if (out->operation == NULL || out->operation[0] == '\0')
		return pg_error_set(err, PG_ERR_INVALID, "request.operation is missing or not a "
		    "string");
	if (review_gvk(request, "kind", "kind", &out->kind_group, &out->kind_version, &out->kind,
	    err) || review_gvk(request, "resource", "resource", &out->resource_group,
	    &out->resource_version, &out->resource, err) ||
	    review_optional_string(request, "subResource", "request", &out->sub_resource, err) ||
	    review_optional_string(request, "namespace", "request", &out->namespace, err) ||
	    review_optional_string(request, "name", "request", &out->name, err))
		return PG_ERR_INVALID;
	user = cJSON_GetObjectItemCaseSensitive(request, "userInfo");
	out->username = review_string(user, "username");
	if (out->username == NULL)
		out->username = "";
	dry_run = cJSON_GetObjectItemCaseSensitive(request, "dryRun");
	if (dry_run != NULL && !cJSON_IsBool(dry_run) && !cJSON_IsNull(dry_run))
		return pg_error_set(err, PG_ERR_INVALID, "request.dryRun must be a boolean");
	out->dry_run = cJSON_IsTrue(dry_run);
	out->object = review_object_or_null(request, "object");
	out->old_object = review_object_or_null(request, "oldObject");
	review_classify(out);
	return PG_OK;
}

int
review_decode(const char *body, size_t len, int allow_bare, struct review_request *out,
    struct pg_error *err)
{
	const cJSON *request, *kind;
	const char *end = NULL;
	int result;

	memset(out, 0, sizeof(*out));
	if ((out->root = cJSON_ParseWithLengthOpts(body, len, &end, 0)) == NULL)
		return pg_error_set(err, PG_ERR_PARSE, "the body is not valid JSON");
	/* One document: the API server never sends more, so more is not an AdmissionReview. */
	while (end < body + len && strchr(" \t\r\n", *end) != NULL && *end != '\0')
		end++;
	if (end < body + len) {
		result = pg_error_set(err, PG_ERR_PARSE, "the body is not valid JSON: data after "
		    "the document at byte %zu", (size_t)(end - body));
		goto fail;
	}
	if (!cJSON_IsObject(out->root)) {
		result = pg_error_set(err, PG_ERR_INVALID, "the body is not an AdmissionReview "
		    "object");
		goto fail;
	}
	request = cJSON_GetObjectItemCaseSensitive(out->root, "request");
	if (request == NULL && allow_bare && cJSON_GetObjectItemCaseSensitive(out->root,
	    "operation") != NULL) {
		out->api_version = REVIEW_API_VERSION;
		if ((result = review_fill(out, out->root, err)))
			goto fail;
		return PG_OK;
	}
	kind = cJSON_GetObjectItemCaseSensitive(out->root, "kind");
	out->api_version = review_string(out->root, "apiVersion");
	if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "AdmissionReview") != 0) {
		result = pg_error_set(err, PG_ERR_INVALID, "kind must be AdmissionReview");
		goto fail;
	}
	if (out->api_version == NULL || strcmp(out->api_version, REVIEW_API_VERSION) != 0) {
		result = pg_error_set(err, PG_ERR_INVALID, "apiVersion '%.60s' is not supported, "
		    "only " REVIEW_API_VERSION, out->api_version ? out->api_version : "(none)");
		goto fail;
	}
	if (request == NULL) {
		result = pg_error_set(err, PG_ERR_INVALID, "the AdmissionReview has no request");
		goto fail;
	}
	if ((result = review_fill(out, request, err)))
		goto fail;
	return PG_OK;
fail:
	review_release(out);
	return result;
}

void
review_release(struct review_request *req)
{
	cJSON_Delete(req->root);
	memset(req, 0, sizeof(*req));
}

char *
review_encode(const struct review_request *req, const struct verdict *v, int pretty)
{
	cJSON *root, *response, *status, *warnings;
	char *text = NULL;
	size_t i;

	if ((root = cJSON_CreateObject()) == NULL)
		return NULL;
	if (!cJSON_AddStringToObject(root, "apiVersion", REVIEW_API_VERSION) ||
	    !cJSON_AddStringToObject(root, "kind", "AdmissionReview") ||
	    (response = cJSON_AddObjectToObject(root, "response")) == NULL ||
	    !cJSON_AddStringToObject(response, "uid", req->uid ? req->uid : "") ||
	    !cJSON_AddBoolToObject(response, "allowed", v->allowed))
		goto out;
	if (!v->allowed) {
		if ((status = cJSON_AddObjectToObject(response, "status")) == NULL ||
		    !cJSON_AddNumberToObject(status, "code", 403) ||
		    !cJSON_AddStringToObject(status, "reason", "Forbidden") ||
		    !cJSON_AddStringToObject(status, "message", v->message))
			goto out;
	}
	if (v->warning_count > 0) {
		if ((warnings = cJSON_AddArrayToObject(response, "warnings")) == NULL)
			goto out;
		for (i = 0; i < v->warning_count; i++)
			if (!cJSON_AddItemToArray(warnings, cJSON_CreateString(v->warnings[i])))
				goto out;
	}
	text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return text;
}
