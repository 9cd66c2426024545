/* SPDX-License-Identifier: MIT */
/*
 * mm_types.h - struct mm_struct, the address space a CPU and its secondary
 * MMUs translate through.
 *
 * So far it is the page-table root and its locks and counters; the VMA set,
 * mmap_lock, notifier subscriptions and TLB state join it as the host-MMU
 * layers land (docs/pgtable.md says which lock guards what).
 *
 * Lifetime, as in the kernel: mm_users counts users of the address space
 * (threads, a CPU bound to it); the last mmput() tears the address space
 * down.  mm_count counts references to the struct itself (mmgrab/mmdrop);
 * the users together hold one.  The struct is freed at the last mmdrop().
 */
#ifndef MMIRROR_MM_TYPES_H
#define MMIRROR_MM_TYPES_H

#include <mmirror/pgtable.h>

enum mm_counter {
	MM_ANONPAGES, /* resident anonymous pages (4 KiB units) */
	MM_SHMEMPAGES, /* resident shared-anonymous pages */
	NR_MM_COUNTERS
};

struct mm_struct {
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
