// SPDX-License-Identifier: MIT
/*
 * seed001.c - a device that walks the CPU page tables itself, locklessly,
 * the way an ATS/PRI translation walker or a hand-rolled GUP-fast does.
 *
 * THE PROTOCOL (the same for both walkers)
 *
 *	seq = mmu_interval_read_begin()
 *	local_irq_save()                 no table we reach can be freed
 *	walk: PGD -> P4D -> PUD -> PMD -> PTE, or a PUD/PMD leaf
 *	local_irq_restore()
 *	spin_lock(dev->lock)             the lock our invalidate takes
 *	read_retry(seq)? unlock, again   an invalidation began: walk again
 *	check_map; DMA; check_unmap      the translation lives only here
 *	spin_unlock(dev->lock)
 *
 * IRQs off keep the walk memory-safe: every table unhooked by munmap or
 * exit is freed only after a TLB shootdown that waits for IRQ-off
 * sections (docs/tlb.md).  The sequence keeps the translation coherent: a
 * notified change of the range makes us walk again.  Neither covers what
 * changes WITHOUT a notifier: a fault fills a none entry (a 4 KiB fault
 * installs a table, a huge fault a 2 MiB or 1 GiB leaf) under mmap_lock
 * held for read, while we walk.  Seed 001: "The pud can be set
 * asynchronously, while also holding the mmap_sem for read eg from:
 * handle_mm_fault() ...".
 *
 * THE FLAW (F001_FLAWED, do not copy)
 *
 * The flawed walker reads a PUD or PMD entry again for every test and
 * once more for the table pointer, as mm/pagewalk.c did before seed 001's
 * patch (pud_none(*pud) ... pud_leaf(*pud) ... pmd_offset(pud, addr)).
 * In torn-read mode each read is pXdp_get_torn(): two 32-bit halves, as a
 * 32-bit PAE CPU would load a 64-bit entry.  Several reads of an entry
 * that a fault fills meanwhile disagree:
 *
 *	device walk                          CPU store to va (huge fault)
 *	pmd_leaf(*pmdp)?     none: no
 *	                                     *pmdp = 2 MiB leaf of folio H
 *	                                     store a word at va (H's first
 *	                                     bytes)
 *	pmd_present(*pmdp)?  yes
 *	table = pmd_pgtable(*pmdp)   = H     a DATA page taken for a table
 *	pte = table[pte_index(va)]   = the word the process stored
 *	DMA through pte's pfn  ------------> oracle: stale (the CPU maps H
 *	                                     at va, not that frame)
 *
 * No sequence check can save it: nothing was invalidated.  The process
 * chooses what the device takes for a PTE, so it aims the device's DMA at
 * any frame.  The correct walker reads *pmdp once: none (fault, try
 * again later) or the leaf (H), never a mix of both.  (Below 4 GiB of
 * arena the high half of every entry is zero, so here the halves of one
 * read never disagree: the race the explorer finds is the re-read.  A
 * torn read is the same bug within one read; Xp_get() rules out both.)
 *
 * KASAN stand-in.  A walk that fetches an entry from a frame that is not
 * a page table is wrong even when the word it finds is not present (and
 * the oracle sees no access).  Both walkers count such fetches
 * (f001_get_stats()); the correct one never makes one.  Like hardware,
 * the walk still reads the frame if it exists.
 *
 * Locking: dev->lock (spinlock) orders the invalidate callback against
 * the use of a translation; the walk itself holds nothing.  Lock order:
 * whatever the invalidating path holds -> dev->lock -> oracle locks.
 */
#include <mmirror/check.h>
#include <mmirror/irqflags.h>
#include <mmirror/mm.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/pgtable.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>
#include "flawed/seed001.h"

struct f001_dev {
	struct mmu_interval_notifier notifier;
	struct check_dev cdev;
	/* Taken by the invalidate callback and around every DMA. */
	spinlock_t lock;
	struct mm_struct *mm;
	unsigned long start, end;
	enum f001_walker walker;
	atomic_long_t walks, wild_walks;
	unsigned long wild_pfn; /* first wild frame + 1; 0: none */
};

/* A leaf the walk found: the 4 KiB frame for va and its write bit. */
struct f001_xlat {
	unsigned long pfn;
	bool writable;
};

/* --- invalidation -------------------------------------------------------- */

static bool f001_invalidate(struct mmu_interval_notifier *mni,
			    const struct mmu_notifier_range *range,
			    unsigned long cur_seq)
{
	struct f001_dev *dev = container_of(mni, struct f001_dev, notifier);

	/* Nothing is cached outside dev->lock: bumping the sequence under
	 * it is the whole invalidation.  A spinlock never sleeps, so a
	 * non-blockable range is fine too. */
	spin_lock(&dev->lock);
	mmu_interval_set_seq(mni, cur_seq);
	spin_unlock(&dev->lock);
	return true;
}

static const struct mmu_interval_notifier_ops f001_notifier_ops = {
	.invalidate = f001_invalidate,
};

/* --- the walk: what both walkers share ----------------------------------- */

/*
 * The table in frame @pfn, as the device's walker fetches from it.  A
 * frame that is no page table is a wild walk (counted); one that does not
 * exist ends the walk, like a bus error.
 */
static void *f001_table(struct f001_dev *dev, unsigned long pfn)
{
	if (pfn_valid(pfn) && PageTable(pfn_to_page(pfn)))
		return pfn_to_virt(pfn);
	if (atomic_long_inc_return(&dev->wild_walks) == 1)
		WRITE_ONCE(dev->wild_pfn, pfn + 1); /* read by get_stats */
	return pfn_valid(pfn) ? pfn_to_virt(pfn) : NULL;
}

/* A leaf word @entry mapping 2^@shift bytes: the 4 KiB frame of @va. */
static int f001_leaf(u64 entry, unsigned int shift, unsigned long va,
		     struct f001_xlat *x)
{
	/* PROT_NONE and swap-type entries: a real device asks for a fault
	 * (PRI); ours reports it and the caller decides. */
	if (!(entry & _PAGE_PRESENT))
		return -EFAULT;
	x->pfn = ((entry & PTE_PFN_MASK) >> PAGE_SHIFT) +
		 ((va & ((1UL << shift) - 1)) >> PAGE_SHIFT);
	x->writable = entry & _PAGE_RW;
	return 0;
}

static int f001_pte(struct f001_dev *dev, unsigned long table_pfn,
		    unsigned long va, struct f001_xlat *x)
{
	pte_t *table = f001_table(dev, table_pfn);

	if (!table)
		return -EFAULT;
	return f001_leaf(pte_val(ptep_get(table + pte_index(va))), PAGE_SHIFT,
			 va, x);
}

/* --- the correct walker: one read per entry, descend by the snapshot ----- */

static int f001_pmd_once(struct f001_dev *dev, unsigned long table_pfn,
			 unsigned long va, struct f001_xlat *x)
{
	pmd_t *table = f001_table(dev, table_pfn);
	pmd_t pmd;

	if (!table)
		return -EFAULT;
	/* The one read: pairs with the release store of the table or leaf
	 * (set_pmd / the huge fault); tear-free in torn-read mode. */
	pmd = pmdp_get(table + pmd_index(va));
	if (!pmd_present(pmd))
		return -EFAULT;
	if (pmd_leaf(pmd))
		return f001_leaf(pmd_val(pmd), PMD_SHIFT, va, x);
	return f001_pte(dev, pmd_pfn(pmd), va, x);
}

static int f001_pud_once(struct f001_dev *dev, unsigned long table_pfn,
			 unsigned long va, struct f001_xlat *x)
{
	pud_t *table = f001_table(dev, table_pfn);
	pud_t pud;

	if (!table)
		return -EFAULT;
	/* The one read: pairs with the release store of set_pud. */
	pud = pudp_get(table + pud_index(va));
	if (!pud_present(pud))
		return -EFAULT;
	if (pud_leaf(pud))
		return f001_leaf(pud_val(pud), PUD_SHIFT, va, x);
	return f001_pmd_once(dev, pud_pfn(pud), va, x);
}

/* --- THE FLAWED WALKER: every test and the descent re-read the entry ----- */

static int f001_pmd_reread(struct f001_dev *dev, unsigned long table_pfn,
			   unsigned long va, struct f001_xlat *x)
{
	pmd_t *table = f001_table(dev, table_pfn);
	pmd_t *pmdp;

	if (!table)
		return -EFAULT;
	pmdp = table + pmd_index(va);
	/* THE FLAW: three reads of *pmdp (pmdp_get_torn: two 32-bit
	 * halves each in torn-read mode); a fault may fill it between any
	 * two, and the table pointer comes from the last. */
	if (pmd_leaf(pmdp_get_torn(pmdp)))
		return f001_leaf(pmd_val(pmdp_get_torn(pmdp)), PMD_SHIFT, va,
				 x);
	if (!pmd_present(pmdp_get_torn(pmdp)))
		return -EFAULT;
	return f001_pte(dev, pmd_pfn(pmdp_get_torn(pmdp)), va, x);
}

static int f001_pud_reread(struct f001_dev *dev, unsigned long table_pfn,
			   unsigned long va, struct f001_xlat *x)
{
	pud_t *table = f001_table(dev, table_pfn);
	pud_t *pudp;

	if (!table)
		return -EFAULT;
	pudp = table + pud_index(va);
	/* THE FLAW again, one level up (seed 001's PUD). */
	if (pud_leaf(pudp_get_torn(pudp)))
		return f001_leaf(pud_val(pudp_get_torn(pudp)), PUD_SHIFT, va,
				 x);
	if (!pud_present(pudp_get_torn(pudp)))
		return -EFAULT;
	return f001_pmd_reread(dev, pud_pfn(pudp_get_torn(pudp)), va, x);
}

/* --- the top of the walk ------------------------------------------------- */

/* PGD and P4D, read once by both walkers; then the walker's own PUD. */
static int f001_walk(struct f001_dev *dev, unsigned long va,
		     struct f001_xlat *x)
{
	pgd_t *pgdp = pgd_offset(dev->mm, va);
	pgd_t pgd = pgdp_get(pgdp);
	p4d_t p4d;

	atomic_long_inc(&dev->walks);
	if (!pgd_present(pgd))
		return -EFAULT;
	/* With 4 levels the P4D is the PGD entry: reuse the snapshot. */
	if (pgtable_l5_enabled) {
		p4d_t *table = f001_table(dev, pgd_pfn(pgd));

		if (!table)
			return -EFAULT;
		p4d = p4dp_get(table + p4d_index(va));
	} else {
		p4d = __p4d(pgd_val(pgd));
	}
	if (!p4d_present(p4d))
		return -EFAULT;
	if (dev->walker == F001_FLAWED)
		return f001_pud_reread(dev, p4d_pfn(p4d), va, x);
	return f001_pud_once(dev, p4d_pfn(p4d), va, x);
}

/* The lockless walk with IRQs off, then the use under dev->lock. */
static int f001_dma(struct f001_dev *dev, unsigned long va, void *buf,
		    size_t len, bool write)
{
	unsigned long seq, flags;
	struct f001_xlat x;
	int ret;

	for (;;) {
		seq = mmu_interval_read_begin(&dev->notifier);
		local_irq_save(flags);
		ret = f001_walk(dev, va, &x);
		local_irq_restore(flags);
		if (ret)
			return ret;
		spin_lock(&dev->lock);
		/* Pairs with mmu_interval_set_seq() in f001_invalidate(),
		 * under the same lock: a change that began after read_begin
		 * makes us walk again.  Leaves the loop with the lock held. */
		if (!mmu_interval_read_retry(&dev->notifier, seq))
			break;
		spin_unlock(&dev->lock);
	}
	if (write && !x.writable) {
		spin_unlock(&dev->lock);
		return -EACCES;
	}
	check_map(&dev->cdev, dev->mm, va & PAGE_MASK, x.pfn, x.writable);
	if (write)
		ret = check_dev_write(&dev->cdev, dev->mm, va, x.pfn, buf, len);
	else
		ret = check_dev_read(&dev->cdev, dev->mm, va, x.pfn, buf, len);
	check_unmap(&dev->cdev, dev->mm, va & PAGE_MASK,
		    (va & PAGE_MASK) + PAGE_SIZE);
	spin_unlock(&dev->lock);
	return ret;
}

static int f001_access(struct f001_dev *dev, unsigned long va, void *buf,
		       size_t len, bool write)
{
	int ret;

	if (!dev || !buf || !len || va < dev->start || va >= dev->end ||
	    (va & ~PAGE_MASK) + len > PAGE_SIZE)
		return -EINVAL;
	/* A user keeps the page tables from being torn down (exit). */
	if (!mmget_not_zero(dev->mm))
		return -EFAULT;
	ret = f001_dma(dev, va, buf, len, write);
	mmput(dev->mm);
	return ret;
}

/**
 * f001_dma_read() - the device reads @len bytes at @va through a
 * translation its walker finds right now.
 * @dev: the device.
 * @va: an address in the device's range; the access stays in its page.
 * @buf: where the bytes go.
 * @len: how many (at least 1).
 *
 * Context: may sleep (mmu_interval_read_begin); not in a notifier
 * callback, not with IRQs off.
 * Return: 0; -EFAULT nothing present maps @va (a real device would send a
 * page request) or the mm has exited; -EINVAL bad arguments; or what
 * check_dev_read() returns.
 */
int f001_dma_read(struct f001_dev *dev, unsigned long va, void *buf, size_t len)
{
	return f001_access(dev, va, buf, len, false);
}

/**
 * f001_dma_write() - the device writes @len bytes at @va, as
 * f001_dma_read() reads them.
 * @dev: the device.
 * @va: an address in the device's range; the access stays in its page.
 * @buf: the bytes.
 * @len: how many (at least 1).
 *
 * Context: as f001_dma_read().
 * Return: as f001_dma_read(), and -EACCES if the leaf is read-only.
 */
int f001_dma_write(struct f001_dev *dev, unsigned long va, const void *buf,
		   size_t len)
{
	return f001_access(dev, va, (void *)buf, len, true);
}

/**
 * f001_get_stats() - the walker's counters.
 * @dev: the device.
 * @st: filled in.
 *
 * Context: any.  Counters of walks still running may be missing.
 */
void f001_get_stats(struct f001_dev *dev, struct f001_stats *st)
{
	unsigned long w;

	*st = (struct f001_stats){ 0 };
	if (!dev)
		return;
	st->walks = (unsigned long)atomic_long_read(&dev->walks);
	st->wild_walks = (unsigned long)atomic_long_read(&dev->wild_walks);
	/* Pairs with WRITE_ONCE in f001_table(). */
	w = READ_ONCE(dev->wild_pfn);
	st->wild_pfn = w ? w - 1 : 0;
}

/**
 * f001_create() - a device translating [@start, @start + @len) of @mm
 * with the walker @walker.
 * @mm: the address space (with users).
 * @start: page-aligned start of the range.
 * @len: page-aligned length, not 0.
 * @walker: F001_FLAWED or F001_CORRECT.
 * @name: the device's name in oracle reports.
 *
 * Context: may sleep (inserts an interval notifier: mmap_lock).
 * Return: the device, or NULL (bad arguments, no memory, mm exited).
 */
struct f001_dev *f001_create(struct mm_struct *mm, unsigned long start,
			     unsigned long len, enum f001_walker walker,
			     const char *name)
{
	struct f001_dev *dev;

	if (!mm || (start & ~PAGE_MASK) || (len & ~PAGE_MASK) || !len ||
	    start + len < start ||
	    (walker != F001_FLAWED && walker != F001_CORRECT))
		return NULL;
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return NULL;
	spin_lock_init(&dev->lock);
	dev->mm = mm;
	dev->start = start;
	dev->end = start + len;
	dev->walker = walker;
	check_dev_init(&dev->cdev, name ? name : "f001");
	if (mmu_interval_notifier_insert(&dev->notifier, mm, start, len,
					 &f001_notifier_ops)) {
		check_dev_fini(&dev->cdev);
		kfree(dev);
		return NULL;
	}
	return dev;
}

/**
 * f001_destroy() - unsubscribe (waiting for callbacks) and free @dev.
 * @dev: from f001_create(), or NULL; no DMA of it may run or follow.
 *
 * Context: may sleep.  Not in a notifier callback.
 */
void f001_destroy(struct f001_dev *dev)
{
	if (!dev)
		return;
	mmu_interval_notifier_remove(&dev->notifier);
	check_dev_fini(&dev->cdev);
	kfree(dev);
}
