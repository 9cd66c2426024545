// SPDX-License-Identifier: MIT
/*
 * kmalloc over libc malloc, with accounting and failure injection.
 *
 * All counters are relaxed atomics: they are statistics and test knobs,
 * read by a test after the threads that allocate have been joined (the
 * join orders them).
 */
#include <stdlib.h>
#include <string.h>
#include <mmirror/atomic.h>
#include <mmirror/slab.h>

static long live_objects;
static long fail_nth; /* > 0: countdown to one failure */
static unsigned int fail_permille;
static u64 fail_rng;
static long fail_count;

bool should_fail_alloc(gfp_t gfp)
{
	long n;

	if (gfp & __GFP_NOFAIL)
		return false;
	n = __atomic_load_n(&fail_nth, __ATOMIC_RELAXED);
	if (unlikely(n > 0) &&
	    __atomic_sub_fetch(&fail_nth, 1, __ATOMIC_RELAXED) == 0)
		goto fail;
	if (unlikely(__atomic_load_n(&fail_permille, __ATOMIC_RELAXED))) {
		/* xorshift64*; racy updates only perturb the sequence. */
		u64 x = __atomic_load_n(&fail_rng, __ATOMIC_RELAXED);

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		__atomic_store_n(&fail_rng, x, __ATOMIC_RELAXED);
		if ((x * 0x2545F4914F6CDD1DULL) % 1000 <
		    __atomic_load_n(&fail_permille, __ATOMIC_RELAXED))
			goto fail;
	}
	return false;
fail:
	__atomic_fetch_add(&fail_count, 1, __ATOMIC_RELAXED);
	return true;
}

void fault_inject_nth(long n)
{
	__atomic_store_n(&fail_nth, n, __ATOMIC_RELAXED);
}

void fault_inject_random(u64 seed, unsigned int permille)
{
	__atomic_store_n(&fail_rng, seed ? seed : 0x9E3779B97F4A7C15ULL,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&fail_permille, permille > 1000 ? 1000 : permille,
			 __ATOMIC_RELAXED);
}

void fault_inject_off(void)
{
	__atomic_store_n(&fail_nth, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fail_permille, 0, __ATOMIC_RELAXED);
}

long fault_inject_count(void)
{
	return __atomic_load_n(&fail_count, __ATOMIC_RELAXED);
}

void *kmalloc(size_t size, gfp_t gfp)
{
	void *p;

	if (WARN_ON(gfp & ~__GFP_KNOWN))
		return NULL;
	if (should_fail_alloc(gfp))
		return NULL;
	p = (gfp & __GFP_ZERO) ? calloc(1, size ? size : 1) :
				 malloc(size ? size : 1);
	if (!p) {
		BUG_ON(gfp & __GFP_NOFAIL);
		return NULL;
	}
	__atomic_fetch_add(&live_objects, 1, __ATOMIC_RELAXED);
	return p;
}

void *kzalloc(size_t size, gfp_t gfp)
{
	return kmalloc(size, gfp | __GFP_ZERO);
}

void *kcalloc(size_t n, size_t size, gfp_t gfp)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return kmalloc(n * size, gfp | __GFP_ZERO);
}

void kfree(const void *p)
{
	if (!p)
		return;
	__atomic_fetch_sub(&live_objects, 1, __ATOMIC_RELAXED);
	free((void *)p);
}

long kmalloc_live_objects(void)
{
	return __atomic_load_n(&live_objects, __ATOMIC_RELAXED);
}
