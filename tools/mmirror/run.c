// SPDX-License-Identifier: MIT
/*
 * run.c - the interpreter: blocks, loops, parallel threads, reporting,
 * and the life of a run under the coherence oracle.
 *
 * A parallel block starts one kthread per thread block, all held at a
 * start gate (a completion) so they begin together, and joins them all.
 * A `loop` thread repeats its body until every other thread of the block
 * has finished (at least once), which gives "a device keeps working
 * while the CPU storms" without guessing a duration.
 *
 * The run:  check_reset/check_enable -> statements -> statistics ->
 * teardown of everything made -> check_finish -> verdict.  Teardown runs
 * whatever happened before it, so a failed run still gives every frame
 * back; the frame count is compared before and after.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mmirror/check.h>
#include <mmirror/completion.h>
#include <mmirror/kthread.h>
#include <mmirror/page.h>
#include <mmirror/rcupdate.h>
#include <mmirror/swap.h>
#include "run_int.h"

/* Failures of one statement printed in full; the rest are counted. */
#define SCN_REPORT_FIRST 3

u64 scn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A progress line a second once a run passes 2 s, if asked for. */
static void progress(struct scn_ctx *c)
{
	long next = atomic_long_read(&c->next_progress);
	u64 now = scn_now_ns();

	if (now < (u64)next || atomic_long_cmpxchg(&c->next_progress, next,
						   now + 1000000000ULL) != next)
		return; /* not yet, or another thread prints this one */
	fprintf(stderr, "mmirror: %s: %.0f s, %ld operations, %ld failed\n",
		c->scn->file, (now - c->t0) / 1e9, atomic_long_read(&c->ops),
		atomic_long_read(&c->failures));
}

void scn_outcome(struct scn_tctx *t, struct scn_stmt *s, bool ok,
		 const char *fmt, ...)
{
	struct scn_ctx *c = t->c;
	long nth = 0;
	va_list ap;

	atomic_long_inc(&c->ops);
	if (!ok) {
		atomic_long_inc(&c->failures);
		nth = atomic_long_inc_return(&s->failures);
	}
	if (c->opts->progress)
		progress(c);
	if (ok ? !c->opts->verbose : c->opts->quiet || nth > SCN_REPORT_FIRST)
		return;
	/* One fprintf per line: stdio locks the stream, lines of
	 * concurrent threads do not mix. */
	{
		char *msg = NULL;
		size_t n = 0;
		FILE *m = open_memstream(&msg, &n);

		if (!m)
			return;
		va_start(ap, fmt);
		vfprintf(m, fmt, ap);
		va_end(ap);
		fclose(m);
		fprintf(c->out, "%s:%d: [%s] %s -> %s%s\n", c->scn->file,
			s->line, t->thread, s->text, msg, ok ? "" : "  FAILED");
		free(msg);
	}
}

static bool exec_block(struct scn_tctx *t, struct scn_block *b);

struct par_thread {
	struct scn_tctx t;
	struct scn_stmt *s;
	struct completion *go;
	atomic_t *busy; /* threads of the block not `loop` still running */
	struct task_struct *task;
};

static int par_fn(void *data)
{
	struct par_thread *pt = data;

	check_set_thread_name(pt->t.thread);
	wait_for_completion(pt->go);
	if (!pt->s->flag) {
		exec_block(&pt->t, &pt->s->body);
		atomic_dec(pt->busy);
		return 0;
	}
	do
		exec_block(&pt->t, &pt->s->body);
	while (atomic_read(pt->busy) > 0);
	return 0;
}

static bool exec_parallel(struct scn_tctx *t, struct scn_stmt *s)
{
	struct par_thread *pt = calloc(s->body.n, sizeof(*pt));
	struct completion go;
	atomic_t busy = ATOMIC_INIT(0);
	size_t i;
	bool ok = true;

	if (!pt) {
		scn_outcome(t, s, false, "out of memory");
		return false;
	}
	init_completion(&go);
	for (i = 0; i < s->body.n; i++)
		if (!s->body.v[i]->flag)
			atomic_inc(&busy);
	for (i = 0; i < s->body.n; i++) {
		pt[i] = (struct par_thread){ { t->c, s->body.v[i]->obj2->name },
					     s->body.v[i],
					     &go,
					     &busy,
					     NULL };
		pt[i].task = kthread_run(par_fn, &pt[i], "%s", pt[i].t.thread);
		if (IS_ERR(pt[i].task)) {
			scn_outcome(t, s, false, "cannot start thread %s: %ld",
				    pt[i].t.thread, PTR_ERR(pt[i].task));
			pt[i].task = NULL;
			ok = false;
			break;
		}
	}
	/* If a thread could not start, the others still run to the end
	 * (loop threads need busy to drop): run its share as done. */
	for (; i < s->body.n; i++)
		if (!s->body.v[i]->flag)
			atomic_dec(&busy);
	complete_all(&go);
	for (i = 0; i < s->body.n; i++)
		if (pt[i].task)
			kthread_join(pt[i].task);
	free(pt);
	return ok;
}

static bool exec_stmt(struct scn_tctx *t, struct scn_stmt *s)
{
	u64 i, until;

	switch (s->op) {
	case OP_REPEAT:
		for (i = 0; i < s->arg; i++)
			if (!exec_block(t, &s->body))
				return false;
		return true;
	case OP_FOR:
		until = scn_now_ns() + s->arg;
		do
			if (!exec_block(t, &s->body))
				return false;
		while (scn_now_ns() < until);
		return true;
	case OP_PARALLEL:
		return exec_parallel(t, s);
	default:
		return scn_exec_op(t, s);
	}
}

static bool exec_block(struct scn_tctx *t, struct scn_block *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (!exec_stmt(t, b->v[i]))
			return false;
	return true;
}

static void reset_state(struct scn_block *b)
{
	for (size_t i = 0; i < b->n; i++) {
		atomic_long_set(&b->v[i]->failures, 0);
		reset_state(&b->v[i]->body);
	}
}

/* Statements that failed, with how often, in source order. */
static unsigned long list_failures(FILE *out, struct scn_block *b)
{
	unsigned long n = 0;

	for (size_t i = 0; i < b->n; i++) {
		long f = atomic_long_read(&b->v[i]->failures);

		if (f)
			fprintf(out, "  line %d: %s: failed %ld time%s\n",
				b->v[i]->line, b->v[i]->text, f,
				f == 1 ? "" : "s");
		n += f;
		n += list_failures(out, &b->v[i]->body);
	}
	return n;
}

/* The oracle's verdict against the `expect violation(s)` statements. */
static bool verdict(struct scn_ctx *c, unsigned long nv)
{
	struct scenario *scn = c->scn;
	const struct check_violation *v;
	bool ok = true;
	int r;

	if (!nv)
		fprintf(c->out, "oracle: no violations\n");
	else
		fprintf(c->out, "oracle: %lu violation%s\n", nv,
			nv == 1 ? "" : "s");
	for (r = 1; r < CHECK_NR_RULES; r++) {
		unsigned long k = check_nr_violations(r);
		bool want = scn->expected_rules & (1u << r);

		if (k || want)
			fprintf(c->out, "  %-15s %lu%s\n", check_rule_name(r),
				k,
				want ? (k ? "  (expected)" :
					    "  EXPECTED, NONE SEEN") :
				       "  UNEXPECTED");
		ok &= want ? k > 0 : k == 0;
	}
	for (unsigned long i = 0; (v = check_violation(i)); i++)
		check_print(c->out, v);
	if (nv > CHECK_MAX_RECORDED)
		fprintf(c->out, "  (the first %d reports are shown)\n",
			CHECK_MAX_RECORDED);
	return ok;
}

int scn_run(struct scenario *scn, const struct scn_opts *opts, FILE *out)
{
	struct scn_ctx c = { .scn = scn, .opts = opts, .out = out };
	struct scn_tctx t = { &c, "main" };
	unsigned long free_before, nv, nfail;
	bool ok;

	for (size_t i = 0; i < scn->nobjs; i++) {
		struct scn_obj *o = scn->objs[i];

		o->mm = NULL;
		o->dev = o->dev2 = NULL;
		o->base = o->len = o->scanned = o->referenced = 0;
	}
	reset_state(&scn->top);
	atomic_long_set(&c.ops, 0);
	atomic_long_set(&c.failures, 0);
	c.t0 = scn_now_ns();
	atomic_long_set(&c.next_progress, c.t0 + 2000000000ULL);
	/* The frame arena is made by the first allocation: make it now, so
	 * the count before the run is the real one. */
	__free_page(alloc_page(GFP_KERNEL));
	free_before = nr_free_pages();
	check_reset();
	check_set_output(NULL); /* reports are printed with the verdict */
	check_enable();

	ok = exec_block(&t, &scn->top);
	fprintf(out, "%s: %s after %ld operations in %.2f s\n", scn->file,
		ok ? "ran to the end" : "STOPPED", atomic_long_read(&c.ops),
		(scn_now_ns() - c.t0) / 1e9);
	fprintf(out, "devices:\n");
	scn_print_stats(out, scn);
	scn_teardown(scn);
	vm_set_frame_limit(0); /* a `pressure` ends with its run */
	rcu_barrier(); /* frees deferred by the teardown */
	nv = check_finish();
	check_disable();
	check_set_output(stderr);

	ok &= verdict(&c, nv);
	if (nr_free_pages() != free_before) {
		fprintf(out, "frames: %ld not returned after teardown\n",
			(long)(free_before - nr_free_pages()));
		ok = false;
	}
	if (swap_slots_used()) {
		fprintf(out, "swap: %lu slots still used after teardown\n",
			swap_slots_used());
		ok = false;
	}
	nfail = list_failures(out, &scn->top);
	if (nfail)
		fprintf(out, "expectations: %lu failed\n", nfail);
	ok &= !nfail;
	fprintf(out, "result: %s\n", ok ? "PASS" : "FAIL");
	return ok ? SCN_EXIT_OK : SCN_EXIT_FAILED;
}
