// SPDX-License-Identifier: MIT
/*
 * memremap_map.c - mapping device memory into processes, and the global
 * zap that takes every such mapping away before the memory is removed.
 *
 * The kernel finds every mapping of device-dax memory through the device
 * inode's address_space (unmap_mapping_range).  mmirror has no files, so
 * the pgmap keeps a record of each mm it was mapped into (a mapper), and
 * the zap walks every VM_MIXEDMAP VMA of those mms, clearing the devmap
 * entries whose pfn is in the range.  Walking VMAs by flag rather than by
 * the address the mapping was made at keeps mremap'd entries found (the
 * VMA moves with its flags); fork copies no entry of a shared VMA, so a
 * child never holds one the record misses.
 *
 * A devmap entry is _PAGE_SPECIAL|_PAGE_DEVMAP and holds no page
 * reference and no mapcount (memremap.h): clearing one drops nothing,
 * which is why the zap can be the plain clear-then-flush below and why
 * munmap/exit of such a VMA (memory.c, which skips special entries) need
 * no devmap case.
 *
 * Locks: mmap_lock (read for the zap, write to set up the VMA) -> PTE
 * lock -> pgmap->lock (the mapper list; a leaf).  The zap itself runs with
 * the pgmap killed and without holders, so the mapper list cannot grow
 * (vm_mmap_devmap() records under a reference) and is read unlocked.
 */
#include "base/trace.h"
#include "internal.h"
#include "memremap_internal.h"
#include <mmirror/pagewalk.h>

struct pgmap_mapper {
	struct list_head node; /* on pgmap->mappers */
	struct mm_struct *mm; /* mmgrab'd: the struct outlives the record */
};

/* --- recording mms -------------------------------------------------------- */

/* Record @mm unless it is already; @spare is used or freed. */
static void pgmap_add_mapper(struct dev_pagemap *pgmap, struct mm_struct *mm,
			     struct pgmap_mapper *spare)
{
	struct pgmap_mapper *m;

	spin_lock(&pgmap->lock);
	list_for_each_entry(m, &pgmap->mappers, node) {
		if (m->mm == mm) {
			spin_unlock(&pgmap->lock);
			kfree(spare);
			return;
		}
	}
	mmgrab(mm);
	spare->mm = mm;
	list_add_tail(&spare->node, &pgmap->mappers);
	spin_unlock(&pgmap->lock);
}

void pgmap_drop_mappers(struct dev_pagemap *pgmap)
{
	struct pgmap_mapper *m, *n;

	list_for_each_entry_safe(m, n, &pgmap->mappers, node) {
		list_del(&m->node);
		mmdrop(m->mm);
		kfree(m);
	}
}

/* --- inserting devmap entries ------------------------------------------- */

/* Install one devmap PTE; -EBUSY if something is there, -ENOMEM. */
static int devmap_insert_pte(struct vm_area_struct *vma, unsigned long addr,
			     unsigned long pfn)
{
	spinlock_t *ptl;
	pte_t *pte, entry;
	int err;

	pte = walk_alloc_pte_lock(vma->vm_mm, addr, &ptl, &err);
	if (!pte)
		return err;
	if (!pte_none(ptep_get(pte))) {
		pte_unmap_unlock(pte, ptl);
		return -EBUSY;
	}
	entry = pte_mkdevmap(pte_mkyoung(pfn_pte(pfn, vma->vm_page_prot)));
	if (vma->vm_flags & VM_WRITE)
		entry = pte_mkdirty(pte_mkwrite(entry));
	/* Release store: a lockless walker that sees the entry sees the
	 * page's PG_devmap and ->pgmap (set before the pgmap was listed). */
	set_pte(pte, entry);
	pte_unmap_unlock(pte, ptl);
	return 0;
}

static int devmap_fill_vma(struct vm_area_struct *vma,
			   struct dev_pagemap *pgmap, unsigned long pgoff)
{
	unsigned long pfn = pgmap_pfn_first(pgmap) + pgoff;

	for (unsigned long a = vma->vm_start; a < vma->vm_end;
	     a += PAGE_SIZE, pfn++) {
		int err = devmap_insert_pte(vma, a, pfn);

		if (err)
			return err;
	}
	return 0;
}

/* Mark the new VMA and fill it; mmap_lock taken for write here. */
static int devmap_setup_vma(struct mm_struct *mm, unsigned long va,
			    unsigned long len, struct dev_pagemap *pgmap,
			    unsigned long pgoff)
{
	struct vm_area_struct *vma;
	int err;

	mmap_write_lock(mm);
	vma = vma_lookup(mm, va);
	/* Another thread of the process replaced it meanwhile. */
	if (!vma || vma->vm_start != va || vma->vm_end != va + len ||
	    !vma->vm_shared) {
		mmap_write_unlock(mm);
		return -EBUSY;
	}
	vma->vm_flags |= VM_MIXEDMAP;
	err = devmap_fill_vma(vma, pgmap, pgoff);
	mmap_write_unlock(mm);
	return err;
}

static int devmap_check_args(struct mm_struct *mm, struct dev_pagemap *pgmap,
			     unsigned long pgoff, unsigned long nr_pages,
			     unsigned long prot)
{
	if (!mm || !pgmap || !nr_pages)
		return -EINVAL;
	if (pgoff >= pgmap->nr_pages || nr_pages > pgmap->nr_pages - pgoff)
		return -EINVAL;
	if (!(prot & PROT_READ) || (prot & ~(PROT_READ | PROT_WRITE)))
		return -EINVAL;
	if (pgmap->type == MEMORY_DEVICE_PRIVATE)
		return -EINVAL;
	return 0;
}

long vm_mmap_devmap(struct mm_struct *mm, struct dev_pagemap *pgmap,
		    unsigned long pgoff, unsigned long nr_pages,
		    unsigned long prot)
{
	int err = devmap_check_args(mm, pgmap, pgoff, nr_pages, prot);
	unsigned long len = nr_pages << PAGE_SHIFT;
	struct pgmap_mapper *rec;
	long va;

	if (err)
		return err;
	/* Held until the mm is recorded: removal's zap (after it waits
	 * for every holder) then finds what we mapped. */
	if (!pgmap_tryget_live(pgmap))
		return -ENODEV;
	rec = kzalloc(sizeof(*rec), GFP_KERNEL);
	if (!rec) {
		put_dev_pagemap(pgmap);
		return -ENOMEM;
	}
	va = vm_mmap(mm, 0, len, prot, MAP_SHARED | MAP_ANONYMOUS);
	if (IS_ERR_VALUE(va)) {
		err = (int)va;
		goto fail;
	}
	err = devmap_setup_vma(mm, va, len, pgmap, pgoff);
	if (err) {
		/* Entries hold nothing: munmap just clears them. */
		vm_munmap(mm, va, len);
		goto fail;
	}
	pgmap_add_mapper(pgmap, mm, rec);
	put_dev_pagemap(pgmap);
	return va;
fail:
	kfree(rec);
	put_dev_pagemap(pgmap);
	return err;
}

/* --- the global zap ------------------------------------------------------ */

struct devmap_zap {
	struct dev_pagemap *pgmap;
	unsigned long cleared;
};

static int devmap_zap_pmd(pmd_t val, pmd_t *pmdp, unsigned long addr,
			  unsigned long next, struct mm_walk *walk)
{
	struct devmap_zap *z = walk->private;
	spinlock_t *ptl;
	pte_t *start, *pte;

	/* Devmap entries are only ever PTEs (vm_mmap_devmap). */
	walk->action = ACTION_CONTINUE;
	if (!pmd_present(val) || pmd_leaf(val))
		return 0;
	/* Re-checks *pmdp under the lock: a table replaced meanwhile is
	 * none or a leaf now, and holds no devmap entry. */
	start = pte = pte_offset_map_lock(walk->mm, pmdp, addr, &ptl);
	if (!pte)
		return 0;
	for (; addr < next; addr += PAGE_SIZE, pte++) {
		pte_t e = ptep_get(pte);

		if (!pte_present(e) || !pte_devmap(e) ||
		    !pgmap_has_pfn(z->pgmap, pte_pfn(e)))
			continue;
		ptep_get_and_clear(pte);
		trace_event(TR_PTE, "pte %#lx devmap zap", addr);
		z->cleared++;
	}
	pte_unmap_unlock(start, ptl);
	return 0;
}

static const struct mm_walk_ops devmap_zap_ops = {
	.pmd_entry = devmap_zap_pmd,
};

/*
 * Zap one VMA: notifier start (secondary MMUs drop their copies first),
 * clear, then the shootdown, whose IRQ-off sync is what makes GUP-fast
 * safe without asking the pgmap (seed 003), then notifier end.
 */
static void devmap_zap_vma(struct dev_pagemap *pgmap,
			   struct vm_area_struct *vma)
{
	struct devmap_zap z = { .pgmap = pgmap };
	struct mmu_notifier_range range;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, vma->vm_mm,
				vma->vm_start, vma->vm_end);
	mmu_notifier_invalidate_range_start(&range);
	walk_page_range(vma->vm_mm, vma->vm_start, vma->vm_end, &devmap_zap_ops,
			&z);
	if (z.cleared)
		flush_tlb_range(vma, vma->vm_start, vma->vm_end);
	mmu_notifier_invalidate_range_end(&range);
}

void pgmap_zap_mappings(struct dev_pagemap *pgmap)
{
	struct pgmap_mapper *m;

	list_for_each_entry(m, &pgmap->mappers, node) {
		struct mm_struct *mm = m->mm;
		struct vm_area_struct *vma;

		/* No user left: exit already cleared (and flushed) all. */
		if (!mmget_not_zero(mm))
			continue;
		mmap_read_lock(mm);
		for (vma = find_vma(mm, 0); vma; vma = vma_next(vma))
			if (vma->vm_flags & VM_MIXEDMAP)
				devmap_zap_vma(pgmap, vma);
		mmap_read_unlock(mm);
		mmput(mm);
	}
}
