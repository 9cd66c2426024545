// SPDX-License-Identifier: MIT
/*
 * Device-private memory of the mirror device (drivers/mirror/devmem.c),
 * every test under the oracle and the leak check (every frame - device
 * memory included - object and mm back, no WARN, no violation):
 * migration to the device and back with the data intact and the device
 * working in its own memory; CPU read and write faults (migrate_to_ram);
 * holes become zeroed device pages; fork (COW of device pages, a device
 * write after fork); release while mapped; munmap and exit free device
 * pages; two devices taking pages from each other; mprotect read-only;
 * a CPU thread, a migrating thread and a device racing; bad arguments.
 */
#include "mirror_util.h"
#include <mmirror/kthread.h>
#include <mmirror/memremap.h>

#define NP 8
#define MEM 32

static struct dmirror_devmem_stats mem_stats(struct dmirror *dm)
{
	struct dmirror_devmem_stats st;

	dmirror_get_devmem_stats(dm, &st);
	return st;
}

static bool is_devpage_at(struct mm_struct *mm, unsigned long va)
{
	unsigned long pfn = test_pfn_at(mm, va, NULL);

	return pfn && is_device_private_page(pfn_to_page(pfn));
}

/* Every page of [a, a + n pages) has snapshot state @want. */
static void snap_expect(struct dmirror *dm, unsigned long a, unsigned long n,
			unsigned char want)
{
	unsigned char st[NP * 2];

	assert_true(n <= sizeof(st));
	assert_int_equal(dmirror_snapshot(dm, a, a + n * P, st), 0);
	for (unsigned long i = 0; i < n; i++)
		assert_int_equal(st[i], want);
}

#define LOCAL_RW                                              \
	(DMIRROR_PROT_DEV_PRIVATE_LOCAL | DMIRROR_PROT_READ | \
	 DMIRROR_PROT_WRITE)
#define SYS_RW (DMIRROR_PROT_READ | DMIRROR_PROT_WRITE)

/* A scenario with @pages of device memory. */
static void setup_mem(struct scen *s, unsigned long pages)
{
	scen_setup(s, 2);
	assert_int_equal(dmirror_devmem_add(s->dm, pages), 0);
	assert_int_equal(mem_stats(s->dm).nr_free, pages);
}

static void test_roundtrip(void **state)
{
	struct dmirror_stats st;
	struct scen s;
	long a;

	setup_mem(&s, MEM);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, a, NP * P, 1);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a + NP * P), 0);
	assert_int_equal(mem_stats(s.dm).to_device, NP);
	assert_int_equal(mem_stats(s.dm).nr_free, MEM - NP);
	snap_expect(s.dm, a, NP, LOCAL_RW);
	for (int i = 0; i < NP; i++)
		assert_true(is_devpage_at(s.mm, a + i * P));
	/* Mapped by the migration: the device works without faulting. */
	st = dm_stats(s.dm);
	assert_int_equal(st.entries, NP);
	dev_expect(s.dm, a, NP * P, 1);
	dev_write_pat(s.dm, a + 2 * P, 3 * P, 2);
	assert_int_equal(dm_stats(s.dm).faults, st.faults);
	assert_true(is_devpage_at(s.mm, a + 3 * P));
	/* Back: the migration's invalidations zapped the device table. */
	assert_int_equal(dmirror_migrate_to_system(s.dm, a, a + NP * P), 0);
	assert_int_equal(dm_stats(s.dm).entries, 0);
	assert_int_equal(mem_stats(s.dm).to_system, NP);
	assert_int_equal(mem_stats(s.dm).nr_free, MEM);
	snap_expect(s.dm, a, NP, SYS_RW);
	assert_false(is_devpage_at(s.mm, a));
	cpu_expect(s.cpu, a, 2 * P, 1);
	cpu_expect(s.cpu, a + 2 * P, 3 * P, 2);
	cpu_expect(s.cpu, a + 5 * P, 3 * P, 1);
	assert_int_equal(mem_stats(s.dm).cpu_faults, 0);
	dev_expect(s.dm, a + 2 * P, 3 * P, 2);
	/* Twice: migrating what is there already moves nothing. */
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a + 2 * P), 0);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a + 2 * P), 0);
	assert_int_equal(mem_stats(s.dm).to_device, NP + 2);
	scen_teardown(&s);
}

static void test_cpu_faults(void **state)
{
	struct scen s;
	long a;

	setup_mem(&s, MEM);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, a, NP * P, 1);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a + NP * P), 0);
	dev_write_pat(s.dm, a, NP * P, 2);
	/* A CPU read brings one page back, with the device's data. */
	cpu_expect(s.cpu, a + P, P, 2);
	assert_int_equal(mem_stats(s.dm).cpu_faults, 1);
	assert_int_equal(mem_stats(s.dm).nr_free, MEM - NP + 1);
	assert_false(is_devpage_at(s.mm, a + P));
	assert_true(is_devpage_at(s.mm, a));
	assert_true(is_devpage_at(s.mm, a + 2 * P));
	/* A CPU write too; the device sees it (it faults the page). */
	cpu_write_pat(s.cpu, a + 4 * P + 100, 200, 3);
	assert_int_equal(mem_stats(s.dm).cpu_faults, 2);
	assert_false(is_devpage_at(s.mm, a + 4 * P));
	dev_expect(s.dm, a + 4 * P + 100, 200, 3);
	dev_expect(s.dm, a + 4 * P + 300, P - 300, 2);
	/* The rest is still the device's. */
	cpu_expect(s.cpu, a, NP * P / 8, 2);
	cpu_expect(s.cpu, a + 7 * P, P, 2);
	assert_int_equal(mem_stats(s.dm).cpu_faults, 4);
	assert_int_equal(mem_stats(s.dm).nr_free, MEM - NP + 4);
	scen_teardown(&s);
}

static void test_holes(void **state)
{
	struct scen s;
	long a, b;

	setup_mem(&s, NP);
	/* Fill the device pages with data first: holes must not see it. */
	b = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, b, NP * P, 5);
	assert_int_equal(dmirror_migrate_to_device(s.dm, b, b + NP * P), 0);
	assert_int_equal(vm_munmap(s.mm, b, NP * P), 0);
	assert_int_equal(mem_stats(s.dm).nr_free, NP);
	/* Page 0 touched, page 1 the zero page, the rest never touched. */
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, a, P, 1);
	cpu_expect(s.cpu, a + P, P, 0);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a + NP * P), 0);
	assert_int_equal(mem_stats(s.dm).nr_free, 0);
	snap_expect(s.dm, a, NP, LOCAL_RW);
	dev_expect(s.dm, a + P, (NP - 1) * P, 0);
	dev_expect(s.dm, a, P, 1);
	dev_write_pat(s.dm, a + 6 * P, P, 6);
	/* Device memory full: -ENOMEM, nothing moves. */
	b = test_map(s.mm, 2 * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, b, 2 * P, 7);
	assert_int_equal(dmirror_migrate_to_device(s.dm, b, b + 2 * P),
			 -ENOMEM);
	assert_false(is_devpage_at(s.mm, b));
	/* One page free again (a CPU fault): the first page moves. */
	cpu_expect(s.cpu, a + 7 * P, P, 0);
	assert_int_equal(mem_stats(s.dm).nr_free, 1);
	assert_int_equal(dmirror_migrate_to_device(s.dm, b, b + 2 * P),
			 -ENOMEM);
	assert_true(is_devpage_at(s.mm, b));
	assert_false(is_devpage_at(s.mm, b + P));
	cpu_expect(s.cpu, b, 2 * P, 7);
	cpu_expect(s.cpu, a + 3 * P, P, 0);
	cpu_expect(s.cpu, a + 6 * P, P, 6);
	scen_teardown(&s);
}

static void test_fork(void **state)
{
	struct mm_struct *child;
	struct sim_cpu *ccpu;
	struct scen s;
	long a;

	setup_mem(&s, MEM);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, a, NP * P, 1);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a + NP * P), 0);
	child = mm_fork(s.mm);
	assert_non_null(child);
	ccpu = cpu_create(child);
	assert_false(IS_ERR_OR_NULL(ccpu));
	/* Fork made the entries read-only: the device lost writability. */
	snap_expect(s.dm, a, NP,
		    DMIRROR_PROT_DEV_PRIVATE_LOCAL | DMIRROR_PROT_READ);
	assert_true(is_devpage_at(child, a + 5 * P));
	/* The child reads the parent's data; its write COWs. */
	cpu_expect(ccpu, a, P, 1);
	cpu_write_pat(ccpu, a + P, P, 3);
	cpu_expect(ccpu, a + P, P, 3);
	cpu_expect(s.cpu, a + P, P, 1);
	/* The parent's device reads the parent's data, in place. */
	dev_expect(s.dm, a + 2 * P, P, 1);
	/* A device write after fork: our page is moved out, COW broken. */
	dev_write_pat(s.dm, a + 3 * P, P, 4);
	dev_expect(s.dm, a + 3 * P, P, 4);
	cpu_expect(s.cpu, a + 3 * P, P, 4);
	cpu_expect(ccpu, a + 3 * P, P, 1);
	/* The child writes its copy of a page still in device memory. */
	cpu_write_pat(ccpu, a + 6 * P, P, 8);
	dev_expect(s.dm, a + 6 * P, P, 1);
	cpu_expect(s.cpu, a + 6 * P, P, 1);
	cpu_destroy(ccpu);
	mm_exit(child);
	dev_expect(s.dm, a, NP * P / 8, 1);
	scen_teardown(&s);
}

/* Pages COW-shared with a child move to the device read-only. */
static void test_fork_shared(void **state)
{
	struct mm_struct *child;
	struct sim_cpu *ccpu;
	struct scen s;
	long a;

	setup_mem(&s, MEM);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, a, NP * P, 1);
	child = mm_fork(s.mm);
	assert_non_null(child);
	ccpu = cpu_create(child);
	assert_false(IS_ERR_OR_NULL(ccpu));
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a + NP * P), 0);
	snap_expect(s.dm, a, NP,
		    DMIRROR_PROT_DEV_PRIVATE_LOCAL | DMIRROR_PROT_READ);
	dev_expect(s.dm, a, NP * P, 1);
	/* Mapped read-only: a device write moves the page out, COWs. */
	dev_write_pat(s.dm, a + P, P, 2);
	cpu_expect(ccpu, a + P, P, 1);
	cpu_expect(s.cpu, a + P, P, 2);
	cpu_write_pat(ccpu, a + 2 * P, P, 3);
	cpu_expect(s.cpu, a + 2 * P, P, 1);
	/* The child maps our pages too: a release evicts them there. */
	assert_true(is_devpage_at(child, a + 3 * P));
	assert_int_equal(dmirror_devmem_release(s.dm), 0);
	assert_false(is_devpage_at(child, a + 3 * P));
	cpu_expect(ccpu, a + 3 * P, 5 * P, 1);
	cpu_expect(s.cpu, a + 3 * P, 5 * P, 1);
	cpu_destroy(ccpu);
	mm_exit(child);
	scen_teardown(&s);
}

static void test_release_mapped(void **state)
{
	unsigned long pgmaps = memremap_nr_pgmaps();
	struct scen s;
	long a;

	setup_mem(&s, MEM);
	assert_int_equal(memremap_nr_pgmaps(), pgmaps + 1);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, a, NP * P, 1);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a + NP * P), 0);
	dev_write_pat(s.dm, a + P, P, 2);
	assert_int_equal(dm_stats(s.dm).entries, NP);
	assert_int_equal(dmirror_devmem_release(s.dm), 0);
	assert_int_equal(memremap_nr_pgmaps(), pgmaps);
	assert_int_equal(mem_stats(s.dm).evicted, NP);
	assert_int_equal(mem_stats(s.dm).nr_pages, 0);
	/* The eviction's invalidations zapped the device-pfn entries. */
	assert_int_equal(dm_stats(s.dm).entries, 0);
	snap_expect(s.dm, a, NP, SYS_RW);
	dev_expect(s.dm, a + P, P, 2);
	cpu_expect(s.cpu, a, P, 1);
	cpu_expect(s.cpu, a + P, P, 2);
	dev_expect(s.dm, a + 2 * P, 6 * P, 1);
	assert_int_equal(mem_stats(s.dm).cpu_faults, 0);
	assert_int_equal(dmirror_devmem_release(s.dm), -ENODEV);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a + P), -ENODEV);
	/* Memory again; destroy releases what is still mapped. */
	assert_int_equal(dmirror_devmem_add(s.dm, MEM), 0);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a + NP * P), 0);
	cpu_expect(s.cpu, a + P, P, 2);
	scen_teardown(&s);
	assert_int_equal(memremap_nr_pgmaps(), pgmaps);
}

static void test_unmap_exit(void **state)
{
	struct mm_leak_check lc;
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	struct dmirror *dm;
	long a;

	scen_begin(&lc);
	mm = mm_alloc();
	assert_false(IS_ERR_OR_NULL(mm));
	cpu = cpu_create(mm);
	dm = dm_new(mm, "dev0", 1);
	assert_int_equal(dmirror_devmem_add(dm, MEM), 0);
	a = test_map(mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(cpu, a, NP * P, 1);
	assert_int_equal(dmirror_migrate_to_device(dm, a, a + NP * P), 0);
	assert_int_equal(vm_munmap(mm, a + 2 * P, 3 * P), 0);
	assert_int_equal(mem_stats(dm).nr_free, MEM - NP + 3);
	assert_int_equal(vm_madvise(mm, a, P, MADV_DONTNEED), 0);
	assert_int_equal(mem_stats(dm).nr_free, MEM - NP + 4);
	cpu_expect(cpu, a, P, 0);
	dev_expect(dm, a + P, P, 1);
	/* Exit with device pages mapped: every one comes back. */
	cpu_destroy(cpu);
	mm_exit(mm);
	assert_int_equal(mem_stats(dm).nr_free, MEM);
	assert_int_equal(mem_stats(dm).cpu_faults, 0);
	assert_int_equal(dmirror_migrate_to_device(dm, a, a + P), -EFAULT);
	dmirror_destroy(dm);
	scen_end(&lc);
}

static void test_two_devices(void **state)
{
	struct dmirror *dm1;
	struct scen s;
	long a;

	setup_mem(&s, MEM);
	dm1 = dm_new(s.mm, "dev1", 1);
	assert_int_equal(dmirror_devmem_add(dm1, MEM), 0);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, a, NP * P, 1);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a + NP * P), 0);
	/* dev1 sees dev0's pages as not present, without faulting them. */
	snap_expect(dm1, a, NP, DMIRROR_PROT_NONE);
	assert_int_equal(mem_stats(s.dm).cpu_faults, 0);
	/* dev1's access faults dev0's page back to system memory. */
	dev_expect(dm1, a + P, P, 1);
	assert_int_equal(mem_stats(s.dm).cpu_faults, 1);
	assert_int_equal(mem_stats(s.dm).nr_free, MEM - NP + 1);
	snap_expect(s.dm, a + P, 1, SYS_RW);
	/* dev1 takes system pages only: dev0's stay with dev0. */
	assert_int_equal(dmirror_migrate_to_device(dm1, a, a + 4 * P), 0);
	assert_int_equal(mem_stats(dm1).to_device, 1);
	snap_expect(dm1, a + P, 1, LOCAL_RW);
	snap_expect(s.dm, a + P, 1, DMIRROR_PROT_NONE);
	/* dev0's write takes the page back from dev1. */
	dev_write_pat(s.dm, a + P, P, 2);
	assert_int_equal(mem_stats(dm1).cpu_faults, 1);
	dev_expect(dm1, a + P, P, 2);
	cpu_expect(s.cpu, a + P, P, 2);
	cpu_expect(s.cpu, a, P, 1);
	assert_int_equal(mem_stats(s.dm).cpu_faults, 2);
	/* dev1 goes away holding a page: evicted, data kept. */
	assert_int_equal(dmirror_migrate_to_device(dm1, a + P, a + 2 * P), 0);
	dmirror_destroy(dm1);
	cpu_expect(s.cpu, a + P, P, 2);
	dev_expect(s.dm, a + P, P, 2);
	dev_expect(s.dm, a + 2 * P, P, 1);
	scen_teardown(&s);
}

static void test_mprotect(void **state)
{
	unsigned char b = 0;
	struct scen s;
	long a;

	setup_mem(&s, MEM);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, a, NP * P, 1);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a + NP * P), 0);
	assert_int_equal(vm_mprotect(s.mm, a, NP * P, PROT_READ), 0);
	snap_expect(s.dm, a, NP,
		    DMIRROR_PROT_DEV_PRIVATE_LOCAL | DMIRROR_PROT_READ);
	assert_int_equal(dmirror_write(s.dm, a, &b, 1), -EPERM);
	assert_int_equal(cpu_store(s.cpu, a + P, &b, 1), -EACCES);
	dev_expect(s.dm, a, NP * P, 1);
	cpu_expect(s.cpu, a + P, P, 1);
	cpu_expect(s.cpu, a + 2 * P, P, 1);
	assert_true(is_devpage_at(s.mm, a + 3 * P));
	/* Writable again: the device writes its memory. */
	assert_int_equal(vm_mprotect(s.mm, a, NP * P, RW), 0);
	dev_write_pat(s.dm, a + 3 * P, P, 2);
	cpu_expect(s.cpu, a + 3 * P, P, 2);
	dev_expect(s.dm, a + 4 * P, P, 1);
	scen_teardown(&s);
}

static void test_bad_args(void **state)
{
	struct scen s;
	long a, sh;

	scen_setup(&s, 1);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	sh = test_map(s.mm, NP * P, RW, MAP_SHARED);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a + P), -ENODEV);
	assert_int_equal(dmirror_migrate_to_system(s.dm, a, a + P), 0);
	assert_int_equal(dmirror_devmem_release(s.dm), -ENODEV);
	assert_int_equal(dmirror_devmem_add(s.dm, 0), -EINVAL);
	assert_int_equal(dmirror_devmem_add(s.dm, 513), -EINVAL);
	assert_int_equal(dmirror_devmem_add(NULL, 1), -EINVAL);
	assert_int_equal(dmirror_devmem_add(s.dm, NP), 0);
	assert_int_equal(dmirror_devmem_add(s.dm, NP), -EBUSY);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a + 1, a + P),
			 -EINVAL);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, a), -EINVAL);
	assert_int_equal(dmirror_migrate_to_device(NULL, a, a + P), -EINVAL);
	assert_int_equal(dmirror_migrate_to_device(s.dm, a, -P), -EINVAL);
	assert_int_equal(dmirror_migrate_to_system(s.dm, a + P, a), -EINVAL);
	assert_int_equal(dmirror_migrate_to_device(s.dm, sh, sh + P), -EFAULT);
	assert_int_equal(
		dmirror_migrate_to_device(s.dm, a + NP * P, a + (NP + 1) * P),
		-EFAULT);
	assert_int_equal(dmirror_migrate_to_system(s.dm, sh, sh + P), -EFAULT);
	assert_int_equal(mem_stats(s.dm).nr_free, NP);
	scen_teardown(&s);
}

/* ---- a CPU, a migrating thread and a device --------------------------- */

#define SP 4

struct stress {
	struct scen *s;
	unsigned long va;
	int *stop; /* set by the migrator when its rounds are done */
	long *cpu_done; /* accesses the CPU completed */
	long n; /* increments done (CPU, device); rounds (migrator) */
};

/* Pairs with the release store in stress_mig_fn(). */
static bool stress_stopped(struct stress *t)
{
	return __atomic_load_n(t->stop, __ATOMIC_ACQUIRE);
}

/* The CPU increments word 0 of page n % SP until the migrator is done. */
static int stress_cpu_fn(void *arg)
{
	struct stress *t = arg;

	for (; !stress_stopped(t); t->n++) {
		unsigned long va = t->va + (t->n % SP) * P;
		u64 v = 0;

		CHECK(!cpu_load_u64(t->s->cpu, va, &v));
		CHECK(!cpu_store_u64(t->s->cpu, va, v + 1));
		/* Pairs with the acquire loads in stress_mig_fn(). */
		__atomic_add_fetch(t->cpu_done, 1, __ATOMIC_RELEASE);
	}
	return 0;
}

/* The device increments word 1 of page n % SP (a read, then a write). */
static int stress_dev_fn(void *arg)
{
	struct stress *t = arg;

	for (; !stress_stopped(t); t->n++) {
		unsigned long va = t->va + (t->n % SP) * P + 8;
		u64 v = 0;

		CHECK(!dmirror_read(t->s->dm, va, &v, sizeof(v)));
		v++;
		CHECK(!dmirror_write(t->s->dm, va, &v, sizeof(v)));
	}
	return 0;
}

#define STRESS_ROUNDS TEST_SCALE(400)

/*
 * To the device and back, STRESS_ROUNDS times, while the CPU faults pages
 * back and the device accesses them throughout.  (A CPU fault meeting a
 * migration's reference in flight waits it out: finalize drops it before
 * the unlock, and a fault that could not move its page yields and
 * retries; src/mm/migrate_device.c, src/mm/memory.c.)
 *
 * A round also waits for a CPU access: a fault brings its page back and
 * retries the access, and moving the page away again before every retry
 * would starve the CPU, not test anything.
 */
static int stress_mig_fn(void *arg)
{
	struct stress *t = arg;
	unsigned long end = t->va + SP * P;

	for (; t->n < STRESS_ROUNDS; t->n++) {
		long seen = __atomic_load_n(t->cpu_done, __ATOMIC_ACQUIRE);

		CHECK(!dmirror_migrate_to_device(t->s->dm, t->va, end));
		CHECK(!dmirror_migrate_to_system(t->s->dm, t->va, end));
		CHECK(!dmirror_migrate_to_device(t->s->dm, t->va, end));
		while (__atomic_load_n(t->cpu_done, __ATOMIC_ACQUIRE) == seen)
			cond_resched();
	}
	__atomic_store_n(t->stop, 1, __ATOMIC_RELEASE);
	return 0;
}

static void test_stress(void **state)
{
	struct task_struct *tc, *td, *tm;
	struct stress c, d, m;
	u64 cpu_sum = 0, dev_sum = 0;
	int stop = 0;
	long cpu_done = 0;
	struct scen s;
	long a;

	setup_mem(&s, MEM);
	a = test_map(s.mm, SP * P, RW, MAP_PRIVATE);
	c = (struct stress){
		.s = &s,
		.va = a,
		.stop = &stop,
		.cpu_done = &cpu_done,
	};
	d = c;
	m = c;
	tc = kthread_run(stress_cpu_fn, &c, "cpu");
	assert_false(IS_ERR(tc));
	td = kthread_run(stress_dev_fn, &d, "dev");
	assert_false(IS_ERR(td));
	tm = kthread_run(stress_mig_fn, &m, "migrate");
	assert_false(IS_ERR(tm));
	assert_int_equal(kthread_join(tm), 0);
	assert_int_equal(kthread_join(tc), 0);
	assert_int_equal(kthread_join(td), 0);
	/* Nothing lost on either side, whatever memory it was in. */
	for (int p = 0; p < SP; p++) {
		u64 v;

		cpu_sum += test_load(s.cpu, a + p * P);
		assert_int_equal(dmirror_read(s.dm, a + p * P + 8, &v, 8), 0);
		dev_sum += v;
	}
	assert_int_equal(cpu_sum, c.n);
	assert_int_equal(dev_sum, d.n);
	assert_true(mem_stats(s.dm).cpu_faults > 0);
	fprintf(stderr, "stress: %ld/%ld/%ld, %lu cpu faults, %lu retries\n",
		c.n, d.n, m.n, mem_stats(s.dm).cpu_faults,
		dm_stats(s.dm).retries);
	scen_teardown(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_cpu_faults),
		cmocka_unit_test(test_holes),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_fork_shared),
		cmocka_unit_test(test_release_mapped),
		cmocka_unit_test(test_unmap_exit),
		cmocka_unit_test(test_two_devices),
		cmocka_unit_test(test_mprotect),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_stress),
	};

	mm_exit(mm_alloc());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
