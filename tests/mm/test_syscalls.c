// SPDX-License-Identifier: MIT
/*
 * The vm_* calls as system calls: argument validation of every call as
 * Linux does it (errno by errno), allocation failure injected at every
 * allocation of an operation (-ENOMEM, the VMA set unchanged, nothing
 * leaked), and what the calls do to contents, checked through a simulated
 * CPU and the page tables: data and frames move with mremap, MADV_DONTNEED
 * drops private pages (zeroes after) but not shared ones, MAP_POPULATE and
 * MADV_WILLNEED leave every page present, munmap returns every frame.
 */
#include "mm_test_util.h"
#include <mmirror/cpu.h>
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
#define BASE 0x40000000UL
#define MIN_ADDR (64UL << 10)

/* ---- snapshots of the VMA set ------------------------------------------ */

#define MAX_SNAP 32
struct snap {
	int n, map_count;
	unsigned long total_vm;
	struct {
		unsigned long start, end, flags, pgoff;
		u64 prot;
		struct shmem_object *obj;
	} v[MAX_SNAP];
};

static void take_snap(struct mm_struct *mm, struct snap *s)
{
	struct vm_area_struct *vma;

	memset(s, 0, sizeof(*s));
	mmap_read_lock(mm);
	for_each_vma(mm, vma)
	{
		assert_true(s->n < MAX_SNAP);
		s->v[s->n].start = vma->vm_start;
		s->v[s->n].end = vma->vm_end;
		s->v[s->n].flags = vma->vm_flags;
		s->v[s->n].pgoff = vma->vm_pgoff;
		s->v[s->n].prot = pgprot_val(vma->vm_page_prot);
		s->v[s->n].obj = vma->vm_shared;
		s->n++;
	}
	s->map_count = mm->map_count;
	s->total_vm = mm->total_vm;
	mmap_read_unlock(mm);
}

static void assert_unchanged(struct mm_struct *mm, const struct snap *before)
{
	struct snap now;

	take_snap(mm, &now);
	assert_int_equal(now.n, before->n);
	assert_int_equal(now.map_count, before->n);
	assert_int_equal(now.total_vm, before->total_vm);
	assert_memory_equal(now.v, before->v, sizeof(now.v));
}

/* ---- argument validation ----------------------------------------------- */

static void test_mmap_args(void **state)
{
	struct mm_struct *mm = mm_alloc();
	unsigned long top = mm->task_size;
	struct snap s;

	take_snap(mm, &s);
	/* Flags: unknown bits, no MAP_ANONYMOUS, both or neither type. */
	assert_int_equal(vm_mmap(mm, 0, PG, RW, ANON_PRIV | 0x4000), -EINVAL);
	assert_int_equal(vm_mmap(mm, 0, PG, RW, ANON_PRIV | (1UL << 40)),
			 -EINVAL);
	assert_int_equal(vm_mmap(mm, 0, PG, RW, MAP_PRIVATE), -EINVAL);
	assert_int_equal(vm_mmap(mm, 0, PG, RW, MAP_SHARED), -EINVAL);
	assert_int_equal(vm_mmap(mm, 0, PG, RW, MAP_ANONYMOUS), -EINVAL);
	assert_int_equal(vm_mmap(mm, 0, PG, RW,
				 MAP_ANONYMOUS | MAP_SHARED | MAP_PRIVATE),
			 -EINVAL);
	/* Prot: unknown bits. */
	assert_int_equal(vm_mmap(mm, 0, PG, 0x8, ANON_PRIV), -EINVAL);
	assert_int_equal(vm_mmap(mm, 0, PG, RW | 0x1000000, ANON_PRIV),
			 -EINVAL);
	/* Length: zero, overflow on rounding, larger than the space. */
	assert_int_equal(vm_mmap(mm, 0, 0, RW, ANON_PRIV), -EINVAL);
	assert_int_equal(vm_mmap(mm, 0, ~0UL, RW, ANON_PRIV), -ENOMEM);
	assert_int_equal(vm_mmap(mm, 0, -PG + 1, RW, ANON_PRIV), -ENOMEM);
	assert_int_equal(vm_mmap(mm, 0, top + PG, RW, ANON_PRIV), -ENOMEM);
	/* Fixed: unaligned, beyond the space, wrapping, below the floor. */
	assert_int_equal(vm_mmap(mm, BASE + 1, PG, RW, ANON_PRIV | MAP_FIXED),
			 -EINVAL);
	assert_int_equal(
		vm_mmap(mm, BASE + 1, PG, RW, ANON_PRIV | MAP_FIXED_NOREPLACE),
		-EINVAL);
	assert_int_equal(vm_mmap(mm, top, PG, RW, ANON_PRIV | MAP_FIXED),
			 -ENOMEM);
	assert_int_equal(
		vm_mmap(mm, top - PG, 2 * PG, RW, ANON_PRIV | MAP_FIXED),
		-ENOMEM);
	assert_int_equal(vm_mmap(mm, -PG, 2 * PG, RW, ANON_PRIV | MAP_FIXED),
			 -ENOMEM);
	assert_int_equal(vm_mmap(mm, 0, PG, RW, ANON_PRIV | MAP_FIXED), -EPERM);
	assert_int_equal(
		vm_mmap(mm, MIN_ADDR - PG, PG, RW, ANON_PRIV | MAP_FIXED),
		-EPERM);
	/* NULL mm: API misuse. */
	mm_warn_set_quiet(true);
	assert_int_equal(vm_mmap(NULL, 0, PG, RW, ANON_PRIV), -EINVAL);
	assert_int_equal(vm_munmap(NULL, BASE, PG), -EINVAL);
	assert_int_equal(vm_mprotect(NULL, BASE, PG, RW), -EINVAL);
	assert_int_equal(vm_madvise(NULL, BASE, PG, MADV_DONTNEED), -EINVAL);
	assert_int_equal(vm_mremap(NULL, BASE, PG, PG, 0, 0), -EINVAL);
	mm_warn_set_quiet(false);
	leaks.warns += 5;
	assert_unchanged(mm, &s);

	/* The edges that are fine: the last page, the floor, PROT_NONE. */
	assert_int_equal(vm_mmap(mm, top - PG, PG, RW, ANON_PRIV | MAP_FIXED),
			 top - PG);
	assert_int_equal(
		vm_mmap(mm, MIN_ADDR, PG, PROT_NONE, ANON_SHARED | MAP_FIXED),
		MIN_ADDR);
	/* An unaligned hint is not an error. */
	assert_int_equal(vm_mmap(mm, BASE + 1, PG, RW, ANON_PRIV), BASE + PG);
	assert_int_equal(mm->map_count, 3);
	mm_exit(mm);
}

static void test_munmap_args(void **state)
{
	struct mm_struct *mm = mm_alloc();
	unsigned long top = mm->task_size;
	struct snap s;

	assert_int_equal(vm_mmap(mm, BASE, 4 * PG, RW, ANON_PRIV | MAP_FIXED),
			 BASE);
	take_snap(mm, &s);
	assert_int_equal(vm_munmap(mm, BASE + 1, PG), -EINVAL);
	assert_int_equal(vm_munmap(mm, BASE, 0), -EINVAL);
	assert_int_equal(vm_munmap(mm, top + PG, PG), -EINVAL);
	assert_int_equal(vm_munmap(mm, BASE, top), -EINVAL);
	assert_int_equal(vm_munmap(mm, BASE, ~0UL), -EINVAL);
	assert_int_equal(vm_munmap(mm, top - PG, 2 * PG), -EINVAL);
	assert_unchanged(mm, &s);
	/* Nothing there: fine.  The whole space: fine. */
	assert_int_equal(vm_munmap(mm, BASE + 8 * PG, PG), 0);
	assert_int_equal(vm_munmap(mm, top - PG, PG), 0);
	assert_unchanged(mm, &s);
	assert_int_equal(vm_munmap(mm, 0, top), 0);
	assert_int_equal(mm->map_count, 0);
	assert_int_equal(mm->total_vm, 0);
	mm_exit(mm);
}

static void test_mprotect_args(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct snap s;

	assert_int_equal(vm_mmap(mm, BASE, 4 * PG, RW, ANON_PRIV | MAP_FIXED),
			 BASE);
	assert_int_equal(
		vm_mmap(mm, BASE + 6 * PG, 2 * PG, RW, ANON_PRIV | MAP_FIXED),
		BASE + 6 * PG);
	take_snap(mm, &s);
	assert_int_equal(vm_mprotect(mm, BASE + 1, PG, PROT_READ), -EINVAL);
	assert_int_equal(vm_mprotect(mm, BASE, PG, 0x8), -EINVAL);
	assert_int_equal(vm_mprotect(mm, BASE, PG, RW | 0x100), -EINVAL);
	/* Length 0 does nothing, even where nothing is mapped. */
	assert_int_equal(vm_mprotect(mm, BASE, 0, PROT_READ), 0);
	assert_int_equal(vm_mprotect(mm, 0, 0, PROT_READ), 0);
	/* Wrapping; not mapped; beyond the space; a hole at the start. */
	assert_int_equal(vm_mprotect(mm, BASE, ~0UL, PROT_READ), -ENOMEM);
	assert_int_equal(vm_mprotect(mm, BASE, -BASE, PROT_READ), -ENOMEM);
	assert_int_equal(vm_mprotect(mm, BASE + 4 * PG, PG, PROT_READ),
			 -ENOMEM);
	assert_int_equal(vm_mprotect(mm, mm->task_size, PG, PROT_READ),
			 -ENOMEM);
	assert_int_equal(vm_mprotect(mm, BASE - PG, 2 * PG, PROT_READ),
			 -ENOMEM);
	assert_unchanged(mm, &s);
	/* A hole in the middle: -ENOMEM after changing the part before. */
	assert_int_equal(vm_mprotect(mm, BASE + 2 * PG, 6 * PG, PROT_READ),
			 -ENOMEM);
	assert_int_equal(mm->map_count, 3);
	/* Across the last page of a VMA and a bit: rounds up, then hole. */
	assert_int_equal(vm_mprotect(mm, BASE + 7 * PG, PG + 1, PROT_READ),
			 -ENOMEM);
	mm_exit(mm);
}

static void test_madvise_args(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct snap s;

	assert_int_equal(vm_mmap(mm, BASE, 4 * PG, RW, ANON_PRIV | MAP_FIXED),
			 BASE);
	take_snap(mm, &s);
	/* Unknown advice comes first, even with other bad arguments. */
	assert_int_equal(vm_madvise(mm, BASE, PG, 99), -EINVAL);
	assert_int_equal(vm_madvise(mm, BASE, PG, -1), -EINVAL);
	assert_int_equal(vm_madvise(mm, BASE + 1, 0, 99), -EINVAL);
	assert_int_equal(vm_madvise(mm, BASE + 1, PG, MADV_DONTNEED), -EINVAL);
	assert_int_equal(vm_madvise(mm, BASE, ~0UL, MADV_DONTNEED), -EINVAL);
	assert_int_equal(vm_madvise(mm, BASE, -BASE + PG, MADV_HUGEPAGE),
			 -EINVAL);
	/* Length 0 does nothing, even where nothing is mapped. */
	assert_int_equal(vm_madvise(mm, 0, 0, MADV_HUGEPAGE), 0);
	for (int a = 0; a < 4; a++) {
		int advice[] = { MADV_DONTNEED, MADV_WILLNEED, MADV_HUGEPAGE,
				 MADV_NOHUGEPAGE };

		assert_int_equal(vm_madvise(mm, BASE + 4 * PG, PG, advice[a]),
				 -ENOMEM);
		assert_int_equal(vm_madvise(mm, mm->task_size, PG, advice[a]),
				 -ENOMEM);
	}
	assert_unchanged(mm, &s);
	/* A hole after the mapping: applied, then -ENOMEM. */
	assert_int_equal(vm_madvise(mm, BASE + 2 * PG, 4 * PG, MADV_HUGEPAGE),
			 -ENOMEM);
	assert_int_equal(mm->map_count, 2);
	mm_exit(mm);
}

static void test_mremap_args(void **state)
{
	struct mm_struct *mm = mm_alloc();
	unsigned long top = mm->task_size;
	const unsigned long MM = MREMAP_MAYMOVE, FX = MREMAP_FIXED,
			    DU = MREMAP_DONTUNMAP;
	struct snap s;

	assert_int_equal(vm_mmap(mm, BASE, 4 * PG, RW, ANON_PRIV | MAP_FIXED),
			 BASE);
	assert_int_equal(vm_mmap(mm, BASE + 4 * PG, 4 * PG, PROT_READ,
				 ANON_PRIV | MAP_FIXED),
			 BASE + 4 * PG);
	take_snap(mm, &s);
	/* Flag rules. */
	assert_int_equal(vm_mremap(mm, BASE, PG, PG, 8, 0), -EINVAL);
	assert_int_equal(vm_mremap(mm, BASE, PG, PG, FX, BASE + 20 * PG),
			 -EINVAL);
	assert_int_equal(vm_mremap(mm, BASE, PG, PG, DU, 0), -EINVAL);
	assert_int_equal(vm_mremap(mm, BASE, PG, 2 * PG, MM | DU, 0), -EINVAL);
	/* DONTUNMAP compares the lengths before rounding, as Linux. */
	assert_int_equal(vm_mremap(mm, BASE, PG, PG - 1, MM | DU, 0), -EINVAL);
	/* Addresses and lengths. */
	assert_int_equal(vm_mremap(mm, BASE + 1, PG, PG, 0, 0), -EINVAL);
	assert_int_equal(vm_mremap(mm, BASE, PG, 0, 0, 0), -EINVAL);
	assert_int_equal(vm_mremap(mm, BASE, 0, PG, MM, 0), -EINVAL);
	assert_int_equal(vm_mremap(mm, BASE, PG, ~0UL, MM, 0), -EINVAL);
	assert_int_equal(vm_mremap(mm, BASE, PG, PG, MM | FX, BASE + 21),
			 -EINVAL);
	assert_int_equal(vm_mremap(mm, BASE, PG, 2 * PG, MM | FX, top - PG),
			 -EINVAL);
	assert_int_equal(vm_mremap(mm, BASE, PG, top + PG, MM | FX, 0),
			 -EINVAL);
	/* Overlapping old and new ranges, either way. */
	assert_int_equal(
		vm_mremap(mm, BASE, 2 * PG, 2 * PG, MM | FX, BASE + PG),
		-EINVAL);
	assert_int_equal(
		vm_mremap(mm, BASE + PG, 2 * PG, 2 * PG, MM | FX, BASE),
		-EINVAL);
	assert_int_equal(
		vm_mremap(mm, BASE, 2 * PG, 2 * PG, MM | DU, BASE + PG),
		-EINVAL);
	assert_int_equal(vm_mremap(mm, BASE, PG, PG, MM | FX, 0), -EPERM);
	/* The old range not inside one VMA. */
	assert_int_equal(vm_mremap(mm, BASE + 8 * PG, PG, PG, 0, 0), -EFAULT);
	assert_int_equal(vm_mremap(mm, BASE + 8 * PG, PG, 2 * PG, MM, 0),
			 -EFAULT);
	assert_int_equal(vm_mremap(mm, BASE + 3 * PG, 2 * PG, PG, 0, 0),
			 -EFAULT);
	assert_int_equal(vm_mremap(mm, BASE + 4 * PG, 8 * PG, PG, MM, 0),
			 -EFAULT);
	assert_int_equal(vm_mremap(mm, BASE + 7 * PG, 2 * PG, 2 * PG, MM | FX,
				   BASE + 20 * PG),
			 -EFAULT);
	assert_int_equal(vm_mremap(mm, -PG, 2 * PG, PG, 0, 0), -EFAULT);
	/* Growing with no room and no MAYMOVE. */
	assert_int_equal(vm_mremap(mm, BASE, 4 * PG, 5 * PG, 0, 0), -ENOMEM);
	assert_unchanged(mm, &s);
	mm_exit(mm);
}

/* ---- allocation failure ------------------------------------------------ */

/*
 * Run @op with the n-th allocation failing, n = 1, 2, ... until it
 * succeeds.  Every failure must be -ENOMEM and leave the VMA set, the
 * objects and the frames as they were.  Return how many failures there
 * were (so a test can insist the operation allocates at all).
 */
static int inject_until_success(struct mm_struct *mm, long (*op)(void *),
				void *arg, long want)
{
	int failures = 0;

	for (long n = 1; n < 100; n++) {
		struct snap s;
		long objs = kmalloc_live_objects();
		unsigned long pages = nr_free_pages();
		long ret;

		take_snap(mm, &s);
		fault_inject_nth(n);
		ret = op(arg);
		fault_inject_off();
		if (ret == want)
			return failures;
		assert_int_equal(ret, -ENOMEM);
		assert_unchanged(mm, &s);
		assert_int_equal(kmalloc_live_objects(), objs);
		assert_int_equal(nr_free_pages(), pages);
		failures++;
	}
	fail();
	return -1;
}

struct op_args {
	struct mm_struct *mm;
	unsigned long a, b, c, d, e;
};

static long op_mmap(void *p)
{
	struct op_args *o = p;

	return vm_mmap(o->mm, o->a, o->b, o->c, o->d);
}

static long op_munmap(void *p)
{
	struct op_args *o = p;

	return vm_munmap(o->mm, o->a, o->b);
}

static long op_mprotect(void *p)
{
	struct op_args *o = p;

	return vm_mprotect(o->mm, o->a, o->b, o->c);
}

static long op_madvise(void *p)
{
	struct op_args *o = p;

	return vm_madvise(o->mm, o->a, o->b, o->c);
}

static long op_mremap(void *p)
{
	struct op_args *o = p;

	return vm_mremap(o->mm, o->a, o->b, o->c, o->d, o->e);
}

static void test_enomem(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct op_args o = { .mm = mm };

	/* mmap, private and shared: the VMA (and the object). */
	o = (struct op_args){ mm, BASE, 16 * PG, RW, ANON_PRIV | MAP_FIXED };
	assert_true(inject_until_success(mm, op_mmap, &o, BASE) >= 1);
	o = (struct op_args){ mm, BASE + 32 * PG, 4 * PG, RW,
			      ANON_SHARED | MAP_FIXED };
	assert_true(inject_until_success(mm, op_mmap, &o, BASE + 32 * PG) >= 2);
	/* MAP_FIXED in the middle: the VMA and two splits. */
	o = (struct op_args){ mm, BASE + 4 * PG, 2 * PG, PROT_READ,
			      ANON_PRIV | MAP_FIXED };
	assert_true(inject_until_success(mm, op_mmap, &o, BASE + 4 * PG) >= 3);
	/* munmap in the middle: one split. */
	o = (struct op_args){ mm, BASE + PG, PG };
	assert_true(inject_until_success(mm, op_munmap, &o, 0) >= 1);
	/* mprotect and madvise in the middle: two splits. */
	o = (struct op_args){ mm, BASE + 8 * PG, 2 * PG, PROT_READ };
	assert_true(inject_until_success(mm, op_mprotect, &o, 0) >= 2);
	o = (struct op_args){ mm, BASE + 11 * PG, 2 * PG, MADV_HUGEPAGE };
	assert_true(inject_until_success(mm, op_madvise, &o, 0) >= 2);
	/* mremap: a move out of the middle of a VMA; a shared grow. */
	o = (struct op_args){ mm,
			      BASE + 13 * PG,
			      2 * PG,
			      4 * PG,
			      MREMAP_MAYMOVE | MREMAP_FIXED,
			      BASE + 64 * PG };
	assert_true(inject_until_success(mm, op_mremap, &o, BASE + 64 * PG) >=
		    2);
	o = (struct op_args){ mm, BASE + 32 * PG, 4 * PG, 8 * PG, 0, 0 };
	inject_until_success(mm, op_mremap, &o, BASE + 32 * PG);
	mm_exit(mm);
}

/* ---- contents (need the page-table layer) ------------------------------ */

#define NOPFN (~0UL)

/* The pfn mapped at @va, or NOPFN. */
static unsigned long pfn_at(struct mm_struct *mm, unsigned long va)
{
	unsigned long pfn = 0;
	u64 e;

	if (follow_pte_pfn(mm, va, &pfn, &e))
		return NOPFN;
	return pfn;
}

static u64 load(struct sim_cpu *cpu, unsigned long va)
{
	u64 v = ~0ULL;

	assert_int_equal(cpu_load_u64(cpu, va, &v), 0);
	return v;
}

static void fill(struct sim_cpu *cpu, unsigned long va, int pages, u64 tag)
{
	for (int i = 0; i < pages; i++)
		assert_int_equal(cpu_store_u64(cpu, va + i * PG + 8, tag + i),
				 0);
}

static void test_mremap_contents(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	unsigned long pfns[16], nr_free;
	long n;
	u64 v;

	assert_false(IS_ERR(cpu));
	assert_int_equal(vm_mmap(mm, BASE, 16 * PG, RW, ANON_PRIV | MAP_FIXED),
			 BASE);
	assert_int_equal(vm_mmap(mm, BASE + 16 * PG, PG, PROT_READ,
				 ANON_PRIV | MAP_FIXED),
			 BASE + 16 * PG);
	fill(cpu, BASE, 16, 0x1000);
	for (int i = 0; i < 16; i++) {
		pfns[i] = pfn_at(mm, BASE + i * PG);
		assert_int_not_equal(pfns[i], NOPFN);
	}
	nr_free = nr_free_pages();
	/* Grow: cannot in place, moves.  The same frames, the same data. */
	n = vm_mremap(mm, BASE, 16 * PG, 32 * PG, MREMAP_MAYMOVE, 0);
	assert_false(IS_ERR_VALUE(n));
	assert_int_not_equal(n, BASE);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(pfn_at(mm, n + i * PG), pfns[i]);
		assert_int_equal(pfn_at(mm, BASE + i * PG), NOPFN);
		assert_int_equal(load(cpu, n + i * PG + 8), 0x1000 + i);
	}
	assert_int_equal(load(cpu, n + 20 * PG), 0);
	/* The old range is gone: a fault there is a SIGSEGV. */
	assert_int_equal(cpu_load_u64(cpu, BASE, &v), -EFAULT);
	/* Shrink-move back with FIXED: the first 8 pages come along, the
	 * other 8 frames are freed. */
	n = vm_mremap(mm, n, 32 * PG, 8 * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
		      BASE);
	assert_int_equal(n, BASE);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pfn_at(mm, BASE + i * PG), pfns[i]);
		assert_int_equal(load(cpu, BASE + i * PG + 8), 0x1000 + i);
	}
	assert_true(nr_free_pages() >= nr_free + 8);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_mremap_dontunmap_contents(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	unsigned long pfns[4];
	long n;

	assert_false(IS_ERR(cpu));
	/* Private: the old range stays mapped and reads zeroes. */
	assert_int_equal(vm_mmap(mm, BASE, 4 * PG, RW, ANON_PRIV | MAP_FIXED),
			 BASE);
	fill(cpu, BASE, 4, 0x2000);
	for (int i = 0; i < 4; i++)
		pfns[i] = pfn_at(mm, BASE + i * PG);
	n = vm_mremap(mm, BASE, 4 * PG, 4 * PG,
		      MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
	assert_false(IS_ERR_VALUE(n));
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pfn_at(mm, n + i * PG), pfns[i]);
		assert_int_equal(load(cpu, n + i * PG + 8), 0x2000 + i);
		assert_int_equal(load(cpu, BASE + i * PG + 8), 0);
	}
	/* Shared: the old range faults the object's pages back in. */
	assert_int_equal(
		vm_mmap(mm, BASE + 8 * PG, 4 * PG, RW, ANON_SHARED | MAP_FIXED),
		BASE + 8 * PG);
	fill(cpu, BASE + 8 * PG, 4, 0x3000);
	n = vm_mremap(mm, BASE + 8 * PG, 4 * PG, 4 * PG,
		      MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
	assert_false(IS_ERR_VALUE(n));
	for (int i = 0; i < 4; i++) {
		assert_int_equal(load(cpu, n + i * PG + 8), 0x3000 + i);
		assert_int_equal(load(cpu, BASE + (8 + i) * PG + 8),
				 0x3000 + i);
		assert_int_equal(pfn_at(mm, n + i * PG),
				 pfn_at(mm, BASE + (8 + i) * PG));
	}
	cpu_destroy(cpu);
	mm_exit(mm);
}

/* A move whose page-table allocation fails is undone: data in place. */
static void test_mremap_move_enomem_contents(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	struct op_args o;

	assert_false(IS_ERR(cpu));
	assert_int_equal(vm_mmap(mm, BASE, 8 * PG, RW, ANON_PRIV | MAP_FIXED),
			 BASE);
	fill(cpu, BASE, 8, 0x4000);
	/* Far away: new tables at every level are needed. */
	o = (struct op_args){ mm,
			      BASE,
			      8 * PG,
			      8 * PG,
			      MREMAP_MAYMOVE | MREMAP_FIXED,
			      0x7e0000000000UL };
	assert_true(inject_until_success(mm, op_mremap, &o, o.e) >= 2);
	for (int i = 0; i < 8; i++)
		assert_int_equal(load(cpu, o.e + i * PG + 8), 0x4000 + i);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_dontneed(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	unsigned long nr_free;

	assert_false(IS_ERR(cpu));
	assert_int_equal(vm_mmap(mm, BASE, 8 * PG, RW, ANON_PRIV | MAP_FIXED),
			 BASE);
	assert_int_equal(
		vm_mmap(mm, BASE + 8 * PG, 8 * PG, RW, ANON_SHARED | MAP_FIXED),
		BASE + 8 * PG);
	fill(cpu, BASE, 16, 0x5000);
	nr_free = nr_free_pages();
	/* Across both VMAs, from the middle of each. */
	assert_int_equal(vm_madvise(mm, BASE + 4 * PG, 8 * PG, MADV_DONTNEED),
			 0);
	for (int i = 4; i < 12; i++)
		assert_int_equal(pfn_at(mm, BASE + i * PG), NOPFN);
	/* The private frames are freed; the shared ones stay in the object. */
	assert_int_equal(nr_free_pages(), nr_free + 4);
	for (int i = 0; i < 16; i++) {
		u64 want = (i >= 4 && i < 8) ? 0 : 0x5000 + i;

		assert_int_equal(load(cpu, BASE + i * PG + 8), want);
	}
	/* The VMAs are untouched. */
	assert_int_equal(mm->map_count, 2);
	cpu_destroy(cpu);
	mm_exit(mm);
}

static void test_populate(void **state)
{
	struct mm_struct *mm = mm_alloc();
	long a, b, c;

	a = vm_mmap(mm, 0, 64 * PG, RW, ANON_PRIV | MAP_POPULATE);
	b = vm_mmap(mm, 0, 16 * PG, PROT_READ, ANON_PRIV | MAP_POPULATE);
	c = vm_mmap(mm, 0, 16 * PG, RW, ANON_SHARED | MAP_POPULATE);
	assert_false(IS_ERR_VALUE(a) || IS_ERR_VALUE(b) || IS_ERR_VALUE(c));
	for (int i = 0; i < 64; i++) {
		unsigned long pfn;
		u64 e;

		assert_int_equal(follow_pte_pfn(mm, a + i * PG, &pfn, &e), 0);
		/* Write-populated: a private writable frame. */
		assert_true(e & _PAGE_RW);
		if (i < 16) {
			assert_int_equal(
				follow_pte_pfn(mm, b + i * PG, &pfn, &e), 0);
			assert_int_equal(
				follow_pte_pfn(mm, c + i * PG, &pfn, &e), 0);
		}
	}
	/* PROT_NONE: nothing to populate, not an error. */
	a = vm_mmap(mm, 0, 4 * PG, PROT_NONE, ANON_PRIV | MAP_POPULATE);
	assert_false(IS_ERR_VALUE(a));
	assert_int_equal(pfn_at(mm, a), NOPFN);
	/* MADV_WILLNEED populates (read). */
	a = vm_mmap(mm, 0, 8 * PG, RW, ANON_PRIV);
	assert_int_equal(pfn_at(mm, a), NOPFN);
	assert_int_equal(vm_madvise(mm, a, 8 * PG, MADV_WILLNEED), 0);
	for (int i = 0; i < 8; i++) {
		unsigned long pfn;
		u64 e;

		assert_int_equal(follow_pte_pfn(mm, a + i * PG, &pfn, &e), 0);
	}
	mm_exit(mm);
}

/* munmap and mprotect as a CPU sees them; all frames back after munmap. */
static void test_munmap_mprotect_contents(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	unsigned long nr_free = nr_free_pages(), pt = mm_pgtables_pages(mm);
	u64 v;

	assert_false(IS_ERR(cpu));
	assert_int_equal(
		vm_mmap(mm, BASE, 1024 * PG, RW, ANON_PRIV | MAP_FIXED), BASE);
	fill(cpu, BASE, 1024, 0x6000);
	assert_int_equal(vm_mprotect(mm, BASE + 10 * PG, 10 * PG, PROT_READ),
			 0);
	assert_int_equal(cpu_store_u64(cpu, BASE + 10 * PG, 1), -EACCES);
	assert_int_equal(load(cpu, BASE + 15 * PG + 8), 0x6000 + 15);
	assert_int_equal(vm_mprotect(mm, BASE + 10 * PG, 10 * PG, PROT_NONE),
			 0);
	assert_int_equal(cpu_load_u64(cpu, BASE + 10 * PG, &v), -EACCES);
	assert_int_equal(vm_mprotect(mm, BASE, 1024 * PG, RW), 0);
	assert_int_equal(mm->map_count, 1);
	assert_int_equal(cpu_store_u64(cpu, BASE + 10 * PG, 1), 0);
	assert_int_equal(load(cpu, BASE + 19 * PG + 8), 0x6000 + 19);
	/* MAP_FIXED over the middle: fresh zeroes there. */
	assert_int_equal(
		vm_mmap(mm, BASE + 512 * PG, 8 * PG, RW, ANON_PRIV | MAP_FIXED),
		BASE + 512 * PG);
	assert_int_equal(load(cpu, BASE + 512 * PG + 8), 0);
	assert_int_equal(load(cpu, BASE + 520 * PG + 8), 0x6000 + 520);
	/* Unmapping everything returns every frame and table. */
	assert_int_equal(vm_munmap(mm, BASE, 1024 * PG), 0);
	assert_int_equal(cpu_load_u64(cpu, BASE, &v), -EFAULT);
	assert_int_equal(get_mm_counter(mm, MM_ANONPAGES), 0);
	assert_int_equal(mm_pgtables_pages(mm), pt);
	assert_int_equal(nr_free_pages(), nr_free);
	cpu_destroy(cpu);
	mm_exit(mm);
}

/*
 * munmap frees only the tables nobody else uses: a PTE table shared with
 * the neighbour below (floor) or above (ceiling) stays, and goes with the
 * last user.
 */
static void test_munmap_shared_tables(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	unsigned long pt = mm_pgtables_pages(mm), nr_free = nr_free_pages();

	assert_false(IS_ERR(cpu));
	for (int up = 0; up < 2; up++) {
		assert_int_equal(
			vm_mmap(mm, BASE, 4 * PG, RW, ANON_PRIV | MAP_FIXED),
			BASE);
		assert_int_equal(vm_mmap(mm, BASE + 4 * PG, 4 * PG, RW,
					 ANON_SHARED | MAP_FIXED),
				 BASE + 4 * PG);
		assert_int_equal(vm_mmap(mm, BASE + 8 * PG, 4 * PG, RW,
					 ANON_PRIV | MAP_FIXED),
				 BASE + 8 * PG);
		fill(cpu, BASE, 12, 0x7000);
		/* The middle one first, then one side, then the other. */
		assert_int_equal(vm_munmap(mm, BASE + 4 * PG, 4 * PG), 0);
		assert_int_equal(load(cpu, BASE + 3 * PG + 8), 0x7000 + 3);
		assert_int_equal(load(cpu, BASE + 8 * PG + 8), 0x7000 + 8);
		assert_int_equal(
			vm_munmap(mm, up ? BASE : BASE + 8 * PG, 4 * PG), 0);
		assert_int_equal(load(cpu, (up ? BASE + 8 * PG : BASE) + 8),
				 0x7000 + (up ? 8 : 0));
		assert_int_equal(vm_munmap(mm, BASE, 12 * PG), 0);
		assert_int_equal(mm_pgtables_pages(mm), pt);
		assert_int_equal(nr_free_pages(), nr_free);
	}
	cpu_destroy(cpu);
	mm_exit(mm);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_mmap_args),
		T(test_munmap_args),
		T(test_mprotect_args),
		T(test_madvise_args),
		T(test_mremap_args),
		T(test_enomem),
		T(test_mremap_contents),
		T(test_mremap_dontunmap_contents),
		T(test_mremap_move_enomem_contents),
		T(test_dontneed),
		T(test_populate),
		T(test_munmap_mprotect_contents),
		T(test_munmap_shared_tables),
	};

	/* Set up physical memory before the first setup() samples it. */
	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
