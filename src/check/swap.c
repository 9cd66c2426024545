// SPDX-License-Identifier: MIT
/*
 * swap.c - the lost-write shadow of swapped-out pages.
 *
 * The shadow (shadow.c) is keyed by frame, but a swapped-out page has no
 * frame: its bytes sit in a swap slot until a fault reads them into some
 * other frame.  So swap-out moves the frame's shadow into a slot shadow
 * (with the bytes, as one step under the frame's stripe lock), swap-in
 * moves it into the new frame, and freeing the slot drops it.  A CPU load
 * after swap-in then compares against the last checked writes made
 * before swap-out: a write the host lost on the way (a dirty bit not
 * propagated, a page freed without being written) is reported.
 *
 * LOCKING.  slot_lock guards the hash of slot shadows; a leaf, never held
 * with a stripe lock (export/import run before or after it).  The hooks
 * run under the host's si.lock and page lock (src/mm/swap.c).
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define SLOT_WORDS (PAGE_SIZE / sizeof(u64))
#define SLOT_BUCKETS 256

struct slot_shadow {
	struct slot_shadow *next;
	unsigned long slot;
	u64 tracked[SLOT_WORDS / 64];
	u64 val[SLOT_WORDS];
};

static DEFINE_SPINLOCK(slot_lock);
static struct slot_shadow *slot_bucket[SLOT_BUCKETS];

/* Unhash @slot's shadow (slot_lock held); the caller frees it. */
static struct slot_shadow *slot_unhash(unsigned long slot)
{
	struct slot_shadow **pp = &slot_bucket[slot % SLOT_BUCKETS], *sh;

	for (; (sh = *pp); pp = &sh->next) {
		if (sh->slot == slot) {
			*pp = sh->next;
			return sh;
		}
	}
	return NULL;
}

void check_swap_write(struct page *page, unsigned long slot, void *buf)
{
	struct slot_shadow *sh = calloc(1, sizeof(*sh)), *old;
	const u64 *frame = page_address(page);
	bool has = false;

	if (sh) {
		has = check_shadow_export(page_to_pfn(page), buf, sh->tracked,
					  sh->val);
	} else {
		/* No memory for the shadow: move the bytes untracked (fewer
		 * reports, never a false one). */
		for (unsigned long w = 0; w < SLOT_WORDS; w++)
			__atomic_store_n(
				(u64 *)buf + w,
				__atomic_load_n(frame + w, __ATOMIC_RELAXED),
				__ATOMIC_RELAXED);
	}
	spin_lock(&slot_lock);
	old = slot_unhash(slot);
	if (has && READ_ONCE(check_on)) {
		sh->slot = slot;
		sh->next = slot_bucket[slot % SLOT_BUCKETS];
		slot_bucket[slot % SLOT_BUCKETS] = sh;
		sh = NULL;
	}
	spin_unlock(&slot_lock);
	free(old);
	free(sh);
}

void check_swap_read(struct page *page, unsigned long slot, const void *buf)
{
	struct slot_shadow *sh, *copy = malloc(sizeof(*copy));
	bool found = false;

	spin_lock(&slot_lock);
	for (sh = slot_bucket[slot % SLOT_BUCKETS]; sh; sh = sh->next)
		if (sh->slot == slot)
			break;
	if (sh && copy) {
		memcpy(copy, sh, sizeof(*copy));
		found = true;
	}
	spin_unlock(&slot_lock);
	/* The slot keeps its shadow: another swap entry may read it again. */
	check_shadow_import(page_to_pfn(page), buf,
			    found ? copy->tracked : NULL,
			    found ? copy->val : NULL);
	free(copy);
}

void check_swap_free(unsigned long slot)
{
	struct slot_shadow *sh;

	spin_lock(&slot_lock);
	sh = slot_unhash(slot);
	spin_unlock(&slot_lock);
	free(sh);
}

/* Forget every slot shadow (check_disable/check_reset). */
void check_swap_reset(void)
{
	spin_lock(&slot_lock);
	for (int b = 0; b < SLOT_BUCKETS; b++) {
		while (slot_bucket[b]) {
			struct slot_shadow *sh = slot_bucket[b];

			slot_bucket[b] = sh->next;
			free(sh);
		}
	}
	spin_unlock(&slot_lock);
}
