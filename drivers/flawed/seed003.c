// SPDX-License-Identifier: MIT
/*
 * seed003.c - seed 003: removing device memory under GUP-fast.
 *
 * Dan Williams' race (the seed): thread 1 does direct I/O into an fsdax
 * mapping (GUP-fast), thread 2 unbinds the device.  The removal kills the
 * pgmap reference and waits for page references, but leaves the page
 * tables pointing at the pages, so GUP-fast can read an entry, then lose
 * the CPU while the pages are removed, then take a reference on a struct
 * page that no longer belongs to anything:
 *
 *	GUP-fast (IRQs off)                 f003_remove_flawed()
 *	pte = *ptep         [devmap]
 *	                                    kill pgmap ref; wait: no holder
 *	                                    pages idle: frames given back
 *	get_page_unless_zero(page)   <----- use after free (oracle: the
 *	                                    frame's generation moved)
 *
 * Dan's answer: GUP-fast asks the pgmap first (get_dev_pagemap fails once
 * killed) - gup_fast_set_devmap_check(true), the default.  Jason's
 * answer: removal must first remove every PTE pointing at the pages and
 * flush the TLBs; the flush waits for IRQ-off sections, exactly as for a
 * hardware walk, so GUP-fast needs no extra check - f003_remove(), i.e.
 * memunmap_pages(), with the check off.  tools/mmirror/explore_seed003.c
 * runs all three combinations.
 */
#include <mmirror/check.h>
#include <mmirror/gup.h>
#include <mmirror/memremap.h>
#include <mmirror/slab.h>
#include "flawed/seed003.h"

struct f003_dev {
	struct dev_pagemap pgmap;
	struct check_dev cdev;
	struct mm_struct *mm;
	unsigned long va;
	bool removed; /* set by the one thread that removes */
};

/* The device writes @val into page @idx through a pin (oracle-checked). */
int f003_gup_write(struct f003_dev *dev, unsigned long idx, u64 val)
{
	struct page *page;
	int ret;

	if (!dev || idx >= dev->pgmap.nr_pages)
		return -EINVAL;
	ret = pin_user_pages_fast(dev->mm, dev->va + idx * PAGE_SIZE, 1,
				  FOLL_WRITE, &page);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EFAULT;
	check_pin_note(&dev->cdev, page);
	check_pin_write(&dev->cdev, page, 0, &val, sizeof(val));
	check_pin_forget(&dev->cdev, page);
	unpin_user_pages_dirty_lock(&page, 1, true);
	return 0;
}

struct f003_dev *f003_create(struct mm_struct *mm, unsigned long nr_pages,
			     u64 fill, const char *name)
{
	struct f003_dev *dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	long va;

	if (!dev)
		return NULL;
	dev->mm = mm;
	dev->pgmap.type = MEMORY_DEVICE_FS_DAX;
	dev->pgmap.nr_pages = nr_pages;
	dev->pgmap.owner = dev;
	if (IS_ERR(memremap_pages(&dev->pgmap))) {
		kfree(dev);
		return NULL;
	}
	check_dev_init(&dev->cdev, name ? name : "f003");
	va = vm_mmap_devmap(mm, &dev->pgmap, 0, nr_pages,
			    PROT_READ | PROT_WRITE);
	if (IS_ERR_VALUE(va)) {
		f003_destroy(dev);
		return NULL;
	}
	dev->va = va;
	for (unsigned long i = 0; i < nr_pages; i++) {
		if (f003_gup_write(dev, i, fill)) {
			f003_destroy(dev);
			return NULL;
		}
	}
	return dev;
}

unsigned long f003_va(const struct f003_dev *dev)
{
	return dev->va;
}

unsigned long f003_pfn(const struct f003_dev *dev)
{
	return pgmap_pfn_first(&dev->pgmap);
}

void f003_remove_flawed(struct f003_dev *dev)
{
	dev->removed = true;
	__memunmap_pages_nozap(&dev->pgmap);
}

void f003_remove(struct f003_dev *dev)
{
	dev->removed = true;
	memunmap_pages(&dev->pgmap);
}

void f003_destroy(struct f003_dev *dev)
{
	if (!dev)
		return;
	if (!dev->removed)
		f003_remove(dev);
	check_dev_fini(&dev->cdev);
	kfree(dev);
}
