/*
 * manifest.c - YAML and JSON documents to cJSON objects.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "poolguard/fileio.h"
#include "poolguard/manifest.h"

struct manifest_converter {
	yaml_document_t *doc;
	size_t nodes;		/* in this text, over all its documents */
	size_t max_nodes;
	size_t bytes;		/* scalar text produced, aliases expanded */
	struct pg_error *err;
	int result;
};

void
manifest_set_init(struct manifest_set *set)
{
	memset(set, 0, sizeof(*set));
}

void
manifest_set_release(struct manifest_set *set)
{
	size_t i;

	for (i = 0; i < set->count; i++) {
		cJSON_Delete(set->items[i].object);
		free(set->items[i].source);
	}
	free(set->items);
	manifest_set_init(set);
}

/* Appends object (ownership moves to the set, also on failure). */
static int
manifest_set_push(struct manifest_set *set, cJSON *object, const char *source, size_t index,
    struct pg_error *err)
{
	struct manifest_object *grown;
	char where[4096];

	if (set->count == set->alloc) {
		size_t alloc = set->alloc ? set->alloc * 2 : 16;

		if ((grown = realloc(set->items, alloc * sizeof(*grown))) == NULL) {
			cJSON_Delete(object);
			return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
		}
		set->items = grown;
		set->alloc = alloc;
	}
	snprintf(where, sizeof(where), "%s (document %zu)", source, index);
	if ((set->items[set->count].source = strdup(where)) == NULL) {
		cJSON_Delete(object);
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	}
	set->items[set->count++].object = object;
	return PG_OK;
}

/*
 * Pushes a document's object, or the items of a `kind: List`. Documents that
 * are null (an empty document between two ---) are skipped.
 */
static int
manifest_push_document(struct manifest_set *set, cJSON *doc, const char *source, size_t index,
    struct pg_error *err)
{
	cJSON *kind, *items, *item;
	int result;

	if (cJSON_IsNull(doc)) {
		cJSON_Delete(doc);
		return PG_OK;
	}
	if (cJSON_IsArray(doc))
		items = doc;
	else if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return pg_error_set(err, PG_ERR_INVALID, "%s (document %zu): not an object",
		    source, index);
	} else {
		kind = cJSON_GetObjectItemCaseSensitive(doc, "kind");
		items = cJSON_GetObjectItemCaseSensitive(doc, "items");
		if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "List") != 0 ||
		    !cJSON_IsArray(items))
			return manifest_set_push(set, doc, source, index, err);
	}
	while ((item = cJSON_DetachItemFromArray(items, 0)) != NULL) {
		if (!cJSON_IsObject(item)) {
			cJSON_Delete(item);
			cJSON_Delete(doc);
			return pg_error_set(err, PG_ERR_INVALID, "%s (document %zu): a list item is "
			    "not an object", source, index);
		}
		if ((result = manifest_set_push(set, item, source, index, err))) {
			cJSON_Delete(doc);
			return result;
		}
	}
	cJSON_Delete(doc);
	return PG_OK;
}

static int
manifest_match(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

/* YAML 1.2 core schema resolution of a plain scalar. */
static cJSON *
manifest_plain_scalar(const char *s)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	const char *p = s;
	char *end;
	double d;
	int digits = 0;

	if (manifest_match(s, nulls))
		return cJSON_CreateNull();
	if (manifest_match(s, trues))
		return cJSON_CreateTrue();
	if (manifest_match(s, falses))
		return cJSON_CreateFalse();
	if (*p == '-' || *p == '+')
		p++;
	if (p == s && p[0] == '0' && (p[1] == 'x' || p[1] == 'o') && p[2] != '\0') {
		const char *digits_ok = p[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567";
		unsigned long long v;

		if (strspn(p + 2, digits_ok) != strlen(p + 2) || strlen(p + 2) > 15)
			return cJSON_CreateString(s);
		v = strtoull(p + 2, &end, p[1] == 'x' ? 16 : 8);
		return cJSON_CreateNumber((double)v);
	}
	for (; isdigit((unsigned char)*p) || *p == '.' || *p == 'e' || *p == 'E' ||
	    ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E')); p++)
		digits += isdigit((unsigned char)*p) != 0;
	if (*p == '\0' && digits > 0) {
		d = strtod(s, &end);
		if (*end == '\0')
			return cJSON_CreateNumber(d);
	}
	return cJSON_CreateString(s);
}

static cJSON *
manifest_convert(struct manifest_converter *c, yaml_node_t *node, int depth)
{
	yaml_node_pair_t *pair;
	yaml_node_item_t *item;
	yaml_node_t *key, *value;
	cJSON *out = NULL, *child;

	if (node == NULL)
		return cJSON_CreateNull();
	if (++c->nodes > c->max_nodes || depth > MANIFEST_MAX_DEPTH) {
		c->result = pg_error_set(c->err, PG_ERR_TOOBIG, "expands to more than %zu nodes "
		    "or is deeper than %d levels", c->max_nodes, MANIFEST_MAX_DEPTH);
		return NULL;
	}
	switch (node->type) {
	case YAML_SCALAR_NODE:
		c->bytes += node->data.scalar.length;
		if (c->bytes > MANIFEST_MAX_BYTES) {
			c->result = pg_error_set(c->err, PG_ERR_TOOBIG, "expands to more than %d "
			    "bytes of text (aliases)", MANIFEST_MAX_BYTES);
			return NULL;
		}
		if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			out = manifest_plain_scalar((const char *)node->data.scalar.value);
		else
			out = cJSON_CreateString((const char *)node->data.scalar.value);
		break;
	case YAML_SEQUENCE_NODE:
		if ((out = cJSON_CreateArray()) == NULL)
			break;
		for (item = node->data.sequence.items.start; item < node->data.sequence.items.top;
		    item++) {
			child = manifest_convert(c, yaml_document_get_node(c->doc, *item), depth + 1);
			if (child == NULL || !cJSON_AddItemToArray(out, child)) {
				cJSON_Delete(child);
				cJSON_Delete(out);
				return NULL;
			}
		}
		break;
	case YAML_MAPPING_NODE:
		if ((out = cJSON_CreateObject()) == NULL)
			break;
		for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top;
		    pair++) {
			key = yaml_document_get_node(c->doc, pair->key);
			value = yaml_document_get_node(c->doc, pair->value);
			if (key == NULL || key->type != YAML_SCALAR_NODE) {
				c->result = pg_error_set(c->err, PG_ERR_INVALID,
				    "line %zu: mapping keys must be scalars",
				    node->start_mark.line + 1);
				cJSON_Delete(out);
				return NULL;
			}
			if (cJSON_GetObjectItemCaseSensitive(out,
			    (const char *)key->data.scalar.value) != NULL) {
				c->result = pg_error_set(c->err, PG_ERR_INVALID,
				    "line %zu: key '%.60s' is defined twice", key->start_mark.line + 1,
				    (const char *)key->data.scalar.value);
				cJSON_Delete(out);
				return NULL;
			}
			child = manifest_convert(c, value, depth + 1);
			if (child == NULL || !cJSON_AddItemToObject(out,
			    (const char *)key->data.scalar.value, child)) {
				cJSON_Delete(child);
				cJSON_Delete(out);
				return NULL;
			}
		}
		break;
	default:
		out = cJSON_CreateNull();
	}
	if (out == NULL && c->result == PG_OK)
		c->result = pg_error_set(c->err, PG_ERR_NOMEM, "out of memory");
	return out;
}

/* Loads YAML documents one by one; *each* is called with a new tree it owns. */
static int
manifest_load_yaml(const char *text, size_t len, const char *source, size_t max_nodes,
    size_t *nodes_used, int (*each)(void *, cJSON *, size_t, struct pg_error *), void *arg,
    struct pg_error *err)
{
	struct manifest_converter c;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	cJSON *tree;
	size_t index;
	int result = PG_OK;

	if (!yaml_parser_initialize(&parser))
		return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	/* The caps hold for the whole text: one file cannot pass them document by document. */
	memset(&c, 0, sizeof(c));
	c.err = err;
	c.max_nodes = max_nodes < MANIFEST_MAX_NODES ? max_nodes : MANIFEST_MAX_NODES;
	for (index = 1;; index++) {
		if (!yaml_parser_load(&parser, &doc)) {
			result = pg_error_set(err, PG_ERR_PARSE, "%s:%zu: invalid YAML: %s", source,
			    parser.problem_mark.line + 1,
			    parser.problem ? parser.problem : "unknown error");
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (root == NULL) {
			yaml_document_delete(&doc);
			break;
		}
		c.doc = &doc;
		c.result = PG_OK;
		tree = manifest_convert(&c, root, 0);
		yaml_document_delete(&doc);
		if (tree == NULL) {
			pg_error_prefix(err, "%s (document %zu)", source, index);
			result = c.result ? c.result : PG_ERR_NOMEM;
			break;
		}
		if ((result = each(arg, tree, index, err)))
			break;
	}
	yaml_parser_delete(&parser);
	if (nodes_used)
		*nodes_used += c.nodes;
	return result;
}

struct manifest_push_arg {
	struct manifest_set *set;
	const char *source;
};

static int
manifest_each_push(void *arg, cJSON *tree, size_t index, struct pg_error *err)
{
	struct manifest_push_arg *a = arg;

	return manifest_push_document(a->set, tree, a->source, index, err);
}

static int
manifest_each_keep(void *arg, cJSON *tree, size_t index, struct pg_error *err)
{
	cJSON **out = arg;

	if (index > 1) {
		cJSON_Delete(tree);
		return pg_error_set(err, PG_ERR_INVALID, "more than one YAML document");
	}
	*out = tree;
	return PG_OK;
}

int
manifest_yaml_to_json(const char *text, size_t len, cJSON **out, struct pg_error *err)
{
	int result;

	*out = NULL;
	result = manifest_load_yaml(text, len, "yaml", MANIFEST_MAX_NODES, NULL,
	    manifest_each_keep, out, err);
	if (result) {
		cJSON_Delete(*out);
		*out = NULL;
	} else if (*out == NULL)
		*out = cJSON_CreateNull();
	return result;
}

static void
manifest_truncate(struct manifest_set *set, size_t count)
{
	while (set->count > count) {
		set->count--;
		cJSON_Delete(set->items[set->count].object);
		free(set->items[set->count].source);
	}
}

int
manifest_load_text(struct manifest_set *set, const char *text, size_t len, const char *source,
    struct pg_error *err)
{
	struct manifest_push_arg arg = {set, source};
	const char *p = text, *end = text + len;
	size_t before = set->count;
	cJSON *doc;
	int result;

	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p < end && (*p == '{' || *p == '[')) {
		/* One JSON value, or a stream of them as `kubectl get -o json` pipes may give. */
		size_t index;

		result = PG_OK;
		for (index = 1; p < end && result == PG_OK; index++) {
			const char *parse_end = NULL;

			doc = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &parse_end, 0);
			if (doc == NULL) {
				size_t line = 1;
				const char *q;

				if (parse_end == NULL)
					parse_end = cJSON_GetErrorPtr();
				for (q = text; parse_end && q < parse_end && q < end; q++)
					line += *q == '\n';
				result = pg_error_set(err, PG_ERR_PARSE, "%s:%zu: invalid JSON", source,
				    line);
				break;
			}
			result = manifest_push_document(set, doc, source, index, err);
			for (p = parse_end; p < end && (isspace((unsigned char)*p) || *p == '\0'); p++)
				;
		}
	} else
		result = manifest_load_yaml(text, len, source, MANIFEST_SET_MAX_NODES > set->nodes ?
		    MANIFEST_SET_MAX_NODES - set->nodes : 0, &set->nodes, manifest_each_push, &arg, err);
	if (result)
		manifest_truncate(set, before);
	return result;
}

static int
manifest_compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
manifest_wanted_file(const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.')
		return 0;
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
	    (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
	    (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

static int
manifest_load_dir(struct manifest_set *set, const char *path, struct pg_error *err)
{
	DIR *dir;
	struct dirent *entry;
	char **names = NULL, **grown, file[4096];
	size_t count = 0, alloc = 0, i, before = set->count;
	int result = PG_OK;

	if ((dir = opendir(path)) == NULL)
		return pg_error_set(err, PG_ERR_IO, "unable to open directory '%s'", path);
	while ((entry = readdir(dir)) != NULL) {
		if (!manifest_wanted_file(entry->d_name))
			continue;
		if (count == alloc) {
			alloc = alloc ? alloc * 2 : 32;
			if ((grown = realloc(names, alloc * sizeof(*names))) == NULL) {
				result = pg_error_set(err, PG_ERR_NOMEM, "out of memory");
				goto out;
			}
			names = grown;
		}
		if ((names[count] = strdup(entry->d_name)) == NULL) {
			result = pg_error_set(err, PG_ERR_NOMEM, "out of memory");
			goto out;
		}
		count++;
	}
	if (count > 1)
		qsort(names, count, sizeof(*names), manifest_compare_names);
	for (i = 0; i < count && result == PG_OK; i++) {
		snprintf(file, sizeof(file), "%s/%s", path, names[i]);
		if (!fileio_is_dir(file))
			result = manifest_load(set, file, err);
	}
	if (result)
		manifest_truncate(set, before);
out:
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	closedir(dir);
	return result;
}

int
manifest_load(struct manifest_set *set, const char *path, struct pg_error *err)
{
	char *text;
	size_t len;
	int result;

	if (fileio_is_dir(path))
		return manifest_load_dir(set, path, err);
	if ((result = fileio_read(path, MANIFEST_MAX_BYTES, &text, &len, err)))
		return result;
	result = manifest_load_text(set, text, len, strcmp(path, "-") == 0 ? "<stdin>" : path, err);
	free(text);
	return result;
}
