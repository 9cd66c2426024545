// SPDX-License-Identifier: MIT
/*
 * parse.c - the scenario parser: blocks, statements, and the checks that
 * can be made before anything runs.
 *
 * One statement per line; a block opens with repeat/for/parallel/thread
 * and closes with `end`.  Each statement keyword has a parser in stmts[]
 * (parse_stmt.c) that reads the line's words left to right.  Beyond the
 * grammar the parser enforces what would otherwise be a crash or a data
 * race at run time:
 *
 *  - names are declared before use and used as what they are;
 *  - declarations, fork, exit, destroy and mremap happen at the top
 *    level, so every object exists before any thread runs and a
 *    mapping's address only changes while no thread can read it;
 *  - a process or device is not used after its exit/destroy line;
 *  - a CPU is used by at most one thread of a parallel block (a
 *    struct sim_cpu belongs to one thread at a time);
 *  - a parallel block holds only threads, and at least one that is not
 *    `loop` (loop threads run until the others finish).
 */
#include <stdlib.h>
#include <string.h>
#include "parse_int.h"
#include "parse_stmt.h"

static bool block_push(struct scn_parser *p, struct scn_block *b,
		       struct scn_stmt *s)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 8;
		struct scn_stmt **v = realloc(b->v, cap * sizeof(*v));

		if (!v) {
			scn_error(p, s->col, "out of memory");
			return false;
		}
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = s;
	return true;
}

/* The statement's source, words joined by one blank, for messages. */
static char *stmt_text(struct scn_parser *p)
{
	size_t n = 1;
	char *t, *q;

	for (size_t i = 0; i < p->nw; i++)
		n += p->w[i].len + 3;
	t = q = scn_alloc(p, n, p->w[0].col);
	if (!t)
		return NULL;
	for (size_t i = 0; i < p->nw; i++)
		q += sprintf(q, p->w[i].quoted ? "%s\"%s\"" : "%s%s",
			     i ? " " : "", p->w[i].s);
	return t;
}

void scn_stmt_free(struct scn_stmt *s);

static void block_free(struct scn_block *b)
{
	for (size_t i = 0; i < b->n; i++)
		scn_stmt_free(b->v[i]);
	free(b->v);
}

void scn_stmt_free(struct scn_stmt *s)
{
	if (!s)
		return;
	block_free(&s->body);
	free(s->text);
	free(s->msg);
	free(s->alts);
	free(s->pat);
	free(s->patmask);
	free(s);
}

static bool parse_block(struct scn_parser *p, struct scn_block *b,
			struct scn_stmt *opener);

/* Forget which thread used each CPU once a parallel block is closed. */
static void clear_owners(struct scenario *scn)
{
	for (size_t i = 0; i < scn->nobjs; i++)
		scn->objs[i]->owner = NULL;
}

static bool check_parallel(struct scn_parser *p, struct scn_stmt *s)
{
	for (size_t i = 0; i < s->body.n; i++)
		if (!s->body.v[i]->flag)
			return true;
	scn_error_at(p, s->line, s->col,
		     "a parallel block needs a thread "
		     "that is not 'loop' (loop threads run until the others "
		     "finish)");
	return false;
}

/* Parse the block a statement opens, up to its `end`. */
static bool parse_body(struct scn_parser *p, struct scn_stmt *s)
{
	struct scn_obj *outer = p->thread;
	bool ok;

	if (s->op == OP_THREAD)
		p->thread = s->obj2;
	p->depth++;
	ok = parse_block(p, &s->body, s);
	p->depth--;
	p->thread = outer;
	if (ok && s->op == OP_PARALLEL) {
		clear_owners(p->scn);
		ok = check_parallel(p, s);
	}
	return ok;
}

static struct scn_stmt *parse_line(struct scn_parser *p,
				   struct scn_stmt *opener)
{
	const struct scn_word *w = &p->w[0];
	const struct scn_stmt_def *d = scn_find_stmt(w);
	struct scn_stmt *s;

	if (!d) {
		scn_error(p, w->col, "unknown statement '%s'", w->s);
		return NULL;
	}
	if ((d->flags & STMT_TOP) && p->depth) {
		scn_error(p, w->col,
			  "'%s' may only be used at the top level, "
			  "outside blocks",
			  w->s);
		return NULL;
	}
	if ((d->op == OP_THREAD) != (opener && opener->op == OP_PARALLEL)) {
		scn_error(
			p, w->col,
			d->op == OP_THREAD ?
				"'thread' may only be used inside 'parallel'" :
				"a parallel block holds only 'thread' blocks");
		return NULL;
	}
	if (d->op == OP_PARALLEL && p->thread) {
		scn_error(p, w->col, "parallel blocks do not nest");
		return NULL;
	}
	s = scn_alloc(p, sizeof(*s), w->col);
	if (!s)
		return NULL;
	s->op = d->op;
	s->line = p->lineno;
	s->col = w->col;
	s->text = stmt_text(p);
	if (!s->text || !d->parse(p, s) ||
	    ((d->flags & STMT_BLOCK) && !parse_body(p, s))) {
		scn_stmt_free(s);
		return NULL;
	}
	return s;
}

static bool parse_block(struct scn_parser *p, struct scn_block *b,
			struct scn_stmt *opener)
{
	while (lex_next_line(p)) {
		struct scn_stmt *s;

		if (word_is(&p->w[0], "end")) {
			if (!opener) {
				scn_error(p, p->w[0].col,
					  "'end' without a block to close");
				return false;
			}
			if (p->nw > 1) {
				scn_error(p, p->w[1].col,
					  "unexpected '%s' after 'end'",
					  p->w[1].s);
				return false;
			}
			return true;
		}
		s = parse_line(p, opener);
		if (!s)
			return false;
		if (!block_push(p, b, s)) {
			scn_stmt_free(s);
			return false;
		}
	}
	if (opener && !p->failed)
		scn_error_at(p, opener->line, opener->col,
			     "'%s' block has no matching 'end'", opener->text);
	return !p->failed;
}

void scn_free(struct scenario *scn)
{
	if (!scn)
		return;
	block_free(&scn->top);
	for (size_t i = 0; i < scn->nobjs; i++) {
		free(scn->objs[i]->name);
		free(scn->objs[i]);
	}
	free(scn->objs);
	free(scn->file);
	free(scn);
}

struct scenario *scn_parse(const char *file, const char *text, size_t len,
			   FILE *err)
{
	struct scn_parser p = {
		.file = file,
		.text = text,
		.len = len,
		.err = err,
	};
	struct scenario *scn = calloc(1, sizeof(*scn));

	if (!scn || !(scn->file = strdup(file))) {
		fprintf(err, "%s: error: out of memory\n", file);
		free(scn);
		return NULL;
	}
	p.scn = scn;
	if (!parse_block(&p, &scn->top, NULL) || p.failed) {
		scn_free(scn);
		scn = NULL;
	}
	free(p.buf);
	free(p.w);
	return scn;
}
