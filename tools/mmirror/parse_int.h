/* SPDX-License-Identifier: MIT */
/*
 * parse_int.h - what lex.c gives parse.c: a scenario file cut into lines
 * of words, error messages that point at a column, and the parsers of
 * the small things a word can be (numbers, sizes, durations, errnos,
 * protections, names).
 *
 * A word is a maximal run of non-blank characters, or a "quoted string"
 * (no escapes); '#' outside a string starts a comment.  Columns count
 * bytes from 1, as the messages of most compilers do.  Nothing here has a
 * fixed limit: lines and words are as long as the file makes them.
 */
#ifndef MMIRROR_TOOLS_PARSE_INT_H
#define MMIRROR_TOOLS_PARSE_INT_H

#include "scenario.h"

struct scn_word {
	const char *s; /* into the line buffer, NUL-terminated */
	size_t len;
	int col;
	bool quoted; /* "..." (s excludes the quotes) */
};

struct scn_parser {
	const char *file;
	const char *text;
	size_t len, pos; /* the whole file, and where the next line starts */
	int lineno; /* of the current line */
	FILE *err;
	struct scenario *scn;
	/* the current line: a NUL-terminated copy cut into words */
	char *buf;
	size_t bufcap;
	struct scn_word *w;
	size_t nw, wcap;
	int depth; /* blocks open around the current statement */
	struct scn_obj *thread; /* the thread being parsed, or NULL */
	bool failed;
};

/* Load the next non-empty line into p->w; false at end of file or after
 * an error (p->failed). */
bool lex_next_line(struct scn_parser *p);

/* Report an error at @col of the current line (once: later errors are
 * dropped so the first, most useful one stands). */
__attribute__((format(printf, 3, 4))) void
scn_error(struct scn_parser *p, int col, const char *fmt, ...);
/* The same for another line (a block's opening line). */
__attribute__((format(printf, 4, 5))) void
scn_error_at(struct scn_parser *p, int line, int col, const char *fmt, ...);

/* Allocation that reports failure as an error at @col (NULL then). */
void *scn_alloc(struct scn_parser *p, size_t size, int col);
char *scn_strndup(struct scn_parser *p, const char *s, size_t n, int col);

bool word_is(const struct scn_word *w, const char *s);

/*
 * Parsers of one (part of a) word: @s/@n the text, @col its column for
 * errors.  Return true and the value, or false after scn_error().
 */
bool lex_u64(struct scn_parser *p, const char *s, size_t n, int col,
	     u64 *v); /* 12, 0x1f, 4K, 2M, 1G (binary multiples) */
bool lex_duration(struct scn_parser *p, const struct scn_word *w,
		  u64 *ns); /* 2s, 500ms */
bool lex_errno(struct scn_parser *p, const char *s, size_t n, int col,
	       int *err); /* -EFAULT ... */
bool lex_prot(struct scn_parser *p, const struct scn_word *w,
	      unsigned long *prot); /* none r rw rx rwx */
bool lex_name(struct scn_parser *p, const struct scn_word *w);

/* The object named @s/@n, or NULL. */
struct scn_obj *scn_lookup(struct scenario *scn, const char *s, size_t n);
/* Declare @w as a new object of @kind (error if the name is taken). */
struct scn_obj *scn_declare(struct scn_parser *p, const struct scn_word *w,
			    enum scn_kind kind);
/* The object @w names, which must be of @kind (or any device kind for
 * kind == SCN_MIRROR with @any_dev) and still alive. */
struct scn_obj *scn_use(struct scn_parser *p, const struct scn_word *w,
			enum scn_kind kind, bool any_dev);

#endif /* MMIRROR_TOOLS_PARSE_INT_H */
