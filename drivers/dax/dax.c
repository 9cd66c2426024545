// SPDX-License-Identifier: MIT
/*
 * dax.c - a device-dax-like driver: CPU-addressable device memory that
 * processes map, that the device's DMA engine reaches through pins, and
 * that disappears on unbind.
 *
 * Bind (dax_create): memremap_pages() gives the device memory struct
 * pages.  mmap (dax_mmap): vm_mmap_devmap() maps it with devmap entries,
 * all up front (device-dax resolves every fault the same way, so mapping
 * at mmap time changes nothing a process can observe while bound).
 * Unbind (dax_remove): the device stops accepting mmaps, then
 * memunmap_pages() kills the pgmap reference, zaps every mapping in every
 * process, flushes, waits for every pin and reference, and gives the
 * frames back.  After it returns, a process touching the old mapping gets
 * no device memory (docs/memremap.md: mmirror serves that fault from the
 * VMA's shared memory; the kernel sends SIGBUS).
 *
 * Lock order: dev->lock -> mmap_lock (vm_mmap_devmap) -> PTE lock.
 * dev->lock only orders "alive" against mmap: memunmap_pages() runs
 * without it, since it sleeps until every pin is released and a pin's
 * owner may need the device meanwhile (to DMA and then unpin).
 */
#include <mmirror/check.h>
#include <mmirror/gup.h>
#include <mmirror/mutex.h>
#include <mmirror/slab.h>
#include "dax/dax.h"

struct dax_dev {
	struct dev_pagemap pgmap;
	struct check_dev cdev;
	struct mutex lock; /* guards alive */
	bool alive; /* bound: mmap allowed */
};

struct dax_dev *dax_create(const char *name, enum memory_type type,
			   unsigned long nr_pages)
{
	struct dax_dev *dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	void *vram;

	if (!dev)
		return ERR_PTR(-ENOMEM);
	dev->pgmap.type = type;
	dev->pgmap.nr_pages = nr_pages;
	dev->pgmap.owner = dev;
	vram = memremap_pages(&dev->pgmap);
	if (IS_ERR(vram)) {
		kfree(dev);
		return vram;
	}
	mutex_init(&dev->lock);
	dev->alive = true;
	check_dev_init(&dev->cdev, name ? name : "dax");
	return dev;
}

int dax_remove(struct dax_dev *dev)
{
	bool was_alive;

	if (!dev)
		return -EINVAL;
	mutex_lock(&dev->lock);
	was_alive = dev->alive;
	dev->alive = false;
	mutex_unlock(&dev->lock);
	if (!was_alive)
		return -ENODEV;
	/* An mmap that passed the alive test before us still holds a pgmap
	 * reference: memunmap_pages() waits for it, then zaps its mm. */
	memunmap_pages(&dev->pgmap);
	return 0;
}

void dax_destroy(struct dax_dev *dev)
{
	if (!dev)
		return;
	dax_remove(dev);
	check_dev_fini(&dev->cdev);
	kfree(dev);
}

long dax_mmap(struct dax_dev *dev, struct mm_struct *mm, unsigned long pgoff,
	      unsigned long nr_pages, unsigned long prot)
{
	long va = -ENODEV;

	if (!dev || !mm)
		return -EINVAL;
	mutex_lock(&dev->lock);
	if (dev->alive)
		va = vm_mmap_devmap(mm, &dev->pgmap, pgoff, nr_pages, prot);
	mutex_unlock(&dev->lock);
	return va;
}

/* Pin the page at @va for the transfer; 0 and *@pagep, or an errno. */
static int dax_dma_pin(struct dax_dev *dev, struct mm_struct *mm,
		       unsigned long va, size_t len, bool write,
		       struct page **pagep)
{
	int ret;

	if (!dev || !mm || !len || (va & ~PAGE_MASK) + len > PAGE_SIZE)
		return -EINVAL;
	ret = pin_user_pages_fast(mm, va & PAGE_MASK, 1, write ? FOLL_WRITE : 0,
				  pagep);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EFAULT;
	check_pin_note(&dev->cdev, *pagep);
	return 0;
}

static void dax_dma_unpin(struct dax_dev *dev, struct page *page, bool dirty)
{
	check_pin_forget(&dev->cdev, page);
	unpin_user_pages_dirty_lock(&page, 1, dirty);
}

int dax_dma_read(struct dax_dev *dev, struct mm_struct *mm, unsigned long va,
		 void *buf, size_t len)
{
	struct page *page;
	int ret = dax_dma_pin(dev, mm, va, len, false, &page);

	if (ret)
		return ret;
	ret = check_pin_read(&dev->cdev, page, va & ~PAGE_MASK, buf, len);
	dax_dma_unpin(dev, page, false);
	return ret;
}

int dax_dma_write(struct dax_dev *dev, struct mm_struct *mm, unsigned long va,
		  const void *buf, size_t len)
{
	struct page *page;
	int ret = dax_dma_pin(dev, mm, va, len, true, &page);

	if (ret)
		return ret;
	ret = check_pin_write(&dev->cdev, page, va & ~PAGE_MASK, buf, len);
	dax_dma_unpin(dev, page, true);
	return ret;
}

unsigned long dax_pfn(const struct dax_dev *dev, unsigned long pgoff)
{
	return pgmap_pfn_first(&dev->pgmap) + pgoff;
}

struct dev_pagemap *dax_pgmap(struct dax_dev *dev)
{
	return &dev->pgmap;
}
