// SPDX-License-Identifier: MIT
/*
 * objects.c - the lifetime of drivers' own objects: check_obj_alloc(),
 * check_obj_free(), check_obj_access() (include/mmirror/check.h).
 *
 * THE RULE.  Between check_obj_free(obj) and the next check_obj_alloc()
 * covering that address, an access to any byte of the object is a use
 * after free (CHECK_USE_AFTER_FREE).  The free is told before the kfree,
 * and an access is only a comparison of addresses, so a driver may ask
 * about a pointer that dangles: nothing here ever dereferences it.
 *
 *	munmap: callback                     close
 *	dev = sub->dev
 *	                                     check_obj_free(dev); kfree(dev)
 *	check_obj_access(dev) -------------> use after free, freed by close
 *
 * DATA.  One struct check_obj per object the oracle knows, in an rbtree
 * by start address (objects never overlap: an alloc forgets whatever it
 * covers, the memory was reused), and on an age list in the order of
 * their last alloc or free.  At most CHECK_OBJ_MAX: the oldest is
 * forgotten first, which can only lose reports.  Each object keeps its
 * own short history (alloc, the last few accesses, free) for the report,
 * so a busy oracle cannot overwrite the events that explain it.
 *
 * LOCKING.  objs_lock is a leaf: taken with no other oracle lock held,
 * nothing taken under it (reports are built after the unlock), never
 * held while sleeping.  check_on is re-read under it by inserts, and
 * check_disable() clears check_on before it empties the table under the
 * same lock (check_objs_reset() via check_registry_disable()): so no
 * object a racing call records survives the disable.  An object recorded
 * freed must not outlive the oracle being off, when its address may be
 * reused without a check_obj_alloc() the oracle sees (a false report).
 */
#include <stdlib.h>
#include <string.h>
#include <mmirror/rbtree.h>
#include "base/trace.h"
#include "internal.h"

#define OBJ_NR_ACCESS 4
#define OBJ_NAME 24

/* One event of an object's history. */
struct obj_event {
	unsigned long seq; /* 0: none */
	char thread[OBJ_NAME];
	char what[OBJ_NAME];
};

struct check_obj {
	struct rb_node node; /* objs_tree, by start */
	struct list_head age; /* objs_age: oldest alloc/free first */
	uintptr_t start, end;
	char what[OBJ_NAME];
	bool freed;
	bool reported; /* one report per freed object */
	struct obj_event alloc, free;
	/* The last accesses while live, a ring (acc_head: the next slot). */
	struct obj_event acc[OBJ_NR_ACCESS];
	unsigned int acc_head;
};

static DEFINE_SPINLOCK(objs_lock);
static struct rb_root objs_tree = RB_ROOT;
static LIST_HEAD(objs_age);
static unsigned long nr_objs;

/* --- the table (objs_lock held) ------------------------------------------ */

/* The object containing @addr, or NULL. */
static struct check_obj *obj_find(uintptr_t addr)
{
	struct rb_node *n = objs_tree.rb_node;

	while (n) {
		struct check_obj *o = rb_entry(n, struct check_obj, node);

		if (addr < o->start)
			n = n->rb_left;
		else if (addr >= o->end)
			n = n->rb_right;
		else
			return o;
	}
	return NULL;
}

/* The first object ending after @addr, or NULL. */
static struct check_obj *obj_first_from(uintptr_t addr)
{
	struct rb_node *n = objs_tree.rb_node;
	struct check_obj *best = NULL;

	while (n) {
		struct check_obj *o = rb_entry(n, struct check_obj, node);

		if (o->end > addr) {
			best = o;
			n = n->rb_left;
		} else {
			n = n->rb_right;
		}
	}
	return best;
}

static void obj_erase(struct check_obj *o)
{
	rb_erase(&o->node, &objs_tree);
	list_del(&o->age);
	nr_objs--;
	free(o);
}

/* Forget every object overlapping [start, end): its memory was reused. */
static void obj_forget_range(uintptr_t start, uintptr_t end)
{
	struct check_obj *o = obj_first_from(start), *next;

	for (; o && o->start < end; o = next) {
		struct rb_node *n = rb_next(&o->node);

		next = n ? rb_entry(n, struct check_obj, node) : NULL;
		obj_erase(o);
	}
}

static void obj_insert(struct check_obj *o)
{
	struct rb_node **link = &objs_tree.rb_node, *parent = NULL;

	while (*link) {
		struct check_obj *x = rb_entry(*link, struct check_obj, node);

		parent = *link;
		link = o->start < x->start ? &parent->rb_left :
					     &parent->rb_right;
	}
	rb_link_node(&o->node, parent, link);
	rb_insert_color(&o->node, &objs_tree);
	list_add_tail(&o->age, &objs_age);
	nr_objs++;
}

static void obj_event_fill(struct obj_event *e, const char *what)
{
	e->seq = check_event_seq_next();
	check_thread_name(e->thread, sizeof(e->thread));
	snprintf(e->what, sizeof(e->what), "%s", what ? what : "?");
}

/* --- the report ---------------------------------------------------------- */

static int obj_event_cmp(const void *a, const void *b)
{
	const struct obj_event *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* @o's history, oldest first, then @now (the access being reported). */
static void obj_format_events(const struct check_obj *o,
			      const struct obj_event *now, const char *verb,
			      char *buf, size_t len)
{
	struct obj_event ev[OBJ_NR_ACCESS];
	unsigned int n = 0;
	size_t used;

	for (unsigned int i = 0; i < OBJ_NR_ACCESS; i++)
		if (o->acc[i].seq)
			ev[n++] = o->acc[i];
	qsort(ev, n, sizeof(ev[0]), obj_event_cmp);
	used = (size_t)snprintf(buf, len, "  #%lu %s: check_obj_alloc %s\n",
				o->alloc.seq, o->alloc.thread, o->what);
	for (unsigned int i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used,
					 "  #%lu %s: %s uses %s\n", ev[i].seq,
					 ev[i].thread, ev[i].what, o->what);
	if (used < len)
		used += (size_t)snprintf(buf + used, len - used,
					 "  #%lu %s: check_obj_free %s\n",
					 o->free.seq, o->free.thread, o->what);
	if (used < len)
		snprintf(buf + used, len - used,
			 "  #%lu %s: %s %s %s (freed)\n", now->seq, now->thread,
			 now->what, verb, o->what);
}

/* What a report needs, copied under objs_lock. */
struct obj_verdict {
	bool report;
	char what[OBJ_NAME];
	const void *start;
	size_t size;
	struct obj_event free;
	char events[1024];
};

static void obj_judge(struct check_obj *o, const struct obj_event *now,
		      const char *verb, struct obj_verdict *v)
{
	if (o->reported)
		return;
	o->reported = true;
	v->report = true;
	memcpy(v->what, o->what, sizeof(v->what));
	v->start = (const void *)o->start;
	v->size = o->end - o->start;
	v->free = o->free;
	obj_format_events(o, now, verb, v->events, sizeof(v->events));
}

static void obj_report(const struct obj_verdict *v, const void *p,
		       const char *who, const char *verb)
{
	check_report_events(CHECK_USE_AFTER_FREE, v->events, v->what,
			    "%s %s %p (byte %zu of %zu) after check_obj_free "
			    "by %s (#%lu)",
			    who, verb, p,
			    (size_t)((uintptr_t)p - (uintptr_t)v->start),
			    v->size, v->free.thread, v->free.seq);
}

/* --- the calls ----------------------------------------------------------- */

/**
 * __check_obj_alloc() - check_obj_alloc() with the oracle on.
 * @obj: the object's address (NULL: ignored).
 * @size: its size in bytes (0: 1).
 * @what: its type for reports.
 *
 * Context: any; objs_lock (leaf), never sleeps.
 */
void __check_obj_alloc(const void *obj, size_t size, const char *what)
{
	struct check_obj *o;

	if (!obj)
		return;
	o = calloc(1, sizeof(*o));
	if (!o)
		return; /* unknown: ignored, never a false report */
	o->start = (uintptr_t)obj;
	o->end = o->start + (size ? size : 1);
	snprintf(o->what, sizeof(o->what), "%s", what ? what : "object");
	obj_event_fill(&o->alloc, "check_obj_alloc");
	trace_event(TR_OBJ, "obj alloc %s %p", o->what, obj);
	spin_lock(&objs_lock);
	obj_forget_range(o->start, o->end);
	/* Pairs with WRITE_ONCE(check_on, false) in check_disable(), which
	 * precedes its check_objs_reset() (see LOCKING above). */
	if (!READ_ONCE(check_on)) {
		spin_unlock(&objs_lock);
		free(o);
		return;
	}
	if (nr_objs >= CHECK_OBJ_MAX)
		obj_erase(list_first_entry(&objs_age, struct check_obj, age));
	obj_insert(o);
	spin_unlock(&objs_lock);
}

/**
 * __check_obj_free() - check_obj_free() with the oracle on.
 * @obj: the address given to check_obj_alloc().
 *
 * A second free of a dead object is reported as a use after free.
 * Context: any; objs_lock (leaf), never sleeps.
 */
void __check_obj_free(const void *obj)
{
	struct obj_verdict v = { .report = false };
	char name[OBJ_NAME] = "";
	struct obj_event now;
	struct check_obj *o;

	obj_event_fill(&now, "check_obj_free");
	spin_lock(&objs_lock);
	o = obj_find((uintptr_t)obj);
	if (o && o->start == (uintptr_t)obj) {
		if (o->freed) {
			obj_judge(o, &now, "frees again", &v);
		} else {
			o->freed = true;
			o->free = now;
			list_move_tail(&o->age, &objs_age);
			memcpy(name, o->what, sizeof(name));
		}
	}
	spin_unlock(&objs_lock);
	if (v.report)
		obj_report(&v, obj, "check_obj_free", "frees again");
	else if (name[0])
		trace_event(TR_OBJ, "obj free %s %p", name, obj);
}

/**
 * __check_obj_access() - check_obj_access() with the oracle on.
 * @p: an address inside a known object (compared, never dereferenced).
 * @what: who accesses.
 *
 * Context: any; objs_lock (leaf), never sleeps.
 */
void __check_obj_access(const void *p, const char *what)
{
	struct obj_verdict v = { .report = false };
	struct obj_event now;
	struct check_obj *o;

	obj_event_fill(&now, what);
	spin_lock(&objs_lock);
	o = obj_find((uintptr_t)p);
	if (o && o->freed) {
		obj_judge(o, &now, "uses", &v);
	} else if (o) {
		o->acc[o->acc_head] = now;
		o->acc_head = (o->acc_head + 1) % OBJ_NR_ACCESS;
	}
	spin_unlock(&objs_lock);
	if (v.report)
		obj_report(&v, p, now.what, "uses");
}

/* Forget every object (check_reset, check_disable). */
void check_objs_reset(void)
{
	spin_lock(&objs_lock);
	while (!list_empty(&objs_age))
		obj_erase(list_first_entry(&objs_age, struct check_obj, age));
	spin_unlock(&objs_lock);
}
