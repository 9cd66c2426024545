// SPDX-License-Identifier: MIT
/*
 * tlb.c - TLB shootdown and the mmu_gather batch (internal.h is the
 * contract; docs/tlb.md tells the whole story).
 *
 * The shootdown (flush_tlb_mm_range):
 *
 *   1. for every CPU on mm->cpus (under mm->cpus_lock): take the CPU's
 *      tlb_lock, drop its entries in [start, end), release.  The CPU holds
 *      tlb_lock across one "instruction" (TLB lookup / walk + data
 *      access), so the invalidation lands between two of its
 *      instructions, as an IPI would; once the lock is ours the CPU has
 *      finished any access through the old translation, and its next one
 *      walks the (already changed) page tables;
 *   2. tlb_remove_table_sync_one(): wait for every thread that is in an
 *      IRQ-off section (irq.c) - the threads that in the kernel would not
 *      yet have acknowledged the IPI.  A lockless IRQ-off walker (GUP-fast)
 *      that could have read the old entries has finished with them.
 *
 * Only after both may the caller free what the old entries mapped.
 *
 * The mmu_gather orders a teardown as "clear entry -> flush -> free":
 * zapping clears entries (under the PTE/PMD lock), widens the pending range
 * (tlb_flush_pte_range) and queues the pages and the unhooked page-table
 * pages; tlb_flush_mmu() does ONE shootdown for the range and only then
 * drops the page references and frees the tables.  A full batch flushes by
 * itself.  Tables are queued in the batch array, never through their
 * struct page (whose ptl/lru union may still be read by a walker that
 * found the table before it was unhooked).
 *
 * fullmm (exit): no CPU is bound (the last CPU's mmput() came first), so
 * the per-CPU step is skipped; tables still wait for the IRQ-off sync.
 *
 * Lock order: mm->cpus_lock -> cpu->tlb_lock (both spinlocks; tlb_lock is
 * a leaf).  The sync sleeps with no lock of ours held.  A shootdown may be
 * issued with a PTE or PMD lock held (a full batch, or ptep_clear_flush
 * style callers), as in the kernel: therefore nothing may take a PTE/PMD
 * lock with IRQs off, and no CPU takes any lock under its tlb_lock.
 */
#include <mmirror/cpu.h>
#include <mmirror/irqflags.h>
#include "base/trace.h"
#include "internal.h"

/* --- binding CPUs ------------------------------------------------------ */

/**
 * tlb_cpu_bind() - put @cpu on its mm's shootdown list.
 * Context: cpu->mm set; takes mm->cpus_lock.
 */
void tlb_cpu_bind(struct sim_cpu *cpu)
{
	struct mm_struct *mm = cpu->mm;

	spin_lock(&mm->cpus_lock);
	list_add_tail(&cpu->mm_node, &mm->cpus);
	spin_unlock(&mm->cpus_lock);
}

/**
 * tlb_cpu_unbind() - take @cpu off its mm's shootdown list.
 * Context: takes mm->cpus_lock; afterwards no shootdown touches @cpu, so
 * it may be freed.
 */
void tlb_cpu_unbind(struct sim_cpu *cpu)
{
	struct mm_struct *mm = cpu->mm;

	spin_lock(&mm->cpus_lock);
	list_del(&cpu->mm_node);
	spin_unlock(&mm->cpus_lock);
}

/* --- the shootdown ----------------------------------------------------- */

/* Drop @cpu's entries that translate any of [start, end).  tlb_lock held. */
static void tlb_cpu_invalidate(struct sim_cpu *cpu, unsigned long start,
			       unsigned long end)
{
	for (int i = 0; i < SIM_TLB_ENTRIES; i++) {
		struct sim_tlb_entry *e = &cpu->tlb[i];
		unsigned long va = e->vpn << PAGE_SHIFT;

		/* [va, va + PAGE_SIZE) meets [start, end)? (va + PAGE_SIZE
		 * cannot wrap: va < TASK_SIZE.) */
		if (e->valid && va < end && va + PAGE_SIZE > start)
			e->valid = false;
	}
	cpu->tlb_shootdowns++;
}

/*
 * Step 1: the "IPI" to every CPU bound to @mm.  With start >= end no entry
 * is dropped, but every CPU still passes an instruction boundary: a walk
 * in progress (which may be reading a table about to be freed) has ended.
 */
static void tlb_shoot_cpus(struct mm_struct *mm, unsigned long start,
			   unsigned long end)
{
	struct sim_cpu *cpu;

	atomic_long_inc(&mm->tlb_flushes);
	/* Lock order: cpus_lock -> tlb_lock.  cpus_lock keeps every CPU on
	 * the list alive (cpu_destroy unbinds under it before freeing). */
	spin_lock(&mm->cpus_lock);
	list_for_each_entry(cpu, &mm->cpus, mm_node) {
		spin_lock(&cpu->tlb_lock);
		tlb_cpu_invalidate(cpu, start, end);
		spin_unlock(&cpu->tlb_lock);
	}
	spin_unlock(&mm->cpus_lock);
}

/**
 * flush_tlb_mm_range() - TLB shootdown of [@start, @end) in @mm.
 * @mm: the address space.
 * @start: first byte; @end: one past the last (~0UL: to the top).
 *
 * Every CPU bound to @mm drops its cached translations in the range, then
 * the call waits until every thread that was in an IRQ-off section when it
 * took its snapshot has left it.  Counts one flush in mm->tlb_flushes.
 *
 * Context: may sleep; IRQs on (WARNs otherwise, and then does not wait for
 * the caller's own section).  May be called with a PTE/PMD lock held.
 */
void flush_tlb_mm_range(struct mm_struct *mm, unsigned long start,
			unsigned long end)
{
	if (WARN_ON(!mm))
		return;
	trace_event(TR_TLB_FLUSH, "tlb flush %#lx-%#lx", start, end);
	/* With IRQs off, the sync WARNs (once) and skips our own section. */
	tlb_shoot_cpus(mm, start, end);
	/* Secondary TLBs that share the CPU page tables flush with ours. */
	mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end);
	tlb_remove_table_sync_one();
}

/* --- mmu_gather -------------------------------------------------------- */

static void tlb_reset_range(struct mmu_gather *tlb)
{
	tlb->start = ~0UL;
	tlb->end = 0;
}

static void __tlb_gather_mmu(struct mmu_gather *tlb, struct mm_struct *mm,
			     bool fullmm)
{
	tlb->mm = mm;
	tlb->fullmm = fullmm;
	tlb->freed_tables = false;
	tlb->nr = 0;
	tlb->notify = NULL;
	tlb_reset_range(tlb);
}

/**
 * tlb_gather_mmu() - start a batch of invalidations and frees for @mm.
 * Context: the caller will clear entries of @mm (mmap_lock held).
 */
void tlb_gather_mmu(struct mmu_gather *tlb, struct mm_struct *mm)
{
	if (WARN_ON(!tlb || !mm))
		return;
	__tlb_gather_mmu(tlb, mm, false);
}

void tlb_gather_mmu_notify(struct mmu_gather *tlb,
			   struct mmu_notifier_range *range,
			   struct mm_struct *mm, enum mmu_notifier_event event,
			   unsigned long start, unsigned long end)
{
	if (WARN_ON(!tlb || !mm || !range))
		return;
	/* Start first: no secondary MMU may hold a translation in the range
	 * once any primary entry there changes. */
	mmu_notifier_range_init(range, event, 0, mm, start, end);
	mmu_notifier_invalidate_range_start(range);
	__tlb_gather_mmu(tlb, mm, false);
	tlb->notify = range;
}

/**
 * tlb_gather_mmu_fullmm() - the same for tearing down all of @mm (exit):
 * no CPU may be bound (WARNs otherwise), so the flush skips the CPUs.
 */
void tlb_gather_mmu_fullmm(struct mmu_gather *tlb, struct mm_struct *mm)
{
	if (WARN_ON(!tlb || !mm))
		return;
	spin_lock(&mm->cpus_lock);
	WARN_ON(!list_empty(&mm->cpus));
	spin_unlock(&mm->cpus_lock);
	__tlb_gather_mmu(tlb, mm, true);
}

/**
 * tlb_flush_pte_range() - widen the pending flush to [@addr, @addr+@size).
 * Context: called after the entries were cleared, before their pages are
 * queued.
 */
void tlb_flush_pte_range(struct mmu_gather *tlb, unsigned long addr,
			 unsigned long size)
{
	unsigned long end = addr + size;

	if (WARN_ON(!tlb || end < addr))
		return;
	tlb->start = min(tlb->start, addr);
	tlb->end = max(tlb->end, end);
}

static void tlb_queue(struct mmu_gather *tlb, struct page *page, bool table)
{
	tlb->batch[tlb->nr].page = page;
	tlb->batch[tlb->nr].table = table;
	/* A full batch flushes by itself, so nr < MMU_GATHER_BATCH always. */
	if (++tlb->nr == MMU_GATHER_BATCH)
		tlb_flush_mmu(tlb);
}

/**
 * tlb_remove_page() - drop one reference on @page after the flush.
 * Context: the entry mapping @page was cleared and its range passed to
 * tlb_flush_pte_range().  May flush (and sleep) when the batch fills.
 */
void tlb_remove_page(struct mmu_gather *tlb, struct page *page)
{
	if (WARN_ON(!tlb || !page))
		return;
	tlb_queue(tlb, page, false);
}

/**
 * tlb_remove_table() - free the page-table page @table after the flush and
 * the IRQ-off sync.
 * Context: @table is already unhooked from its parent entry.  Its struct
 * page is not written while queued.  May flush when the batch fills.
 */
void tlb_remove_table(struct mmu_gather *tlb, struct page *table)
{
	if (WARN_ON(!tlb || !table) || WARN_ON(!PageTable(table)))
		return;
	tlb->freed_tables = true;
	tlb_queue(tlb, table, true);
}

/**
 * tlb_flush_mmu() - flush the pending range now, then free everything
 * queued so far (pages: put_page; tables: pgtable_free).
 *
 * Order: the shootdown (CPUs, then IRQ-off sync) happens before the first
 * free.  A batch with tables but no range still passes every CPU (a walk
 * in progress may be reading a queued table) and syncs.
 *
 * Context: may sleep; IRQs on.
 */
void tlb_flush_mmu(struct mmu_gather *tlb)
{
	bool range = tlb && tlb->start < tlb->end;

	if (WARN_ON(!tlb || !tlb->mm))
		return;
	/* IRQs must be on: the sync below WARNs otherwise. */
	if (!tlb->fullmm && (range || tlb->freed_tables)) {
		tlb_shoot_cpus(tlb->mm, tlb->start, tlb->end);
		if (range)
			mmu_notifier_arch_invalidate_secondary_tlbs(
				tlb->mm, tlb->start, tlb->end);
		tlb_remove_table_sync_one();
	} else if (tlb->fullmm && tlb->freed_tables) {
		/* No CPU, but maybe a lockless IRQ-off walker. */
		tlb_remove_table_sync_one();
	}
	/* Only now: no CPU and no IRQ-off walker can reach them. */
	for (unsigned int i = 0; i < tlb->nr; i++) {
		if (tlb->batch[i].table)
			pgtable_free(tlb->mm, tlb->batch[i].page);
		else
			put_page(tlb->batch[i].page);
	}
	tlb->nr = 0;
	tlb->freed_tables = false;
	tlb_reset_range(tlb);
}

/**
 * tlb_finish_mmu() - end the batch: flush and free what is still queued.
 */
void tlb_finish_mmu(struct mmu_gather *tlb)
{
	if (WARN_ON(!tlb))
		return;
	tlb_flush_mmu(tlb);
	/* After the last flush: the range is quiet again. */
	if (tlb->notify)
		mmu_notifier_invalidate_range_end(tlb->notify);
	tlb->notify = NULL;
}
