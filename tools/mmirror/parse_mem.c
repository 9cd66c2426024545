// SPDX-License-Identifier: MIT
/*
 * parse_mem.c - parsers of the statements that move memory under the
 * devices: migration (of a process's pages, or to and from a mirror
 * device's memory), reclaim and memory pressure, device-exclusive
 * access and device atomics, device memory (docs/scenario-language.md).
 */
#include "parse_stmt.h"

/* The mirror device @w names; other device kinds are an error. */
static struct scn_obj *use_mirror(struct scn_parser *p,
				  const struct scn_word *w, const char *what)
{
	struct scn_obj *o = scn_use(p, w, SCN_MIRROR, true);

	if (o && o->kind != SCN_MIRROR) {
		scn_error(p, w->col, "%s works on mirror devices, not on a %s",
			  what, scn_kind_name(o->kind));
		return NULL;
	}
	return o;
}

/*
 * migrate PROC RANGE                 the pages to new frames (NUMA-like)
 * migrate MIRROR RANGE device|system to / from the device's memory
 */
bool parse_migrate(struct scn_parser *p, struct scn_stmt *s)
{
	const char *usage = "migrate PROC RANGE | migrate MIRROR RANGE "
			    "device|system";
	struct scn_obj *o;

	if (!want_words(p, 3, usage))
		return false;
	o = scn_lookup(p->scn, p->w[1].s, p->w[1].len);
	if (o && o->kind != SCN_PROCESS && o->kind != SCN_MIRROR &&
	    o->kind != SCN_ODP && o->kind != SCN_KVM && o->kind != SCN_PIN) {
		scn_error(p, p->w[1].col,
			  "'%s' is a %s (line %d): migrate takes a process "
			  "or a mirror device",
			  o->name, scn_kind_name(o->kind), o->line);
		return false;
	}
	if (o && o->kind != SCN_PROCESS) {
		if (!(s->obj = use_mirror(p, &p->w[1], "migrate to a device")))
			return false;
		if (!want_words(p, 4, usage) ||
		    !parse_range(p, &p->w[2], &s->range))
			return false;
		if (!word_is(&p->w[3], "device") &&
		    !word_is(&p->w[3], "system")) {
			scn_error(p, p->w[3].col, "expected device or system");
			return false;
		}
		s->flag = word_is(&p->w[3], "device");
		s->op = OP_MIGRATE_DEV;
		return parse_expect(p, s, 4);
	}
	return (s->obj = scn_use(p, &p->w[1], SCN_PROCESS, false)) &&
	       parse_range(p, &p->w[2], &s->range) && parse_expect(p, s, 3);
}

/* reclaim PAGES: reclaim up to that many pages now. */
bool parse_reclaim(struct scn_parser *p, struct scn_stmt *s)
{
	return want_words(p, 2, "reclaim PAGES") &&
	       lex_u64(p, p->w[1].s, p->w[1].len, p->w[1].col, &s->value) &&
	       no_more(p, 2);
}

/* pressure PAGES | pressure off: a frame limit PAGES above use now. */
bool parse_pressure(struct scn_parser *p, struct scn_stmt *s)
{
	if (!want_words(p, 2, "pressure PAGES|off"))
		return false;
	if (word_is(&p->w[1], "off"))
		s->flag = true;
	else if (!lex_u64(p, p->w[1].s, p->w[1].len, p->w[1].col, &s->value))
		return false;
	return no_more(p, 2);
}

/* exclusive MIRROR RANGE */
bool parse_exclusive(struct scn_parser *p, struct scn_stmt *s)
{
	return want_words(p, 3, "exclusive MIRROR RANGE") &&
	       (s->obj = use_mirror(p, &p->w[1], "exclusive")) &&
	       parse_range(p, &p->w[2], &s->range) && parse_expect(p, s, 3);
}

/* atomic MIRROR ADDR VALUE: add VALUE to the word at ADDR. */
bool parse_atomic(struct scn_parser *p, struct scn_stmt *s)
{
	if (!want_words(p, 4, "atomic MIRROR NAME+OFF VALUE") ||
	    !(s->obj = use_mirror(p, &p->w[1], "atomic")) ||
	    !parse_range(p, &p->w[2], &s->range) ||
	    !lex_u64(p, p->w[3].s, p->w[3].len, p->w[3].col, &s->value))
		return false;
	if (!s->range.word) {
		scn_error(p, p->w[2].col,
			  "atomic takes one word: NAME+OFF, OFF a "
			  "multiple of 8");
		return false;
	}
	return parse_expect(p, s, 4);
}

/* devmem MIRROR PAGES: give the device that much device memory. */
bool parse_devmem(struct scn_parser *p, struct scn_stmt *s)
{
	if (!want_words(p, 3, "devmem MIRROR PAGES") ||
	    !(s->obj = use_mirror(p, &p->w[1], "devmem")) ||
	    !lex_u64(p, p->w[2].s, p->w[2].len, p->w[2].col, &s->value))
		return false;
	return parse_expect(p, s, 3);
}

/* release MIRROR: its device memory goes (pages move back first). */
bool parse_release(struct scn_parser *p, struct scn_stmt *s)
{
	return want_words(p, 2, "release MIRROR") &&
	       (s->obj = use_mirror(p, &p->w[1], "release")) &&
	       parse_expect(p, s, 2);
}
