/*
 * manifest.c - YAML and JSON documents to cJSON objects.
 */
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "poolguard/fileio.h"
#include "poolguard/manifest.h"
#include "poolguard/table.h"

#define MANIFEST_BINARY_TAG "tag:yaml.org,2002:binary"
#define MANIFEST_MERGE_TAG "tag:yaml.org,2002:merge"
/* A mapping or object with more keys than this finds its keys through a hash table. */
#define MANIFEST_INDEX_MIN 16
/* The longest JSON path in a message, "spec.template..." */
#define MANIFEST_PATH_MAX 256

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
 * Pushes a document's object, or the items of a list. kubectl reads any
 * object with an `items` key as a list, whatever its kind (List,
 * DeploymentList, even Deployment), and applies the items, not the object;
 * `items: null` is an empty list. Documents that are null (an empty document
 * between two ---) are skipped.
 */
static int
manifest_push_document(struct manifest_set *set, cJSON *doc, const char *source, size_t index,
    struct pg_error *err)
{
	cJSON *items, *item;
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
	} else if ((items = cJSON_GetObjectItemCaseSensitive(doc, "items")) == NULL)
		return manifest_set_push(set, doc, source, index, err);
	else if (!cJSON_IsArray(items) && !cJSON_IsNull(items)) {
		cJSON_Delete(doc);
		return pg_error_set(err, PG_ERR_INVALID, "%s (document %zu): 'items' is not a list",
		    source, index);
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

/*
 * Appends ".key" or "[i]" to the JSON path in path (of size MANIFEST_PATH_MAX),
 * cut with "..." when it does not fit. Returns the old length, to cut back to.
 */
static size_t
manifest_path_push(char *path, const char *key, int index)
{
	size_t len = strlen(path);

	if (key != NULL)
		snprintf(path + len, MANIFEST_PATH_MAX - len, "%s%.60s", len ? "." : "", key);
	else
		snprintf(path + len, MANIFEST_PATH_MAX - len, "[%d]", index);
	if (strlen(path) == MANIFEST_PATH_MAX - 1)
		memcpy(path + MANIFEST_PATH_MAX - 4, "...", 4);
	return len;
}

/* The first key of object given twice, or NULL; in linear time however many keys it has. */
static const char *
manifest_json_twice(const cJSON *object, int *nomem)
{
	const cJSON *a, *b;
	struct table *seen;
	const char *twice = NULL;
	int n = cJSON_GetArraySize(object);

	if (n <= MANIFEST_INDEX_MIN) {
		for (a = object->child; a != NULL; a = a->next)
			for (b = a->next; b != NULL; b = b->next)
				if (strcmp(a->string, b->string) == 0)
					return b->string;
		return NULL;
	}
	if ((seen = table_new()) == NULL) {
		*nomem = 1;
		return NULL;
	}
	for (a = object->child; a != NULL && twice == NULL; a = a->next)
		if (table_get(seen, a->string) != NULL)
			twice = a->string;
		else if (table_put(seen, a->string, (void *)a, NULL)) {
			*nomem = 1;
			break;
		}
	table_free(seen, NULL);
	return twice;
}

/*
 * Refuses a JSON object that gives a key twice: cJSON keeps the first value,
 * Kubernetes the last, so the file would be counted as something else than
 * what kubectl applies. The YAML loader refuses them too. path holds the
 * JSON path of node.
 */
static int
manifest_json_unique(const cJSON *node, char *path, struct pg_error *err)
{
	const cJSON *child;
	const char *twice;
	size_t len;
	int nomem = 0, i = 0, result;

	if (cJSON_IsObject(node)) {
		if ((twice = manifest_json_twice(node, &nomem)) != NULL) {
			manifest_path_push(path, twice, 0);
			return pg_error_set(err, PG_ERR_INVALID, "key '%s' is defined twice", path);
		}
		if (nomem)
			return pg_error_set(err, PG_ERR_NOMEM, "out of memory");
	} else if (!cJSON_IsArray(node))
		return PG_OK;
	for (child = node->child; child != NULL; child = child->next, i++) {
		if (!cJSON_IsObject(child) && !cJSON_IsArray(child))
			continue;
		len = manifest_path_push(path, cJSON_IsObject(node) ? child->string : NULL, i);
		result = manifest_json_unique(child, path, err);
		path[len] = '\0';
		if (result)
			return result;
	}
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

/*
 * Decodes the text of a !!binary node the way goyaml.v2 does, with Go's
 * padded standard base64 and CR and LF skipped, into a new NUL-terminated
 * string the caller frees. Other characters, missing padding and a decoded
 * NUL byte (which a C string cannot hold) are errors.
 */
static int
manifest_base64(struct manifest_converter *c, const yaml_node_t *node, char **out)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/";
	const char *in = (const char *)node->data.scalar.value;
	size_t len = node->data.scalar.length, n = 0, pad = 0, i;
	unsigned char *text = NULL, *bytes = NULL;
	int decoded;

	*out = NULL;
	if (len > INT_MAX || (text = malloc(len + 1)) == NULL ||
	    (bytes = malloc(len / 4 * 3 + 1)) == NULL) {
		free(text);
		return c->result = pg_error_set(c->err, PG_ERR_NOMEM, "out of memory");
	}
	for (i = 0; i < len; i++)
		if (in[i] != '\r' && in[i] != '\n')
			text[n++] = (unsigned char)in[i];
	while (pad < 2 && pad < n && text[n - 1 - pad] == '=')
		pad++;
	/* EVP_DecodeBlock would skip blanks and stray padding that Go refuses. */
	for (i = 0; i < n - pad && memchr(alphabet, text[i], sizeof(alphabet) - 1) != NULL; i++)
		;
	decoded = i == n - pad && n % 4 == 0 ? EVP_DecodeBlock(bytes, text, (int)n) : -1;
	free(text);
	if (decoded < 0 || (size_t)decoded < pad) {
		free(bytes);
		return c->result = pg_error_set(c->err, PG_ERR_INVALID, "line %zu: !!binary value "
		    "is not valid base64", node->start_mark.line + 1);
	}
	decoded -= (int)pad;
	if (memchr(bytes, '\0', (size_t)decoded) != NULL) {
		free(bytes);
		return c->result = pg_error_set(c->err, PG_ERR_INVALID, "line %zu: !!binary value "
		    "holds a NUL byte", node->start_mark.line + 1);
	}
	bytes[decoded] = '\0';
	*out = (char *)bytes;
	return PG_OK;
}

/*
 * A scalar node as JSON. Untagged plain scalars take their YAML 1.2 core
 * schema type and quoted ones are strings; an explicit !!int, !!float,
 * !!bool or !!null types the text whatever its quoting, !!binary is
 * decoded to a string (kubectl sends the bytes as a string), and any other
 * tag keeps the text as a string, as kubectl does.
 */
static cJSON *
manifest_scalar(struct manifest_converter *c, yaml_node_t *node)
{
	const char *s = (const char *)node->data.scalar.value, *tag = (const char *)node->tag;
	cJSON *out;
	char *bytes;
	int ok;

	if (tag == NULL || strcmp(tag, YAML_STR_TAG) == 0) {
		/* Also an explicit !!str: libyaml gives it the default tag of every scalar. */
		if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			return manifest_plain_scalar(s);
		return cJSON_CreateString(s);
	}
	if (strcmp(tag, MANIFEST_BINARY_TAG) == 0) {
		if (manifest_base64(c, node, &bytes))
			return NULL;
		out = cJSON_CreateString(bytes);
		free(bytes);
		return out;
	}
	if (strcmp(tag, YAML_INT_TAG) != 0 && strcmp(tag, YAML_FLOAT_TAG) != 0 &&
	    strcmp(tag, YAML_BOOL_TAG) != 0 && strcmp(tag, YAML_NULL_TAG) != 0)
		return cJSON_CreateString(s);
	if ((out = manifest_plain_scalar(s)) == NULL)
		return NULL;
	if (strcmp(tag, YAML_BOOL_TAG) == 0)
		ok = cJSON_IsBool(out);
	else if (strcmp(tag, YAML_NULL_TAG) == 0)
		ok = cJSON_IsNull(out);
	else
		ok = cJSON_IsNumber(out);
	if (!ok) {
		cJSON_Delete(out);
		c->result = pg_error_set(c->err, PG_ERR_INVALID, "line %zu: '%.60s' is not a "
		    "valid !!%s", node->start_mark.line + 1, s, tag + strlen("tag:yaml.org,2002:"));
		return NULL;
	}
	return out;
}

/* One key of a mapping being converted. */
struct manifest_slot {
	cJSON *item;		/* in the object being built; item->string is the key */
	int explicit;		/* set by a key of the mapping itself, not by a merge */
};

/* The keys of a mapping being converted, found again in constant time once there are many. */
struct manifest_keys {
	struct manifest_slot *slots;
	size_t count;
	size_t alloc;
	struct table *index;	/* key -> slot number + 1, from MANIFEST_INDEX_MIN keys on */
};

static void
manifest_keys_release(struct manifest_keys *keys)
{
	table_free(keys->index, NULL);
	free(keys->slots);
}

/* The slot of key, or keys->count when there is none. */
static size_t
manifest_keys_find(const struct manifest_keys *keys, const char *key)
{
	uintptr_t found;
	size_t i;

	if (keys->index != NULL) {
		found = (uintptr_t)table_get(keys->index, key);
		return found ? (size_t)found - 1 : keys->count;
	}
	for (i = 0; i < keys->count; i++)
		if (strcmp(keys->slots[i].item->string, key) == 0)
			break;
	return i;
}

/* Indexes slot i by its key; builds the index when the mapping has grown large. */
static int
manifest_keys_index(struct manifest_keys *keys, size_t i)
{
	size_t j;

	if (keys->index != NULL)
		return table_put(keys->index, keys->slots[i].item->string,
		    (void *)(uintptr_t)(i + 1), NULL);
	if (keys->count < MANIFEST_INDEX_MIN)
		return 0;
	if ((keys->index = table_new()) == NULL)
		return -1;
	for (j = 0; j < keys->count; j++)
		if (table_put(keys->index, keys->slots[j].item->string,
		    (void *)(uintptr_t)(j + 1), NULL))
			return -1;
	return 0;
}

/*
 * Sets key to child in out (child is consumed, also on failure). A later
 * value replaces an earlier one, as goyaml.v2 does, so a merge overrides the
 * keys before it and a key after a merge overrides the merge; but a key
 * given twice by the mapping itself is an error.
 */
static int
manifest_keys_put(struct manifest_converter *c, struct manifest_keys *keys, cJSON *out,
    const char *key, cJSON *child, int explicit, const yaml_node_t *at)
{
	struct manifest_slot *grown, *slot;
	size_t i = manifest_keys_find(keys, key);

	if (i < keys->count) {
		slot = &keys->slots[i];
		if (explicit && slot->explicit) {
			cJSON_Delete(child);
			return c->result = pg_error_set(c->err, PG_ERR_INVALID, "line %zu: key "
			    "'%.60s' is defined twice", at->start_mark.line + 1, key);
		}
		if (child->string == NULL) {
			child->string = slot->item->string;
			slot->item->string = NULL;
		}
		cJSON_ReplaceItemViaPointer(out, slot->item, child);
		slot->item = child;
		slot->explicit |= explicit;
		return PG_OK;
	}
	if (keys->count == keys->alloc) {
		size_t alloc = keys->alloc ? keys->alloc * 2 : 8;

		if ((grown = realloc(keys->slots, alloc * sizeof(*grown))) == NULL) {
			cJSON_Delete(child);
			return c->result = pg_error_set(c->err, PG_ERR_NOMEM, "out of memory");
		}
		keys->slots = grown;
		keys->alloc = alloc;
	}
	/* key may be child->string: cJSON copies it before it frees the old one. */
	if (!cJSON_AddItemToObject(out, key, child)) {
		cJSON_Delete(child);
		return c->result = pg_error_set(c->err, PG_ERR_NOMEM, "out of memory");
	}
	keys->slots[keys->count].item = child;
	keys->slots[keys->count].explicit = explicit;
	if (manifest_keys_index(keys, keys->count++))
		return c->result = pg_error_set(c->err, PG_ERR_NOMEM, "out of memory");
	return PG_OK;
}

enum manifest_key_kind {
	MANIFEST_KEY_PLAIN,
	MANIFEST_KEY_MERGE,
	MANIFEST_KEY_AMBIGUOUS
};

/*
 * Whether a key is the merge key: goyaml.v2 merges at a '<<' that is untagged
 * and unquoted, or tagged !!merge. libyaml's document API gives an untagged
 * '<<' and one tagged !!str the same tag, so a '<<' with properties (its
 * node spans more than the two characters) cannot be told apart: refused.
 */
static enum manifest_key_kind
manifest_key_kind(const yaml_node_t *key)
{
	const char *tag = (const char *)key->tag;

	if (key->data.scalar.length != 2 || memcmp(key->data.scalar.value, "<<", 2) != 0)
		return MANIFEST_KEY_PLAIN;
	if (tag != NULL && strcmp(tag, MANIFEST_MERGE_TAG) == 0)
		return MANIFEST_KEY_MERGE;
	if (key->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	    (tag != NULL && strcmp(tag, YAML_STR_TAG) != 0))
		return MANIFEST_KEY_PLAIN;
	return key->end_mark.index - key->start_mark.index == 2 ? MANIFEST_KEY_MERGE :
	    MANIFEST_KEY_AMBIGUOUS;
}

static cJSON *manifest_convert(struct manifest_converter *c, yaml_node_t *node, int depth);

/* Merges the keys of the mapping node from into out, each overriding the one there. */
static int
manifest_merge_one(struct manifest_converter *c, struct manifest_keys *keys, cJSON *out,
    yaml_node_t *from, const yaml_node_t *at, int depth)
{
	cJSON *merged, *item;
	int result = PG_OK;

	if ((merged = manifest_convert(c, from, depth)) == NULL)
		return c->result;
	while (result == PG_OK && (item = merged->child) != NULL) {
		cJSON_DetachItemViaPointer(merged, item);
		result = manifest_keys_put(c, keys, out, item->string, item, 0, at);
	}
	cJSON_Delete(merged);
	return result;
}

/*
 * The value of a merge key: a mapping, or a list of mappings of which the
 * earlier win (goyaml.v2 merges them last to first). Aliases are already
 * resolved to the nodes they name.
 */
static int
manifest_merge(struct manifest_converter *c, struct manifest_keys *keys, cJSON *out,
    const yaml_node_t *key, yaml_node_t *value, int depth)
{
	yaml_node_item_t *item, *start, *top;
	yaml_node_t *from;
	int result;

	if (value != NULL && value->type == YAML_MAPPING_NODE)
		return manifest_merge_one(c, keys, out, value, key, depth);
	if (value == NULL || value->type != YAML_SEQUENCE_NODE)
		goto bad;
	start = value->data.sequence.items.start;
	top = value->data.sequence.items.top;
	for (item = start; item < top; item++)
		if ((from = yaml_document_get_node(c->doc, *item)) == NULL ||
		    from->type != YAML_MAPPING_NODE)
			goto bad;
	for (item = top; item > start; item--)
		if ((result = manifest_merge_one(c, keys, out, yaml_document_get_node(c->doc,
		    item[-1]), key, depth)))
			return result;
	return PG_OK;
bad:
	return c->result = pg_error_set(c->err, PG_ERR_INVALID, "line %zu: the merge key '<<' "
	    "takes a mapping or a list of mappings", key->start_mark.line + 1);
}

static cJSON *
manifest_convert_mapping(struct manifest_converter *c, yaml_node_t *node, int depth)
{
	struct manifest_keys keys;
	yaml_node_pair_t *pair;
	yaml_node_t *key, *value;
	cJSON *out, *child;
	char *decoded;
	int result = PG_OK;

	if ((out = cJSON_CreateObject()) == NULL)
		return NULL;
	memset(&keys, 0, sizeof(keys));
	for (pair = node->data.mapping.pairs.start; result == PG_OK &&
	    pair < node->data.mapping.pairs.top; pair++) {
		key = yaml_document_get_node(c->doc, pair->key);
		value = yaml_document_get_node(c->doc, pair->value);
		if (key == NULL || key->type != YAML_SCALAR_NODE) {
			result = c->result = pg_error_set(c->err, PG_ERR_INVALID,
			    "line %zu: mapping keys must be scalars", node->start_mark.line + 1);
			break;
		}
		switch (manifest_key_kind(key)) {
		case MANIFEST_KEY_MERGE:
			result = manifest_merge(c, &keys, out, key, value, depth + 1);
			continue;
		case MANIFEST_KEY_AMBIGUOUS:
			result = c->result = pg_error_set(c->err, PG_ERR_INVALID, "line %zu: a "
			    "'<<' key with an anchor or a tag: write '<<' alone to merge, or quote "
			    "it", key->start_mark.line + 1);
			continue;
		case MANIFEST_KEY_PLAIN:
			break;
		}
		decoded = NULL;
		if (key->tag != NULL && strcmp((const char *)key->tag, MANIFEST_BINARY_TAG) == 0 &&
		    (result = manifest_base64(c, key, &decoded)))
			break;
		if ((child = manifest_convert(c, value, depth + 1)) == NULL)
			result = c->result ? c->result : PG_ERR_NOMEM;
		else
			result = manifest_keys_put(c, &keys, out, decoded ? decoded :
			    (const char *)key->data.scalar.value, child, 1, key);
		free(decoded);
	}
	manifest_keys_release(&keys);
	if (result) {
		cJSON_Delete(out);
		return NULL;
	}
	return out;
}

static cJSON *
manifest_convert(struct manifest_converter *c, yaml_node_t *node, int depth)
{
	yaml_node_item_t *item;
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
		out = manifest_scalar(c, node);
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
		out = manifest_convert_mapping(c, node, depth);
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
		char path[MANIFEST_PATH_MAX];
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
			path[0] = '\0';
			if ((result = manifest_json_unique(doc, path, err))) {
				pg_error_prefix(err, "%s (document %zu)", source, index);
				cJSON_Delete(doc);
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
