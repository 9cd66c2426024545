// SPDX-License-Identifier: MIT
/*
 * fdev.c - the plumbing of the flawed whole-mm mirrors (fdev.h): create
 * and destroy, the device page table, the device read, the test pause.
 * The races live in seed000.c and seed004.c, in their callbacks and
 * fault paths; nothing here decides whether a translation may be
 * installed.
 */
#include <mmirror/mm.h>
#include <mmirror/page.h>
#include <mmirror/slab.h>
#include "flawed/fdev.h"

/**
 * fdev_init() - set up @fd over @npages pages at @start of @mm and
 * register its notifier.
 * @fd: the device, embedded in the driver's (zeroed).
 * @mm: the address space (with users).
 * @start: page-aligned start of the mirrored range.
 * @npages: its length in pages (1..4096).
 * @name: the device's name in oracle reports.
 * @ops: the driver's notifier callbacks (they find their device with
 *	container_of(mn, ..., fd.mn)).
 *
 * The driver sets up its own protocol state before: callbacks may run
 * as soon as the notifier is registered.
 * Context: may sleep (registers a notifier: mmap_lock for write).
 * Return: 0, -EINVAL (bad arguments), -ENOMEM, or the register's error
 * (mm exited); on error nothing is left to undo.
 */
int fdev_init(struct fdev *fd, struct mm_struct *mm, unsigned long start,
	      unsigned long npages, const char *name,
	      const struct mmu_notifier_ops *ops)
{
	int ret;

	if (!mm || (start & ~PAGE_MASK) || !npages || npages > 4096)
		return -EINVAL;
	fd->pt = kcalloc(npages, sizeof(*fd->pt), GFP_KERNEL);
	if (!fd->pt)
		return -ENOMEM;
	spin_lock_init(&fd->lock);
	fd->mm = mm;
	fd->start = start;
	fd->npages = npages;
	check_dev_init(&fd->cdev, name);
	fd->mn.ops = ops;
	ret = mmu_notifier_register(&fd->mn, mm);
	if (ret) {
		check_dev_fini(&fd->cdev);
		kfree(fd->pt);
	}
	return ret;
}

/**
 * fdev_fini() - unregister (waiting for callbacks) and free the table.
 * @fd: set up by fdev_init().
 *
 * The caller frees the structure @fd is embedded in afterwards.
 * Context: may sleep (grace period).  Not in a notifier callback.
 */
void fdev_fini(struct fdev *fd)
{
	mmu_notifier_unregister(&fd->mn, fd->mm);
	check_dev_fini(&fd->cdev);
	kfree(fd->pt);
}

/**
 * fdev_in_range() - is @va inside @fd's range?
 * @fd: the device.
 * @va: any address.
 *
 * Context: any.  Return: true if @fd has a table entry for @va.
 */
bool fdev_in_range(const struct fdev *fd, unsigned long va)
{
	return va >= fd->start && ((va - fd->start) >> PAGE_SHIFT) < fd->npages;
}

static unsigned long *fdev_slot(struct fdev *fd, unsigned long va)
{
	return &fd->pt[(va - fd->start) >> PAGE_SHIFT];
}

/**
 * fdev_zap() - drop the translations of [s, e) within @fd's range.
 * @fd: the device.
 * @s: start of the range (any part may lie outside the device's).
 * @e: its end, exclusive.
 *
 * Context: fd->lock held.
 */
void fdev_zap(struct fdev *fd, unsigned long s, unsigned long e)
{
	unsigned long end = fd->start + (fd->npages << PAGE_SHIFT);

	s = max(s, fd->start);
	e = min(e, end);
	if (s >= e)
		return;
	for (unsigned long a = s; a < e; a += PAGE_SIZE)
		*fdev_slot(fd, a) = 0;
	check_unmap(&fd->cdev, fd->mm, s, e);
}

/**
 * fdev_zap_all() - drop every translation (->release).
 * @fd: the device.
 *
 * Context: fd->lock held.
 */
void fdev_zap_all(struct fdev *fd)
{
	fdev_zap(fd, fd->start, fd->start + (fd->npages << PAGE_SHIFT));
}

/**
 * fdev_install() - the device now translates @va to @pfn (read-only).
 * @fd: the device.
 * @va: a page-aligned address inside the range.
 * @pfn: the frame the driver's fault path decided on.
 *
 * Context: fd->lock held.
 */
void fdev_install(struct fdev *fd, unsigned long va, unsigned long pfn)
{
	*fdev_slot(fd, va) = pfn + 1;
	check_map(&fd->cdev, fd->mm, va, pfn, false);
}

/**
 * fdev_pause_point() - the test hook between reading the CPU
 * translation and taking the device lock.
 * @fd: the device.
 *
 * Context: may sleep (when a pause is set).  No lock held.
 */
void fdev_pause_point(struct fdev *fd)
{
	if (!fd->pause.read_done)
		return;
	complete(fd->pause.read_done);
	wait_for_completion(fd->pause.go);
}

/**
 * fdev_read() - a device read of @len bytes at @va through its table.
 * @fd: the device (NULL: -EINVAL).
 * @va: the address (the access stays within its page).
 * @buf: where the bytes go.
 * @len: how many.
 *
 * Context: any (takes fd->lock).
 * Return: 0; -EFAULT no translation; -EINVAL bad arguments.
 */
int fdev_read(struct fdev *fd, unsigned long va, void *buf, size_t len)
{
	unsigned long w;
	int ret = -EFAULT;

	if (!fd || !fdev_in_range(fd, va))
		return -EINVAL;
	spin_lock(&fd->lock);
	w = *fdev_slot(fd, va);
	if (w)
		ret = check_dev_read(&fd->cdev, fd->mm, va, w - 1, buf, len);
	spin_unlock(&fd->lock);
	return ret;
}

/**
 * fdev_pfn() - the frame @fd translates @va to.
 * @fd: the device (NULL: none).
 * @va: an address (outside the range: none).
 *
 * Context: any (takes fd->lock).  Return: the pfn, or 0 if none.
 */
unsigned long fdev_pfn(struct fdev *fd, unsigned long va)
{
	unsigned long w;

	if (!fd || !fdev_in_range(fd, va))
		return 0;
	spin_lock(&fd->lock);
	w = *fdev_slot(fd, va);
	spin_unlock(&fd->lock);
	return w ? w - 1 : 0;
}

/**
 * fdev_set_pause() - install (or clear, @pause NULL) the test hook.
 * @fd: the device, not faulting at the moment (NULL: nothing).
 * @pause: completions the fault path signals/waits between read and
 *	   install.
 *
 * Context: single-threaded with respect to @fd's fault path.
 */
void fdev_set_pause(struct fdev *fd, const struct fdev_pause *pause)
{
	if (fd)
		fd->pause = pause ? *pause : (struct fdev_pause){ 0 };
}
