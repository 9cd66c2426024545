// SPDX-License-Identifier: MIT
/*
 * devmem.c - device-private memory for the mirror device (mirror.h), like
 * the kernel's test_hmm dmirror_devmem_*: memory the CPU cannot address,
 * into which anonymous pages move (migrate_vma_*) and out of which a CPU
 * touch, the driver or a release moves them again.
 *
 * THE ALLOCATOR
 *
 * One struct dmirror_devmem per device embeds a MEMORY_DEVICE_PRIVATE
 * dev_pagemap whose owner is the struct dmirror.  Free pages sit on a
 * stack of page indices under a spinlock: ops->page_free puts them back
 * from any put_page() caller (spinlocks held, IRQs off), so nothing there
 * may sleep.  zone_device_page_init() hands a page out (reference 1,
 * locked: what migrate_vma_pages() wants of a destination).  A release
 * sets "dying" first, so no page is handed out while it empties the
 * memory.
 *
 * MAPPING MOVED PAGES (the collision-retry protocol, for migrations)
 *
 * A page moved to the device is mapped in the device table at once, with
 * the device pfn, writable iff the CPU's entry is (MIGRATE_PFN_WRITE).
 * The install must not outlive an invalidation of the page, exactly like
 * a fault's (mirror.c).  Two samples guard it:
 *
 *   gen = dm->migrate_gen          (under the mutex, before setup)
 *   migrate_vma_setup()            our MIGRATE invalidations: the
 *                                  callback zaps and bumps the seq, but
 *                                  not migrate_gen (ours)
 *   allocate, copy
 *   seq = mmu_interval_read_begin()
 *   migrate_vma_pages(), migrate_vma_finalize()
 *   mutex_lock
 *   install iff !read_retry(seq) && migrate_gen == gen
 *
 * read_retry catches every invalidation after setup, ours included (a
 * CPU fault migrating the page back right after finalize, a second
 * device's fault).  migrate_gen catches another path's invalidation
 * between setup and read_begin: MADV_DONTNEED runs under mmap_lock for
 * read like us and zaps the migration entries, so finalize maps nothing
 * and frees the destination; a read_begin sample after it would not see
 * it.  Our own invalidations in that window cannot hurt: the sources are
 * locked until finalize, so no other migration collects them.  A batch
 * with a hole never installs (its destination is mapped inside another
 * MIGRATE invalidation in migrate_vma_pages()): the device faults it in
 * later; hmm_range_fault() reports our device pages.
 *
 * Lock order: devmem_sem -> mmap_lock -> page locks -> dm->mutex ->
 * devmem->lock (a leaf).  migrate_to_ram runs under mmap_lock (the fault
 * path's) and takes no devmem_sem.
 */
#include <mmirror/kthread.h>
#include <mmirror/memremap.h>
#include <mmirror/migrate.h>
#include <mmirror/mm.h>
#include <mmirror/slab.h>

#include "mirror_priv.h"

/* Most device pages one device may have. */
#define DMIRROR_DEVMEM_MAX 512UL
/* Pages one migrate_vma / migrate_device call covers at most. */
#define DMIRROR_MIGRATE_BATCH 64UL

struct dmirror_devmem {
	struct dev_pagemap pgmap; /* owner: the struct dmirror */
	struct dmirror *dm;
	/*
	 * Guards dying, nr_free and free[].  A leaf, taken by page_free in
	 * any context: never sleep under it.
	 */
	spinlock_t lock;
	bool dying; /* a release runs: hand nothing out */
	unsigned long nr_free;
	unsigned long *free; /* indices of free pages, nr_free of them */
};

static struct dmirror_devmem *to_devmem(struct dev_pagemap *pgmap)
{
	return container_of(pgmap, struct dmirror_devmem, pgmap);
}

/* --- the allocator ----------------------------------------------------- */

static void dmirror_devmem_push(struct dmirror_devmem *mem, unsigned long idx)
{
	spin_lock(&mem->lock);
	if (!WARN_ON(mem->nr_free >= mem->pgmap.nr_pages))
		mem->free[mem->nr_free++] = idx;
	spin_unlock(&mem->lock);
}

/* ops->page_free: the last reference is gone.  Context: any; no sleep. */
static void dmirror_devmem_page_free(struct page *page)
{
	struct dmirror_devmem *mem = to_devmem(page->pgmap);

	dmirror_devmem_push(mem,
			    page_to_pfn(page) - pgmap_pfn_first(&mem->pgmap));
}

/*
 * A free device page, referenced and locked; NULL when none is left or a
 * release runs.  Context: may sleep (the page lock).
 */
static struct page *dmirror_devmem_alloc(struct dmirror_devmem *mem)
{
	struct page *page;
	unsigned long idx;

	spin_lock(&mem->lock);
	if (mem->dying || !mem->nr_free) {
		spin_unlock(&mem->lock);
		return NULL;
	}
	idx = mem->free[--mem->nr_free];
	spin_unlock(&mem->lock);
	page = pfn_to_page(pgmap_pfn_first(&mem->pgmap) + idx);
	if (zone_device_page_init(page)) {
		/* memunmap_pages() began; cannot happen under devmem_sem. */
		dmirror_devmem_push(mem, idx);
		return NULL;
	}
	return page;
}

static unsigned long dmirror_devmem_nr_free(struct dmirror_devmem *mem)
{
	unsigned long n;

	spin_lock(&mem->lock);
	n = mem->nr_free;
	spin_unlock(&mem->lock);
	return n;
}

/**
 * dmirror_is_own_devpage() - is @page one of @dm's device-private pages?
 * @dm: the device
 * @page: any page (a VALID hmm_range_fault() result)
 *
 * Context: any.  The page's pgmap->owner is the device that added it.
 */
bool dmirror_is_own_devpage(struct dmirror *dm, struct page *page)
{
	return is_device_private_page(page) && page->pgmap->owner == dm;
}

/* --- copies ------------------------------------------------------------ */

/* Count the pages migrate_vma_pages() moved: MIGRATE kept, dst given. */
static unsigned long dmirror_nr_moved(const unsigned long *src,
				      const unsigned long *dst, unsigned long n)
{
	unsigned long moved = 0;

	for (unsigned long i = 0; i < n; i++)
		moved += (src[i] & MIGRATE_PFN_MIGRATE) &&
			 (dst[i] & MIGRATE_PFN_VALID);
	return moved;
}

/*
 * Destinations in system memory for the collected device pages of @args
 * (a driver migration or a CPU fault).  A page without one stays.
 * Return: 0, or -ENOMEM if a page could not be had.
 */
static int dmirror_dst_system(struct migrate_vma *args)
{
	unsigned long va = args->start;
	int ret = 0;

	for (unsigned long i = 0; i < args->npages; i++, va += PAGE_SIZE) {
		struct page *spage = migrate_pfn_to_page(args->src[i]);
		struct page *dpage;

		if (!spage || !(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = alloc_page_vma(GFP_KERNEL, args->vma, va);
		if (!dpage) {
			ret = -ENOMEM;
			continue;
		}
		lock_page(dpage);
		copy_highpage(dpage, spage);
		args->dst[i] = migrate_pfn(page_to_pfn(dpage)) |
			       (args->src[i] & MIGRATE_PFN_WRITE);
	}
	return ret;
}

/*
 * Destinations in device memory for the collected system pages and holes
 * of @args; a hole gets a zeroed page, writable if the VMA is (its entry
 * will be).  Return: 0, or -ENOMEM when the device memory ran out.
 */
static int dmirror_dst_device(struct dmirror_devmem *mem,
			      struct migrate_vma *args)
{
	for (unsigned long i = 0; i < args->npages; i++) {
		unsigned long s = args->src[i];
		struct page *spage = migrate_pfn_to_page(s);
		struct page *dpage;

		if (!(s & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = dmirror_devmem_alloc(mem);
		if (!dpage)
			return -ENOMEM;
		/* Through the copy: the oracle's shadow follows the bytes. */
		copy_highpage(dpage, spage ? spage : ZERO_PAGE(0));
		args->dst[i] = migrate_pfn(page_to_pfn(dpage));
		if ((s & MIGRATE_PFN_WRITE) ||
		    (!spage && (args->vma->vm_flags & VM_WRITE)))
			args->dst[i] |= MIGRATE_PFN_WRITE;
	}
	return 0;
}

/* --- migration to the device ----------------------------------------- */

/* Under the mutex: install the moved pages of @args (see the protocol). */
static void dmirror_map_moved(struct dmirror *dm, struct migrate_vma *args,
			      unsigned long gen, unsigned long seq)
{
	unsigned long va = args->start;

	mutex_lock(&dm->mutex);
	if (mmu_interval_read_retry(&dm->notifier, seq) ||
	    dm->migrate_gen != gen) {
		mutex_unlock(&dm->mutex);
		return;
	}
	for (unsigned long i = 0; i < args->npages; i++, va += PAGE_SIZE) {
		unsigned long d = args->dst[i];
		unsigned long pfn = d >> MIGRATE_PFN_SHIFT;
		bool writable = d & MIGRATE_PFN_WRITE;

		if (!(args->src[i] & MIGRATE_PFN_MIGRATE) ||
		    !(d & MIGRATE_PFN_VALID))
			continue;
		/* -ENOMEM: no entry; the device faults the page later. */
		if (dpt_set(&dm->pt, va,
			    pfn | DPTE_VALID | (writable ? DPTE_WRITE : 0)))
			break;
		check_map(&dm->cdev, dm->mm, va, pfn, writable);
	}
	mutex_unlock(&dm->mutex);
}

static unsigned long dmirror_migrate_gen(struct dmirror *dm)
{
	unsigned long gen;

	mutex_lock(&dm->mutex);
	gen = dm->migrate_gen;
	mutex_unlock(&dm->mutex);
	return gen;
}

/* One batch of [start, end) in @vma to the device.  mmap_lock held. */
static int dmirror_to_device_batch(struct dmirror *dm, struct migrate_vma *args)
{
	unsigned long gen = dmirror_migrate_gen(dm), seq;
	int ret;

	ret = migrate_vma_setup(args);
	if (ret)
		return ret;
	ret = dmirror_dst_device(dm->devmem, args);
	/* After our own invalidations: see the protocol at the top. */
	seq = mmu_interval_read_begin(&dm->notifier);
	migrate_vma_pages(args);
	atomic_long_add(dmirror_nr_moved(args->src, args->dst, args->npages),
			&dm->to_device);
	migrate_vma_finalize(args);
	dmirror_map_moved(dm, args, gen, seq);
	return ret;
}

/* The VMA of @addr if device memory may hold its pages, else NULL. */
static struct vm_area_struct *dmirror_migrate_vma(struct mm_struct *mm,
						  unsigned long addr)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);

	if (!vma || !vma_is_anonymous_private(vma) ||
	    (vma->vm_flags & (VM_SHARED | VM_MIXEDMAP | VM_IO | VM_PFNMAP)))
		return NULL;
	return vma;
}

/*
 * Run @batch over [start, end) in batches of one VMA each.  Context:
 * holds a user reference on the mm; takes mmap_lock for read.
 */
static int dmirror_migrate_range(struct dmirror *dm, unsigned long start,
				 unsigned long end, unsigned long flags,
				 int (*batch)(struct dmirror *,
					      struct migrate_vma *))
{
	unsigned long src[DMIRROR_MIGRATE_BATCH], dst[DMIRROR_MIGRATE_BATCH];
	struct migrate_vma args = {
		.src = src,
		.dst = dst,
		.pgmap_owner = dm,
		.flags = flags,
	};
	int ret = 0;

	mmap_read_lock(dm->mm);
	for (unsigned long next; !ret && start < end; start = next) {
		args.vma = dmirror_migrate_vma(dm->mm, start);
		if (!args.vma) {
			ret = -EFAULT;
			break;
		}
		next = min(min(end, args.vma->vm_end),
			   start + DMIRROR_MIGRATE_BATCH * PAGE_SIZE);
		args.start = start;
		args.end = next;
		ret = batch(dm, &args);
	}
	mmap_read_unlock(dm->mm);
	return ret;
}

static bool dmirror_migrate_args_ok(struct dmirror *dm, unsigned long start,
				    unsigned long end)
{
	return dm && IS_ALIGNED(start, PAGE_SIZE) &&
	       IS_ALIGNED(end, PAGE_SIZE) && start < end &&
	       dmirror_user_range_ok(dm, start, end - start);
}

/**
 * dmirror_migrate_to_device() - move [start, end) into device memory
 * @dm: the device
 * @start: page aligned
 * @end: page aligned, > @start
 *
 * Moves batch by batch (migrate_vma_*) and maps the moved pages in the
 * device table (the protocol at the top of this file).
 * Context: may sleep; takes devmem_sem (read), mmap_lock (read),
 * dm->mutex.  Return: see mirror.h.
 */
int dmirror_migrate_to_device(struct dmirror *dm, unsigned long start,
			      unsigned long end)
{
	int ret;

	if (!dmirror_migrate_args_ok(dm, start, end))
		return -EINVAL;
	down_read(&dm->devmem_sem);
	if (!dm->devmem) {
		ret = -ENODEV;
	} else if (!mmget_not_zero(dm->mm)) {
		ret = -EFAULT;
	} else {
		ret = dmirror_migrate_range(dm, start, end,
					    MIGRATE_VMA_SELECT_SYSTEM,
					    dmirror_to_device_batch);
		mmput(dm->mm);
	}
	up_read(&dm->devmem_sem);
	return ret;
}

/* --- migration to system memory ---------------------------------------- */

/* One batch back to system memory; the setup zaps our device entries. */
static int dmirror_to_system_batch(struct dmirror *dm, struct migrate_vma *args)
{
	int ret = migrate_vma_setup(args);

	if (ret)
		return ret;
	ret = dmirror_dst_system(args);
	migrate_vma_pages(args);
	atomic_long_add(dmirror_nr_moved(args->src, args->dst, args->npages),
			&dm->to_system);
	migrate_vma_finalize(args);
	return ret;
}

/**
 * dmirror_migrate_to_system() - move @dm's device pages of [start, end)
 * back to system memory
 * @dm: the device
 * @start: page aligned
 * @end: page aligned, > @start
 *
 * Needs no device memory (there is then nothing to move) and takes no
 * devmem_sem: the engines' write-fault path calls it.
 * Context: may sleep; the caller holds no mmap_lock nor dm->mutex.
 * Return: see mirror.h.
 */
int dmirror_migrate_to_system(struct dmirror *dm, unsigned long start,
			      unsigned long end)
{
	int ret;

	if (!dmirror_migrate_args_ok(dm, start, end))
		return -EINVAL;
	if (!mmget_not_zero(dm->mm))
		return -EFAULT;
	ret = dmirror_migrate_range(dm, start, end,
				    MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
				    dmirror_to_system_batch);
	mmput(dm->mm);
	return ret;
}

/**
 * dmirror_devpage_to_system() - move our device page @page, mapped at
 * @va, to system memory, or wait until whoever holds it is done
 * @dm: the device
 * @va: page aligned
 * @page: the device page hmm_range_fault() reported at @va
 *
 * For a write fault that found @page read-only.  A page another thread
 * is migrating or faulting stays where it is (its lock is taken); then
 * sleep on the lock rather than spin until that thread is done.  No
 * reference is needed for that: struct pages are never freed, and the
 * worst a reuse of the page costs is a short wait for its new user.
 * Context: may sleep; no lock held.  Return: as
 * dmirror_migrate_to_system().
 */
int dmirror_devpage_to_system(struct dmirror *dm, unsigned long va,
			      struct page *page)
{
	int ret = dmirror_migrate_to_system(dm, va, va + PAGE_SIZE);

	lock_page(page);
	unlock_page(page);
	/* A transient reference may have kept it too: let it go. */
	cond_resched();
	return ret;
}

/*
 * ops->migrate_to_ram: a CPU touched one of our pages.  Move that page
 * back (the fault retries the access).  Context: mmap_lock of
 * vmf->vma->vm_mm held for read; vmf->page locked and referenced by the
 * fault path, which keeps our pgmap, hence @mem, alive.
 */
static vm_fault_t dmirror_devmem_fault(struct vm_fault *vmf)
{
	struct dmirror *dm = to_devmem(vmf->page->pgmap)->dm;
	unsigned long src = 0, dst = 0;
	struct migrate_vma args = {
		.vma = vmf->vma,
		.src = &src,
		.dst = &dst,
		.start = vmf->address,
		.end = vmf->address + PAGE_SIZE,
		.pgmap_owner = dm,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = vmf->page,
	};
	vm_fault_t ret = 0;

	atomic_long_inc(&dm->cpu_faults);
	if (migrate_vma_setup(&args))
		return VM_FAULT_SIGBUS;
	if (dmirror_dst_system(&args))
		ret = VM_FAULT_OOM;
	migrate_vma_pages(&args);
	atomic_long_add(dmirror_nr_moved(&src, &dst, 1), &dm->to_system);
	migrate_vma_finalize(&args);
	return ret;
}

static const struct dev_pagemap_ops dmirror_devmem_ops = {
	.page_free = dmirror_devmem_page_free,
	.migrate_to_ram = dmirror_devmem_fault,
};

/* --- adding and releasing ---------------------------------------------- */

/**
 * dmirror_devmem_add() - give @dm @nr_pages of device-private memory
 * @dm: the device
 * @nr_pages: 1..512
 *
 * Context: may sleep; takes devmem_sem (write).  Return: see mirror.h.
 */
int dmirror_devmem_add(struct dmirror *dm, unsigned long nr_pages)
{
	struct dmirror_devmem *mem;
	void *addr;
	int ret = 0;

	if (!dm || !nr_pages || nr_pages > DMIRROR_DEVMEM_MAX)
		return -EINVAL;
	down_write(&dm->devmem_sem);
	if (dm->devmem) {
		ret = -EBUSY;
		goto out;
	}
	mem = kzalloc(sizeof(*mem), GFP_KERNEL);
	if (mem)
		mem->free = kcalloc(nr_pages, sizeof(*mem->free), GFP_KERNEL);
	if (!mem || !mem->free) {
		ret = -ENOMEM;
		goto fail;
	}
	mem->dm = dm;
	spin_lock_init(&mem->lock);
	mem->pgmap.type = MEMORY_DEVICE_PRIVATE;
	mem->pgmap.nr_pages = nr_pages;
	mem->pgmap.ops = &dmirror_devmem_ops;
	mem->pgmap.owner = dm;
	addr = memremap_pages(&mem->pgmap);
	if (IS_ERR(addr)) {
		ret = PTR_ERR(addr);
		goto fail;
	}
	/* Pushed top down: the first page is handed out first. */
	for (unsigned long i = nr_pages; i-- > 0;)
		mem->free[mem->nr_free++] = i;
	dm->devmem = mem;
	goto out;
fail:
	if (mem)
		kfree(mem->free);
	kfree(mem);
out:
	up_write(&dm->devmem_sem);
	return ret;
}

/*
 * Evict the allocated pages among @n pfns from @first to system memory.
 * Busy ones (locked: a fault or migration of them runs) stay for the next
 * round.  Context: devmem_sem held for write; no mmap_lock.
 * Return: how many pages moved.
 */
static unsigned long dmirror_evict_batch(struct dmirror *dm,
					 unsigned long first, unsigned long n)
{
	unsigned long src[DMIRROR_MIGRATE_BATCH], dst[DMIRROR_MIGRATE_BATCH];
	unsigned long moved;

	if (migrate_device_range(src, first, n))
		return 0;
	for (unsigned long i = 0; i < n; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage;

		dst[i] = 0;
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		/* Teardown: the memory goes away, the data must not. */
		dpage = alloc_page(GFP_KERNEL | __GFP_NOFAIL);
		lock_page(dpage);
		copy_highpage(dpage, spage);
		dst[i] = migrate_pfn(page_to_pfn(dpage)) |
			 (src[i] & MIGRATE_PFN_WRITE);
	}
	migrate_device_pages(src, dst, n);
	moved = dmirror_nr_moved(src, dst, n);
	atomic_long_add(moved, &dm->evicted);
	migrate_device_finalize(src, dst, n);
	/*
	 * An allocated page not collected is locked by a fault or a
	 * migration of it: sleep until that is done instead of spinning
	 * (the reference count is only a hint; a page freed meanwhile
	 * costs nothing).
	 */
	for (unsigned long i = 0; i < n; i++) {
		struct page *page = pfn_to_page(first + i);

		if ((src[i] & MIGRATE_PFN_MIGRATE) || !page_ref_count(page))
			continue;
		lock_page(page);
		unlock_page(page);
	}
	return moved;
}

/*
 * One round of eviction over all of @mem.  If it moved nothing and no page
 * came free meanwhile, what is left is a page between its last put and
 * the free list, or one a fault holds for a moment: only another thread's
 * step ends that, so say so to the explorer (SP_SPIN) instead of
 * spinning past that thread.  The test and the spin have no schedule
 * point between them.  Context: as dmirror_evict_batch().
 */
static void dmirror_evict_round(struct dmirror *dm, struct dmirror_devmem *mem,
				unsigned long nr_free)
{
	unsigned long first = pgmap_pfn_first(&mem->pgmap), moved = 0;

	for (unsigned long i = 0; i < mem->pgmap.nr_pages;
	     i += DMIRROR_MIGRATE_BATCH)
		moved += dmirror_evict_batch(
			dm, first + i,
			min(DMIRROR_MIGRATE_BATCH, mem->pgmap.nr_pages - i));
	if (!moved && dmirror_devmem_nr_free(mem) == nr_free)
		sched_point(SP_SPIN, mem);
	else
		cond_resched();
}

/**
 * dmirror_devmem_release() - evict every page, then remove the memory
 * @dm: the device
 *
 * Sets dying (nothing is handed out any more), then evicts every
 * allocated page with migrate_device_range() (its MIGRATE invalidations
 * zap the device table: the notifier must still be registered), round
 * after round until every page is free: a page stays busy only while a
 * CPU fault or a migration of it runs, which ends.  Then
 * memunmap_pages().  A migrate_to_ram running meanwhile holds its page,
 * hence the pgmap: memunmap_pages() waits for it before @mem is freed.
 *
 * Context: may sleep; takes devmem_sem (write); the caller holds no
 * mmap_lock and no page of the memory.  Return: 0; -ENODEV (no memory).
 */
int dmirror_devmem_release(struct dmirror *dm)
{
	struct dmirror_devmem *mem;
	unsigned long nr_free;

	if (!dm)
		return -ENODEV;
	down_write(&dm->devmem_sem);
	mem = dm->devmem;
	if (!mem) {
		up_write(&dm->devmem_sem);
		return -ENODEV;
	}
	spin_lock(&mem->lock);
	mem->dying = true;
	spin_unlock(&mem->lock);
	while ((nr_free = dmirror_devmem_nr_free(mem)) != mem->pgmap.nr_pages)
		dmirror_evict_round(dm, mem, nr_free);
	memunmap_pages(&mem->pgmap);
	dm->devmem = NULL;
	up_write(&dm->devmem_sem);
	kfree(mem->free);
	kfree(mem);
	return 0;
}

/**
 * dmirror_get_devmem_stats() - the device-memory counters now
 * @dm: the device
 * @stats: out; nr_pages and nr_free are 0 without memory
 *
 * Context: may sleep (devmem_sem, read).
 */
void dmirror_get_devmem_stats(struct dmirror *dm,
			      struct dmirror_devmem_stats *stats)
{
	down_read(&dm->devmem_sem);
	stats->nr_pages = dm->devmem ? dm->devmem->pgmap.nr_pages : 0;
	stats->nr_free = dm->devmem ? dmirror_devmem_nr_free(dm->devmem) : 0;
	up_read(&dm->devmem_sem);
	stats->to_device = atomic_long_read(&dm->to_device);
	stats->to_system = atomic_long_read(&dm->to_system);
	stats->cpu_faults = atomic_long_read(&dm->cpu_faults);
	stats->evicted = atomic_long_read(&dm->evicted);
}
