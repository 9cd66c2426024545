/* SPDX-License-Identifier: MIT */
/*
 * mirror_threads.h - the threads of the concurrent mirror scenarios:
 * racers that access a range until teardown takes it away, and
 * submitters that each write and read back their own pages.  Worker
 * threads report failures with CHECK() (cmocka is not thread-safe).
 */
#ifndef MMIRROR_SCENARIO_MIRROR_THREADS_H
#define MMIRROR_SCENARIO_MIRROR_THREADS_H

#include "mirror_util.h"
#include <mmirror/kthread.h>
#include <mmirror/wait.h>

#define RACE_PAGES 16

struct racer {
	struct dmirror *dm;
	unsigned long va;
	bool write;
	long ok, efault;
};

/* Racers that completed one access; the test waits for all of them
 * before it pulls the memory away, so the teardown meets running racers. */
static int racers_started;
static DECLARE_WAIT_QUEUE_HEAD(racers_wq);

/*
 * Access the whole range until an access fails (it was unmapped or the
 * process exited), at most a bounded number of times.  Data read is
 * always pattern 1: nobody writes anything else.
 */
static inline int racer_fn(void *arg)
{
	struct racer *r = arg;
	size_t len = RACE_PAGES * P;
	unsigned char *buf = malloc(len);

	CHECK(buf);
	for (int i = 0; i < TEST_SCALE(4000); i++) {
		int ret;

		if (r->write) {
			pat_fill(buf, r->va, len, 1);
			ret = dmirror_write(r->dm, r->va, buf, len);
		} else {
			ret = dmirror_read(r->dm, r->va, buf, len);
			CHECK(ret || pat_ok(buf, r->va, len, 1));
		}
		CHECK(ret == 0 || ret == -EFAULT);
		if (ret) {
			r->efault++;
			break;
		}
		if (!r->ok++) {
			/* Paired with the acquire load in race()'s wait. */
			__atomic_add_fetch(&racers_started, 1,
					   __ATOMIC_RELEASE);
			wake_up(&racers_wq);
		}
	}
	free(buf);
	return 0;
}

#define SUBMITTERS 4
#define SUB_PAGES 4

struct submitter {
	struct dmirror *dm;
	unsigned long va;
	unsigned int tag;
};

/* Write a pattern over its own pages and read it back, again and again. */
static inline int submitter_fn(void *arg)
{
	struct submitter *sb = arg;
	size_t len = SUB_PAGES * P;
	unsigned char *buf = malloc(len);

	CHECK(buf);
	for (int i = 0; i < TEST_SCALE(200); i++) {
		unsigned int tag = sb->tag + 16 * (i % 8);

		pat_fill(buf, sb->va, len, tag);
		CHECK(dmirror_write(sb->dm, sb->va, buf, len) == 0);
		memset(buf, 0, len);
		CHECK(dmirror_read(sb->dm, sb->va, buf, len) == 0);
		CHECK(pat_ok(buf, sb->va, len, tag));
	}
	free(buf);
	return 0;
}

/* A device writer against a stream of invalidations of its pages. */
struct stresser {
	struct dmirror *dm;
	unsigned long va; /* STRESS_PAGES pages */
	uint64_t seed;
	int *stop; /* set (release) by the test when it is done */
	long ok;
};

#define STRESS_PAGES 8

static inline int stresser_fn(void *arg)
{
	struct stresser *st = arg;
	unsigned char buf[2 * P];

	/* Bounded: the test stops us long before in practice. */
	for (long n = 0; n < 1000000; n++) {
		unsigned long pg = test_rand(&st->seed) % (STRESS_PAGES - 1);
		unsigned long va = st->va + pg * P + 64;
		int ret;

		/* Pairs with the release store in the test. */
		if (__atomic_load_n(st->stop, __ATOMIC_ACQUIRE))
			break;
		pat_fill(buf, va, P, 1);
		ret = n & 1 ? dmirror_write(st->dm, va, buf, P) :
			      dmirror_read(st->dm, va, buf, P);
		/* -EPERM: mprotect'ed read-only; -EFAULT: between munmap
		 * and the new mmap. */
		CHECK(ret == 0 || ret == -EPERM || ret == -EFAULT);
		st->ok += !ret;
	}
	return 0;
}

#endif /* MMIRROR_SCENARIO_MIRROR_THREADS_H */
