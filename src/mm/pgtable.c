// SPDX-License-Identifier: MIT
/*
 * pgtable.c - page-table pages: allocation, installation of missing levels,
 * the PTE map/lock helpers, and teardown.
 *
 * Installing a table (the __X_alloc family):
 *
 *   1. allocate and zero a frame outside any lock (may fail: -ENOMEM);
 *   2. take mm->page_table_lock and look at the parent entry again;
 *   3. if still none, publish the table with a release store (set_X): a
 *      lockless walker that reads the new entry with Xp_get (acquire) sees
 *      the zeroed table, never the frame's previous contents;
 *   4. otherwise somebody else installed one first: free ours.
 *
 * Tables are never replaced while the mm is live except by the layers that
 * own that protocol (huge-page split/collapse, unmap's free_pgtables), which
 * take the same locks; see docs/pgtable.md for page-table page lifetime.
 */
#include <string.h>
#include <mmirror/mm_types.h>
#include "internal.h"

bool pgtable_l5_enabled;

int pgtable_set_levels(int levels)
{
	if (levels != 4 && levels != 5)
		return -EINVAL;
	if (mm_live_count() != 0)
		return -EBUSY;
	pgtable_l5_enabled = (levels == 5);
	return 0;
}

int pgtable_levels(void)
{
	return pgtable_l5_enabled ? 5 : 4;
}

/* --- torn-read mode ---------------------------------------------------------- */

/*
 * Torn-read mode: entries written as two 32-bit halves (32-bit PAE).
 *
 * Writer (pt_torn_write): lo = low half, hi = high half, little endian.
 *
 *   begin++ (slot of p)   seq_cst RMW
 *   store lo              release, u32
 *   sched_point           (the explorer may switch here: half an update)
 *   store hi              release, u32
 *   end++                 release RMW
 *
 * RMWs (xchg/cmpxchg/clear_bits) are one 64-bit atomic, but a reader that
 * reads two halves can still straddle one, so they too are bracketed by
 * begin++/end++ (pt_torn_rmw_begin/end).
 *
 * Why "read low, read high, read low again, retry if low changed" is NOT
 * enough with this writer order: the writer stores the new low half first,
 * so between its two stores memory holds (new low, old high) for as long
 * as the writer is preempted.  A reader that runs entirely inside that
 * window reads low = new, high = old, low = new: the check passes and it
 * returns a value that never existed.  (The kernel's PAE reader gets away
 * with it only because its writers order halves by the present bit and
 * its lockless readers trust only present entries; and ABA on the low
 * half defeats the check in general.)  No order of half-reads alone can
 * tell a stalled writer's mix from a real entry, so the writer must say
 * that it is in flight: that is what the begin/end counts do.
 *
 * Reader (pt_torn_read), with s the same slot:
 *
 *   b1 = begin (acquire); e1 = end (acquire); retry unless b1 == e1
 *   lo = load (acquire); hi = load (acquire)
 *   acquire fence; b2 = begin; retry unless b2 == b1
 *
 * Argument.  (a) Every writer counted in e1 has its begin in the first b1
 * increments: its begin happens-before its end (program order, release
 * RMW), which e1 reads (acquire), so b2 (read after) sees that begin; b2 ==
 * b1 puts it among the first b1.  With e1 == b1, the writers that began
 * first are exactly the finished ones: all b1 writers are complete and all
 * their stores happen-before our half-reads.  (b) A writer whose begin is
 * later than b1 cannot have supplied either half: if our load read its
 * release store, the acquire fence makes its begin++ happen-before our b2
 * read, so b2 > b1 and we retry.  So both halves come from completed
 * writes, and since writers of one entry are serialised (they hold its
 * page-table lock) and all happen-before the reads, both halves are the
 * last completed write's: a value the entry really held.
 *
 * Slots: entry address hashed into PT_TORN_SLOTS pairs of counters; a
 * collision only costs a retry.  A reader never blocks a writer and a
 * writer never waits, so readers make progress as soon as the slot is
 * quiet.  Entries written by raw 64-bit atomics in src/mm (outside the
 * set_X/RMW helpers) are not bracketed; docs/pagewalk.md lists why that
 * is harmless today (they change the low half only, or are single-copy
 * 64-bit atomic stores whose high half is zero below 4 GiB of memory).
 */
bool pgtable_torn_mode;

#define PT_TORN_SLOTS 64
static struct pt_torn_slot {
	unsigned long begin, end;
} pt_torn_slots[PT_TORN_SLOTS] __attribute__((aligned(64)));

static struct pt_torn_slot *pt_torn_slot(const u64 *p)
{
	return &pt_torn_slots[((unsigned long)p >> 3) % PT_TORN_SLOTS];
}

int pgtable_set_torn_mode(bool on)
{
	if (mm_live_count() != 0)
		return -EBUSY;
	pgtable_torn_mode = on;
	return 0;
}

void pt_torn_rmw_begin(u64 *p)
{
	/* Pairs with the acquire loads of begin in pt_torn_read(); seq_cst
	 * so it is ordered before the halves' stores that follow. */
	__atomic_fetch_add(&pt_torn_slot(p)->begin, 1, __ATOMIC_SEQ_CST);
}

void pt_torn_rmw_end(u64 *p)
{
	/* Release: pairs with the acquire load of end in pt_torn_read(). */
	__atomic_fetch_add(&pt_torn_slot(p)->end, 1, __ATOMIC_RELEASE);
}

void pt_torn_write(u64 *p, u64 v)
{
	u32 *half = (u32 *)p;

	pt_torn_rmw_begin(p);
	/* Release stores: a reader that sees a half sees what was written
	 * before it (a new table's zeroed contents). */
	__atomic_store_n(&half[0], (u32)v, __ATOMIC_RELEASE);
	sched_point(SP_PTE_WRITE, &half[1]);
	__atomic_store_n(&half[1], (u32)(v >> 32), __ATOMIC_RELEASE);
	pt_torn_rmw_end(p);
}

u64 pt_torn_read(u64 *p)
{
	struct pt_torn_slot *s = pt_torn_slot(p);
	u32 *half = (u32 *)p;
	unsigned long b1, e1;
	u32 lo, hi;

	for (;;) {
		b1 = __atomic_load_n(&s->begin, __ATOMIC_ACQUIRE);
		e1 = __atomic_load_n(&s->end, __ATOMIC_ACQUIRE);
		if (b1 == e1) {
			/* Acquire: pair with the writers' release stores. */
			lo = __atomic_load_n(&half[0], __ATOMIC_ACQUIRE);
			hi = __atomic_load_n(&half[1], __ATOMIC_ACQUIRE);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&s->begin, __ATOMIC_RELAXED) == b1)
				return ((u64)hi << 32) | lo;
		}
		/*
		 * A writer is in flight: we cannot progress until it ends its
		 * store.  SP_SPIN tells the explorer so (this thread is not
		 * runnable until another takes a step); without it a
		 * high-priority PCT reader would spin here until the step
		 * limit while the writer waits between its two halves.  The
		 * SP_PTE_READ point stays: tests/walk/test_torn.c counts
		 * retries by it.
		 */
		sched_point(SP_SPIN, p);
		sched_point(SP_PTE_READ, p);
	}
}

u64 pt_torn_read_racy(u64 *p)
{
	u32 *half = (u32 *)p;
	/* Deliberately unsynchronised with the writer's halves: high, then
	 * low, each an acquire load of its own half. */
	u32 hi = __atomic_load_n(&half[1], __ATOMIC_ACQUIRE);
	u32 lo = __atomic_load_n(&half[0], __ATOMIC_ACQUIRE);

	return ((u64)hi << 32) | lo;
}

pgd_t *pgd_offset(struct mm_struct *mm, unsigned long addr)
{
	return mm->pgd + pgd_index(addr);
}

/* --- page-table pages -------------------------------------------------------- */

struct page *pgtable_alloc(struct mm_struct *mm)
{
	return pgtable_alloc_gfp(mm, GFP_KERNEL);
}

struct page *pgtable_alloc_gfp(struct mm_struct *mm, gfp_t gfp)
{
	struct page *page = alloc_page(gfp | __GFP_ZERO);

	if (!page)
		return NULL;
	SetPageTable(page);
	spin_lock_init(&page->ptl);
	atomic_set(&page->pt_count, 0);
	atomic_long_add(PAGE_SIZE, &mm->pgtables_bytes);
	return page;
}

void pgtable_free(struct mm_struct *mm, struct page *table)
{
	WARN_ON(!PageTable(table));
	ClearPageTable(table);
	INIT_LIST_HEAD(&table->lru);
	atomic_long_sub(PAGE_SIZE, &mm->pgtables_bytes);
	__free_page(table);
}

/* --- installing missing levels --------------------------------------------- */

/*
 * The four installers share one shape; each level differs only in the type
 * of the parent entry, so one macro generates them.
 */
#define __DEFINE_PT_INSTALL(parent)                                            \
	static int install_under_##parent(struct mm_struct *mm, parent##_t *p) \
	{                                                                      \
		struct page *table = pgtable_alloc(mm);                        \
                                                                               \
		if (!table)                                                    \
			return -ENOMEM;                                        \
		spin_lock(&mm->page_table_lock);                               \
		if (parent##_none(parent##p_get(p))) {                         \
			set_##parent(p, __##parent(((u64)page_to_pfn(table)    \
						    << PAGE_SHIFT) |           \
						   _PAGE_TABLE));              \
			table = NULL;                                          \
		}                                                              \
		spin_unlock(&mm->page_table_lock);                             \
		if (table)                                                     \
			pgtable_free(mm, table);                               \
		return 0;                                                      \
	}

__DEFINE_PT_INSTALL(pgd)
__DEFINE_PT_INSTALL(p4d)
__DEFINE_PT_INSTALL(pud)
__DEFINE_PT_INSTALL(pmd)
#undef __DEFINE_PT_INSTALL

int __p4d_alloc(struct mm_struct *mm, pgd_t *pgdp, unsigned long addr)
{
	if (WARN_ON(!pgtable_l5_enabled))
		return -EINVAL;
	return install_under_pgd(mm, pgdp);
}

int __pud_alloc(struct mm_struct *mm, p4d_t *p4dp, unsigned long addr)
{
	return install_under_p4d(mm, p4dp);
}

int __pmd_alloc(struct mm_struct *mm, pud_t *pudp, unsigned long addr)
{
	return install_under_pud(mm, pudp);
}

int __pte_alloc(struct mm_struct *mm, pmd_t *pmdp)
{
	return install_under_pmd(mm, pmdp);
}

/* --- mapping and locking PTEs ------------------------------------------------- */

/* A PMD that points to a PTE table (not none, not a leaf, present). */
static bool pmd_is_table(pmd_t pmd)
{
	return pmd_present(pmd) && !pmd_leaf(pmd) && !pmd_protnone(pmd);
}

pte_t *pte_offset_map(pmd_t *pmdp, unsigned long addr)
{
	pmd_t pmd = pmdp_get(pmdp);

	if (!pmd_is_table(pmd))
		return NULL;
	return pmd_pgtable(pmd) + pte_index(addr);
}

pte_t *pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmdp,
			   unsigned long addr, spinlock_t **ptlp)
{
	spinlock_t *ptl;
	pmd_t pmd;

again:
	pmd = pmdp_get(pmdp);
	if (!pmd_is_table(pmd))
		return NULL;
	ptl = pte_lockptr(mm, pmd);
	spin_lock(ptl);
	/* The PMD may have been changed between the read and the lock: the
	 * table we locked would then not be the one @addr maps through. */
	if (unlikely(!pmd_same(pmd, pmdp_get(pmdp)))) {
		spin_unlock(ptl);
		goto again;
	}
	*ptlp = ptl;
	return pmd_pgtable(pmd) + pte_index(addr);
}

pte_t *pte_alloc_map_lock(struct mm_struct *mm, pmd_t *pmdp, unsigned long addr,
			  spinlock_t **ptlp)
{
	if (pte_alloc(mm, pmdp))
		return NULL;
	return pte_offset_map_lock(mm, pmdp, addr, ptlp);
}

/* One lock for the PMD and PUD levels: mm->page_table_lock. */
spinlock_t *pmd_lockptr(struct mm_struct *mm, pmd_t *pmdp)
{
	return &mm->page_table_lock;
}

spinlock_t *pmd_lock(struct mm_struct *mm, pmd_t *pmdp)
{
	spinlock_t *ptl = pmd_lockptr(mm, pmdp);

	spin_lock(ptl);
	return ptl;
}

spinlock_t *pud_lockptr(struct mm_struct *mm, pud_t *pudp)
{
	return &mm->page_table_lock;
}

spinlock_t *pud_lock(struct mm_struct *mm, pud_t *pudp)
{
	spinlock_t *ptl = pud_lockptr(mm, pudp);

	spin_lock(ptl);
	return ptl;
}

/* --- the lockless snapshot walk ------------------------------------------- */

static void snap(struct pt_snapshot *s, u64 *p, u64 val, unsigned int shift)
{
	s->entryp = p;
	s->entry = val;
	s->shift = shift;
}

/* Does @val end a walk at a table level (anything but a present table)? */
static bool ends_walk(u64 val)
{
	return !(val & _PAGE_PRESENT) || (val & _PAGE_PSE);
}

/* Record the entry at @p if it ends the walk; true if it did. */
static bool snap_end(struct pt_snapshot *s, u64 *p, u64 val, unsigned int shift)
{
	if (!ends_walk(val))
		return false;
	snap(s, p, val, shift);
	return true;
}

void pt_walk_snapshot(struct mm_struct *mm, unsigned long addr,
		      struct pt_snapshot *s)
{
	pgd_t *pgdp = pgd_offset(mm, addr), pgd = pgdp_get(pgdp);
	p4d_t *p4dp, p4d;
	pud_t *pudp, pud;
	pmd_t *pmdp, pmd;
	pte_t *ptep;

	s->path = _PAGE_RW | _PAGE_USER;
	if (snap_end(s, &pgdp->pgd, pgd_val(pgd), PGDIR_SHIFT))
		return;
	s->path &= pgd_val(pgd);
	/* Folded P4D: the PGD snapshot is the P4D entry; never re-read it. */
	p4dp = p4d_offset_lockless(pgdp, pgd, addr);
	if (pgtable_l5_enabled) {
		p4d = p4dp_get(p4dp);
		if (snap_end(s, &p4dp->p4d, p4d_val(p4d), P4D_SHIFT))
			return;
		s->path &= p4d_val(p4d);
	} else {
		p4d = __p4d(pgd_val(pgd));
	}
	pudp = p4d_pgtable(p4d) + pud_index(addr);
	pud = pudp_get(pudp);
	if (snap_end(s, &pudp->pud, pud_val(pud), PUD_SHIFT))
		return;
	s->path &= pud_val(pud);
	pmdp = pud_pgtable(pud) + pmd_index(addr);
	pmd = pmdp_get(pmdp);
	if (snap_end(s, &pmdp->pmd, pmd_val(pmd), PMD_SHIFT))
		return;
	s->path &= pmd_val(pmd);
	ptep = pmd_pgtable(pmd) + pte_index(addr);
	snap(s, &ptep->pte, pte_val(ptep_get(ptep)), PAGE_SHIFT);
}

/* --- teardown ------------------------------------------------------------------ */

/*
 * Exit-time teardown: nobody else can reach these tables any more, so
 * entries are read and cleared without locks and tables are freed at once.
 * A leaf drops the reference and the mapcount it holds on its page; the zero
 * page and special entries hold none.
 */
static void drop_leaf(struct mm_struct *mm, u64 val, unsigned int order)
{
	struct page *page;

	if (!(val & (_PAGE_PRESENT | _PAGE_PROTNONE)) || (val & _PAGE_SPECIAL))
		return;
	page = pfn_to_page((val & PTE_PFN_MASK) >> PAGE_SHIFT);
	if (PageReserved(page))
		return;
	atomic_dec(&page->_mapcount);
	add_mm_counter(mm, MM_ANONPAGES, -(1L << order));
	put_page(page);
}

/*
 * Free the table at @table (level @level: 1 = PTE table ... 5 = PGD with
 * five levels) and everything below it.
 */
static void free_table_tree(struct mm_struct *mm, u64 *table, int level)
{
	for (int i = 0; i < PTRS_PER_TABLE; i++) {
		u64 val = pt_word_xchg(&table[i], 0);

		if (!val)
			continue;
		if (level == 1 || (val & _PAGE_PSE) || !(val & _PAGE_PRESENT)) {
			/* A leaf (or a software entry, nothing to drop yet).
			 * Huge leaves: PMD order 9, PUD order 18. */
			drop_leaf(mm, val, level == 1 ? 0 : (level - 1) * 9);
			continue;
		}
		free_table_tree(mm,
				pfn_to_virt((val & PTE_PFN_MASK) >> PAGE_SHIFT),
				level - 1);
	}
	pgtable_free(mm, virt_to_page(table));
}

void free_pgtables_all(struct mm_struct *mm)
{
	if (!mm->pgd)
		return;
	free_table_tree(mm, (u64 *)mm->pgd, pgtable_levels());
	mm->pgd = NULL;
}
