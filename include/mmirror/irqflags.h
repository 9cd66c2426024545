/* SPDX-License-Identifier: MIT */
/*
 * irqflags.h - interrupt-disabled sections of simulated CPUs.
 *
 * In the kernel, a TLB shootdown is an IPI that a CPU with interrupts
 * disabled does not acknowledge until it enables them again.  GUP-fast
 * relies on exactly that (seed 003): it walks page tables with interrupts
 * off, so a page table or page freed after a shootdown cannot disappear
 * under it.
 *
 * mmirror models it per thread: any thread may enter an IRQ-off section
 * with local_irq_save()/local_irq_disable(); every TLB shootdown (and the
 * page-table-freeing sync) waits until every thread that was inside such a
 * section when the shootdown began has left it.  (Deviation: the kernel
 * only waits for CPUs in the mm's cpumask, and the CPU that runs GUP-fast
 * on current->mm is always one of them; mmirror threads are not pinned to
 * CPUs, so a shootdown waits for all IRQ-off threads — a superset.)
 *
 * Sections nest; flags carry the previous state like the kernel's.
 * Nothing inside an IRQ-off section may sleep (take a mutex/rwsem, wait
 * for a completion) or start a shootdown: that would deadlock, as in the
 * kernel, and WARNs.
 */
#ifndef MMIRROR_IRQFLAGS_H
#define MMIRROR_IRQFLAGS_H

#include <mmirror/compiler.h>

void arch_local_irq_disable(void);
void arch_local_irq_enable(void);
bool irqs_disabled(void);

#define local_irq_disable() arch_local_irq_disable()
#define local_irq_enable() arch_local_irq_enable()
#define local_irq_save(flags)                          \
	do {                                           \
		(flags) = irqs_disabled() ? 1UL : 0UL; \
		arch_local_irq_disable();              \
	} while (0)
#define local_irq_restore(flags)                 \
	do {                                     \
		if (!(flags))                    \
			arch_local_irq_enable(); \
	} while (0)

#endif /* MMIRROR_IRQFLAGS_H */
