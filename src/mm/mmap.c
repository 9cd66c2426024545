// SPDX-License-Identifier: MIT
/*
 * mmap.c - the VMA set of an address space: lookup, link/unlink, split,
 * merge, placement (get_unmapped_area), vm_mmap and vm_munmap.
 *
 * The set.  mm->mm_rb is a red-black tree of vm_area_structs keyed by
 * vm_start.  Invariants, true whenever mmap_lock is not write-held:
 *   1. every VMA is [vm_start, vm_end), page aligned, non-empty, inside
 *      [0, mm->task_size);
 *   2. no two VMAs overlap (vma_link() refuses an overlap with -EEXIST and
 *      a WARN), so ordering by vm_start also orders by vm_end;
 *   3. mm->map_count is the number of VMAs and mm->total_vm the sum of
 *      their pages;
 *   4. no two neighbouring VMAs are mergeable (every operation that can
 *      create such a pair merges it before dropping the lock), so an
 *      operation that splits and then fails can undo itself by merging.
 *
 * Mergeable (vma_mergeable()): contiguous, equal vm_flags and vm_page_prot,
 * same kind, contiguous vm_pgoff (b continues a's offsets), and for shared
 * memory the same shmem object.  Private memory needs the continuity too:
 * the reverse map finds an anonymous page's address from its index and the
 * VMA's vm_pgoff (rmap.c), so one VMA must have one linear offset.
 *
 * Locking.  mmap_lock guards the tree and every field of every VMA:
 * written only with mmap_lock held for write, read with it held in either
 * mode.  Nothing here takes another lock; page-table work is delegated to
 * the page-table layer (internal.h), which takes page_table_lock and the
 * PTE locks below mmap_lock.  Allocations (kzalloc) happen before the
 * tree is changed: an operation that needs new VMAs for splits allocates
 * them all first ("spares"), so -ENOMEM leaves the set unchanged.
 *
 * Unmapping (do_munmap()): split at the edges, then one mmu_gather for
 * the whole range: unmap_page_range() for each covered VMA,
 * free_pgd_range() for the tables that only mapped the range (bounded by
 * the neighbouring VMAs), tlb_finish_mmu() (one shootdown, then the pages
 * and tables are freed), and only then the VMAs are unlinked and freed.
 */
#include "internal.h"

#define MAP_KNOWN                                                              \
	(MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_POPULATE | \
	 MAP_FIXED_NOREPLACE)
#define PROT_KNOWN (PROT_READ | PROT_WRITE | PROT_EXEC)

static inline struct vm_area_struct *rb_to_vma(struct rb_node *node)
{
	return rb_entry_safe(node, struct vm_area_struct, vm_rb);
}

/* ==== lookup (mmap_lock held, either mode) ============================= */

/**
 * find_vma() - the first VMA that ends above @addr.
 * @mm: the address space.
 * @addr: the address.
 *
 * Context: mmap_lock held (read or write).
 * Return: the VMA containing @addr, else the first one above it, or NULL.
 */
struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr)
{
	struct rb_node *node = mm->mm_rb.rb_node;
	struct vm_area_struct *found = NULL;

	mmap_assert_locked(mm);
	while (node) {
		struct vm_area_struct *vma = rb_to_vma(node);

		if (vma->vm_end > addr) {
			found = vma;
			if (vma->vm_start <= addr)
				break;
			node = node->rb_left;
		} else {
			node = node->rb_right;
		}
	}
	return found;
}

/**
 * vma_lookup() - the VMA containing @addr.
 * @mm: the address space.
 * @addr: the address.
 *
 * Context: mmap_lock held (read or write).
 * Return: the VMA, or NULL if @addr is in no VMA.
 */
struct vm_area_struct *vma_lookup(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma = find_vma(mm, addr);

	return vma && vma->vm_start <= addr ? vma : NULL;
}

/**
 * find_vma_intersection() - the first VMA that intersects [@start, @end).
 * @mm: the address space.
 * @start: first address.
 * @end: end of the range (exclusive).
 *
 * Context: mmap_lock held (read or write).
 * Return: the lowest such VMA, or NULL.
 */
struct vm_area_struct *find_vma_intersection(struct mm_struct *mm,
					     unsigned long start,
					     unsigned long end)
{
	struct vm_area_struct *vma = find_vma(mm, start);

	return vma && vma->vm_start < end ? vma : NULL;
}

/**
 * vma_next() - the VMA after @vma in address order.
 * @vma: a linked VMA.
 *
 * Context: mmap_lock held (read or write).
 * Return: the next VMA, or NULL if @vma is the last.
 */
struct vm_area_struct *vma_next(struct vm_area_struct *vma)
{
	return rb_to_vma(rb_next(&vma->vm_rb));
}

/**
 * vma_prev() - the VMA before @vma in address order.
 * @vma: a linked VMA.
 *
 * Context: mmap_lock held (read or write).
 * Return: the previous VMA, or NULL if @vma is the first.
 */
struct vm_area_struct *vma_prev(struct vm_area_struct *vma)
{
	return rb_to_vma(rb_prev(&vma->vm_rb));
}

static struct vm_area_struct *vma_last(struct mm_struct *mm)
{
	return rb_to_vma(rb_last(&mm->mm_rb));
}

/* ==== allocation ======================================================= */

/**
 * vm_area_alloc() - a new, zeroed, unlinked VMA for @mm.
 * @mm: the address space it will belong to.
 *
 * Context: may sleep.  Return: the VMA, or NULL (-ENOMEM).
 */
struct vm_area_struct *vm_area_alloc(struct mm_struct *mm)
{
	struct vm_area_struct *vma = kzalloc(sizeof(*vma), GFP_KERNEL);

	if (!vma)
		return NULL;
	vma->vm_mm = mm;
	RB_CLEAR_NODE(&vma->vm_rb);
	INIT_LIST_HEAD(&vma->anon_vma_node);
	return vma;
}

/* Make @dst an unlinked copy of @src, taking a shmem reference. */
static void vma_copy(struct vm_area_struct *dst,
		     const struct vm_area_struct *src)
{
	*dst = *src;
	RB_CLEAR_NODE(&dst->vm_rb);
	INIT_LIST_HEAD(&dst->anon_vma_node);
	if (dst->vm_shared)
		shmem_object_get(dst->vm_shared);
}

/**
 * vm_area_dup() - an unlinked copy of @orig.
 * @orig: the VMA to copy (linked or not).
 *
 * The copy takes its own reference on @orig's shmem object, if any.
 * Context: mmap_lock held if @orig is linked; may sleep.
 * Return: the copy, or NULL (-ENOMEM).
 */
struct vm_area_struct *vm_area_dup(struct vm_area_struct *orig)
{
	struct vm_area_struct *vma = kmalloc(sizeof(*vma), GFP_KERNEL);

	if (!vma)
		return NULL;
	vma_copy(vma, orig);
	return vma;
}

/**
 * vm_area_free() - free an unlinked VMA, dropping its shmem reference.
 * @vma: the VMA, or NULL.
 *
 * Freeing a VMA still in a tree would corrupt the tree: that WARNs and
 * leaks the VMA instead.
 */
void vm_area_free(struct vm_area_struct *vma)
{
	if (!vma)
		return;
	if (WARN_ON(!RB_EMPTY_NODE(&vma->vm_rb)))
		return;
	if (vma->vm_shared)
		shmem_object_put(vma->vm_shared);
	kfree(vma);
}

/**
 * vma_spares_alloc() - allocate @nr blank VMAs for the splits of one
 * operation, before it changes anything.
 * @mm: the address space.
 * @spares: two slots; the unused ones are set to NULL.
 * @nr: how many to allocate (0..2).
 *
 * Return: 0, or -ENOMEM with nothing allocated.
 */
int vma_spares_alloc(struct mm_struct *mm, struct vm_area_struct *spares[2],
		     int nr)
{
	WARN_ON(nr < 0 || nr > 2);
	spares[0] = spares[1] = NULL;
	for (int i = 0; i < nr && i < 2; i++) {
		spares[i] = vm_area_alloc(mm);
		if (!spares[i]) {
			vma_spares_free(spares);
			return -ENOMEM;
		}
	}
	return 0;
}

/**
 * vma_spares_free() - free the spares an operation did not use.
 * @spares: the two slots of vma_spares_alloc(); emptied.
 */
void vma_spares_free(struct vm_area_struct *spares[2])
{
	for (int i = 0; i < 2; i++) {
		vm_area_free(spares[i]);
		spares[i] = NULL;
	}
}

static struct vm_area_struct *vma_take_spare(struct mm_struct *mm,
					     struct vm_area_struct *spares[2])
{
	for (int i = 0; i < 2; i++) {
		struct vm_area_struct *vma = spares[i];

		if (vma) {
			spares[i] = NULL;
			return vma;
		}
	}
	/* The caller counted its splits wrong: survive, but say so. */
	WARN_ON(1);
	return kzalloc(sizeof(struct vm_area_struct), __GFP_NOFAIL);
}

/* ==== the tree (mmap_lock held for write) ============================== */

/**
 * vma_link() - insert @vma into its mm's VMA set.
 * @mm: the address space (@vma->vm_mm).
 * @vma: an unlinked VMA with a valid, page-aligned range.
 *
 * Context: mmap_lock held for write.
 * Return: 0; -EEXIST (and a WARN) if @vma overlaps a linked VMA; -EINVAL
 * (and a WARN) for a bad VMA.
 */
int vma_link(struct mm_struct *mm, struct vm_area_struct *vma)
{
	struct rb_node **link = &mm->mm_rb.rb_node, *parent = NULL;

	mmap_assert_write_locked(mm);
	if (WARN_ON(vma->vm_mm != mm || !RB_EMPTY_NODE(&vma->vm_rb) ||
		    vma->vm_start >= vma->vm_end ||
		    !IS_ALIGNED(vma->vm_start | vma->vm_end, PAGE_SIZE)))
		return -EINVAL;
	/*
	 * The walk keeps [vm_start, vm_end) strictly left or right of every
	 * node it passes; the slot it ends in lies between the in-order
	 * predecessor and successor, both visited, so an overlap with any
	 * VMA is met on the way.
	 */
	while (*link) {
		struct vm_area_struct *cur = rb_to_vma(*link);

		parent = *link;
		if (vma->vm_end <= cur->vm_start)
			link = &parent->rb_left;
		else if (vma->vm_start >= cur->vm_end)
			link = &parent->rb_right;
		else if (WARN_ON(1))
			return -EEXIST;
	}
	rb_link_node(&vma->vm_rb, parent, link);
	rb_insert_color(&vma->vm_rb, &mm->mm_rb);
	mm->map_count++;
	mm->total_vm += vma_pages(vma);
	anon_vma_link(vma);
	return 0;
}

/**
 * vma_unlink() - remove @vma from its mm's VMA set (it is not freed).
 * @mm: the address space.
 * @vma: a VMA linked in @mm.
 *
 * Context: mmap_lock held for write.
 */
void vma_unlink(struct mm_struct *mm, struct vm_area_struct *vma)
{
	mmap_assert_write_locked(mm);
	if (WARN_ON(RB_EMPTY_NODE(&vma->vm_rb)))
		return;
	anon_vma_unlink(vma);
	rb_erase(&vma->vm_rb, &mm->mm_rb);
	RB_CLEAR_NODE(&vma->vm_rb);
	mm->map_count--;
	mm->total_vm -= vma_pages(vma);
}

/*
 * Change a linked VMA's range in place, keeping total_vm exact.  The caller
 * keeps the tree ordered: the new range stays between the neighbours.
 */
static void vma_set_range(struct vm_area_struct *vma, unsigned long start,
			  unsigned long end, unsigned long pgoff)
{
	struct mm_struct *mm = vma->vm_mm;
	/* rmap walkers read a linked private VMA's range under this lock. */
	struct anon_vma *av = anon_vma_lock_vma(vma);

	mm->total_vm -= vma_pages(vma);
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_pgoff = pgoff;
	mm->total_vm += vma_pages(vma);
	anon_vma_unlock(av);
}

/*
 * Split with a preallocated blank VMA @new: it becomes the part below
 * @addr (@new_below) or above it; @vma keeps the other part.  The upper
 * part's vm_pgoff advances by the lower part's size.  Cannot fail.
 */
static void __split_vma(struct vm_area_struct *vma, unsigned long addr,
			int new_below, struct vm_area_struct *new)
{
	unsigned long delta = (addr - vma->vm_start) >> PAGE_SHIFT;

	/* Huge leaves straddling @addr become tables first, while @vma still
	 * covers both halves (the page-table layer needs the whole VMA). */
	vma_adjust_trans_huge(vma, addr);
	vma_copy(new, vma);
	if (new_below) {
		new->vm_end = addr;
		vma_set_range(vma, addr, vma->vm_end, vma->vm_pgoff + delta);
	} else {
		new->vm_start = addr;
		new->vm_pgoff += delta;
		vma_set_range(vma, vma->vm_start, addr, vma->vm_pgoff);
	}
	WARN_ON(vma_link(vma->vm_mm, new));
}

static bool split_addr_valid(struct vm_area_struct *vma, unsigned long addr)
{
	return IS_ALIGNED(addr, PAGE_SIZE) && addr > vma->vm_start &&
	       addr < vma->vm_end;
}

/**
 * split_vma() - split @vma at @addr into two VMAs.
 * @vma: a linked VMA.
 * @addr: page aligned, strictly inside @vma.
 * @new_below: the new VMA gets the part below @addr (else the part above);
 *             @vma keeps the other part.
 *
 * Huge leaves that straddle @addr are split first (vma_adjust_trans_huge).
 * Context: mmap_lock held for write; may sleep.
 * Return: 0; -ENOMEM (nothing changed); -EINVAL (and a WARN) for a bad
 * @addr.
 */
int split_vma(struct vm_area_struct *vma, unsigned long addr, int new_below)
{
	struct vm_area_struct *new;

	mmap_assert_write_locked(vma->vm_mm);
	if (WARN_ON(!split_addr_valid(vma, addr)))
		return -EINVAL;
	new = vm_area_alloc(vma->vm_mm);
	if (!new)
		return -ENOMEM;
	__split_vma(vma, addr, new_below, new);
	return 0;
}

/**
 * vma_split_spare() - split_vma() with a spare from vma_spares_alloc():
 * cannot fail.
 * @vma: a linked VMA.
 * @addr: page aligned, strictly inside @vma (WARN and no split otherwise).
 * @new_below: as for split_vma().
 * @spares: the operation's spares; the one used is taken out.
 *
 * Context: mmap_lock held for write.
 */
void vma_split_spare(struct vm_area_struct *vma, unsigned long addr,
		     int new_below, struct vm_area_struct *spares[2])
{
	if (WARN_ON(!split_addr_valid(vma, addr)))
		return;
	__split_vma(vma, addr, new_below, vma_take_spare(vma->vm_mm, spares));
}

/**
 * vma_modify_flags() - give the part of @vma inside [@start, @end) the
 * flags @newflags (and the matching vm_page_prot), splitting at the edges.
 * @vma: a linked VMA intersecting the range.
 * @start: page aligned.
 * @end: page aligned, > @start.
 * @newflags: the new vm_flags.
 * @spares: the spares for the (at most two) splits.
 *
 * The page tables are not touched, and nothing is merged: the caller
 * applies the protection, then calls vma_merge_neighbours().
 * Context: mmap_lock held for write.
 * Return: the VMA that now covers exactly @vma's part of the range.
 */
struct vm_area_struct *vma_modify_flags(struct vm_area_struct *vma,
					unsigned long start, unsigned long end,
					unsigned long newflags,
					struct vm_area_struct *spares[2])
{
	mmap_assert_write_locked(vma->vm_mm);
	if (vma->vm_start < start)
		vma_split_spare(vma, start, 1, spares);
	if (vma->vm_end > end)
		vma_split_spare(vma, end, 0, spares);
	vma->vm_flags = newflags;
	vma->vm_page_prot = vm_get_page_prot(newflags);
	return vma;
}

/* Could @a and @b (a directly below b) be one VMA?  See the file comment. */
static bool vma_mergeable(const struct vm_area_struct *a,
			  const struct vm_area_struct *b)
{
	if (a->vm_end != b->vm_start || a->vm_flags != b->vm_flags ||
	    pgprot_val(a->vm_page_prot) != pgprot_val(b->vm_page_prot) ||
	    a->vm_shared != b->vm_shared)
		return false;
	/* Pages are found by offset (shmem object, or the anon rmap's
	 * page->index): b must continue a's offsets. */
	return a->vm_pgoff + vma_pages(a) == b->vm_pgoff;
}

/**
 * vma_merge_neighbours() - merge @vma with its neighbours where they are
 * mergeable (file comment), restoring invariant 4.
 * @vma: a linked VMA.
 *
 * The merged VMA keeps the lowest part's vm_pgoff; the others are unlinked
 * and freed.  Page tables are not touched.
 * Context: mmap_lock held for write.
 * Return: the VMA that now contains @vma's range (@vma may be freed).
 */
struct vm_area_struct *vma_merge_neighbours(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	struct vm_area_struct *prev = vma_prev(vma), *next = vma_next(vma);
	unsigned long end;

	mmap_assert_write_locked(mm);
	if (next && vma_mergeable(vma, next)) {
		end = next->vm_end;
		vma_unlink(mm, next);
		vm_area_free(next);
		vma_set_range(vma, vma->vm_start, end, vma->vm_pgoff);
	}
	if (prev && vma_mergeable(prev, vma)) {
		end = vma->vm_end;
		vma_unlink(mm, vma);
		vm_area_free(vma);
		vma_set_range(prev, prev->vm_start, end, prev->vm_pgoff);
		vma = prev;
	}
	return vma;
}

/* ==== placement ======================================================== */

/* Highest @align-aligned free [addr, addr + len) inside [low, high). */
static unsigned long unmapped_area_topdown(struct mm_struct *mm,
					   unsigned long len,
					   unsigned long align,
					   unsigned long low,
					   unsigned long high)
{
	struct vm_area_struct *next, *prev;
	unsigned long gap_start, gap_end, addr;

	if (high <= low || high - low < len)
		return -ENOMEM;
	/* next: the first VMA reaching @high or above; the gaps below it are
	 * walked downwards, prev being the VMA under the current gap. */
	next = find_vma(mm, high - 1);
	prev = next ? vma_prev(next) : vma_last(mm);
	gap_end = next ? min(next->vm_start, high) : high;
	for (;;) {
		gap_start = prev ? max(prev->vm_end, low) : low;
		if (gap_end > gap_start && gap_end - gap_start >= len) {
			addr = ALIGN_DOWN(gap_end - len, align);
			if (addr >= gap_start)
				return addr;
		}
		if (!prev || prev->vm_start <= low)
			return -ENOMEM;
		gap_end = prev->vm_start;
		prev = vma_prev(prev);
	}
}

/* Lowest @align-aligned free [addr, addr + len) inside [low, high). */
static unsigned long unmapped_area_bottomup(struct mm_struct *mm,
					    unsigned long len,
					    unsigned long align,
					    unsigned long low,
					    unsigned long high)
{
	struct vm_area_struct *vma = find_vma(mm, low);
	unsigned long addr = ALIGN_UP(low, align), gap_end;

	for (;;) {
		if (addr >= high)
			return -ENOMEM;
		gap_end = vma ? min(vma->vm_start, high) : high;
		if (gap_end > addr && gap_end - addr >= len)
			return addr;
		if (!vma)
			return -ENOMEM;
		addr = ALIGN_UP(max(vma->vm_end, low), align);
		vma = vma_next(vma);
	}
}

/**
 * get_unmapped_area() - choose where a mapping of @len bytes goes.
 * @mm: the address space.
 * @addr: MAP_FIXED: the place; otherwise a hint (0: none).
 * @len: page aligned, non-zero.
 * @flags: MAP_FIXED or 0 (other bits ignored).
 *
 * MAP_FIXED: @addr itself, if page aligned (-EINVAL), inside the address
 * space (-ENOMEM) and not below MMAP_MIN_ADDR (-EPERM).  Otherwise the
 * hint, page aligned up, if [hint, hint + len) is free and inside
 * [MMAP_MIN_ADDR, task_size); else the highest free range below
 * mm->mmap_base (first fit, top-down), 2 MiB aligned when @len >= 2 MiB so
 * that the range can hold huge pages; else the lowest free range anywhere
 * (Linux's bottom-up fallback).
 *
 * Context: mmap_lock held (for write, if the caller is going to map it).
 * Return: the address, or a negative errno cast to unsigned long (test
 * with IS_ERR_VALUE): -ENOMEM when nothing fits.
 */
unsigned long get_unmapped_area(struct mm_struct *mm, unsigned long addr,
				unsigned long len, unsigned long flags)
{
	unsigned long align = len >= PMD_SIZE ? PMD_SIZE : PAGE_SIZE;
	unsigned long top = mm->task_size;

	if (len > top - MMAP_MIN_ADDR)
		return -ENOMEM;
	if (flags & MAP_FIXED) {
		if (!IS_ALIGNED(addr, PAGE_SIZE))
			return -EINVAL;
		if (addr > top - len)
			return -ENOMEM;
		if (addr < MMAP_MIN_ADDR)
			return -EPERM;
		return addr;
	}
	mmap_assert_locked(mm);
	if (addr) {
		addr = PAGE_ALIGN(addr);
		if (addr >= MMAP_MIN_ADDR && addr <= top - len &&
		    !find_vma_intersection(mm, addr, addr + len))
			return addr;
	}
	addr = unmapped_area_topdown(mm, len, align, MMAP_MIN_ADDR,
				     min(mm->mmap_base, top));
	if (IS_ERR_VALUE(addr))
		addr = unmapped_area_bottomup(mm, len, align, MMAP_MIN_ADDR,
					      top);
	return addr;
}

/**
 * vm_get_page_prot() - the leaf protection for VMAs with @vm_flags.
 * @vm_flags: the VMA's flags.
 *
 * No access: PAGE_NONE.  Shared and writable: PAGE_SHARED.  Everything
 * else PAGE_READONLY: private writable memory is mapped read-only until
 * the write fault, which is where COW (and the zero page's replacement)
 * happens.
 */
pgprot_t vm_get_page_prot(unsigned long vm_flags)
{
	if (!(vm_flags & VM_ACCESS_FLAGS))
		return PAGE_NONE;
	if ((vm_flags & (VM_WRITE | VM_SHARED)) == (VM_WRITE | VM_SHARED))
		return PAGE_SHARED;
	return PAGE_READONLY;
}

/* ==== munmap =========================================================== */

/*
 * Zap and remove the VMAs from @first up to @end (their ranges already
 * split to lie inside the unmapped range).  One gather: the shootdown
 * happens once, before any page or table is freed.
 */
static void remove_vmas(struct mm_struct *mm, struct vm_area_struct *first,
			unsigned long end)
{
	struct vm_area_struct *prev = vma_prev(first), *last = first;
	struct vm_area_struct *vma, *next;
	struct mmu_notifier_range range;
	struct mmu_gather tlb;

	tlb_gather_mmu_notify(&tlb, &range, mm, MMU_NOTIFY_UNMAP,
			      first->vm_start, end);
	for (vma = first; vma && vma->vm_start < end; vma = vma_next(vma)) {
		unmap_page_range(&tlb, vma, vma->vm_start, vma->vm_end);
		last = vma;
	}
	next = vma_next(last);
	/* Tables may go as far as the neighbours: [prev end, next start). */
	free_pgd_range(&tlb, first->vm_start, last->vm_end,
		       prev ? prev->vm_end : 0, next ? next->vm_start : 0);
	tlb_finish_mmu(&tlb);
	for (vma = first; vma && vma->vm_start < end; vma = next) {
		next = vma_next(vma);
		vma_unlink(mm, vma);
		vm_area_free(vma);
	}
}

/**
 * do_munmap() - unmap [@start, @start + @len), the core of vm_munmap(),
 * also used by MAP_FIXED and mremap.
 * @mm: the address space.
 * @start: page aligned.
 * @len: page aligned, non-zero, the range inside the address space.
 *
 * VMAs partly covered are split first (the spares are allocated before
 * anything changes); the covered parts are zapped, their now-unused
 * tables freed, and they are unlinked and freed.  A range with no VMA is
 * not an error.  When the range's edges fall on VMA boundaries no memory
 * is allocated, so this cannot fail.
 * Context: mmap_lock held for write; may sleep.
 * Return: 0, or -ENOMEM with nothing changed.
 */
int do_munmap(struct mm_struct *mm, unsigned long start, unsigned long len)
{
	unsigned long end = start + len;
	struct vm_area_struct *vma, *last, *spares[2];
	int nr;

	mmap_assert_write_locked(mm);
	vma = find_vma_intersection(mm, start, end);
	if (!vma)
		return 0;
	last = vma_lookup(mm, end - 1);
	nr = (vma->vm_start < start) + (last && last->vm_end > end);
	if (vma_spares_alloc(mm, spares, nr))
		return -ENOMEM;
	/* @vma keeps the upper part, so it becomes the first one removed;
	 * if last == vma it is still that (shrunk) VMA. */
	if (vma->vm_start < start)
		vma_split_spare(vma, start, 1, spares);
	if (last && last->vm_end > end)
		vma_split_spare(last, end, 0, spares);
	WARN_ON(spares[0] || spares[1]);
	vma_spares_free(spares);
	remove_vmas(mm, vma, end);
	return 0;
}

/**
 * vm_munmap() - unmap [@start, @start + @len) from @mm, like munmap(2).
 * @mm: the address space.
 * @start: page aligned.
 * @len: rounded up to pages; non-zero.
 *
 * Unmapping a range with nothing mapped is not an error.
 * Context: takes mmap_lock for write; may sleep.
 * Return: 0; -EINVAL (unaligned @start, zero @len, the range leaves the
 * address space); -ENOMEM (no memory to split a VMA: nothing changed).
 */
int vm_munmap(struct mm_struct *mm, unsigned long start, unsigned long len)
{
	int ret;

	if (WARN_ON(!mm))
		return -EINVAL;
	if (!IS_ALIGNED(start, PAGE_SIZE) || start > mm->task_size ||
	    len > mm->task_size - start)
		return -EINVAL;
	len = PAGE_ALIGN(len);
	if (!len)
		return -EINVAL;
	mmap_write_lock(mm);
	ret = do_munmap(mm, start, len);
	mmap_write_unlock(mm);
	return ret;
}

/* ==== mmap ============================================================= */

static unsigned long calc_vm_flags(unsigned long prot, unsigned long flags)
{
	unsigned long vm_flags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;

	if (prot & PROT_READ)
		vm_flags |= VM_READ;
	if (prot & PROT_WRITE)
		vm_flags |= VM_WRITE;
	if (prot & PROT_EXEC)
		vm_flags |= VM_EXEC;
	if (flags & MAP_SHARED)
		vm_flags |= VM_SHARED | VM_MAYSHARE;
	return vm_flags;
}

/* Linux's default vm.max_map_count. */
#define MAX_MAP_COUNT 65530

/**
 * vm_mmap() - map anonymous memory into @mm, like mmap(2) with fd -1.
 * @mm: the address space.
 * @addr: a hint, or the place with MAP_FIXED / MAP_FIXED_NOREPLACE.
 * @len: rounded up to pages; non-zero.
 * @prot: PROT_READ, PROT_WRITE, PROT_EXEC or PROT_NONE.
 * @flags: MAP_ANONYMOUS and exactly one of MAP_PRIVATE / MAP_SHARED, plus
 *         any of MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_POPULATE.
 *
 * Placement is get_unmapped_area()'s.  MAP_FIXED unmaps whatever was in
 * the range first; MAP_FIXED_NOREPLACE refuses with -EEXIST instead.
 * Shared memory gets a new shmem object of @len bytes (vm_pgoff 0);
 * private memory has vm_pgoff = start >> PAGE_SHIFT.  The new VMA is merged
 * with mergeable neighbours.  MAP_POPULATE then faults the range in (write
 * faults if PROT_WRITE) with mmap_lock downgraded to read; its failure is
 * not mmap's (as in Linux).
 *
 * Context: takes mmap_lock for write; may sleep.
 * Return: the start address, or -EINVAL (bad flags, prot, zero @len,
 * unaligned fixed @addr), -ENOMEM (no room, @len too large, no memory,
 * too many VMAs), -EEXIST (MAP_FIXED_NOREPLACE over a mapping), -EPERM
 * (fixed @addr below MMAP_MIN_ADDR).  On error nothing changed.
 */
long vm_mmap(struct mm_struct *mm, unsigned long addr, unsigned long len,
	     unsigned long prot, unsigned long flags)
{
	unsigned long type = flags & (MAP_SHARED | MAP_PRIVATE);
	struct vm_area_struct *vma;
	long ret;

	if (WARN_ON(!mm))
		return -EINVAL;
	if ((flags & ~MAP_KNOWN) || (prot & ~PROT_KNOWN) ||
	    !(flags & MAP_ANONYMOUS) ||
	    (type != MAP_SHARED && type != MAP_PRIVATE) || !len)
		return -EINVAL;
	len = PAGE_ALIGN(len);
	if (!len)
		return -ENOMEM;
	if (flags & MAP_FIXED_NOREPLACE)
		flags |= MAP_FIXED;
	if (flags & MAP_FIXED) {
		/* Checks that need no lock (repeated by get_unmapped_area). */
		ret = (long)get_unmapped_area(mm, addr, len, MAP_FIXED);
		if (IS_ERR_VALUE(ret))
			return ret;
	}

	/* Allocate before the lock: on failure nothing has changed. */
	vma = vm_area_alloc(mm);
	if (!vma)
		return -ENOMEM;
	if (type == MAP_SHARED) {
		vma->vm_shared = shmem_object_create(len >> PAGE_SHIFT);
		if (!vma->vm_shared) {
			vm_area_free(vma);
			return -ENOMEM;
		}
	}

	mmap_write_lock(mm);
	ret = -ENOMEM;
	if (mm->map_count >= MAX_MAP_COUNT)
		goto out_unlock;
	addr = get_unmapped_area(mm, addr, len, flags);
	ret = (long)addr;
	if (IS_ERR_VALUE(addr))
		goto out_unlock;
	ret = -EEXIST;
	if ((flags & MAP_FIXED_NOREPLACE) &&
	    find_vma_intersection(mm, addr, addr + len))
		goto out_unlock;
	if (flags & MAP_FIXED) {
		ret = do_munmap(mm, addr, len);
		if (ret)
			goto out_unlock;
	}

	vma->vm_start = addr;
	vma->vm_end = addr + len;
	vma->vm_flags = calc_vm_flags(prot, flags);
	vma->vm_page_prot = vm_get_page_prot(vma->vm_flags);
	vma->vm_pgoff = type == MAP_SHARED ? 0 : addr >> PAGE_SHIFT;
	if (WARN_ON(vma_link(mm, vma))) {
		ret = -EEXIST;
		goto out_unlock;
	}
	vma = vma_merge_neighbours(vma);

	if ((flags & MAP_POPULATE) && (vma->vm_flags & VM_ACCESS_FLAGS)) {
		/* Readers (faults) may proceed meanwhile; the VMA cannot
		 * change while we hold the lock for read. */
		mmap_write_downgrade(mm);
		populate_vma_range(vma, addr, addr + len,
				   vma->vm_flags & VM_WRITE);
		mmap_read_unlock(mm);
	} else {
		mmap_write_unlock(mm);
	}
	return addr;

out_unlock:
	mmap_write_unlock(mm);
	vm_area_free(vma);
	return ret;
}
