// SPDX-License-Identifier: MIT
/*
 * The VMA set and placement: link/lookup/overlap, split and merge,
 * top-down first-fit placement, 2 MiB alignment, hints, MAP_FIXED and
 * MAP_FIXED_NOREPLACE, munmap over several VMAs and in the middle of one,
 * mprotect and madvise splitting and re-merging, mremap shrink, grow, move,
 * fixed and dontunmap.  After every step the exact VMA list, map_count and
 * total_vm are checked; every test ends with all frames and objects back
 * and no warning printed.
 */
#include "mm_test_util.h"
#include <mmirror/mm.h>
#include "mm/internal.h"

static struct mm_leak_check leaks;

static int setup(void **state)
{
	mm_leak_check_begin(&leaks);
	return 0;
}

static int teardown(void **state)
{
	mm_leak_check_end(&leaks);
	return 0;
}

#define PG PAGE_SIZE
#define RW (PROT_READ | PROT_WRITE)
#define ANON_PRIV (MAP_ANONYMOUS | MAP_PRIVATE)
#define ANON_SHARED (MAP_ANONYMOUS | MAP_SHARED)
#define BASE 0x40000000UL /* a fixed place for fixed mappings */

struct vr {
	unsigned long start, end;
	unsigned long access; /* VM_ACCESS_FLAGS bits */
};

/* The VMA list must be exactly @exp; map_count and total_vm must agree. */
static void check_vmas(struct mm_struct *mm, const struct vr *exp, int n)
{
	struct vm_area_struct *vma;
	unsigned long pages = 0;
	int i = 0;

	mmap_read_lock(mm);
	for_each_vma(mm, vma)
	{
		if (i >= n) {
			fprintf(stderr, "extra VMA [%#lx, %#lx)\n",
				vma->vm_start, vma->vm_end);
			fail();
		}
		assert_int_equal(vma->vm_start, exp[i].start);
		assert_int_equal(vma->vm_end, exp[i].end);
		assert_int_equal(vma->vm_flags & VM_ACCESS_FLAGS,
				 exp[i].access);
		assert_int_equal(pgprot_val(vma->vm_page_prot),
				 pgprot_val(vm_get_page_prot(vma->vm_flags)));
		pages += vma_pages(vma);
		i++;
	}
	assert_int_equal(i, n);
	assert_int_equal(mm->map_count, n);
	assert_int_equal(mm->total_vm, pages);
	mmap_read_unlock(mm);
}

static struct vm_area_struct *lookup(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	mmap_read_unlock(mm);
	return vma;
}

static long map_fixed(struct mm_struct *mm, unsigned long addr,
		      unsigned long len, unsigned long prot)
{
	return vm_mmap(mm, addr, len, prot, ANON_PRIV | MAP_FIXED);
}

/* ---- the tree ---------------------------------------------------------- */

static struct vm_area_struct *new_vma(struct mm_struct *mm, unsigned long s,
				      unsigned long e)
{
	struct vm_area_struct *vma = vm_area_alloc(mm);

	assert_non_null(vma);
	vma->vm_start = s;
	vma->vm_end = e;
	vma->vm_flags = VM_READ;
	vma->vm_page_prot = vm_get_page_prot(VM_READ);
	return vma;
}

/* Random insertion order, ordered iteration, every lookup flavour. */
static void test_link_lookup(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct vm_area_struct *vma, *v[64];
	uint64_t seed = 42;
	int order[64];

	for (int i = 0; i < 64; i++)
		order[i] = i;
	for (int i = 63; i > 0; i--) {
		int j = test_rand(&seed) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	mmap_write_lock(mm);
	/* VMA i: [BASE + 4i pages, + 2 pages), gaps of 2 pages between. */
	for (int k = 0; k < 64; k++) {
		int i = order[k];

		v[i] = new_vma(mm, BASE + 4 * i * PG, BASE + (4 * i + 2) * PG);
		assert_int_equal(vma_link(mm, v[i]), 0);
	}
	assert_int_equal(mm->map_count, 64);
	assert_int_equal(mm->total_vm, 128);
	int i = 0;
	for_each_vma(mm, vma) assert_ptr_equal(vma, v[i++]);
	assert_int_equal(i, 64);

	assert_ptr_equal(find_vma(mm, 0), v[0]);
	assert_ptr_equal(find_vma(mm, BASE + 2 * PG), v[1]); /* in a gap */
	assert_ptr_equal(find_vma(mm, BASE + 5 * PG), v[1]);
	assert_null(find_vma(mm, BASE + 254 * PG));
	assert_null(vma_lookup(mm, BASE + 2 * PG));
	assert_ptr_equal(vma_lookup(mm, BASE + 4 * PG), v[1]);
	assert_ptr_equal(vma_lookup(mm, BASE + 5 * PG + 7), v[1]);
	assert_null(find_vma_intersection(mm, BASE + 2 * PG, BASE + 4 * PG));
	assert_ptr_equal(
		find_vma_intersection(mm, BASE + 2 * PG, BASE + 4 * PG + 1),
		v[1]);
	assert_ptr_equal(find_vma_intersection(mm, 0, ~0UL), v[0]);
	assert_null(vma_next(v[63]));
	assert_ptr_equal(vma_next(v[5]), v[6]);

	/* Overlaps are refused with a WARN, whatever side they touch. */
	unsigned long w = mm_warn_count();
	struct vm_area_struct *bad[] = {
		new_vma(mm, BASE + PG, BASE + 3 * PG),
		new_vma(mm, BASE + 3 * PG, BASE + 5 * PG),
		new_vma(mm, BASE, BASE + 400 * PG),
		new_vma(mm, BASE + 9 * PG, BASE + 10 * PG),
	};
	mm_warn_set_quiet(true);
	for (int k = 0; k < 4; k++) {
		assert_int_equal(vma_link(mm, bad[k]), -EEXIST);
		vm_area_free(bad[k]);
	}
	mm_warn_set_quiet(false);
	assert_int_equal(mm_warn_count(), w + 4);
	leaks.warns += 4;
	assert_int_equal(mm->map_count, 64);

	/* Fill a gap exactly: fits. */
	vma = new_vma(mm, BASE + 2 * PG, BASE + 4 * PG);
	assert_int_equal(vma_link(mm, vma), 0);
	assert_ptr_equal(vma_next(v[0]), vma);
	for (int k = 0; k < 64; k++) {
		vma_unlink(mm, v[order[k]]);
		vm_area_free(v[order[k]]);
	}
	assert_ptr_equal(find_vma(mm, 0), vma);
	assert_int_equal(mm->map_count, 1);
	assert_int_equal(mm->total_vm, 2);
	mmap_write_unlock(mm);
	/* exit_mmap tears down what is still linked. */
	mm_exit(mm);
}

/* split_vma: both directions, vm_pgoff of the upper part, counters. */
static void test_split(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct vm_area_struct *vma, *lo;

	assert_int_equal(map_fixed(mm, BASE, 8 * PG, RW), BASE);
	vma = lookup(mm, BASE);
	assert_int_equal(vma->vm_pgoff, BASE >> PAGE_SHIFT);
	mmap_write_lock(mm);
	assert_int_equal(split_vma(vma, BASE + 3 * PG, 0), 0);
	/* @vma kept the lower part; the new one starts 3 pages on. */
	assert_int_equal(vma->vm_end, BASE + 3 * PG);
	assert_int_equal(vma_next(vma)->vm_pgoff, (BASE >> PAGE_SHIFT) + 3);
	assert_int_equal(split_vma(vma_next(vma), BASE + 5 * PG, 1), 0);
	lo = vma_next(vma);
	assert_int_equal(lo->vm_start, BASE + 3 * PG);
	assert_int_equal(lo->vm_end, BASE + 5 * PG);
	assert_int_equal(lo->vm_pgoff, (BASE >> PAGE_SHIFT) + 3);
	assert_int_equal(vma_next(lo)->vm_pgoff, (BASE >> PAGE_SHIFT) + 5);
	/* A split at an edge is API misuse. */
	mm_warn_set_quiet(true);
	assert_int_equal(split_vma(vma, BASE, 0), -EINVAL);
	assert_int_equal(split_vma(vma, BASE + 3 * PG, 0), -EINVAL);
	mm_warn_set_quiet(false);
	leaks.warns += 2;
	/* Allocation failure: nothing changes. */
	fault_inject_nth(1);
	assert_int_equal(split_vma(vma, BASE + PG, 0), -ENOMEM);
	fault_inject_off();
	mmap_write_unlock(mm);
	check_vmas(
		mm,
		(struct vr[]){
			{ BASE, BASE + 3 * PG, VM_READ | VM_WRITE },
			{ BASE + 3 * PG, BASE + 5 * PG, VM_READ | VM_WRITE },
			{ BASE + 5 * PG, BASE + 8 * PG, VM_READ | VM_WRITE } },
		3);
	mm_exit(mm);
}

/* Merging: adjacent compatible mappings become one VMA; others do not. */
static void test_merge(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct vm_area_struct *vma;

	assert_int_equal(map_fixed(mm, BASE, 2 * PG, RW), BASE);
	assert_int_equal(map_fixed(mm, BASE + 4 * PG, 2 * PG, RW),
			 BASE + 4 * PG);
	assert_int_equal(map_fixed(mm, BASE + 2 * PG, 2 * PG, PROT_READ),
			 BASE + 2 * PG);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 2 * PG, VM_READ | VM_WRITE },
				  { BASE + 2 * PG, BASE + 4 * PG, VM_READ },
				  { BASE + 4 * PG, BASE + 6 * PG,
				    VM_READ | VM_WRITE } },
		   3);
	/* Same flags fills the middle: one VMA, keeping the first pgoff. */
	assert_int_equal(map_fixed(mm, BASE + 2 * PG, 2 * PG, RW),
			 BASE + 2 * PG);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 6 * PG, VM_READ | VM_WRITE } },
		   1);
	vma = lookup(mm, BASE);
	assert_int_equal(vma->vm_pgoff, BASE >> PAGE_SHIFT);

	/* Shared and private never merge; two shared objects never merge. */
	assert_int_equal(
		vm_mmap(mm, BASE + 6 * PG, PG, RW, ANON_SHARED | MAP_FIXED),
		BASE + 6 * PG);
	assert_int_equal(
		vm_mmap(mm, BASE + 7 * PG, PG, RW, ANON_SHARED | MAP_FIXED),
		BASE + 7 * PG);
	vma = lookup(mm, BASE + 6 * PG);
	assert_non_null(vma->vm_shared);
	assert_int_equal(vma->vm_pgoff, 0);
	assert_ptr_not_equal(lookup(mm, BASE + 7 * PG)->vm_shared,
			     vma->vm_shared);
	check_vmas(
		mm,
		(struct vr[]){
			{ BASE, BASE + 6 * PG, VM_READ | VM_WRITE },
			{ BASE + 6 * PG, BASE + 7 * PG, VM_READ | VM_WRITE },
			{ BASE + 7 * PG, BASE + 8 * PG, VM_READ | VM_WRITE } },
		3);
	mm_exit(mm);
}

/* A shared mapping split and re-merged keeps one object, offsets exact. */
static void test_shared_split_merge(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct vm_area_struct *vma;
	struct shmem_object *obj;

	assert_int_equal(vm_mmap(mm, BASE, 8 * PG, RW, ANON_SHARED | MAP_FIXED),
			 BASE);
	obj = lookup(mm, BASE)->vm_shared;
	assert_int_equal(vm_mprotect(mm, BASE + 2 * PG, 3 * PG, PROT_READ), 0);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 2 * PG, VM_READ | VM_WRITE },
				  { BASE + 2 * PG, BASE + 5 * PG, VM_READ },
				  { BASE + 5 * PG, BASE + 8 * PG,
				    VM_READ | VM_WRITE } },
		   3);
	vma = lookup(mm, BASE + 2 * PG);
	assert_ptr_equal(vma->vm_shared, obj);
	assert_int_equal(vma->vm_pgoff, 2);
	assert_int_equal(lookup(mm, BASE + 5 * PG)->vm_pgoff, 5);
	assert_int_equal(pgprot_val(lookup(mm, BASE)->vm_page_prot),
			 pgprot_val(PAGE_SHARED));
	assert_int_equal(vm_mprotect(mm, BASE + 2 * PG, 3 * PG, RW), 0);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 8 * PG, VM_READ | VM_WRITE } },
		   1);
	assert_int_equal(lookup(mm, BASE)->vm_pgoff, 0);
	/* The same object at offsets that do not continue: no merge. */
	assert_int_equal(vm_mremap(mm, BASE, 2 * PG, 2 * PG,
				   MREMAP_MAYMOVE | MREMAP_FIXED,
				   BASE + 8 * PG),
			 BASE + 8 * PG);
	check_vmas(
		mm,
		(struct vr[]){
			{ BASE + 2 * PG, BASE + 8 * PG, VM_READ | VM_WRITE },
			{ BASE + 8 * PG, BASE + 10 * PG, VM_READ | VM_WRITE } },
		2);
	assert_int_equal(lookup(mm, BASE + 8 * PG)->vm_pgoff, 0);
	assert_ptr_equal(lookup(mm, BASE + 8 * PG)->vm_shared, obj);
	/* ... and moving them back where they continue: merged again. */
	assert_int_equal(vm_mremap(mm, BASE + 8 * PG, 2 * PG, 2 * PG,
				   MREMAP_MAYMOVE | MREMAP_FIXED, BASE),
			 BASE);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 8 * PG, VM_READ | VM_WRITE } },
		   1);
	mm_exit(mm);
}

/* ---- placement --------------------------------------------------------- */

static void test_topdown_placement(void **state)
{
	struct mm_struct *mm = mm_alloc();
	unsigned long top = mm->mmap_base;
	long a, b, c, d;

	a = vm_mmap(mm, 0, 3 * PG, RW, ANON_PRIV);
	assert_int_equal(a, top - 3 * PG);
	b = vm_mmap(mm, 0, PG, PROT_READ, ANON_PRIV);
	assert_int_equal(b, a - PG);
	c = vm_mmap(mm, 0, 5 * PG, PROT_READ, ANON_PRIV);
	assert_int_equal(c, b - 5 * PG); /* merged with b */
	check_vmas(mm,
		   (struct vr[]){ { c, b + PG, VM_READ },
				  { a, top, VM_READ | VM_WRITE } },
		   2);
	/* A 2-page hole under a: first fit from the top takes it for a
	 * 2-page request, a 3-page request goes below everything. */
	assert_int_equal(vm_munmap(mm, b + PG - 2 * PG, 2 * PG), 0);
	d = vm_mmap(mm, 0, 3 * PG, PROT_EXEC, ANON_PRIV);
	assert_int_equal(d, c - 3 * PG);
	d = vm_mmap(mm, 0, 2 * PG, PROT_EXEC, ANON_PRIV);
	assert_int_equal(d, a - 2 * PG);
	/* A fixed mapping above mmap_base is not in the way. */
	assert_int_equal(map_fixed(mm, top, PG, RW), top);
	assert_int_equal(vm_mmap(mm, 0, PG, PROT_EXEC, ANON_PRIV), c - 4 * PG);
	mm_exit(mm);
}

static void test_thp_alignment(void **state)
{
	struct mm_struct *mm = mm_alloc();
	long a, b, c;

	/* Misalign the top first with a small mapping. */
	a = vm_mmap(mm, 0, 3 * PG, RW, ANON_PRIV);
	assert_int_equal(a, mm->mmap_base - 3 * PG);
	b = vm_mmap(mm, 0, PMD_SIZE, RW, ANON_PRIV);
	assert_true(IS_ALIGNED(b, PMD_SIZE));
	assert_true(b + PMD_SIZE <= a);
	assert_true(a - (b + PMD_SIZE) < PMD_SIZE); /* the highest fit */
	c = vm_mmap(mm, 0, 3 * PMD_SIZE + PG, PROT_READ, ANON_SHARED);
	assert_true(IS_ALIGNED(c, PMD_SIZE));
	assert_true(c + 3 * PMD_SIZE + PG <= b);
	/* Small mappings are not aligned: they fill the room left. */
	assert_int_equal(vm_mmap(mm, 0, PG, PROT_EXEC, ANON_PRIV), a - PG);
	mm_exit(mm);
}

static void test_hint(void **state)
{
	struct mm_struct *mm = mm_alloc();

	/* A free hint is used; an unaligned one is rounded up. */
	assert_int_equal(vm_mmap(mm, BASE, 2 * PG, RW, ANON_PRIV), BASE);
	assert_int_equal(vm_mmap(mm, BASE + 4 * PG + 5, PG, RW, ANON_PRIV),
			 BASE + 5 * PG);
	/* An occupied hint, or one outside the address space or below
	 * MMAP_MIN_ADDR, falls back to top-down placement. */
	assert_int_equal(vm_mmap(mm, BASE + PG, PG, RW, ANON_PRIV),
			 mm->mmap_base - PG);
	assert_int_equal(
		vm_mmap(mm, mm->task_size - PG, 2 * PG, PROT_READ, ANON_PRIV),
		mm->mmap_base - 3 * PG);
	assert_int_equal(vm_mmap(mm, PG, PG, PROT_EXEC, ANON_PRIV),
			 mm->mmap_base - 4 * PG);
	/* A hint above mmap_base is fine. */
	assert_int_equal(
		vm_mmap(mm, mm->mmap_base + PMD_SIZE, PG, PROT_EXEC, ANON_PRIV),
		mm->mmap_base + PMD_SIZE);
	assert_int_equal(mm->map_count, 6);
	mm_exit(mm);
}

/* When everything below mmap_base is taken, placement goes above it. */
static void test_bottomup_fallback(void **state)
{
	struct mm_struct *mm = mm_alloc();
	unsigned long low = 64UL << 10; /* MMAP_MIN_ADDR */

	assert_int_equal(map_fixed(mm, low, mm->mmap_base - low, PROT_READ),
			 low);
	assert_int_equal(vm_mmap(mm, 0, PG, RW, ANON_PRIV), mm->mmap_base);
	/* The whole space taken: -ENOMEM. */
	assert_int_equal(map_fixed(mm, mm->mmap_base,
				   mm->task_size - mm->mmap_base, PROT_READ),
			 mm->mmap_base);
	assert_int_equal(vm_mmap(mm, 0, PG, RW, ANON_PRIV), -ENOMEM);
	assert_int_equal(mm->total_vm, (mm->task_size - low) >> PAGE_SHIFT);
	mm_exit(mm);
}

/* ---- MAP_FIXED --------------------------------------------------------- */

static void test_map_fixed_replace(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct shmem_object *obj;

	assert_int_equal(map_fixed(mm, BASE, 10 * PG, RW), BASE);
	/* Replacing the middle with other flags: three VMAs. */
	assert_int_equal(map_fixed(mm, BASE + 3 * PG, 2 * PG, PROT_READ),
			 BASE + 3 * PG);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 3 * PG, VM_READ | VM_WRITE },
				  { BASE + 3 * PG, BASE + 5 * PG, VM_READ },
				  { BASE + 5 * PG, BASE + 10 * PG,
				    VM_READ | VM_WRITE } },
		   3);
	/* The old upper part is the old mapping: its pgoff continues. */
	assert_int_equal(lookup(mm, BASE + 5 * PG)->vm_pgoff,
			 (BASE >> PAGE_SHIFT) + 5);
	/* A new pgoff for the new one. */
	assert_int_equal(lookup(mm, BASE + 3 * PG)->vm_pgoff,
			 (BASE + 3 * PG) >> PAGE_SHIFT);
	/* Replacing across all three by a shared mapping. */
	assert_int_equal(
		vm_mmap(mm, BASE + 2 * PG, 6 * PG, RW, ANON_SHARED | MAP_FIXED),
		BASE + 2 * PG);
	obj = lookup(mm, BASE + 2 * PG)->vm_shared;
	assert_non_null(obj);
	check_vmas(
		mm,
		(struct vr[]){
			{ BASE, BASE + 2 * PG, VM_READ | VM_WRITE },
			{ BASE + 2 * PG, BASE + 8 * PG, VM_READ | VM_WRITE },
			{ BASE + 8 * PG, BASE + 10 * PG, VM_READ | VM_WRITE } },
		3);
	/* Replacing everything exactly. */
	assert_int_equal(map_fixed(mm, BASE, 10 * PG, PROT_NONE), BASE);
	check_vmas(mm, (struct vr[]){ { BASE, BASE + 10 * PG, 0 } }, 1);
	assert_int_equal(pgprot_val(lookup(mm, BASE)->vm_page_prot),
			 pgprot_val(PAGE_NONE));
	mm_exit(mm);
}

static void test_fixed_noreplace(void **state)
{
	struct mm_struct *mm = mm_alloc();

	assert_int_equal(map_fixed(mm, BASE + 4 * PG, 2 * PG, RW),
			 BASE + 4 * PG);
	assert_int_equal(
		vm_mmap(mm, BASE, 5 * PG, RW, ANON_PRIV | MAP_FIXED_NOREPLACE),
		-EEXIST);
	assert_int_equal(vm_mmap(mm, BASE + 5 * PG, PG, RW,
				 ANON_PRIV | MAP_FIXED_NOREPLACE),
			 -EEXIST);
	check_vmas(mm,
		   (struct vr[]){ { BASE + 4 * PG, BASE + 6 * PG,
				    VM_READ | VM_WRITE } },
		   1);
	/* Just below and just above: fine (and merged). */
	assert_int_equal(
		vm_mmap(mm, BASE, 4 * PG, RW, ANON_PRIV | MAP_FIXED_NOREPLACE),
		BASE);
	assert_int_equal(vm_mmap(mm, BASE + 6 * PG, PG, RW,
				 ANON_PRIV | MAP_FIXED_NOREPLACE),
			 BASE + 6 * PG);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 7 * PG, VM_READ | VM_WRITE } },
		   1);
	mm_exit(mm);
}

/* ---- munmap ------------------------------------------------------------ */

static void test_munmap_spanning(void **state)
{
	struct mm_struct *mm = mm_alloc();

	assert_int_equal(map_fixed(mm, BASE, 4 * PG, RW), BASE);
	assert_int_equal(map_fixed(mm, BASE + 4 * PG, 4 * PG, PROT_READ),
			 BASE + 4 * PG);
	assert_int_equal(map_fixed(mm, BASE + 10 * PG, 4 * PG, RW),
			 BASE + 10 * PG);
	/* From inside the first to inside the third, across a hole. */
	assert_int_equal(vm_munmap(mm, BASE + 2 * PG, 10 * PG), 0);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 2 * PG, VM_READ | VM_WRITE },
				  { BASE + 12 * PG, BASE + 14 * PG,
				    VM_READ | VM_WRITE } },
		   2);
	assert_int_equal(lookup(mm, BASE + 12 * PG)->vm_pgoff,
			 (BASE + 12 * PG) >> PAGE_SHIFT);
	/* Nothing mapped there: not an error. */
	assert_int_equal(vm_munmap(mm, BASE + 4 * PG, 4 * PG), 0);
	/* Everything, exactly and beyond. */
	assert_int_equal(vm_munmap(mm, 0, BASE + 20 * PG), 0);
	check_vmas(mm, NULL, 0);
	mm_exit(mm);
}

static void test_munmap_partial(void **state)
{
	struct mm_struct *mm = mm_alloc();

	assert_int_equal(map_fixed(mm, BASE, 16 * PG, RW), BASE);
	assert_int_equal(vm_munmap(mm, BASE + 5 * PG, 3 * PG), 0);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 5 * PG, VM_READ | VM_WRITE },
				  { BASE + 8 * PG, BASE + 16 * PG,
				    VM_READ | VM_WRITE } },
		   2);
	assert_int_equal(lookup(mm, BASE + 8 * PG)->vm_pgoff,
			 (BASE >> PAGE_SHIFT) + 8);
	/* Head and tail of a VMA; unaligned length rounds up. */
	assert_int_equal(vm_munmap(mm, BASE, PG + 1), 0);
	assert_int_equal(vm_munmap(mm, BASE + 15 * PG, PG), 0);
	check_vmas(
		mm,
		(struct vr[]){
			{ BASE + 2 * PG, BASE + 5 * PG, VM_READ | VM_WRITE },
			{ BASE + 8 * PG, BASE + 15 * PG, VM_READ | VM_WRITE } },
		2);
	/* Refilling the hole merges everything back (private). */
	assert_int_equal(map_fixed(mm, BASE + 5 * PG, 3 * PG, RW),
			 BASE + 5 * PG);
	check_vmas(mm,
		   (struct vr[]){ { BASE + 2 * PG, BASE + 15 * PG,
				    VM_READ | VM_WRITE } },
		   1);
	mm_exit(mm);
}

/* ---- mprotect and madvise ---------------------------------------------- */

static void test_mprotect_split_merge(void **state)
{
	struct mm_struct *mm = mm_alloc();

	assert_int_equal(map_fixed(mm, BASE, 8 * PG, RW), BASE);
	assert_int_equal(vm_mprotect(mm, BASE + 2 * PG, 2 * PG, PROT_READ), 0);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 2 * PG, VM_READ | VM_WRITE },
				  { BASE + 2 * PG, BASE + 4 * PG, VM_READ },
				  { BASE + 4 * PG, BASE + 8 * PG,
				    VM_READ | VM_WRITE } },
		   3);
	/* Across all three, to one protection: one VMA again. */
	assert_int_equal(vm_mprotect(mm, BASE, 8 * PG, PROT_NONE), 0);
	check_vmas(mm, (struct vr[]){ { BASE, BASE + 8 * PG, 0 } }, 1);
	/* The head, then the tail, then the rest: merges step by step. */
	assert_int_equal(vm_mprotect(mm, BASE, PG, PROT_READ), 0);
	assert_int_equal(vm_mprotect(mm, BASE + 7 * PG, PG, PROT_READ), 0);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + PG, VM_READ },
				  { BASE + PG, BASE + 7 * PG, 0 },
				  { BASE + 7 * PG, BASE + 8 * PG, VM_READ } },
		   3);
	assert_int_equal(vm_mprotect(mm, BASE + PG, 6 * PG, PROT_READ), 0);
	check_vmas(mm, (struct vr[]){ { BASE, BASE + 8 * PG, VM_READ } }, 1);
	/* Same protection again: nothing to do. */
	assert_int_equal(vm_mprotect(mm, BASE + 3 * PG, PG, PROT_READ), 0);
	check_vmas(mm, (struct vr[]){ { BASE, BASE + 8 * PG, VM_READ } }, 1);
	/* A hole: the part before it changes (Linux), then -ENOMEM. */
	assert_int_equal(map_fixed(mm, BASE + 10 * PG, 2 * PG, PROT_READ),
			 BASE + 10 * PG);
	assert_int_equal(vm_mprotect(mm, BASE + 6 * PG, 6 * PG, RW), -ENOMEM);
	check_vmas(mm,
		   (struct vr[]){
			   { BASE, BASE + 6 * PG, VM_READ },
			   { BASE + 6 * PG, BASE + 8 * PG, VM_READ | VM_WRITE },
			   { BASE + 10 * PG, BASE + 12 * PG, VM_READ } },
		   3);
	mm_exit(mm);
}

static unsigned long flags_at(struct mm_struct *mm, unsigned long addr)
{
	return lookup(mm, addr)->vm_flags;
}

static void test_madvise_flags(void **state)
{
	struct mm_struct *mm = mm_alloc();

	assert_int_equal(map_fixed(mm, BASE, 8 * PG, RW), BASE);
	assert_int_equal(vm_madvise(mm, BASE + 2 * PG, 3 * PG, MADV_HUGEPAGE),
			 0);
	check_vmas(
		mm,
		(struct vr[]){
			{ BASE, BASE + 2 * PG, VM_READ | VM_WRITE },
			{ BASE + 2 * PG, BASE + 5 * PG, VM_READ | VM_WRITE },
			{ BASE + 5 * PG, BASE + 8 * PG, VM_READ | VM_WRITE } },
		3);
	assert_false(flags_at(mm, BASE) & (VM_HUGEPAGE | VM_NOHUGEPAGE));
	assert_true(flags_at(mm, BASE + 2 * PG) & VM_HUGEPAGE);
	assert_false(flags_at(mm, BASE + 5 * PG) & VM_HUGEPAGE);
	/* Again on a superset of the same VMA: extends it. */
	assert_int_equal(vm_madvise(mm, BASE + PG, 5 * PG, MADV_HUGEPAGE), 0);
	check_vmas(
		mm,
		(struct vr[]){
			{ BASE, BASE + PG, VM_READ | VM_WRITE },
			{ BASE + PG, BASE + 6 * PG, VM_READ | VM_WRITE },
			{ BASE + 6 * PG, BASE + 8 * PG, VM_READ | VM_WRITE } },
		3);
	/* NOHUGEPAGE over everything: one VMA, only VM_NOHUGEPAGE. */
	assert_int_equal(vm_madvise(mm, BASE, 8 * PG, MADV_NOHUGEPAGE), 0);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 8 * PG, VM_READ | VM_WRITE } },
		   1);
	assert_int_equal(flags_at(mm, BASE) & (VM_HUGEPAGE | VM_NOHUGEPAGE),
			 VM_NOHUGEPAGE);
	/* A hole: the mapped parts are advised, then -ENOMEM. */
	assert_int_equal(map_fixed(mm, BASE + 10 * PG, 2 * PG, RW),
			 BASE + 10 * PG);
	assert_int_equal(vm_madvise(mm, BASE + 7 * PG, 4 * PG, MADV_HUGEPAGE),
			 -ENOMEM);
	check_vmas(
		mm,
		(struct vr[]){
			{ BASE, BASE + 7 * PG, VM_READ | VM_WRITE },
			{ BASE + 7 * PG, BASE + 8 * PG, VM_READ | VM_WRITE },
			{ BASE + 10 * PG, BASE + 11 * PG, VM_READ | VM_WRITE },
			{ BASE + 11 * PG, BASE + 12 * PG,
			  VM_READ | VM_WRITE } },
		4);
	assert_true(flags_at(mm, BASE + 7 * PG) & VM_HUGEPAGE);
	assert_true(flags_at(mm, BASE + 10 * PG) & VM_HUGEPAGE);
	assert_false(flags_at(mm, BASE + 11 * PG) & VM_HUGEPAGE);
	mm_exit(mm);
}

/* ---- mremap ------------------------------------------------------------ */

static void test_mremap_shrink_grow(void **state)
{
	struct mm_struct *mm = mm_alloc();

	assert_int_equal(map_fixed(mm, BASE, 8 * PG, RW), BASE);
	assert_int_equal(vm_mremap(mm, BASE, 8 * PG, 3 * PG, 0, 0), BASE);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 3 * PG, VM_READ | VM_WRITE } },
		   1);
	/* Same size: nothing. */
	assert_int_equal(vm_mremap(mm, BASE, 3 * PG, 3 * PG, 0, 0), BASE);
	/* Grow in place. */
	assert_int_equal(vm_mremap(mm, BASE, 3 * PG, 6 * PG, 0, 0), BASE);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 6 * PG, VM_READ | VM_WRITE } },
		   1);
	/* Growing the tail of a VMA from its middle: the old range ends
	 * the VMA, so it grows in place. */
	assert_int_equal(vm_mremap(mm, BASE + 4 * PG, 2 * PG, 4 * PG, 0, 0),
			 BASE + 4 * PG);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 8 * PG, VM_READ | VM_WRITE } },
		   1);
	/* Blocked by a neighbour, no MAYMOVE: -ENOMEM, nothing changed. */
	assert_int_equal(map_fixed(mm, BASE + 9 * PG, PG, PROT_READ),
			 BASE + 9 * PG);
	assert_int_equal(vm_mremap(mm, BASE, 8 * PG, 10 * PG, 0, 0), -ENOMEM);
	/* Not at the end of its VMA: cannot grow in place either. */
	assert_int_equal(vm_mremap(mm, BASE, 2 * PG, 3 * PG, 0, 0), -ENOMEM);
	/* Growing into the exact gap touching the neighbour: fine, and the
	 * neighbour has other flags, so no merge. */
	assert_int_equal(vm_mremap(mm, BASE, 8 * PG, 9 * PG, 0, 0), BASE);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 9 * PG, VM_READ | VM_WRITE },
				  { BASE + 9 * PG, BASE + 10 * PG, VM_READ } },
		   2);
	/* Shrinking the middle of a VMA: the tail of the old range goes. */
	assert_int_equal(vm_mremap(mm, BASE + 2 * PG, 4 * PG, PG, 0, 0),
			 BASE + 2 * PG);
	check_vmas(mm,
		   (struct vr[]){
			   { BASE, BASE + 3 * PG, VM_READ | VM_WRITE },
			   { BASE + 6 * PG, BASE + 9 * PG, VM_READ | VM_WRITE },
			   { BASE + 9 * PG, BASE + 10 * PG, VM_READ } },
		   3);
	mm_exit(mm);
}

static void test_mremap_shared_grow(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct vm_area_struct *vma;
	struct shmem_object *obj;

	assert_int_equal(vm_mmap(mm, BASE, 4 * PG, RW, ANON_SHARED | MAP_FIXED),
			 BASE);
	assert_int_equal(vm_mremap(mm, BASE, 4 * PG, 8 * PG, 0, 0), BASE);
	vma = lookup(mm, BASE);
	assert_int_equal(vma->vm_end, BASE + 8 * PG);
	obj = vma->vm_shared;
	assert_non_null(obj);
	/* Moving a shared mapping keeps the object and the offset. */
	assert_int_equal(map_fixed(mm, BASE + 8 * PG, PG, PROT_READ),
			 BASE + 8 * PG);
	long n = vm_mremap(mm, BASE + 2 * PG, 6 * PG, 10 * PG, MREMAP_MAYMOVE,
			   0);
	assert_false(IS_ERR_VALUE(n));
	assert_int_equal(lookup(mm, n)->vm_pgoff, 2);
	assert_ptr_equal(lookup(mm, n)->vm_shared, obj);
	assert_ptr_equal(lookup(mm, BASE)->vm_shared, obj);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 2 * PG, VM_READ | VM_WRITE },
				  { BASE + 8 * PG, BASE + 9 * PG, VM_READ },
				  { n, n + 10 * PG, VM_READ | VM_WRITE } },
		   3);
	mm_exit(mm);
}

static void test_mremap_move(void **state)
{
	struct mm_struct *mm = mm_alloc();
	long n;

	assert_int_equal(map_fixed(mm, BASE, 8 * PG, RW), BASE);
	assert_int_equal(map_fixed(mm, BASE + 8 * PG, PG, PROT_READ),
			 BASE + 8 * PG);
	/* Grow with MAYMOVE: moves to a kernel-chosen place (top-down),
	 * keeping its pgoff. */
	n = vm_mremap(mm, BASE + 2 * PG, 6 * PG, 10 * PG, MREMAP_MAYMOVE, 0);
	assert_int_equal(n, mm->mmap_base - 10 * PG);
	assert_int_equal(lookup(mm, n)->vm_pgoff, (BASE >> PAGE_SHIFT) + 2);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 2 * PG, VM_READ | VM_WRITE },
				  { BASE + 8 * PG, BASE + 9 * PG, VM_READ },
				  { n, n + 10 * PG, VM_READ | VM_WRITE } },
		   3);
	/* FIXED: to right after the old mapping, shrinking on the way;
	 * the destination's old contents are unmapped. */
	n = vm_mremap(mm, n, 10 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
		      BASE + 7 * PG);
	assert_int_equal(n, BASE + 7 * PG);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 2 * PG, VM_READ | VM_WRITE },
				  { BASE + 7 * PG, BASE + 11 * PG,
				    VM_READ | VM_WRITE } },
		   2);
	/* FIXED next to a compatible VMA merges with it. */
	n = vm_mremap(mm, BASE + 7 * PG, 4 * PG, 4 * PG,
		      MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 2 * PG);
	assert_int_equal(n, BASE + 2 * PG);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 6 * PG, VM_READ | VM_WRITE } },
		   1);
	/* FIXED into its own VMA outside the old range. */
	n = vm_mremap(mm, BASE, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED,
		      BASE + 4 * PG);
	assert_int_equal(n, BASE + 4 * PG);
	/* The moved page keeps its vm_pgoff (BASE's), which does not
	 * continue its neighbours' offsets: three VMAs, as in Linux. */
	check_vmas(
		mm,
		(struct vr[]){
			{ BASE + PG, BASE + 4 * PG, VM_READ | VM_WRITE },
			{ BASE + 4 * PG, BASE + 5 * PG, VM_READ | VM_WRITE },
			{ BASE + 5 * PG, BASE + 6 * PG, VM_READ | VM_WRITE } },
		3);
	mm_exit(mm);
}

static void test_mremap_dontunmap(void **state)
{
	struct mm_struct *mm = mm_alloc();
	long n;

	assert_int_equal(map_fixed(mm, BASE, 8 * PG, RW), BASE);
	/* The old VMA stays, whole; a new one appears. */
	n = vm_mremap(mm, BASE + 2 * PG, 2 * PG, 2 * PG,
		      MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
	assert_int_equal(n, mm->mmap_base - 2 * PG);
	check_vmas(mm,
		   (struct vr[]){ { BASE, BASE + 8 * PG, VM_READ | VM_WRITE },
				  { n, n + 2 * PG, VM_READ | VM_WRITE } },
		   2);
	/* With a free hint, the hint is used; with FIXED, the place. */
	n = vm_mremap(mm, BASE, PG, PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP,
		      BASE + 20 * PG);
	assert_int_equal(n, BASE + 20 * PG);
	n = vm_mremap(mm, BASE, PG, PG,
		      MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED,
		      BASE + 8 * PG);
	assert_int_equal(n, BASE + 8 * PG);
	/* BASE + 8 carries BASE's vm_pgoff: no merge with [BASE, +8). */
	check_vmas(
		mm,
		(struct vr[]){
			{ BASE, BASE + 8 * PG, VM_READ | VM_WRITE },
			{ BASE + 8 * PG, BASE + 9 * PG, VM_READ | VM_WRITE },
			{ BASE + 20 * PG, BASE + 21 * PG, VM_READ | VM_WRITE },
			{ mm->mmap_base - 2 * PG, mm->mmap_base,
			  VM_READ | VM_WRITE } },
		4);
	mm_exit(mm);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_link_lookup),
		T(test_split),
		T(test_merge),
		T(test_shared_split_merge),
		T(test_topdown_placement),
		T(test_thp_alignment),
		T(test_hint),
		T(test_bottomup_fallback),
		T(test_map_fixed_replace),
		T(test_fixed_noreplace),
		T(test_munmap_spanning),
		T(test_munmap_partial),
		T(test_mprotect_split_merge),
		T(test_madvise_flags),
		T(test_mremap_shrink_grow),
		T(test_mremap_shared_grow),
		T(test_mremap_move),
		T(test_mremap_dontunmap),
	};

	/* Set up physical memory before the first setup() samples it. */
	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
