// SPDX-License-Identifier: MIT
/*
 * Scenarios of the HMM mirror device (drivers/mirror): device and CPU
 * sharing anonymous memory through faults, COW, fork, shared memory, huge
 * pages, two devices, every kind of invalidation, and teardown racing with
 * device access.  Each runs under the coherence oracle and the leak check
 * and asserts the data, zero violations, and that everything came back.
 */
#include "mirror_threads.h"
#include "mirror/mirror_priv.h" /* the driver mutex, for the OOM test */

/* ---- basic access -------------------------------------------------------- */

static void test_anon_read(void **state)
{
	struct scen s;
	unsigned char st[8];
	long a;

	scen_setup(&s, 2);
	a = test_map(s.mm, 8 * P, RW, MAP_PRIVATE);
	/* Never touched: the device reads the zero page, read-only. */
	dev_expect(s.dm, a, 8 * P, 0);
	assert_int_equal(dm_stats(s.dm).entries, 8);
	assert_int_equal(dmirror_snapshot(s.dm, a, a + 8 * P, st), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(st[i], DMIRROR_PROT_ZERO | DMIRROR_PROT_READ);
	/* The CPU writes (COW off the zero page drops the entries): the
	 * device refaults and reads the CPU's data, at any alignment. */
	cpu_write_pat(s.cpu, a, 8 * P, 1);
	assert_int_equal(dm_stats(s.dm).entries, 0);
	dev_expect(s.dm, a + 100, 8 * P - 200, 1);
	dev_expect(s.dm, a + 3 * P - 1, 2, 1);
	assert_true(dm_stats(s.dm).reads >= 8);
	scen_teardown(&s);
}

static void test_anon_write(void **state)
{
	struct scen s;
	long a;

	scen_setup(&s, 2);
	a = test_map(s.mm, 8 * P, RW, MAP_PRIVATE);
	dev_write_pat(s.dm, a + 10, 5 * P, 2);
	assert_true(dm_stats(s.dm).writes >= 5);
	cpu_expect(s.cpu, a + 10, 5 * P, 2);
	cpu_expect(s.cpu, a, 10, 0);
	cpu_expect(s.cpu, a + 10 + 5 * P, 3 * P - 10, 0);
	/* The device reads its own writes back. */
	dev_expect(s.dm, a + 10, 5 * P, 2);
	scen_teardown(&s);
}

static void test_prot_none_fails(void **state)
{
	unsigned char buf[2 * P];
	struct scen s;
	long a, b;

	scen_setup(&s, 1);
	a = test_map(s.mm, 4 * P, PROT_NONE, MAP_PRIVATE);
	assert_int_equal(dmirror_read(s.dm, a, buf, P), -EFAULT);
	assert_int_equal(dmirror_write(s.dm, a + P, buf, 8), -EFAULT);
	assert_int_equal(dmirror_fault(s.dm, a, a + P, false), -EFAULT);
	assert_int_equal(dm_stats(s.dm).entries, 0);
	/* No VMA at all. */
	assert_int_equal(vm_munmap(s.mm, a, 4 * P), 0);
	assert_int_equal(dmirror_read(s.dm, a, buf, 8), -EFAULT);
	/* Across a readable page into a PROT_NONE one: fails, and the
	 * readable page was read before the failing one. */
	b = test_map(s.mm, 2 * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, b, P, 3);
	assert_int_equal(vm_mprotect(s.mm, b + P, P, PROT_NONE), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(dmirror_read(s.dm, b, buf, 2 * P), -EFAULT);
	assert_true(pat_ok(buf, b, P, 3));
	scen_teardown(&s);
}

static void test_readonly_write_fails(void **state)
{
	unsigned char buf[P], st[4];
	struct scen s;
	long a, b;

	scen_setup(&s, 2);
	a = test_map(s.mm, 4 * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, a, 4 * P, 4);
	assert_int_equal(vm_mprotect(s.mm, a, 4 * P, PROT_READ), 0);
	pat_fill(buf, a, P, 9);
	assert_int_equal(dmirror_write(s.dm, a, buf, P), -EPERM);
	dev_expect(s.dm, a, 4 * P, 4);
	/* Present read-only now: a write still refaults and fails. */
	assert_int_equal(dm_stats(s.dm).entries, 4);
	assert_int_equal(dmirror_write(s.dm, a + P, buf, 8), -EPERM);
	assert_int_equal(dmirror_fault(s.dm, a, a + P, true), -EPERM);
	assert_int_equal(dmirror_snapshot(s.dm, a, a + 4 * P, st), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(st[i], DMIRROR_PROT_READ);
	cpu_expect(s.cpu, a, 4 * P, 4);
	/* Fresh PROT_READ memory: zeros to read, nothing to write. */
	b = test_map(s.mm, P, PROT_READ, MAP_PRIVATE);
	dev_expect(s.dm, b, P, 0);
	assert_int_equal(dmirror_write(s.dm, b, buf, 1), -EPERM);
	scen_teardown(&s);
}

static void test_device_cpu_interleave(void **state)
{
	struct scen s;
	unsigned long inv;
	long a;

	scen_setup(&s, 2);
	a = test_map(s.mm, 4 * P, RW, MAP_PRIVATE);
	/* Page 0: writes alternate between the device and the CPU; both
	 * use the same frame, so each sees the other's at once. */
	for (unsigned int tag = 1; tag <= 6; tag++) {
		unsigned long off = tag * 200;

		if (tag & 1) {
			dev_write_pat(s.dm, a + off, 300, tag);
			cpu_expect(s.cpu, a + off, 300, tag);
		} else {
			cpu_write_pat(s.cpu, a + off, 300, tag);
			dev_expect(s.dm, a + off, 300, tag);
		}
	}
	/* Page 1: the device maps the zero page; the CPU's write breaks
	 * COW (an invalidation), the device refaults onto the new frame. */
	dev_expect(s.dm, a + P, P, 0);
	inv = dm_stats(s.dm).invalidations;
	cpu_write_pat(s.cpu, a + P, P, 7);
	assert_true(dm_stats(s.dm).invalidations > inv);
	dev_expect(s.dm, a + P, P, 7);
	scen_teardown(&s);
}

/* ---- fork ---------------------------------------------------------------- */

static void test_fork_cow(void **state)
{
	struct scen s;
	struct mm_struct *child;
	struct sim_cpu *ccpu;
	struct dmirror *cdm;
	unsigned long inv;
	long a;

	scen_setup(&s, 2);
	a = test_map(s.mm, 4 * P, RW, MAP_PRIVATE);
	dev_write_pat(s.dm, a, 4 * P, 1);
	inv = dm_stats(s.dm).invalidations;
	child = mm_fork(s.mm);
	assert_false(IS_ERR_OR_NULL(child));
	/* Fork write-protected the parent: its device lost the entries. */
	assert_true(dm_stats(s.dm).invalidations > inv);
	assert_int_equal(dm_stats(s.dm).entries, 0);
	ccpu = cpu_create(child);
	assert_false(IS_ERR_OR_NULL(ccpu));

	/* The parent's device writes page 0: COW in the parent only. */
	dev_write_pat(s.dm, a, P, 2);
	cpu_expect(ccpu, a, P, 1);
	cpu_expect(s.cpu, a, P, 2);
	/* The child's CPU writes page 1: the parent's device still sees
	 * the parent's data. */
	cpu_write_pat(ccpu, a + P, P, 3);
	dev_expect(s.dm, a + P, P, 1);
	/* A device on the child sees the child's memory; its write stays
	 * in the child. */
	cdm = dm_new(child, "child", 1);
	dev_expect(cdm, a, P, 1);
	dev_expect(cdm, a + P, P, 3);
	dev_write_pat(cdm, a + 2 * P, P, 4);
	cpu_expect(ccpu, a + 2 * P, P, 4);
	dev_expect(s.dm, a + 2 * P, 2 * P, 1);
	cpu_expect(s.cpu, a + 2 * P, 2 * P, 1);

	dmirror_destroy(cdm);
	cpu_destroy(ccpu);
	mm_exit(child);
	scen_teardown(&s);
}

static void test_shared_anon(void **state)
{
	struct scen s;
	struct mm_struct *child;
	struct dmirror *cdm;
	long a;

	scen_setup(&s, 1);
	a = test_map(s.mm, 2 * P, RW, MAP_SHARED);
	cpu_write_pat(s.cpu, a, P, 5);
	child = mm_fork(s.mm);
	assert_false(IS_ERR_OR_NULL(child));
	cdm = dm_new(child, "child", 2);
	/* Parent CPU -> child's device, both before and after fork. */
	dev_expect(cdm, a, P, 5);
	cpu_write_pat(s.cpu, a + 8, 64, 6);
	dev_expect(cdm, a + 8, 64, 6);
	/* Child's device -> parent's CPU and parent's device. */
	dev_write_pat(cdm, a + P, P, 7);
	cpu_expect(s.cpu, a + P, P, 7);
	dev_expect(s.dm, a + P, P, 7);
	dmirror_destroy(cdm);
	mm_exit(child);
	scen_teardown(&s);
}

/* ---- huge pages ---------------------------------------------------------- */

static void test_thp_pmd(void **state)
{
	unsigned char *st = malloc(HPAGE_PMD_NR);
	struct scen s;
	u64 e = 0;
	long a;

	assert_non_null(st);
	scen_setup(&s, 2);
	a = test_map(s.mm, PMD_SIZE, RW, MAP_PRIVATE);
	assert_true(IS_ALIGNED(a, PMD_SIZE));
	assert_int_equal(vm_madvise(s.mm, a, PMD_SIZE, MADV_HUGEPAGE), 0);
	test_store(s.cpu, a, 1);
	assert_int_not_equal(test_pfn_at(s.mm, a, &e), 0);
	assert_true(e & _PAGE_PSE);
	assert_int_equal(dmirror_snapshot(s.dm, a, a + PMD_SIZE, st), 0);
	for (int i = 0; i < HPAGE_PMD_NR; i++)
		assert_int_equal(st[i], DMIRROR_PROT_READ | DMIRROR_PROT_WRITE |
						DMIRROR_PROT_PMD);
	/* The device accesses the huge page's subpages. */
	dev_write_pat(s.dm, a + 300 * P + 5, 2 * P, 8);
	cpu_expect(s.cpu, a + 300 * P + 5, 2 * P, 8);
	assert_int_equal(dm_stats(s.dm).entries, 3);
	scen_teardown(&s);
	free(st);
}

/* A 1 GiB leaf (main() makes the arena big enough for one). */
static void test_thp_pud(void **state)
{
	unsigned long n = PUD_SIZE / P;
	unsigned char *st = malloc(n);
	struct scen s;
	u64 e = 0;
	long a;

	assert_non_null(st);
	scen_setup(&s, 1);
	thp_set_mode(THP_ALWAYS, true);
	a = test_map(s.mm, 2 * PUD_SIZE, RW, MAP_PRIVATE);
	a = ALIGN_UP(a, PUD_SIZE);
	test_store(s.cpu, a + 8, 0x1234);
	assert_int_not_equal(test_pfn_at(s.mm, a, &e), 0);
	assert_true(e & _PAGE_PSE);
	assert_int_equal(dmirror_snapshot(s.dm, a, a + PUD_SIZE, st), 0);
	for (unsigned long i = 0; i < n; i++)
		if (st[i] !=
		    (DMIRROR_PROT_READ | DMIRROR_PROT_WRITE | DMIRROR_PROT_PUD))
			fail_msg("page %lu: state %#x", i, st[i]);
	/* Beyond the leaf (still in the VMA, not touched): none. */
	assert_int_equal(dmirror_snapshot(s.dm, a - P, a, st), 0);
	assert_int_equal(st[0], DMIRROR_PROT_NONE);
	u64 v = 0;
	assert_int_equal(dmirror_read(s.dm, a + 8, &v, sizeof(v)), 0);
	assert_int_equal(v, 0x1234);
	thp_set_mode(THP_MADVISE, false);
	scen_teardown(&s);
	free(st);
}

/* ---- two devices --------------------------------------------------------- */

static void test_two_devices(void **state)
{
	struct dmirror_stats s1, s2;
	struct scen s;
	struct dmirror *dm2;
	unsigned char buf[8];
	long a;

	scen_setup(&s, 2);
	dm2 = dm_new(s.mm, "dev1", 2);
	assert_string_equal(dmirror_name(dm2), "dev1");
	a = test_map(s.mm, 4 * P, RW, MAP_PRIVATE);
	dev_write_pat(s.dm, a, 2 * P, 1);
	dev_expect(dm2, a, 2 * P, 1);
	dev_write_pat(dm2, a + 2 * P, 2 * P, 2);
	dev_expect(s.dm, a + 2 * P, 2 * P, 2);
	dev_write_pat(dm2, a + 100, 50, 3);
	dev_expect(s.dm, a + 100, 50, 3);
	s1 = dm_stats(s.dm);
	s2 = dm_stats(dm2);
	assert_int_equal(s1.entries, 4);
	assert_int_equal(s2.entries, 4);
	/* One munmap invalidates both. */
	assert_int_equal(vm_munmap(s.mm, a, 4 * P), 0);
	assert_int_equal(dm_stats(s.dm).entries, 0);
	assert_int_equal(dm_stats(dm2).entries, 0);
	assert_true(dm_stats(s.dm).invalidations > s1.invalidations);
	assert_true(dm_stats(dm2).invalidations > s2.invalidations);
	assert_int_equal(dmirror_read(s.dm, a, buf, 8), -EFAULT);
	assert_int_equal(dmirror_read(dm2, a + P, buf, 8), -EFAULT);
	dmirror_destroy(dm2);
	scen_teardown(&s);
}

/* ---- invalidations ------------------------------------------------------- */

static void test_invalidations(void **state)
{
	unsigned char buf[P];
	unsigned long faults;
	struct scen s;
	long a, b, r;

	scen_setup(&s, 2);
	a = test_map(s.mm, 8 * P, RW, MAP_PRIVATE);
	b = test_map(s.mm, 2 * P, RW, MAP_PRIVATE);
	dev_write_pat(s.dm, a, 8 * P, 1);
	assert_int_equal(dm_stats(s.dm).entries, 8);

	/* MADV_DONTNEED: dropped; the next access faults and reads zero. */
	assert_int_equal(vm_madvise(s.mm, a, 2 * P, MADV_DONTNEED), 0);
	assert_int_equal(dm_stats(s.dm).entries, 6);
	faults = dm_stats(s.dm).faults;
	dev_expect(s.dm, a, 2 * P, 0);
	assert_true(dm_stats(s.dm).faults > faults);
	assert_int_equal(dm_stats(s.dm).entries, 8);

	/* mprotect: dropped; reads refault read-only, writes fail. */
	assert_int_equal(vm_mprotect(s.mm, a + 2 * P, 2 * P, PROT_READ), 0);
	assert_int_equal(dm_stats(s.dm).entries, 6);
	dev_expect(s.dm, a + 2 * P, 2 * P, 1);
	assert_int_equal(dmirror_write(s.dm, a + 2 * P, buf, 8), -EPERM);
	assert_int_equal(dm_stats(s.dm).entries, 8);

	/* munmap: dropped; the next access fails. */
	assert_int_equal(vm_munmap(s.mm, a + 4 * P, P), 0);
	assert_int_equal(dm_stats(s.dm).entries, 7);
	assert_int_equal(dmirror_read(s.dm, a + 4 * P, buf, 8), -EFAULT);

	/* mremap (move over b): the old range is dropped and fails, the
	 * data is read at the new place. */
	r = vm_mremap(s.mm, a + 5 * P, 2 * P, 2 * P,
		      MREMAP_MAYMOVE | MREMAP_FIXED, b);
	assert_int_equal(r, b);
	assert_int_equal(dm_stats(s.dm).entries, 5);
	assert_int_equal(dmirror_read(s.dm, a + 5 * P, buf, 8), -EFAULT);
	faults = dm_stats(s.dm).faults;
	assert_int_equal(dmirror_read(s.dm, b, buf, P), 0);
	assert_true(pat_ok(buf, a + 5 * P, P, 1));
	assert_true(dm_stats(s.dm).faults > faults);
	dev_expect(s.dm, a + 7 * P, P, 1);
	scen_teardown(&s);
}

/*
 * The OOM reaper's invalidations may not sleep: while the driver mutex is
 * held (as by an engine mid-access) the device refuses and the reaper
 * skips the VMA; once it is free the reap goes through.
 */
static void test_oom_reap_nonblocking(void **state)
{
	struct scen s;
	long a;

	scen_setup(&s, 1);
	a = test_map(s.mm, 4 * P, RW, MAP_PRIVATE);
	dev_write_pat(s.dm, a, 4 * P, 1);
	mutex_lock(&s.dm->mutex);
	assert_int_equal(mm_oom_reap(s.mm), -EAGAIN);
	mutex_unlock(&s.dm->mutex);
	assert_int_equal(dm_stats(s.dm).entries, 4);
	cpu_expect(s.cpu, a, 4 * P, 1);
	assert_int_equal(mm_oom_reap(s.mm), 0);
	assert_int_equal(dm_stats(s.dm).entries, 0);
	dev_expect(s.dm, a, 4 * P, 0);
	scen_teardown(&s);
}

/* ---- teardown racing with device access ---------------------------------- */

/* Three racers (two readers, a writer) against munmap or, if @exit_mm,
 * the process's exit. */
static void race(bool exit_mm)
{
	struct task_struct *t[3];
	struct racer r[3];
	unsigned char buf[8];
	struct scen s;
	long a;

	scen_setup(&s, 2);
	a = test_map(s.mm, RACE_PAGES * P, RW, MAP_PRIVATE);
	dev_write_pat(s.dm, a, RACE_PAGES * P, 1);
	racers_started = 0;
	for (int i = 0; i < 3; i++) {
		r[i] = (struct racer){ .dm = s.dm, .va = a, .write = i == 2 };
		t[i] = kthread_run(racer_fn, &r[i], "racer%d", i);
		assert_false(IS_ERR(t[i]));
	}
	/* Pairs with the racers' release increments. */
	wait_event(racers_wq,
		   __atomic_load_n(&racers_started, __ATOMIC_ACQUIRE) == 3);
	if (exit_mm) {
		cpu_destroy(s.cpu);
		s.cpu = NULL;
		mm_exit(s.mm);
	} else {
		assert_int_equal(vm_munmap(s.mm, a, RACE_PAGES * P), 0);
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(kthread_join(t[i]), 0);
		assert_true(r[i].ok > 0);
	}
	/* Gone for good: every access fails, no entry is left. */
	assert_int_equal(dmirror_read(s.dm, a, buf, 8), -EFAULT);
	assert_int_equal(dmirror_write(s.dm, a, buf, 8), -EFAULT);
	assert_int_equal(dm_stats(s.dm).entries, 0);
	if (exit_mm) {
		assert_int_equal(dmirror_snapshot(s.dm, a, a + P, buf),
				 -EFAULT);
		dmirror_destroy(s.dm);
		scen_end(&s.lc);
		return;
	}
	scen_teardown(&s);
}

static void test_race_munmap(void **state)
{
	race(false);
}

static void test_race_exit(void **state)
{
	race(true);
}

/*
 * Device reads and writes racing with mprotect, MADV_DONTNEED and
 * munmap + mmap over the same pages: accesses fail only as the CPU's
 * would, and no access goes through a stale entry (the oracle).  After
 * the storm the device and the CPU agree again.
 */
static void test_stress_invalidations(void **state)
{
	struct task_struct *t[2];
	struct stresser st[2];
	uint64_t rng = 7;
	int stop = 0;
	struct scen s;
	long a;

	scen_setup(&s, 2);
	a = test_map(s.mm, STRESS_PAGES * P, RW, MAP_PRIVATE);
	for (int i = 0; i < 2; i++) {
		st[i] = (struct stresser){
			.dm = s.dm, .va = a, .seed = i + 1, .stop = &stop
		};
		t[i] = kthread_run(stresser_fn, &st[i], "stress%d", i);
		assert_false(IS_ERR(t[i]));
	}
	for (int n = 0; n < TEST_SCALE(400); n++) {
		unsigned long pg = test_rand(&rng) % (STRESS_PAGES - 2);
		unsigned long va = a + pg * P;

		switch (n % 4) {
		case 0:
			assert_int_equal(
				vm_mprotect(s.mm, va, 2 * P, PROT_READ), 0);
			break;
		case 1:
			assert_int_equal(vm_mprotect(s.mm, va, 2 * P, RW), 0);
			break;
		case 2:
			assert_int_equal(
				vm_madvise(s.mm, va, 2 * P, MADV_DONTNEED), 0);
			break;
		default:
			assert_int_equal(vm_munmap(s.mm, va, 2 * P), 0);
			assert_int_equal(vm_mmap(s.mm, va, 2 * P, RW,
						 MAP_PRIVATE | MAP_ANONYMOUS |
							 MAP_FIXED),
					 va);
			break;
		}
	}
	assert_int_equal(vm_mprotect(s.mm, a, STRESS_PAGES * P, RW), 0);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		assert_int_equal(kthread_join(t[i]), 0);
	dev_write_pat(s.dm, a, STRESS_PAGES * P, 2);
	cpu_expect(s.cpu, a, STRESS_PAGES * P, 2);
	cpu_write_pat(s.cpu, a + P, P, 3);
	dev_expect(s.dm, a + P, P, 3);
	scen_teardown(&s);
}

/* ---- one snapshot of every state ----------------------------------------- */

static void test_snapshot_mixed(void **state)
{
	unsigned char *st = malloc(2 * HPAGE_PMD_NR);
	struct scen s;
	u64 v;
	long a;

	assert_non_null(st);
	scen_setup(&s, 1);
	/* [a, a + 2M): small pages; [a + 2M, a + 4M): a THP. */
	a = test_map(s.mm, 2 * PMD_SIZE, RW, MAP_PRIVATE);
	assert_true(IS_ALIGNED(a, PMD_SIZE));
	assert_int_equal(
		vm_madvise(s.mm, a + PMD_SIZE, PMD_SIZE, MADV_HUGEPAGE), 0);
	test_store(s.cpu, a + PMD_SIZE, 1); /* the PMD leaf */
	assert_int_equal(cpu_load_u64(s.cpu, a + P, &v), 0); /* zero page */
	test_store(s.cpu, a + 2 * P, 2); /* writable */
	test_store(s.cpu, a + 3 * P, 3); /* read-only after mprotect */
	assert_int_equal(vm_mprotect(s.mm, a + 3 * P, P, PROT_READ), 0);
	assert_int_equal(vm_munmap(s.mm, a + 4 * P, P), 0); /* no VMA */
	assert_int_equal(vm_mprotect(s.mm, a + 5 * P, P, PROT_NONE), 0);

	memset(st, 0xee, 2 * HPAGE_PMD_NR);
	assert_int_equal(dmirror_snapshot(s.dm, a, a + 2 * PMD_SIZE, st), 0);
	assert_int_equal(st[0], DMIRROR_PROT_NONE);
	assert_int_equal(st[1], DMIRROR_PROT_ZERO | DMIRROR_PROT_READ);
	assert_int_equal(st[2], DMIRROR_PROT_READ | DMIRROR_PROT_WRITE);
	assert_int_equal(st[3], DMIRROR_PROT_READ);
	assert_int_equal(st[4], DMIRROR_PROT_ERROR);
	/* PROT_NONE cannot be mirrored (no VM_READ): an error, as in the
	 * kernel, not "none". */
	assert_int_equal(st[5], DMIRROR_PROT_ERROR);
	for (int i = 6; i < HPAGE_PMD_NR; i++)
		assert_int_equal(st[i], DMIRROR_PROT_NONE);
	for (int i = HPAGE_PMD_NR; i < 2 * HPAGE_PMD_NR; i++)
		assert_int_equal(st[i], DMIRROR_PROT_READ | DMIRROR_PROT_WRITE |
						DMIRROR_PROT_PMD);
	/* A snapshot faults nothing and maps nothing into the device. */
	assert_int_equal(dm_stats(s.dm).entries, 0);
	assert_int_equal(dm_stats(s.dm).faults, 0);
	assert_int_equal(test_pfn_at(s.mm, a, NULL), 0);
	scen_teardown(&s);
	free(st);
}

/* ---- many submitters ----------------------------------------------------- */

static void test_many_submitters(void **state)
{
	struct submitter sb[SUBMITTERS];
	struct task_struct *t[SUBMITTERS];
	struct scen s;
	long a;

	scen_setup(&s, 3);
	a = test_map(s.mm, SUBMITTERS * SUB_PAGES * P, RW, MAP_PRIVATE);
	for (int i = 0; i < SUBMITTERS; i++) {
		sb[i] = (struct submitter){ .dm = s.dm,
					    .va = a + i * SUB_PAGES * P,
					    .tag = i + 1 };
		t[i] = kthread_run(submitter_fn, &sb[i], "sub%d", i);
		assert_false(IS_ERR(t[i]));
	}
	for (int i = 0; i < SUBMITTERS; i++)
		assert_int_equal(kthread_join(t[i]), 0);
	for (int i = 0; i < SUBMITTERS; i++) {
		unsigned int last =
			sb[i].tag + 16 * ((TEST_SCALE(200) - 1) % 8);

		cpu_expect(s.cpu, sb[i].va, SUB_PAGES * P, last);
	}
	assert_true(dm_stats(s.dm).writes >=
		    (unsigned long)SUBMITTERS * SUB_PAGES * TEST_SCALE(200));
	scen_teardown(&s);
}

/* ---- arguments ----------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
	unsigned char buf[8], st[1];
	struct scen s;
	struct mm_struct *dead;

	scen_setup(&s, 1);
	assert_ptr_equal(dmirror_create(NULL, "x", 1), ERR_PTR(-EINVAL));
	assert_ptr_equal(dmirror_create(s.mm, "x", 0), ERR_PTR(-EINVAL));
	assert_ptr_equal(dmirror_create(s.mm, "x", 17), ERR_PTR(-EINVAL));
	assert_int_equal(dmirror_read(s.dm, TASK_SIZE - 4, buf, 8), -EINVAL);
	assert_int_equal(dmirror_read(s.dm, ~0UL - 3, buf, 8), -EINVAL);
	assert_int_equal(dmirror_write(s.dm, 0x1000, NULL, 8), -EINVAL);
	assert_int_equal(dmirror_read(s.dm, 0x1000, buf, 0), 0);
	assert_int_equal(dmirror_fault(s.dm, 0x1001, 0x2000, false), -EINVAL);
	assert_int_equal(dmirror_fault(s.dm, 0x2000, 0x1000, false), -EINVAL);
	assert_int_equal(dmirror_snapshot(s.dm, 0x1000, 0x1800, st), -EINVAL);
	assert_int_equal(dmirror_snapshot(s.dm, 0, TASK_SIZE + P, st), -EINVAL);
	assert_int_equal(dmirror_snapshot(s.dm, 0x1000, 0x1000, st), 0);
	assert_int_equal(dm_stats(s.dm).entries, 0);
	/* A device cannot be made for an address space already gone. */
	dead = mm_alloc();
	mmgrab(dead);
	mm_exit(dead);
	assert_ptr_equal(dmirror_create(dead, "late", 1), ERR_PTR(-EFAULT));
	mmdrop(dead);
	scen_teardown(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anon_read),
		cmocka_unit_test(test_anon_write),
		cmocka_unit_test(test_prot_none_fails),
		cmocka_unit_test(test_readonly_write_fails),
		cmocka_unit_test(test_device_cpu_interleave),
		cmocka_unit_test(test_fork_cow),
		cmocka_unit_test(test_shared_anon),
		cmocka_unit_test(test_thp_pmd),
		cmocka_unit_test(test_thp_pud),
		cmocka_unit_test(test_two_devices),
		cmocka_unit_test(test_invalidations),
		cmocka_unit_test(test_oom_reap_nonblocking),
		cmocka_unit_test(test_race_munmap),
		cmocka_unit_test(test_race_exit),
		cmocka_unit_test(test_stress_invalidations),
		cmocka_unit_test(test_snapshot_mixed),
		cmocka_unit_test(test_many_submitters),
		cmocka_unit_test(test_bad_arguments),
	};

	/* 3 GiB: a free, aligned 1 GiB block for the PUD leaf. */
	if (mem_init(3UL << 30)) {
		fprintf(stderr, "cannot set up a 3 GiB arena\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
