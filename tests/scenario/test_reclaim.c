// SPDX-License-Identifier: MIT
/*
 * Reclaim and swap under the secondary-MMU drivers, through their public
 * headers only, all under the oracle (a device access through a stale
 * translation, or a write lost on its way to swap and back, fails the
 * test) with every frame, object, mm and swap slot back at the end:
 *   mirror  swap-out of mirrored pages; device writes survive swap-out and
 *           swap-in; a snapshot sees swap entries as not mapped and a
 *           device fault brings them back;
 *   odp     the MR's page list is invalidated by reclaim and DMA re-faults;
 *   kvm     SPTEs are zapped by reclaim and the guest re-faults; aging asks
 *           the VM through clear_flush_young and a page only the guest
 *           uses survives reclaim;
 *   pin     a pinned region is never reclaimed.
 */
#include "mirror_util.h"
#include <mmirror/swap.h>
#include "kvm/kvm.h"
#include "odp/odp.h"
#include "pin/pin.h"

#define NP 8

static void end_swap_clean(void)
{
	swap_cache_drain();
	assert_int_equal(swap_slots_used(), 0);
}

static bool swapped(struct mm_struct *mm, unsigned long va)
{
	return test_pfn_at(mm, va, NULL) == 0;
}

static void test_mirror_device_writes_survive(void **state)
{
	struct scen s;
	long a;

	scen_setup(&s, 2);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	dev_write_pat(s.dm, a, NP * P, 1);
	assert_true(dm_stats(s.dm).entries > 0);
	assert_int_equal(vm_reclaim(~0UL), NP);
	/* Reclaim invalidated the device before each page went. */
	assert_int_equal(dm_stats(s.dm).entries, 0);
	for (int i = 0; i < NP; i++)
		assert_true(swapped(s.mm, a + i * P));
	cpu_expect(s.cpu, a, NP * P, 1);
	/* Now the device reads them back, writes again, and the pages go
	 * out and come in once more. */
	dev_expect(s.dm, a, NP * P, 1);
	dev_write_pat(s.dm, a + P, 2 * P, 2);
	assert_int_equal(vm_reclaim(~0UL), NP);
	dev_expect(s.dm, a + P, 2 * P, 2);
	cpu_expect(s.cpu, a + P, 2 * P, 2);
	cpu_expect(s.cpu, a + 3 * P, (NP - 3) * P, 1);
	vm_munmap(s.mm, a, NP * P);
	end_swap_clean();
	scen_teardown(&s);
}

static void test_mirror_snapshot_and_fault(void **state)
{
	unsigned char st[NP];
	struct scen s;
	long a;

	scen_setup(&s, 1);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, a, NP * P, 3);
	assert_int_equal(vm_reclaim(~0UL), NP);
	/* Without REQ_FAULT a swap entry is "not mapped"... */
	assert_int_equal(dmirror_snapshot(s.dm, a, a + NP * P, st), 0);
	for (int i = 0; i < NP; i++)
		assert_int_equal(st[i], DMIRROR_PROT_NONE);
	assert_int_equal(swap_slots_used(), NP);
	/* ...with it, hmm_range_fault swaps it in. */
	assert_int_equal(dmirror_fault(s.dm, a, a + NP * P, false), 0);
	assert_int_equal(dmirror_snapshot(s.dm, a, a + NP * P, st), 0);
	for (int i = 0; i < NP; i++)
		assert_true(st[i] & (DMIRROR_PROT_READ | DMIRROR_PROT_WRITE));
	assert_int_equal(swap_slots_used(), 0);
	dev_expect(s.dm, a, NP * P, 3);
	vm_munmap(s.mm, a, NP * P);
	end_swap_clean();
	scen_teardown(&s);
}

static void test_mirror_fork_shared_slots(void **state)
{
	struct mm_struct *child;
	struct sim_cpu *ccpu;
	struct scen s;
	long a;

	scen_setup(&s, 1);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	dev_write_pat(s.dm, a, NP * P, 4);
	assert_int_equal(vm_reclaim(~0UL), NP);
	child = mm_fork(s.mm);
	assert_false(IS_ERR(child));
	ccpu = cpu_create(child);
	cpu_expect(ccpu, a, NP * P, 4);
	/* The device writes the parent's pages: COW away from the child. */
	dev_write_pat(s.dm, a, NP * P, 5);
	cpu_expect(ccpu, a, NP * P, 4);
	cpu_expect(s.cpu, a, NP * P, 5);
	assert_true(vm_reclaim(~0UL) >= NP);
	cpu_expect(ccpu, a, NP * P, 4);
	dev_expect(s.dm, a, NP * P, 5);
	cpu_destroy(ccpu);
	mm_exit(child);
	vm_munmap(s.mm, a, NP * P);
	end_swap_clean();
	scen_teardown(&s);
}

/*
 * A THP region under a frame limit: the fault that goes over the limit
 * reclaims, which splits the cold huge page (its PMD mapping first, under
 * an invalidation the device sees) and swaps it out page by page; the
 * device and the CPU then read every byte back.
 */
static void test_mirror_thp_under_frame_limit(void **state)
{
	struct scen s;
	u64 e = 0;
	long a, b;

	/* A slot per subpage; the usual small area again at the end. */
	assert_int_equal(swap_area_init(2 * HPAGE_PMD_NR), 0);
	scen_setup(&s, 2);
	a = test_map(s.mm, PMD_SIZE, RW, MAP_PRIVATE);
	assert_true(IS_ALIGNED(a, PMD_SIZE));
	assert_int_equal(vm_madvise(s.mm, a, PMD_SIZE, MADV_HUGEPAGE), 0);
	b = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	dev_write_pat(s.dm, a, PMD_SIZE, 9);
	assert_true(test_pfn_at(s.mm, a, &e) && (e & _PAGE_PSE));
	assert_true(dm_stats(s.dm).entries > 0);
	/* Cold: aging clears the accessed bit the fault set. */
	lru_age_pages(~0UL, NULL);
	vm_set_frame_limit(totalram_pages() - nr_free_pages() -
			   HPAGE_PMD_NR / 2);
	cpu_write_pat(s.cpu, b, NP * P, 10);
	vm_set_frame_limit(0);
	for (int i = 0; i < HPAGE_PMD_NR; i++)
		assert_true(swapped(s.mm, a + i * P));
	assert_int_equal(swap_slots_used(), HPAGE_PMD_NR);
	assert_int_equal(dm_stats(s.dm).entries, 0);
	/* The device faults the pages back in (hmm_range_fault swaps them
	 * in), then the CPU reads them. */
	dev_expect(s.dm, a, PMD_SIZE, 9);
	assert_int_equal(swap_slots_used(), 0);
	cpu_expect(s.cpu, a, PMD_SIZE, 9);
	cpu_expect(s.cpu, b, NP * P, 10);
	vm_munmap(s.mm, a, PMD_SIZE);
	end_swap_clean();
	scen_teardown(&s);
	assert_int_equal(swap_area_init(256), 0);
}

static void test_odp_refault(void **state)
{
	struct mm_leak_check lc;
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	struct odp_dev *dev;
	struct odp_mr *mr;
	struct odp_stats st0, st1;
	unsigned char buf[2 * P];
	long a;

	scen_begin(&lc);
	mm = mm_alloc();
	cpu = cpu_create(mm);
	a = test_map(mm, NP * P, RW, MAP_PRIVATE);
	dev = odp_create("nic0");
	assert_false(IS_ERR(dev));
	mr = odp_reg_mr(dev, mm, a, NP * P, ODP_ACCESS_WRITE);
	assert_false(IS_ERR(mr));
	pat_fill(buf, a, sizeof(buf), 6);
	assert_int_equal(odp_dma_write(mr, a, buf, sizeof(buf)), 0);
	cpu_write_pat(cpu, a + 2 * P, (NP - 2) * P, 7);
	assert_int_equal(odp_prefetch(mr, a, NP * P, true), 0);
	assert_int_equal(odp_mr_mapped(mr), NP);
	assert_int_equal(vm_reclaim(~0UL), NP);
	assert_int_equal(odp_mr_mapped(mr), 0);
	odp_get_stats(dev, &st0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(odp_dma_read(mr, a, buf, sizeof(buf)), 0);
	assert_true(pat_ok(buf, a, sizeof(buf), 6));
	odp_get_stats(dev, &st1);
	assert_true(st1.page_faults > st0.page_faults);
	cpu_expect(cpu, a + 2 * P, (NP - 2) * P, 7);
	odp_dereg_mr(mr);
	odp_destroy(dev);
	cpu_destroy(cpu);
	mm_exit(mm);
	end_swap_clean();
	scen_end(&lc);
}

#define GPA 0x100000UL

struct vm_fix {
	struct mm_leak_check lc;
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	struct kvm *kvm;
	struct kvm_vcpu *vcpu;
	long hva;
};

static void vm_begin(struct vm_fix *f)
{
	scen_begin(&f->lc);
	f->mm = mm_alloc();
	f->cpu = cpu_create(f->mm);
	f->hva = test_map(f->mm, NP * P, RW, MAP_PRIVATE);
	f->kvm = kvm_create(f->mm, "vm0");
	assert_false(IS_ERR(f->kvm));
	assert_int_equal(
		kvm_set_memory_region(f->kvm, 0, GPA, f->hva, NP * P, 0), 0);
	f->vcpu = kvm_vcpu_create(f->kvm, 0);
	assert_non_null(f->vcpu);
}

static void vm_end(struct vm_fix *f)
{
	kvm_vcpu_destroy(f->vcpu);
	kvm_destroy(f->kvm);
	cpu_destroy(f->cpu);
	mm_exit(f->mm);
	end_swap_clean();
	scen_end(&f->lc);
}

static void guest_store(struct vm_fix *f, unsigned long gpa, u64 v)
{
	assert_int_equal(kvm_vcpu_write(f->vcpu, gpa, &v, sizeof(v)), 0);
}

static u64 guest_load(struct vm_fix *f, unsigned long gpa)
{
	u64 v = 0;

	assert_int_equal(kvm_vcpu_read(f->vcpu, gpa, &v, sizeof(v)), 0);
	return v;
}

static void test_kvm_refault(void **state)
{
	struct vm_fix f;

	vm_begin(&f);
	for (int i = 0; i < NP; i++)
		guest_store(&f, GPA + i * P, 100 + i);
	assert_int_equal(kvm_nr_sptes(f.kvm), NP);
	assert_int_equal(vm_reclaim(~0UL), NP);
	assert_int_equal(kvm_nr_sptes(f.kvm), 0);
	for (int i = 0; i < NP; i++)
		assert_int_equal(guest_load(&f, GPA + i * P), 100 + i);
	assert_int_equal(test_load(f.cpu, f.hva + 3 * P), 103);
	vm_end(&f);
}

static void test_kvm_aging(void **state)
{
	struct kvm_stats st0, st1;
	unsigned long young;
	struct vm_fix f;

	vm_begin(&f);
	for (int i = 0; i < NP; i++)
		guest_store(&f, GPA + i * P, 200 + i);
	kvm_get_stats(f.kvm, &st0);
	/* Every page young (PTE and SPTE); the VM is asked and clears. */
	assert_int_equal(lru_age_pages(~0UL, &young), NP);
	assert_int_equal(young, NP);
	kvm_get_stats(f.kvm, &st1);
	assert_true(st1.young_cleared >= st0.young_cleared + NP);
	/* Nobody touched them since: cold on both MMUs. */
	assert_int_equal(lru_age_pages(~0UL, &young), NP);
	assert_int_equal(young, 0);
	/* Only the guest touches page 5 now: the CPU PTE stays old, the
	 * SPTE young, and clear_flush_young keeps the page resident while
	 * reclaim takes the cold ones. */
	assert_int_equal(guest_load(&f, GPA + 5 * P), 205);
	assert_int_equal(vm_reclaim(NP - 1), NP - 1);
	assert_false(swapped(f.mm, f.hva + 5 * P));
	assert_true(swapped(f.mm, f.hva + 4 * P));
	for (int i = 0; i < NP; i++)
		assert_int_equal(guest_load(&f, GPA + i * P), 200 + i);
	vm_end(&f);
}

static void test_pin_region_stays(void **state)
{
	struct mm_leak_check lc;
	struct pin_region *r;
	struct pindev *dev;
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	unsigned long pfn;
	long a;

	scen_begin(&lc);
	mm = mm_alloc();
	cpu = cpu_create(mm);
	a = test_map(mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(cpu, a, NP * P, 8);
	dev = pindev_create("pin0", 0);
	assert_false(IS_ERR(dev));
	r = pindev_register(dev, mm, a, 2 * P);
	assert_false(IS_ERR(r));
	pfn = test_pfn_at(mm, a, NULL);
	assert_int_equal(vm_reclaim(~0UL), NP - 2);
	assert_int_equal(test_pfn_at(mm, a, NULL), pfn);
	assert_int_equal(pindev_region_pinned(r), 2);
	pindev_deregister(r);
	pindev_destroy(dev);
	cpu_expect(cpu, a, NP * P, 8);
	cpu_destroy(cpu);
	mm_exit(mm);
	end_swap_clean();
	scen_end(&lc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror_device_writes_survive),
		cmocka_unit_test(test_mirror_snapshot_and_fault),
		cmocka_unit_test(test_mirror_fork_shared_slots),
		cmocka_unit_test(test_mirror_thp_under_frame_limit),
		cmocka_unit_test(test_odp_refault),
		cmocka_unit_test(test_kvm_refault),
		cmocka_unit_test(test_kvm_aging),
		cmocka_unit_test(test_pin_region_stays),
	};

	assert_int_equal(swap_area_init(256), 0);
	mm_exit(mm_alloc());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
