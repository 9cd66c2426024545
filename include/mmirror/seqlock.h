/* SPDX-License-Identifier: MIT */
/*
 * seqlock.h - sequence counts and sequential locks, kernel API.
 *
 * Protocol:
 *
 *   seqcount_t.sequence is even when no write is in progress, odd while one
 *   is.  A writer (writers are serialized by a lock of the caller's: that
 *   is the caller's job for a bare seqcount_t, the embedded spinlock's for
 *   a seqlock_t) makes it odd, changes the data, makes it even again.  A
 *   reader samples an even value, reads the data, and retries if the
 *   sequence changed meanwhile:
 *
 *	do {
 *		seq = read_seqcount_begin(&s);
 *		a = READ_ONCE(data->a);
 *		b = READ_ONCE(data->b);
 *	} while (read_seqcount_retry(&s, seq));
 *
 *   Ordering (the C11 seqlock of Boehm, "Can seqlocks get along with
 *   programming language memory models?"):
 *
 *     writer: seq = seq + 1 (relaxed); smp_wmb() (release fence);
 *             data stores; smp_store_release(seq, seq + 1)
 *     reader: seq = smp_load_acquire(seq); data loads;
 *             smp_rmb() (acquire fence); re-read seq (relaxed)
 *
 *   If a reader's data load saw any store of a write section, the
 *   writer's release fence synchronizes with the reader's acquire fence and
 *   the re-read sees at least the odd value: the reader retries.  If the
 *   reader's first read saw the final even value, the acquire pairs with
 *   the writer's release store and every data load sees the write.
 *
 * THE DATA RULE: in the C11 model a reader that races with a writer must
 * not perform plain accesses on the protected data (that is a data race,
 * undefined behaviour, and ThreadSanitizer reports it).  So readers read
 * the protected fields with READ_ONCE(), and writers write them with
 * WRITE_ONCE(), and a reader uses the values only after
 * read_seqcount_retry() said they are consistent.
 *
 * Deviations from the kernel: no lockdep, no preemption control, no
 * seqcount_LOCKNAME_t associated-lock variants.
 */
#ifndef MMIRROR_SEQLOCK_H
#define MMIRROR_SEQLOCK_H

#include <mmirror/atomic.h>
#include <mmirror/compiler.h>
#include <mmirror/spinlock.h>

typedef struct seqcount {
	unsigned int sequence; /* odd while a write is in progress */
} seqcount_t;

#define SEQCNT_ZERO(name)     \
	{                     \
		.sequence = 0 \
	}

/**
 * seqcount_init() - initialise a sequence count to zero.
 * @s: the sequence count.
 *
 * Context: nobody else may be using @s.
 */
static inline void seqcount_init(seqcount_t *s)
{
	WRITE_ONCE(s->sequence, 0);
}

/* Out of line: wait for an even sequence (spin, yield, sched_point). */
unsigned int __read_seqcount_wait(const seqcount_t *s);

/**
 * raw_read_seqcount() - the current sequence, without waiting.
 * @s: the sequence count.
 *
 * Return: the sequence, possibly odd (a write in progress).
 */
static inline unsigned int raw_read_seqcount(const seqcount_t *s)
{
	/* Acquire: pairs with write_seqcount_end()'s release store. */
	return smp_load_acquire(&s->sequence);
}

/**
 * read_seqcount_begin() - start a read section.
 * @s: the sequence count.
 *
 * Context: waits (spinning, then yielding) while a write is in progress,
 * so never call it while holding the writers' lock.
 *
 * Return: an even sequence to pass to read_seqcount_retry().
 */
static inline unsigned int read_seqcount_begin(const seqcount_t *s)
{
	unsigned int seq = raw_read_seqcount(s);

	if (unlikely(seq & 1))
		seq = __read_seqcount_wait(s);
	return seq;
}

/**
 * read_seqcount_retry() - did a write overlap the read section?
 * @s: the sequence count.
 * @start: the value read_seqcount_begin() returned.
 *
 * Return: true if the data read since @start may be inconsistent and the
 * section must be retried.
 */
static inline bool read_seqcount_retry(const seqcount_t *s, unsigned int start)
{
	/*
	 * Acquire fence: orders the section's data loads before the re-read;
	 * pairs with the smp_wmb() in write_seqcount_begin().
	 */
	smp_rmb();
	/* Pairs with the WRITE_ONCE in write_seqcount_begin(). */
	return unlikely(READ_ONCE(s->sequence) != start);
}

/**
 * write_seqcount_begin() - start a write section (sequence becomes odd).
 * @s: the sequence count.
 *
 * Context: the caller holds the lock that serializes writers of @s.
 */
static inline void write_seqcount_begin(seqcount_t *s)
{
	sched_point(SP_LOCK, s);
	/* Serialized writers: nobody else changes sequence concurrently. */
	WARN_ON_ONCE(READ_ONCE(s->sequence) & 1);
	WRITE_ONCE(s->sequence, READ_ONCE(s->sequence) + 1);
	/* Release fence: the odd value before the data stores (see top). */
	smp_wmb();
}

/**
 * write_seqcount_end() - end a write section (sequence becomes even).
 * @s: the sequence count.
 *
 * Context: the caller holds the lock that serializes writers of @s.
 */
static inline void write_seqcount_end(seqcount_t *s)
{
	sched_point(SP_UNLOCK, s);
	WARN_ON_ONCE(!(READ_ONCE(s->sequence) & 1));
	/* Release: the data stores before the even value; pairs with
	 * raw_read_seqcount()'s acquire. */
	smp_store_release(&s->sequence, READ_ONCE(s->sequence) + 1);
}

/*
 * seqlock_t: a seqcount whose writers are serialized by its own spinlock.
 */
typedef struct {
	seqcount_t seqcount;
	spinlock_t lock;
} seqlock_t;

#define __SEQLOCK_UNLOCKED(name)                           \
	{                                                  \
		.seqcount = SEQCNT_ZERO((name).seqcount),  \
		.lock = __SPIN_LOCK_UNLOCKED((name).lock), \
	}
#define DEFINE_SEQLOCK(name) seqlock_t name = __SEQLOCK_UNLOCKED(name)

/**
 * seqlock_init() - initialise a seqlock.
 * @sl: the seqlock.
 */
static inline void seqlock_init(seqlock_t *sl)
{
	seqcount_init(&sl->seqcount);
	spin_lock_init(&sl->lock);
}

/**
 * read_seqbegin() - start a read section of @sl (see read_seqcount_begin).
 * @sl: the seqlock.
 *
 * Return: the sequence to pass to read_seqretry().
 */
static inline unsigned int read_seqbegin(const seqlock_t *sl)
{
	return read_seqcount_begin(&sl->seqcount);
}

/**
 * read_seqretry() - must the read section that began at @start retry?
 * @sl: the seqlock.
 * @start: the value read_seqbegin() returned.
 */
static inline bool read_seqretry(const seqlock_t *sl, unsigned int start)
{
	return read_seqcount_retry(&sl->seqcount, start);
}

/**
 * write_seqlock() - take the writer lock of @sl and start a write section.
 * @sl: the seqlock.
 *
 * Context: spins (and yields) while another writer holds it.
 */
static inline void write_seqlock(seqlock_t *sl)
{
	spin_lock(&sl->lock);
	write_seqcount_begin(&sl->seqcount);
}

/**
 * write_sequnlock() - end the write section and release the writer lock.
 * @sl: the seqlock, write-locked by the caller.
 */
static inline void write_sequnlock(seqlock_t *sl)
{
	write_seqcount_end(&sl->seqcount);
	spin_unlock(&sl->lock);
}

/**
 * read_seqlock_excl() / read_sequnlock_excl() - a reader that excludes
 * writers (and other such readers) instead of retrying.
 * @sl: the seqlock.
 */
static inline void read_seqlock_excl(seqlock_t *sl)
{
	spin_lock(&sl->lock);
}

static inline void read_sequnlock_excl(seqlock_t *sl)
{
	spin_unlock(&sl->lock);
}

#endif /* MMIRROR_SEQLOCK_H */
