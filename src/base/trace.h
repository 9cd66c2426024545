/* SPDX-License-Identifier: MIT */
/*
 * trace.h - the events a race diagram is drawn from.
 *
 * Layers below src/explore report what happened (a lock taken, an
 * invalidation started, a PTE written, a device access) with
 * trace_event().  Nothing is recorded unless someone installed a sink
 * (the explorer does, for the thread it is running); then each event goes
 * to the sink with the calling thread.  One predicted branch when off.
 */
#ifndef MMIRROR_BASE_TRACE_H
#define MMIRROR_BASE_TRACE_H

#include <stdarg.h>
#include <mmirror/compiler.h>

enum trace_kind {
	TR_LOCK, /* a lock acquired */
	TR_UNLOCK, /* a lock released */
	TR_INV_START, /* invalidate_range_start called (range, event) */
	TR_INV_STARTED, /* ... returned: every callback done */
	TR_INV_END, /* invalidate_range_end */
	TR_CALLBACK, /* a notifier callback runs (which subscription) */
	TR_PTE, /* a page-table entry written (va, old -> new) */
	TR_TLB_FLUSH, /* a TLB shootdown of a range */
	TR_FAULT, /* a CPU or hmm/GUP page fault */
	TR_DEV_MAP, /* a device installed / dropped a translation */
	TR_DEV_ACCESS, /* a device read or write */
	TR_OBJ, /* an object's or device memory's lifetime: alloc, free */
	TR_VIOLATION, /* the oracle reported a violation: the marked row */
	TR_NOTE, /* anything else worth a row (scenario steps) */
	TR__NR
};

/* The sink: receives each event's kind and its one-line text. */
typedef void (*trace_sink_fn)(enum trace_kind kind, const char *text);
extern trace_sink_fn trace_sink;

/* Install @fn (NULL to remove); returns the previous sink. */
trace_sink_fn trace_set_sink(trace_sink_fn fn);

void __trace_event(enum trace_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Record an event if a sink is installed (format as printf). */
#define trace_event(kind, ...)                                                \
	do {                                                                  \
		if (unlikely(__atomic_load_n(&trace_sink, __ATOMIC_RELAXED))) \
			__trace_event(kind, __VA_ARGS__);                     \
	} while (0)

#endif /* MMIRROR_BASE_TRACE_H */
