/*
 * manifest.h - Kubernetes manifests (YAML or JSON, many documents) to cJSON objects.
 *
 * A manifest set is the list of objects read from files, directories and
 * standard input, the way `kubectl apply -f` reads them: multi-document
 * YAML, JSON, and any object with `items` (kind: List, DeploymentList, ...)
 * flattened into its items. YAML is read as kubectl's goyaml.v2 reads it:
 * `<<` merge keys (a mapping or a list of mappings, later keys overriding
 * earlier ones), `!!binary` decoded to a string, `!!int` and the other core
 * tags typing their text. What kubectl would read otherwise is refused rather
 * than counted differently: a key given twice in one YAML mapping or JSON
 * object, a `<<` key with an anchor or a tag. Each object keeps the place it
 * came from, for messages.
 */
#ifndef POOLGUARD_MANIFEST_H
#define POOLGUARD_MANIFEST_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "poolguard/error.h"

/* The largest manifest file read, and the most nodes one YAML document may expand to. */
#define MANIFEST_MAX_BYTES (64 * 1024 * 1024)
#define MANIFEST_MAX_NODES 2000000		/* one file or text, all its documents */
#define MANIFEST_SET_MAX_NODES 8000000		/* everything loaded into one set */
#define MANIFEST_MAX_DEPTH 100

struct manifest_object {
	cJSON *object;		/* owned by the set */
	char *source;		/* "deploy.yaml (document 2)" */
};

struct manifest_set {
	struct manifest_object *items;
	size_t count;
	size_t alloc;
	size_t nodes;		/* YAML nodes converted so far, aliases expanded */
};

void manifest_set_init(struct manifest_set *set);

/* Frees every object and the list; the set can be reused after manifest_set_init(). */
void manifest_set_release(struct manifest_set *set);

/*
 * Appends the objects in path: a file, a directory (its *.yaml, *.yml and
 * *.json files in name order, not recursing, as kubectl does), or "-" for
 * standard input. On failure the set keeps what it had before the call.
 */
int manifest_load(struct manifest_set *set, const char *path, struct pg_error *err);

/* Appends the objects in text; source names it in messages. */
int manifest_load_text(struct manifest_set *set, const char *text, size_t len,
    const char *source, struct pg_error *err);

/*
 * Converts YAML text holding one document to a new cJSON tree the caller
 * frees, with YAML 1.2 core scalar types (plain 20 is a number, "20" a string).
 */
int manifest_yaml_to_json(const char *text, size_t len, cJSON **out, struct pg_error *err);

#endif
