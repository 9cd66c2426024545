// SPDX-License-Identifier: MIT
/*
 * names.c - the scenario's name space: one flat set of names for every
 * process, mapping, CPU, device and thread, declared before use.
 *
 * A flat name space (not one per kind) lets a statement name its subject
 * without saying what it is ("read gpu buf+8" works for any device) and
 * makes a typo an error instead of a new object.  Lookup is linear: a
 * scenario has tens of names and is parsed once.
 */
#include <stdlib.h>
#include <string.h>
#include "parse_int.h"

const char *scn_kind_name(enum scn_kind kind)
{
	static const char *const names[] = {
		[SCN_PROCESS] = "process", [SCN_MAPPING] = "mapping",
		[SCN_CPU] = "cpu",	   [SCN_MIRROR] = "mirror device",
		[SCN_ODP] = "odp device",  [SCN_KVM] = "kvm device",
		[SCN_PIN] = "pin device",  [SCN_THREAD] = "thread",
	};

	return kind < ARRAY_SIZE(names) ? names[kind] : "?";
}

struct scn_obj *scn_lookup(struct scenario *scn, const char *s, size_t n)
{
	for (size_t i = 0; i < scn->nobjs; i++)
		if (strlen(scn->objs[i]->name) == n &&
		    !memcmp(scn->objs[i]->name, s, n))
			return scn->objs[i];
	return NULL;
}

struct scn_obj *scn_declare(struct scn_parser *p, const struct scn_word *w,
			    enum scn_kind kind)
{
	struct scenario *scn = p->scn;
	struct scn_obj *o;

	if (!lex_name(p, w))
		return NULL;
	o = scn_lookup(scn, w->s, w->len);
	if (o) {
		scn_error(p, w->col, "'%s' is already a %s (line %d)", w->s,
			  scn_kind_name(o->kind), o->line);
		return NULL;
	}
	if (scn->nobjs == scn->capobjs) {
		size_t cap = scn->capobjs ? 2 * scn->capobjs : 16;
		struct scn_obj **v = realloc(scn->objs, cap * sizeof(*v));

		if (!v) {
			scn_error(p, w->col, "out of memory");
			return NULL;
		}
		scn->objs = v;
		scn->capobjs = cap;
	}
	o = scn_alloc(p, sizeof(*o), w->col);
	if (!o)
		return NULL;
	o->name = scn_strndup(p, w->s, w->len, w->col);
	if (!o->name) {
		free(o);
		return NULL;
	}
	o->kind = kind;
	o->line = p->lineno;
	o->col = w->col;
	scn->objs[scn->nobjs++] = o;
	return o;
}

static bool is_dev(enum scn_kind k)
{
	return k == SCN_MIRROR || k == SCN_ODP || k == SCN_KVM || k == SCN_PIN;
}

struct scn_obj *scn_use(struct scn_parser *p, const struct scn_word *w,
			enum scn_kind kind, bool any_dev)
{
	struct scn_obj *o = w->quoted ? NULL : scn_lookup(p->scn, w->s, w->len);
	const char *want = any_dev ? "device" : scn_kind_name(kind);

	if (!o) {
		scn_error(p, w->col, "unknown %s '%s'", want, w->s);
		return NULL;
	}
	if (any_dev ? !is_dev(o->kind) : o->kind != kind) {
		scn_error(p, w->col, "'%s' is a %s (line %d), not a %s", w->s,
			  scn_kind_name(o->kind), o->line, want);
		return NULL;
	}
	if (o->dead_line) {
		scn_error(p, w->col, "%s '%s' is gone since line %d",
			  scn_kind_name(o->kind), w->s, o->dead_line);
		return NULL;
	}
	if (o->proc && o->proc->dead_line && o->kind == SCN_CPU) {
		scn_error(p, w->col,
			  "cpu '%s' is gone: its process exited at "
			  "line %d",
			  w->s, o->proc->dead_line);
		return NULL;
	}
	return o;
}
