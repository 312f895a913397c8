/*
 * table.c - chained hash table with string keys.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "poolguard/table.h"

struct table_item {
	char *key;
	void *value;
	struct table_item *next;
};

struct table {
	struct table_item **buckets;
	size_t bucket_count;	/* a power of two */
	size_t count;
};

static uint64_t
table_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct table *
table_new(void)
{
	struct table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->bucket_count = 16;
	if ((t->buckets = calloc(t->bucket_count, sizeof(*t->buckets))) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
table_free(struct table *t, void (*free_value)(void *))
{
	struct table_item *item, *next;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->bucket_count; i++)
		for (item = t->buckets[i]; item; item = next) {
			next = item->next;
			if (free_value)
				free_value(item->value);
			free(item->key);
			free(item);
		}
	free(t->buckets);
	free(t);
}

static struct table_item **
table_slot(const struct table *t, const char *key)
{
	struct table_item **slot = &t->buckets[table_hash(key) & (t->bucket_count - 1)];

	while (*slot && strcmp((*slot)->key, key) != 0)
		slot = &(*slot)->next;
	return slot;
}

void *
table_get(const struct table *t, const char *key)
{
	struct table_item *item = *table_slot(t, key);

	return item ? item->value : NULL;
}

static void
table_grow(struct table *t)
{
	struct table_item **buckets, *item, *next;
	size_t count = t->bucket_count * 2, i, at;

	if ((buckets = calloc(count, sizeof(*buckets))) == NULL)
		return;
	for (i = 0; i < t->bucket_count; i++)
		for (item = t->buckets[i]; item; item = next) {
			next = item->next;
			at = table_hash(item->key) & (count - 1);
			item->next = buckets[at];
			buckets[at] = item;
		}
	free(t->buckets);
	t->buckets = buckets;
	t->bucket_count = count;
}

int
table_put(struct table *t, const char *key, void *value, void **old)
{
	struct table_item **slot = table_slot(t, key), *item = *slot;

	if (old)
		*old = NULL;
	if (item) {
		if (old)
			*old = item->value;
		item->value = value;
		return 0;
	}
	if ((item = calloc(1, sizeof(*item))) == NULL || (item->key = strdup(key)) == NULL) {
		free(item);
		return -1;
	}
	item->value = value;
	*slot = item;
	if (++t->count > t->bucket_count)
		table_grow(t);
	return 0;
}

void *
table_remove(struct table *t, const char *key)
{
	struct table_item **slot = table_slot(t, key), *item = *slot;
	void *value;

	if (item == NULL)
		return NULL;
	*slot = item->next;
	value = item->value;
	free(item->key);
	free(item);
	t->count--;
	return value;
}

size_t
table_count(const struct table *t)
{
	return t->count;
}

void
table_foreach(const struct table *t, void (*fn)(void *arg, const char *key, void *value),
    void *arg)
{
	struct table_item *item;
	size_t i;

	for (i = 0; i < t->bucket_count; i++)
		for (item = t->buckets[i]; item; item = item->next)
			fn(arg, item->key, item->value);
}
