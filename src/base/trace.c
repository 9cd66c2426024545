// SPDX-License-Identifier: MIT
/*
 * trace.c - formats an event and hands it to the installed sink.  The sink
 * is written by the explorer while it runs one thread at a time; the
 * relaxed load in trace_event() pairs with the release store below only
 * for the pointer itself (whoever installs the sink publishes its state
 * before installing it).
 */
#include <stdio.h>
#include "trace.h"

trace_sink_fn trace_sink;

trace_sink_fn trace_set_sink(trace_sink_fn fn)
{
	return __atomic_exchange_n(&trace_sink, fn, __ATOMIC_ACQ_REL);
}

void __trace_event(enum trace_kind kind, const char *fmt, ...)
{
	trace_sink_fn fn = __atomic_load_n(&trace_sink, __ATOMIC_ACQUIRE);
	char text[160];
	va_list ap;

	if (!fn)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fn(kind, text);
}
