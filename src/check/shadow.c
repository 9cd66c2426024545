// SPDX-License-Identifier: MIT
/*
 * shadow.c - the bytes of checked accesses, and the shadow that catches
 * lost writes.
 *
 * THE SHADOW.  For every frame written through a checked access while the
 * oracle is on (a device write, a pinned-DMA write, a CPU store), the
 * oracle keeps the last value of each 8-byte word touched: struct
 * shadow_frame, keyed by the pfn and tagged with the frame's generation.
 * Every checked read (device, pinned DMA, CPU load) compares the words it
 * reads with their shadow: a difference means somebody changed the frame
 * behind the checked paths - the host lost a write (a copy that missed
 * it, a frame reused too early, a write that never reached the frame the
 * CPU maps).  Only words are tracked, not their history: memory stays
 * bounded by the frames written while the oracle is on.
 *
 * Life of a shadow: made by the first checked write of the frame;
 * carried to the new frame when the host copies a page (COW, fork's copy
 * of a pinned page: check_copy_page); carried into a swap slot and back
 * into the frame a swap-in fills (check_shadow_export/import, for
 * check/swap.c); dropped when the frame is freed
 * (check_shadow_free, from the page free path before the generation
 * moves), and wholesale by check_disable()/check_reset().  A shadow whose
 * generation is older than the frame's (freed while nobody looked) is
 * forgotten when next found.
 *
 * ATOMICITY.  Every checked access moves its bytes and updates or
 * compares the shadow under the frame's stripe lock, so two checked
 * accesses of one frame are never interleaved and a reader never sees a
 * half-updated word: concurrent checked accesses cannot produce a false
 * report.  The bytes are moved with relaxed atomic accesses, like the
 * CPUs' (src/mm/cpu.c), so unchecked racing accesses are races the model
 * permits, not undefined behaviour.
 *
 * LOCKING.  64 stripe locks, by pfn.  Leaves: taken under cm->lock
 * (access.c), under a CPU's tlb_lock (check_cpu_access), under PTE locks
 * (copies); nothing is taken under them.  check_copy_page takes two, in
 * stripe order.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define SHADOW_STRIPES 64
#define SHADOW_BUCKETS 64 /* per stripe */
#define SHADOW_WORDS (PAGE_SIZE / sizeof(u64))

struct shadow_frame {
	struct shadow_frame *next;
	unsigned long pfn, gen;
	u64 tracked[SHADOW_WORDS / 64]; /* bit per word */
	u64 val[SHADOW_WORDS]; /* last checked value of tracked words */
};

static struct shadow_stripe {
	spinlock_t lock; /* zero is unlocked */
	struct shadow_frame *bucket[SHADOW_BUCKETS];
} stripes[SHADOW_STRIPES];

/* Shadows alive: lets the free path skip the stripes when there are none
 * (read racily: a shadow made concurrently belongs to a frame not being
 * freed, since the maker holds a use of it). */
static atomic_long_t nr_shadows;

static struct shadow_stripe *stripe_of(unsigned long pfn)
{
	return &stripes[pfn % SHADOW_STRIPES];
}

static struct shadow_frame **bucket_of(struct shadow_stripe *st,
				       unsigned long pfn)
{
	return &st->bucket[(pfn / SHADOW_STRIPES) % SHADOW_BUCKETS];
}

/* The shadow of @pfn (stripe lock held), made if @create; NULL if none. */
static struct shadow_frame *shadow_find(unsigned long pfn, bool create)
{
	struct shadow_frame **head = bucket_of(stripe_of(pfn), pfn), *sf;
	/* Pairs with WRITE_ONCE(p->gen) in free_block() (page_alloc.c). */
	unsigned long gen = READ_ONCE(pfn_to_page(pfn)->gen);

	for (sf = *head; sf; sf = sf->next)
		if (sf->pfn == pfn)
			break;
	if (sf && sf->gen != gen) {
		/* Freed and reused while the free hook was not looking. */
		memset(sf->tracked, 0, sizeof(sf->tracked));
		sf->gen = gen;
	}
	if (!sf && create) {
		sf = calloc(1, sizeof(*sf));
		if (!sf)
			return NULL; /* untracked: fewer reports, none false */
		sf->pfn = pfn;
		sf->gen = gen;
		sf->next = *head;
		*head = sf;
		atomic_long_inc(&nr_shadows);
	}
	return sf;
}

static void shadow_drop(unsigned long pfn)
{
	struct shadow_frame **pp = bucket_of(stripe_of(pfn), pfn), *sf;

	for (; (sf = *pp); pp = &sf->next) {
		if (sf->pfn == pfn) {
			*pp = sf->next;
			free(sf);
			atomic_long_dec(&nr_shadows);
			return;
		}
	}
}

/* --- moving bytes ------------------------------------------------------ */

static void move_byte(char *frame, char *buf, bool write)
{
	if (write)
		__atomic_store_n(frame, *buf, __ATOMIC_RELAXED);
	else
		*buf = __atomic_load_n(frame, __ATOMIC_RELAXED);
}

static void move_word(char *frame, char *buf, bool write)
{
	u64 v;

	if (write) {
		memcpy(&v, buf, 8); /* @buf may be unaligned */
		__atomic_store_n((u64 *)frame, v, __ATOMIC_RELAXED);
	} else {
		v = __atomic_load_n((u64 *)frame, __ATOMIC_RELAXED);
		memcpy(buf, &v, 8);
	}
}

/* Bytes up to the frame's next word boundary, words, then the tail. */
static void move_bytes(char *frame, char *buf, size_t len, bool write)
{
	size_t i = 0;

	for (; i < len && ((uintptr_t)(frame + i) & 7); i++)
		move_byte(frame + i, buf + i, write);
	for (; i + 8 <= len; i += 8)
		move_word(frame + i, buf + i, write);
	for (; i < len; i++)
		move_byte(frame + i, buf + i, write);
}

void check_frame_move(unsigned long pfn, unsigned long off, char *buf,
		      size_t len, bool write, bool word)
{
	char *frame = (char *)pfn_to_virt(pfn) + off;

	if (word && write)
		__atomic_store_n((u64 *)frame, *(u64 *)buf, __ATOMIC_RELAXED);
	else if (word)
		*(u64 *)buf = __atomic_load_n((u64 *)frame, __ATOMIC_RELAXED);
	else
		move_bytes(frame, buf, len, write);
}

static u64 frame_word(unsigned long pfn, unsigned long w)
{
	return __atomic_load_n((u64 *)pfn_to_virt(pfn) + w, __ATOMIC_RELAXED);
}

/* Record the words of [off, off + len) as they are now (stripe lock). */
static void shadow_update(struct shadow_frame *sf, unsigned long off,
			  size_t len)
{
	for (unsigned long w = off / 8; w <= (off + len - 1) / 8; w++) {
		sf->val[w] = frame_word(sf->pfn, w);
		sf->tracked[w / 64] |= 1UL << (w % 64);
	}
}

/* First tracked word of [off, off + len) that differs (stripe lock). */
static bool shadow_compare(struct shadow_frame *sf, unsigned long off,
			   size_t len, struct check_lost *lost)
{
	for (unsigned long w = off / 8; w <= (off + len - 1) / 8; w++) {
		u64 now;

		if (!(sf->tracked[w / 64] & (1UL << (w % 64))))
			continue;
		now = frame_word(sf->pfn, w);
		if (now == sf->val[w])
			continue;
		lost->off = w * 8;
		lost->expected = sf->val[w];
		lost->found = now;
		return true;
	}
	return false;
}

bool check_frame_access(unsigned long pfn, unsigned long off, char *buf,
			size_t len, bool write, bool word, bool compare,
			struct check_lost *lost)
{
	struct shadow_stripe *st = stripe_of(pfn);
	struct shadow_frame *sf;
	bool found = false;

	spin_lock(&st->lock);
	/* check_on under the lock: see check_shadow_reset(). */
	if (write) {
		check_frame_move(pfn, off, buf, len, true, word);
		sf = READ_ONCE(check_on) ? shadow_find(pfn, true) : NULL;
		if (sf)
			shadow_update(sf, off, len);
	} else {
		sf = compare && READ_ONCE(check_on) ? shadow_find(pfn, false) :
						      NULL;
		if (sf)
			found = shadow_compare(sf, off, len, lost);
		check_frame_move(pfn, off, buf, len, false, word);
	}
	spin_unlock(&st->lock);
	return found;
}

/* --- host hooks ---------------------------------------------------------- */

/* A CPU access (the CPU holds its tlb_lock: one "instruction"). */
void check_cpu_access(struct mm_struct *mm, unsigned long va, unsigned long pfn,
		      char *buf, size_t len, bool write, bool word)
{
	struct check_lost lost;

	if (!check_frame_access(pfn, va & ~PAGE_MASK, buf, len, write, word,
				!write, &lost))
		return;
	check_report(CHECK_LOST_WRITE, mm, (va & PAGE_MASK) + lost.off, pfn,
		     "cpu",
		     "CPU load found %#llx where the last checked write left "
		     "%#llx (frame offset %#lx)",
		     (unsigned long long)lost.found,
		     (unsigned long long)lost.expected, lost.off);
}

/* The host copies @src into @dst: the bytes and their shadow, as one. */
void check_copy_page(struct page *dst, struct page *src)
{
	unsigned long dpfn = page_to_pfn(dst), spfn = page_to_pfn(src);
	struct shadow_stripe *a = stripe_of(dpfn), *b = stripe_of(spfn);
	struct shadow_frame *ssf, *dsf;

	/* Two stripes: always in array order. */
	if (a > b) {
		struct shadow_stripe *t = a;

		a = b;
		b = t;
	}
	spin_lock(&a->lock);
	if (b != a)
		spin_lock(&b->lock);
	for (unsigned long w = 0; w < SHADOW_WORDS; w++)
		__atomic_store_n((u64 *)pfn_to_virt(dpfn) + w,
				 frame_word(spfn, w), __ATOMIC_RELAXED);
	ssf = shadow_find(spfn, false);
	dsf = shadow_find(dpfn, ssf && READ_ONCE(check_on));
	if (dsf && ssf) {
		memcpy(dsf->tracked, ssf->tracked, sizeof(dsf->tracked));
		memcpy(dsf->val, ssf->val, sizeof(dsf->val));
	} else if (dsf) {
		memset(dsf->tracked, 0, sizeof(dsf->tracked));
	}
	if (b != a)
		spin_unlock(&b->lock);
	spin_unlock(&a->lock);
}

/* --- swap: the shadow leaves the frame with its bytes (check/swap.c) --- */

/*
 * Copy @pfn's bytes to @buf and its shadow to @tracked/@val, as one step
 * under the stripe lock.  Return: whether the frame had a shadow.
 */
bool check_shadow_export(unsigned long pfn, void *buf, u64 *tracked, u64 *val)
{
	struct shadow_stripe *st = stripe_of(pfn);
	struct shadow_frame *sf;

	spin_lock(&st->lock);
	for (unsigned long w = 0; w < SHADOW_WORDS; w++)
		__atomic_store_n((u64 *)buf + w, frame_word(pfn, w),
				 __ATOMIC_RELAXED);
	sf = shadow_find(pfn, false);
	if (sf) {
		memcpy(tracked, sf->tracked, sizeof(sf->tracked));
		memcpy(val, sf->val, sizeof(sf->val));
	}
	spin_unlock(&st->lock);
	return sf;
}

/*
 * Copy @buf into @pfn and make @tracked/@val (NULL: none) its shadow, as
 * one step under the stripe lock.
 */
void check_shadow_import(unsigned long pfn, const void *buf, const u64 *tracked,
			 const u64 *val)
{
	struct shadow_stripe *st = stripe_of(pfn);
	u64 *frame = pfn_to_virt(pfn);
	const u64 *src = buf;
	struct shadow_frame *sf;

	spin_lock(&st->lock);
	for (unsigned long w = 0; w < SHADOW_WORDS; w++)
		__atomic_store_n(frame + w,
				 __atomic_load_n(src + w, __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
	sf = shadow_find(pfn, tracked && READ_ONCE(check_on));
	if (sf && tracked) {
		memcpy(sf->tracked, tracked, sizeof(sf->tracked));
		memcpy(sf->val, val, sizeof(sf->val));
	} else if (sf) {
		memset(sf->tracked, 0, sizeof(sf->tracked));
	}
	spin_unlock(&st->lock);
}

/* 2^@order frames from @page are being freed: their content is gone. */
void check_shadow_free(struct page *page, unsigned int order)
{
	unsigned long pfn = page_to_pfn(page);

	for (unsigned long i = 0; i < (1UL << order); i++) {
		struct shadow_stripe *st = stripe_of(pfn + i);

		/* Pairs with the RMWs on nr_shadows (see its comment). */
		if (!atomic_long_read(&nr_shadows))
			return;
		spin_lock(&st->lock);
		shadow_drop(pfn + i);
		spin_unlock(&st->lock);
	}
}

/*
 * Forget every shadow.  Called after check_on went false (disable) or
 * when the user asks (reset).  A writer that held a stripe lock before us
 * may have made a shadow we now drop; one that takes it after us sees
 * check_on false (disable) and makes none.
 */
void check_shadow_reset(void)
{
	for (int s = 0; s < SHADOW_STRIPES; s++) {
		struct shadow_stripe *st = &stripes[s];

		spin_lock(&st->lock);
		for (int b = 0; b < SHADOW_BUCKETS; b++) {
			while (st->bucket[b]) {
				struct shadow_frame *sf = st->bucket[b];

				st->bucket[b] = sf->next;
				free(sf);
				atomic_long_dec(&nr_shadows);
			}
		}
		spin_unlock(&st->lock);
	}
}
