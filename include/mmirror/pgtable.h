/* SPDX-License-Identifier: MIT */
/*
 * pgtable.h - x86-64-style page tables: entry encoding, accessors per level,
 * and allocation of missing levels.
 *
 * Shape.  Four levels by default (PGD -> PUD -> PMD -> PTE, the P4D level
 * folded into the PGD), five with pgtable_set_levels(5) (PGD -> P4D -> ...).
 * Every table is one page frame of 512 64-bit entries.  Like x86's la57,
 * the level count is a system-wide switch, set while no mm exists.
 *
 * Entry encoding (docs/pgtable.md has the full table):
 *
 *   bit  0  _PAGE_PRESENT   the hardware may use the entry
 *   bit  1  _PAGE_RW        writable (needed at every level for a write)
 *   bit  2  _PAGE_USER      user-accessible (set on every user entry)
 *   bit  5  _PAGE_ACCESSED  set by the hardware walk on any access
 *   bit  6  _PAGE_DIRTY     set by the hardware walk on a write (leaves)
 *   bit  7  _PAGE_PSE       leaf at PMD (2 MiB) or PUD (1 GiB) level
 *   bit  8  _PAGE_PROTNONE  present to software, not to hardware (PROT_NONE)
 *   bit  9  _PAGE_SPECIAL   no struct page refcounting (zero page, pfnmap)
 *   bit 10  _PAGE_DEVMAP    maps device memory (dev_pagemap)
 *   bit 11  _PAGE_SOFT_DIRTY
 *   bits 12..51             page frame number
 *
 * A non-present, non-zero entry is a software "swap-type" entry: bit 0 and
 * bit 8 clear, bits 1..5 a type (swap, migration, device-private,
 * device-exclusive; never 0, so the entry is never mistaken for none), bits
 * 12..63 an offset (a swap slot or a pfn).
 *
 * Access rules (DESIGN.md, seed 001).  An entry is one 64-bit word.  It is
 * read only through pXdp_get() and written only through set_pXd()/the RMW
 * helpers below; nobody reads the same entry twice and trusts both reads.
 * pXdp_get() is an acquire load and every store that publishes a new table
 * or a new leaf is a release store: a reader that sees the entry sees the
 * table's zeroed contents / the frame's contents written before it.  (The
 * kernel relies on address dependencies for this; C11 has no usable
 * "consume", and acquire costs nothing extra on x86.)  Every access calls
 * sched_point(SP_PTE_READ / SP_PTE_WRITE) so the explorer can interleave
 * page-table accesses.
 *
 * Locking: a PTE table is guarded by the split lock in its struct page
 * (pte_lockptr); PMD and PUD entries, and the installation of any new
 * table, by mm->page_table_lock (pmd_lock/pud_lock).  Lock order:
 * mmap_lock -> page_table_lock -> PTE lock.  Lockless readers (the hardware
 * walk, later GUP-fast and the page walker) take a snapshot of each entry
 * and descend using the snapshot only.
 */
#ifndef MMIRROR_PGTABLE_H
#define MMIRROR_PGTABLE_H

#include <mmirror/page.h>

struct mm_struct;

/* --- geometry ------------------------------------------------------------- */

#define PTRS_PER_TABLE 512
#define PTRS_PER_PTE 512
#define PTRS_PER_PMD 512
#define PTRS_PER_PUD 512
#define PTRS_PER_PGD 512
#define PMD_SHIFT 21
#define PUD_SHIFT 30
#define P4D_SHIFT 39
#define PMD_SIZE (1UL << PMD_SHIFT)
#define PUD_SIZE (1UL << PUD_SHIFT)
#define P4D_SIZE (1UL << P4D_SHIFT)
#define PMD_MASK (~(PMD_SIZE - 1))
#define PUD_MASK (~(PUD_SIZE - 1))
#define P4D_MASK (~(P4D_SIZE - 1))

/* Set once while no mm exists; read everywhere (plain reads are fine: it
 * only changes when no page table exists). */
extern bool pgtable_l5_enabled;
#define PGDIR_SHIFT (pgtable_l5_enabled ? 48 : 39)
#define PGDIR_SIZE (1UL << PGDIR_SHIFT)
#define PGDIR_MASK (~(PGDIR_SIZE - 1))
#define PTRS_PER_P4D (pgtable_l5_enabled ? 512 : 1)
/* User address space: [0, TASK_SIZE) — 128 TiB with 4 levels, 64 PiB with 5. */
#define TASK_SIZE_4LEVEL ((1UL << 47) - PAGE_SIZE)
#define TASK_SIZE_5LEVEL ((1UL << 56) - PAGE_SIZE)
#define TASK_SIZE (pgtable_l5_enabled ? TASK_SIZE_5LEVEL : TASK_SIZE_4LEVEL)

/*
 * pgtable_set_levels() - choose 4- or 5-level page tables.
 * Return: 0; -EINVAL for another count; -EBUSY while any mm exists.
 */
int pgtable_set_levels(int levels);
int pgtable_levels(void);

/*
 * Torn-read mode (docs/pagewalk.md).  Off by default.  When on, every
 * entry store made through set_X() is two 32-bit release stores, low half
 * then high half, with sched_point(SP_PTE_WRITE, high half) between them,
 * the way a 32-bit PAE CPU writes a 64-bit entry; RMWs (xchg, cmpxchg,
 * clear_bits) stay 64-bit atomic (cmpxchg8b).  A plain pair of 32-bit
 * reads can then see half an update.  Xp_get() stays tear-free: writers
 * bracket every store or RMW with a per-slot begin/end count and Xp_get()
 * retries while a writer of its slot is in flight (the argument is in
 * src/mm/pgtable.c).  Xp_get_torn() is the deliberately broken read.
 * Like pgtable_l5_enabled, the flag only changes while no mm exists, so
 * plain reads of it are fine.
 */
extern bool pgtable_torn_mode;
/*
 * pgtable_set_torn_mode() - switch torn-read mode on or off.
 * Return: 0; -EBUSY while any mm exists.
 */
int pgtable_set_torn_mode(bool on);
/* The torn-mode slow paths behind the accessors below (src/mm/pgtable.c). */
u64 pt_torn_read(u64 *p);
u64 pt_torn_read_racy(u64 *p);
void pt_torn_write(u64 *p, u64 v);
void pt_torn_rmw_begin(u64 *p);
void pt_torn_rmw_end(u64 *p);

/*
 * pt_word_*: the entry-access protocol on a raw 64-bit page-table word,
 * for code that handles entries of several levels alike (the hardware
 * walk, huge leaves, fork, zap).  The typed accessors below are thin
 * wrappers around these, so there is ONE protocol: acquire loads and
 * release stores (publication), fully ordered RMWs, a sched point at
 * every access, and in torn-read mode the begin/end bracketing that keeps
 * Xp_get() tear-free (a reader reads two halves; any write between them,
 * even a 64-bit atomic one, must be announced).
 */
static inline u64 pt_word_load(u64 *p)
{
	sched_point(SP_PTE_READ, p);
	if (unlikely(pgtable_torn_mode))
		return pt_torn_read(p);
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void pt_word_store(u64 *p, u64 v)
{
	sched_point(SP_PTE_WRITE, p);
	if (unlikely(pgtable_torn_mode))
		pt_torn_write(p, v);
	else
		__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline u64 pt_word_xchg(u64 *p, u64 v)
{
	u64 old;

	sched_point(SP_PTE_WRITE, p);
	if (unlikely(pgtable_torn_mode))
		pt_torn_rmw_begin(p);
	old = __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
	if (unlikely(pgtable_torn_mode))
		pt_torn_rmw_end(p);
	return old;
}

/* On failure *old is updated to the word found. */
static inline bool pt_word_cmpxchg(u64 *p, u64 *old, u64 new)
{
	bool ok;

	sched_point(SP_PTE_WRITE, p);
	if (unlikely(pgtable_torn_mode))
		pt_torn_rmw_begin(p);
	ok = __atomic_compare_exchange_n(p, old, new, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST);
	if (unlikely(pgtable_torn_mode))
		pt_torn_rmw_end(p);
	return ok;
}

/* Atomically AND @mask in; returns the old word. */
static inline u64 pt_word_fetch_and(u64 *p, u64 mask)
{
	u64 old;

	sched_point(SP_PTE_WRITE, p);
	if (unlikely(pgtable_torn_mode))
		pt_torn_rmw_begin(p);
	old = __atomic_fetch_and(p, mask, __ATOMIC_SEQ_CST);
	if (unlikely(pgtable_torn_mode))
		pt_torn_rmw_end(p);
	return old;
}

/* --- entry bits ------------------------------------------------------------- */

#define _PAGE_PRESENT BIT(0)
#define _PAGE_RW BIT(1)
#define _PAGE_USER BIT(2)
#define _PAGE_ACCESSED BIT(5)
#define _PAGE_DIRTY BIT(6)
#define _PAGE_PSE BIT(7)
#define _PAGE_PROTNONE BIT(8)
#define _PAGE_SPECIAL BIT(9)
#define _PAGE_DEVMAP BIT(10)
#define _PAGE_SOFT_DIRTY BIT(11)
#define PTE_PFN_MASK 0x000ffffffffff000ULL
/* What a table (non-leaf) entry carries besides the pfn. */
#define _PAGE_TABLE (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED)
/* Bits that survive a protection change (pte_modify). */
#define _PAGE_CHG_MASK                                             \
	(PTE_PFN_MASK | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_PSE | \
	 _PAGE_SPECIAL | _PAGE_DEVMAP | _PAGE_SOFT_DIRTY)

typedef struct {
	u64 pgprot;
} pgprot_t;
#define __pgprot(x) ((pgprot_t){ (x) })
#define pgprot_val(p) ((p).pgprot)
#define PAGE_NONE __pgprot(_PAGE_PROTNONE | _PAGE_USER | _PAGE_ACCESSED)
#define PAGE_READONLY __pgprot(_PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED)
#define PAGE_SHARED \
	__pgprot(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED)

/* --- one shape per level ---------------------------------------------------- */

/*
 * For each level X in pgd, p4d, pud, pmd, pte:
 *   X_t            the entry type (a struct, so levels cannot be mixed up)
 *   X_val, __X     unwrap / wrap
 *   Xp_get(p)      the one way to read an entry (acquire; sched point;
 *                  tear-free in torn-read mode)
 *   Xp_get_torn(p) NEVER USE OUTSIDE drivers/flawed: in torn-read mode two
 *                  independent 32-bit reads (high, then low) that can
 *                  return half of an update; in normal mode as Xp_get
 *   set_X(p, v)    the one way to store one (release; sched point; two
 *                  halves in torn-read mode)
 *   Xp_xchg(p, v)  atomic exchange; Xp_cmpxchg(p, old, new) -> bool
 *   X_none/X_present/X_same/X_pfn/X_page and the bit tests and modifiers
 */
#define __PGTABLE_LEVEL(X)                                               \
	typedef struct {                                                 \
		u64 X;                                                   \
	} X##_t;                                                         \
	static inline u64 X##_val(X##_t e)                               \
	{                                                                \
		return e.X;                                              \
	}                                                                \
	static inline X##_t __##X(u64 v)                                 \
	{                                                                \
		return (X##_t){ v };                                     \
	}                                                                \
	static inline X##_t X##p_get(X##_t *p)                           \
	{                                                                \
		return __##X(pt_word_load(&p->X));                       \
	}                                                                \
	/* NEVER USE OUTSIDE drivers/flawed (see above). */              \
	static inline X##_t X##p_get_torn(X##_t *p)                      \
	{                                                                \
		sched_point(SP_PTE_READ, p);                             \
		if (unlikely(pgtable_torn_mode))                         \
			return __##X(pt_torn_read_racy(&p->X));          \
		return __##X(__atomic_load_n(&p->X, __ATOMIC_ACQUIRE));  \
	}                                                                \
	static inline void set_##X(X##_t *p, X##_t v)                    \
	{                                                                \
		pt_word_store(&p->X, v.X);                               \
	}                                                                \
	static inline X##_t X##p_xchg(X##_t *p, X##_t v)                 \
	{                                                                \
		return __##X(pt_word_xchg(&p->X, v.X));                  \
	}                                                                \
	/* On failure *old is updated to the entry found. */             \
	static inline bool X##p_cmpxchg(X##_t *p, X##_t *old, X##_t new) \
	{                                                                \
		return pt_word_cmpxchg(&p->X, &old->X, new.X);           \
	}                                                                \
	/* Atomically clear @bits; returns the old entry. */             \
	static inline X##_t X##p_clear_bits(X##_t *p, u64 bits)          \
	{                                                                \
		return __##X(pt_word_fetch_and(&p->X, ~bits));           \
	}                                                                \
	static inline X##_t X##p_get_and_clear(X##_t *p)                 \
	{                                                                \
		return X##p_xchg(p, __##X(0));                           \
	}                                                                \
	static inline bool X##_none(X##_t e)                             \
	{                                                                \
		return e.X == 0;                                         \
	}                                                                \
	static inline bool X##_present(X##_t e)                          \
	{                                                                \
		return e.X & (_PAGE_PRESENT | _PAGE_PROTNONE);           \
	}                                                                \
	static inline bool X##_same(X##_t a, X##_t b)                    \
	{                                                                \
		return a.X == b.X;                                       \
	}                                                                \
	static inline unsigned long X##_pfn(X##_t e)                     \
	{                                                                \
		return (e.X & PTE_PFN_MASK) >> PAGE_SHIFT;               \
	}                                                                \
	static inline struct page *X##_page(X##_t e)                     \
	{                                                                \
		return pfn_to_page(X##_pfn(e));                          \
	}                                                                \
	static inline bool X##_write(X##_t e)                            \
	{                                                                \
		return e.X & _PAGE_RW;                                   \
	}                                                                \
	static inline bool X##_dirty(X##_t e)                            \
	{                                                                \
		return e.X & _PAGE_DIRTY;                                \
	}                                                                \
	static inline bool X##_young(X##_t e)                            \
	{                                                                \
		return e.X & _PAGE_ACCESSED;                             \
	}                                                                \
	static inline bool X##_special(X##_t e)                          \
	{                                                                \
		return e.X & _PAGE_SPECIAL;                              \
	}                                                                \
	static inline bool X##_devmap(X##_t e)                           \
	{                                                                \
		return e.X & _PAGE_DEVMAP;                               \
	}                                                                \
	static inline bool X##_protnone(X##_t e)                         \
	{                                                                \
		return (e.X & (_PAGE_PRESENT | _PAGE_PROTNONE)) ==       \
		       _PAGE_PROTNONE;                                   \
	}                                                                \
	static inline X##_t X##_set_flags(X##_t e, u64 f)                \
	{                                                                \
		return __##X(e.X | f);                                   \
	}                                                                \
	static inline X##_t X##_clear_flags(X##_t e, u64 f)              \
	{                                                                \
		return __##X(e.X & ~f);                                  \
	}                                                                \
	static inline X##_t X##_mkwrite(X##_t e)                         \
	{                                                                \
		return X##_set_flags(e, _PAGE_RW);                       \
	}                                                                \
	static inline X##_t X##_wrprotect(X##_t e)                       \
	{                                                                \
		return X##_clear_flags(e, _PAGE_RW);                     \
	}                                                                \
	static inline X##_t X##_mkdirty(X##_t e)                         \
	{                                                                \
		return X##_set_flags(e, _PAGE_DIRTY | _PAGE_SOFT_DIRTY); \
	}                                                                \
	static inline X##_t X##_mkclean(X##_t e)                         \
	{                                                                \
		return X##_clear_flags(e, _PAGE_DIRTY);                  \
	}                                                                \
	static inline X##_t X##_mkyoung(X##_t e)                         \
	{                                                                \
		return X##_set_flags(e, _PAGE_ACCESSED);                 \
	}                                                                \
	static inline X##_t X##_mkold(X##_t e)                           \
	{                                                                \
		return X##_clear_flags(e, _PAGE_ACCESSED);               \
	}                                                                \
	static inline X##_t X##_mkspecial(X##_t e)                       \
	{                                                                \
		return X##_set_flags(e, _PAGE_SPECIAL);                  \
	}                                                                \
	static inline X##_t X##_mkdevmap(X##_t e)                        \
	{                                                                \
		return X##_set_flags(e, _PAGE_DEVMAP | _PAGE_SPECIAL);   \
	}                                                                \
	static inline X##_t X##_modify(X##_t e, pgprot_t prot)           \
	{                                                                \
		return __##X((e.X & _PAGE_CHG_MASK) |                    \
			     (pgprot_val(prot) & ~_PAGE_CHG_MASK));      \
	}

__PGTABLE_LEVEL(pgd)
__PGTABLE_LEVEL(p4d)
__PGTABLE_LEVEL(pud)
__PGTABLE_LEVEL(pmd)
__PGTABLE_LEVEL(pte)
#undef __PGTABLE_LEVEL

/* Leaf tests: a PTE that is present is a leaf; PMD/PUD leaves carry PSE. */
static inline bool pmd_leaf(pmd_t pmd)
{
	return pmd_present(pmd) && (pmd_val(pmd) & _PAGE_PSE);
}
static inline bool pud_leaf(pud_t pud)
{
	return pud_present(pud) && (pud_val(pud) & _PAGE_PSE);
}
#define pmd_trans_huge(pmd) pmd_leaf(pmd)
#define pud_trans_huge(pud) pud_leaf(pud)

/* Make leaf entries. */
static inline pte_t pfn_pte(unsigned long pfn, pgprot_t prot)
{
	return __pte(((u64)pfn << PAGE_SHIFT) | pgprot_val(prot));
}
static inline pmd_t pfn_pmd(unsigned long pfn, pgprot_t prot)
{
	return __pmd(((u64)pfn << PAGE_SHIFT) | pgprot_val(prot) | _PAGE_PSE);
}
static inline pud_t pfn_pud(unsigned long pfn, pgprot_t prot)
{
	return __pud(((u64)pfn << PAGE_SHIFT) | pgprot_val(prot) | _PAGE_PSE);
}
static inline pte_t mk_pte(struct page *page, pgprot_t prot)
{
	return pfn_pte(page_to_pfn(page), prot);
}

/* --- index and boundary helpers ------------------------------------------- */

static inline unsigned long pgd_index(unsigned long a)
{
	return (a >> PGDIR_SHIFT) & (PTRS_PER_PGD - 1);
}
static inline unsigned long p4d_index(unsigned long a)
{
	return (a >> P4D_SHIFT) & (PTRS_PER_P4D - 1);
}
static inline unsigned long pud_index(unsigned long a)
{
	return (a >> PUD_SHIFT) & (PTRS_PER_PUD - 1);
}
static inline unsigned long pmd_index(unsigned long a)
{
	return (a >> PMD_SHIFT) & (PTRS_PER_PMD - 1);
}
static inline unsigned long pte_index(unsigned long a)
{
	return (a >> PAGE_SHIFT) & (PTRS_PER_PTE - 1);
}

/* Next boundary of a level after @addr, clamped to @end (end may be 0 for
 * "top of the address space", as in the kernel: compare end - 1). */
static inline unsigned long __pt_addr_end(unsigned long addr, unsigned long end,
					  unsigned long size)
{
	unsigned long boundary = (addr + size) & ~(size - 1);

	return boundary - 1 < end - 1 ? boundary : end;
}
#define pgd_addr_end(a, e) __pt_addr_end(a, e, PGDIR_SIZE)
#define p4d_addr_end(a, e) __pt_addr_end(a, e, P4D_SIZE)
#define pud_addr_end(a, e) __pt_addr_end(a, e, PUD_SIZE)
#define pmd_addr_end(a, e) __pt_addr_end(a, e, PMD_SIZE)

/* --- descending ------------------------------------------------------------ */

/* The table an entry points to. */
static inline p4d_t *pgd_pgtable(pgd_t pgd)
{
	return (p4d_t *)pfn_to_virt(pgd_pfn(pgd));
}
static inline pud_t *p4d_pgtable(p4d_t p4d)
{
	return (pud_t *)pfn_to_virt(p4d_pfn(p4d));
}
static inline pmd_t *pud_pgtable(pud_t pud)
{
	return (pmd_t *)pfn_to_virt(pud_pfn(pud));
}
static inline pte_t *pmd_pgtable(pmd_t pmd)
{
	return (pte_t *)pfn_to_virt(pmd_pfn(pmd));
}

pgd_t *pgd_offset(struct mm_struct *mm, unsigned long addr);

/*
 * X_offset(parentp, addr) reads *parentp once and returns the entry for
 * @addr in the table it points to.  Seed 001's rule for lockless walkers:
 * read the parent into a local snapshot, test the snapshot, then descend
 * with X_offset(&snapshot, addr) so the table is never re-derived from a
 * second read.  The caller guarantees the parent is a present table entry
 * and that the table cannot be freed meanwhile (mmap_lock, or IRQs off
 * against the TLB-shootdown free path).
 *
 * The P4D level is folded into the PGD with 4 levels: p4d_offset() then
 * returns the PGD entry's own address, which is why lockless walkers use
 * p4d_offset_lockless(pgdp, pgd_snapshot, addr) (a pointer to a stack
 * snapshot would be no page-table entry at all).
 */
static inline p4d_t *p4d_offset_lockless(pgd_t *pgdp, pgd_t pgd,
					 unsigned long addr)
{
	if (!pgtable_l5_enabled)
		return (p4d_t *)pgdp;
	return pgd_pgtable(pgd) + p4d_index(addr);
}
static inline p4d_t *p4d_offset(pgd_t *pgdp, unsigned long addr)
{
	if (!pgtable_l5_enabled)
		return (p4d_t *)pgdp;
	return pgd_pgtable(pgdp_get(pgdp)) + p4d_index(addr);
}
static inline pud_t *pud_offset(p4d_t *p4dp, unsigned long addr)
{
	return p4d_pgtable(p4dp_get(p4dp)) + pud_index(addr);
}
static inline pmd_t *pmd_offset(pud_t *pudp, unsigned long addr)
{
	return pud_pgtable(pudp_get(pudp)) + pmd_index(addr);
}
/* No checks: the caller knows *pmdp is a PTE table. */
static inline pte_t *pte_offset_kernel(pmd_t *pmdp, unsigned long addr)
{
	return pmd_pgtable(pmdp_get(pmdp)) + pte_index(addr);
}

/*
 * pte_offset_map() - the PTE for @addr if *@pmdp (read once) points to a
 * PTE table; NULL if it is none, a huge leaf or a non-present entry.  Pair
 * with pte_unmap() (a no-op kept for the kernel's shape; see
 * docs/pgtable.md on page-table lifetime).
 */
pte_t *pte_offset_map(pmd_t *pmdp, unsigned long addr);
static inline void pte_unmap(pte_t *pte)
{
	(void)pte;
}

/* --- locks ------------------------------------------------------------------ */

/* The split lock of the PTE table that @pmd (a table entry) points to. */
static inline spinlock_t *pte_lockptr(struct mm_struct *mm, pmd_t pmd)
{
	return &pmd_page(pmd)->ptl;
}
spinlock_t *pmd_lockptr(struct mm_struct *mm, pmd_t *pmdp);
spinlock_t *pmd_lock(struct mm_struct *mm, pmd_t *pmdp);
spinlock_t *pud_lockptr(struct mm_struct *mm, pud_t *pudp);
spinlock_t *pud_lock(struct mm_struct *mm, pud_t *pudp);

/*
 * pte_offset_map_lock() - map the PTE for @addr and take its table's lock.
 * Re-checks under the lock that *@pmdp still points to the same table (a
 * concurrent huge-page collapse/split or zap may have replaced it) and
 * retries if it changed.  Return: the PTE with *@ptlp held, or NULL (*@pmdp
 * is none, a huge leaf, or not present) with nothing held.
 */
pte_t *pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmdp,
			   unsigned long addr, spinlock_t **ptlp);
static inline void pte_unmap_unlock(pte_t *pte, spinlock_t *ptl)
{
	spin_unlock(ptl);
	pte_unmap(pte);
}

/* --- allocating missing levels ------------------------------------------- */

/*
 * __X_alloc() installs a zeroed table under the parent entry if it is still
 * none (under mm->page_table_lock; a racing installer wins and the spare is
 * freed).  Return 0 or -ENOMEM.  The wrappers return the entry pointer for
 * @addr, or NULL on -ENOMEM.  pte_alloc() returns nonzero on failure, as in
 * the kernel.
 */
int __p4d_alloc(struct mm_struct *mm, pgd_t *pgdp, unsigned long addr);
int __pud_alloc(struct mm_struct *mm, p4d_t *p4dp, unsigned long addr);
int __pmd_alloc(struct mm_struct *mm, pud_t *pudp, unsigned long addr);
int __pte_alloc(struct mm_struct *mm, pmd_t *pmdp);

static inline p4d_t *p4d_alloc(struct mm_struct *mm, pgd_t *pgdp,
			       unsigned long addr)
{
	if (pgtable_l5_enabled && unlikely(pgd_none(pgdp_get(pgdp))) &&
	    __p4d_alloc(mm, pgdp, addr))
		return NULL;
	return p4d_offset(pgdp, addr);
}
static inline pud_t *pud_alloc(struct mm_struct *mm, p4d_t *p4dp,
			       unsigned long addr)
{
	if (unlikely(p4d_none(p4dp_get(p4dp))) && __pud_alloc(mm, p4dp, addr))
		return NULL;
	return pud_offset(p4dp, addr);
}
static inline pmd_t *pmd_alloc(struct mm_struct *mm, pud_t *pudp,
			       unsigned long addr)
{
	if (unlikely(pud_none(pudp_get(pudp))) && __pmd_alloc(mm, pudp, addr))
		return NULL;
	return pmd_offset(pudp, addr);
}
static inline int pte_alloc(struct mm_struct *mm, pmd_t *pmdp)
{
	return unlikely(pmd_none(pmdp_get(pmdp))) && __pte_alloc(mm, pmdp);
}
/* pte_alloc() then pte_offset_map_lock(); NULL on -ENOMEM or a huge pmd. */
pte_t *pte_alloc_map_lock(struct mm_struct *mm, pmd_t *pmdp, unsigned long addr,
			  spinlock_t **ptlp);

/*
 * Page-table pages: a zeroed frame flagged PG_pgtable with its split lock
 * initialised, counted in mm->pgtables_bytes.  pgtable_free() is the
 * immediate free; teardown paths that may race with lockless walkers must
 * defer it past a TLB shootdown or a grace period (docs/pgtable.md).
 */
struct page *pgtable_alloc(struct mm_struct *mm);
struct page *pgtable_alloc_gfp(struct mm_struct *mm, gfp_t gfp);
void pgtable_free(struct mm_struct *mm, struct page *table);

/*
 * free_pgtables_all() - tear down every page table of @mm, dropping the
 * references the leaf entries hold on their pages (exit).  Caller: the last
 * user of @mm; no other thread may touch its page tables.
 */
void free_pgtables_all(struct mm_struct *mm);

/* --- software (non-present) entries ------------------------------------- */

/*
 * swp_entry_t: a type and an offset, stored in a non-present entry.  Types
 * start at 1 so an encoded entry is never 0 (none).
 */
typedef struct {
	unsigned long val;
} swp_entry_t;

enum swp_type {
	SWP_SWAPFILE = 1, /* offset: slot in the swap area */
	SWP_MIGRATION_READ, /* offset: pfn being migrated */
	SWP_MIGRATION_WRITE,
	SWP_DEVICE_PRIVATE_READ, /* offset: pfn of device-private page */
	SWP_DEVICE_PRIVATE_WRITE,
	SWP_DEVICE_EXCLUSIVE, /* offset: pfn held exclusive by a device */
	SWP_TYPE_MAX
};

#define SWP_TYPE_SHIFT 1
#define SWP_TYPE_MASK 0x1fUL
#define SWP_OFFSET_SHIFT 12
#define SWP_OFFSET_MAX ((1UL << (64 - SWP_OFFSET_SHIFT)) - 1)

static inline swp_entry_t swp_entry(unsigned int type, unsigned long offset)
{
	return (swp_entry_t){ ((unsigned long)type << SWP_TYPE_SHIFT) |
			      (offset << SWP_OFFSET_SHIFT) };
}
static inline unsigned int swp_type(swp_entry_t e)
{
	return (e.val >> SWP_TYPE_SHIFT) & SWP_TYPE_MASK;
}
static inline unsigned long swp_offset(swp_entry_t e)
{
	return e.val >> SWP_OFFSET_SHIFT;
}
static inline bool is_swap_pte(pte_t pte)
{
	return !pte_none(pte) && !pte_present(pte);
}
static inline swp_entry_t pte_to_swp_entry(pte_t pte)
{
	return (swp_entry_t){ pte_val(pte) };
}
static inline pte_t swp_entry_to_pte(swp_entry_t e)
{
	return __pte(e.val);
}
static inline bool is_swap_pmd(pmd_t pmd)
{
	return !pmd_none(pmd) && !pmd_present(pmd);
}
static inline swp_entry_t pmd_to_swp_entry(pmd_t pmd)
{
	return (swp_entry_t){ pmd_val(pmd) };
}
static inline pmd_t swp_entry_to_pmd(swp_entry_t e)
{
	return __pmd(e.val);
}
static inline bool is_migration_entry(swp_entry_t e)
{
	return swp_type(e) == SWP_MIGRATION_READ ||
	       swp_type(e) == SWP_MIGRATION_WRITE;
}
static inline bool is_writable_migration_entry(swp_entry_t e)
{
	return swp_type(e) == SWP_MIGRATION_WRITE;
}
static inline bool is_device_private_entry(swp_entry_t e)
{
	return swp_type(e) == SWP_DEVICE_PRIVATE_READ ||
	       swp_type(e) == SWP_DEVICE_PRIVATE_WRITE;
}
static inline bool is_writable_device_private_entry(swp_entry_t e)
{
	return swp_type(e) == SWP_DEVICE_PRIVATE_WRITE;
}
static inline bool is_device_exclusive_entry(swp_entry_t e)
{
	return swp_type(e) == SWP_DEVICE_EXCLUSIVE;
}
/* Entries whose offset is a pfn (everything but a swap slot). */
static inline bool is_pfn_swap_entry(swp_entry_t e)
{
	return swp_type(e) > SWP_SWAPFILE && swp_type(e) < SWP_TYPE_MAX;
}
static inline struct page *pfn_swap_entry_to_page(swp_entry_t e)
{
	return pfn_to_page(swp_offset(e));
}

#endif /* MMIRROR_PGTABLE_H */
