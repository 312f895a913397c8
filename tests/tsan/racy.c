/*
 * racy.c - the ThreadSanitizer pass's self-test: two threads add to one
 * counter without a lock, a data race TSan reports on every run (the
 * accesses are unordered whatever the timing). tests/tsan/check.sh selftest
 * runs it and fails unless the scan of `make test` finds the report.
 */
#include <pthread.h>
#include <stdio.h>

static long racy_counter;

static void *
racy_add(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 1000; i++)
		racy_counter++;
	return NULL;
}

int
main(void)
{
	pthread_t t;
	int i;

	if (pthread_create(&t, NULL, racy_add, NULL) != 0)
		return 2;
	for (i = 0; i < 1000; i++)
		racy_counter++;
	pthread_join(t, NULL);
	printf("%ld\n", racy_counter);
	return 0;
}
