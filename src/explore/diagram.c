// SPDX-License-Identifier: MIT
/*
 * diagram.c - the CPU-column race diagram (see diagram.h for its shape).
 *
 * Three passes over the events: select the rows (relevant kinds, locks
 * shared by two threads or more), elide long runs of one thread, then
 * size the columns and print.  Every line is built in one buffer and its
 * trailing blanks cut, so the output is stable enough to compare whole in
 * tests and to paste into docs/races.md.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "explore/diagram.h"

#define DIAGRAM_WIDTH 40
#define DIAGRAM_MARK_L "!! "
#define DIAGRAM_MARK_R " !!"
#define DIAGRAM_MARK_LEN 6

struct drow {
	const struct diagram_event *ev; /* NULL: an elision row */
	unsigned int thread;
	char *text; /* elision rows only (owned) */
};

struct dctx {
	const struct diagram_event *ev;
	size_t nr;
	const char *const *names;
	unsigned int nr_threads;
	struct diagram_opts o;
	struct drow *rows;
	size_t nr_rows;
	unsigned int *width;
	unsigned int step_width;
	char tname[16];
};

/**
 * diagram_kind_relevant() - whether events of @kind explain a race.
 * @kind: a trace kind.
 *
 * Context: any.  Locks are relevant as a kind; diagram_render() further
 * keeps only the locks two threads take.
 * Return: true for locks, notifier start/end/callbacks, PTE changes, TLB
 * flushes, faults, device maps and accesses, violations and notes.
 */
bool diagram_kind_relevant(enum trace_kind kind)
{
	return kind >= 0 && kind < TR__NR;
}

static const char *thread_name(struct dctx *c, unsigned int t)
{
	if (c->names && c->names[t])
		return c->names[t];
	snprintf(c->tname, sizeof(c->tname), "T%u", t);
	return c->tname;
}

/* ---- lock relevance: a lock matters when two threads take it ---- */

struct lock_key {
	const char *key; /* NULL: empty slot */
	size_t len;
	unsigned int thread; /* the first thread seen taking it */
	bool shared;
};

static const char *lock_name(const char *text, size_t *len)
{
	const char *sp = strchr(text, ' ');

	while (sp && *sp == ' ')
		sp++;
	if (!sp || !*sp)
		sp = text;
	*len = strlen(sp);
	return sp;
}

static struct lock_key *lock_slot(struct lock_key *tab, size_t mask,
				  const char *text)
{
	size_t len, h = 1469598103934665603ull;
	const char *k = lock_name(text, &len);

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
	for (h &= mask;; h = (h + 1) & mask) {
		struct lock_key *s = &tab[h];

		if (!s->key || (s->len == len && !memcmp(s->key, k, len))) {
			s->key = k;
			s->len = len;
			return s;
		}
	}
}

static bool is_lock(const struct diagram_event *e)
{
	return e->kind == TR_LOCK || e->kind == TR_UNLOCK;
}

/* Fill @tab with every lock and whether two threads take it. */
static void lock_scan(struct dctx *c, struct lock_key *tab, size_t mask)
{
	for (size_t i = 0; i < c->nr; i++) {
		const struct diagram_event *e = &c->ev[i];
		struct lock_key *s;

		if (!is_lock(e))
			continue;
		s = lock_slot(tab, mask, e->text);
		/* thread is stored +1 so that 0 means "none yet" */
		if (!s->shared && s->thread != e->thread + 1) {
			if (s->thread)
				s->shared = true;
			else
				s->thread = e->thread + 1;
		}
	}
}

static bool keep_event(struct dctx *c, const struct diagram_event *e,
		       struct lock_key *tab, size_t mask)
{
	if (e->marked || !c->o.relevant_only)
		return true;
	if (!diagram_kind_relevant(e->kind))
		return false;
	return !is_lock(e) || lock_slot(tab, mask, e->text)->shared;
}

/* ---- row selection and elision ---- */

static int add_row(struct dctx *c, const struct diagram_event *e,
		   unsigned int thread, size_t hidden)
{
	struct drow *r = &c->rows[c->nr_rows];

	r->ev = e;
	r->thread = thread;
	r->text = NULL;
	if (!e) {
		const char *n = thread_name(c, thread);
		size_t len = strlen(n) + 48;

		r->text = malloc(len);
		if (!r->text)
			return -ENOMEM;
		snprintf(r->text, len, "... %zu more steps of %s ...", hidden,
			 n);
	}
	c->nr_rows++;
	return 0;
}

/*
 * Rows elision never hides: the marked row, and every event a race is
 * told by (notifier start/started/end and callbacks, PTE writes, TLB
 * flushes, faults, device maps and accesses).  Only lock/unlock and note
 * rows fold away: a long run of them is bookkeeping, while a missing
 * inv_start or PTE row would hide the race itself.
 */
static bool row_pinned(const struct diagram_event *e)
{
	return e->marked || (e->kind != TR_LOCK && e->kind != TR_UNLOCK &&
			     e->kind != TR_NOTE);
}

/* Rows for the run @sel[0..n) of one thread, eliding its middle. */
static int add_run(struct dctx *c, const struct diagram_event **sel, size_t n)
{
	size_t max = c->o.max_run < 3 ? 3 : c->o.max_run;
	size_t head = max / 2, tail = max - head - 1, i = 0;
	unsigned int t = sel[0]->thread;
	int ret = 0;

	if (!c->o.max_run || n <= max)
		head = n;
	while (i < n && !ret) {
		size_t j = i;

		/* a hidden span: neither head, tail nor pinned */
		while (j < n && j >= head && j < n - tail &&
		       !row_pinned(sel[j]))
			j++;
		if (j - i >= 2) {
			ret = add_row(c, NULL, t, j - i);
			i = j;
		} else {
			ret = add_row(c, sel[i], t, 0);
			i++;
		}
	}
	return ret;
}

static int build_rows(struct dctx *c, const struct diagram_event **sel,
		      size_t nsel)
{
	size_t start = 0;
	int ret = 0;

	/* an elision row never outnumbers the rows it replaces */
	c->rows = calloc(nsel ? nsel : 1, sizeof(*c->rows));
	if (!c->rows)
		return -ENOMEM;
	for (size_t i = 1; i <= nsel && !ret; i++) {
		if (i < nsel && sel[i]->thread == sel[start]->thread)
			continue;
		ret = add_run(c, sel + start, i - start);
		start = i;
	}
	return ret;
}

static int select_rows(struct dctx *c)
{
	const struct diagram_event **sel;
	struct lock_key *tab;
	size_t nsel = 0, mask = 1;
	int ret;

	while (mask < 2 * c->nr + 2)
		mask <<= 1;
	tab = calloc(mask, sizeof(*tab));
	sel = calloc(c->nr ? c->nr : 1, sizeof(*sel));
	ret = -ENOMEM;
	if (tab && sel) {
		mask--;
		if (c->o.relevant_only)
			lock_scan(c, tab, mask);
		for (size_t i = 0; i < c->nr; i++)
			if (keep_event(c, &c->ev[i], tab, mask))
				sel[nsel++] = &c->ev[i];
		ret = build_rows(c, sel, nsel);
	}
	free(tab);
	free(sel);
	return ret;
}

/* ---- layout and printing ---- */

static const char *row_text(const struct drow *r)
{
	return r->ev ? r->ev->text : r->text;
}

static bool row_marked(const struct drow *r)
{
	return r->ev && r->ev->marked;
}

static void size_columns(struct dctx *c)
{
	unsigned long max_step = 0;

	for (unsigned int t = 0; t < c->nr_threads; t++)
		c->width[t] = strlen(thread_name(c, t));
	for (size_t i = 0; i < c->nr_rows; i++) {
		const struct drow *r = &c->rows[i];
		size_t len = strlen(row_text(r));

		if (row_marked(r))
			len += DIAGRAM_MARK_LEN;
		if (len > c->o.max_width)
			len = c->o.max_width;
		if (len > c->width[r->thread])
			c->width[r->thread] = len;
		if (r->ev && r->ev->step > max_step)
			max_step = r->ev->step;
	}
	c->step_width = snprintf(NULL, 0, "%lu", max_step);
	if (c->step_width < 4)
		c->step_width = 4;
}

/* Print @line (trailing blanks cut) and a newline. */
static void put_line(FILE *out, char *line, size_t len)
{
	while (len && line[len - 1] == ' ')
		len--;
	fwrite(line, 1, len, out);
	fputc('\n', out);
}

/*
 * Lay one line out in @buf: @margin, @step (may be ""), then @cell in
 * column @col (NULL: a header-less blank line) and blanks elsewhere.
 */
static size_t layout(struct dctx *c, char *buf, const char *margin,
		     const char *step, unsigned int col, const char *cell,
		     size_t cell_len)
{
	size_t n = sprintf(buf, "%-3s%*s  ", margin, c->step_width, step);

	for (unsigned int t = 0; t < c->nr_threads; t++) {
		size_t w = c->width[t];

		if (t)
			n += sprintf(buf + n, " | ");
		memset(buf + n, ' ', w);
		if (t == col)
			memcpy(buf + n, cell, cell_len);
		n += w;
	}
	return n;
}

/*
 * The next line of @s (at most @w characters): break at the last blank
 * if one lies past a third of the width, else mid-word; *@skip is 1
 * when the blank is to be skipped.
 */
static size_t wrap_next(const char *s, size_t w, size_t *skip)
{
	size_t len = strlen(s), cut;

	*skip = 0;
	if (len <= w)
		return len;
	for (cut = w; cut > w / 3 && s[cut] != ' '; cut--)
		;
	if (cut <= w / 3)
		return w;
	*skip = 1;
	return cut;
}

/*
 * Cut @s (the rest of a too-long cell) to the last allowed line of width
 * @w, ending "..." and keeping the closing mark of a marked row.
 */
static size_t cut_line(char *s, size_t w, bool marked)
{
	const char *rm = marked ? DIAGRAM_MARK_R : "";
	size_t keep = w - 3 - strlen(rm);

	return sprintf(s + keep, "...%s", rm) + keep;
}

static void print_row(struct dctx *c, FILE *out, char *buf, char *cell,
		      const struct drow *r)
{
	const char *margin = row_marked(r) ? ">>" : "";
	size_t w = c->width[r->thread], lines = 0, n, len, skip;
	char step[24] = "", *s = cell;

	if (r->ev)
		snprintf(step, sizeof(step), "%lu", r->ev->step);
	do {
		len = wrap_next(s, w, &skip);
		if (c->o.max_lines && ++lines == c->o.max_lines &&
		    s[len + skip]) {
			len = cut_line(s, w, row_marked(r));
			skip = 0;
		}
		n = layout(c, buf, margin, step, r->thread, s, len);
		put_line(out, buf, n);
		s += len + skip;
		margin = "";
		step[0] = '\0';
	} while (*s && (!c->o.max_lines || lines < c->o.max_lines));
}

/* The decorated, printable text of @r in @cell. */
static void cell_text(const struct drow *r, char *cell, size_t size)
{
	snprintf(cell, size, "%s%s%s", row_marked(r) ? DIAGRAM_MARK_L : "",
		 row_text(r), row_marked(r) ? DIAGRAM_MARK_R : "");
	for (char *p = cell; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = ' ';
}

static void print_header(struct dctx *c, FILE *out, char *buf)
{
	size_t n = sprintf(buf, "%-3s%*s  ", "", c->step_width, "step");

	for (unsigned int t = 0; t < c->nr_threads; t++)
		n += sprintf(buf + n, "%s%-*s", t ? " | " : "", c->width[t],
			     thread_name(c, t));
	put_line(out, buf, n);
	n = sprintf(buf, "%-3s%.*s  ", "", c->step_width, "----------");
	for (unsigned int t = 0; t < c->nr_threads; t++) {
		n += sprintf(buf + n, "%s", t ? " | " : "");
		memset(buf + n, '-', c->width[t]);
		n += c->width[t];
	}
	put_line(out, buf, n);
}

static int print_all(struct dctx *c, FILE *out)
{
	size_t line = 3 + c->step_width + 2, cmax = 0;
	char *buf, *cell;

	for (unsigned int t = 0; t < c->nr_threads; t++)
		line += c->width[t] + 3;
	for (size_t i = 0; i < c->nr_rows; i++) {
		size_t len = strlen(row_text(&c->rows[i]));

		cmax = len > cmax ? len : cmax;
	}
	buf = malloc(line + 1);
	cell = malloc(cmax + DIAGRAM_MARK_LEN + 1);
	if (!buf || !cell) {
		free(buf);
		free(cell);
		return -ENOMEM;
	}
	print_header(c, out, buf);
	for (size_t i = 0; i < c->nr_rows; i++) {
		cell_text(&c->rows[i], cell, cmax + DIAGRAM_MARK_LEN + 1);
		print_row(c, out, buf, cell, &c->rows[i]);
	}
	free(buf);
	free(cell);
	return 0;
}

static void free_rows(struct dctx *c)
{
	for (size_t i = 0; i < c->nr_rows; i++)
		free(c->rows[i].text);
	free(c->rows);
}

/**
 * diagram_render() - print the CPU-column diagram of a trace.
 * @out: where to print.
 * @ev: the events in the order they happened; @nr of them.
 * @names: a name per thread (NULL, or a NULL entry: "T<index>").
 * @nr_threads: columns; every @ev[i].thread must be below it.
 * @opts: filtering, elision and widths (NULL: everything, 40 columns).
 *
 * Context: any; allocates (never sleeps otherwise), keeps no state.
 * Return: 0, -EINVAL for a thread index out of range or missing arrays,
 * -ENOMEM (nothing printed then).
 */
int diagram_render(FILE *out, const struct diagram_event *ev, size_t nr,
		   const char *const *names, unsigned int nr_threads,
		   const struct diagram_opts *opts)
{
	struct dctx c = {
		.ev = ev, .nr = nr, .names = names, .nr_threads = nr_threads
	};
	int ret;

	if (!out || (nr && !ev) || !nr_threads)
		return -EINVAL;
	for (size_t i = 0; i < nr; i++)
		if (ev[i].thread >= nr_threads || !ev[i].text)
			return -EINVAL;
	if (opts)
		c.o = *opts;
	if (!c.o.max_width)
		c.o.max_width = DIAGRAM_WIDTH;
	/* room for a mark and "..." on the narrowest wrapped line */
	if (c.o.max_width < 12)
		c.o.max_width = 12;
	c.width = calloc(nr_threads, sizeof(*c.width));
	ret = c.width ? select_rows(&c) : -ENOMEM;
	if (!ret) {
		size_columns(&c);
		ret = print_all(&c, out);
	}
	free_rows(&c);
	free(c.width);
	return ret;
}
