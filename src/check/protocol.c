// SPDX-License-Identifier: MIT
/*
 * protocol.c - the notifier protocol rules that are not about an access:
 *
 *  - a callback of a subscription after mmu_notifier_unregister(),
 *    mmu_interval_notifier_remove() or the put path's free returned.
 *    src/notifier reports each subscription dead at that moment and live
 *    again when it is registered/inserted (its memory may be reused for a
 *    new one); every callback invocation asks whether it is dead.  The
 *    dead set holds at most DEAD_MAX pointers: beyond that the oldest
 *    deaths are forgotten (fewer reports, never a false one);
 *  - a sleeping primitive (mutex_lock, down_read/down_write,
 *    wait_for_completion, wait_event, synchronize_rcu, rcu_barrier)
 *    inside a callback of a non-blockable range (src/base might_sleep());
 *  - invalidate_range_end without a start is in registry.c, with the
 *    in-flight set.
 *
 * dead_lock is a leaf, never held with another oracle lock.
 */
#include <stdlib.h>
#include "internal.h"

#define DEAD_BUCKETS 256
#define DEAD_MAX 4096

struct dead_sub {
	struct dead_sub *next; /* bucket chain */
	struct list_head age; /* oldest first */
	const void *sub;
};

static DEFINE_SPINLOCK(dead_lock);
static struct dead_sub *dead[DEAD_BUCKETS];
static LIST_HEAD(dead_age);
static unsigned long nr_dead;

static struct dead_sub **dead_link(const void *sub)
{
	struct dead_sub **pp = &dead[((uintptr_t)sub >> 4) % DEAD_BUCKETS];

	while (*pp && (*pp)->sub != sub)
		pp = &(*pp)->next;
	return pp;
}

static void dead_remove(struct dead_sub **pp)
{
	struct dead_sub *d = *pp;

	*pp = d->next;
	list_del(&d->age);
	nr_dead--;
	free(d);
}

static void dead_add(const void *sub)
{
	struct dead_sub *d;

	if (*dead_link(sub))
		return;
	if (nr_dead >= DEAD_MAX) {
		d = list_first_entry(&dead_age, struct dead_sub, age);
		dead_remove(dead_link(d->sub));
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return;
	d->sub = sub;
	d->next = *dead_link(sub);
	*dead_link(sub) = d;
	list_add_tail(&d->age, &dead_age);
	nr_dead++;
}

/* Hook: @sub became live (registered) or dead (its removal returned). */
void check_sub_state(const void *sub, bool live)
{
	struct dead_sub **pp;

	spin_lock(&dead_lock);
	if (live) {
		pp = dead_link(sub);
		if (*pp)
			dead_remove(pp);
	} else {
		dead_add(sub);
	}
	spin_unlock(&dead_lock);
}

/* Hook: a callback of @sub is about to run. */
void check_callback(const void *sub, const char *what)
{
	bool is_dead;

	spin_lock(&dead_lock);
	is_dead = *dead_link(sub) != NULL;
	spin_unlock(&dead_lock);
	if (is_dead)
		check_report(CHECK_PROTOCOL, NULL, 0, ~0UL, "host",
			     "notifier callback %s of subscription %p after "
			     "its unregister/remove returned",
			     what, sub);
}

/* Hook: a sleeping primitive inside a non-blockable callback. */
void check_might_sleep(const char *what)
{
	const struct mmu_notifier_range *r = check_nonblock_range;

	check_report(CHECK_PROTOCOL, r ? r->mm : NULL, r ? r->start : 0, ~0UL,
		     "host",
		     "%s (may sleep) inside a callback of a non-blockable "
		     "invalidation%s",
		     what, r ? "" : " (range unknown)");
}

void check_protocol_reset(void)
{
	spin_lock(&dead_lock);
	while (!list_empty(&dead_age)) {
		struct dead_sub *d =
			list_first_entry(&dead_age, struct dead_sub, age);

		dead_remove(dead_link(d->sub));
	}
	spin_unlock(&dead_lock);
}
