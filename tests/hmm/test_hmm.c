// SPDX-License-Identifier: MIT
/*
 * hmm_range_fault() (src/hmm/hmm.c): what it reports for every kind of
 * entry (none, present read-only and writable, the zero page, PMD and PUD
 * huge leaves with their orders, PROT_NONE, shared memory), every request
 * combination (snapshot, REQ_FAULT, REQ_WRITE, default_flags against
 * per-page requests through pfn_flags_mask), every error (-EBUSY for an
 * invalidation after read_begin and for one caused by its own fault,
 * -EFAULT outside VMAs / VM_IO / no VM_READ, -EPERM, -ENOMEM by failure
 * injection, -EINVAL), and a real-thread stress of the driver protocol
 * against munmap, mprotect and MADV_DONTNEED that checks, under the driver
 * lock, that every device entry still matches the CPU page table.
 *
 * Runs with a 3 GiB arena so a free 1 GiB block exists for the PUD leaf.
 */
#include "test_util.h"
#include <sched.h>
#include <mmirror/cpu.h>
#include <mmirror/hmm.h>
#include <mmirror/mm.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>

#define V HMM_PFN_VALID
#define W HMM_PFN_WRITE
#define E HMM_PFN_ERROR
#define ORDER(o) ((unsigned long)(o) << HMM_PFN_ORDER_SHIFT)

/* A minimal driver: an interval notifier and a device page table. */
struct tdrv {
	struct mmu_interval_notifier mni;
	spinlock_t lock; /* the driver lock */
	unsigned long start, npages;
	unsigned long *dev; /* device page table (hmm_pfns words) */
	long calls;
};

static bool tdrv_invalidate(struct mmu_interval_notifier *mni,
			    const struct mmu_notifier_range *range,
			    unsigned long cur_seq)
{
	struct tdrv *d = container_of(mni, struct tdrv, mni);
	unsigned long s = range->start > d->start ? range->start : d->start;
	unsigned long dend = d->start + (d->npages << PAGE_SHIFT);
	unsigned long e = range->end < dend ? range->end : dend;

	spin_lock(&d->lock);
	mmu_interval_set_seq(mni, cur_seq);
	d->calls++;
	for (unsigned long a = s; a < e; a += PAGE_SIZE)
		d->dev[(a - d->start) >> PAGE_SHIFT] = 0;
	spin_unlock(&d->lock);
	return true;
}

static const struct mmu_interval_notifier_ops tdrv_ops = {
	.invalidate = tdrv_invalidate,
};

static void tdrv_init(struct tdrv *d, struct mm_struct *mm, unsigned long start,
		      unsigned long npages)
{
	memset(d, 0, sizeof(*d));
	spin_lock_init(&d->lock);
	d->start = start;
	d->npages = npages;
	d->dev = calloc(npages, sizeof(*d->dev));
	assert_non_null(d->dev);
	assert_int_equal(mmu_interval_notifier_insert(&d->mni, mm, start,
						      npages << PAGE_SHIFT,
						      &tdrv_ops),
			 0);
}

static void tdrv_fini(struct tdrv *d)
{
	mmu_interval_notifier_remove(&d->mni);
	free(d->dev);
}

/* One hmm_range_fault() with a fresh read_begin, retried on -EBUSY. */
static int hrf(struct tdrv *d, unsigned long start, unsigned long end,
	       unsigned long *pfns, unsigned long dflt, unsigned long mask)
{
	struct hmm_range r = {
		.notifier = &d->mni,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
		.default_flags = dflt,
		.pfn_flags_mask = mask,
	};
	int ret;

	do {
		r.notifier_seq = mmu_interval_read_begin(&d->mni);
		mmap_read_lock(d->mni.mm);
		ret = hmm_range_fault(&r);
		mmap_read_unlock(d->mni.mm);
	} while (ret == -EBUSY);
	return ret;
}

/* The CPU's view of @va as an hmm output word (0: not present). */
static unsigned long cpu_word(struct mm_struct *mm, unsigned long va)
{
	unsigned long pfn;
	u64 e;

	if (follow_pte_pfn(mm, va, &pfn, &e) || !(e & _PAGE_PRESENT))
		return 0;
	return pfn | V | (e & _PAGE_RW ? W : 0);
}

static unsigned long map(struct mm_struct *mm, unsigned long len,
			 unsigned long prot, unsigned long flags)
{
	long a = vm_mmap(mm, 0, len, prot, flags | MAP_ANONYMOUS);

	assert_false(IS_ERR_VALUE(a));
	return a;
}

static void store(struct sim_cpu *cpu, unsigned long va, u64 v)
{
	assert_int_equal(cpu_store_u64(cpu, va, v), 0);
}

static void load(struct sim_cpu *cpu, unsigned long va)
{
	u64 v;

	assert_int_equal(cpu_load_u64(cpu, va, &v), 0);
}

struct env {
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	unsigned long free_before;
	unsigned long warns_before;
};

static void env_init(struct env *e)
{
	e->free_before = nr_free_pages();
	e->warns_before = mm_warn_count();
	e->mm = mm_alloc();
	assert_false(IS_ERR(e->mm));
	e->cpu = cpu_create(e->mm);
	assert_non_null(e->cpu);
}

static void env_fini(struct env *e)
{
	cpu_destroy(e->cpu);
	mm_exit(e->mm);
	assert_int_equal(nr_free_pages(), e->free_before);
	assert_int_equal(mm_live_count(), 0);
	assert_int_equal(mm_warn_count(), e->warns_before);
}

/* --- entry types, snapshot ------------------------------------------- */

static void test_snapshot_4k_types(void **state)
{
	struct env e;
	struct tdrv d;
	unsigned long pfns[8], a, sh;

	(void)state;
	env_init(&e);
	a = map(e.mm, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	tdrv_init(&d, e.mm, a, 8);
	/* 0 none, 1 zero page (read), 2 written, 3 written then read-only
	 * (mprotect splits the VMA), 4..7 none. */
	load(e.cpu, a + PAGE_SIZE);
	store(e.cpu, a + 2 * PAGE_SIZE, 2);
	store(e.cpu, a + 3 * PAGE_SIZE, 3);
	assert_int_equal(
		vm_mprotect(e.mm, a + 3 * PAGE_SIZE, PAGE_SIZE, PROT_READ), 0);
	memset(pfns, 0xff, sizeof(pfns)); /* inputs are ignored: mask 0 */
	assert_int_equal(hrf(&d, a, a + 8 * PAGE_SIZE, pfns, 0, 0), 0);
	assert_int_equal(pfns[0], 0);
	assert_int_equal(pfns[1], zero_pfn | V);
	assert_int_equal(pfns[2], cpu_word(e.mm, a + 2 * PAGE_SIZE));
	assert_true(pfns[2] & W);
	assert_int_equal(pfns[3], cpu_word(e.mm, a + 3 * PAGE_SIZE));
	assert_int_equal(pfns[3] & (V | W | E), V);
	for (int i = 4; i < 8; i++)
		assert_int_equal(pfns[i], 0);
	assert_int_equal(hmm_pfn_to_map_order(pfns[2]), 0);
	assert_ptr_equal(hmm_pfn_to_page(pfns[2]),
			 pfn_to_page(pfns[2] & ~HMM_PFN_FLAGS));
	/* A snapshot faults nothing. */
	assert_int_equal(get_mm_counter(e.mm, MM_ANONPAGES), 2);
	tdrv_fini(&d);

	/* Shared anonymous memory: the shmem page, writable. */
	sh = map(e.mm, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED);
	tdrv_init(&d, e.mm, sh, 2);
	store(e.cpu, sh, 7);
	assert_int_equal(hrf(&d, sh, sh + 2 * PAGE_SIZE, pfns, 0, 0), 0);
	assert_int_equal(pfns[0], cpu_word(e.mm, sh));
	assert_int_equal(pfns[0] & (V | W), V | W);
	assert_int_equal(pfns[1], 0);
	/* ... and faulted in by request, the page of the shmem object. */
	assert_int_equal(hrf(&d, sh, sh + 2 * PAGE_SIZE, pfns,
			     HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE, 0),
			 0);
	assert_int_equal(pfns[1], cpu_word(e.mm, sh + PAGE_SIZE));
	assert_int_equal(pfns[1] & (V | W), V | W);
	tdrv_fini(&d);
	env_fini(&e);
}

/* A PROT_NONE VMA is not mirrorable: ERROR on a snapshot, -EFAULT on a
 * fault request; its neighbours are reported normally. */
static void test_prot_none(void **state)
{
	struct env e;
	struct tdrv d;
	unsigned long pfns[3], a;

	(void)state;
	env_init(&e);
	a = map(e.mm, 3 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	for (int i = 0; i < 3; i++)
		store(e.cpu, a + i * PAGE_SIZE, i);
	assert_int_equal(vm_mprotect(e.mm, a + PAGE_SIZE, PAGE_SIZE, PROT_NONE),
			 0);
	tdrv_init(&d, e.mm, a, 3);
	assert_int_equal(hrf(&d, a, a + 3 * PAGE_SIZE, pfns, 0, 0), 0);
	assert_int_equal(pfns[0], cpu_word(e.mm, a));
	assert_int_equal(pfns[1], E);
	assert_int_equal(pfns[2], cpu_word(e.mm, a + 2 * PAGE_SIZE));
	assert_int_equal(
		hrf(&d, a, a + 3 * PAGE_SIZE, pfns, HMM_PFN_REQ_FAULT, 0),
		-EFAULT);
	assert_int_equal(pfns[1], E);
	/* Only the pages that ask: the PROT_NONE page asks nothing. */
	pfns[0] = pfns[2] = HMM_PFN_REQ_FAULT;
	pfns[1] = 0;
	assert_int_equal(
		hrf(&d, a, a + 3 * PAGE_SIZE, pfns, 0, HMM_PFN_REQ_FAULT), 0);
	assert_int_equal(pfns[1], E);
	assert_true(pfns[0] & V);
	tdrv_fini(&d);
	env_fini(&e);
}

/* --- huge leaves ------------------------------------------------------ */

static void test_pmd_leaf(void **state)
{
	struct env e;
	struct tdrv d;
	unsigned long n = 2 * HPAGE_PMD_NR, *pfns = calloc(n, sizeof(long));
	unsigned long a, pfn;
	struct mm_struct *child;

	(void)state;
	env_init(&e);
	a = map(e.mm, 2 * PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	assert_true(IS_ALIGNED(a, PMD_SIZE));
	assert_int_equal(vm_madvise(e.mm, a, 2 * PMD_SIZE, MADV_HUGEPAGE), 0);
	store(e.cpu, a + 5 * PAGE_SIZE, 1); /* one PMD leaf, one hole */
	tdrv_init(&d, e.mm, a, n);
	assert_int_equal(hrf(&d, a, a + 2 * PMD_SIZE, pfns, 0, 0), 0);
	pfn = pfns[0] & ~HMM_PFN_FLAGS;
	assert_true(IS_ALIGNED(pfn, HPAGE_PMD_NR));
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		assert_int_equal(pfns[i], (pfn + i) | V | W | ORDER(9));
		assert_int_equal(hmm_pfn_to_map_order(pfns[i]), 9);
	}
	for (unsigned long i = HPAGE_PMD_NR; i < n; i++)
		assert_int_equal(pfns[i], 0);

	/* A range starting inside the leaf gets the right subpages. */
	assert_int_equal(
		hrf(&d, a + 7 * PAGE_SIZE, a + 9 * PAGE_SIZE, pfns, 0, 0), 0);
	assert_int_equal(pfns[0], (pfn + 7) | V | W | ORDER(9));
	assert_int_equal(pfns[1], (pfn + 8) | V | W | ORDER(9));

	/* Fork write-protects the leaf: VALID only, then a write request
	 * breaks COW (and the leaf) and reports a writable page. */
	child = mm_fork(e.mm);
	assert_false(IS_ERR(child));
	assert_int_equal(hrf(&d, a, a + PMD_SIZE, pfns, 0, 0), 0);
	assert_int_equal(pfns[3], (pfn + 3) | V | ORDER(9));
	/* Per-page: only page 3 asks for write (default REQ_FAULT, mask
	 * REQ_WRITE), so only it is COW-broken. */
	memset(pfns, 0, n * sizeof(*pfns));
	pfns[3] = HMM_PFN_REQ_WRITE;
	assert_int_equal(hrf(&d, a, a + PMD_SIZE, pfns, HMM_PFN_REQ_FAULT,
			     HMM_PFN_REQ_WRITE),
			 0);
	assert_true(pfns[3] & W);
	assert_int_equal(pfns[3], cpu_word(e.mm, a + 3 * PAGE_SIZE) |
					  (pfns[3] & HMM_PFN_ORDER_MASK));
	assert_int_not_equal(pfns[3] & ~HMM_PFN_FLAGS, pfn + 3);
	assert_int_equal(pfns[4] & (V | W), V);
	assert_int_equal(pfns[4] & ~HMM_PFN_FLAGS,
			 cpu_word(e.mm, a + 4 * PAGE_SIZE) & ~HMM_PFN_FLAGS);
	mm_exit(child);
	/* Fault the hole with THP: a fresh PMD leaf. */
	assert_int_equal(hrf(&d, a + PMD_SIZE, a + 2 * PMD_SIZE, pfns,
			     HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE, 0),
			 0);
	assert_int_equal(hmm_pfn_to_map_order(pfns[0]), 9);
	assert_int_equal(pfns[511] & ~HMM_PFN_FLAGS,
			 (pfns[0] & ~HMM_PFN_FLAGS) + 511);
	tdrv_fini(&d);
	free(pfns);
	env_fini(&e);
}

static void test_pud_leaf(void **state)
{
	struct env e;
	struct tdrv d;
	unsigned long n = HPAGE_PUD_NR, *pfns = calloc(n, sizeof(long));
	unsigned long a, pfn;

	(void)state;
	env_init(&e);
	thp_set_mode(THP_ALWAYS, true);
	a = map(e.mm, 2 * PUD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	a = ALIGN_UP(a, PUD_SIZE);
	store(e.cpu, a + 8, 1);
	tdrv_init(&d, e.mm, a, n);
	assert_int_equal(hrf(&d, a, a + PUD_SIZE, pfns, 0, 0), 0);
	pfn = pfns[0] & ~HMM_PFN_FLAGS;
	assert_true(IS_ALIGNED(pfn, HPAGE_PUD_NR));
	for (unsigned long i = 0; i < n; i++)
		if (pfns[i] != ((pfn + i) | V | W | ORDER(18)))
			fail_msg("page %lu: %#lx", i, pfns[i]);
	assert_int_equal(hmm_pfn_to_map_order(pfns[12345]), 18);
	/* Faulting requests over a satisfied leaf change nothing. */
	assert_int_equal(hrf(&d, a + PMD_SIZE, a + 2 * PMD_SIZE, pfns,
			     HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE, 0),
			 0);
	assert_int_equal(pfns[0], (pfn + 512) | V | W | ORDER(18));
	tdrv_fini(&d);
	thp_set_mode(THP_MADVISE, false);
	free(pfns);
	env_fini(&e);
}

/* --- requests ----------------------------------------------------------- */

static void test_fault_requests(void **state)
{
	struct env e;
	struct tdrv d;
	unsigned long pfns[8], a;
	const unsigned long F = HMM_PFN_REQ_FAULT, WR = HMM_PFN_REQ_WRITE;

	(void)state;
	env_init(&e);
	a = map(e.mm, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	tdrv_init(&d, e.mm, a, 8);

	/* Per-page requests honoured through the mask. */
	unsigned long in[8] = { 0, F, F | WR, WR, 0, F, 0, 0 };
	memcpy(pfns, in, sizeof(in));
	assert_int_equal(hrf(&d, a, a + 8 * PAGE_SIZE, pfns, 0, F | WR), 0);
	assert_int_equal(pfns[0], 0);
	assert_int_equal(pfns[1], zero_pfn | V); /* read: the zero page */
	assert_int_equal(pfns[2] & (V | W), V | W);
	assert_int_not_equal(pfns[2] & ~HMM_PFN_FLAGS, zero_pfn);
	assert_int_equal(pfns[2], cpu_word(e.mm, a + 2 * PAGE_SIZE));
	assert_int_equal(pfns[3], 0); /* REQ_WRITE alone asks nothing */
	assert_int_equal(pfns[5], zero_pfn | V);
	assert_int_equal(get_mm_counter(e.mm, MM_ANONPAGES), 1);

	/* Per-page requests without the mask are ignored. */
	memcpy(pfns, in, sizeof(in));
	pfns[6] = F | WR;
	assert_int_equal(hrf(&d, a, a + 8 * PAGE_SIZE, pfns, 0, 0), 0);
	assert_int_equal(pfns[6], 0);
	assert_int_equal(pfns[1], zero_pfn | V);

	/* The mask filters bit by bit: with only REQ_FAULT honoured, a
	 * per-page REQ_FAULT | REQ_WRITE is a read fault. */
	memset(pfns, 0, sizeof(pfns));
	pfns[6] = F | WR;
	assert_int_equal(hrf(&d, a, a + 8 * PAGE_SIZE, pfns, 0, F), 0);
	assert_int_equal(pfns[6], zero_pfn | V);
	assert_int_equal(pfns[7], 0);

	/* default REQ_WRITE without REQ_FAULT asks nothing either. */
	assert_int_equal(hrf(&d, a, a + 8 * PAGE_SIZE, pfns, WR, 0), 0);
	assert_int_equal(pfns[7], 0);
	assert_int_equal(pfns[6], zero_pfn | V);

	/* default REQ_FAULT plus a per-page REQ_WRITE on page 5: page 5's
	 * zero page is COW-broken, page 1 stays the zero page, the holes
	 * are read-faulted to the zero page. */
	memset(pfns, 0, sizeof(pfns));
	pfns[5] = WR;
	assert_int_equal(hrf(&d, a, a + 8 * PAGE_SIZE, pfns, F, WR), 0);
	assert_int_equal(pfns[1], zero_pfn | V);
	assert_int_equal(pfns[5], cpu_word(e.mm, a + 5 * PAGE_SIZE));
	assert_int_equal(pfns[5] & (V | W), V | W);
	for (int i = 0; i < 8; i++)
		assert_true(pfns[i] & V);

	/* default write fault: everything writable, matches the CPU. */
	assert_int_equal(hrf(&d, a, a + 8 * PAGE_SIZE, pfns, F | WR, 0), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(pfns[i], cpu_word(e.mm, a + i * PAGE_SIZE));
	for (int i = 0; i < 8; i++)
		assert_int_equal(pfns[i] & (V | W | E), V | W);
	assert_int_equal(get_mm_counter(e.mm, MM_ANONPAGES), 8);
	/* ... and the pages are the CPU's: what the CPU wrote is there. */
	store(e.cpu, a + 3 * PAGE_SIZE + 16, 0x1234);
	assert_int_equal(*(u64 *)(pfn_to_virt(pfns[3] & ~HMM_PFN_FLAGS) + 16),
			 0x1234);
	tdrv_fini(&d);
	env_fini(&e);
}

/* --- errors ------------------------------------------------------------- */

static void test_efault_eperm(void **state)
{
	struct env e;
	struct tdrv d;
	unsigned long pfns[12], a, ro, io;
	struct vm_area_struct *vma;

	(void)state;
	env_init(&e);
	/* [a, a+4) RW | [a+4, a+8) hole | [a+8, a+12) RO */
	a = map(e.mm, 12 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	assert_int_equal(vm_munmap(e.mm, a + 4 * PAGE_SIZE, 4 * PAGE_SIZE), 0);
	ro = a + 8 * PAGE_SIZE;
	assert_int_equal(vm_mprotect(e.mm, ro, 4 * PAGE_SIZE, PROT_READ), 0);
	tdrv_init(&d, e.mm, a, 12);

	/* Snapshot over the hole: ERROR there, 0 elsewhere. */
	assert_int_equal(hrf(&d, a, a + 12 * PAGE_SIZE, pfns, 0, 0), 0);
	for (int i = 0; i < 12; i++)
		assert_int_equal(pfns[i], i >= 4 && i < 8 ? E : 0);
	/* Faulting across the hole: -EFAULT, ERROR on the hole. */
	assert_int_equal(
		hrf(&d, a, a + 12 * PAGE_SIZE, pfns, HMM_PFN_REQ_FAULT, 0),
		-EFAULT);
	for (int i = 4; i < 8; i++)
		assert_int_equal(pfns[i], E);
	/* Write request to the read-only VMA: -EPERM; a read is fine. */
	assert_int_equal(hrf(&d, ro, ro + 4 * PAGE_SIZE, pfns,
			     HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE, 0),
			 -EPERM);
	assert_int_equal(
		hrf(&d, ro, ro + 4 * PAGE_SIZE, pfns, HMM_PFN_REQ_FAULT, 0), 0);
	assert_int_equal(pfns[0], zero_pfn | V);
	/* Present read-only page, write request: still -EPERM. */
	assert_int_equal(hrf(&d, ro, ro + PAGE_SIZE, pfns,
			     HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE, 0),
			 -EPERM);

	/* VM_IO (as a device driver's remap would make it): snapshot
	 * ERROR, fault -EFAULT. */
	io = a;
	mmap_write_lock(e.mm);
	vma = vma_lookup(e.mm, io);
	assert_non_null(vma);
	vma->vm_flags |= VM_IO;
	mmap_write_unlock(e.mm);
	assert_int_equal(hrf(&d, io, io + 4 * PAGE_SIZE, pfns, 0, 0), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pfns[i], E);
	assert_int_equal(
		hrf(&d, io, io + 4 * PAGE_SIZE, pfns, HMM_PFN_REQ_FAULT, 0),
		-EFAULT);
	mmap_write_lock(e.mm);
	vma->vm_flags &= ~VM_IO;
	vma->vm_flags |= VM_PFNMAP;
	mmap_write_unlock(e.mm);
	assert_int_equal(
		hrf(&d, io, io + 4 * PAGE_SIZE, pfns, HMM_PFN_REQ_FAULT, 0),
		-EFAULT);
	mmap_write_lock(e.mm);
	vma->vm_flags &= ~VM_PFNMAP;
	mmap_write_unlock(e.mm);
	assert_int_equal(
		hrf(&d, io, io + 4 * PAGE_SIZE, pfns, HMM_PFN_REQ_FAULT, 0), 0);
	tdrv_fini(&d);
	env_fini(&e);
}

static void test_enomem(void **state)
{
	struct env e;
	struct tdrv d;
	unsigned long pfns[4], a;
	long failed;

	(void)state;
	env_init(&e);
	a = map(e.mm, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	tdrv_init(&d, e.mm, a, 4);
	failed = fault_inject_count();
	fault_inject_nth(1);
	assert_int_equal(hrf(&d, a, a + 4 * PAGE_SIZE, pfns,
			     HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE, 0),
			 -ENOMEM);
	fault_inject_off();
	assert_int_equal(fault_inject_count(), failed + 1);
	/* The second allocation failing (the page after its table). */
	store(e.cpu, a, 1); /* tables exist now */
	fault_inject_nth(1);
	assert_int_equal(hrf(&d, a, a + 4 * PAGE_SIZE, pfns,
			     HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE, 0),
			 -ENOMEM);
	fault_inject_off();
	assert_int_equal(hrf(&d, a, a + 4 * PAGE_SIZE, pfns,
			     HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE, 0),
			 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pfns[i], cpu_word(e.mm, a + i * PAGE_SIZE));
	tdrv_fini(&d);
	env_fini(&e);
}

static void test_einval(void **state)
{
	struct env e;
	struct tdrv d;
	unsigned long pfns[4], a;
	struct hmm_range r;

	(void)state;
	env_init(&e);
	a = map(e.mm, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	tdrv_init(&d, e.mm, a, 4);
	mmap_read_lock(e.mm);
#define TRY(s, en, pf, df)                                                \
	(r = (struct hmm_range){ .notifier = &d.mni,                      \
				 .notifier_seq =                          \
					 mmu_interval_read_begin(&d.mni), \
				 .start = (s),                            \
				 .end = (en),                             \
				 .hmm_pfns = (pf),                        \
				 .default_flags = (df) },                 \
	 hmm_range_fault(&r))
	assert_int_equal(TRY(a + 1, a + PAGE_SIZE, pfns, 0), -EINVAL);
	assert_int_equal(TRY(a, a + PAGE_SIZE + 1, pfns, 0), -EINVAL);
	assert_int_equal(TRY(a, a, pfns, 0), -EINVAL);
	assert_int_equal(TRY(a + PAGE_SIZE, a, pfns, 0), -EINVAL);
	assert_int_equal(TRY(a, e.mm->task_size + PAGE_SIZE, pfns, 0), -EINVAL);
	assert_int_equal(TRY(e.mm->task_size, 0, pfns, 0), -EINVAL);
	assert_int_equal(TRY(a, -PAGE_SIZE, pfns, 0), -EINVAL);
	assert_int_equal(TRY(a, a + PAGE_SIZE, pfns, HMM_PFN_ERROR), -EINVAL);
	assert_int_equal(TRY(a, a + PAGE_SIZE, pfns, 1), -EINVAL);
	/* Misuse: NULL pointers warn too. */
	mm_warn_set_quiet(true);
	unsigned long warns = mm_warn_count();
	assert_int_equal(TRY(a, a + PAGE_SIZE, NULL, 0), -EINVAL);
	r.notifier = NULL;
	assert_int_equal(hmm_range_fault(&r), -EINVAL);
	assert_int_equal(hmm_range_fault(NULL), -EINVAL);
	assert_int_equal(mm_warn_count(), warns + 3);
	mm_warn_set_quiet(false);
	/* The good call still works. */
	assert_int_equal(TRY(a, a + 4 * PAGE_SIZE, pfns, 0), 0);
#undef TRY
	mmap_read_unlock(e.mm);
	tdrv_fini(&d);
	e.warns_before += 3; /* ours, on purpose */
	env_fini(&e);
}

/* -EBUSY: an invalidation between read_begin and the call, one caused by
 * the call's own fault (COW of the zero page), and none for an
 * invalidation outside the notifier's range. */
static void test_ebusy(void **state)
{
	struct env e;
	struct tdrv d;
	unsigned long pfns[4], a;
	struct hmm_range r;

	(void)state;
	env_init(&e);
	a = map(e.mm, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	tdrv_init(&d, e.mm, a, 4); /* only the first 4 pages */
	store(e.cpu, a, 1);
	r = (struct hmm_range){ .notifier = &d.mni,
				.start = a,
				.end = a + 4 * PAGE_SIZE,
				.hmm_pfns = pfns };

	r.notifier_seq = mmu_interval_read_begin(&d.mni);
	assert_int_equal(vm_madvise(e.mm, a, PAGE_SIZE, MADV_DONTNEED), 0);
	mmap_read_lock(e.mm);
	assert_int_equal(hmm_range_fault(&r), -EBUSY);
	mmap_read_unlock(e.mm);

	/* Outside the subscription: no -EBUSY. */
	r.notifier_seq = mmu_interval_read_begin(&d.mni);
	store(e.cpu, a + 6 * PAGE_SIZE, 1);
	assert_int_equal(
		vm_madvise(e.mm, a + 6 * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED),
		0);
	mmap_read_lock(e.mm);
	assert_int_equal(hmm_range_fault(&r), 0);
	mmap_read_unlock(e.mm);
	assert_false(mmu_interval_read_retry(&d.mni, r.notifier_seq));

	/* The call's own fault invalidates: the zero page at a+PAGE is COW
	 * broken by a write request, which notifies the range. */
	load(e.cpu, a + PAGE_SIZE);
	r.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
	r.notifier_seq = mmu_interval_read_begin(&d.mni);
	long calls = d.calls;
	unsigned long anon = get_mm_counter(e.mm, MM_ANONPAGES);
	mmap_read_lock(e.mm);
	assert_int_equal(hmm_range_fault(&r), -EBUSY);
	mmap_read_unlock(e.mm);
	assert_int_equal(d.calls, calls + 1);
	/* It stopped at once: page 0 (none) and page 1 (the COW) faulted,
	 * pages 2 and 3 not. */
	assert_int_equal(get_mm_counter(e.mm, MM_ANONPAGES), anon + 2);
	/* Retried with a fresh seq it completes. */
	r.notifier_seq = mmu_interval_read_begin(&d.mni);
	mmap_read_lock(e.mm);
	assert_int_equal(hmm_range_fault(&r), 0);
	mmap_read_unlock(e.mm);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pfns[i], cpu_word(e.mm, a + i * PAGE_SIZE));
	tdrv_fini(&d);
	env_fini(&e);
}

/* -EBUSY under a concurrent invalidation from another thread: the thread
 * invalidates after read_begin and before the call (ordered by a flag). */
static struct {
	struct mm_struct *mm;
	unsigned long addr;
	int go, done;
} ebusy_thr;

static void *ebusy_invalidator(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&ebusy_thr.go, __ATOMIC_ACQUIRE))
		sched_yield();
	CHECK(vm_mprotect(ebusy_thr.mm, ebusy_thr.addr, PAGE_SIZE, PROT_READ) ==
	      0);
	__atomic_store_n(&ebusy_thr.done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_ebusy_thread(void **state)
{
	struct env e;
	struct tdrv d;
	unsigned long pfns[2], a;
	struct hmm_range r;
	pthread_t t;

	(void)state;
	env_init(&e);
	a = map(e.mm, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	store(e.cpu, a, 1);
	tdrv_init(&d, e.mm, a, 2);
	ebusy_thr.mm = e.mm;
	ebusy_thr.addr = a;
	ebusy_thr.go = ebusy_thr.done = 0;
	assert_int_equal(pthread_create(&t, NULL, ebusy_invalidator, NULL), 0);
	r = (struct hmm_range){ .notifier = &d.mni,
				.start = a,
				.end = a + 2 * PAGE_SIZE,
				.hmm_pfns = pfns };
	r.notifier_seq = mmu_interval_read_begin(&d.mni);
	__atomic_store_n(&ebusy_thr.go, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&ebusy_thr.done, __ATOMIC_ACQUIRE))
		sched_yield();
	mmap_read_lock(e.mm);
	assert_int_equal(hmm_range_fault(&r), -EBUSY);
	mmap_read_unlock(e.mm);
	pthread_join(t, NULL);
	assert_int_equal(hrf(&d, a, a + 2 * PAGE_SIZE, pfns, 0, 0), 0);
	assert_int_equal(pfns[0] & (V | W), V);
	tdrv_fini(&d);
	env_fini(&e);
}

/* --- stress: the driver protocol against munmap/mprotect/DONTNEED ------- */

#define ST_PAGES 64
#define ST_DRIVERS 2

static struct {
	struct mm_struct *mm;
	struct tdrv d;
	unsigned long base;
	int stop;
	long programmed, checks;
} st;

/* The protocol: read_begin, hmm_range_fault under mmap_lock (read),
 * driver lock, read_retry, program the device table. */
static int st_mirror(unsigned long start, unsigned long end, bool write,
		     unsigned long *pfns)
{
	struct hmm_range r = {
		.notifier = &st.d.mni,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
		.default_flags =
			HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0),
	};
	int ret;

again:
	r.notifier_seq = mmu_interval_read_begin(&st.d.mni);
	mmap_read_lock(st.mm);
	ret = hmm_range_fault(&r);
	mmap_read_unlock(st.mm);
	if (ret == -EBUSY)
		goto again;
	if (ret)
		return ret;
	spin_lock(&st.d.lock);
	if (mmu_interval_read_retry(&st.d.mni, r.notifier_seq)) {
		spin_unlock(&st.d.lock);
		goto again;
	}
	for (unsigned long a = start; a < end; a += PAGE_SIZE) {
		unsigned long i = (a - start) >> PAGE_SHIFT;

		CHECK(pfns[i] & V);
		CHECK(!write || (pfns[i] & W));
		st.d.dev[(a - st.base) >> PAGE_SHIFT] = pfns[i];
	}
	st.programmed++;
	spin_unlock(&st.d.lock);
	return 0;
}

/* Under mmap_lock (read) then the driver lock: every device entry must
 * be what the CPU maps now (mmap_lock first: invalidations take the
 * driver lock under mmap_lock). */
static void st_check(void)
{
	mmap_read_lock(st.mm);
	spin_lock(&st.d.lock);
	for (unsigned long i = 0; i < ST_PAGES; i++) {
		unsigned long dev = st.d.dev[i], cpu;

		if (!dev)
			continue;
		cpu = cpu_word(st.mm, st.base + i * PAGE_SIZE);
		CHECK(cpu & V);
		CHECK((cpu & ~HMM_PFN_FLAGS) == (dev & ~HMM_PFN_FLAGS));
		CHECK(!(dev & W) || (cpu & W));
	}
	st.checks++;
	spin_unlock(&st.d.lock);
	mmap_read_unlock(st.mm);
}

static void *st_driver(void *arg)
{
	uint64_t rng = (uintptr_t)arg;
	unsigned long pfns[8];
	int iters = TEST_SCALE(4000);

	for (int n = 0; n < iters; n++) {
		unsigned long i = test_rand(&rng) % (ST_PAGES - 8);
		unsigned long len = 1 + test_rand(&rng) % 8;
		int ret;

		ret = st_mirror(st.base + i * PAGE_SIZE,
				st.base + (i + len) * PAGE_SIZE,
				test_rand(&rng) & 1, pfns);
		CHECK(ret == 0 || ret == -EFAULT || ret == -EPERM);
		st_check();
	}
	return NULL;
}

static void *st_mutator(void *arg)
{
	uint64_t rng = (uintptr_t)arg;

	while (!__atomic_load_n(&st.stop, __ATOMIC_ACQUIRE)) {
		unsigned long i = test_rand(&rng) % (ST_PAGES - 4);
		unsigned long a = st.base + i * PAGE_SIZE;
		unsigned long len = (1 + test_rand(&rng) % 4) * PAGE_SIZE;
		long r;

		switch (test_rand(&rng) % 5) {
		case 0:
			CHECK(vm_munmap(st.mm, a, len) == 0);
			r = vm_mmap(st.mm, a, len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
			CHECK(r == (long)a);
			break;
		case 1:
			/* -ENOMEM over a hole is fine. */
			(void)vm_mprotect(st.mm, a, len, PROT_READ);
			break;
		case 2:
			(void)vm_mprotect(st.mm, a, len,
					  PROT_READ | PROT_WRITE);
			break;
		case 3:
			(void)vm_madvise(st.mm, a, len, MADV_DONTNEED);
			break;
		default:
			CHECK(vm_munmap(st.mm, a, len) == 0);
			break;
		}
		st_check();
	}
	return NULL;
}

static void test_stress_protocol(void **state)
{
	pthread_t drv[ST_DRIVERS], mut;
	unsigned long free_before = nr_free_pages();
	unsigned long warns_before = mm_warn_count();

	(void)state;
	memset(&st, 0, sizeof(st));
	st.mm = mm_alloc();
	st.base = vm_mmap(st.mm, 0, ST_PAGES * PAGE_SIZE,
			  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	assert_false(IS_ERR_VALUE(st.base));
	tdrv_init(&st.d, st.mm, st.base, ST_PAGES);
	assert_int_equal(pthread_create(&mut, NULL, st_mutator, (void *)99), 0);
	for (long i = 0; i < ST_DRIVERS; i++)
		assert_int_equal(pthread_create(&drv[i], NULL, st_driver,
						(void *)(i + 1)),
				 0);
	for (int i = 0; i < ST_DRIVERS; i++)
		pthread_join(drv[i], NULL);
	__atomic_store_n(&st.stop, 1, __ATOMIC_RELEASE);
	pthread_join(mut, NULL);
	st_check();
	/* The protocol was exercised, not only refused. */
	assert_true(st.programmed > 0);
	assert_true(st.d.calls > 0);
	tdrv_fini(&st.d);
	mm_exit(st.mm);
	assert_int_equal(nr_free_pages(), free_before);
	assert_int_equal(mm_live_count(), 0);
	assert_int_equal(mm_warn_count(), warns_before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_4k_types),
		cmocka_unit_test(test_prot_none),
		cmocka_unit_test(test_pmd_leaf),
		cmocka_unit_test(test_pud_leaf),
		cmocka_unit_test(test_fault_requests),
		cmocka_unit_test(test_efault_eperm),
		cmocka_unit_test(test_enomem),
		cmocka_unit_test(test_einval),
		cmocka_unit_test(test_ebusy),
		cmocka_unit_test(test_ebusy_thread),
		cmocka_unit_test(test_stress_protocol),
	};

	if (mem_init(3UL << 30)) {
		fprintf(stderr, "cannot set up a 3 GiB arena\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
