/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what src/mm files share and nobody else sees: the contracts
 * between the VMA layer (mmap.c, mprotect.c, mremap.c, madvise.c), the
 * page-table layer (memory.c, huge_memory.c, fork.c, shmem.c) and the TLB
 * layer (tlb.c, cpu.c).
 */
#ifndef MMIRROR_MM_INTERNAL_H
#define MMIRROR_MM_INTERNAL_H

#include <mmirror/mm.h>
#include <mmirror/mmu_notifier.h>

/* ==== the lockless snapshot walk (pgtable.c) ============================ */

/*
 * A lockless snapshot walk: where the translation of one address ends.
 * The walk reads each level's entry once and descends through that value
 * (seed 001), stopping at the first entry that is not a present table:
 * a present leaf (PTE, or a huge PMD/PUD), none, a software entry or a
 * PROT_NONE entry.  Hardware sees words, not levels, so the result is the
 * raw word and its address.
 */
struct pt_snapshot {
	u64 *entryp; /* the entry that ended the walk */
	u64 entry; /* its value as read (once) */
	unsigned int shift; /* log2 of the range that entry covers */
	u64 path; /* AND of _PAGE_RW|_PAGE_USER of the tables above */
};

/*
 * pt_walk_snapshot() - walk @mm's tables for @addr without locks.
 * Context: the caller keeps the tables from being freed: holds mmap_lock,
 * or has IRQs off (the table-freeing path waits for IRQ-off sections), or
 * is the only user.
 */
void pt_walk_snapshot(struct mm_struct *mm, unsigned long addr,
		      struct pt_snapshot *s);

/* The snapshot's entry maps @addr: present to the hardware and a leaf. */
static inline bool pt_snapshot_maps(const struct pt_snapshot *s)
{
	return (s->entry & _PAGE_PRESENT) &&
	       (s->shift == PAGE_SHIFT || (s->entry & _PAGE_PSE));
}

/* The pfn of the 4 KiB frame at @addr inside the snapshot's leaf. */
static inline unsigned long pt_snapshot_pfn(const struct pt_snapshot *s,
					    unsigned long addr)
{
	return ((s->entry & PTE_PFN_MASK) >> PAGE_SHIFT) +
	       ((addr & ((1UL << s->shift) - 1)) >> PAGE_SHIFT);
}

/* ==== TLB layer (tlb.c) ================================================== */

/*
 * TLB shootdown.  Every CPU bound to @mm (mm->cpus) drops its cached
 * translations in [start, end); then the call waits until every thread
 * that was in an IRQ-off section when it began has left it (irqflags.h).
 * Only when it returns may the caller free what the old entries mapped.
 * Context: may sleep; IRQs on (WARN otherwise).  It may be called holding
 * a PTE lock or page_table_lock (COW clears and flushes the old entry under
 * its PTE lock, as the kernel's ptep_clear_flush does): no IRQ-off section
 * and no CPU holding its tlb_lock ever takes those locks, so the wait
 * cannot deadlock.  mmap_lock may be held too (a CPU never holds its
 * tlb_lock while it faults).  Never call it holding a CPU's tlb_lock.
 */
void flush_tlb_mm_range(struct mm_struct *mm, unsigned long start,
			unsigned long end);
static inline void flush_tlb_range(struct vm_area_struct *vma,
				   unsigned long start, unsigned long end)
{
	flush_tlb_mm_range(vma->vm_mm, start, end);
}
static inline void flush_tlb_mm(struct mm_struct *mm)
{
	flush_tlb_mm_range(mm, 0, ~0UL);
}
static inline void flush_tlb_page(struct vm_area_struct *vma,
				  unsigned long addr)
{
	flush_tlb_mm_range(vma->vm_mm, addr, addr + PAGE_SIZE);
}
/* Wait for every thread that is now in an IRQ-off section to leave it. */
void tlb_remove_table_sync_one(void);

/*
 * struct mmu_gather - a batch of TLB invalidations and frees.
 *
 * Zapping clears entries under the PTE/PMD lock and hands the pages (and
 * page-table pages) it unmapped to the gather; tlb_flush_mmu() then does
 * ONE shootdown for the accumulated range and only after it drops the
 * pages' references and frees the tables.  So no CPU can reach a freed
 * frame through a stale TLB entry, and no lockless walker (IRQs off) can
 * reach a freed table.  The gather flushes by itself when its batch fills.
 *
 *   tlb_gather_mmu(&tlb, mm);            (fullmm variant at exit)
 *   ... ptep_get_and_clear(); tlb_flush_pte_range(); tlb_remove_page() ...
 *   tlb_finish_mmu(&tlb);                 flush + free what is queued
 */
#define MMU_GATHER_BATCH 256
struct mmu_gather_batch;
struct mmu_gather {
	struct mm_struct *mm;
	unsigned long start, end; /* pending flush range; start > end: none */
	bool fullmm; /* exit: no CPU can use the mm */
	bool freed_tables; /* tables queued: sync IRQ-off walkers */
	unsigned int nr; /* entries used in batch[] */
	/* tlb_gather_mmu_notify(): the notifier range that brackets the
	 * whole gather; its end is called after the final flush. */
	struct mmu_notifier_range *notify;
	struct {
		struct page *page;
		bool table; /* a page-table page, not a data page */
	} batch[MMU_GATHER_BATCH];
};

void tlb_gather_mmu(struct mmu_gather *tlb, struct mm_struct *mm);
/*
 * tlb_gather_mmu_notify() - a gather bracketed by the mmu notifiers:
 * invalidate_range_start(@range, @event, [start, end)) now, before any
 * entry changes, and invalidate_range_end() in tlb_finish_mmu(), after the
 * last TLB flush.  This is how munmap, exit, MADV_DONTNEED and mprotect
 * keep secondary MMUs out of the range for exactly as long as the primary
 * page tables are changing.  @range must live until tlb_finish_mmu().
 */
void tlb_gather_mmu_notify(struct mmu_gather *tlb,
			   struct mmu_notifier_range *range,
			   struct mm_struct *mm, enum mmu_notifier_event event,
			   unsigned long start, unsigned long end);
void tlb_gather_mmu_fullmm(struct mmu_gather *tlb, struct mm_struct *mm);
/* Widen the pending flush range to cover [addr, addr + size). */
void tlb_flush_pte_range(struct mmu_gather *tlb, unsigned long addr,
			 unsigned long size);
/* Drop one reference on @page (a compound head: the whole folio) after the
 * flush.  The caller already removed the mapping (mapcount, rss). */
void tlb_remove_page(struct mmu_gather *tlb, struct page *page);
/*
 * A full gather flushes inside tlb_remove_page()/tlb_remove_table(), and a
 * flush may sleep: callers that queue under a PTE lock check this first,
 * drop the lock, tlb_flush_mmu(), and retake it (as zap_pte_range does).
 */
static inline bool tlb_batch_full(const struct mmu_gather *tlb)
{
	return tlb->nr >= MMU_GATHER_BATCH;
}
/* Free the page-table page @table (already unhooked) after the flush and
 * the IRQ-off sync.  Its split lock is not reused while queued. */
void tlb_remove_table(struct mmu_gather *tlb, struct page *table);
/* Flush now and free everything queued so far. */
void tlb_flush_mmu(struct mmu_gather *tlb);
void tlb_finish_mmu(struct mmu_gather *tlb);

/* Bind/unbind a CPU to its mm's shootdown list (cpu.c, tlb.c). */
void tlb_cpu_bind(struct sim_cpu *cpu);
void tlb_cpu_unbind(struct sim_cpu *cpu);

/* ==== VMA layer (mmap.c) ================================================= */

/* A new, zeroed VMA for @mm (not linked); NULL on -ENOMEM. */
struct vm_area_struct *vm_area_alloc(struct mm_struct *mm);
/* A copy of @orig (not linked), taking a reference on its shmem object. */
struct vm_area_struct *vm_area_dup(struct vm_area_struct *orig);
/* Free an unlinked VMA, dropping its shmem reference. */
void vm_area_free(struct vm_area_struct *vma);
/* Insert into mm->mm_rb (mmap_lock for write); -EEXIST if it overlaps. */
int vma_link(struct mm_struct *mm, struct vm_area_struct *vma);
void vma_unlink(struct mm_struct *mm, struct vm_area_struct *vma);
/*
 * split_vma() - split @vma at @addr (page aligned, strictly inside); the
 * new VMA gets the part below @addr if @new_below, else the part above.
 * Splits huge leaves that straddle @addr first (vma_adjust_trans_huge).
 * Return 0 or -ENOMEM.  mmap_lock held for write.
 */
int split_vma(struct vm_area_struct *vma, unsigned long addr, int new_below);
/* The leaf protection for a VMA with @vm_flags (private writable memory is
 * still mapped read-only until a write fault: that is where COW happens). */
pgprot_t vm_get_page_prot(unsigned long vm_flags);

/* Helpers shared by mmap.c, mprotect.c, madvise.c and mremap.c. */
/* Linux's default vm.mmap_min_addr: no fixed mapping below it (-EPERM). */
#define MMAP_MIN_ADDR (64UL << 10)
struct vm_area_struct *vma_prev(struct vm_area_struct *vma);
/* Merge @vma with compatible neighbours; returns the surviving VMA. */
struct vm_area_struct *vma_merge_neighbours(struct vm_area_struct *vma);
/*
 * Spare VMAs for splits, allocated before anything changes so that an
 * -ENOMEM leaves the VMA set as it was; vma_split_spare() and
 * vma_modify_flags() consume them, vma_spares_free() frees the unused.
 */
int vma_spares_alloc(struct mm_struct *mm, struct vm_area_struct *spares[2],
		     int nr);
void vma_spares_free(struct vm_area_struct *spares[2]);
void vma_split_spare(struct vm_area_struct *vma, unsigned long addr,
		     int new_below, struct vm_area_struct *spares[2]);
/* Split @vma to [start, end) and give that part @newflags (and merge). */
struct vm_area_struct *vma_modify_flags(struct vm_area_struct *vma,
					unsigned long start, unsigned long end,
					unsigned long newflags,
					struct vm_area_struct *spares[2]);
/* vm_munmap() with mmap_lock already held for write. */
int do_munmap(struct mm_struct *mm, unsigned long start, unsigned long len);
/* Where a mapping of @len goes (hint @addr, MAP_FIXED in @flags). */
unsigned long get_unmapped_area(struct mm_struct *mm, unsigned long addr,
				unsigned long len, unsigned long flags);

/* ==== page-table layer (memory.c, huge_memory.c, fork.c, shmem.c) ======== */

/*
 * unmap_page_range() - zap every entry of @vma in [start, end): drop the
 * mapping (mapcount, rss, dirty bit to the page) and queue the page on
 * @tlb.  Huge leaves only partly covered are split first.  Takes the PTE
 * and PMD locks itself.  mmap_lock held (write, or read for
 * MADV_DONTNEED).
 */
void unmap_page_range(struct mmu_gather *tlb, struct vm_area_struct *vma,
		      unsigned long start, unsigned long end);
/*
 * free_pgd_range() - free the page-table pages that map only addresses in
 * [addr, end), extended to [floor, ceiling) (the gap between the
 * neighbouring VMAs; ceiling 0 = top of the address space): a table that
 * also maps something outside [floor, ceiling) stays.  The tables must be
 * empty.  Queued on @tlb.  mmap_lock held for write.
 */
void free_pgd_range(struct mmu_gather *tlb, unsigned long addr,
		    unsigned long end, unsigned long floor,
		    unsigned long ceiling);
/*
 * change_protection() - apply @vma's new vm_page_prot to the entries in
 * [start, end) (the VMA already carries the new flags).  Downgrades flush
 * through @tlb; a write permission is granted to a private page only when
 * it is exclusively owned (otherwise the next write faults and COWs).
 * Return the number of entries changed.  mmap_lock held for write.
 */
long change_protection(struct mmu_gather *tlb, struct vm_area_struct *vma,
		       unsigned long start, unsigned long end);
/*
 * move_page_tables() - move the entries of [old_addr, old_addr + len) in
 * @vma to @new_addr in @new_vma (mremap), flushing the old range.
 * Return the number of bytes moved (short on -ENOMEM).
 */
unsigned long move_page_tables(struct vm_area_struct *vma,
			       unsigned long old_addr,
			       struct vm_area_struct *new_vma,
			       unsigned long new_addr, unsigned long len);
/*
 * copy_page_range() - fork: copy @src_vma's entries into @dst_vma (same
 * range, other mm).  Private memory is write-protected in both (parent's
 * TLB flushed), frames shared with refcount/mapcount raised; shared memory
 * keeps its permissions.  0 or -ENOMEM.  Both mmap_locks held for write.
 */
int copy_page_range(struct vm_area_struct *dst_vma,
		    struct vm_area_struct *src_vma);
/* Fault in [start, end) of @vma (MAP_POPULATE, MADV_WILLNEED); 0 or
 * -ENOMEM/-EFAULT.  mmap_lock held. */
int populate_vma_range(struct vm_area_struct *vma, unsigned long start,
		       unsigned long end, bool write);
/* Split huge leaves of @vma that straddle @addr (before a VMA split). */
void vma_adjust_trans_huge(struct vm_area_struct *vma, unsigned long addr);
/* Tear down every VMA and page table (last mmput). */
void exit_mmap(struct mm_struct *mm);

/* ==== between memory.c and huge_memory.c ================================= */

/* A huge fault could not be handled at this level: try the next one down. */
#define VM_FAULT_FALLBACK 0x000800

/* The page an entry maps, or NULL for special entries (the zero page). */
static inline struct page *vm_normal_page_val(u64 entry)
{
	if (entry & _PAGE_SPECIAL)
		return NULL;
	return pfn_to_page((entry & PTE_PFN_MASK) >> PAGE_SHIFT);
}

/* May THP of @order serve @addr in @vma (policy and alignment)? */
bool thp_vma_suitable(struct vm_area_struct *vma, unsigned long addr,
		      unsigned int order);
vm_fault_t do_huge_pud_anonymous_page(struct vm_area_struct *vma, pud_t *pudp,
				      unsigned long addr, unsigned int flags);
vm_fault_t do_huge_pmd_anonymous_page(struct vm_area_struct *vma, pmd_t *pmdp,
				      unsigned long addr, unsigned int flags);
/* A fault on a present huge leaf: COW/reuse, or mark accessed/dirty. */
vm_fault_t huge_pud_fault(struct vm_area_struct *vma, pud_t *pudp,
			  unsigned long addr, unsigned int flags);
vm_fault_t huge_pmd_fault(struct vm_area_struct *vma, pmd_t *pmdp,
			  unsigned long addr, unsigned int flags);
/* Replace a huge leaf by a table of the next level mapping the same pages
 * (no-op if the entry is no longer a huge leaf). */
void split_huge_pud(struct vm_area_struct *vma, pud_t *pudp,
		    unsigned long addr);
void split_huge_pmd(struct vm_area_struct *vma, pmd_t *pmdp,
		    unsigned long addr);
/* Zap a huge leaf wholly inside the range being unmapped. */
void zap_huge_pud(struct mmu_gather *tlb, struct vm_area_struct *vma,
		  pud_t *pudp, unsigned long addr);
void zap_huge_pmd(struct mmu_gather *tlb, struct vm_area_struct *vma,
		  pmd_t *pmdp, unsigned long addr);
/* Copy a page that CPUs may be writing (relaxed word loads: memory.c). */
void copy_user_page(struct page *dst, struct page *src);
/* Account a new anonymous (sub)page of @vma at @addr: flags and index. */
void anon_page_init(struct page *page, struct vm_area_struct *vma,
		    unsigned long addr);
/* Drop one leaf mapping of @page (mapcount, rss, dirty) during a zap. */
void zap_account(struct vm_area_struct *vma, struct page *page, bool dirty,
		 long nr);

/* ==== the anon reverse map (rmap.c) ====================================== */

struct anon_vma *anon_vma_alloc(void);
void anon_vma_get(struct anon_vma *av);
void anon_vma_put(struct anon_vma *av);
/* Put a private VMA on / take it off its mm's anon_vma list. */
void anon_vma_link(struct vm_area_struct *vma);
void anon_vma_unlink(struct vm_area_struct *vma);
/* Lock the list a linked private VMA is on (NULL if none), to change the
 * VMA's range or offset under rmap walkers. */
struct anon_vma *anon_vma_lock_vma(struct vm_area_struct *vma);
void anon_vma_unlock(struct anon_vma *av);

/* Shared anonymous memory: pages indexed by offset, refcounted object. */
struct shmem_object *shmem_object_create(unsigned long nr_pages);
void shmem_object_get(struct shmem_object *obj);
void shmem_object_put(struct shmem_object *obj);
/* Grow the object to at least @nr_pages; 0 or -ENOMEM. */
int shmem_object_resize(struct shmem_object *obj, unsigned long nr_pages);
/* The page at @index with a reference for the caller (allocated zeroed on
 * first use); NULL beyond the object (SIGBUS) or on -ENOMEM (*oom set). */
struct page *shmem_get_page(struct shmem_object *obj, unsigned long index,
			    bool *oom);

/* ==== swap and reclaim (swap.c, vmscan.c, rmap.c) ======================== */

/*
 * A page in the swap cache has its swap entry in ->private (0: not
 * cached).  Written under si.lock with the page locked; read under the
 * page lock, or racily as a hint (READ_ONCE).
 */
static inline bool page_in_swapcache(const struct page *page)
{
	return READ_ONCE(page->private) != 0;
}
static inline swp_entry_t page_swap_entry(const struct page *page)
{
	return (swp_entry_t){ READ_ONCE(page->private) };
}

/* trylock_page/lock_page/unlock_page: page.h (the lock is in swap.c). */

/*
 * walk_alloc_pte_lock() - the PTE for @addr, locked, whatever it holds;
 * missing levels are allocated (memory.c).  Return: the PTE (release with
 * pte_unmap_unlock(pte, *@ptl)), or NULL with *@err -ENOMEM, or -EBUSY if
 * a huge leaf maps @addr.  Context: mmap_lock held.
 */
pte_t *walk_alloc_pte_lock(struct mm_struct *mm, unsigned long addr,
			   spinlock_t **ptl, int *err);

/* The last reference on a device-private page went (memremap.c). */
void free_zone_device_page(struct page *page);

/* Another swap entry now names @entry's slot (fork).  0 or -EINVAL. */
int swap_duplicate(swp_entry_t entry);
/* A swap entry was dropped (zap): one count less; a cached page nobody
 * maps is freed with the slot's last count.  Any context but the page
 * lock of that page (trylocked). */
void free_swap_and_cache(swp_entry_t entry);
/* Swap entries naming the slot of the cached @page (0 if not cached). */
int page_swapcount(struct page *page);
/* Reclaim, page locked: give @page a slot and put it in the swap cache
 * (0, or -ENOMEM: no slot); write it to the slot (0 or -ENOMEM); take it
 * out of the cache (the caller then drops the cache's reference). */
int add_to_swap(struct page *page);
int swap_writepage(struct page *page);
void delete_from_swap_cache(struct page *page);
/* Reclaim's last step (page locked): if only we (the isolation) and the
 * cache hold @page, freeze its refcount at 0 and take it out of the
 * cache; the caller then frees it with free_frozen_page(). */
bool swapcache_freeze_and_delete(struct page *page);
void swap_stat_read(unsigned long *pswpin, unsigned long *pswpout);

/*
 * do_swap_page() - a fault on the swap entry @orig at @addr (the PTE under
 * @pmd): read the page in (or find it in the swap cache) and map it.
 * Context: mmap_lock held; sleeps on the page lock.  Return: 0 or
 * VM_FAULT_MAJOR (retry the access), VM_FAULT_OOM.
 */
vm_fault_t do_swap_page(struct vm_area_struct *vma, pmd_t *pmd,
			unsigned long addr, unsigned int flags, pte_t orig);

/* LRU (vmscan.c): add an order-0 anonymous page; a freed page leaves it
 * (page_alloc.c, refcount already 0). */
void lru_add(struct page *page);
void lru_del_freed(struct page *page);
/* An order-0 page for user memory: reclaims first when over the frame
 * limit, and once more if the allocator is empty.  Context: no spinlock
 * held (direct reclaim calls notifiers and may sleep). */
struct page *alloc_user_page(gfp_t gfp);
/* Free an order-0 page whose refcount reclaim froze at 0 (page_alloc.c). */
void free_frozen_page(struct page *page);

/*
 * try_to_unmap() - replace every PTE mapping the locked swap-cache @page
 * by its swap entry (rmap.c), each under an MMU_NOTIFY_CLEAR invalidation
 * of that page in that mm, moving the dirty bit to PG_dirty.  A mapping
 * whose mm is busy (mmap_lock trylock fails) or a pinned page is left.
 * Return: true if no mapping is left.  Context: may sleep; page locked.
 */
bool try_to_unmap(struct page *page);

/* ==== migration (migrate.c, and the rmap helpers it shares) ============= */

/* A mapping of an anon page found through the reverse map (rmap.c). */
struct rmap_target {
	struct mm_struct *mm; /* mmgrab()'ed by rmap_collect() */
	unsigned long addr;
};
/* The address of anon @page in @vma, or 0 if @vma cannot map it. */
unsigned long rmap_vma_address(struct page *page, struct vm_area_struct *vma);
/*
 * Collect up to @max targets of @page's anon_vma @av, skipping the first
 * @skip; returns how many.  Takes the anon_vma lock; the caller mmdrop()s
 * each target's mm.
 */
int rmap_collect(struct page *page, struct anon_vma *av, int skip,
		 struct rmap_target *t, int max);
/* The PMD covering @addr if the tables down to it exist (mmap_lock held). */
pmd_t *mm_find_pmd(struct mm_struct *mm, unsigned long addr);

/* Sleep until @page is unlocked (swap.c; the page-lock wait queue). */
void wait_on_page_locked(struct page *page);

/*
 * A fault on the migration entry @orig at @addr (mmap_lock held for read):
 * wait for the migration to end, return 0 so the access retries.
 */
vm_fault_t migration_entry_wait(struct vm_area_struct *vma, pmd_t *pmd,
				unsigned long addr, pte_t orig);

/*
 * Tests only: called by the migrator with every migration entry of @page
 * installed, the page locked and the target mms' mmap_locks held for
 * read, before the reference count is checked.  Written before the
 * migration starts and read with READ_ONCE.
 */
extern void (*migrate_test_pause)(struct page *page);

/* ==== device-exclusive entries (exclusive.c) ============================= */

/* A CPU fault on the exclusive entry @orig: restore the PTE; returns 0. */
vm_fault_t remove_device_exclusive_entry(struct vm_area_struct *vma, pmd_t *pmd,
					 unsigned long addr, pte_t orig);
/* Fork: restore the parent's entry @src (read-only, shared); the child's. */
u64 copy_device_exclusive(struct vm_area_struct *dst_vma, u64 *src, u64 old,
			  long *rss);
/* follow_pte_pfn() of a device-exclusive or device-private entry: its
 * pfn, reported present (writable if the device may write it). */
bool device_entry_follow(u64 entry, unsigned long *pfn, u64 *out);

#endif /* MMIRROR_MM_INTERNAL_H */
