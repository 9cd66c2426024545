// SPDX-License-Identifier: MIT
/*
 * report.c - recording, counting and printing violations.
 *
 * A violation is built completely (including the lines of the event log
 * that concern its va, read under that mm's lock) before report_lock is
 * taken; under report_lock it is only counted and, if there is room,
 * copied into recorded[].  Printing happens after the unlock, from the
 * caller's copy.  recorded[i] is written once (under the lock) before
 * nr_recorded covers it (release store), so check_violation() readers
 * that acquire nr_recorded see a complete entry.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <mmirror/kthread.h>
#include "base/trace.h"
#include "internal.h"

static DEFINE_SPINLOCK(report_lock);
static struct check_violation recorded[CHECK_MAX_RECORDED];
static unsigned long nr_recorded; /* release under report_lock */
static unsigned long nr_rule[CHECK_NR_RULES]; /* under report_lock */

/* NULL with output_quiet false: stderr.  WRITE_ONCE/READ_ONCE. */
static FILE *output;
static bool output_quiet;

static __thread char thread_name[32];

static const char *const rule_names[CHECK_NR_RULES] = {
	[CHECK_STALE] = "stale",
	[CHECK_USE_AFTER_FREE] = "use-after-free",
	[CHECK_PERMISSION] = "permission",
	[CHECK_LOST_WRITE] = "lost-write",
	[CHECK_PIN] = "pin",
	[CHECK_PROTOCOL] = "protocol",
};

/**
 * check_rule_name() - the short name of @rule.
 * @rule: a rule.
 *
 * Return: "stale" ... "protocol", or NULL for anything else.
 */
const char *check_rule_name(enum check_rule rule)
{
	return rule > 0 && rule < CHECK_NR_RULES ? rule_names[rule] : NULL;
}

/**
 * check_rule_by_name() - the rule called @name.
 * @name: a name as check_rule_name() gives it, or NULL.
 *
 * Return: the rule, or 0.
 */
enum check_rule check_rule_by_name(const char *name)
{
	for (int r = 1; r < CHECK_NR_RULES; r++)
		if (name && !strcmp(name, rule_names[r]))
			return r;
	return 0;
}

/**
 * check_set_thread_name() - name the calling thread in reports.
 * @name: the name (truncated to 31 characters); NULL or "" forgets it.
 *
 * Context: any; the name is thread-local.
 */
void check_set_thread_name(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name ? name : "");
}

void check_thread_name(char *buf, size_t len)
{
	struct task_struct *t;

	if (thread_name[0]) {
		snprintf(buf, len, "%s", thread_name);
		return;
	}
	t = current();
	if (t->flags & PF_KTHREAD)
		snprintf(buf, len, "%s", t->comm);
	else if (t->pid == 0)
		snprintf(buf, len, "main");
	else
		snprintf(buf, len, "tid %d", t->pid);
}

/**
 * check_set_output() - where reports are printed.
 * @out: a stream, or NULL for silence (recording goes on).
 *
 * Context: any.
 */
void check_set_output(FILE *out)
{
	/* Read by READ_ONCE in check_output(). */
	WRITE_ONCE(output, out);
	WRITE_ONCE(output_quiet, out == NULL);
}

static FILE *check_output(void)
{
	/* Pairs with the WRITE_ONCEs in check_set_output(). */
	if (READ_ONCE(output_quiet))
		return NULL;
	return READ_ONCE(output) ? READ_ONCE(output) : stderr;
}

/* Count @v and keep a copy if there is room. */
static void check_record(const struct check_violation *v)
{
	unsigned long n;

	spin_lock(&report_lock);
	nr_rule[v->rule]++;
	n = nr_recorded;
	if (n < CHECK_MAX_RECORDED) {
		recorded[n] = *v;
		/* Pairs with the acquire in check_violation(). */
		smp_store_release(&nr_recorded, n + 1);
	}
	spin_unlock(&report_lock);
}

/* Build, record and print one violation; @events: NULL for @mm's. */
__attribute__((format(printf, 7, 0))) static void
check_vreport(enum check_rule rule, struct mm_struct *mm, unsigned long va,
	      unsigned long pfn, const char *device, const char *events,
	      const char *fmt, va_list ap)
{
	struct check_violation *v = calloc(1, sizeof(*v));
	char where[64] = "";
	FILE *out;

	/* The diagram marks this row: rule, va, frame (those it is about)
	 * and device. */
	if (va || pfn != ~0UL)
		snprintf(where, sizeof(where), " va %#lx pfn %#lx", va, pfn);
	trace_event(TR_VIOLATION, "VIOLATION %s%s dev %s",
		    check_rule_name(rule), where, device ? device : "-");
	if (!v) {
		/* Still counted: the verdict must not depend on memory. */
		struct check_violation tiny = { .rule = rule };

		check_record(&tiny);
		return;
	}
	v->rule = rule;
	v->mm = mm;
	v->va = va;
	v->pfn = pfn;
	snprintf(v->device, sizeof(v->device), "%s", device);
	check_thread_name(v->thread, sizeof(v->thread));
	vsnprintf(v->what, sizeof(v->what), fmt, ap);
	if (events)
		snprintf(v->events, sizeof(v->events), "%s", events);
	else if (mm)
		check_mm_format_events(mm, va, v->events, sizeof(v->events));
	check_record(v);
	out = check_output();
	if (out)
		check_print(out, v);
	free(v);
}

/**
 * check_report() - record a violation and print it.
 * @rule: the rule broken.
 * @mm: the address space, or NULL.
 * @va: the virtual address, 0 if none.
 * @pfn: the frame, ~0UL if none.
 * @device: who did it: a device name, "cpu", "gup-fast" or "host".
 * @fmt: printf format of the one-line "what".
 *
 * Context: no oracle lock held (takes @mm's state lock for the events,
 * then report_lock).  Never sleeps.
 */
void check_report(enum check_rule rule, struct mm_struct *mm, unsigned long va,
		  unsigned long pfn, const char *device, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	check_vreport(rule, mm, va, pfn, device, NULL, fmt, ap);
	va_end(ap);
}

/**
 * check_report_events() - record and print a violation that is not about
 * an mm, with the event lines its caller gathered.
 * @rule: the rule broken.
 * @events: the lines ("  #seq thread: ...\n", oldest first), or NULL.
 * @device: who or what it is about (an object's type).
 * @fmt: printf format of the one-line "what".
 *
 * Context: no oracle lock held (takes report_lock).  Never sleeps.
 */
void check_report_events(enum check_rule rule, const char *events,
			 const char *device, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	check_vreport(rule, NULL, 0, ~0UL, device, events ? events : "", fmt,
		      ap);
	va_end(ap);
}

/**
 * check_nr_violations() - violations since the last check_reset().
 * @rule: one rule, or 0 for all.
 *
 * Return: the count (every violation counts, recorded or not).
 */
unsigned long check_nr_violations(enum check_rule rule)
{
	unsigned long n = 0;

	if ((unsigned int)rule >= CHECK_NR_RULES)
		return 0;
	spin_lock(&report_lock);
	for (int r = 1; r < CHECK_NR_RULES; r++)
		if (!rule || r == (int)rule)
			n += nr_rule[r];
	spin_unlock(&report_lock);
	return n;
}

/**
 * check_violation() - the @i-th recorded violation.
 * @i: 0-based index.
 *
 * Return: the violation (valid until check_reset()), or NULL.
 */
const struct check_violation *check_violation(unsigned long i)
{
	/* Pairs with smp_store_release() in check_record(). */
	if (i >= smp_load_acquire(&nr_recorded))
		return NULL;
	return &recorded[i];
}

/**
 * check_print() - print @v as the oracle does.
 * @out: the stream.
 * @v: a violation.
 *
 * Context: any; one fprintf per report so that concurrent reports do
 * not interleave line by line.
 */
void check_print(FILE *out, const struct check_violation *v)
{
	char mm[32] = "-", va[32] = "-", pfn[32] = "-";

	if (!out || !v)
		return;
	if (v->mm)
		snprintf(mm, sizeof(mm), "%p", (void *)v->mm);
	if (v->va)
		snprintf(va, sizeof(va), "%#lx", v->va);
	if (v->pfn != ~0UL)
		snprintf(pfn, sizeof(pfn), "%#lx", v->pfn);
	fprintf(out,
		"==== mmirror oracle: %s violation ====\n"
		"  %s\n"
		"  device %s, thread %s, mm %s, va %s, pfn %s\n"
		"%s%s",
		check_rule_name(v->rule) ? check_rule_name(v->rule) : "?",
		v->what, v->device, v->thread, mm, va, pfn,
		v->events[0] ? "  events (oldest first):\n" : "", v->events);
}

void check_report_reset(void)
{
	spin_lock(&report_lock);
	memset(nr_rule, 0, sizeof(nr_rule));
	WRITE_ONCE(nr_recorded, 0);
	spin_unlock(&report_lock);
}
