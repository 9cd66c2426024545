// SPDX-License-Identifier: MIT
/*
 * No false positives: a correct access pattern under real concurrency.
 * Two CPU threads store and load their own word of every page, a correct
 * mirror device (tdev.h) faults pages in and reads and writes its own
 * word through its translations, and a mutator munmaps and maps back,
 * mprotects back and forth, drops pages and forks.  Every checked access
 * races with invalidations, COW copies and frees: the oracle must report
 * nothing at all.
 */
#include "tdev.h"
#include <mmirror/kthread.h>

#define NPAGES 32

static struct {
	struct mm_struct *mm;
	unsigned long a;
	struct tdev d;
	int stop;
	long dev_ok, cpu_ok[2], mutations; /* progress, read after joins */
} w;

static int cpu_thread(void *arg)
{
	unsigned long id = (uintptr_t)arg;
	struct sim_cpu *cpu = cpu_create(w.mm);
	u64 rng = id + 1, v;

	CHECK(!IS_ERR(cpu));
	check_set_thread_name(id ? "cpu1" : "cpu0");
	while (!smp_load_acquire(&w.stop)) {
		unsigned long page = test_rand(&rng) % NPAGES;
		unsigned long va = w.a + page * PAGE_SIZE + 8 * id;

		if (!cpu_store_u64(cpu, va, test_rand(&rng)) &&
		    !cpu_load_u64(cpu, va, &v))
			w.cpu_ok[id]++;
	}
	cpu_destroy(cpu);
	return 0;
}

static int device_thread(void *arg)
{
	u64 rng = 99, v;

	check_set_thread_name("device");
	/* Until both sides did enough: no timing involved. */
	for (long n = 0;
	     n < TEST_SCALE(20000) || READ_ONCE(w.mutations) < TEST_SCALE(400);
	     n++) {
		unsigned long i = test_rand(&rng) % NPAGES;
		unsigned long va = w.a + i * PAGE_SIZE;
		bool write = test_rand(&rng) & 1;
		int ret;

		v = test_rand(&rng);
		ret = tdev_access(&w.d, va + 16, &v, 8, write);
		if (!ret)
			w.dev_ok++;
		if (ret == -EFAULT) {
			ret = tdev_fault(&w.d, va, va + PAGE_SIZE, write);
			CHECK(!ret || ret == -EFAULT || ret == -EPERM);
		}
	}
	smp_store_release(&w.stop, 1);
	return 0;
}

static void mutate(u64 *rng)
{
	unsigned long i = test_rand(rng) % (NPAGES - 4);
	unsigned long s = w.a + i * PAGE_SIZE;
	unsigned long len = (1 + test_rand(rng) % 4) * PAGE_SIZE;
	struct mm_struct *child;

	switch (test_rand(rng) % 5) {
	case 0:
		CHECK(vm_munmap(w.mm, s, len) == 0);
		CHECK(vm_mmap(w.mm, s, len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED) ==
		      (long)s);
		break;
	case 1:
		(void)vm_mprotect(w.mm, s, len, PROT_READ);
		break;
	case 2:
		(void)vm_mprotect(w.mm, s, len, PROT_READ | PROT_WRITE);
		break;
	case 3:
		(void)vm_madvise(w.mm, s, len, MADV_DONTNEED);
		break;
	default:
		child = mm_fork(w.mm);
		CHECK(!IS_ERR(child));
		mm_exit(child);
		break;
	}
}

static int mutator_thread(void *arg)
{
	u64 rng = 7;

	check_set_thread_name("mutator");
	while (!smp_load_acquire(&w.stop)) {
		mutate(&rng);
		/* Read by the device thread's loop condition. */
		WRITE_ONCE(w.mutations, w.mutations + 1);
	}
	return 0;
}

static void test_no_false_positives(void **state)
{
	struct mm_leak_check leaks;
	struct task_struct *t[4];

	(void)state;
	mm_leak_check_begin(&leaks);
	memset(&w, 0, sizeof(w));
	w.mm = mm_alloc();
	w.a = test_map(w.mm, NPAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE);
	tdev_init(&w.d, w.mm, w.a, NPAGES, "mirror");
	oracle_begin();
	t[0] = kthread_run(cpu_thread, (void *)0UL, "cpu0");
	t[1] = kthread_run(cpu_thread, (void *)1UL, "cpu1");
	t[2] = kthread_run(device_thread, NULL, "device");
	t[3] = kthread_run(mutator_thread, NULL, "mutator");
	for (int i = 0; i < 4; i++)
		assert_int_equal(kthread_join(t[i]), 0);
	print_message("device %ld, cpu %ld+%ld accesses, %ld mutations\n",
		      w.dev_ok, w.cpu_ok[0], w.cpu_ok[1], w.mutations);
	/* The mix really happened. */
	assert_true(w.dev_ok > 0 && w.cpu_ok[0] > 0 && w.mutations > 0);
	tdev_fini(&w.d);
	oracle_end_clean();
	mm_exit(w.mm);
	check_reset();
	mm_leak_check_end(&leaks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_false_positives),
	};

	if (mem_init(MEM_DEFAULT_BYTES))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
