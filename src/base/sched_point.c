// SPDX-License-Identifier: MIT
#include <mmirror/sched_point.h>

sched_point_fn sched_point_hook;

sched_point_fn sched_point_set_hook(sched_point_fn fn)
{
	/* Pairs with the relaxed load in sched_point(); see the header. */
	return __atomic_exchange_n(&sched_point_hook, fn, __ATOMIC_ACQ_REL);
}
