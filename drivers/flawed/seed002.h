/* SPDX-License-Identifier: MIT */
/*
 * seed002.h - a DELIBERATELY BROKEN notifier user (seed 002): its
 * subscription (mmu_notifier_get/put) points at a device object that
 * f002_destroy_flawed() frees right after mmu_notifier_put(), without
 * waiting for the callbacks that may still be running.  f002_destroy() is
 * the correct lifetime (put, mmu_notifier_synchronize(), then free).  The
 * oracle reports a callback on the freed device (check_obj_access():
 * CHECK_USE_AFTER_FREE).  See drivers/flawed/README.md.
 */
#ifndef MMIRROR_DRIVERS_FLAWED_SEED002_H
#define MMIRROR_DRIVERS_FLAWED_SEED002_H

#include <mmirror/completion.h>
#include <mmirror/mm_types.h>

struct f002_dev;

/*
 * Test hook: when set, the next invalidate_range_start callback completes
 * @in_callback once it stands on the subscription and waits for @go
 * before it looks at the device (it forces the seed's interleaving).
 */
struct f002_pause {
	struct completion *in_callback, *go;
};

struct f002_dev *f002_create(struct mm_struct *mm, const char *name);
void f002_destroy(struct f002_dev *dev);
void f002_destroy_flawed(struct f002_dev *dev);
void f002_set_pause(struct f002_dev *dev, const struct f002_pause *pause);

#endif /* MMIRROR_DRIVERS_FLAWED_SEED002_H */
