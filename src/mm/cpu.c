// SPDX-License-Identifier: MIT
/*
 * cpu.c - simulated CPUs: the hardware side of address translation, with a
 * TLB that shootdowns invalidate and page faults that go to
 * handle_mm_fault().
 *
 * One access, page chunk by page chunk (cpu_access_chunk):
 *
 *   spin_lock(tlb_lock)
 *   1. TLB lookup: slot vpn % SIM_TLB_ENTRIES.  A load hits any valid
 *      entry for the vpn; a store hits only an entry known writable AND
 *      dirty (a store through a clean entry re-walks to set the PTE's dirty
 *      bit, as x86 does; through a read-only one it re-walks in case the
 *      PTE was upgraded - the "spurious fault" fix-up).
 *   2. Miss: pt_walk_snapshot() reads each level once and descends through
 *      the snapshot; check what the hardware checks (_PAGE_PRESENT on the
 *      leaf, _PAGE_USER on every level, _PAGE_RW on every level for a
 *      store); set the leaf's accessed (and dirty) bit with a cmpxchg
 *      conditional on the entry still being the one walked - if it changed
 *      (zapped, write-protected, replaced) the walk restarts, so a store
 *      never marks dirty, or caches, an entry that is already gone; then
 *      fill the TLB slot.
 *   3. Move the bytes with relaxed atomic accesses into the frame.
 *   spin_unlock(tlb_lock)
 *   4. No usable translation: the fault path (below), with tlb_lock
 *      released, then retry the chunk.
 *
 * Why tlb_lock covers exactly 1-3: a shootdown (tlb.c) takes each bound
 * CPU's tlb_lock to drop entries.  Holding it from lookup to the last byte
 * moved makes one chunk an "instruction": the invalidation lands before or
 * after it, never in the middle, like an IPI.  So when flush_tlb_mm_range()
 * returns, no CPU can still be writing through a translation of the flushed
 * range, and the caller may free the frame.  The walk runs under the lock
 * too, which is what keeps page-table pages alive under it: tables are
 * unhooked before the shootdown and freed after it (mmu_gather).
 *
 * Between a PTE change and the shootdown, a CPU keeps using its cached
 * entry (stale-TLB semantics, as on real hardware): a store through a
 * cached writable+dirty entry succeeds even after the PTE was
 * write-protected.  Because a cached writable entry is always "dirty
 * known" (the PTE had _PAGE_DIRTY when it was cached), whoever clears the
 * PTE sees the dirty bit and propagates it: such a late store is never
 * lost.
 *
 * Faults: mmap_read_lock(mm); vma_lookup(); no VMA -> -EFAULT (SIGSEGV
 * MAPERR); !vma_access_permitted() -> -EACCES (SEGV_ACCERR); otherwise
 * handle_mm_fault() and retry (at most CPU_FAULT_RETRIES faults per chunk
 * in a row without a major fault, then WARN and -EFAULT: a fault handler
 * that "succeeds" without mapping anything would otherwise loop forever;
 * a swap-in is progress even when reclaim takes the page again first).
 *
 * Lock order: mmap_lock (fault path, tlb_lock NOT held) ; mm->cpus_lock ->
 * cpu->tlb_lock (shootdown).  tlb_lock is a leaf of the host MMU: nothing
 * of the host is taken under it (the walk takes no locks; the A/D cmpxchg
 * is lock-free).  Only the coherence oracle's own locks nest inside it
 * when the oracle is on (check_hook_cpu_access: tlb_lock -> oracle locks,
 * which are leaves and never wait for a CPU).
 */
#include <string.h>
#include <mmirror/cpu.h>
#include <mmirror/irqflags.h>
#include "base/check_hooks.h"
#include "internal.h"

#define CPU_FAULT_RETRIES 64
/* cpu_fault(): a page was read in (VM_FAULT_MAJOR); retry afresh. */
#define CPU_FAULT_PROGRESS 1

struct sim_cpu *cpu_create(struct mm_struct *mm)
{
	struct sim_cpu *cpu;

	if (!mm)
		return ERR_PTR(-EINVAL);
	cpu = kzalloc(sizeof(*cpu), GFP_KERNEL);
	if (!cpu)
		return ERR_PTR(-ENOMEM);
	if (!mmget_not_zero(mm)) {
		kfree(cpu);
		return ERR_PTR(-EINVAL);
	}
	cpu->mm = mm;
	spin_lock_init(&cpu->tlb_lock);
	tlb_cpu_bind(cpu);
	return cpu;
}

void cpu_destroy(struct sim_cpu *cpu)
{
	if (!cpu)
		return;
	/* Off mm->cpus before the reference goes: the last mmput() must
	 * find no CPU bound (exit's fullmm gather). */
	tlb_cpu_unbind(cpu);
	mmput(cpu->mm);
	kfree(cpu);
}

/* --- the hardware walk (tlb_lock held) ------------------------------------ */

/* Hardware permission check of a walk's result; true if usable. */
static bool hw_permits(const struct pt_snapshot *s, bool write)
{
	if (!pt_snapshot_maps(s))
		return false;
	if (!(s->path & s->entry & _PAGE_USER))
		return false;
	return !write || (s->path & s->entry & _PAGE_RW);
}

/* Set A (and D); false if the entry changed since the walk. */
static bool hw_mark(const struct pt_snapshot *s, bool write, u64 *now)
{
	u64 old = s->entry;
	u64 new = old | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);

	*now = new;
	if (new == old) {
		/* Pairs with set_pXd()/RMWs of whoever changes the entry:
		 * still the value we walked? */
		return pt_word_load(s->entryp) == old;
	}
	return pt_word_cmpxchg(s->entryp, &old, new);
}

/*
 * Walk for @va and fill @e.  Return 0, or -EFAULT when the walk found no
 * usable translation (the slot is then invalidated, as x86 drops the
 * translation of a faulting address).
 */
static int hw_walk_fill(struct sim_cpu *cpu, unsigned long va, bool write,
			struct sim_tlb_entry *e)
{
	struct pt_snapshot s;
	u64 now;

	do {
		pt_walk_snapshot(cpu->mm, va, &s);
		cpu->walks++;
		if (!hw_permits(&s, write)) {
			e->valid = false;
			return -EFAULT;
		}
	} while (!hw_mark(&s, write, &now));
	e->vpn = va >> PAGE_SHIFT;
	e->pfn = pt_snapshot_pfn(&s, va);
	e->writable = s.path & now & _PAGE_RW;
	e->dirty = now & _PAGE_DIRTY;
	e->valid = true;
	return 0;
}

static bool tlb_hit(const struct sim_tlb_entry *e, unsigned long vpn,
		    bool write)
{
	if (!e->valid || e->vpn != vpn)
		return false;
	return !write || (e->writable && e->dirty);
}

static void copy_in(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		__atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
}

static void copy_out(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

/*
 * One "instruction": translate and move @len bytes (inside one page) under
 * tlb_lock.  @word: one aligned 64-bit access.  Return 0 or -EFAULT (no
 * usable translation: take a fault).
 */
static int cpu_access_chunk(struct sim_cpu *cpu, unsigned long va, char *buf,
			    size_t len, bool write, bool word)
{
	unsigned long vpn = va >> PAGE_SHIFT;
	struct sim_tlb_entry *e = &cpu->tlb[vpn % SIM_TLB_ENTRIES];
	char *host;
	int ret = 0;

	/* Lock order: tlb_lock is a leaf; the shootdown takes it under
	 * mm->cpus_lock.  Held until the last byte moved. */
	spin_lock(&cpu->tlb_lock);
	if (tlb_hit(e, vpn, write))
		cpu->tlb_hits++;
	else
		ret = hw_walk_fill(cpu, va, write, e);
	/* With the oracle on it moves the bytes itself, under its shadow
	 * lock (nested inside tlb_lock, see the lock order above). */
	if (!ret && !check_hook_cpu_access(cpu->mm, va, e->pfn, buf, len, write,
					   word)) {
		host = (char *)pfn_to_virt(e->pfn) + (va & ~PAGE_MASK);
		if (word && write)
			__atomic_store_n((u64 *)host, *(u64 *)buf,
					 __ATOMIC_RELAXED);
		else if (word)
			*(u64 *)buf =
				__atomic_load_n((u64 *)host, __ATOMIC_RELAXED);
		else if (write)
			copy_in(host, buf, len);
		else
			copy_out(buf, host, len);
	}
	spin_unlock(&cpu->tlb_lock);
	return ret;
}

/* --- page faults ------------------------------------------------------- */

/*
 * The fault path of a user access at @va: 0 to retry the access,
 * CPU_FAULT_PROGRESS to retry it after a major fault, or the error the
 * access fails with.  Context: tlb_lock not held; may sleep.
 */
static int cpu_fault(struct sim_cpu *cpu, unsigned long va, bool write)
{
	struct mm_struct *mm = cpu->mm;
	unsigned int flags = write ? FAULT_FLAG_WRITE : 0;
	struct vm_area_struct *vma;
	vm_fault_t fault;
	int ret = 0;

	cpu->faults++;
	/* Sleeping (mmap_lock) with IRQs off would deadlock a shootdown. */
	if (WARN_ON(irqs_disabled()))
		return -EFAULT;
	mmap_read_lock(mm);
	vma = vma_lookup(mm, va);
	if (!vma)
		ret = -EFAULT;
	else if (!vma_access_permitted(vma, flags))
		ret = -EACCES;
	if (ret) {
		mmap_read_unlock(mm);
		return ret;
	}
	fault = handle_mm_fault(vma, va, flags);
	mmap_read_unlock(mm);
	if (fault & VM_FAULT_OOM)
		return -ENOMEM;
	if (fault & VM_FAULT_SIGSEGV)
		return -EACCES;
	if (fault & VM_FAULT_SIGBUS)
		return -EFAULT;
	/* A major fault read a page in: progress, even if reclaim takes it
	 * again before the access retries (thrashing, not a bug). */
	if (fault & VM_FAULT_MAJOR)
		return CPU_FAULT_PROGRESS;
	return 0; /* 0 or VM_FAULT_RETRY: retry the access */
}

/* One chunk with its faults. */
static int cpu_access_fault(struct sim_cpu *cpu, unsigned long va, char *buf,
			    size_t len, bool write, bool word)
{
	for (int tries = 0;; tries++) {
		int ret;

		if (!cpu_access_chunk(cpu, va, buf, len, write, word))
			return 0;
		if (WARN_ON(tries == CPU_FAULT_RETRIES))
			return -EFAULT;
		ret = cpu_fault(cpu, va, write);
		if (ret == CPU_FAULT_PROGRESS)
			tries = 0;
		else if (ret)
			return ret;
	}
}

static int cpu_access(struct sim_cpu *cpu, unsigned long va, char *buf,
		      size_t len, bool write)
{
	if (!cpu || (!buf && len))
		return -EINVAL;
	if (va + len < va || va + len > cpu->mm->task_size)
		return -EINVAL;
	while (len) {
		size_t chunk = min(len, PAGE_SIZE - (va & ~PAGE_MASK));
		int ret = cpu_access_fault(cpu, va, buf, chunk, write, false);

		if (ret)
			return ret;
		va += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

int cpu_load(struct sim_cpu *cpu, unsigned long va, void *buf, size_t len)
{
	int ret = cpu_access(cpu, va, buf, len, false);

	if (!ret)
		cpu->loads++;
	return ret;
}

int cpu_store(struct sim_cpu *cpu, unsigned long va, const void *buf,
	      size_t len)
{
	int ret = cpu_access(cpu, va, (char *)buf, len, true);

	if (!ret)
		cpu->stores++;
	return ret;
}

int cpu_load_u64(struct sim_cpu *cpu, unsigned long va, u64 *val)
{
	int ret;

	if (!cpu || !val)
		return -EINVAL;
	if (!IS_ALIGNED(va, 8))
		return cpu_load(cpu, va, val, sizeof(*val));
	if (va >= cpu->mm->task_size)
		return -EINVAL;
	ret = cpu_access_fault(cpu, va, (char *)val, 8, false, true);
	if (!ret)
		cpu->loads++;
	return ret;
}

int cpu_store_u64(struct sim_cpu *cpu, unsigned long va, u64 val)
{
	int ret;

	if (!cpu)
		return -EINVAL;
	if (!IS_ALIGNED(va, 8))
		return cpu_store(cpu, va, &val, sizeof(val));
	if (va >= cpu->mm->task_size)
		return -EINVAL;
	ret = cpu_access_fault(cpu, va, (char *)&val, 8, true, true);
	if (!ret)
		cpu->stores++;
	return ret;
}
