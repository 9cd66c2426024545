// SPDX-License-Identifier: MIT
/*
 * pt_ops.c - page-table operations behind munmap, mprotect and mremap:
 * freeing empty tables, changing protections, moving entries.
 *
 * All run with mmap_lock held for write, so no fault can install entries
 * in the range meanwhile; simulated CPUs and lockless walkers may still
 * read the tables, which is why entries change atomically and tables are
 * freed through the mmu_gather (after the TLB shootdown and the IRQ-off
 * sync), never directly.
 */
#include "base/trace.h"
#include "internal.h"

/* ==== free_pgd_range ==================================================== */

/*
 * Whether the table covering [addr & ~(size-1), + size) may go: every
 * address it maps lies in [floor, ceiling) (ceiling 0: the top), so no
 * other VMA can have entries in it.  The same test at every level.
 */
static bool table_in_gap(unsigned long addr, unsigned long size,
			 unsigned long floor, unsigned long ceiling)
{
	unsigned long start = addr & ~(size - 1);
	unsigned long last = start + size - 1;

	return start >= floor && (!ceiling || last <= ceiling - 1);
}

/* Unhook the table an entry points to and queue it on the gather. */
static void free_table_entry(struct mmu_gather *tlb, u64 *entryp)
{
	u64 old;

	old = pt_word_xchg(entryp, 0);
	if (WARN_ON(!(old & _PAGE_PRESENT) || (old & _PAGE_PSE)))
		return;
	tlb_remove_table(tlb, pfn_to_page((old & PTE_PFN_MASK) >> PAGE_SHIFT));
}

struct free_range {
	struct mmu_gather *tlb;
	unsigned long floor, ceiling;
};

static void free_pmd_range(struct free_range *fr, pud_t *pud,
			   unsigned long addr, unsigned long end)
{
	pmd_t *pmd = pmd_offset(pud, addr);
	unsigned long next;

	do {
		pmd_t val = pmdp_get(pmd);

		next = pmd_addr_end(addr, end);
		if (pmd_none(val) || pmd_leaf(val) || !pmd_present(val))
			continue;
		if (table_in_gap(addr, PMD_SIZE, fr->floor, fr->ceiling))
			free_table_entry(fr->tlb, &pmd->pmd);
	} while (pmd++, addr = next, addr != end);
}

static void free_pud_range(struct free_range *fr, p4d_t *p4d,
			   unsigned long addr, unsigned long end)
{
	pud_t *pud = pud_offset(p4d, addr);
	unsigned long next;

	do {
		pud_t val = pudp_get(pud);

		next = pud_addr_end(addr, end);
		if (pud_none(val) || pud_leaf(val) || !pud_present(val))
			continue;
		free_pmd_range(fr, pud, addr, next);
		if (table_in_gap(addr, PUD_SIZE, fr->floor, fr->ceiling))
			free_table_entry(fr->tlb, &pud->pud);
	} while (pud++, addr = next, addr != end);
}

static void free_p4d_range(struct free_range *fr, pgd_t *pgd,
			   unsigned long addr, unsigned long end)
{
	p4d_t *p4d = p4d_offset(pgd, addr);
	unsigned long next;

	do {
		next = p4d_addr_end(addr, end);
		if (p4d_none(p4dp_get(p4d)))
			continue;
		free_pud_range(fr, p4d, addr, next);
		/* With four levels the P4D is the PGD entry: freed below. */
		if (pgtable_l5_enabled &&
		    table_in_gap(addr, P4D_SIZE, fr->floor, fr->ceiling))
			free_table_entry(fr->tlb, &p4d->p4d);
	} while (p4d++, addr = next, addr != end);
}

void free_pgd_range(struct mmu_gather *tlb, unsigned long addr,
		    unsigned long end, unsigned long floor,
		    unsigned long ceiling)
{
	struct free_range fr = { tlb, floor, ceiling };
	pgd_t *pgd = pgd_offset(tlb->mm, addr);
	unsigned long next;

	mmap_assert_write_locked(tlb->mm);
	if (WARN_ON(addr >= end))
		return;
	do {
		next = pgd_addr_end(addr, end);
		if (pgd_none(pgdp_get(pgd)))
			continue;
		free_p4d_range(&fr, pgd, addr, next);
		if (table_in_gap(addr, PGDIR_SIZE, floor, ceiling))
			free_table_entry(tlb, &pgd->pgd);
	} while (pgd++, addr = next, addr != end);
}

/* ==== change_protection ================================================== */

/*
 * The new entry for a present @old under @vma's protection.  A private
 * writable VMA maps read-only (COW happens at the write fault), except a
 * page this mm owns exclusively, which may stay (or become) writable.
 */
static u64 new_leaf(struct vm_area_struct *vma, u64 old)
{
	u64 new = (old & _PAGE_CHG_MASK) | pgprot_val(vma->vm_page_prot);
	struct page *page = vm_normal_page_val(old);

	if (!vma->vm_shared && (vma->vm_flags & VM_WRITE) && page &&
	    PageAnonExclusive(page) && (old & _PAGE_DIRTY))
		new |= _PAGE_RW;
	if (old & _PAGE_SPECIAL)
		new &= ~(u64)_PAGE_RW; /* the zero page is never writable */
	return new;
}

/* Does going from @old to @new take a permission away (needs a flush)? */
static bool is_downgrade(u64 old, u64 new)
{
	return ((old & _PAGE_RW) && !(new &_PAGE_RW)) ||
	       ((old & _PAGE_PRESENT) && !(new &_PAGE_PRESENT));
}

/*
 * A software entry under the new protection of @vma (PTE lock held): the
 * dispatch on its type.  Swap entries carry no permission; a writable
 * migration entry must not give write back to a VMA that lost it.
 */
static long change_nonpresent(struct vm_area_struct *vma, u64 *entryp, u64 old)
{
	swp_entry_t entry = { old };

	if (!old)
		return 0;
	switch (swp_type(entry)) {
	case SWP_SWAPFILE:
	case SWP_MIGRATION_READ:
		return 0;
	case SWP_MIGRATION_WRITE:
		if (vma->vm_flags & VM_WRITE)
			return 0;
		/* Not present: no TLB holds it, no flush. */
		entry = swp_entry(SWP_MIGRATION_READ, swp_offset(entry));
		pt_word_store(entryp, entry.val);
		return 1;
	case SWP_DEVICE_PRIVATE_WRITE:
		/*
		 * Made read-only whatever the new protection, as Linux does
		 * (change_pte_range: no protection check for it): a later
		 * write faults, migrates the page back and is judged then.
		 * The PROTECTION_VMA invalidation took the device's mapping.
		 */
		entry = swp_entry(SWP_DEVICE_PRIVATE_READ, swp_offset(entry));
		pt_word_store(entryp, entry.val);
		return 1;
	case SWP_DEVICE_EXCLUSIVE:
		/*
		 * Kept as it is (Linux since 6.14): it carries no permission;
		 * the restore takes write from the VMA, and the PROTECTION_VMA
		 * invalidation already took the device's mapping away.
		 */
		return 0;
	default:
		return 0;
	}
}

/* Rewrite one leaf atomically (the hardware may be setting A/D). */
static long change_leaf(struct mmu_gather *tlb, struct vm_area_struct *vma,
			u64 *entryp, unsigned long addr, unsigned long size)
{
	u64 old = pt_word_load(entryp), new;

	do {
		if (!(old & (_PAGE_PRESENT | _PAGE_PROTNONE)))
			return change_nonpresent(vma, entryp, old);
		new = new_leaf(vma, old);
		if (new == old)
			return 0;
	} while (!pt_word_cmpxchg(entryp, &old, new));
	trace_event(TR_PTE, "pte %#lx prot %#llx -> %#llx", addr,
		    (unsigned long long)old, (unsigned long long)new);
	if (is_downgrade(old, new))
		tlb_flush_pte_range(tlb, addr, size);
	return 1;
}

static long change_pte_range(struct mmu_gather *tlb, struct vm_area_struct *vma,
			     pmd_t *pmd, unsigned long addr, unsigned long end)
{
	spinlock_t *ptl;
	pte_t *pte = pte_offset_map_lock(vma->vm_mm, pmd, addr, &ptl);
	pte_t *start = pte;
	long n = 0;

	if (!pte)
		return 0;
	for (; addr != end; pte++, addr += PAGE_SIZE)
		n += change_leaf(tlb, vma, &pte->pte, addr, PAGE_SIZE);
	pte_unmap_unlock(start, ptl);
	return n;
}

static long change_pmd_range(struct mmu_gather *tlb, struct vm_area_struct *vma,
			     pud_t *pud, unsigned long addr, unsigned long end)
{
	pmd_t *pmd = pmd_offset(pud, addr);
	unsigned long next;
	long n = 0;

	do {
		pmd_t val = pmdp_get(pmd);

		next = pmd_addr_end(addr, end);
		if (pmd_none(val))
			continue;
		if (pmd_leaf(val)) {
			if (next - addr == PMD_SIZE) {
				spinlock_t *ptl = pmd_lock(vma->vm_mm, pmd);

				n += change_leaf(tlb, vma, &pmd->pmd, addr,
						 PMD_SIZE);
				spin_unlock(ptl);
				continue;
			}
			split_huge_pmd(vma, pmd, addr);
		}
		n += change_pte_range(tlb, vma, pmd, addr, next);
	} while (pmd++, addr = next, addr != end);
	return n;
}

static long change_pud_range(struct mmu_gather *tlb, struct vm_area_struct *vma,
			     p4d_t *p4d, unsigned long addr, unsigned long end)
{
	pud_t *pud = pud_offset(p4d, addr);
	unsigned long next;
	long n = 0;

	do {
		pud_t val = pudp_get(pud);

		next = pud_addr_end(addr, end);
		if (pud_none(val))
			continue;
		if (pud_leaf(val)) {
			if (next - addr == PUD_SIZE) {
				spinlock_t *ptl = pud_lock(vma->vm_mm, pud);

				n += change_leaf(tlb, vma, &pud->pud, addr,
						 PUD_SIZE);
				spin_unlock(ptl);
				continue;
			}
			split_huge_pud(vma, pud, addr);
		}
		n += change_pmd_range(tlb, vma, pud, addr, next);
	} while (pud++, addr = next, addr != end);
	return n;
}

long change_protection(struct mmu_gather *tlb, struct vm_area_struct *vma,
		       unsigned long addr, unsigned long end)
{
	pgd_t *pgd = pgd_offset(vma->vm_mm, addr);
	unsigned long next;
	long n = 0;

	if (WARN_ON(addr < vma->vm_start || end > vma->vm_end || addr >= end))
		return 0;
	do {
		p4d_t *p4d;
		unsigned long p4d_next, a = addr;

		next = pgd_addr_end(addr, end);
		if (pgd_none(pgdp_get(pgd)))
			continue;
		p4d = p4d_offset(pgd, addr);
		do {
			p4d_next = p4d_addr_end(a, next);
			if (!p4d_none(p4dp_get(p4d)))
				n += change_pud_range(tlb, vma, p4d, a,
						      p4d_next);
		} while (p4d++, a = p4d_next, a != next);
	} while (pgd++, addr = next, addr != end);
	return n;
}

/* ==== move_page_tables =================================================== */

/* The PMD for @addr in @mm, allocating missing levels; NULL on -ENOMEM. */
static pmd_t *alloc_pmd(struct mm_struct *mm, unsigned long addr)
{
	p4d_t *p4d = p4d_alloc(mm, pgd_offset(mm, addr), addr);
	pud_t *pud = p4d ? pud_alloc(mm, p4d, addr) : NULL;
	pud_t val;

	if (!pud)
		return NULL;
	if (pud_none(pudp_get(pud)) && __pmd_alloc(mm, pud, addr))
		return NULL;
	val = pudp_get(pud);
	if (!pud_present(val) || pud_leaf(val))
		return NULL;
	return pud_pgtable(val) + pmd_index(addr);
}

/* The PMD for @addr in @vma's mm if one exists (a PUD leaf is split). */
static pmd_t *get_old_pmd(struct vm_area_struct *vma, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(vma->vm_mm, addr);
	p4d_t *p4d;
	pud_t *pud, val;

	if (pgd_none(pgdp_get(pgd)))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(p4dp_get(p4d)))
		return NULL;
	pud = pud_offset(p4d, addr);
	val = pudp_get(pud);
	if (pud_leaf(val)) {
		split_huge_pud(vma, pud, addr);
		val = pudp_get(pud);
	}
	if (!pud_present(val) || pud_leaf(val))
		return NULL;
	return pud_pgtable(val) + pmd_index(addr);
}

/* Move the PTEs of [old, old_end) to @new; both tables exist. */
static void move_ptes(struct mm_struct *mm, pmd_t *old_pmd, unsigned long old,
		      unsigned long old_end, pmd_t *new_pmd, unsigned long new)
{
	spinlock_t *old_ptl, *new_ptl;
	pte_t *src = pte_offset_map_lock(mm, old_pmd, old, &old_ptl);
	pte_t *dst, *src0 = src, *dst0;

	if (!src)
		return;
	/* Lock order old -> new; mmap_lock (write) keeps two mremaps from
	 * taking them the other way round.  One table: one lock. */
	dst0 = dst = pte_offset_kernel(new_pmd, new);
	new_ptl = pte_lockptr(mm, pmdp_get(new_pmd));
	if (new_ptl != old_ptl)
		spin_lock(new_ptl);
	for (; old != old_end; src++, dst++, old += PAGE_SIZE) {
		pte_t v;

		if (pte_none(ptep_get(src)))
			continue;
		v = ptep_get_and_clear(src);
		WARN_ON(!pte_none(ptep_get(dst)));
		set_pte(dst, v);
	}
	if (new_ptl != old_ptl)
		spin_unlock(new_ptl);
	pte_unmap(dst0);
	pte_unmap_unlock(src0, old_ptl);
}

/* Move a whole PMD leaf; false if the destination is not empty. */
static bool move_huge_pmd(struct mm_struct *mm, pmd_t *old_pmd, pmd_t *new_pmd)
{
	spinlock_t *ptl = pmd_lock(mm, old_pmd);
	bool moved = false;

	if (pmd_none(pmdp_get(new_pmd)) && pmd_leaf(pmdp_get(old_pmd))) {
		set_pmd(new_pmd, pmdp_get_and_clear(old_pmd));
		moved = true;
	}
	spin_unlock(ptl);
	return moved;
}

unsigned long move_page_tables(struct vm_area_struct *vma,
			       unsigned long old_addr,
			       struct vm_area_struct *new_vma,
			       unsigned long new_addr, unsigned long len)
{
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	unsigned long moved = 0;

	mmap_assert_write_locked(mm);
	/* The old range is unmapped, as far as secondary MMUs know. */
	mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, mm, old_addr,
				old_addr + len);
	mmu_notifier_invalidate_range_start(&range);
	while (moved < len) {
		unsigned long old = old_addr + moved, new = new_addr + moved;
		unsigned long extent =
			min(pmd_addr_end(old, old_addr + len) - old,
			    pmd_addr_end(new, new_addr + len) - new);
		pmd_t *old_pmd = get_old_pmd(vma, old), *new_pmd;
		pmd_t val;

		if (!old_pmd || pmd_none(val = pmdp_get(old_pmd))) {
			moved += extent;
			continue;
		}
		new_pmd = alloc_pmd(mm, new);
		if (!new_pmd)
			break;
		if (pmd_leaf(val)) {
			if (extent == PMD_SIZE &&
			    move_huge_pmd(mm, old_pmd, new_pmd)) {
				moved += extent;
				continue;
			}
			split_huge_pmd(vma, old_pmd, old);
		}
		if (pte_alloc(mm, new_pmd))
			break;
		move_ptes(mm, old_pmd, old, old + extent, new_pmd, new);
		moved += extent;
	}
	/* The frames stay mapped (at the new place): the flush only retires
	 * the old translations, so it can come after the moves. */
	if (moved)
		flush_tlb_range(vma, old_addr, old_addr + moved);
	mmu_notifier_invalidate_range_end(&range);
	return moved;
}
