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
 *
 * The arenas of all threads, and whatever else is charged with arena_charge()
 * (the server charges request bodies), share one memory budget: a block that
 * would take the total past it is refused, so cJSON sees an allocation fail
 * and the parse fails, instead of the process growing until it is killed.
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

/*
 * Sets the budget, in bytes, that arena blocks and arena_charge() share
 * across every thread; 0 (the start) sets none. Call before threads start.
 */
void arena_set_budget(size_t bytes);

/* The budget set, 0 for none. */
size_t arena_budget(void);

/*
 * Charges bytes that are not arena blocks (a request body) to the budget:
 * returns 0, or -1 and charges nothing when they do not fit.
 */
int arena_charge(size_t bytes);

/* Gives back bytes charged with arena_charge(). */
void arena_credit(size_t bytes);

/*
 * 0 when every arena block this thread asked for since arena_begin() was
 * granted. Otherwise the bytes its arena would have held with the block it
 * was refused: more than arena_budget() less what the caller holds itself
 * means the request could never fit, less means other requests held the rest.
 */
size_t arena_refused(void);

#endif
