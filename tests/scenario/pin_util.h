/* SPDX-License-Identifier: MIT */
/*
 * pin_util.h - what the pinning-device scenario tests share: the fixture
 * (oracle and leak check around every test) and DMA/registration helpers
 * that assert success.
 */
#ifndef MMIRROR_TESTS_PIN_UTIL_H
#define MMIRROR_TESTS_PIN_UTIL_H

#include <sched.h>
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/gup.h>
#include <mmirror/kthread.h>
#include <mmirror/wait.h>
#include <pin/pin.h>

#define RW (PROT_READ | PROT_WRITE)
#define NP 4

static struct mm_leak_check leaks;

static inline int setup(void **state)
{
	thp_set_mode(THP_MADVISE, false);
	mm_leak_check_begin(&leaks);
	oracle_begin();
	return 0;
}

static inline int teardown(void **state)
{
	oracle_end_clean();
	mm_leak_check_end(&leaks);
	return 0;
}

static inline u64 dma_load(struct pin_region *r, unsigned long va)
{
	u64 v = 0xdeadbeef;

	assert_int_equal(pindev_dma_read(r, va, &v, sizeof(v)), 0);
	return v;
}

static inline void dma_store(struct pin_region *r, unsigned long va, u64 v)
{
	assert_int_equal(pindev_dma_write(r, va, &v, sizeof(v)), 0);
}

static inline struct pindev *dev_new(unsigned int flags)
{
	struct pindev *dev = pindev_create("pin", flags);

	assert_false(IS_ERR(dev));
	return dev;
}

static inline struct pin_region *reg(struct pindev *dev, struct mm_struct *mm,
				     unsigned long va, unsigned long len)
{
	struct pin_region *r = pindev_register(dev, mm, va, len);

	assert_false(IS_ERR(r));
	return r;
}

static inline struct pindev_stats stats_of(struct pindev *dev)
{
	struct pindev_stats s;

	pindev_get_stats(dev, &s);
	return s;
}

/* DMA write -> CPU read and CPU write -> DMA read, across page edges. */

/* Physical memory exists before the first leak-check snapshot. */
static inline void pin_test_mem_up(void)
{
	__free_page(alloc_page(GFP_KERNEL));
}

#endif /* MMIRROR_TESTS_PIN_UTIL_H */
