/* SPDX-License-Identifier: MIT */
/*
 * mm.h - operations on an address space.
 *
 * So far: building an address space by hand (mm_map_page).  The syscall-like
 * vm_* operations (vm_mmap, vm_munmap, vm_mprotect, ...) and page faults
 * join here with the host-MMU layer.
 */
#ifndef MMIRROR_MM_H
#define MMIRROR_MM_H

#include <mmirror/mm_types.h>

/*
 * mm_map_page() - map @page at @addr in @mm with protection @prot.
 * @prot: PAGE_READONLY, PAGE_SHARED, PAGE_NONE or another combination of
 *        _PAGE_PRESENT/_PAGE_PROTNONE (exactly one), _PAGE_RW, _PAGE_USER,
 *        _PAGE_ACCESSED, _PAGE_DIRTY.
 *
 * Allocates missing page-table levels.  The mapping takes a reference and a
 * mapcount on @page (the zero page gets a special entry and neither) and
 * counts in the mm's RSS; the last mmput() drops them.
 *
 * Context: the caller serialises changes to @mm's mappings (later: holds
 * mmap_lock).  Return: 0; -EINVAL (@addr unaligned or outside the address
 * space, bad @prot, NULL @mm/@page, a tail page); -EBUSY (something is
 * already mapped at @addr); -ENOMEM.
 */
int mm_map_page(struct mm_struct *mm, unsigned long addr, struct page *page,
		pgprot_t prot);

/*
 * follow_pte_pfn() - look @addr up in @mm's page tables without faulting.
 * Return: 0 and the pfn and entry value of the 4 KiB page at @addr (inside
 * a huge leaf: the pfn of that subpage); -ENOENT if nothing present maps it.
 */
int follow_pte_pfn(struct mm_struct *mm, unsigned long addr, unsigned long *pfn,
		   u64 *entry);

#endif /* MMIRROR_MM_H */
