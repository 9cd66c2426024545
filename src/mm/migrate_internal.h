/* SPDX-License-Identifier: MIT */
/*
 * migrate_internal.h - the steps of one page's migration (migrate.c),
 * shared with device migration (migrate_device.c).  migrate.c's file
 * comment has the protocol and the lock order.
 */
#ifndef MMIRROR_MM_MIGRATE_INTERNAL_H
#define MMIRROR_MM_MIGRATE_INTERNAL_H

#include <mmirror/memremap.h>
#include <mmirror/migrate.h>
#include <mmirror/mm.h>

struct migrate_target {
	struct mm_struct *mm; /* mmgrab()'ed */
	unsigned long addr;
	bool locked; /* we hold mm's mmap_lock for read (first of its mm) */
	bool installed; /* our migration entry was installed here */
};

/*
 * One page on the move.  The caller holds @old locked and referenced from
 * migrate_unmap() until migrate_release().
 */
struct migration {
	struct page *old, *new;
	struct migrate_target *t;
	int nr, cap;
	void *owner; /* owner of the MMU_NOTIFY_MIGRATE ranges (NULL: CPU) */
	struct mm_struct *held; /* the caller holds its mmap_lock: not taken */
};

/*
 * migrate_unmap() - steps 1 and 2: find every mapping of m->old (a present
 * PTE or a device-private entry), take the mmap_lock of each other mm (by
 * trylock) and replace each mapping by a migration entry.
 * Return: 0, -ENOMEM, or -EAGAIN (a lock was contended or the page got
 * pinned): what was installed is still to be undone by migrate_remap().
 */
int migrate_unmap(struct migration *m);

/*
 * migrate_refs_frozen() - step 3: no mapping left and exactly @expected
 * references (the migrator's own).  Context: after migrate_unmap().
 */
bool migrate_refs_frozen(struct migration *m, int expected);

/* Step 4: give @new the identity of @old (anon_vma, index, flags, LRU). */
void migrate_page_state(struct page *new, struct page *old);

/* Step 5: replace each migration entry by an entry of @dst. */
void migrate_remap(struct migration *m, struct page *dst);

/* Step 6: drop the mmap_locks and the target list. */
void migrate_release(struct migration *m);

/*
 * migrate_page_gfp() - move @page to a frame allocated with @gfp (without
 * __GFP_MOVABLE: a ZONE_NORMAL frame; with it: alloc_user_page()), trying
 * again a few times while it fails with -EAGAIN and is not pinned.
 * @page: order-0 anonymous; the caller holds exactly one reference on it
 *        (kept: the caller drops it afterwards).
 * @held: an mm whose mmap_lock the caller holds for read (not taken
 *        again: GUP migrating before a FOLL_LONGTERM pin), or NULL.
 * Context: may sleep; no page lock or spinlock held.
 * Return: as migrate_page_to_new().
 */
int migrate_page_gfp(struct page *page, gfp_t gfp, struct mm_struct *held);

#endif /* MMIRROR_MM_MIGRATE_INTERNAL_H */
