/*
 * arena.c - per-thread bump allocation behind cJSON's hooks.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "poolguard/arena.h"

#define ARENA_FIRST_BLOCK (256 * 1024)
/*
 * Blocks double up to this size and then stay there, so what a request is
 * charged for and does not use is at most one block.
 */
#define ARENA_BLOCK_MAX (4 * 1024 * 1024)
#define ARENA_ALIGN 16
#define ARENA_KEEP_MAX (1024 * 1024)

struct arena_block {
	struct arena_block *next;
	size_t size;		/* usable bytes after the header */
	size_t used;
};

struct arena {
	struct arena_block *blocks;	/* newest first */
	size_t held;		/* bytes of its blocks, headers included, charged to the budget */
	size_t refused;		/* see arena_refused() */
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

/* The budget shared by every thread's blocks and arena_charge(); 0: none. */
static size_t arena_limit;
static atomic_size_t arena_used;

static int
arena_take(size_t n)
{
	size_t used = atomic_load(&arena_used);

	do {
		if (arena_limit != 0 && (n > arena_limit || used > arena_limit - n))
			return -1;
	} while (!atomic_compare_exchange_weak(&arena_used, &used, used + n));
	return 0;
}

static void
arena_give(size_t n)
{
	atomic_fetch_sub(&arena_used, n);
}

static size_t
arena_round(size_t n)
{
	return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

/* What a block of size usable bytes costs: its header too. */
static size_t
arena_block_cost(size_t size)
{
	return arena_round(sizeof(struct arena_block)) + size;
}

static void
arena_block_free(struct arena *a, struct arena_block *b)
{
	size_t cost = arena_block_cost(b->size);

	a->held -= cost;
	arena_give(cost);
	free(b);
}

static void
arena_destroy(void *p)
{
	struct arena *a = p;
	struct arena_block *b, *next;

	for (b = a->blocks; b; b = next) {
		next = b->next;
		arena_block_free(a, b);
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
		size = b == NULL ? ARENA_FIRST_BLOCK : b->size < ARENA_BLOCK_MAX ? b->size * 2 :
		    ARENA_BLOCK_MAX;
		while (size < need)
			size *= 2;
		if (arena_take(arena_block_cost(size)) != 0) {
			a->refused = a->held + arena_block_cost(size);
			return NULL;
		}
		if ((b = malloc(arena_block_cost(size))) == NULL) {
			arena_give(arena_block_cost(size));
			return NULL;
		}
		a->held += arena_block_cost(size);
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
	a->refused = 0;
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
		arena_block_free(a, b);
	}
	a->blocks->next = NULL;
	a->blocks->used = 0;
	if (a->blocks->size > ARENA_KEEP_MAX) {
		arena_block_free(a, a->blocks);
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

void
arena_set_budget(size_t bytes)
{
	arena_limit = bytes;
}

size_t
arena_budget(void)
{
	return arena_limit;
}

int
arena_charge(size_t bytes)
{
	return arena_take(bytes);
}

void
arena_credit(size_t bytes)
{
	arena_give(bytes);
}

size_t
arena_refused(void)
{
	return arena_thread ? arena_thread->refused : 0;
}
