/* SPDX-License-Identifier: MIT */
/*
 * dax.h - a small CPU-addressable device-memory driver, like a /dev/dax
 * device: its memory is a dev_pagemap (memremap.h) that processes map
 * with devmap entries, that a DMA engine reads and writes through pins,
 * and that goes away on unbind (dax_remove).  drivers/dax/README.md has
 * the protocol and the lock order.
 */
#ifndef MMIRROR_DRIVERS_DAX_H
#define MMIRROR_DRIVERS_DAX_H

#include <mmirror/memremap.h>

struct dax_dev;

/*
 * dax_create() - a device with @nr_pages of memory of @type (GENERIC,
 * FS_DAX or COHERENT).  Return: the device, or ERR_PTR(-EINVAL /
 * -EOPNOTSUPP / -ENOMEM) as memremap_pages().  May sleep.
 */
struct dax_dev *dax_create(const char *name, enum memory_type type,
			   unsigned long nr_pages);
/*
 * dax_destroy() - unbind if still bound (dax_remove), then free.  NULL
 * is ignored.  May sleep; the caller holds no reference on the memory.
 */
void dax_destroy(struct dax_dev *dev);

/*
 * dax_mmap() - map pages [@pgoff, @pgoff + @nr_pages) of the device into
 * @mm (PROT_READ, optionally PROT_WRITE).  Return: the address, or -EINVAL,
 * -ENODEV (unbound or unbinding), -ENOMEM.  May sleep; no mmap_lock held.
 */
long dax_mmap(struct dax_dev *dev, struct mm_struct *mm, unsigned long pgoff,
	      unsigned long nr_pages, unsigned long prot);

/*
 * dax_remove() - unbind: the device memory is removed (memunmap_pages:
 * mappings zapped everywhere, waits for every page reference).  Return: 0,
 * or -ENODEV if already removed.  May sleep; see memunmap_pages().
 */
int dax_remove(struct dax_dev *dev);

/*
 * dax_dma_read()/dax_dma_write() - the device's DMA engine moves @len
 * bytes at @va of @mm (within one page) through a pin taken with
 * pin_user_pages_fast() and dropped after the transfer; every byte goes
 * through the oracle (check_pin_*).  The target may be device memory
 * mapped by dax_mmap() or ordinary memory.  Return: 0, -EINVAL, or the
 * pin's error (-EFAULT: nothing mapped there / device removed).
 */
int dax_dma_read(struct dax_dev *dev, struct mm_struct *mm, unsigned long va,
		 void *buf, size_t len);
int dax_dma_write(struct dax_dev *dev, struct mm_struct *mm, unsigned long va,
		  const void *buf, size_t len);

/* The frame of page @pgoff of the device memory (tests). */
unsigned long dax_pfn(const struct dax_dev *dev, unsigned long pgoff);
/* The device's pgmap (tests, GUP checks). */
struct dev_pagemap *dax_pgmap(struct dax_dev *dev);

#endif /* MMIRROR_DRIVERS_DAX_H */
