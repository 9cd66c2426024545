/* SPDX-License-Identifier: MIT */
/*
 * fdev.h - the small device base the flawed whole-mm mirrors (seeds 000
 * and 004) share: a one-level device page table over a range of an mm,
 * a whole-mm mmu_notifier, the oracle device, and the device read that
 * goes through the table.  It holds no protocol: each flawed driver
 * embeds a struct fdev, brings its own notifier ops and its own (wrong)
 * fault path, and uses fdev only for the plumbing around them.
 *
 * Locking: fdev.lock guards the table and whatever protocol state the
 * embedding driver keeps beside it; the driver's callbacks and fault
 * path take it.  fdev_zap() and fdev_install() are called with it held.
 */
#ifndef MMIRROR_DRIVERS_FLAWED_FDEV_H
#define MMIRROR_DRIVERS_FLAWED_FDEV_H

#include <mmirror/check.h>
#include <mmirror/completion.h>
#include <mmirror/mm_types.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/spinlock.h>

/*
 * Test hook: when set, the fault path completes @read_done after it read
 * the CPU translation (page table walk, GUP) and waits for @go before it
 * takes the device lock (it forces the seed's interleaving without
 * touching the protocol).
 */
struct fdev_pause {
	struct completion *read_done, *go;
};

struct fdev {
	struct mmu_notifier mn; /* ops: the embedding driver's */
	struct check_dev cdev;
	spinlock_t lock; /* the table, and the driver's protocol state */
	struct mm_struct *mm;
	unsigned long start, npages;
	unsigned long *pt; /* pfn + 1 per page; 0: no translation */
	struct fdev_pause pause;
};

int fdev_init(struct fdev *fd, struct mm_struct *mm, unsigned long start,
	      unsigned long npages, const char *name,
	      const struct mmu_notifier_ops *ops);
void fdev_fini(struct fdev *fd);
bool fdev_in_range(const struct fdev *fd, unsigned long va);
void fdev_zap(struct fdev *fd, unsigned long s, unsigned long e);
void fdev_zap_all(struct fdev *fd);
void fdev_install(struct fdev *fd, unsigned long va, unsigned long pfn);
void fdev_pause_point(struct fdev *fd);
int fdev_read(struct fdev *fd, unsigned long va, void *buf, size_t len);
unsigned long fdev_pfn(struct fdev *fd, unsigned long va);
void fdev_set_pause(struct fdev *fd, const struct fdev_pause *pause);

#endif /* MMIRROR_DRIVERS_FLAWED_FDEV_H */
