// SPDX-License-Identifier: MIT
/*
 * The waiting half of read_seqcount_begin() (protocol in seqlock.h): spin
 * while a write is in progress, then yield, since the writer may be a
 * preempted thread on our 2-CPU machine.  Each round passes a
 * sched_point(SP_SPIN) so the explorer can run the writer.
 */
#include <sched.h>
#include <mmirror/seqlock.h>

#define SEQ_RELAX_ROUNDS 128

unsigned int __read_seqcount_wait(const seqcount_t *s)
{
	unsigned int seq, spins = 0;

	/* Acquire: pairs with write_seqcount_end()'s release store. */
	while ((seq = smp_load_acquire(&s->sequence)) & 1) {
		if (++spins < SEQ_RELAX_ROUNDS)
			cpu_relax();
		else
			sched_yield();
		sched_point(SP_SPIN, s); /* only the writer can end this */
	}
	return seq;
}
