/*
 * arena_test.c - the per-thread arena behind cJSON: trees parsed inside it,
 * freed as a whole, allocations outside it untouched, threads cleaned up.
 */
#include <pthread.h>

#include "unit/testutil.h"

#include <cjson/cJSON.h>

#include "poolguard/arena.h"

static const char doc[] = "{\"a\": [1, 2, {\"b\": \"a string long enough to matter\"}],"
    " \"c\": {\"d\": null, \"e\": true}}";

/* Parses, prints, deletes; the printed text was made outside the arena and is freed normally. */
static void *
parse_many(void *arg)
{
	int i, *rounds = arg;
	cJSON *tree, *outside;
	char *text;

	for (i = 0; i < *rounds; i++) {
		outside = cJSON_CreateObject();		/* malloc: not in an arena */
		arena_begin();
		tree = cJSON_Parse(doc);
		arena_end();
		assert_non_null(tree);
		assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(tree, "a"), 2)->child->valuestring,
		    "a string long enough to matter");
		text = cJSON_PrintUnformatted(tree);	/* after arena_end: malloc */
		assert_non_null(strstr(text, "\"e\":true"));
		cJSON_free(text);
		cJSON_Delete(tree);			/* arena pointers: nothing to free one by one */
		cJSON_Delete(outside);			/* real frees */
		arena_reset();
	}
	return NULL;
}

static void
test_arena_threads(void **state)
{
	pthread_t threads[4];
	int rounds = 2000, i;

	(void)state;
	arena_install();
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, parse_many, &rounds), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	/* The main thread too, and then without the arena at all. */
	rounds = 10;
	parse_many(&rounds);
	arena_release();
	parse_many(&rounds);
	arena_release();
}

static void
test_arena_large(void **state)
{
	cJSON *tree;
	char *big;
	size_t i, n = 3 * 1024 * 1024;

	(void)state;
	arena_install();
	/* A string bigger than the first block: the arena grows. */
	big = malloc(n + 3);
	big[0] = '"';
	for (i = 1; i <= n; i++)
		big[i] = 'x';
	big[n + 1] = '"';
	big[n + 2] = '\0';
	arena_begin();
	tree = cJSON_Parse(big);
	arena_end();
	assert_non_null(tree);
	assert_int_equal(strlen(tree->valuestring), n);
	cJSON_Delete(tree);
	arena_reset();
	free(big);
	arena_release();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_threads),
		cmocka_unit_test(test_arena_large),
	};

	return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
