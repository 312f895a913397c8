/*
 * arena.h - a per-thread bump allocator for the cJSON trees of one request.
 *
 * Parsing an AdmissionReview makes thousands of small allocations that all
 * die together when the request ends; with glibc malloc they were about 40%
 * of the server's CPU (../shared/PERFORMANCE-NOTES.md). arena_install()
 * routes cJSON's allocations through here: between arena_begin() and
 * arena_end() they come from the calling thread's arena, otherwise from
 * malloc. Freeing an arena pointer does nothing; arena_reset() reclaims all
 * of it at once, and must only be called when no tree from the arena is left.
 */
#ifndef POOLGUARD_ARENA_H
#define POOLGUARD_ARENA_H

#include <stddef.h>

/* Installs the cJSON hooks; once, before threads start. */
void arena_install(void);

/*
 * Allocations of this thread come from its arena until arena_end(). Returns 1
 * when they do, 0 when arena_install() was not called or the arena could not
 * be had (then cJSON uses malloc and trees must be freed as usual).
 */
int arena_begin(void);
void arena_end(void);

/*
 * Makes the whole arena of this thread free again, keeping up to 1 MiB of its
 * memory for the next request.
 */
void arena_reset(void);

/* Frees this thread's arena memory (a thread that ends). */
void arena_release(void);

#endif
