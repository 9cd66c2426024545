// SPDX-License-Identifier: MIT
/*
 * cpu.c - simulated CPUs: the hardware side of address translation.
 *
 * One access, page by page:
 *
 *   1. pt_walk_snapshot(): read each level once, descend through the
 *      snapshot, stop at the leaf (or at whatever ends the walk).
 *   2. Check what the hardware checks: _PAGE_PRESENT on the leaf (a
 *      PROT_NONE entry is present to software only), _PAGE_USER on every
 *      level, _PAGE_RW on every level for a store.
 *   3. Set the leaf's accessed bit, and dirty bit for a store, the way x86
 *      hardware does: an atomic update conditional on the entry still being
 *      the one walked.  If the entry changed (zapped, write-protected,
 *      replaced) the cmpxchg fails and the access restarts from the walk,
 *      so a store never marks dirty, and never writes through, an entry
 *      that was already gone.
 *   4. Move the bytes with relaxed atomic accesses into the physical arena.
 *
 * Between 3 and 4 the entry can still be zapped by another thread: real
 * hardware has the same window, closed by the TLB shootdown that the
 * zapping thread must wait for before freeing the page.  Until the TLB and
 * shootdown model lands, callers must not free pages under a running CPU.
 */
#include <string.h>
#include <mmirror/cpu.h>
#include "internal.h"

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
	return cpu;
}

void cpu_destroy(struct sim_cpu *cpu)
{
	if (!cpu)
		return;
	mmput(cpu->mm);
	kfree(cpu);
}

/* Hardware permission check of a walk's result (step 2). */
static int hw_check(const struct pt_snapshot *s, bool write)
{
	if (!pt_snapshot_maps(s))
		return (s->entry & _PAGE_PROTNONE) ? -EACCES : -EFAULT;
	if (!(s->path & s->entry & _PAGE_USER))
		return -EACCES;
	if (write && !(s->path & s->entry & _PAGE_RW))
		return -EACCES;
	return 0;
}

/* Step 3: set A (and D); false if the entry changed since the walk. */
static bool hw_mark(const struct pt_snapshot *s, bool write)
{
	u64 old = s->entry;
	u64 new = old | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);

	if (new == old)
		return READ_ONCE(*s->entryp) == old;
	sched_point(SP_PTE_WRITE, s->entryp);
	return __atomic_compare_exchange_n(s->entryp, &old, new, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* Translate @va for an access; returns the host address of its byte. */
static int hw_translate(struct sim_cpu *cpu, unsigned long va, bool write,
			char **host)
{
	struct pt_snapshot s;
	int ret;

	do {
		pt_walk_snapshot(cpu->mm, va, &s);
		cpu->walks++;
		ret = hw_check(&s, write);
		if (ret)
			return ret;
	} while (!hw_mark(&s, write));
	*host = (char *)pfn_to_virt(pt_snapshot_pfn(&s, va)) +
		(va & ~PAGE_MASK);
	return 0;
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

static int cpu_access(struct sim_cpu *cpu, unsigned long va, char *buf,
		      size_t len, bool write)
{
	if (!cpu || (!buf && len))
		return -EINVAL;
	if (va + len < va || va + len > cpu->mm->task_size)
		return -EINVAL;
	while (len) {
		size_t chunk = min(len, PAGE_SIZE - (va & ~PAGE_MASK));
		char *host;
		int ret = hw_translate(cpu, va, write, &host);

		if (ret)
			return ret;
		if (write)
			copy_in(host, buf, chunk);
		else
			copy_out(buf, host, chunk);
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
	char *host;
	int ret;

	if (!cpu || !val)
		return -EINVAL;
	if (!IS_ALIGNED(va, 8))
		return cpu_load(cpu, va, val, sizeof(*val));
	if (va >= cpu->mm->task_size)
		return -EINVAL;
	ret = hw_translate(cpu, va, false, &host);
	if (ret)
		return ret;
	*val = __atomic_load_n((u64 *)host, __ATOMIC_RELAXED);
	cpu->loads++;
	return 0;
}

int cpu_store_u64(struct sim_cpu *cpu, unsigned long va, u64 val)
{
	char *host;
	int ret;

	if (!cpu)
		return -EINVAL;
	if (!IS_ALIGNED(va, 8))
		return cpu_store(cpu, va, &val, sizeof(val));
	if (va >= cpu->mm->task_size)
		return -EINVAL;
	ret = hw_translate(cpu, va, true, &host);
	if (ret)
		return ret;
	__atomic_store_n((u64 *)host, val, __ATOMIC_RELAXED);
	cpu->stores++;
	return 0;
}
