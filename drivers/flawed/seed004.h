/* SPDX-License-Identifier: MIT */
/*
 * seed004.h - a DELIBERATELY BROKEN driver (seed 004): the
 * pre-consolidation pattern of whole-mm invalidate_range_start/end, the
 * driver's own list of ranges under invalidation, and get_user_pages()
 * with no sequence count.  See drivers/flawed/README.md.  Its correct
 * counterpart is an interval notifier with read_begin/read_retry
 * (drivers/mirror).
 */
#ifndef MMIRROR_DRIVERS_FLAWED_SEED004_H
#define MMIRROR_DRIVERS_FLAWED_SEED004_H

#include <mmirror/completion.h>
#include <mmirror/mm_types.h>

struct f004_dev;

/*
 * Test hook: when set, the fault path completes @read_done after
 * get_user_pages() returned and waits for @go before it takes the device
 * lock (it forces the seed's interleaving without touching the
 * protocol).
 */
struct f004_pause {
	struct completion *read_done, *go;
};

struct f004_dev *f004_create(struct mm_struct *mm, unsigned long start,
			     unsigned long npages, const char *name);
void f004_destroy(struct f004_dev *dev);
int f004_fault(struct f004_dev *dev, unsigned long va);
int f004_read(struct f004_dev *dev, unsigned long va, void *buf, size_t len);
unsigned long f004_pfn(struct f004_dev *dev, unsigned long va);
void f004_set_pause(struct f004_dev *dev, const struct f004_pause *pause);

#endif /* MMIRROR_DRIVERS_FLAWED_SEED004_H */
