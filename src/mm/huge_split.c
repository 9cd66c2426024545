// SPDX-License-Identifier: MIT
/*
 * huge_split.c - split a PMD-sized anonymous folio into 512 order-0 pages
 * (the kernel's split_folio), so reclaim can swap it out page by page.
 *
 * Splitting a huge *mapping* (split_huge_pmd, huge_memory.c) leaves the
 * folio one compound page: its reference count on the head, one reference
 * per PTE that maps a subpage, and each subpage's _mapcount counting its
 * own PTEs.  Splitting the *folio* hands every subpage its own count.
 *
 * THE PROTOCOL (split_huge_page_to_list, head locked and referenced by us)
 *
 *   0. refuse a pinned folio, or one with a reference that is neither a
 *      mapping's nor ours (refcount != sum of mapcounts + 1): -EAGAIN
 *      before anything changes;
 *   1. collect, through the reverse map, every (mm, address run) that may
 *      map a subpage: rmap_collect() once per subpage index, since an
 *      mprotect, a partial munmap or an mremap may have left different
 *      parts of the folio in different VMAs;
 *   2. take each mm's mmap_lock for read, by trylock (-EAGAIN if busy):
 *      the page lock ranks below mmap_lock, and a fault holding one may be
 *      waiting for our page lock.  Held to the end, it keeps the VMAs and
 *      page tables in place and excludes fork and mremap, the only paths
 *      that create a huge mapping of an existing folio;
 *   3. split every PMD leaf that maps the folio (split_huge_pmd: a CLEAR
 *      bracket, same frames, same permissions);
 *   4. lock every PTE table that maps a subpage, in address order (two
 *      splitters lock overlapping sets), and count the PTEs that map the
 *      folio: P.  The sum of the subpages' mapcounts must be P (no mapping
 *      we did not find, no device-exclusive entry);
 *   5. freeze: cmpxchg the head's refcount from P + 1 to 0;
 *   6. dissolve: each subpage gets its refcount (its mapcount, plus one
 *      if it goes on @list), anon_vma reference, ->mapping, ->index and
 *      flags, then loses PG_tail; the head loses PG_head;
 *   7. unfreeze the head (release), put the subpages on the LRU or @list,
 *      unlock, and free the subpages nobody maps.
 *
 * WHY FREEZE.  Lockless paths take references on a compound head without
 * any lock we could hold: GUP-fast (get_page_unless_zero on the head of a
 * subpage it found in a PTE), the LRU scanner, the aging walk.  If one of
 * them raised the head's count while we were redistributing it, its
 * reference would be lost (and later put on a subpage: an underflow).
 * A count frozen at 0 makes get_page_unless_zero() fail, so GUP-fast
 * backs off to the slow path (which takes the PTE lock we hold).  One
 * taken before the freeze makes the cmpxchg fail: -EAGAIN, nothing
 * changed.  One taken after the unfreeze sees the dissolved page: the
 * release store of the unfreeze publishes every cleared PG_tail, and
 * GUP-fast re-checks compound_head() after its grab (gup_fast.c).
 * Everybody else who takes a reference through a mapping (GUP slow path,
 * fork, faults, zaps) does so under the PTE lock of that mapping, which
 * we hold from step 4 to 7; a zap that cleared a PTE before our lock but
 * has not yet put its reference (mmu_gather) makes the freeze fail.
 *
 * A former tail keeps ->head pointing at the former head: compound_head()
 * reads PG_tail and then ->head without a lock, so a reader that saw
 * PG_tail before we cleared it must still find a valid page (and GUP-fast
 * then sees the head changed and retries).  PG_tail is what makes a tail;
 * the free path clears ->head.
 *
 * No invalidation: every PTE keeps its frame and permissions, so every
 * CPU and device translation stays right.  Only the accounting moves.
 *
 * PUD-sized folios are not split (-EBUSY): they are never on the LRU.
 *
 * Lock order: page lock -> mmap_lock (read, trylock) -> page_table_lock
 * (inside split_huge_pmd, dropped) -> PTE locks (ascending address) ->
 * LRU lock.  Notifier callbacks run with the page lock and the
 * mmap_locks held, no spinlock (as in try_to_unmap).
 */
#include <string.h>
#include "huge_split.h"
#include "internal.h"

/* Reverse-map targets collected per anon_vma lock hold. */
#define SPLIT_BATCH 16

static atomic_long_t nr_split;

/* Subpages [first, first + nr) of the folio at [addr, ...) in mm. */
struct split_run {
	struct mm_struct *mm; /* mmgrab()'ed */
	unsigned long addr;
	unsigned int first, nr;
	bool locked; /* we hold mm's mmap_lock (first run of its mm) */
};

struct split_ctl {
	struct page *head;
	struct split_run *runs;
	int nr_runs, cap_runs;
	spinlock_t **ptls; /* PTE table locks, ascending once sorted */
	int nr_ptls, cap_ptls;
	unsigned long unmapped[HPAGE_PMD_NR / BITS_PER_LONG]; /* to free */
};

unsigned long thp_split_count(void)
{
	return atomic_long_read(&nr_split);
}

/* Grow the array *@arr of *@cap elements of @size to hold @want. */
static int split_grow(void **arr, int *cap, int want, size_t size)
{
	int ncap = *cap * 2 + 8;
	void *n;

	if (want <= *cap)
		return 0;
	if (ncap < want)
		ncap = want;
	n = kcalloc(ncap, size, GFP_KERNEL);
	if (!n)
		return -ENOMEM;
	if (*cap)
		memcpy(n, *arr, *cap * size);
	kfree(*arr);
	*arr = n;
	*cap = ncap;
	return 0;
}

/* ==== step 0: can it be split at all? =================================== */

static int split_precheck(struct page *head)
{
	int maps = 0;

	if (!PageHead(head))
		return -EINVAL;
	if (compound_order(head) != HPAGE_PMD_ORDER || !PageAnon(head) ||
	    !READ_ONCE(head->mapping))
		return -EBUSY;
	if (folio_pincount(head) > 0)
		return -EAGAIN;
	/* The mapping READ_ONCE above pairs with anon_page_init()'s
	 * WRITE_ONCE; it cannot change while we hold the page and its lock. */
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
		maps += page_mapcount(head + i);
	/* Racy (no lock yet): step 5 decides; this only spares the work. */
	return page_ref_count(head) == maps + 1 ? 0 : -EAGAIN;
}

/* ==== steps 1 and 2: targets and their mmap_locks ========================= */

/* Add subpage @i found at @addr in @mm (grabbed): extend a run or add one. */
static int split_add_target(struct split_ctl *c, unsigned int i,
			    struct mm_struct *mm, unsigned long addr)
{
	for (int r = c->nr_runs - 1; r >= 0; r--) {
		struct split_run *run = &c->runs[r];

		if (run->mm == mm && run->first + run->nr == i &&
		    run->addr + ((unsigned long)run->nr << PAGE_SHIFT) ==
			    addr) {
			run->nr++;
			mmdrop(mm); /* the run holds one already */
			return 0;
		}
	}
	if (split_grow((void **)&c->runs, &c->cap_runs, c->nr_runs + 1,
		       sizeof(*c->runs))) {
		mmdrop(mm);
		return -ENOMEM;
	}
	c->runs[c->nr_runs++] = (struct split_run){
		.mm = mm, .addr = addr, .first = i, .nr = 1
	};
	return 0;
}

static int split_collect(struct split_ctl *c)
{
	/* Pairs with anon_page_init()'s WRITE_ONCE; stable: the page is
	 * locked and anonymous, and we hold a reference. */
	struct anon_vma *av = READ_ONCE(c->head->mapping);
	struct rmap_target t[SPLIT_BATCH];
	int ret = 0;

	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++) {
		struct page *p = c->head + i;
		int n, skip = 0;

		/* Unused on a tail, and what rmap_vma_address() needs. */
		p->index = c->head->index + i;
		do {
			n = rmap_collect(p, av, skip, t, SPLIT_BATCH);
			for (int k = 0; k < n; k++) {
				if (ret)
					mmdrop(t[k].mm);
				else
					ret = split_add_target(c, i, t[k].mm,
							       t[k].addr);
			}
			skip += n;
		} while (n == SPLIT_BATCH);
	}
	return ret;
}

static int split_lock_mms(struct split_ctl *c)
{
	for (int r = 0; r < c->nr_runs; r++) {
		bool seen = false;

		for (int k = 0; k < r && !seen; k++)
			seen = c->runs[k].mm == c->runs[r].mm;
		if (seen)
			continue;
		/* Trylock: we hold the page lock (file comment). */
		if (!mmap_read_trylock(c->runs[r].mm))
			return -EAGAIN;
		c->runs[r].locked = true;
	}
	return 0;
}

static void split_release(struct split_ctl *c)
{
	for (int r = 0; r < c->nr_runs; r++) {
		if (c->runs[r].locked)
			mmap_read_unlock(c->runs[r].mm);
		mmdrop(c->runs[r].mm);
	}
	kfree(c->runs);
	kfree(c->ptls);
}

/* ==== step 3: no huge mapping left ======================================== */

static unsigned long run_end(const struct split_run *run)
{
	return run->addr + ((unsigned long)run->nr << PAGE_SHIFT);
}

/* The folio's PMD leaf at @a in @mm, if there is one (mmap_lock held). */
static pmd_t *split_find_leaf(struct split_ctl *c, struct mm_struct *mm,
			      unsigned long a)
{
	pmd_t *pmd = mm_find_pmd(mm, a);
	pmd_t v;

	if (!pmd)
		return NULL;
	v = pmdp_get(pmd);
	if (!pmd_leaf(v) || pmd_pfn(v) != page_to_pfn(c->head))
		return NULL;
	return pmd;
}

static void split_pmds(struct split_ctl *c)
{
	for (int r = 0; r < c->nr_runs; r++) {
		struct split_run *run = &c->runs[r];

		for (unsigned long a = run->addr & PMD_MASK; a < run_end(run);
		     a += PMD_SIZE) {
			pmd_t *pmd = split_find_leaf(c, run->mm, a);
			struct vm_area_struct *vma;

			if (!pmd || !(vma = vma_lookup(run->mm, a)))
				continue;
			split_huge_pmd(vma, pmd, a);
		}
	}
}

/* ==== step 4: the PTE locks, and the count ================================ */

/* The PTE table entry covering @a, or a zero value (none, leaf, no table). */
static pmd_t *split_table(struct mm_struct *mm, unsigned long a, pmd_t *v)
{
	pmd_t *pmd = mm_find_pmd(mm, a);

	if (!pmd)
		return NULL;
	*v = pmdp_get(pmd);
	if (!pmd_present(*v) || pmd_leaf(*v))
		return NULL;
	return pmd;
}

static int split_add_ptl(struct split_ctl *c, spinlock_t *ptl)
{
	int k;

	for (k = 0; k < c->nr_ptls; k++)
		if (c->ptls[k] == ptl)
			return 0;
	if (split_grow((void **)&c->ptls, &c->cap_ptls, c->nr_ptls + 1,
		       sizeof(*c->ptls)))
		return -ENOMEM;
	/* Insertion in ascending address order: the lock order. */
	for (k = c->nr_ptls; k > 0 && c->ptls[k - 1] > ptl; k--)
		c->ptls[k] = c->ptls[k - 1];
	c->ptls[k] = ptl;
	c->nr_ptls++;
	return 0;
}

static int split_gather_ptls(struct split_ctl *c)
{
	for (int r = 0; r < c->nr_runs; r++) {
		struct split_run *run = &c->runs[r];

		for (unsigned long a = run->addr & PMD_MASK; a < run_end(run);
		     a += PMD_SIZE) {
			pmd_t v;

			if (split_find_leaf(c, run->mm, a))
				return -EAGAIN; /* still huge: not ours to map */
			if (split_table(run->mm, a, &v) &&
			    split_add_ptl(c, pte_lockptr(run->mm, v)))
				return -ENOMEM;
		}
	}
	return 0;
}

static bool split_ptl_held(struct split_ctl *c, spinlock_t *ptl)
{
	for (int k = 0; k < c->nr_ptls; k++)
		if (c->ptls[k] == ptl)
			return true;
	return false;
}

/* PTEs of @run mapping their subpage, all PTE locks held; -1: a table we
 * do not hold appeared. */
static int split_count_run(struct split_ctl *c, struct split_run *run)
{
	unsigned long pfn = page_to_pfn(c->head) + run->first;
	int n = 0;

	for (unsigned int k = 0; k < run->nr; k++) {
		unsigned long a = run->addr + ((unsigned long)k << PAGE_SHIFT);
		pmd_t v, *pmd = split_table(run->mm, a, &v);
		pte_t pte;

		if (!pmd)
			continue;
		if (!split_ptl_held(c, pte_lockptr(run->mm, v)))
			return -1;
		pte = ptep_get(pte_offset_kernel(pmd, a));
		if (pte_present(pte) && pte_pfn(pte) == pfn + k)
			n++;
	}
	return n;
}

/* P, or -1 if the folio has a mapping we do not hold (step 4). */
static int split_count_ptes(struct split_ctl *c)
{
	int maps = 0, ptes = 0;

	for (int r = 0; r < c->nr_runs; r++) {
		int n = split_count_run(c, &c->runs[r]);

		if (n < 0)
			return -1;
		ptes += n;
	}
	/* Mapcounts change only under the PTE locks we hold. */
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
		maps += page_mapcount(c->head + i);
	return maps == ptes ? ptes : -1;
}

/* ==== steps 5 to 7: freeze, dissolve, unfreeze =========================== */

/* Did the dissolve leave subpage @i mapped nowhere (refcount 0)?  (The
 * bit helpers of atomic.h cover one word only.) */
static bool split_unmapped(const struct split_ctl *c, unsigned long i)
{
	return c->unmapped[i / BITS_PER_LONG] & BIT(i % BITS_PER_LONG);
}

/* Give tail @p its own identity and count; PTE locks held, head frozen. */
static void split_tail(struct split_ctl *c, struct page *p, unsigned long i,
		       bool isolate)
{
	static const int copied[] = { PG_anon, PG_swapbacked, PG_dirty,
				      PG_uptodate, PG_referenced };
	struct page *head = c->head;
	int maps = page_mapcount(p);

	for (size_t k = 0; k < sizeof(copied) / sizeof(copied[0]); k++)
		if (test_bit(copied[k], &head->flags))
			set_bit(copied[k], &p->flags);
	p->index = head->index + i;
	p->private = 0;
	atomic_set(&p->_pincount, 0);
	/* Held until @p is freed (free_block), as anon_page_init() does. */
	anon_vma_get(head->mapping);
	/* Read (READ_ONCE) by rmap walkers once they hold @p as a page of
	 * its own: published by the fully ordered PG_tail clear below. */
	WRITE_ONCE(p->mapping, head->mapping);
	/* A tail's own count is never used while PG_tail is set. */
	WARN_ON(atomic_cmpxchg(&p->_refcount, 0, maps + (maps && isolate)) !=
		0);
	if (!maps)
		c->unmapped[i / BITS_PER_LONG] |= BIT(i % BITS_PER_LONG);
	/* Last (fully ordered RMW): once PG_tail reads clear, the page is
	 * complete.  ->head stays: see the file comment. */
	ClearPageTail(p);
}

static void split_dissolve(struct split_ctl *c, struct list_head *list)
{
	struct page *head = c->head;

	for (unsigned long i = 1; i < HPAGE_PMD_NR; i++)
		split_tail(c, head + i, i, list != NULL);
	ClearPageHead(head);
	head->order = 0;
	/*
	 * Unfreeze with a release store: a get_page_unless_zero() that
	 * succeeds on the head from now on (a fully ordered RMW) sees every
	 * PG_tail cleared above, so GUP-fast's re-check of compound_head()
	 * notices the split.
	 */
	atomic_set_release(&head->_refcount, page_mapcount(head) + 1);
	for (unsigned long i = 1; i < HPAGE_PMD_NR; i++) {
		struct page *p = head + i;

		if (split_unmapped(c, i))
			continue;
		/* Its mappings keep it alive: the PTE locks hold them. */
		if (list)
			list_add_tail(&p->lru, list);
		else
			lru_add(p);
	}
}

/* Steps 4 to 7 with the mmap_locks held and no huge mapping left. */
static int split_frozen(struct split_ctl *c, struct list_head *list)
{
	int ptes, ret = split_gather_ptls(c);

	if (ret)
		return ret;
	for (int k = 0; k < c->nr_ptls; k++)
		spin_lock(c->ptls[k]);
	ptes = split_count_ptes(c);
	ret = -EAGAIN;
	/* Fully ordered: after it, every get_page_unless_zero() fails. */
	if (ptes >= 0 &&
	    atomic_cmpxchg(&c->head->_refcount, ptes + 1, 0) == ptes + 1) {
		/* A pin takes a reference too: the freeze saw it.  Checked
		 * anyway: a pinned folio must never be split. */
		if (WARN_ON(folio_pincount(c->head) > 0)) {
			atomic_set_release(&c->head->_refcount, ptes + 1);
		} else {
			split_dissolve(c, list);
			ret = 0;
		}
	}
	for (int k = c->nr_ptls - 1; k >= 0; k--)
		spin_unlock(c->ptls[k]);
	return ret;
}

/* Nobody maps or references them: straight back to the allocator. */
static void split_free_unmapped(struct split_ctl *c)
{
	for (unsigned long i = 1; i < HPAGE_PMD_NR; i++)
		if (split_unmapped(c, i))
			free_frozen_page(c->head + i);
}

int split_huge_page_to_list(struct page *page, struct list_head *list)
{
	struct split_ctl c = { .head = page };
	int ret;

	if (!page || WARN_ON(PageTail(page)) || WARN_ON(!PageLocked(page)))
		return -EINVAL;
	ret = split_precheck(page);
	if (ret)
		return ret;
	ret = split_collect(&c);
	if (!ret)
		ret = split_lock_mms(&c);
	if (!ret) {
		split_pmds(&c);
		ret = split_frozen(&c, list);
	}
	split_release(&c);
	if (ret)
		return ret;
	split_free_unmapped(&c);
	atomic_long_inc(&nr_split);
	return 0;
}
