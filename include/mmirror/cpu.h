/* SPDX-License-Identifier: MIT */
/*
 * cpu.h - simulated CPUs: loads and stores through an address space the way
 * hardware does them.
 *
 * A CPU is bound to one mm.  Each access walks the page tables like an
 * x86-64 MMU: it reads each level's entry once and descends through that
 * snapshot (seed 001), requires _PAGE_PRESENT and _PAGE_USER at every level
 * and _PAGE_RW at every level for a store, and sets the leaf's accessed
 * (and, for a store, dirty) bit with an atomic compare-and-exchange that
 * restarts the walk if the entry changed underneath it.  Bytes move through
 * the physical arena with relaxed atomic accesses: two CPUs racing on the
 * same bytes is a program race real hardware permits, not undefined
 * behaviour in the model.
 *
 * Not yet modelled (they arrive with the host-MMU layer): the TLB, page
 * faults (a failed walk currently returns an error instead of calling
 * handle_mm_fault) and interrupt-disabled sections.
 *
 * A struct sim_cpu is used by one thread at a time.
 */
#ifndef MMIRROR_CPU_H
#define MMIRROR_CPU_H

#include <mmirror/mm_types.h>

struct sim_cpu {
	struct mm_struct *mm; /* holds an mm_users reference */
	unsigned long loads, stores; /* accesses that completed */
	unsigned long walks; /* hardware page-table walks */
};

/* Bind a new CPU to @mm (takes a user reference).  ERR_PTR(-EINVAL/-ENOMEM). */
struct sim_cpu *cpu_create(struct mm_struct *mm);
/* Unbind and free the CPU; drops its mm reference. */
void cpu_destroy(struct sim_cpu *cpu);

/*
 * cpu_load()/cpu_store() - copy @len bytes from/to virtual address @va.
 * Return: 0; -EFAULT if a page in the range is not mapped (no present
 * translation); -EACCES if it is mapped without the needed permission
 * (store to a read-only page, PROT_NONE); -EINVAL on bad arguments or a
 * range that wraps or leaves the address space.  Bytes before the failing
 * page have been copied.
 */
int cpu_load(struct sim_cpu *cpu, unsigned long va, void *buf, size_t len);
int cpu_store(struct sim_cpu *cpu, unsigned long va, const void *buf,
	      size_t len);
/* 64-bit accesses; single-copy atomic when @va is 8-byte aligned. */
int cpu_load_u64(struct sim_cpu *cpu, unsigned long va, u64 *val);
int cpu_store_u64(struct sim_cpu *cpu, unsigned long va, u64 val);

#endif /* MMIRROR_CPU_H */
