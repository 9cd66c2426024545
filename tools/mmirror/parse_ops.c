// SPDX-License-Identifier: MIT
/*
 * parse_ops.c - parsers of the accesses (load, store, read, write,
 * fault), device snapshots and `expect` statements, and the names those
 * statements use: statistics and page states.
 */
#include <stdlib.h>
#include <string.h>
#include <mmirror/check.h>
#include "mirror/mirror.h"
#include "parse_stmt.h"

/*
 * Statistic names per kind.  The interpreter (ops_stat.c) returns the
 * values in this order: keep the two in step.
 */
static const char *const process_stats[] = {
	"rss", "pgtables", "vmas", "scanned", "referenced", "swapents", NULL
};
static const char *const cpu_stats[] = { "loads",    "stores", "walks",
					 "tlb_hits", "faults", "shootdowns",
					 NULL };
static const char *const mirror_stats[] = {
	"reads",     "writes",	   "faults",	"retries",  "invalidations",
	"entries",   "atomics",	   "dev_pages", "dev_free", "to_device",
	"to_system", "cpu_faults", "evicted",	NULL
};
static const char *const odp_stats[] = { "dma_reads",	  "dma_writes",
					 "page_faults",	  "prefetched",
					 "invalidations", "retries",
					 "mapped",	  NULL };
static const char *const kvm_stats[] = { "faults",	  "retries",
					 "zapped",	  "invalidations",
					 "young_cleared", "guest_reads",
					 "guest_writes",  "sptes",
					 "released",	  NULL };
static const char *const pin_stats[] = { "pinned",    "pin_calls",  "evictions",
					 "dma_reads", "dma_writes", NULL };

const char *const *scn_stat_names(enum scn_kind kind)
{
	static const char *const none[] = { NULL };

	switch (kind) {
	case SCN_PROCESS:
		return process_stats;
	case SCN_CPU:
		return cpu_stats;
	case SCN_MIRROR:
		return mirror_stats;
	case SCN_ODP:
		return odp_stats;
	case SCN_KVM:
		return kvm_stats;
	case SCN_PIN:
		return pin_stats;
	default:
		return none;
	}
}

/* load CPU RANGE | store CPU RANGE VALUE | read DEV RANGE |
 * write DEV RANGE VALUE | fault DEV RANGE [write]; then [expect ...]. */
bool parse_access(struct scn_parser *p, struct scn_stmt *s)
{
	bool cpu = s->op == OP_LOAD || s->op == OP_STORE;
	bool val = s->op == OP_STORE || s->op == OP_WRITE;
	size_t i = val ? 4 : 3;
	struct scn_obj *o;

	if (!want_words(p, i,
			cpu ? "load|store CPU RANGE [VALUE]" :
			      "read|write|fault DEVICE RANGE [VALUE]") ||
	    !(o = scn_use(p, &p->w[1], SCN_CPU, !cpu)) ||
	    !parse_range(p, &p->w[2], &s->range) ||
	    (val &&
	     !lex_u64(p, p->w[3].s, p->w[3].len, p->w[3].col, &s->value)))
		return false;
	s->obj = o;
	if (s->op == OP_FAULT && o->kind != SCN_MIRROR && o->kind != SCN_ODP) {
		scn_error(p, p->w[1].col,
			  "fault works on mirror and odp "
			  "devices, not on a %s",
			  scn_kind_name(o->kind));
		return false;
	}
	if (s->op == OP_FAULT && i < p->nw && word_is(&p->w[i], "write")) {
		s->flag = true;
		i++;
	}
	/* A sim_cpu is one thread's at a time (cpu.h). */
	if (cpu && p->thread) {
		if (o->owner && o->owner != p->thread) {
			scn_error(p, p->w[1].col,
				  "cpu '%s' is already used "
				  "by thread '%s' of this parallel block (a "
				  "CPU runs one thread at a time)",
				  o->name, o->owner->name);
			return false;
		}
		o->owner = p->thread;
	}
	return parse_expect(p, s, i);
}

/* Page states: what a snapshot byte is, by class and by size. */
enum { ST_NONE, ST_R, ST_RW, ST_ZERO, ST_ERROR, ST_DEV, ST_NR };
static const char *const st_names[ST_NR] = { "none", "r",     "rw",
					     "zero", "error", "dev" };
static const char *const sz_names[] = { "", "/pmd", "/pud" };
#define ST_CLASS 0x1 /* patmask: compare the class */
#define ST_SIZE 0x2 /* patmask: compare the size */

unsigned char scn_state_code(unsigned char b)
{
	unsigned char c, sz = b == DMIRROR_PROT_ERROR ? 0 :
			      b & DMIRROR_PROT_PUD    ? 2 :
			      b & DMIRROR_PROT_PMD    ? 1 :
							0;

	/* DEV_PRIVATE_REMOTE (0x30) contains the ZERO bit (0x10): test
	 * the device kinds first. */
	if (b == DMIRROR_PROT_ERROR)
		c = ST_ERROR;
	else if ((b & 0x30) == DMIRROR_PROT_DEV_PRIVATE_LOCAL ||
		 (b & 0x30) == DMIRROR_PROT_DEV_PRIVATE_REMOTE)
		c = ST_DEV;
	else if (b & DMIRROR_PROT_ZERO)
		c = ST_ZERO;
	else if (b & DMIRROR_PROT_WRITE)
		c = ST_RW;
	else if (b & DMIRROR_PROT_READ)
		c = ST_R;
	else
		c = ST_NONE;
	return c | sz << 4;
}

/* Print codes as the pattern words that match them, runs as WORD*N. */
void scn_format_states(FILE *out, const unsigned char *st, size_t n)
{
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && st[j] == st[i]; j++)
			;
		fprintf(out, "%s%s%s", i ? " " : "", st_names[st[i] & 0xf],
			sz_names[st[i] >> 4]);
		if (j - i > 1)
			fprintf(out, "*%zu", j - i);
	}
}

static bool pattern_word(struct scn_parser *p, const struct scn_word *w,
			 unsigned char *code, unsigned char *mask, u64 *count)
{
	size_t n = strcspn(w->s, "/*"), k;
	const char *star = strchr(w->s, '*');

	*count = 1;
	*mask = 0;
	*code = 0;
	if (star && !lex_u64(p, star + 1, strlen(star + 1),
			     w->col + (int)(star + 1 - w->s), count))
		return false;
	if (!*count || *count > (1UL << 36)) {
		scn_error(p, w->col, "a repeat count is 1..2^36");
		return false;
	}
	if (!(n == 1 && w->s[0] == '?')) {
		for (k = 0; k < ST_NR; k++)
			if (strlen(st_names[k]) == n &&
			    !strncmp(w->s, st_names[k], n))
				break;
		if (k == ST_NR) {
			scn_error(p, w->col,
				  "expected a page state: none, r, "
				  "rw, zero, error, dev or ?");
			return false;
		}
		*code = k;
		*mask = ST_CLASS;
	}
	if (w->s[n] == '/') {
		size_t m = (star ? (size_t)(star - w->s) : w->len) - n;

		for (k = 0; k < ARRAY_SIZE(sz_names); k++) {
			const char *name = k ? sz_names[k] : "/4k";

			if (m == strlen(name) && !strncmp(w->s + n, name, m))
				break;
		}
		if (k == ARRAY_SIZE(sz_names)) {
			scn_error(p, w->col + (int)n,
				  "expected /4k, /pmd or /pud");
			return false;
		}
		*code |= k << 4;
		*mask |= ST_SIZE;
	}
	return true;
}

/* snapshot DEV RANGE expect STATE[/SIZE][*N] ... */
bool parse_snapshot(struct scn_parser *p, struct scn_stmt *s)
{
	unsigned char code, mask;
	u64 count, total = 0;
	size_t i;

	if (!want_words(p, 5, "snapshot DEVICE RANGE expect STATES...") ||
	    !(s->obj = scn_use(p, &p->w[1], SCN_MIRROR, false)) ||
	    !parse_range(p, &p->w[2], &s->range))
		return false;
	if (!word_is(&p->w[3], "expect")) {
		scn_error(p, p->w[3].col, "expected 'expect'");
		return false;
	}
	for (i = 4; i < p->nw; i++) {
		if (!pattern_word(p, &p->w[i], &code, &mask, &count))
			return false;
		total += count;
		if (total > (1UL << 36)) {
			scn_error(p, p->w[i].col, "pattern too long");
			return false;
		}
	}
	s->pat = scn_alloc(p, total, p->w[4].col);
	s->patmask = s->pat ? scn_alloc(p, total, p->w[4].col) : NULL;
	if (!s->patmask)
		return false;
	for (i = 4; i < p->nw; i++) {
		pattern_word(p, &p->w[i], &code, &mask, &count);
		memset(s->pat + s->npat, code, count);
		memset(s->patmask + s->npat, mask, count);
		s->npat += count;
	}
	return true;
}

static bool parse_violation(struct scn_parser *p, struct scn_stmt *s)
{
	struct scenario *scn = p->scn;
	bool none = word_is(&p->w[1], "violations");

	s->op = OP_EXPECT_VIOLATION;
	if (p->depth) {
		scn_error(p, p->w[0].col,
			  "violations are expected at the top "
			  "level (they are counted over the whole run)");
		return false;
	}
	if (!want_words(p, 3,
			"expect violations none | expect violation "
			"RULE"))
		return false;
	if (none != word_is(&p->w[2], "none")) {
		scn_error(p, p->w[2].col,
			  none ? "expected 'none'" :
				 "expected a rule, not 'none' (say 'expect "
				 "violations none')");
		return false;
	}
	s->flag = none;
	if (!none && !(s->rule = check_rule_by_name(p->w[2].s))) {
		scn_error(p, p->w[2].col,
			  "unknown rule '%s' (stale, "
			  "use-after-free, permission, lost-write, pin, "
			  "protocol)",
			  p->w[2].s);
		return false;
	}
	if ((none && scn->expected_rules) || (!none && scn->expect_none)) {
		scn_error(p, p->w[0].col,
			  "'expect violations none' and "
			  "'expect violation RULE' contradict each other");
		return false;
	}
	if (none)
		scn->expect_none = true;
	else
		scn->expected_rules |= 1u << s->rule;
	return no_more(p, 3);
}

static const struct {
	const char *name;
	enum scn_cmp cmp;
} cmps[] = { { "==", CMP_EQ }, { "!=", CMP_NE }, { "<", CMP_LT },
	     { "<=", CMP_LE }, { ">", CMP_GT },	 { ">=", CMP_GE } };

/* expect NAME.STAT CMP NUMBER | expect violations none | violation R */
bool parse_expect_stmt(struct scn_parser *p, struct scn_stmt *s)
{
	const struct scn_word *w;
	struct scn_word nw;
	const char *const *names;
	const char *dot;
	size_t i;
	u64 v;

	if (!want_words(p, 2, "expect NAME.STAT OP NUMBER"))
		return false;
	if (word_is(&p->w[1], "violations") || word_is(&p->w[1], "violation"))
		return parse_violation(p, s);
	w = &p->w[1];
	dot = strchr(w->s, '.');
	if (!dot) {
		scn_error(p, w->col,
			  "expected NAME.STAT, 'violations' or "
			  "'violation'");
		return false;
	}
	nw = (struct scn_word){ w->s, dot - w->s, w->col, false };
	s->obj = scn_lookup(p->scn, nw.s, nw.len);
	if (!s->obj || s->obj->kind == SCN_MAPPING ||
	    s->obj->kind == SCN_THREAD) {
		scn_error(p, w->col, "'%.*s' is not a process, cpu or device",
			  (int)nw.len, nw.s);
		return false;
	}
	names = scn_stat_names(s->obj->kind);
	for (i = 0; names[i] && strcmp(names[i], dot + 1); i++)
		;
	if (!names[i]) {
		scn_error(p, w->col + (int)(dot + 1 - w->s),
			  "a %s has no statistic '%s'",
			  scn_kind_name(s->obj->kind), dot + 1);
		return false;
	}
	s->stat = names[i];
	s->arg = i;
	if (!want_words(p, 4, "expect NAME.STAT OP NUMBER"))
		return false;
	for (i = 0; i < ARRAY_SIZE(cmps) && !word_is(&p->w[2], cmps[i].name);
	     i++)
		;
	if (i == ARRAY_SIZE(cmps)) {
		scn_error(p, p->w[2].col, "expected ==, !=, <, <=, > or >=");
		return false;
	}
	s->cmp = cmps[i].cmp;
	if (!lex_u64(p, p->w[3].s, p->w[3].len, p->w[3].col, &v))
		return false;
	s->rhs = v;
	return no_more(p, 4);
}
