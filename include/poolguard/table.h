/*
 * table.h - a string-keyed hash table of pointers.
 *
 * The table owns copies of its keys, never its values: whoever puts a value
 * frees it after taking it out (table_remove, table_put's old value, or
 * table_free's callback).
 */
#ifndef POOLGUARD_TABLE_H
#define POOLGUARD_TABLE_H

#include <stddef.h>

struct table;

/* A new empty table, or NULL when out of memory. */
struct table *table_new(void);

/* Frees the table, calling free_value (if not NULL) on every value. table_free(NULL, ...) is a no-op. */
void table_free(struct table *t, void (*free_value)(void *));

/* The value of key, or NULL. */
void *table_get(const struct table *t, const char *key);

/*
 * Sets key to value. *old (if not NULL) gets the value it replaced, or NULL.
 * Returns 0, or -1 when out of memory (then nothing changed).
 */
int table_put(struct table *t, const char *key, void *value, void **old);

/* Removes key and returns its value, or NULL when absent. */
void *table_remove(struct table *t, const char *key);

size_t table_count(const struct table *t);

/* Calls fn on every entry, in no particular order; fn must not change the table. */
void table_foreach(const struct table *t, void (*fn)(void *arg, const char *key, void *value),
    void *arg);

#endif
