// SPDX-License-Identifier: MIT
/*
 * shmem.c - the backing object of shared anonymous memory.
 *
 * MAP_SHARED|MAP_ANONYMOUS memory is, as in Linux, a small in-memory file:
 * its pages are found by page offset, not through page tables, so every
 * mapping of it (across fork, mremap) faults in the same frames.
 *
 * The object holds one reference on each of its pages; each mapping of a
 * page holds another.  The object itself is referenced by every VMA that
 * maps it (vm_area_dup/vm_area_free).  obj->lock (a spinlock, taken under
 * the PTE lock or alone) guards the page array and its size.
 */
#include <string.h>
#include "internal.h"

struct shmem_object {
	spinlock_t lock;
	atomic_t refcount;
	unsigned long nr_pages;
	struct page **pages; /* NULL slot: not yet touched (reads zero) */
};

struct shmem_object *shmem_object_create(unsigned long nr_pages)
{
	struct shmem_object *obj = kzalloc(sizeof(*obj), GFP_KERNEL);

	if (!obj)
		return NULL;
	obj->pages = kcalloc(nr_pages ? nr_pages : 1, sizeof(*obj->pages),
			     GFP_KERNEL);
	if (!obj->pages) {
		kfree(obj);
		return NULL;
	}
	spin_lock_init(&obj->lock);
	atomic_set(&obj->refcount, 1);
	obj->nr_pages = nr_pages;
	return obj;
}

void shmem_object_get(struct shmem_object *obj)
{
	WARN_ON(atomic_inc_return(&obj->refcount) <= 1);
}

void shmem_object_put(struct shmem_object *obj)
{
	if (!obj || !atomic_dec_and_test(&obj->refcount))
		return;
	for (unsigned long i = 0; i < obj->nr_pages; i++)
		if (obj->pages[i])
			put_page(obj->pages[i]);
	kfree(obj->pages);
	kfree(obj);
}

int shmem_object_resize(struct shmem_object *obj, unsigned long nr_pages)
{
	struct page **new, **old;

	if (nr_pages <= READ_ONCE(obj->nr_pages))
		return 0;
	new = kcalloc(nr_pages, sizeof(*new), GFP_KERNEL);
	if (!new)
		return -ENOMEM;
	spin_lock(&obj->lock);
	if (nr_pages <= obj->nr_pages) {
		spin_unlock(&obj->lock);
		kfree(new);
		return 0;
	}
	memcpy(new, obj->pages, obj->nr_pages * sizeof(*new));
	old = obj->pages;
	obj->pages = new;
	obj->nr_pages = nr_pages;
	spin_unlock(&obj->lock);
	kfree(old);
	return 0;
}

/*
 * shmem_get_page() - the page at @index, allocated (zeroed) on first use,
 * with a reference for the caller.  NULL if @index is beyond the object
 * (SIGBUS) or on -ENOMEM (*@oom set).
 */
struct page *shmem_get_page(struct shmem_object *obj, unsigned long index,
			    bool *oom)
{
	struct page *page, *fresh = NULL;

	*oom = false;
again:
	spin_lock(&obj->lock);
	if (index >= obj->nr_pages) {
		spin_unlock(&obj->lock);
		if (fresh)
			__free_page(fresh);
		return NULL;
	}
	page = obj->pages[index];
	if (!page && fresh) {
		page = obj->pages[index] = fresh; /* the object's reference */
		fresh = NULL;
	}
	if (page)
		get_page(page); /* the caller's reference */
	spin_unlock(&obj->lock);
	if (fresh)
		__free_page(fresh); /* lost a race: someone else added one */
	if (page)
		return page;
	fresh = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!fresh) {
		*oom = true;
		return NULL;
	}
	SetPageSwapBacked(fresh);
	goto again;
}
