/* SPDX-License-Identifier: MIT */
/*
 * check.h - the coherence oracle: the sanitizer of every device access.
 *
 * A secondary MMU tells the oracle what it believes (check_map: "my device
 * now translates va of mm to pfn, writable or not"; check_unmap: "it no
 * longer does") and performs every device access through it
 * (check_dev_read/check_dev_write for translated DMA, check_pin_read/
 * check_pin_write for DMA to pinned frames).  The oracle does the access on
 * the real frame bytes and checks the six contracts of DESIGN.md at that
 * moment:
 *
 *   CHECK_STALE         access through a translation an invalidation of
 *                       that va has covered: it was still registered when
 *                       the invalidation's invalidate_range_start returned,
 *                       or it was installed while such an invalidation was
 *                       in flight, or it no longer names the frame the CPU
 *                       page table maps at that va.
 *   CHECK_USE_AFTER_FREE  the frame was freed (its generation changed) since
 *                       the translation or pin was recorded; GUP-fast
 *                       grabbing a frame freed under it; a driver object
 *                       used after its check_obj_free().
 *   CHECK_PERMISSION    a write through a read-only translation, or while
 *                       the CPU PTE at that moment does not allow a write.
 *   CHECK_LOST_WRITE    a read (device or CPU) of a word whose bytes differ
 *                       from the last value written to that frame through a
 *                       checked access (the shadow), content moves between
 *                       frames (COW copies) carrying the shadow along.
 *   CHECK_PIN           DMA to a frame not pinned, a pinned frame freed, an
 *                       unpin without a pin, a device destroyed with pins
 *                       it never released.
 *   CHECK_PROTOCOL      a notifier callback after unregister/remove
 *                       returned, invalidate_range_end without a matching
 *                       start, a sleeping lock taken in a non-blockable
 *                       invalidation, an access through a translation the
 *                       device never registered.
 *
 * The host MMU feeds the oracle from the inside (notifier start/end, frame
 * frees and copies, CPU loads and stores, GUP-fast grabs, unpins); a
 * driver only uses the calls below.  The oracle is off until
 * check_enable(); then every hook costs a lock or two (the benchmarks run
 * with it off).  A violation is recorded, counted per rule and printed
 * (unless quiet) with the rule, va, frame, device, thread and the recent
 * events of that mm that touched the va.
 *
 * Locking: every call may be made with driver spinlocks held (the oracle's
 * own locks are leaves, taken after any driver or host-MMU lock and never
 * around a callback).  Call check_map/check_unmap and the access calls
 * under the same driver lock that orders them against the driver's
 * invalidation callback, as a correct driver does anyway.
 */
#ifndef MMIRROR_CHECK_H
#define MMIRROR_CHECK_H

#include <stdio.h>
#include <mmirror/compiler.h>
#include <mmirror/list.h>

struct mm_struct;
struct page;

enum check_rule {
	CHECK_STALE = 1,
	CHECK_USE_AFTER_FREE,
	CHECK_PERMISSION,
	CHECK_LOST_WRITE,
	CHECK_PIN,
	CHECK_PROTOCOL,
	CHECK_NR_RULES /* rules are 1 .. CHECK_NR_RULES - 1 */
};

/* "stale", "use-after-free", "permission", "lost-write", "pin",
 * "protocol"; NULL for anything else. */
const char *check_rule_name(enum check_rule rule);
/* The rule named @name (as above), or 0. */
enum check_rule check_rule_by_name(const char *name);

/*
 * A device as the oracle knows it.  Embed one in the driver's device
 * structure; check_dev_init() before the first check_map, check_dev_fini()
 * after the last access (it forgets the device's translations and reports
 * pins it still holds as CHECK_PIN leaks).
 */
struct check_dev {
	char name[32];
	unsigned int id; /* assigned by check_dev_init, for reports */
	struct list_head node; /* the oracle's list of live devices */
};
void check_dev_init(struct check_dev *dev, const char *name);
void check_dev_fini(struct check_dev *dev);

/* --- translated access (mirror, odp, kvm) ------------------------------ */

/*
 * check_map() - @dev now translates the page at @va of @mm to frame @pfn,
 * for writing too if @writable.  Replaces any earlier translation of that
 * page by @dev.  Call it when the device page-table entry is installed.
 */
void check_map(struct check_dev *dev, struct mm_struct *mm, unsigned long va,
	       unsigned long pfn, bool writable);
/* check_unmap() - @dev dropped its translations of [start, end) of @mm
 * (page-aligned; pages it did not translate are ignored). */
void check_unmap(struct check_dev *dev, struct mm_struct *mm,
		 unsigned long start, unsigned long end);

/*
 * check_dev_read()/check_dev_write() - the device accesses @len bytes at
 * @va of @mm (within one page) through its translation to @pfn: the
 * oracle checks the contracts, then copies between @buf and the frame.
 * The access happens even when a violation is recorded, as a real device
 * would do it.  Return 0, or -EINVAL (crosses a page, @pfn outside
 * memory, NULL arguments) with nothing accessed.
 */
int check_dev_read(struct check_dev *dev, struct mm_struct *mm,
		   unsigned long va, unsigned long pfn, void *buf, size_t len);
int check_dev_write(struct check_dev *dev, struct mm_struct *mm,
		    unsigned long va, unsigned long pfn, const void *buf,
		    size_t len);

/* --- pinned access (pin) ------------------------------------------------ */

/* @dev holds a pin on @page (after pin_user_pages*), or dropped it (call
 * check_pin_forget before unpin_user_page*). */
void check_pin_note(struct check_dev *dev, struct page *page);
void check_pin_forget(struct check_dev *dev, struct page *page);
/* DMA of @len bytes at byte @offset of @page (within the page) that @dev
 * pinned.  Return 0 or -EINVAL, as check_dev_read(). */
int check_pin_read(struct check_dev *dev, struct page *page, size_t offset,
		   void *buf, size_t len);
int check_pin_write(struct check_dev *dev, struct page *page, size_t offset,
		    const void *buf, size_t len);

/* --- driver objects (lifetime) ------------------------------------------ */

/*
 * A driver's own objects (a device structure a notifier subscription
 * points at, a bind, a context) are not frames: the oracle only knows
 * them if the driver says when they are born and die, and where it uses
 * them:
 *
 *   check_obj_alloc(obj, size, what)  after the allocation: [obj,
 *                                     obj + size) is a live @what
 *   check_obj_free(obj)               BEFORE the kfree: from now on the
 *                                     object is dead (the memory may be
 *                                     reused or unmapped at once after
 *                                     the kfree, so the oracle must
 *                                     already know)
 *   check_obj_access(p, what)         before dereferencing p (any
 *                                     address inside the object): p is
 *                                     only compared, never dereferenced,
 *                                     so a dangling p is fine
 *
 * An access to an object after its check_obj_free() (and before a new
 * check_obj_alloc() covering that address) is CHECK_USE_AFTER_FREE,
 * reported once per freed object, naming the object, the thread that
 * freed it, the object's recent events and the accessing thread; a
 * second check_obj_free() of a dead object is reported the same way.
 * Addresses never passed to check_obj_alloc() are ignored.
 *
 * Context: any (driver spinlocks held, notifier callbacks, non-blockable
 * ranges): the oracle's leaf lock only, never sleeps.  While the oracle
 * is off each call is one load and one predicted branch and nothing is
 * recorded; check_disable() and check_reset() forget every object.  At
 * most CHECK_OBJ_MAX objects are known (the least recently allocated or
 * freed are forgotten first: fewer reports, never a false one).
 */
#define CHECK_OBJ_MAX 4096

/*
 * check_on - the oracle is on.  Written only by check_enable() and
 * check_disable() (WRITE_ONCE); read here with READ_ONCE, so that the
 * calls below cost nothing more while it is off.  Not for drivers.
 */
extern bool check_on;

void __check_obj_alloc(const void *obj, size_t size, const char *what);
void __check_obj_free(const void *obj);
void __check_obj_access(const void *obj, const char *what);

/**
 * check_obj_alloc() - @obj (@size bytes) is a new live object.
 * @obj: its address (a new object at a reused address forgets the old).
 * @size: its size in bytes (0 is taken as 1).
 * @what: its type for reports ("f002_dev"), copied (23 characters).
 *
 * Context: any; leaf lock, never sleeps.
 */
static inline void check_obj_alloc(const void *obj, size_t size,
				   const char *what)
{
	/* Pairs with the WRITE_ONCEs in check_enable()/check_disable(). */
	if (unlikely(__atomic_load_n(&check_on, __ATOMIC_RELAXED)))
		__check_obj_alloc(obj, size, what);
}

/**
 * check_obj_free() - @obj dies: call it before the memory is freed.
 * @obj: the address given to check_obj_alloc(); others are ignored.
 *
 * Context: any; leaf lock, never sleeps.
 */
static inline void check_obj_free(const void *obj)
{
	/* Pairs with the WRITE_ONCEs in check_enable()/check_disable(). */
	if (unlikely(__atomic_load_n(&check_on, __ATOMIC_RELAXED)))
		__check_obj_free(obj);
}

/**
 * check_obj_access() - the caller is about to dereference @p.
 * @p: an address inside a known object (never dereferenced here).
 * @what: who accesses, for reports ("f002_inv_start"), copied.
 *
 * Context: any; leaf lock, never sleeps.
 */
static inline void check_obj_access(const void *p, const char *what)
{
	/* Pairs with the WRITE_ONCEs in check_enable()/check_disable(). */
	if (unlikely(__atomic_load_n(&check_on, __ATOMIC_RELAXED)))
		__check_obj_access(p, what);
}

/* --- the oracle itself ------------------------------------------------- */

/* Turn the oracle on/off (off at start).  Enabling forgets nothing;
 * check_reset() forgets violations, shadows, the event log and driver
 * objects (check_obj_alloc). */
void check_enable(void);
void check_disable(void);
bool check_enabled(void);
void check_reset(void);

/* Where reports go (stderr by default); NULL silences them (tests that
 * expect a violation).  Counting and recording are unaffected. */
void check_set_output(FILE *out);

/* Name the calling thread in reports (kthreads are named already). */
void check_set_thread_name(const char *name);

/* One recorded violation (the first CHECK_MAX_RECORDED are kept). */
#define CHECK_MAX_RECORDED 64
struct check_violation {
	enum check_rule rule;
	struct mm_struct *mm; /* NULL when not about an mm */
	unsigned long va; /* 0 when not about a va */
	unsigned long pfn; /* ~0UL when not about a frame */
	char device[32]; /* device name, "cpu", "gup-fast" or "host" */
	char thread[32];
	char what[160]; /* one line: what happened and why it is wrong */
	char events[1024]; /* the recent events that led to it, one a line */
};

/* Violations recorded since the last check_reset(): of @rule, or of every
 * rule when @rule is 0. */
unsigned long check_nr_violations(enum check_rule rule);
/* The @i-th recorded violation (0-based) or NULL. */
const struct check_violation *check_violation(unsigned long i);
/* Print @v as a report (the same text the oracle prints). */
void check_print(FILE *out, const struct check_violation *v);

/*
 * check_finish() - end of a run: report every frame still pinned (a pin
 * leak) and return the number of violations since check_reset().
 */
unsigned long check_finish(void);

#endif /* MMIRROR_CHECK_H */
