/* SPDX-License-Identifier: MIT */
/*
 * registry.h - the per-mm state of the oracle, shared by registry.c
 * (translations, invalidations) and events.c (the event log).  Every
 * field below hnext is guarded by cm->lock (protocol in registry.c).
 */
#ifndef MMIRROR_CHECK_REGISTRY_H
#define MMIRROR_CHECK_REGISTRY_H

#include "internal.h"

#define CHECK_LOG_LEN 64

enum check_ev_type {
	EV_INV_BEGIN,
	EV_INV_STARTED,
	EV_INV_FAILED,
	EV_INV_END,
	EV_MAP,
	EV_UNMAP,
};

struct check_event {
	unsigned long seq; /* global order of events */
	enum check_ev_type type;
	enum mmu_notifier_event event;
	bool blockable, writable;
	unsigned long start, end, pfn;
	const void *range;
	char thread[32];
	char dev[32];
};

struct check_inflight {
	struct list_head node;
	const struct mmu_notifier_range *range;
	unsigned long start, end;
};

struct check_mm {
	struct check_mm *hnext; /* under check_mm_table_lock */
	struct mm_struct *mm;
	spinlock_t lock; /* everything below */
	struct rb_root xlates;
	unsigned long nr_xlates;
	struct list_head inflight;
	unsigned int log_head, log_len;
	struct check_event log[CHECK_LOG_LEN];
};

/* Append @ev to @cm's log (sets its sequence number and thread). */
void check_log(struct check_mm *cm, struct check_event *ev);

#endif /* MMIRROR_CHECK_REGISTRY_H */
