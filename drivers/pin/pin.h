/* SPDX-License-Identifier: MIT */
/*
 * pin.h - a pinning device (vfio / hfi1 style).
 *
 * Registration pins a va range with pin_user_pages(FOLL_WRITE |
 * FOLL_LONGTERM); DMA then goes straight to the pinned frames, whatever
 * the process does to its mappings afterwards: after munmap the device
 * still reads and writes the old frames, and after fork the parent keeps
 * them (fork copies pinned pages for the child).  Deregistration unpins
 * and marks the pages dirty.  With PINDEV_CACHE the device behaves like a
 * registration cache (hfi1's mmu_rb): an interval notifier on each region
 * drops its pins when the range is unmapped, and the next DMA re-pins what
 * is mapped then.  Every DMA goes through the coherence oracle.
 * drivers/pin/README.md: semantics and lock order.
 */
#ifndef DRIVERS_PIN_H
#define DRIVERS_PIN_H

#include <mmirror/mm_types.h>

struct pindev;
struct pin_region;

#define PINDEV_CACHE 0x1 /* notifier-driven cache: unpin on invalidation */

struct pindev_stats {
	unsigned long pinned; /* pages pinned now */
	unsigned long pin_calls; /* pin_user_pages calls */
	unsigned long evictions; /* regions unpinned by the notifier */
	unsigned long dma_reads, dma_writes;
};

/* A device named @name; @flags is 0 or PINDEV_CACHE.  ERR_PTR on error. */
struct pindev *pindev_create(const char *name, unsigned int flags);
/* Deregister every region left, then free the device. */
void pindev_destroy(struct pindev *dev);

/*
 * pindev_register() - pin [va, va + len) of @mm (page-aligned) for DMA.
 * Return: the region or ERR_PTR(-EINVAL/-EFAULT/-EPERM/-ENOMEM); on error
 * nothing stays pinned.
 */
struct pin_region *pindev_register(struct pindev *dev, struct mm_struct *mm,
				   unsigned long va, unsigned long len);
/* Unpin (dirty) and free the region. */
void pindev_deregister(struct pin_region *region);
/*
 * pindev_dma_read()/pindev_dma_write() - DMA @len bytes at @va (inside the
 * region) to/from the pinned frames.  Return 0; -EINVAL (outside the
 * region); -EFAULT (PINDEV_CACHE: evicted and no longer mapped).
 */
int pindev_dma_read(struct pin_region *region, unsigned long va, void *buf,
		    size_t len);
int pindev_dma_write(struct pin_region *region, unsigned long va,
		     const void *buf, size_t len);
void pindev_get_stats(struct pindev *dev, struct pindev_stats *stats);
/* Pages @region holds pinned now: all of them, or 0 while evicted. */
unsigned long pindev_region_pinned(struct pin_region *region);

#endif /* DRIVERS_PIN_H */
