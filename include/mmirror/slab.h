/* SPDX-License-Identifier: MIT */
/*
 * slab.h - kmalloc and friends, with the two things a kernel-style test
 * harness needs: a live-object counter (proves nothing leaked) and failure
 * injection at the allocation site (proves -ENOMEM paths are survived).
 *
 * Page-frame allocation (alloc_pages) consults the same injector, so one
 * switch fails every kind of allocation.
 */
#ifndef MMIRROR_SLAB_H
#define MMIRROR_SLAB_H

#include <mmirror/compiler.h>

typedef unsigned int gfp_t;

#define __GFP_ZERO 0x1u /* return zeroed memory */
#define __GFP_NOFAIL 0x2u /* never injected, never fails (teardown paths) */
#define __GFP_NOWARN 0x4u
#define __GFP_ATOMIC 0x8u /* caller may not sleep (no effect on the model) */
#define __GFP_COMP 0x10u /* alloc_pages: make a compound (huge) page */
#define __GFP_MOVABLE 0x20u /* alloc_pages: may come from ZONE_MOVABLE */
#define GFP_KERNEL 0u
#define GFP_NOWAIT __GFP_ATOMIC
#define GFP_ATOMIC __GFP_ATOMIC
#define __GFP_KNOWN                                                \
	(__GFP_ZERO | __GFP_NOFAIL | __GFP_NOWARN | __GFP_ATOMIC | \
	 __GFP_COMP | __GFP_MOVABLE)

void *kmalloc(size_t size, gfp_t gfp);
void *kzalloc(size_t size, gfp_t gfp);
void *kcalloc(size_t n, size_t size, gfp_t gfp);
void kfree(const void *p);

/* Objects from kmalloc not yet kfree'd, process-wide. */
long kmalloc_live_objects(void);

/*
 * Failure injection.  fault_inject_nth(n): the n-th allocation from now
 * (1 = the next) fails, once.  fault_inject_random(seed, permille): each
 * allocation fails with that probability, reproducibly for a seed and a
 * single-threaded caller.  fault_inject_off() disarms both.
 * should_fail_alloc() is what allocators call; __GFP_NOFAIL skips it.
 */
void fault_inject_nth(long n);
void fault_inject_random(u64 seed, unsigned int permille);
void fault_inject_off(void);
bool should_fail_alloc(gfp_t gfp);
/* Allocations failed on purpose since start (statistics for tests). */
long fault_inject_count(void);

#endif /* MMIRROR_SLAB_H */
