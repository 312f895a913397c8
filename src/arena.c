/*
 * arena.c - per-thread bump allocation behind cJSON's hooks.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "poolguard/arena.h"

#define ARENA_FIRST_BLOCK (256 * 1024)
#define ARENA_ALIGN 16
#define ARENA_KEEP_MAX (1024 * 1024)

struct arena_block {
	struct arena_block *next;
	size_t size;		/* usable bytes after the header */
	size_t used;
};

struct arena {
	struct arena_block *blocks;	/* newest first */
	int active;
};

/*
 * This thread's arena, allocated on first use; the key's destructor frees it
 * when the thread ends, so server threads leave nothing behind.
 */
static _Thread_local struct arena *arena_thread;
static pthread_key_t arena_key;
static int arena_installed;	/* cJSON's hooks point here: set once, before threads */
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void
arena_destroy(void *p)
{
	struct arena *a = p;
	struct arena_block *b, *next;

	for (b = a->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

static void
arena_key_init(void)
{
	pthread_key_create(&arena_key, arena_destroy);
}

static struct arena *
arena_get(void)
{
	if (arena_thread == NULL) {
		pthread_once(&arena_once, arena_key_init);
		if ((arena_thread = calloc(1, sizeof(*arena_thread))) == NULL)
			return NULL;
		pthread_setspecific(arena_key, arena_thread);
	}
	return arena_thread;
}

static size_t
arena_round(size_t n)
{
	return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

static char *
arena_data(struct arena_block *b)
{
	return (char *)b + arena_round(sizeof(*b));
}

/* 1 when p was handed out by one of this thread's blocks. */
static int
arena_owns(const struct arena *a, const void *p)
{
	const struct arena_block *b;
	uintptr_t at = (uintptr_t)p, start;

	if (a == NULL)
		return 0;
	for (b = a->blocks; b; b = b->next) {
		start = (uintptr_t)arena_data((struct arena_block *)(uintptr_t)b);
		if (at >= start && at < start + b->size)
			return 1;
	}
	return 0;
}

static void *
arena_malloc(size_t n)
{
	struct arena *a = arena_thread;
	struct arena_block *b;
	size_t need = arena_round(n ? n : 1), size;
	void *p;

	if (a == NULL || !a->active)
		return malloc(n);
	b = a->blocks;
	if (b == NULL || b->size - b->used < need) {
		size = b ? b->size * 2 : ARENA_FIRST_BLOCK;
		while (size < need)
			size *= 2;
		if ((b = malloc(arena_round(sizeof(*b)) + size)) == NULL)
			return NULL;
		b->size = size;
		b->used = 0;
		b->next = a->blocks;
		a->blocks = b;
	}
	p = arena_data(b) + b->used;
	b->used += need;
	return p;
}

static void
arena_free(void *p)
{
	if (p != NULL && !arena_owns(arena_thread, p))
		free(p);
}

void
arena_install(void)
{
	cJSON_Hooks hooks = {arena_malloc, arena_free};

	cJSON_InitHooks(&hooks);
	arena_installed = 1;
}

int
arena_begin(void)
{
	struct arena *a;

	if (!arena_installed || (a = arena_get()) == NULL)
		return 0;	/* cJSON allocates with malloc, and its trees are freed one by one */
	a->active = 1;
	return 1;
}

void
arena_end(void)
{
	if (arena_thread != NULL)
		arena_thread->active = 0;
}

void
arena_reset(void)
{
	struct arena *a = arena_thread;
	struct arena_block *b, *next;

	if (a == NULL || a->blocks == NULL)
		return;
	/*
	 * Keep the newest, largest block, so the next request of this size fits
	 * in one; but not one grown by a rare huge request.
	 */
	for (b = a->blocks->next; b; b = next) {
		next = b->next;
		free(b);
	}
	a->blocks->next = NULL;
	a->blocks->used = 0;
	if (a->blocks->size > ARENA_KEEP_MAX) {
		free(a->blocks);
		a->blocks = NULL;
	}
}

void
arena_release(void)
{
	if (arena_thread == NULL)
		return;
	pthread_setspecific(arena_key, NULL);
	arena_destroy(arena_thread);
	arena_thread = NULL;
}
