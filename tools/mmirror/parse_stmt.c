// SPDX-License-Identifier: MIT
/*
 * parse_stmt.c - parsers of the declarations, the address-space
 * operations and the blocks; the statement table.
 *
 * Every parser reads the words of one line left to right, resolves names
 * as it goes and ends with no_more() or parse_expect(), so a stray word
 * is an error at its own column, never ignored.
 */
#include <stdlib.h>
#include <string.h>
#include <mmirror/mm.h>
#include "parse_stmt.h"

/* Column just past the last word: where a missing word would go. */
static int end_col(const struct scn_parser *p)
{
	const struct scn_word *w = &p->w[p->nw - 1];

	return w->col + (int)w->len + (w->quoted ? 2 : 0);
}

bool want_words(struct scn_parser *p, size_t min, const char *usage)
{
	if (p->nw >= min)
		return true;
	scn_error(p, end_col(p), "missing words: %s", usage);
	return false;
}

bool no_more(struct scn_parser *p, size_t i)
{
	if (i >= p->nw)
		return true;
	scn_error(p, p->w[i].col, "unexpected '%s'", p->w[i].s);
	return false;
}

/* NAME, NAME+OFF (one word at OFF), NAME[A:B], NAME[A:], NAME[:B]. */
bool parse_range(struct scn_parser *p, const struct scn_word *w,
		 struct scn_range *r)
{
	size_t n = strcspn(w->s, "+[");
	struct scn_word nw = { w->s, n, w->col, w->quoted };
	const char *rest = w->s + n, *colon;
	char save = w->s[n];
	u64 a = 0, b = SCN_END;

	/* Look the name up with the rest cut off for a moment. */
	((char *)w->s)[n] = '\0';
	r->map = scn_use(p, &nw, SCN_MAPPING, false);
	((char *)w->s)[n] = save;
	if (!r->map)
		return false;
	r->word = *rest == '+';
	if (*rest == '+') {
		if (!lex_u64(p, rest + 1, strlen(rest + 1), w->col + (int)n + 1,
			     &a))
			return false;
	} else if (*rest == '[') {
		size_t len = strlen(rest);

		colon = strchr(rest, ':');
		if (rest[len - 1] != ']' || !colon) {
			scn_error(p, w->col + (int)n,
				  "expected NAME[START:END] (START or END may "
				  "be left out)");
			return false;
		}
		if (colon > rest + 1 && !lex_u64(p, rest + 1, colon - rest - 1,
						 w->col + (int)n + 1, &a))
			return false;
		if (colon + 1 < rest + len - 1 &&
		    !lex_u64(p, colon + 1, rest + len - 2 - colon,
			     w->col + (int)(colon + 1 - w->s), &b))
			return false;
		if (b <= a) {
			scn_error(p, w->col + (int)n,
				  "empty range: END must be above START");
			return false;
		}
	}
	if (a >= SCN_END - 8) {
		scn_error(p, w->col + (int)n, "offset too large");
		return false;
	}
	r->start = a;
	r->end = r->word ? a + 8 : b;
	return true;
}

static bool parse_alt(struct scn_parser *p, struct scn_alt *a, const char *s,
		      size_t n, int col)
{
	int err;

	if (n == 2 && !strncmp(s, "ok", 2)) {
		a->kind = SCN_ALT_OK;
	} else if (n == 3 && !strncmp(s, "any", 3)) {
		a->kind = SCN_ALT_ANY;
	} else if (n && s[0] == '-') {
		if (!lex_errno(p, s, n, col, &err))
			return false;
		a->kind = SCN_ALT_ERR;
		a->value = err;
	} else {
		a->kind = SCN_ALT_VALUE;
		return lex_u64(p, s, n, col, &a->value);
	}
	return true;
}

/* [expect ALT|ALT|...] at word @i: ALT is ok, any, -EXXX or a value. */
bool parse_expect(struct scn_parser *p, struct scn_stmt *s, size_t i)
{
	const struct scn_word *w;
	const char *c, *bar;
	/* atomic: the value the word had before the add. */
	bool values =
		s->op == OP_LOAD || s->op == OP_READ || s->op == OP_ATOMIC;

	if (i >= p->nw)
		return true;
	if (!word_is(&p->w[i], "expect")) {
		scn_error(p, p->w[i].col,
			  "unexpected '%s' (an expectation "
			  "starts with 'expect')",
			  p->w[i].s);
		return false;
	}
	if (!want_words(p, i + 2, "expect ok|any|-EFAULT|VALUE"))
		return false;
	w = &p->w[i + 1];
	s->nalts = 1;
	for (c = w->s; *c; c++)
		s->nalts += *c == '|';
	s->alts = scn_alloc(p, s->nalts * sizeof(*s->alts), w->col);
	if (!s->alts)
		return false;
	s->nalts = 0;
	for (c = w->s; c; c = bar ? bar + 1 : NULL) {
		struct scn_alt *a = &s->alts[s->nalts++];
		size_t n;

		bar = strchr(c, '|');
		n = bar ? (size_t)(bar - c) : strlen(c);
		if (!parse_alt(p, a, c, n, w->col + (int)(c - w->s)))
			return false;
		if (a->kind == SCN_ALT_VALUE && !values) {
			scn_error(p, w->col + (int)(c - w->s),
				  "only load, read and atomic have a value to "
				  "expect");
			return false;
		}
	}
	return no_more(p, i + 2);
}

static bool parse_process(struct scn_parser *p, struct scn_stmt *s)
{
	return want_words(p, 2, "process NAME") &&
	       (s->obj = scn_declare(p, &p->w[1], SCN_PROCESS)) &&
	       no_more(p, 2);
}

static bool map_option(struct scn_parser *p, struct scn_obj *m,
		       const struct scn_word *w)
{
	if (word_is(w, "private"))
		m->flags = (m->flags & ~MAP_SHARED) | MAP_PRIVATE;
	else if (word_is(w, "shared"))
		m->flags = (m->flags & ~MAP_PRIVATE) | MAP_SHARED;
	else if (word_is(w, "populate"))
		m->flags |= MAP_POPULATE;
	else if (word_is(w, "thp"))
		m->thp = true;
	else if (w->s[0] == 'n' || w->s[0] == 'r')
		return lex_prot(p, w, &m->prot);
	else {
		scn_error(p, w->col,
			  "unexpected '%s' (a protection, private, "
			  "shared, thp or populate)",
			  w->s);
		return false;
	}
	return true;
}

/* map PROC NAME SIZE [opts]: declare; map PROC RANGE: map it again. */
static bool parse_map(struct scn_parser *p, struct scn_stmt *s)
{
	const struct scn_word *w = &p->w[2];
	struct scn_obj *m;
	u64 size;

	if (!want_words(p, 3,
			"map PROC NAME SIZE [PROT] [private|shared] "
			"[thp] [populate]") ||
	    !(s->obj = scn_use(p, &p->w[1], SCN_PROCESS, false)))
		return false;
	m = scn_lookup(p->scn, w->s, strcspn(w->s, "+["));
	if (m && m->kind == SCN_MAPPING) {
		s->op = OP_REMAP;
		return parse_range(p, w, &s->range) && parse_expect(p, s, 3);
	}
	if (p->depth) {
		scn_error(p, w->col,
			  "a new mapping may only be declared at "
			  "the top level");
		return false;
	}
	if (!want_words(p, 4,
			"map PROC NAME SIZE [PROT] [private|shared] "
			"[thp] [populate]") ||
	    !lex_u64(p, p->w[3].s, p->w[3].len, p->w[3].col, &size))
		return false;
	if (!size || size > TASK_SIZE_4LEVEL || size & (PAGE_SIZE - 1)) {
		scn_error(p, p->w[3].col,
			  "a mapping size is a non-zero "
			  "multiple of 4K below 128T");
		return false;
	}
	m = scn_declare(p, w, SCN_MAPPING);
	if (!m)
		return false;
	m->proc = s->obj;
	m->size = size;
	m->prot = PROT_READ | PROT_WRITE;
	m->flags = MAP_PRIVATE | MAP_ANONYMOUS;
	for (size_t i = 4; i < p->nw; i++)
		if (!map_option(p, m, &p->w[i]))
			return false;
	s->obj2 = m;
	return true;
}

static bool parse_cpu(struct scn_parser *p, struct scn_stmt *s)
{
	if (!want_words(p, 3, "cpu PROC NAME") ||
	    !(s->obj2 = scn_use(p, &p->w[1], SCN_PROCESS, false)) ||
	    !(s->obj = scn_declare(p, &p->w[2], SCN_CPU)))
		return false;
	s->obj->proc = s->obj2;
	return no_more(p, 3);
}

static bool dev_option(struct scn_parser *p, struct scn_obj *d, size_t *i)
{
	const struct scn_word *w = &p->w[*i];
	static const char *const opt[] = {
		[SCN_ODP] = "write", [SCN_KVM] = "readonly", [SCN_PIN] = "cache"
	};
	u64 v;

	if (d->kind != SCN_MIRROR && word_is(w, opt[d->kind])) {
		d->opt = true;
		return true;
	}
	if ((d->kind == SCN_MIRROR && word_is(w, "engines")) ||
	    (d->kind == SCN_KVM && word_is(w, "gpa"))) {
		if (!want_words(p, *i + 2, "engines N | gpa ADDR"))
			return false;
		++*i;
		if (!lex_u64(p, p->w[*i].s, p->w[*i].len, p->w[*i].col, &v))
			return false;
		if (d->kind == SCN_MIRROR && (v < 1 || v > 16)) {
			scn_error(p, p->w[*i].col, "engines is 1..16");
			return false;
		}
		if (d->kind == SCN_MIRROR)
			d->engines = v;
		else
			d->gpa = v;
		return true;
	}
	scn_error(p, w->col, "unexpected '%s'", w->s);
	return false;
}

/* mirror NAME PROC [engines N] | odp|kvm|pin NAME PROC RANGE [opts] */
static bool parse_device(struct scn_parser *p, struct scn_stmt *s)
{
	enum scn_kind k = s->op == OP_MIRROR ? SCN_MIRROR :
			  s->op == OP_ODP    ? SCN_ODP :
			  s->op == OP_KVM    ? SCN_KVM :
					       SCN_PIN;
	size_t i = k == SCN_MIRROR ? 3 : 4;
	struct scn_obj *d;

	if (!want_words(p, i,
			k == SCN_MIRROR ?
				"mirror NAME PROC [engines N]" :
				"odp|kvm|pin NAME PROC RANGE [options]") ||
	    !(d = scn_declare(p, &p->w[1], k)) ||
	    !(d->proc = scn_use(p, &p->w[2], SCN_PROCESS, false)))
		return false;
	s->obj = d;
	d->engines = 1;
	if (k != SCN_MIRROR && !parse_range(p, &p->w[3], &d->range))
		return false;
	for (; i < p->nw; i++)
		if (!dev_option(p, d, &i))
			return false;
	return true;
}

static bool parse_fork(struct scn_parser *p, struct scn_stmt *s)
{
	return want_words(p, 3, "fork PROC CHILD") &&
	       (s->obj = scn_use(p, &p->w[1], SCN_PROCESS, false)) &&
	       (s->obj2 = scn_declare(p, &p->w[2], SCN_PROCESS)) &&
	       no_more(p, 3);
}

/* exit PROC | destroy DEVICE: the object is gone from the next line. */
static bool parse_end_of(struct scn_parser *p, struct scn_stmt *s)
{
	bool dev = s->op == OP_DESTROY;

	if (!want_words(p, 2, dev ? "destroy DEVICE" : "exit PROC") ||
	    !(s->obj = scn_use(p, &p->w[1], SCN_PROCESS, dev)) ||
	    !no_more(p, 2))
		return false;
	s->obj->dead_line = p->lineno;
	return true;
}

static const struct {
	const char *name;
	int advice;
} advices[] = { { "dontneed", MADV_DONTNEED },
		{ "willneed", MADV_WILLNEED },
		{ "hugepage", MADV_HUGEPAGE },
		{ "nohugepage", MADV_NOHUGEPAGE } };

/* munmap|mprotect|madvise|mremap PROC RANGE [ARG] [expect ...] */
static bool parse_vm(struct scn_parser *p, struct scn_stmt *s)
{
	bool arg = s->op != OP_MUNMAP;
	size_t i;

	if (!want_words(p, arg ? 4 : 3,
			"munmap PROC RANGE | mprotect PROC "
			"RANGE PROT | madvise PROC RANGE ADVICE | mremap "
			"PROC MAPPING SIZE") ||
	    !(s->obj = scn_use(p, &p->w[1], SCN_PROCESS, false)) ||
	    !parse_range(p, &p->w[2], &s->range))
		return false;
	if (s->op == OP_MREMAP &&
	    (s->range.word || s->range.start || s->range.end != SCN_END)) {
		scn_error(p, p->w[2].col, "mremap takes a whole mapping");
		return false;
	}
	if (s->op == OP_MPROTECT && !lex_prot(p, &p->w[3], &s->arg))
		return false;
	if (s->op == OP_MREMAP &&
	    (!lex_u64(p, p->w[3].s, p->w[3].len, p->w[3].col, &s->value) ||
	     !s->value)) {
		scn_error(p, p->w[3].col, "mremap needs a non-zero size");
		return false;
	}
	if (s->op == OP_MADVISE) {
		for (i = 0; i < ARRAY_SIZE(advices); i++)
			if (word_is(&p->w[3], advices[i].name))
				s->arg = advices[i].advice;
		if (!s->arg) {
			scn_error(p, p->w[3].col,
				  "expected dontneed, "
				  "willneed, hugepage or nohugepage");
			return false;
		}
	}
	return parse_expect(p, s, arg ? 4 : 3);
}

static bool parse_age(struct scn_parser *p, struct scn_stmt *s)
{
	return want_words(p, 2, "age PROC") &&
	       (s->obj = scn_use(p, &p->w[1], SCN_PROCESS, false)) &&
	       parse_expect(p, s, 2);
}

static bool parse_print(struct scn_parser *p, struct scn_stmt *s)
{
	size_t n = 1;
	char *q;

	if (!want_words(p, 2, "print TEXT"))
		return false;
	for (size_t i = 1; i < p->nw; i++)
		n += p->w[i].len + 1;
	q = s->msg = scn_alloc(p, n, p->w[1].col);
	if (!q)
		return false;
	for (size_t i = 1; i < p->nw; i++)
		q += sprintf(q, "%s%s", i > 1 ? " " : "", p->w[i].s);
	return true;
}

static bool parse_repeat(struct scn_parser *p, struct scn_stmt *s)
{
	u64 n;

	if (!want_words(p, 2, s->op == OP_FOR ? "for DURATION" : "repeat N"))
		return false;
	if (s->op == OP_FOR ?
		    !lex_duration(p, &p->w[1], &n) :
		    !lex_u64(p, p->w[1].s, p->w[1].len, p->w[1].col, &n))
		return false;
	s->arg = n;
	return no_more(p, 2);
}

static bool parse_parallel(struct scn_parser *p, struct scn_stmt *s)
{
	return no_more(p, 1);
}

static bool parse_thread(struct scn_parser *p, struct scn_stmt *s)
{
	if (!want_words(p, 2, "thread NAME [loop]") ||
	    !(s->obj2 = scn_declare(p, &p->w[1], SCN_THREAD)))
		return false;
	if (p->nw > 2 && word_is(&p->w[2], "loop"))
		s->flag = true;
	return no_more(p, s->flag ? 3 : 2);
}

static const struct scn_stmt_def stmts[] = {
	{ "process", OP_PROCESS, STMT_TOP, parse_process },
	{ "map", OP_MAP, 0, parse_map },
	{ "cpu", OP_CPU, STMT_TOP, parse_cpu },
	{ "mirror", OP_MIRROR, STMT_TOP, parse_device },
	{ "odp", OP_ODP, STMT_TOP, parse_device },
	{ "kvm", OP_KVM, STMT_TOP, parse_device },
	{ "pin", OP_PIN, STMT_TOP, parse_device },
	{ "fork", OP_FORK, STMT_TOP, parse_fork },
	{ "exit", OP_EXIT, STMT_TOP, parse_end_of },
	{ "destroy", OP_DESTROY, STMT_TOP, parse_end_of },
	{ "mremap", OP_MREMAP, STMT_TOP, parse_vm },
	{ "munmap", OP_MUNMAP, 0, parse_vm },
	{ "mprotect", OP_MPROTECT, 0, parse_vm },
	{ "madvise", OP_MADVISE, 0, parse_vm },
	{ "age", OP_AGE, 0, parse_age },
	{ "migrate", OP_MIGRATE, 0, parse_migrate },
	{ "reclaim", OP_RECLAIM, 0, parse_reclaim },
	{ "pressure", OP_PRESSURE, STMT_TOP, parse_pressure },
	{ "exclusive", OP_EXCLUSIVE, 0, parse_exclusive },
	{ "atomic", OP_ATOMIC, 0, parse_atomic },
	{ "devmem", OP_DEVMEM, 0, parse_devmem },
	{ "release", OP_RELEASE, 0, parse_release },
	{ "load", OP_LOAD, 0, parse_access },
	{ "store", OP_STORE, 0, parse_access },
	{ "read", OP_READ, 0, parse_access },
	{ "write", OP_WRITE, 0, parse_access },
	{ "fault", OP_FAULT, 0, parse_access },
	{ "snapshot", OP_SNAPSHOT, 0, parse_snapshot },
	{ "expect", OP_EXPECT_STAT, 0, parse_expect_stmt },
	{ "print", OP_PRINT, 0, parse_print },
	{ "repeat", OP_REPEAT, STMT_BLOCK, parse_repeat },
	{ "for", OP_FOR, STMT_BLOCK, parse_repeat },
	{ "parallel", OP_PARALLEL, STMT_BLOCK, parse_parallel },
	{ "thread", OP_THREAD, STMT_BLOCK, parse_thread },
};

const struct scn_stmt_def *scn_find_stmt(const struct scn_word *w)
{
	for (size_t i = 0; i < ARRAY_SIZE(stmts); i++)
		if (word_is(w, stmts[i].name))
			return &stmts[i];
	return NULL;
}
