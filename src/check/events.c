// SPDX-License-Identifier: MIT
/*
 * events.c - the per-mm event log behind every report: invalidation
 * starts, returns and ends, device maps and unmaps, each with a global
 * sequence number and the thread that did it.  A report prints the
 * events of its mm that overlap its va, oldest first.
 */
#include <stdlib.h>
#include <string.h>
#include "registry.h"

static atomic_long_t event_seq;

/**
 * check_event_seq_next() - the next global event sequence number.
 *
 * Shared by every log of the oracle (per-mm events, objects), so that
 * the lines of different reports can be ordered.  Context: any.
 * Return: a number > 0, unique in the process.
 */
unsigned long check_event_seq_next(void)
{
	return (unsigned long)atomic_long_inc_return(&event_seq);
}

/* --- the event log (cm->lock held) ------------------------------------- */

void check_log(struct check_mm *cm, struct check_event *ev)
{
	unsigned int slot;

	ev->seq = check_event_seq_next();
	check_thread_name(ev->thread, sizeof(ev->thread));
	if (cm->log_len < CHECK_LOG_LEN) {
		slot = (cm->log_head + cm->log_len++) % CHECK_LOG_LEN;
	} else {
		slot = cm->log_head;
		cm->log_head = (cm->log_head + 1) % CHECK_LOG_LEN;
	}
	cm->log[slot] = *ev;
}

static const char *const ev_names[] = {
	[MMU_NOTIFY_UNMAP] = "UNMAP",
	[MMU_NOTIFY_CLEAR] = "CLEAR",
	[MMU_NOTIFY_PROTECTION_VMA] = "PROTECTION_VMA",
	[MMU_NOTIFY_PROTECTION_PAGE] = "PROTECTION_PAGE",
	[MMU_NOTIFY_SOFT_DIRTY] = "SOFT_DIRTY",
	[MMU_NOTIFY_RELEASE] = "RELEASE",
	[MMU_NOTIFY_MIGRATE] = "MIGRATE",
	[MMU_NOTIFY_EXCLUSIVE] = "EXCLUSIVE",
};

static void format_event(const struct check_event *e, char *buf, size_t len)
{
	int n = snprintf(buf, len, "  #%lu %s: ", e->seq, e->thread);
	char *p = buf + n;
	size_t left = len - (size_t)n;

	switch (e->type) {
	case EV_INV_BEGIN:
		snprintf(p, left, "invalidate_range_start %s%s [%#lx, %#lx)\n",
			 e->event < ARRAY_SIZE(ev_names) ? ev_names[e->event] :
							   "?",
			 e->blockable ? "" : " (non-blockable)", e->start,
			 e->end);
		break;
	case EV_INV_STARTED:
		snprintf(p, left,
			 "invalidate_range_start returned [%#lx, %#lx)\n",
			 e->start, e->end);
		break;
	case EV_INV_FAILED:
		snprintf(p, left,
			 "invalidate_range_start failed [%#lx, %#lx)\n",
			 e->start, e->end);
		break;
	case EV_INV_END:
		snprintf(p, left, "invalidate_range_end [%#lx, %#lx)\n",
			 e->start, e->end);
		break;
	case EV_MAP:
		snprintf(p, left, "%s maps %#lx -> pfn %#lx %s\n", e->dev,
			 e->start, e->pfn, e->writable ? "rw" : "ro");
		break;
	case EV_UNMAP:
		snprintf(p, left, "%s unmaps [%#lx, %#lx)\n", e->dev, e->start,
			 e->end);
		break;
	}
}

/**
 * check_mm_format_events() - the logged events of @mm that touch @va.
 * @mm: the address space.
 * @va: the address (0: none are printed).
 * @buf: where to put the lines, oldest first; the most recent ones that
 *	fit are kept.
 * @len: size of @buf.
 *
 * Context: no oracle lock held.
 */
void check_mm_format_events(struct mm_struct *mm, unsigned long va, char *buf,
			    size_t len)
{
	struct check_event *evs = calloc(CHECK_LOG_LEN, sizeof(*evs));
	struct check_mm *cm;
	size_t used = 0;
	int n = 0, first;

	buf[0] = '\0';
	if (!evs || !va || !(cm = check_mm_lock(mm, false))) {
		free(evs);
		return;
	}
	for (unsigned int i = 0; i < cm->log_len; i++) {
		const struct check_event *e =
			&cm->log[(cm->log_head + i) % CHECK_LOG_LEN];

		if (va >= e->start && va < e->end)
			evs[n++] = *e;
	}
	check_mm_unlock(cm);
	/* Keep the newest lines that fit, print them oldest first. */
	for (first = n; first > 0; first--) {
		char line[192];

		format_event(&evs[first - 1], line, sizeof(line));
		if (used + strlen(line) + 1 > len)
			break;
		used += strlen(line);
	}
	for (used = 0; first < n; first++) {
		format_event(&evs[first], buf + used, len - used);
		used += strlen(buf + used);
	}
	free(evs);
}
