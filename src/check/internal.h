/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the files of the coherence oracle share.
 *
 *   hooks.c     on/off, reset, the hook table the host MMU calls through
 *   registry.c  per-mm state: translations, in-flight invalidations;
 *               check_map/check_unmap (registry.h: the per-mm struct)
 *   events.c    the per-mm event log printed with each report
 *   devices.c   check_dev_init/fini, "unsure" devices
 *   access.c    check_dev_read/check_dev_write: the translated-access
 *               rules
 *   shadow.c    frame bytes and their shadow (lost writes): every checked
 *               access moves its bytes here
 *   pins.c      pinned DMA, pin leaks, the host's pin hooks
 *   protocol.c  notifier protocol: dead subscriptions, might_sleep
 *   report.c    recording and printing violations, thread names
 *   objects.c   drivers' own objects: check_obj_alloc/free/access
 *
 * LOCK ORDER (all of these are leaves with respect to the rest of
 * mmirror: the oracle never calls into the host MMU, a driver or a
 * callback while holding one, and never sleeps under one):
 *
 *   any host or driver lock (tlb_lock, PTE locks, driver spinlocks)
 *     -> check_mm_table_lock -> cm->lock -> shadow stripe lock
 *   report_lock, pins_lock, devs_lock, dead_lock, objs_lock: taken with
 *   no other oracle lock held and nothing taken under them.
 *
 * Reports are recorded after every oracle lock is dropped (the event log
 * is read under cm->lock by the reporter itself).
 */
#ifndef MMIRROR_CHECK_INTERNAL_H
#define MMIRROR_CHECK_INTERNAL_H

#include <mmirror/check.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/page.h>
#include <mmirror/rbtree.h>
#include <mmirror/spinlock.h>
#include "base/check_hooks.h"

/*
 * check_on: the oracle is enabled.  Written by check_enable()/disable()
 * (WRITE_ONCE), read with READ_ONCE by the driver-side calls and, under
 * the shadow stripe locks, by the shadow updates (so that a disable's
 * shadow wipe is final).
 */
extern bool check_on;

/* --- report.c ------------------------------------------------------------ */

__attribute__((format(printf, 6, 7))) void
check_report(enum check_rule rule, struct mm_struct *mm, unsigned long va,
	     unsigned long pfn, const char *device, const char *fmt, ...);
/* A report not about an mm, with its own event lines (may be NULL). */
__attribute__((format(printf, 4, 5))) void
check_report_events(enum check_rule rule, const char *events,
		    const char *device, const char *fmt, ...);
/* The calling thread's name for reports and events. */
void check_thread_name(char *buf, size_t len);
void check_report_reset(void);

/* --- events.c ------------------------------------------------------------ */

/* The next global event sequence number (every log shares it). */
unsigned long check_event_seq_next(void);

/* --- objects.c ----------------------------------------------------------- */

/* Forget every driver object (check_reset, check_disable). */
void check_objs_reset(void);

/* --- registry.c ---------------------------------------------------------- */

/* One translation a device registered (key: vpn, dev_id). */
struct check_xlate {
	struct rb_node node;
	unsigned long vpn;
	unsigned int dev_id;
	struct check_dev *dev;
	unsigned long pfn;
	unsigned long gen; /* the frame's generation at check_map */
	bool writable;
	bool stale; /* covered by an invalidation while registered */
};

struct check_mm;
/* @mm's state locked (cm->lock), made if @create; NULL if none/-ENOMEM. */
struct check_mm *check_mm_lock(struct mm_struct *mm, bool create);
void check_mm_unlock(struct check_mm *cm);
struct check_xlate *check_xlate_find(struct check_mm *cm, unsigned long vpn,
				     unsigned int dev_id);
/* Is an invalidation of @va in flight (started, not ended)?  cm->lock. */
bool check_inflight_covers(struct check_mm *cm, unsigned long va);
/* Format the logged events of @mm overlapping @va, oldest first. */
void check_mm_format_events(struct mm_struct *mm, unsigned long va, char *buf,
			    size_t len);
void check_registry_reset(void);
/* Forget every translation of @dev, in every mm. */
void check_xlate_forget_dev(struct check_dev *dev);
void check_registry_disable(void);
/* A device that mapped or pinned while the oracle was off: its accesses
 * cannot be held to the registry. */
#define CHECK_UNSURE_XLATE 1
#define CHECK_UNSURE_PIN 2
void check_dev_set_unsure(const struct check_dev *dev, int what);
bool check_dev_unsure(const struct check_dev *dev, int what);

void check_inv_begin(const struct mmu_notifier_range *range);
void check_inv_started(const struct mmu_notifier_range *range, int ret);
void check_inv_end(const struct mmu_notifier_range *range);
void check_mm_free(struct mm_struct *mm);

/* --- shadow.c ------------------------------------------------------------ */

/* Where a read found bytes that differ from the last checked write. */
struct check_lost {
	unsigned long off; /* byte offset of the word in the frame */
	u64 expected, found;
};

/*
 * Move @len bytes between @buf and frame @pfn at @off (write: into the
 * frame), updating the shadow for a write and, for a read with
 * @compare, checking the words read against it.  @word: one aligned u64.
 * Return true (and fill @lost) if a read found a lost write.
 */
bool check_frame_access(unsigned long pfn, unsigned long off, char *buf,
			size_t len, bool write, bool word, bool compare,
			struct check_lost *lost);
/* The same without the shadow (oracle off). */
void check_frame_move(unsigned long pfn, unsigned long off, char *buf,
		      size_t len, bool write, bool word);
void check_shadow_reset(void);

void check_cpu_access(struct mm_struct *mm, unsigned long va, unsigned long pfn,
		      char *buf, size_t len, bool write, bool word);
void check_copy_page(struct page *dst, struct page *src);
void check_shadow_free(struct page *page, unsigned int order);
/* Swap-out/in move a frame's bytes and shadow together (swap.c uses). */
bool check_shadow_export(unsigned long pfn, void *buf, u64 *tracked, u64 *val);
void check_shadow_import(unsigned long pfn, const void *buf, const u64 *tracked,
			 const u64 *val);

/* --- swap.c: shadows of swap slots ---------------------------------------- */

void check_swap_write(struct page *page, unsigned long slot, void *buf);
void check_swap_read(struct page *page, unsigned long slot, const void *buf);
void check_swap_free(unsigned long slot);
void check_swap_reset(void);

/* --- pins.c -------------------------------------------------------------- */

void check_pins_dev_fini(struct check_dev *dev);
void check_pins_finish(void);
void check_pin_page_free(struct page *page, unsigned int order);
void check_unpin_underflow(struct page *head, int n);
void check_gup_fast_grabbed(struct page *page, unsigned long addr,
			    unsigned long gen);

/* --- protocol.c ---------------------------------------------------------- */

void check_callback(const void *sub, const char *what);
void check_sub_state(const void *sub, bool live);
void check_might_sleep(const char *what);
void check_protocol_reset(void);

#endif /* MMIRROR_CHECK_INTERNAL_H */
