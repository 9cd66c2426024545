// SPDX-License-Identifier: MIT
/*
 * sched.c - the child side of the explorer: run one schedule with exactly
 * one controlled thread running at any moment.
 *
 * Token protocol.  Every controlled thread (the child's main thread, index
 * 0, and every kthread started during the schedule) owns a private word,
 * ->token.  Only the thread holding "the" token runs mmirror code; at each
 * sched_point() it picks the next thread (strategy.c), stores 1 into that
 * thread's token (release) and futex-waits on its own until somebody
 * stores 1 into it (acquire).  The release/acquire pair on the token is
 * the only thing that orders one thread's run before the next one's, so
 * all of the state below (struct sched, every ethread) is read and written
 * by the token holder only and needs no lock.  TSan sees the atomics; the
 * explicit __tsan_release/__tsan_acquire make the hand-off visible even
 * where the futex syscall is what really wakes a thread.
 *
 * Thread states: RUNNABLE, BLOCKED (in base_futex_wait on ->wait_word,
 * until a base_futex_wake on that word), DONE.  A RUNNABLE thread may also
 * be ->spinning (it passed SP_SPIN: it cannot progress until another
 * thread takes a non-spin step), which makes it not runnable for now.
 * No runnable thread while some thread is not DONE is a deadlock.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <mmirror/check.h>
#include <mmirror/kthread.h>
#include <mmirror/rcupdate.h>
#include <mmirror/sched_point.h>
#include "../base/explore_hooks.h"
#include "../base/trace.h"
#include "sched.h"
#include "strategy.h"

#ifdef MMIRROR_TSAN
extern void __tsan_acquire(void *addr);
extern void __tsan_release(void *addr);
#else
#define __tsan_acquire(a) ((void)(a))
#define __tsan_release(a) ((void)(a))
#endif

enum et_state { ET_RUNNABLE, ET_BLOCKED, ET_DONE };

struct ethread {
	u32 token; /* 1: may run.  Written by the giver, cleared by owner */
	enum et_state state;
	bool spinning;
	unsigned long points; /* sched points passed: names its decisions */
	const u32 *wait_word; /* ET_BLOCKED: the futex word */
	struct task_struct *task;
	/* The thread's own RCU TLS, for the grace-period model (or NULL). */
	const unsigned int *rcu_nesting;
	const unsigned long *rcu_sections;
	char name[TASK_COMM_LEN];
};

/* One decision point: what sched.h's D and R records report. */
struct decision {
	u64 mask; /* the runnable set */
	unsigned long points; /* sched points @cur had passed */
	int choice;
	signed char self; /* the running thread if in @mask, else -1 */
	signed char cur; /* the thread that asked (it may have blocked) */
};

struct explore_event {
	unsigned long step;
	int thread;
	int kind;
	char *text;
};

static struct sched {
	const struct explore_params *p;
	struct explore_strategy_state strat;
	struct ethread th[EXPLORE_MAX_THREADS];
	unsigned int nr;
	unsigned long steps, preemptions, fails;
	bool diverged;
	struct decision *dec; /* every decision point, in order */
	size_t nr_dec, cap_dec, forced_pos;
	struct explore_event *ev;
	size_t nr_ev, cap_ev;
	const void **ptrs; /* pointers seen in event text, by first use */
	size_t nr_ptrs, cap_ptrs;
	FILE *out;
} S;

/* The controlled thread running this code (NULL: not controlled). */
static __thread struct ethread *me;

static void *grow(void *arr, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return arr;
	*cap = *cap ? *cap * 2 : 64;
	if (*cap < need)
		*cap = need;
	arr = realloc(arr, *cap * size);
	BUG_ON(!arr);
	return arr;
}

static int et_index(const struct ethread *t)
{
	return (int)(t - S.th);
}

/* --- events ------------------------------------------------------------ */

/* "0x..." -> "#n": addresses differ between runs, first-use order not. */
static size_t ptr_id(unsigned long v)
{
	for (size_t i = 0; i < S.nr_ptrs; i++)
		if (S.ptrs[i] == (const void *)v)
			return i + 1;
	S.ptrs = grow(S.ptrs, &S.cap_ptrs, S.nr_ptrs + 1, sizeof(*S.ptrs));
	S.ptrs[S.nr_ptrs++] = (const void *)v;
	return S.nr_ptrs;
}

static char *normalize(const char *text)
{
	size_t cap = strlen(text) * 2 + 16, n = 0;
	char *out = malloc(cap);

	BUG_ON(!out);
	while (*text && n + 24 < cap) {
		if (text[0] == '0' && text[1] == 'x') {
			char *end;
			unsigned long v = strtoul(text, &end, 16);

			n += snprintf(out + n, cap - n, "#%zu", ptr_id(v));
			text = end;
			continue;
		}
		out[n++] = *text == '\n' ? ' ' : *text;
		text++;
	}
	out[n] = '\0';
	return out;
}

static void record(int kind, const char *text)
{
	struct explore_event *e;

	S.ev = grow(S.ev, &S.cap_ev, S.nr_ev + 1, sizeof(*S.ev));
	e = &S.ev[S.nr_ev++];
	e->step = S.steps;
	e->thread = me ? et_index(me) : -1;
	e->kind = kind;
	e->text = normalize(text);
}

static void explore_sink(enum trace_kind kind, const char *text)
{
	/* Uncontrolled threads (an exiting thread past its hook) drop out. */
	if (me && me->state != ET_DONE)
		record(kind, text);
}

void explore_fail(const char *fmt, ...)
{
	char text[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	S.fails++;
	if (me)
		record(TR_VIOLATION, text);
}

/* --- the report -------------------------------------------------------- */

static __attribute__((noreturn)) void child_finish(enum explore_verdict v,
						   unsigned long violations)
{
	FILE *f = S.out;
	const struct check_violation *cv;

	fprintf(f, "V %d %lu %lu %lu %d\n", v, S.steps, violations,
		S.preemptions, S.diverged);
	for (unsigned int i = 0; i < S.nr; i++)
		fprintf(f, "T %u %s\n", i, S.th[i].name);
	fputs("D", f);
	for (size_t i = 0; i < S.nr_dec; i++)
		fprintf(f, " %d", S.dec[i].choice);
	fputs("\nR", f);
	for (size_t i = 0; i < S.nr_dec; i++) {
		const struct decision *d = &S.dec[i];

		fprintf(f, " %llx:", (unsigned long long)d->mask);
		if (d->self >= 0)
			fprintf(f, "%d", d->self);
		else
			fputc('-', f);
		fprintf(f, ":%d:%lu", d->cur, d->points);
	}
	fputs("\n", f);
	for (size_t i = 0; i < S.nr_ev; i++)
		fprintf(f, "E %lu %d %d %s\n", S.ev[i].step, S.ev[i].thread,
			S.ev[i].kind, S.ev[i].text);
	for (unsigned long i = 0; (cv = check_violation(i)); i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);

		check_print(m, cv);
		fclose(m);
		for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
			fprintf(f, "M %s\n", l);
		free(buf);
	}
	fputs("END\n", f);
	fflush(f);
	/* No exit handlers: other threads may still be parked mid-run. */
	_exit(0);
}

static __attribute__((noreturn)) void deadlock(void)
{
	char text[64];

	for (unsigned int i = 0; i < S.nr; i++) {
		struct ethread *t = &S.th[i];

		if (t->state == ET_DONE)
			continue;
		snprintf(text, sizeof(text), "deadlock: T%u %s %s", i, t->name,
			 t->state == ET_BLOCKED ? "blocked" : "spins");
		record(TR_NOTE, text);
	}
	child_finish(EXPLORE_DEADLOCK, 0);
}

/* --- switching --------------------------------------------------------- */

static void token_give(struct ethread *t)
{
	/* Pairs with the acquire in token_take(). */
	__tsan_release(&t->token);
	__atomic_store_n(&t->token, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &t->token, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void token_take(struct ethread *t)
{
	/* Pairs with the release store in token_give(). */
	while (!__atomic_load_n(&t->token, __ATOMIC_ACQUIRE))
		syscall(SYS_futex, &t->token, FUTEX_WAIT_PRIVATE, 0, NULL, NULL,
			0);
	__tsan_acquire(&t->token);
	/* Only we clear it, and nobody gives it again before we pass it. */
	__atomic_store_n(&t->token, 0, __ATOMIC_RELAXED);
}

/* The forced decision for this point, or -1 once the list is used up. */
static int forced_pick(const int *run, int n, int dflt)
{
	int c;

	if (S.forced_pos >= S.p->nr_forced)
		return S.p->strategy == EXPLORE_DFS ? dflt : -1;
	c = S.p->forced[S.forced_pos++];
	for (int i = 0; i < n; i++)
		if (run[i] == c)
			return c;
	return -1;
}

/* The planned choice for @cur's decision here, else @dflt. */
static int plan_pick(const struct ethread *cur, int self_in, const int *run,
		     int n, int dflt)
{
	for (size_t k = 0; k < S.p->nr_plan; k++) {
		const struct explore_plan *e = &S.p->plan[k];

		if (e->cur != et_index(cur) || e->points != cur->points ||
		    e->runnable != (self_in >= 0))
			continue;
		for (int i = 0; i < n; i++)
			if (run[i] == e->choice)
				return e->choice;
	}
	return dflt;
}

/* Remember decision @c among the runnable @run, taken when @cur asked. */
static void record_decision(int c, const int *run, int n, int self_in,
			    const struct ethread *cur)
{
	struct decision *d;

	S.dec = grow(S.dec, &S.cap_dec, S.nr_dec + 1, sizeof(*S.dec));
	d = &S.dec[S.nr_dec++];
	*d = (struct decision){ .choice = c,
				.self = (signed char)self_in,
				.cur = (signed char)et_index(cur),
				.points = cur->points };
	for (int i = 0; i < n; i++)
		d->mask |= 1ULL << run[i];
}

/*
 * Pick who runs next after @cur's step (@cur may have blocked, started
 * spinning or exited); record the decision when there was a choice.
 */
static struct ethread *pick(struct ethread *cur)
{
	int run[EXPLORE_MAX_THREADS], n = 0, c, self_in = -1, dflt;

	for (unsigned int i = 0; i < S.nr; i++)
		if (S.th[i].state == ET_RUNNABLE && !S.th[i].spinning)
			run[n++] = (int)i;
	if (!n)
		return NULL;
	if (n == 1)
		return &S.th[run[0]];
	for (int i = 0; i < n; i++)
		if (run[i] == et_index(cur))
			self_in = run[i];
	/* The default: never preempt (what DFS continues with). */
	dflt = self_in >= 0 ? self_in : run[0];
	if (S.p->plan) {
		c = plan_pick(cur, self_in, run, n, dflt);
	} else if (S.p->forced) {
		c = forced_pick(run, n, dflt);
		if (c < 0) {
			S.diverged = true;
			c = S.p->strategy == EXPLORE_DFS ? dflt : run[0];
		}
	} else {
		/* PCT's steps are these decision points (see strategy.c). */
		strategy_step(&S.strat, S.nr_dec + 1, et_index(cur));
		c = strategy_pick(&S.strat, run, n, et_index(cur));
	}
	record_decision(c, run, n, self_in, cur);
	/* Only a thread that could have gone on is preempted. */
	if (self_in >= 0 && c != self_in)
		S.preemptions++;
	return &S.th[c];
}

/* @self gives up the CPU (it may stay runnable) and waits for its turn. */
static void switch_from(struct ethread *self)
{
	struct ethread *next = pick(self);

	if (!next)
		deadlock();
	if (next == self)
		return;
	token_give(next);
	token_take(self);
}

/* A non-spin step by @self: every spinner may have something new to see. */
static void progress(struct ethread *self)
{
	for (unsigned int i = 0; i < S.nr; i++)
		if (&S.th[i] != self)
			S.th[i].spinning = false;
}

static void explore_sched_point(enum sched_point_kind kind, const void *obj)
{
	struct ethread *self = me;

	(void)obj;
	if (!self || self->state != ET_RUNNABLE)
		return;
	self->points++;
	if (++S.steps > S.p->max_steps)
		child_finish(EXPLORE_STEP_LIMIT, 0);
	if (kind == SP_SPIN) {
		self->spinning = true;
		strategy_spin(&S.strat, et_index(self));
	} else {
		progress(self);
	}
	switch_from(self);
	self->spinning = false;
}

/* --- blocking ---------------------------------------------------------- */

static bool explore_futex_wait(u32 *word, u32 seen)
{
	struct ethread *self = me;

	if (!self || self->state != ET_RUNNABLE)
		return false;
	/* Atomic with respect to wakers: only we run. */
	if (READ_ONCE(*word) != seen)
		return true;
	self->state = ET_BLOCKED;
	self->wait_word = word;
	switch_from(self);
	return true;
}

static bool explore_futex_wake(u32 *word, int nr)
{
	struct ethread *self = me;

	if (!self || self->state != ET_RUNNABLE)
		return false;
	/* Lowest index first: a fixed rule keeps replays exact. */
	for (unsigned int i = 0; i < S.nr && nr > 0; i++) {
		struct ethread *t = &S.th[i];

		if (t->state == ET_BLOCKED && t->wait_word == word) {
			t->state = ET_RUNNABLE;
			t->wait_word = NULL;
			nr--;
		}
	}
	return true;
}

/* --- threads ----------------------------------------------------------- */

static struct ethread *et_new(struct task_struct *task)
{
	struct ethread *t;

	BUG_ON(S.nr == EXPLORE_MAX_THREADS);
	t = &S.th[S.nr++];
	memset(t, 0, sizeof(*t));
	t->task = task;
	t->state = ET_RUNNABLE;
	snprintf(t->name, sizeof(t->name), "%s", task->comm);
	strategy_thread_new(&S.strat, et_index(t));
	return t;
}

static void explore_kthread_prepare(struct task_struct *task)
{
	if (!me)
		return;
	task->explore = et_new(task);
	progress(me);
}

static void explore_kthread_created(struct task_struct *task, bool ok)
{
	struct ethread *t = task->explore;

	if (t && !ok)
		t->state = ET_DONE;
}

static void et_attach(struct ethread *t)
{
	me = t;
	t->rcu_nesting = &__rcu_read_nesting;
	t->rcu_sections = &__rcu_explore_sections;
}

static void explore_kthread_hook(enum kthread_event ev,
				 struct task_struct *task)
{
	struct ethread *t = task->explore, *next;

	if (!t)
		return;
	if (ev == KTHREAD_START) {
		token_take(t);
		et_attach(t);
		record(TR_NOTE, "thread start");
		return;
	}
	record(TR_NOTE, "thread exit");
	/*
	 * Publish the exit ourselves while we still hold the token, so the
	 * joiner's wake-up is a scheduled step; kthread_main() repeats the
	 * store and wake after us, harmlessly, as an uncontrolled thread.
	 */
	smp_store_release(&task->exited, 1);
	explore_futex_wake(&task->exited, INT32_MAX);
	progress(t);
	t->state = ET_DONE;
	t->rcu_nesting = NULL;
	t->rcu_sections = NULL;
	me = NULL;
	next = pick(t);

	if (!next)
		deadlock();
	token_give(next);
}

/* --- RCU grace period -------------------------------------------------- */

static void explore_rcu_gp_wait(void)
{
	unsigned long snap[EXPLORE_MAX_THREADS];
	bool in[EXPLORE_MAX_THREADS];
	unsigned int n = S.nr;

	for (unsigned int i = 0; i < n; i++) {
		struct ethread *t = &S.th[i];

		in[i] = t != me && t->rcu_nesting && *t->rcu_nesting;
		snap[i] = in[i] ? *t->rcu_sections : 0;
	}
	for (;;) {
		bool wait = false;

		for (unsigned int i = 0; i < n; i++) {
			struct ethread *t = &S.th[i];

			/* Left (nesting 0 or a new section) or exited. */
			if (in[i] && t->rcu_nesting && *t->rcu_nesting &&
			    *t->rcu_sections == snap[i])
				wait = true;
		}
		if (!wait)
			return;
		sched_point(SP_SPIN, &S);
	}
}

static const struct base_explore_ops explore_ops = {
	.futex_wait = explore_futex_wait,
	.futex_wake = explore_futex_wake,
	.kthread_prepare = explore_kthread_prepare,
	.kthread_created = explore_kthread_created,
	.rcu_gp_wait = explore_rcu_gp_wait,
};

/* --- the child --------------------------------------------------------- */

void explore_child_main(const struct explore_scenario *s,
			const struct explore_params *p, int fd)
{
	unsigned long violations, warns = mm_warn_count();
	void *ctx = NULL;
	int err;

	S.p = p;
	S.out = fdopen(fd, "w");
	BUG_ON(!S.out);
	strategy_init(&S.strat, p);
	check_reset();
	check_set_output(NULL);
	check_enable();

	et_attach(et_new(current()));
	snprintf(S.th[0].name, sizeof(S.th[0].name), "main");
	trace_set_sink(explore_sink);
	kthread_set_hook(explore_kthread_hook);
	base_explore_set(&explore_ops);
	sched_point_set_hook(explore_sched_point);

	err = s->setup ? s->setup(&ctx) : 0;
	if (err) {
		record(TR_NOTE, "setup failed");
		child_finish(EXPLORE_CRASH, 0);
	}
	s->run(ctx);
	if (s->teardown)
		s->teardown(ctx);
	rcu_explore_flush();
	violations = check_finish() + S.fails;
	/*
	 * A WARN is a bug the code caught itself (a retry bound hit, a
	 * count gone wrong): the schedule is bad even if no contract was
	 * broken.  It has no verdict of its own; it ends like a crash.
	 */
	if (!violations && mm_warn_count() != warns) {
		record(TR_NOTE, "WARN fired (see stderr)");
		child_finish(EXPLORE_CRASH, 0);
	}
	child_finish(violations ? EXPLORE_VIOLATION : EXPLORE_OK, violations);
}
