/* SPDX-License-Identifier: MIT */
/*
 * cpu.h - simulated CPUs: loads and stores through an address space the way
 * hardware does them, with a TLB, page faults and TLB shootdowns.
 *
 * A CPU is bound to one mm (on mm->cpus, so every shootdown of that mm
 * reaches it).  Each access, page chunk by page chunk:
 *
 *   1. looks the 4 KiB virtual page up in the CPU's TLB (64 entries,
 *      direct-mapped by virtual page number);
 *   2. on a miss - or a store through an entry not known writable and
 *      dirty - walks the page tables like an x86-64 MMU: reads each level's
 *      entry once and descends through that snapshot (seed 001), requires
 *      _PAGE_PRESENT and _PAGE_USER at every level and _PAGE_RW at every
 *      level for a store, and sets the leaf's accessed (and, for a store,
 *      dirty) bit with an atomic compare-and-exchange that restarts the
 *      walk if the entry changed underneath it; then caches the result;
 *   3. moves the bytes through the physical arena with relaxed atomic
 *      accesses (two CPUs racing on the same bytes is a program race real
 *      hardware permits, not undefined behaviour in the model);
 *   4. when the walk finds no usable translation, takes a page fault:
 *      mmap_read_lock, vma_lookup, handle_mm_fault, and retries.
 *
 * Steps 1-3 of one chunk run under the CPU's tlb_lock; a shootdown takes
 * the same lock to drop entries, so an invalidation lands "between two
 * instructions" of the CPU, as an IPI does.  Until the shootdown reaches
 * it, a CPU keeps using a cached translation even if the PTE changed: a
 * store through a cached writable entry succeeds after the PTE was
 * write-protected and before flush_tlb_mm_range() (docs/tlb.md).
 *
 * A struct sim_cpu is used by one thread at a time.
 */
#ifndef MMIRROR_CPU_H
#define MMIRROR_CPU_H

#include <mmirror/list.h>
#include <mmirror/mm_types.h>
#include <mmirror/spinlock.h>

#define SIM_TLB_ENTRIES 64 /* direct-mapped by virtual page number */

/* One cached 4 KiB translation (under the owning CPU's tlb_lock). */
struct sim_tlb_entry {
	unsigned long vpn; /* virtual page number (va >> PAGE_SHIFT) */
	unsigned long pfn; /* the 4 KiB frame (a subpage of a huge leaf) */
	bool valid;
	bool writable; /* RW and USER at every level and the leaf */
	bool dirty; /* the leaf had _PAGE_DIRTY when cached */
};

struct sim_cpu {
	struct mm_struct *mm; /* holds an mm_users reference */
	/*
	 * tlb_lock: held across "TLB lookup / walk + the data access" of one
	 * page chunk, and by a shootdown while it drops entries.  A leaf lock:
	 * nothing is taken under it.  Order: mm->cpus_lock -> tlb_lock.
	 */
	spinlock_t tlb_lock;
	struct list_head mm_node; /* on mm->cpus, under mm->cpus_lock */
	struct sim_tlb_entry tlb[SIM_TLB_ENTRIES]; /* under tlb_lock */
	/* Statistics.  The first five are written by the CPU's thread only;
	 * tlb_shootdowns under tlb_lock by the shootdown. */
	unsigned long loads, stores; /* accesses that completed */
	unsigned long walks; /* hardware page-table walks */
	unsigned long tlb_hits; /* page chunks served by the TLB */
	unsigned long faults; /* page faults taken */
	unsigned long tlb_shootdowns; /* shootdowns delivered to this CPU */
};

/*
 * cpu_create() - a new CPU bound to @mm: takes a user reference and joins
 * mm->cpus.  Return: the CPU, or ERR_PTR(-EINVAL) (NULL or dead @mm) or
 * ERR_PTR(-ENOMEM).
 */
struct sim_cpu *cpu_create(struct mm_struct *mm);
/* Unbind (leave mm->cpus) and free the CPU; drops its mm reference. */
void cpu_destroy(struct sim_cpu *cpu);

/*
 * cpu_load()/cpu_store() - copy @len bytes from/to virtual address @va.
 *
 * Faults go through handle_mm_fault() like a user access.  Return: 0;
 * -EFAULT when no VMA covers a page that has no usable translation (the
 * SIGSEGV MAPERR case: pages mapped by hand with mm_map_page() have no
 * VMA, so a missing or forbidding translation there gives -EFAULT), or
 * when the fault handler reports VM_FAULT_SIGBUS; -EACCES when the VMA
 * forbids the access (SEGV_ACCERR) or the fault handler says
 * VM_FAULT_SIGSEGV; -ENOMEM on VM_FAULT_OOM; -EINVAL on bad arguments or a
 * range that wraps or leaves the address space.  Bytes before the failing
 * page have been copied.
 *
 * Context: takes mmap_lock for read on a fault (may sleep); IRQs should be
 * on (a fault with IRQs off WARNs and fails with -EFAULT).
 */
int cpu_load(struct sim_cpu *cpu, unsigned long va, void *buf, size_t len);
int cpu_store(struct sim_cpu *cpu, unsigned long va, const void *buf,
	      size_t len);
/* 64-bit accesses; single-copy atomic when @va is 8-byte aligned. */
int cpu_load_u64(struct sim_cpu *cpu, unsigned long va, u64 *val);
int cpu_store_u64(struct sim_cpu *cpu, unsigned long va, u64 val);

/*
 * irq_sync_waiting() - the number of IRQ-off syncs (shootdowns) that have
 * taken their snapshot and are waiting for IRQ-off sections right now.
 * Diagnostics and tests (src/mm/irq.c).
 */
long irq_sync_waiting(void);

#endif /* MMIRROR_CPU_H */
