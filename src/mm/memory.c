// SPDX-License-Identifier: MIT
/*
 * memory.c - building and reading an address space's mappings by hand.
 *
 * mm_map_page() installs one PTE under the PTE lock, the way the fault path
 * will: allocate missing levels, lock the PTE table, check the slot is still
 * none, take the page's references, then publish the entry with a release
 * store (a lockless walker that sees it also sees the page's contents).
 */
#include <mmirror/mm.h>
#include "internal.h"

#define PROT_KNOWN_BITS                                           \
	(_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_RW | _PAGE_USER | \
	 _PAGE_ACCESSED | _PAGE_DIRTY)

static bool prot_valid(pgprot_t prot)
{
	u64 v = pgprot_val(prot);

	if (v & ~PROT_KNOWN_BITS)
		return false;
	/* Exactly one of present / protnone. */
	return !(v & _PAGE_PRESENT) != !(v & _PAGE_PROTNONE);
}

/* Walk to the PMD for @addr, allocating missing levels. */
static pmd_t *walk_alloc_pmd(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d = p4d_alloc(mm, pgd, addr);
	pud_t *pud;

	if (!p4d)
		return NULL;
	pud = pud_alloc(mm, p4d, addr);
	if (!pud)
		return NULL;
	return pmd_alloc(mm, pud, addr);
}

int mm_map_page(struct mm_struct *mm, unsigned long addr, struct page *page,
		pgprot_t prot)
{
	spinlock_t *ptl;
	pte_t *pte, entry;
	pmd_t *pmd;
	bool zero;

	if (!mm || !page || PageTail(page) || !pfn_valid(page_to_pfn(page)) ||
	    !IS_ALIGNED(addr, PAGE_SIZE) || addr >= mm->task_size ||
	    !prot_valid(prot))
		return -EINVAL;
	pmd = walk_alloc_pmd(mm, addr);
	if (!pmd)
		return -ENOMEM;
	pte = pte_alloc_map_lock(mm, pmd, addr, &ptl);
	if (!pte)
		/* -ENOMEM, or a huge leaf already maps @addr. */
		return pmd_leaf(pmdp_get(pmd)) ? -EBUSY : -ENOMEM;
	if (!pte_none(ptep_get(pte))) {
		pte_unmap_unlock(pte, ptl);
		return -EBUSY;
	}
	zero = is_zero_pfn(page_to_pfn(page));
	entry = mk_pte(page, prot);
	if (zero) {
		entry = pte_wrprotect(pte_mkspecial(entry));
	} else {
		get_page(page);
		atomic_inc(&page->_mapcount);
		add_mm_counter(mm, MM_ANONPAGES, 1);
	}
	set_pte(pte, entry);
	pte_unmap_unlock(pte, ptl);
	return 0;
}

int follow_pte_pfn(struct mm_struct *mm, unsigned long addr, unsigned long *pfn,
		   u64 *entry)
{
	struct pt_snapshot s;

	if (!mm || !pfn || !entry || addr >= mm->task_size)
		return -EINVAL;
	pt_walk_snapshot(mm, addr, &s);
	/* PROT_NONE leaves are present to software: report them too. */
	if (!(s.entry & (_PAGE_PRESENT | _PAGE_PROTNONE)) ||
	    !(s.shift == PAGE_SHIFT || (s.entry & _PAGE_PSE)))
		return -ENOENT;
	*pfn = pt_snapshot_pfn(&s, addr);
	*entry = s.entry;
	return 0;
}
