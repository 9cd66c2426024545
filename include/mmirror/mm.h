/* SPDX-License-Identifier: MIT */
/*
 * mm.h - operations on an address space: the syscall-like vm_* calls, page
 * faults, VMA lookup, fork and exit.
 *
 * Each vm_* call is what the Linux syscall of the same name does to
 * anonymous memory, with an explicit mm instead of current->mm, and takes
 * mmap_lock itself (write for mmap/munmap/mprotect/mremap/MADV_(NO)HUGEPAGE,
 * read for the other madvise advice).  Arguments are validated as Linux
 * does: -EINVAL for unaligned or overflowing ranges, ranges beyond the
 * address space, unknown flags; -ENOMEM for unmapped ranges where Linux
 * says so, and for allocation failure.
 */
#ifndef MMIRROR_MM_H
#define MMIRROR_MM_H

#include <mmirror/mm_types.h>

/* Protection and flags: Linux values (guards: <sys/mman.h> may be there). */
#ifndef PROT_READ
#define PROT_NONE 0x0
#define PROT_READ 0x1
#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#endif
#ifndef MAP_SHARED
#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_POPULATE 0x08000
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_DONTNEED
#define MADV_WILLNEED 3
#define MADV_DONTNEED 4
#define MADV_HUGEPAGE 14
#define MADV_NOHUGEPAGE 15
#endif
#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* vm_mmap/vm_mremap return an address, or a negative errno. */
#define IS_ERR_VALUE(x) ((unsigned long)(x) >= (unsigned long)-MAX_ERRNO)

/*
 * vm_mmap() - map anonymous memory.
 * @addr: a hint, or the exact place with MAP_FIXED (replacing what is
 *        there) or MAP_FIXED_NOREPLACE (-EEXIST if anything is there).
 * @flags: MAP_ANONYMOUS and exactly one of MAP_PRIVATE/MAP_SHARED, plus
 *         MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_POPULATE.
 * Return: the start address, or -EINVAL/-ENOMEM/-EEXIST.  Mappings of
 * 2 MiB or more placed by the kernel are 2 MiB aligned (THP).
 */
long vm_mmap(struct mm_struct *mm, unsigned long addr, unsigned long len,
	     unsigned long prot, unsigned long flags);
/* vm_munmap() - unmap [start, start+len); 0, -EINVAL, or -ENOMEM (no
 * memory to split a VMA at an edge: nothing changed). */
int vm_munmap(struct mm_struct *mm, unsigned long start, unsigned long len);
/*
 * vm_mprotect() - change protection; 0, -EINVAL, -ENOMEM (a hole in the
 * range), -EACCES (PROT_WRITE on a shared mapping that may not be written).
 */
int vm_mprotect(struct mm_struct *mm, unsigned long start, unsigned long len,
		unsigned long prot);
/*
 * vm_madvise() - MADV_DONTNEED (drop the pages: private memory reads back
 * zero), MADV_WILLNEED (populate), MADV_HUGEPAGE, MADV_NOHUGEPAGE.
 * Return: 0, -EINVAL, -ENOMEM (a hole in the range).
 */
int vm_madvise(struct mm_struct *mm, unsigned long start, unsigned long len,
	       int advice);
/*
 * vm_mremap() - shrink, grow in place, or move (MREMAP_MAYMOVE, optionally
 * MREMAP_FIXED to @new_addr, MREMAP_DONTUNMAP to keep the old range mapped
 * but empty).  Return: the new address or -EINVAL/-ENOMEM/-EFAULT.
 */
long vm_mremap(struct mm_struct *mm, unsigned long old_addr,
	       unsigned long old_len, unsigned long new_len,
	       unsigned long flags, unsigned long new_addr);

/*
 * mm_fork() - a child address space: private memory copied on write (both
 * sides write-protected, frames shared), shared memory shared.
 * Return: the child mm (one user) or ERR_PTR(-ENOMEM).
 */
struct mm_struct *mm_fork(struct mm_struct *mm);
/*
 * mm_exit() - the owning process exits: drop its user reference.  The
 * address space is torn down (every frame and table freed) when the last
 * user (the process, a CPU bound to it) is gone.
 */
void mm_exit(struct mm_struct *mm);

/*
 * mm_oom_reap() - unmap @mm's private memory now, without blocking, as the
 * kernel's OOM reaper does to a killed process.  Secondary MMUs are asked
 * with non-blockable invalidations; a VMA one of them refuses is skipped.
 * Return 0 (all reaped), -EAGAIN (mmap_lock contended or a VMA skipped:
 * try again later), -EINVAL.
 */
int mm_oom_reap(struct mm_struct *mm);

/* --- VMA lookup (mmap_lock held) ------------------------------------------ */

/* The first VMA with vm_end > @addr, or NULL. */
struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr);
/* The VMA containing @addr, or NULL. */
struct vm_area_struct *vma_lookup(struct mm_struct *mm, unsigned long addr);
/* The first VMA intersecting [start, end), or NULL. */
struct vm_area_struct *find_vma_intersection(struct mm_struct *mm,
					     unsigned long start,
					     unsigned long end);
/* The VMA after @vma in address order, or NULL. */
struct vm_area_struct *vma_next(struct vm_area_struct *vma);
#define for_each_vma(mm, vma) \
	for (vma = find_vma(mm, 0); vma; vma = vma_next(vma))

static inline void mmap_read_lock(struct mm_struct *mm)
{
	down_read(&mm->mmap_lock);
}
/* Nonzero if taken.  Reclaim uses it on other mms (no lock order). */
static inline int mmap_read_trylock(struct mm_struct *mm)
{
	return down_read_trylock(&mm->mmap_lock);
}
static inline void mmap_read_unlock(struct mm_struct *mm)
{
	up_read(&mm->mmap_lock);
}
static inline void mmap_write_lock(struct mm_struct *mm)
{
	down_write(&mm->mmap_lock);
}
static inline void mmap_write_unlock(struct mm_struct *mm)
{
	up_write(&mm->mmap_lock);
}
static inline void mmap_write_downgrade(struct mm_struct *mm)
{
	downgrade_write(&mm->mmap_lock);
}
static inline void mmap_assert_locked(struct mm_struct *mm)
{
	rwsem_assert_held(&mm->mmap_lock);
}
static inline void mmap_assert_write_locked(struct mm_struct *mm)
{
	rwsem_assert_held_write(&mm->mmap_lock);
}

/* --- page faults --------------------------------------------------------- */

#define FAULT_FLAG_WRITE 0x01
#define FAULT_FLAG_REMOTE 0x80 /* on behalf of another mm's user (GUP) */
#define FAULT_FLAG_KNOWN (FAULT_FLAG_WRITE | FAULT_FLAG_REMOTE)

/*
 * One fault as the handlers see it (the kernel's struct vm_fault, the
 * fields mmirror uses).  Drivers meet it in dev_pagemap_ops.migrate_to_ram.
 */
struct vm_fault {
	struct vm_area_struct *vma;
	unsigned long address; /* page aligned */
	unsigned int flags; /* FAULT_FLAG_* */
	pmd_t *pmd;
	pte_t orig_pte; /* the entry the decision is based on */
	struct page *page; /* device-private fault: the page (locked, ref) */
};

typedef unsigned int vm_fault_t;
#define VM_FAULT_OOM 0x000001
#define VM_FAULT_SIGBUS 0x000002
#define VM_FAULT_MAJOR 0x000004
#define VM_FAULT_SIGSEGV 0x000040
#define VM_FAULT_RETRY 0x000400
#define VM_FAULT_ERROR (VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)

/*
 * handle_mm_fault() - resolve a fault at @address in @vma: populate missing
 * tables and pages (the zero page for a read of private memory, a zeroed
 * frame or a huge page for a write), break COW for a write to a shared
 * private page (or reuse it when exclusively owned).
 * Context: mmap_lock held for read (or write).  Return: 0, or VM_FAULT_*
 * (VM_FAULT_SIGSEGV for an access the VMA forbids — a check Linux makes in
 * the arch fault handler; mmirror makes it here too so every caller gets
 * it — VM_FAULT_OOM on allocation failure).
 */
vm_fault_t handle_mm_fault(struct vm_area_struct *vma, unsigned long address,
			   unsigned int flags);

/* Is @vm_flags enough for a fault with @fault_flags? */
static inline bool vma_access_permitted(const struct vm_area_struct *vma,
					unsigned int fault_flags)
{
	if (fault_flags & FAULT_FLAG_WRITE)
		return vma->vm_flags & VM_WRITE;
	return vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC);
}

/* --- transparent huge pages --------------------------------------------- */

enum thp_mode {
	THP_NEVER, /* no huge pages */
	THP_MADVISE, /* only in VM_HUGEPAGE VMAs (the default) */
	THP_ALWAYS, /* wherever the range allows, unless VM_NOHUGEPAGE */
};
/* System-wide THP policy and whether PUD-sized (1 GiB) pages are used. */
void thp_set_mode(enum thp_mode mode, bool pud);
enum thp_mode thp_get_mode(void);

/* --- building and reading mappings by hand ------------------------------- */

/*
 * mm_map_page() - map @page at @addr in @mm with protection @prot,
 * outside any VMA (tests and demos that build page tables directly).
 * @prot: PAGE_READONLY, PAGE_SHARED, PAGE_NONE or another combination of
 *        _PAGE_PRESENT/_PAGE_PROTNONE (exactly one), _PAGE_RW, _PAGE_USER,
 *        _PAGE_ACCESSED, _PAGE_DIRTY.
 *
 * Allocates missing page-table levels.  The mapping takes a reference and a
 * mapcount on @page (the zero page gets a special entry and neither) and
 * counts in the mm's RSS; the last mmput() drops them.
 *
 * Context: the caller serialises changes to @mm's mappings.  Return: 0;
 * -EINVAL (@addr unaligned or outside the address space, bad @prot, NULL
 * @mm/@page, a tail page); -EBUSY (something is already mapped at @addr);
 * -ENOMEM.
 */
int mm_map_page(struct mm_struct *mm, unsigned long addr, struct page *page,
		pgprot_t prot);

/*
 * follow_pte_pfn() - look @addr up in @mm's page tables without faulting.
 * Return: 0 and the pfn and entry value of the 4 KiB page at @addr (inside
 * a huge leaf: the pfn of that subpage); -ENOENT if nothing present maps it.
 * A device-exclusive entry (exclusive.h) is reported as a present,
 * writable mapping of its pfn, and a device-private entry (memremap.h) as
 * a present mapping of its pfn, writable if the entry is: the page is
 * still this va's, held by a device (the oracle compares device accesses
 * against this).
 */
int follow_pte_pfn(struct mm_struct *mm, unsigned long addr, unsigned long *pfn,
		   u64 *entry);

#endif /* MMIRROR_MM_H */
