/* SPDX-License-Identifier: MIT */
/*
 * mm_test_util.h - what the host-MMU tests share: a leak check around each
 * test (every frame, kmalloc object and mm back, no WARN), and short forms
 * for looking at page tables and accessing memory through a CPU.
 */
#ifndef MMIRROR_MM_TEST_UTIL_H
#define MMIRROR_MM_TEST_UTIL_H

#include "test_util.h"
#include <mmirror/cpu.h>
#include <mmirror/mm.h>

struct mm_leak_check {
	unsigned long free_pages, warns;
	long objs;
};

static inline void mm_leak_check_begin(struct mm_leak_check *c)
{
	c->free_pages = nr_free_pages();
	c->objs = kmalloc_live_objects();
	c->warns = mm_warn_count();
}

static inline void mm_leak_check_end(const struct mm_leak_check *c)
{
	fault_inject_off();
	assert_int_equal(mm_live_count(), 0);
	assert_int_equal(nr_free_pages(), c->free_pages);
	assert_int_equal(kmalloc_live_objects(), c->objs);
	assert_int_equal(mm_warn_count(), c->warns);
}

/* The pfn mapped at @va (0 if none), and the entry through @e if asked. */
static inline unsigned long test_pfn_at(struct mm_struct *mm, unsigned long va,
					u64 *e)
{
	unsigned long pfn = 0;
	u64 entry = 0;

	if (follow_pte_pfn(mm, va, &pfn, &entry))
		return 0;
	if (e)
		*e = entry;
	return pfn;
}

/* Anonymous memory placed by the kernel; the mapping must succeed. */
static inline long test_map(struct mm_struct *mm, unsigned long len,
			    unsigned long prot, unsigned long flags)
{
	long a = vm_mmap(mm, 0, len, prot, flags | MAP_ANONYMOUS);

	assert_false(IS_ERR_VALUE(a));
	return a;
}

/* A load/store that must succeed. */
static inline u64 test_load(struct sim_cpu *cpu, unsigned long va)
{
	u64 v = 0xdeadbeef;

	assert_int_equal(cpu_load_u64(cpu, va, &v), 0);
	return v;
}

static inline void test_store(struct sim_cpu *cpu, unsigned long va, u64 v)
{
	assert_int_equal(cpu_store_u64(cpu, va, v), 0);
}

#endif /* MMIRROR_MM_TEST_UTIL_H */
