/* SPDX-License-Identifier: MIT */
/*
 * mm_types.h - struct mm_struct, the address space a CPU and its secondary
 * MMUs translate through.
 *
 * An mm is a set of VMAs (virtual memory areas: [vm_start, vm_end) ranges
 * with one protection and kind each), the page tables that map them, and
 * the simulated CPUs that may cache its translations.
 *
 * Locking (docs/mm.md has the full table):
 *   mmap_lock (rwsem)       the VMA set and every vm_area_struct field;
 *                           read for faults and lookups, write for
 *                           mmap/munmap/mprotect/mremap/fork.  Page-table
 *                           pages are freed only under it held for write.
 *   page_table_lock         PMD/PUD entries; installing any new table
 *   PTE table split lock    the 512 PTEs of that table
 *   cpus_lock               the list of CPUs bound to this mm
 * Order: mmap_lock -> page_table_lock -> PTE lock -> cpus_lock -> a CPU's
 * tlb_lock (a leaf: a CPU takes no lock under it).
 *
 * Lifetime, as in the kernel: mm_users counts users of the address space
 * (threads, a CPU bound to it); the last mmput() tears the address space
 * down.  mm_count counts references to the struct itself (mmgrab/mmdrop);
 * the users together hold one.  The struct is freed at the last mmdrop().
 */
#ifndef MMIRROR_MM_TYPES_H
#define MMIRROR_MM_TYPES_H

#include <mmirror/pgtable.h>
#include <mmirror/rbtree.h>
#include <mmirror/rwsem.h>
#include <mmirror/seqlock.h>

enum mm_counter {
	MM_ANONPAGES, /* resident anonymous pages (4 KiB units) */
	MM_SHMEMPAGES, /* resident shared-anonymous pages */
	MM_SWAPENTS, /* swap entries in the page tables */
	NR_MM_COUNTERS
};

/* vm_flags, Linux values. */
#define VM_NONE 0x00000000UL
#define VM_READ 0x00000001UL
#define VM_WRITE 0x00000002UL
#define VM_EXEC 0x00000004UL
#define VM_SHARED 0x00000008UL
#define VM_MAYREAD 0x00000010UL
#define VM_MAYWRITE 0x00000020UL
#define VM_MAYEXEC 0x00000040UL
#define VM_MAYSHARE 0x00000080UL
#define VM_PFNMAP 0x00000400UL /* no struct pages: not mirrorable */
#define VM_LOCKED 0x00002000UL
#define VM_IO 0x00004000UL /* device I/O space: not mirrorable */
#define VM_DONTCOPY 0x00020000UL
#define VM_ACCOUNT 0x00100000UL
#define VM_MIXEDMAP 0x10000000UL
#define VM_HUGEPAGE 0x20000000UL /* MADV_HUGEPAGE */
#define VM_NOHUGEPAGE 0x40000000UL /* MADV_NOHUGEPAGE */
#define VM_ACCESS_FLAGS (VM_READ | VM_WRITE | VM_EXEC)

struct shmem_object;

/*
 * struct vm_area_struct - one mapping: [vm_start, vm_end), page aligned,
 * non-empty, never overlapping another VMA of the same mm.
 * All fields are guarded by mmap_lock (write to change, read to look).
 */
struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end; /* exclusive */
	struct mm_struct *vm_mm;
	unsigned long vm_flags;
	pgprot_t vm_page_prot; /* leaf protection for this VMA */
	struct rb_node vm_rb; /* in mm->mm_rb, keyed by vm_start */
	/*
	 * Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS) is backed by a
	 * shmem object, as in Linux: its pages are indexed by page offset,
	 * and vm_pgoff is the offset of vm_start in it.  NULL for private
	 * anonymous memory, where vm_pgoff is vm_start >> PAGE_SHIFT at
	 * creation (kept across mremap, as Linux keeps anon page indices).
	 */
	struct shmem_object *vm_shared;
	unsigned long vm_pgoff;
	/* Private VMAs: in the mm's anon_vma list (rmap.c), so the reverse
	 * map can find every mapping of an anonymous page. */
	struct list_head anon_vma_node;
};

static inline unsigned long vma_pages(const struct vm_area_struct *vma)
{
	return (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
}
static inline bool vma_is_anonymous_private(const struct vm_area_struct *vma)
{
	return !vma->vm_shared;
}

struct sim_cpu;
struct mmu_notifier_subscriptions;
struct anon_vma;

struct mm_struct {
	struct rw_semaphore mmap_lock;
	struct rb_root mm_rb; /* VMAs by vm_start */
	int map_count; /* number of VMAs */
	unsigned long mmap_base; /* kernel-chosen placement: below this */
	unsigned long total_vm; /* pages mapped by VMAs */
	spinlock_t cpus_lock; /* guards cpus; -> CPU tlb_lock */
	struct list_head cpus; /* sim CPUs bound to this mm */
	atomic_long_t tlb_flushes; /* shootdowns sent (statistics) */
	/* NULL until the first notifier subscription; then published with a
	 * release store and freed at the last mmdrop() (src/notifier). */
	struct mmu_notifier_subscriptions *notifier_subscriptions;
	/* Odd while fork copies this mm's page tables (under mmap_lock for
	 * write): GUP-fast pins back off when they overlap a fork. */
	seqcount_t write_protect_seq;
	/* The reverse map of private memory, shared by a whole fork tree. */
	struct anon_vma *anon_vma;
	pgd_t *pgd; /* root table (a PG_pgtable frame) */
	spinlock_t page_table_lock; /* PMD/PUD entries; new-table installs */
	atomic_long_t pgtables_bytes; /* bytes of page-table pages */
	atomic_long_t rss_stat[NR_MM_COUNTERS];
	atomic_t mm_users;
	atomic_t mm_count;
	unsigned long task_size; /* user addresses are [0, task_size) */
};

/*
 * mm_alloc() - a new, empty address space with one user.
 * Return: the mm, or ERR_PTR(-ENOMEM).
 */
struct mm_struct *mm_alloc(void);
/* Drop a user; the last one tears down the page tables and frees frames. */
void mmput(struct mm_struct *mm);
/* Take/drop a reference on the struct (not on the address space). */
void mmgrab(struct mm_struct *mm);
void mmdrop(struct mm_struct *mm);
/* Take a user reference unless the address space is already gone. */
bool mmget_not_zero(struct mm_struct *mm);
/* Number of mm_structs alive (tests; pgtable_set_levels). */
long mm_live_count(void);

static inline unsigned long get_mm_counter(struct mm_struct *mm, int member)
{
	return atomic_long_read(&mm->rss_stat[member]);
}
static inline void add_mm_counter(struct mm_struct *mm, int member, long n)
{
	atomic_long_add(n, &mm->rss_stat[member]);
}
static inline unsigned long mm_pgtables_pages(struct mm_struct *mm)
{
	return atomic_long_read(&mm->pgtables_bytes) >> PAGE_SHIFT;
}

#endif /* MMIRROR_MM_TYPES_H */
