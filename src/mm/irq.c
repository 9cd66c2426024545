// SPDX-License-Identifier: MIT
/*
 * irq.c - interrupt-disabled sections of mmirror threads, and the wait a
 * TLB shootdown does for them (irqflags.h is the contract).
 *
 * In the kernel a shootdown IPI is not acknowledged by a CPU that runs with
 * interrupts off; the initiator spins until every target acknowledged.  So
 * when flush_tlb_*() returns, every IRQ-off section that was running when
 * it started has ended, and a lockless walker that runs with IRQs off
 * (GUP-fast, seed 003) can never hold a pointer into a table or page that
 * was unhooked before the flush and freed after it.  mmirror models the
 * "not acknowledged while IRQs are off" part with a per-thread sequence
 * word:
 *
 *   struct irq_thread::seq   even: IRQs on; odd: IRQs off.  Written only
 *                            by the owning thread, incremented at each
 *                            transition (on->off, off->on).
 *
 * Protocol (thread T disables/enables, waiter W is a shootdown):
 *
 *   T: local_irq_disable()                W: (entries unhooked before)
 *        seq := odd                            smp_mb()
 *        smp_mb()                              lock registry
 *        ... walk page tables ...              snapshot every odd seq
 *      local_irq_enable()                      unlock registry
 *        seq := even (release)                 for each snapshot (t, s):
 *        smp_mb()                                while t->seq == s:
 *        if waiters: futex wake                    waiters++, smp_mb()
 *                                                  futex_wait(&t->seq, s)
 *
 * Store-buffer pairing (why both smp_mb()s): T stores seq then loads a
 * page-table entry; W stored the entry (unhook) then loads seq.  With a
 * full barrier on both sides at least one sees the other: either W sees T
 * odd and waits for it, or T's walk sees the unhooked entry and never
 * reaches the table W is about to free.  The release store of the even seq
 * paired with W's acquire load makes everything T read in the section
 * happen before what W does next (free the table) - that is also the
 * happens-before edge ThreadSanitizer sees.
 *
 * Waking (the futex handshake, a second store-buffer pair): T stores seq
 * then loads waiters; W increments waiters then loads seq.  Both are
 * followed by smp_mb(), so either T sees the waiter and wakes it, or W
 * sees the new seq and does not sleep; base_futex_wait() itself also
 * refuses to sleep once the word differs from the snapshot.
 *
 * Exactness: W waits only for sections that were running when it took its
 * snapshot (one pass, under registry_lock).  A section that begins later
 * has a different (larger) seq, so W never waits for it - which is what
 * keeps a shootdown from deadlocking with an IRQ-off thread that waits for
 * the shootdown's side effects.
 *
 * Registry and lifetime.  A thread registers (struct irq_thread on
 * irq_registry, under registry_lock) the first time it disables IRQs, and
 * before its seq first becomes odd: so a waiter that does not see the
 * entry under the lock is ordered before the whole section.  Entries are
 * refcounted: the registry holds one reference, each waiter that
 * snapshotted the entry holds one while it waits (its futex word lives in
 * the entry).  The thread unregisters at exit (pthread key destructor): it
 * unlinks the entry under the lock and drops the registry's reference; the
 * last reference frees it, so a waiter never reads freed memory even when
 * the thread it waits for has exited.
 *
 * Misuse: sleeping or starting a shootdown with IRQs off would deadlock, as
 * in the kernel; the shootdown WARNs and does not wait for itself.  A
 * thread exiting with IRQs off WARNs and has its section ended for it.
 *
 * Lock order: registry_lock is a leaf (nothing is taken under it).
 * Entries are allocated with libc (like kthread's adopted tasks): they live
 * as long as a thread mmirror does not own, so they are not counted by
 * kmalloc_live_objects().
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <mmirror/futex.h>
#include <mmirror/irqflags.h>
#include <mmirror/list.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>

struct irq_thread {
	u32 seq; /* odd while IRQs are off; owner writes */
	u32 waiters; /* waiters sleeping on seq (RMW by waiters) */
	atomic_t ref; /* registry (until exit) + waiters */
	struct list_head node; /* on irq_registry, under registry_lock */
};

static DEFINE_SPINLOCK(registry_lock);
static LIST_HEAD(irq_registry);
static unsigned long irq_registry_nr; /* entries, under registry_lock */
static atomic_long_t irq_sync_waiting_nr; /* syncs blocked right now */

static __thread struct irq_thread *irq_self;
static pthread_key_t irq_key;
static pthread_once_t irq_key_once = PTHREAD_ONCE_INIT;

static void irq_thread_put(struct irq_thread *t)
{
	/* Fully ordered RMW: every access of a previous holder happens
	 * before the free by the last one. */
	if (atomic_dec_and_test(&t->ref))
		free(t);
}

/* Owner only: end the section (the odd -> even transition). */
static void irq_seq_enable(struct irq_thread *t)
{
	u32 s = t->seq; /* only this thread writes it */

	sched_point(SP_ATOMIC, &t->seq);
	/* Release + SC: the section's reads happen before a waiter's
	 * acquire load that sees the new value (irq_wait_for()). */
	__atomic_store_n(&t->seq, s + 1, __ATOMIC_SEQ_CST);
	/* Store-buffer pair with the waiter's waiters++ / smp_mb() /
	 * seq load in irq_wait_for(): one of us sees the other. */
	smp_mb();
	/* Pairs with the atomic_inc of waiters in irq_wait_for(). */
	if (__atomic_load_n(&t->waiters, __ATOMIC_RELAXED))
		base_futex_wake(&t->seq, INT_MAX);
}

/* pthread key destructor: the thread exits; unregister its entry. */
static void irq_thread_exit(void *arg)
{
	struct irq_thread *t = arg;

	if (WARN_ON(t->seq & 1))
		irq_seq_enable(t); /* release any waiter */
	spin_lock(&registry_lock);
	list_del(&t->node);
	irq_registry_nr--;
	spin_unlock(&registry_lock);
	irq_self = NULL;
	irq_thread_put(t);
}

static void irq_key_init(void)
{
	BUG_ON(pthread_key_create(&irq_key, irq_thread_exit));
}

/* First disable of this thread: make and register its entry. */
static struct irq_thread *irq_thread_register(void)
{
	struct irq_thread *t = calloc(1, sizeof(*t));

	BUG_ON(!t);
	pthread_once(&irq_key_once, irq_key_init);
	atomic_set(&t->ref, 1); /* the registry's reference */
	/* Registered (under the lock) before seq first turns odd: a waiter
	 * that misses the entry is ordered before the section. */
	spin_lock(&registry_lock);
	list_add_tail(&t->node, &irq_registry);
	irq_registry_nr++;
	spin_unlock(&registry_lock);
	BUG_ON(pthread_setspecific(irq_key, t));
	irq_self = t;
	return t;
}

/**
 * arch_local_irq_disable() - enter an IRQ-off section (no-op if in one).
 *
 * Context: any thread.  After it returns, a TLB shootdown that had not yet
 * taken its snapshot waits for this section to end.
 */
void arch_local_irq_disable(void)
{
	struct irq_thread *t = irq_self;

	if (!t)
		t = irq_thread_register();
	if (t->seq & 1)
		return; /* flag semantics: already off */
	sched_point(SP_ATOMIC, &t->seq);
	/* Read by waiters with acquire loads in sync_snapshot() and
	 * irq_wait_for(); only the owner writes. */
	__atomic_store_n(&t->seq, t->seq + 1, __ATOMIC_SEQ_CST);
	/* Store-buffer pair with the smp_mb() in tlb_remove_table_sync_one:
	 * our later page-table reads are ordered after the odd seq. */
	smp_mb();
}

/**
 * arch_local_irq_enable() - leave the IRQ-off section (no-op if IRQs on)
 * and wake shootdowns waiting for it.
 */
void arch_local_irq_enable(void)
{
	struct irq_thread *t = irq_self;

	if (!t || !(t->seq & 1))
		return;
	irq_seq_enable(t);
}

/**
 * irqs_disabled() - is the calling thread in an IRQ-off section?
 */
bool irqs_disabled(void)
{
	struct irq_thread *t = irq_self;

	/* Our own word: only this thread writes it. */
	return t && (t->seq & 1);
}

/* --- the waiter side ------------------------------------------------------ */

struct irq_snap {
	struct irq_thread *t; /* holds a reference */
	u32 seq; /* the odd value seen */
};

/*
 * Snapshot the odd seqs of every registered thread but the caller, taking
 * a reference on each.  Returns the count; *vp is @stack or a bigger
 * kmalloc'ed array the caller frees.  registry_lock held only inside.
 */
static unsigned long sync_snapshot(struct irq_snap *stack, unsigned long cap,
				   struct irq_snap **vp)
{
	struct irq_snap *v = stack;
	struct irq_thread *t;
	unsigned long n;

	for (;;) {
		spin_lock(&registry_lock);
		if (irq_registry_nr <= cap)
			break;
		n = irq_registry_nr;
		spin_unlock(&registry_lock);
		if (v != stack)
			kfree(v);
		/* Registry grew past the array: a bigger one, then retry.
		 * Freed before the caller returns; NOFAIL: a shootdown
		 * cannot fail. */
		cap = n + 16;
		v = kmalloc(cap * sizeof(*v), __GFP_NOFAIL);
	}
	n = 0;
	list_for_each_entry(t, &irq_registry, node) {
		/* Pairs with the stores of seq in arch_local_irq_disable()
		 * and irq_seq_enable() (acquire: an even value means the
		 * section's reads happened before us). */
		u32 s = __atomic_load_n(&t->seq, __ATOMIC_ACQUIRE);

		if (!(s & 1) || t == irq_self)
			continue;
		atomic_inc(&t->ref); /* freed only after our put */
		v[n].t = t;
		v[n].seq = s;
		n++;
	}
	spin_unlock(&registry_lock);
	*vp = v;
	return n;
}

/* Wait until @t's seq is no longer @s (the section @s has ended). */
static void irq_wait_for(struct irq_thread *t, u32 s)
{
	/* Pairs with the SEQ_CST store in irq_seq_enable() (acquire: what
	 * the section read happens before our caller's frees). */
	while (__atomic_load_n(&t->seq, __ATOMIC_ACQUIRE) == s) {
		__atomic_add_fetch(&t->waiters, 1, __ATOMIC_SEQ_CST);
		/* Store-buffer pair with irq_seq_enable(): waiters++ then
		 * load seq, against seq store then load waiters. */
		smp_mb();
		if (__atomic_load_n(&t->seq, __ATOMIC_ACQUIRE) == s)
			base_futex_wait(&t->seq, s);
		__atomic_sub_fetch(&t->waiters, 1, __ATOMIC_SEQ_CST);
	}
}

/**
 * tlb_remove_table_sync_one() - wait until every thread that is in an
 * IRQ-off section now has left it.
 *
 * Sections that begin after the snapshot are not waited for.  Called by
 * every shootdown, and before page-table pages are freed.
 *
 * Context: may sleep (futex).  IRQs must be on: with IRQs off it WARNs and
 * does not wait for the caller's own section (that would never end).
 */
void tlb_remove_table_sync_one(void)
{
	struct irq_snap stack[32], *v;
	unsigned long n;

	WARN_ON(irqs_disabled());
	/* Store-buffer pair with the smp_mb() in arch_local_irq_disable():
	 * the caller's unhooking stores are ordered before our seq loads. */
	smp_mb();
	n = sync_snapshot(stack, ARRAY_SIZE(stack), &v);
	/* Fully ordered: a thread that sees the count sees a snapshot
	 * already taken (the irq test relies on it). */
	if (n)
		atomic_long_inc_return(&irq_sync_waiting_nr);
	for (unsigned long i = 0; i < n; i++) {
		irq_wait_for(v[i].t, v[i].seq);
		irq_thread_put(v[i].t);
	}
	if (n)
		atomic_long_dec_return(&irq_sync_waiting_nr);
	if (v != stack)
		kfree(v);
}

/**
 * irq_sync_waiting() - how many IRQ-off syncs are blocked right now, having
 * taken their snapshot (tests use it to know a shootdown is waiting).
 */
long irq_sync_waiting(void)
{
	/* Pairs with the fully ordered inc/dec above (a statistic). */
	return atomic_long_read(&irq_sync_waiting_nr);
}
