// SPDX-License-Identifier: MIT
/*
 * Real-thread stress of the host MMU: CPU threads load and store through
 * their TLBs while another thread munmaps, remaps, mprotects, drops pages,
 * mremaps, forks and exits.  Run under ThreadSanitizer and ASan in CI.
 *
 * What must hold whatever the interleaving:
 *  - an access returns 0, -EFAULT or -EACCES, nothing else, never crashes;
 *  - a load returns 0 or a value this thread stored to this very probe:
 *    each value encodes (thread, page), so a frame freed and reused for
 *    another page, a stale TLB entry into a recycled frame, or a COW that
 *    lost a copy would show a foreign value;
 *  - no sanitizer report, no WARN, and every frame back at the end.
 */
#include "test_util.h"
#include <mmirror/cpu.h>
#include <mmirror/mm.h>

#define NPAGES 1024 /* a 4 MiB region: two huge pages' worth */
#define NCPUS 2

static struct mm_struct *mm;
static unsigned long base;
static int stop;

static u64 encode(int cpu, long pg, u64 n)
{
	return ((u64)(cpu + 1) << 56) | ((u64)pg << 32) | (n & 0xffffffff);
}

static void *cpu_thread(void *arg)
{
	int id = (int)(long)arg;
	struct sim_cpu *cpu = cpu_create(mm);
	uint64_t rng = 77 + id;
	u64 n = 0;

	CHECK(!IS_ERR(cpu));
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		long pg = test_rand(&rng) % NPAGES;
		unsigned long va = base + pg * PAGE_SIZE + id * 8;
		u64 v = 0;
		int ret = cpu_load_u64(cpu, va, &v);

		CHECK(ret == 0 || ret == -EFAULT || ret == -EACCES);
		if (ret == 0 && v) {
			if (v >> 56 != (u64)id + 1 ||
			    ((v >> 32) & 0xffffff) != (u64)pg) {
				fprintf(stderr,
					"cpu %d page %ld: foreign value "
					"%#llx\n",
					id, pg, (unsigned long long)v);
				abort();
			}
		}
		ret = cpu_store_u64(cpu, va, encode(id, pg, ++n));
		CHECK(ret == 0 || ret == -EFAULT || ret == -EACCES);
	}
	print_message("cpu %d: %lu loads, %lu stores, %lu faults\n", id,
		      cpu->loads, cpu->stores, cpu->faults);
	CHECK(cpu->loads + cpu->stores > 0);
	cpu_destroy(cpu);
	return NULL;
}

/* A child process that touches its copy and exits. */
static void fork_and_exit(uint64_t *rng)
{
	struct mm_struct *child = mm_fork(mm);
	struct sim_cpu *cpu;

	CHECK(!IS_ERR(child));
	cpu = cpu_create(child);
	for (int i = 0; i < 64; i++) {
		long pg = test_rand(rng) % NPAGES;
		u64 v;
		int sret = cpu_store_u64(cpu, base + pg * PAGE_SIZE + 24, i);
		int ret = cpu_load_u64(cpu, base + pg * PAGE_SIZE + 24, &v);

		CHECK(sret == 0 || sret == -EFAULT || sret == -EACCES);
		CHECK(ret == 0 || ret == -EFAULT || ret == -EACCES);
		CHECK(sret || (!ret && v == (u64)i)); /* nobody else writes */
	}
	cpu_destroy(cpu);
	mm_exit(child);
}

static void mutate(uint64_t *rng)
{
	long pg = test_rand(rng) % NPAGES;
	long n = 1 + test_rand(rng) % 64;
	unsigned long va = base + pg * PAGE_SIZE;
	static const unsigned long prots[] = { PROT_READ | PROT_WRITE,
					       PROT_READ, PROT_NONE };
	long ret;

	if (pg + n > NPAGES)
		n = NPAGES - pg;
	switch (test_rand(rng) % 7) {
	case 0: /* unmap and map fresh memory back */
		CHECK(vm_munmap(mm, va, n * PAGE_SIZE) == 0);
		ret = vm_mmap(mm, va, n * PAGE_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
		CHECK(ret == (long)va);
		break;
	case 1:
		CHECK(vm_mprotect(mm, va, n * PAGE_SIZE,
				  prots[test_rand(rng) % 3]) == 0);
		break;
	case 2:
		CHECK(vm_madvise(mm, va, n * PAGE_SIZE, MADV_DONTNEED) == 0);
		break;
	case 3: /* huge pages come and go */
		CHECK(vm_madvise(mm, base, NPAGES * PAGE_SIZE,
				 test_rand(rng) & 1 ? MADV_HUGEPAGE :
						      MADV_NOHUGEPAGE) == 0);
		break;
	case 4: /* move part of the region away and back */
		ret = vm_mremap(mm, va, n * PAGE_SIZE, n * PAGE_SIZE,
				MREMAP_MAYMOVE | MREMAP_FIXED,
				base + NPAGES * PAGE_SIZE);
		if (ret == -EFAULT)
			break; /* the range spans several VMAs */
		CHECK(ret == (long)(base + NPAGES * PAGE_SIZE));
		ret = vm_mremap(mm, base + NPAGES * PAGE_SIZE, n * PAGE_SIZE,
				n * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED,
				va);
		CHECK(ret == (long)va);
		break;
	case 5:
		fork_and_exit(rng);
		break;
	default:
		CHECK(vm_mprotect(mm, base, NPAGES * PAGE_SIZE,
				  PROT_READ | PROT_WRITE) == 0);
	}
}

static void test_stress(void **state)
{
	unsigned long free_before = nr_free_pages();
	long objs_before = kmalloc_live_objects();
	unsigned long warns = mm_warn_count();
	pthread_t t[NCPUS];
	uint64_t rng = 5;
	long ret;

	mm = mm_alloc();
	ret = vm_mmap(mm, 0, (2 * NPAGES + 64) * PAGE_SIZE,
		      PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	assert_false(IS_ERR_VALUE(ret));
	base = ALIGN_UP((unsigned long)ret, PMD_SIZE);
	/* Keep [base, base + NPAGES) and a parking spot after it. */
	stop = 0;
	for (long i = 0; i < NCPUS; i++)
		pthread_create(&t[i], NULL, cpu_thread, (void *)i);
	for (int i = 0; i < TEST_SCALE(3000); i++)
		mutate(&rng);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NCPUS; i++)
		pthread_join(t[i], NULL);
	mm_exit(mm);
	assert_int_equal(mm_warn_count(), warns);
	assert_int_equal(mm_live_count(), 0);
	assert_int_equal(nr_free_pages(), free_before);
	assert_int_equal(kmalloc_live_objects(), objs_before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress),
	};

	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
