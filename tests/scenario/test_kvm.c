// SPDX-License-Identifier: MIT
/*
 * The KVM-style shadow MMU (drivers/kvm) against the host MMU, under the
 * coherence oracle: guest and host see each other's writes, read-only
 * slots and read-only host memory, munmap and mprotect zapping SPTEs,
 * fork (COW), aging through the rmap (young bits seen and cleared),
 * release at exit, and vCPU threads racing with munmap/mmap and aging.
 * Every test also requires every frame, kmalloc object and mm back.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/kthread.h>
#include <mmirror/rmap.h>
#include <kvm/kvm.h>
#include <kvm/kvm_internal.h>

#define NPAGES 16
#define RW (PROT_READ | PROT_WRITE)
#define GPA 0x100000UL /* guest-physical base of slot 0 */

struct kvm_fix {
	struct mm_leak_check leak;
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	struct kvm *kvm;
	struct kvm_vcpu *vcpu;
	unsigned long hva;
};

static void fix_begin(struct kvm_fix *f, unsigned int slot_flags)
{
	mm_leak_check_begin(&f->leak);
	oracle_begin();
	f->mm = mm_alloc();
	assert_false(IS_ERR(f->mm));
	f->cpu = cpu_create(f->mm);
	assert_false(IS_ERR(f->cpu));
	f->hva = test_map(f->mm, NPAGES * PAGE_SIZE, RW, MAP_PRIVATE);
	f->kvm = kvm_create(f->mm, "vm0");
	assert_false(IS_ERR(f->kvm));
	assert_int_equal(kvm_set_memory_region(f->kvm, 0, GPA, f->hva,
					       NPAGES * PAGE_SIZE, slot_flags),
			 0);
	f->vcpu = kvm_vcpu_create(f->kvm, 0);
	assert_non_null(f->vcpu);
}

/* Tear down whatever is still up (the exit test drops the mm early). */
static void fix_end(struct kvm_fix *f)
{
	kvm_vcpu_destroy(f->vcpu);
	kvm_destroy(f->kvm);
	if (f->cpu)
		cpu_destroy(f->cpu);
	if (f->mm)
		mm_exit(f->mm);
	oracle_end_clean();
	mm_leak_check_end(&f->leak);
}

static unsigned long gpa(unsigned long i)
{
	return GPA + i * PAGE_SIZE;
}

static unsigned long hva(struct kvm_fix *f, unsigned long i)
{
	return f->hva + i * PAGE_SIZE;
}

static struct kvm_stats stats(struct kvm_fix *f)
{
	struct kvm_stats s;

	kvm_get_stats(f->kvm, &s);
	return s;
}

static u64 guest_load(struct kvm_fix *f, unsigned long a)
{
	u64 v = 0xdeadbeef;

	assert_int_equal(kvm_vcpu_read(f->vcpu, a, &v, sizeof(v)), 0);
	return v;
}

static void guest_store(struct kvm_fix *f, unsigned long a, u64 v)
{
	assert_int_equal(kvm_vcpu_write(f->vcpu, a, &v, sizeof(v)), 0);
}

/*
 * The invariant the notifier protocol keeps (driver internals, as a test
 * may look at them): under mmu_lock every SPTE names the frame the CPU
 * page table maps at its hva, and is writable only if the PTE is.  An
 * invalidation zaps before the PTE changes and no SPTE is installed
 * until its end, so this holds at every instant, not only when idle.
 */
static bool sptes_coherent(struct kvm *kvm, struct mm_struct *mm)
{
	struct interval_tree_node *n;
	bool ok = true;

	mmap_read_lock(mm);
	spin_lock(&kvm->mmu_lock);
	interval_tree_for_each(n, &kvm->sptes, 0, ~0UL) {
		struct kvm_spte *spte = container_of(n, struct kvm_spte, node);
		unsigned long pfn;
		u64 e;

		if (follow_pte_pfn(mm, spte->hva, &pfn, &e) ||
		    pfn != spte->pfn || (spte->writable && !(e & _PAGE_RW)))
			ok = false;
	}
	spin_unlock(&kvm->mmu_lock);
	mmap_read_unlock(mm);
	return ok;
}

/* Guest writes reach the host and the reverse, across pages. */
static void test_guest_host(void **state)
{
	static unsigned char in[2 * PAGE_SIZE], out[sizeof(in)];
	struct kvm_fix f;

	(void)state;
	fix_begin(&f, 0);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 13 + 1);
	assert_int_equal(kvm_vcpu_write(f.vcpu, gpa(1) + 200, in, sizeof(in)),
			 0);
	assert_int_equal(cpu_load(f.cpu, hva(&f, 1) + 200, out, sizeof(out)),
			 0);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(kvm_nr_sptes(f.kvm), 3);

	test_store(f.cpu, hva(&f, 7), 0x77);
	assert_int_equal(guest_load(&f, gpa(7)), 0x77);
	assert_int_equal(stats(&f).guest_writes, 1);
	assert_int_equal(stats(&f).guest_reads, 1);
	assert_true(stats(&f).faults >= 4);

	/* No slot there; bad arguments. */
	assert_int_equal(kvm_vcpu_read(f.vcpu, gpa(NPAGES), out, 8), -EFAULT);
	assert_int_equal(kvm_vcpu_read(f.vcpu, 0, out, 8), -EFAULT);
	assert_int_equal(kvm_vcpu_read(f.vcpu, gpa(0), out, 0), -EINVAL);
	assert_int_equal(kvm_vcpu_read(f.vcpu, -8UL, out, 16), -EINVAL);
	fix_end(&f);
}

/* A read-only slot: guest reads work, writes fail; slot management. */
static void test_slots(void **state)
{
	struct kvm_fix f;
	u64 v = 5;

	(void)state;
	fix_begin(&f, KVM_MEM_READONLY);
	test_store(f.cpu, hva(&f, 2), 0x22);
	assert_int_equal(guest_load(&f, gpa(2)), 0x22);
	assert_int_equal(kvm_vcpu_write(f.vcpu, gpa(2), &v, sizeof(v)), -EPERM);
	assert_int_equal(test_load(f.cpu, hva(&f, 2)), 0x22);

	assert_int_equal(
		kvm_set_memory_region(f.kvm, 1, gpa(4), f.hva, PAGE_SIZE, 0),
		-EEXIST);
	assert_int_equal(
		kvm_set_memory_region(f.kvm, 1, 1, f.hva, PAGE_SIZE, 0),
		-EINVAL);
	assert_int_equal(kvm_set_memory_region(f.kvm, KVM_MAX_MEMSLOTS, 0,
					       f.hva, PAGE_SIZE, 0),
			 -EINVAL);
	assert_int_equal(
		kvm_set_memory_region(f.kvm, 1, 0, f.hva, PAGE_SIZE, 0x80),
		-EINVAL);
	/* A second, writable slot aliasing the same host memory. */
	assert_int_equal(kvm_set_memory_region(f.kvm, 1, 0, f.hva,
					       NPAGES * PAGE_SIZE, 0),
			 0);
	assert_int_equal(kvm_vcpu_write(f.vcpu, 2 * PAGE_SIZE, &v, sizeof(v)),
			 0);
	assert_int_equal(guest_load(&f, gpa(2)), 5);
	/* Deleting a slot zaps its SPTEs; its gpas are gone. */
	assert_int_equal(kvm_nr_sptes(f.kvm), 2);
	assert_int_equal(kvm_set_memory_region(f.kvm, 0, 0, 0, 0, 0), 0);
	assert_int_equal(kvm_nr_sptes(f.kvm), 1);
	assert_int_equal(kvm_vcpu_read(f.vcpu, gpa(2), &v, sizeof(v)), -EFAULT);
	fix_end(&f);
}

/* munmap zaps the SPTEs; the guest then faults (-EFAULT) until the host
 * maps fresh memory there. */
static void test_munmap(void **state)
{
	struct kvm_fix f;
	struct kvm_stats s;
	u64 v;

	(void)state;
	fix_begin(&f, 0);
	for (unsigned long i = 0; i < NPAGES; i++)
		guest_store(&f, gpa(i), 1000 + i);
	assert_int_equal(kvm_nr_sptes(f.kvm), NPAGES);
	s = stats(&f);
	assert_int_equal(vm_munmap(f.mm, hva(&f, 3), 2 * PAGE_SIZE), 0);
	assert_int_equal(kvm_nr_sptes(f.kvm), NPAGES - 2);
	assert_int_equal(stats(&f).zapped - s.zapped, 2);
	assert_true(stats(&f).invalidations > s.invalidations);
	assert_int_equal(kvm_vcpu_read(f.vcpu, gpa(3), &v, sizeof(v)), -EFAULT);
	assert_int_equal(kvm_vcpu_write(f.vcpu, gpa(4), &v, sizeof(v)),
			 -EFAULT);
	assert_int_equal(guest_load(&f, gpa(5)), 1005);
	assert_int_equal(vm_mmap(f.mm, hva(&f, 3), 2 * PAGE_SIZE, RW,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED),
			 (long)hva(&f, 3));
	assert_int_equal(guest_load(&f, gpa(3)), 0);
	guest_store(&f, gpa(4), 44);
	assert_int_equal(test_load(f.cpu, hva(&f, 4)), 44);
	fix_end(&f);
}

/* mprotect(PROT_READ): guest writes fail, reads still work; restoring
 * PROT_WRITE lets the guest write again. */
static void test_mprotect(void **state)
{
	struct kvm_fix f;
	u64 v = 3;

	(void)state;
	fix_begin(&f, 0);
	guest_store(&f, gpa(6), 66);
	assert_int_equal(kvm_nr_sptes(f.kvm), 1);
	assert_int_equal(vm_mprotect(f.mm, hva(&f, 6), PAGE_SIZE, PROT_READ),
			 0);
	assert_int_equal(kvm_nr_sptes(f.kvm), 0);
	assert_int_equal(kvm_vcpu_write(f.vcpu, gpa(6), &v, sizeof(v)), -EPERM);
	assert_int_equal(guest_load(&f, gpa(6)), 66);
	assert_int_equal(kvm_vcpu_write(f.vcpu, gpa(6), &v, sizeof(v)), -EPERM);
	assert_int_equal(vm_mprotect(f.mm, hva(&f, 6), PAGE_SIZE, PROT_NONE),
			 0);
	assert_int_equal(kvm_vcpu_read(f.vcpu, gpa(6), &v, sizeof(v)), -EFAULT);
	assert_int_equal(vm_mprotect(f.mm, hva(&f, 6), PAGE_SIZE, RW), 0);
	guest_store(&f, gpa(6), 67);
	assert_int_equal(test_load(f.cpu, hva(&f, 6)), 67);
	fix_end(&f);
}

/* After fork the parent's guest writes break COW: the child's CPU still
 * reads the old data; the child's writes stay the child's. */
static void test_fork(void **state)
{
	struct kvm_fix f;
	struct mm_struct *child;
	struct sim_cpu *ccpu;

	(void)state;
	fix_begin(&f, 0);
	guest_store(&f, gpa(0), 0x1111);
	guest_store(&f, gpa(1), 0x2222);
	child = mm_fork(f.mm);
	assert_false(IS_ERR(child));
	ccpu = cpu_create(child);
	assert_false(IS_ERR(ccpu));
	/* fork write-protected the parent: its SPTEs were zapped. */
	assert_int_equal(kvm_nr_sptes(f.kvm), 0);
	guest_store(&f, gpa(0), 0x3333);
	assert_int_equal(test_load(ccpu, hva(&f, 0)), 0x1111);
	assert_int_equal(test_load(f.cpu, hva(&f, 0)), 0x3333);
	assert_int_equal(guest_load(&f, gpa(0)), 0x3333);

	/* A read maps the COW-shared page read-only... */
	assert_int_equal(guest_load(&f, gpa(1)), 0x2222);
	test_store(ccpu, hva(&f, 1), 0x4444);
	assert_int_equal(guest_load(&f, gpa(1)), 0x2222);
	/* ...and a write then breaks COW in the parent. */
	guest_store(&f, gpa(1), 0x5555);
	assert_int_equal(test_load(ccpu, hva(&f, 1)), 0x4444);
	assert_int_equal(test_load(f.cpu, hva(&f, 1)), 0x5555);
	assert_true(sptes_coherent(f.kvm, f.mm));
	cpu_destroy(ccpu);
	mm_exit(child);
	fix_end(&f);
}

/* Aging: the rmap walk sees the SPTE accessed bits and clears them;
 * test_young reports them without clearing. */
static void test_aging(void **state)
{
	struct kvm_fix f;
	unsigned long scanned, referenced, cleared;
	struct page *page;

	(void)state;
	fix_begin(&f, 0);
	guest_store(&f, gpa(2), 0x99);
	page = pfn_to_page(test_pfn_at(f.mm, hva(&f, 2), NULL));
	assert_int_equal(mm_age_pass(f.mm, &scanned, &referenced), 0);
	assert_int_equal(scanned, 1);
	assert_int_equal(referenced, 1);
	cleared = stats(&f).young_cleared;
	assert_int_equal(cleared, 1);
	/* Both MMUs' bits are clear now. */
	assert_false(page_idle_test_young(page));
	assert_int_equal(folio_referenced(page), 0);

	/* Only the guest touches it: the CPU PTE stays old, the SPTE is
	 * young, and test_young says so twice (it does not clear). */
	assert_int_equal(guest_load(&f, gpa(2)), 0x99);
	assert_true(page_idle_test_young(page));
	assert_true(page_idle_test_young(page));
	assert_int_equal(stats(&f).young_cleared, cleared);
	assert_true(folio_referenced(page) > 0);
	assert_int_equal(stats(&f).young_cleared, cleared + 1);
	assert_false(page_idle_test_young(page));

	/* clear_young (idle tracking) clears it too. */
	assert_int_equal(guest_load(&f, gpa(2)), 0x99);
	page_idle_clear_young(page);
	assert_false(page_idle_test_young(page));
	assert_int_equal(stats(&f).young_cleared, cleared + 2);
	assert_int_equal(kvm_nr_sptes(f.kvm), 1);
	fix_end(&f);
}

/* The process exits under the VM: release drops every SPTE and later
 * guest accesses fail. */
static void test_release(void **state)
{
	struct kvm_fix f;
	u64 v;

	(void)state;
	fix_begin(&f, 0);
	guest_store(&f, gpa(0), 1);
	guest_store(&f, gpa(1), 2);
	assert_false(stats(&f).released);
	cpu_destroy(f.cpu);
	f.cpu = NULL;
	mm_exit(f.mm);
	f.mm = NULL;
	assert_true(stats(&f).released);
	assert_int_equal(kvm_nr_sptes(f.kvm), 0);
	assert_int_equal(kvm_vcpu_read(f.vcpu, gpa(0), &v, sizeof(v)), -EFAULT);
	assert_int_equal(kvm_vcpu_write(f.vcpu, gpa(5), &v, sizeof(v)),
			 -EFAULT);
	fix_end(&f);
}

/* kvm_destroy() on a live mm runs release through unregister. */
static void test_destroy_live(void **state)
{
	struct kvm_fix f;

	(void)state;
	fix_begin(&f, 0);
	guest_store(&f, gpa(3), 3);
	kvm_vcpu_destroy(f.vcpu);
	f.vcpu = NULL;
	kvm_destroy(f.kvm);
	f.kvm = NULL;
	/* The host memory is untouched and the mm works on. */
	assert_int_equal(test_load(f.cpu, hva(&f, 3)), 3);
	assert_int_equal(vm_munmap(f.mm, f.hva, NPAGES * PAGE_SIZE), 0);
	assert_true(IS_ERR(kvm_create(NULL, "x")));
	fix_end(&f);
}

/* ---- threads ------------------------------------------------------------ */

#define VCPUS 2

static struct {
	struct kvm_fix f;
	struct kvm_vcpu *vcpu[VCPUS];
	int stop;
} thr;

/* vCPU @id owns pages id, id + VCPUS, ...: what it wrote reads back, or
 * zero if the host replaced the memory meanwhile. */
static int vcpu_thread(void *arg)
{
	long id = (long)arg;
	struct kvm_vcpu *vcpu = thr.vcpu[id];
	uint64_t rng = id + 5;

	for (int n = 0; n < TEST_SCALE(20000); n++) {
		unsigned long i =
			(test_rand(&rng) % (NPAGES / VCPUS)) * VCPUS + id;
		unsigned long a = gpa(i) + 8 * (n % 64);
		u64 v = ((u64)id << 32) | (n + 1), r = 0;
		int ret = kvm_vcpu_write(vcpu, a, &v, sizeof(v));

		CHECK(ret == 0 || ret == -EFAULT);
		if (ret)
			continue;
		ret = kvm_vcpu_read(vcpu, a, &r, sizeof(r));
		CHECK(ret == 0 || ret == -EFAULT);
		CHECK(ret || r == v || r == 0);
	}
	return 0;
}

static int host_thread(void *arg)
{
	struct mm_struct *mm = thr.f.mm;
	uint64_t rng = 77;

	while (!smp_load_acquire(&thr.stop)) {
		unsigned long s = thr.f.hva +
				  (test_rand(&rng) % (NPAGES - 2)) * PAGE_SIZE;
		unsigned long len = (1 + test_rand(&rng) % 2) * PAGE_SIZE;
		unsigned long scanned, referenced;

		switch (test_rand(&rng) % 3) {
		case 0:
			CHECK(vm_munmap(mm, s, len) == 0);
			CHECK(vm_mmap(mm, s, len, RW,
				      MAP_PRIVATE | MAP_ANONYMOUS |
					      MAP_FIXED) == (long)s);
			break;
		case 1:
			CHECK(vm_madvise(mm, s, len, MADV_DONTNEED) == 0);
			break;
		default:
			CHECK(mm_age_pass(mm, &scanned, &referenced) == 0);
			break;
		}
		CHECK(sptes_coherent(thr.f.kvm, mm));
	}
	return 0;
}

/* vCPUs access guest memory while the host unmaps, remaps and ages it. */
static void test_vcpus_vs_host(void **state)
{
	struct task_struct *t[VCPUS], *h;
	struct kvm_stats s;

	(void)state;
	memset(&thr, 0, sizeof(thr));
	fix_begin(&thr.f, 0);
	for (int i = 0; i < VCPUS; i++) {
		thr.vcpu[i] = kvm_vcpu_create(thr.f.kvm, i + 1);
		assert_non_null(thr.vcpu[i]);
	}
	h = kthread_run(host_thread, NULL, "host");
	assert_false(IS_ERR(h));
	for (long i = 0; i < VCPUS; i++) {
		t[i] = kthread_run(vcpu_thread, (void *)i, "vcpu%ld", i);
		assert_false(IS_ERR(t[i]));
	}
	for (int i = 0; i < VCPUS; i++)
		assert_int_equal(kthread_join(t[i]), 0);
	smp_store_release(&thr.stop, 1);
	assert_int_equal(kthread_join(h), 0);
	s = stats(&thr.f);
	assert_true(s.invalidations > 0);
	assert_true(s.faults > 0);
	for (int i = 0; i < VCPUS; i++)
		kvm_vcpu_destroy(thr.vcpu[i]);
	fix_end(&thr.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guest_host),
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_munmap),
		cmocka_unit_test(test_mprotect),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_aging),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_destroy_live),
		cmocka_unit_test(test_vcpus_vs_host),
	};

	if (mem_init(MEM_DEFAULT_BYTES)) {
		fprintf(stderr, "cannot set up the arena\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
