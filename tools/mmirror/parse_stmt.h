/* SPDX-License-Identifier: MIT */
/*
 * parse_stmt.h - the table of statement keywords (parse_stmt.c,
 * parse_ops.c) the block parser (parse.c) dispatches on.
 */
#ifndef MMIRROR_TOOLS_PARSE_STMT_H
#define MMIRROR_TOOLS_PARSE_STMT_H

#include "parse_int.h"

#define STMT_TOP 0x1 /* top level only */
#define STMT_BLOCK 0x2 /* opens a block closed by `end` */

struct scn_stmt_def {
	const char *name;
	enum scn_op op;
	unsigned int flags;
	/* Fill @s from the words of the current line; false after an
	 * error. */
	bool (*parse)(struct scn_parser *p, struct scn_stmt *s);
};

const struct scn_stmt_def *scn_find_stmt(const struct scn_word *w);

/* Helpers shared by the statement parsers. */
bool want_words(struct scn_parser *p, size_t min, const char *usage);
bool no_more(struct scn_parser *p, size_t i);
bool parse_range(struct scn_parser *p, const struct scn_word *w,
		 struct scn_range *r);
bool parse_expect(struct scn_parser *p, struct scn_stmt *s, size_t i);

/* Statement parsers of parse_ops.c. */
bool parse_access(struct scn_parser *p, struct scn_stmt *s);
bool parse_snapshot(struct scn_parser *p, struct scn_stmt *s);
bool parse_expect_stmt(struct scn_parser *p, struct scn_stmt *s);

/* Statement parsers of parse_mem.c. */
bool parse_migrate(struct scn_parser *p, struct scn_stmt *s);
bool parse_reclaim(struct scn_parser *p, struct scn_stmt *s);
bool parse_pressure(struct scn_parser *p, struct scn_stmt *s);
bool parse_exclusive(struct scn_parser *p, struct scn_stmt *s);
bool parse_atomic(struct scn_parser *p, struct scn_stmt *s);
bool parse_devmem(struct scn_parser *p, struct scn_stmt *s);
bool parse_release(struct scn_parser *p, struct scn_stmt *s);

#endif /* MMIRROR_TOOLS_PARSE_STMT_H */
