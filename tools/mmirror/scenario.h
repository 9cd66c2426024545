/* SPDX-License-Identifier: MIT */
/*
 * scenario.h - the scenario language behind `mmirror run FILE`: a parsed
 * scenario (named objects and a tree of statements), its parser and its
 * interpreter.  docs/scenario-language.md describes the language.
 *
 * Life of a scenario:
 *
 *	scn = scn_parse("x.mms", text, len, stderr);   NULL: error printed
 *	status = scn_run(scn, &opts, stdout);          0, 1 (failed)
 *	scn_free(scn);
 *
 * The parser resolves every name and checks what can be checked before
 * anything runs (kinds, declaration before use, a CPU shared by two
 * threads, use after exit/destroy), so a malformed file never starts a
 * run.  The interpreter owns every host object it makes and tears them
 * all down at the end, even after a failure.
 */
#ifndef MMIRROR_TOOLS_SCENARIO_H
#define MMIRROR_TOOLS_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <mmirror/atomic.h>
#include <mmirror/compiler.h>
#include <mmirror/mutex.h>

/* Exit statuses of `mmirror run` (and of scn_run/mmirror_main). */
#define SCN_EXIT_OK 0 /* every expectation held, no unexpected violation */
#define SCN_EXIT_FAILED 1 /* an expectation failed or a violation */
#define SCN_EXIT_USAGE 2 /* malformed file, bad arguments, unreadable */

enum scn_kind {
	SCN_PROCESS,
	SCN_MAPPING,
	SCN_CPU,
	SCN_MIRROR,
	SCN_ODP,
	SCN_KVM,
	SCN_PIN,
	SCN_THREAD,
};

struct scn_obj;

/* [start, end) byte offsets into a mapping; end == SCN_END: its end. */
#define SCN_END (~0UL)
struct scn_range {
	struct scn_obj *map;
	unsigned long start, end;
	bool word; /* an address (NAME+OFF): one 8-byte word at start */
};

/* One named object: a declaration, then its state while running. */
struct scn_obj {
	char *name;
	enum scn_kind kind;
	int line, col; /* where it was declared */
	struct scn_obj *proc; /* CPU, device: the process it is bound to */
	/* mapping */
	unsigned long size, prot, flags; /* vm_mmap arguments */
	bool thp; /* MADV_HUGEPAGE after mapping */
	/* devices */
	struct scn_range range; /* odp, kvm, pin: the registered range */
	unsigned int engines; /* mirror */
	unsigned long gpa; /* kvm: guest-physical base of range */
	bool opt; /* odp: write access; kvm: read-only; pin: cache */
	/* parse time */
	int dead_line; /* line of the exit/destroy that ended it, or 0 */
	struct scn_obj *owner; /* cpu: the thread using it in a parallel */

	/* --- run time (scn_run resets these) --- */
	struct mm_struct *mm; /* process */
	bool exited; /* process: exit ran; device: destroy ran */
	unsigned long scanned, referenced; /* process: last age pass */
	/* Mapping base and length: written by map/mremap at top level
	 * only, before or after (never during) a parallel block, whose
	 * kthread_run/kthread_join order those writes against its
	 * threads' reads. */
	unsigned long base, len;
	void *dev; /* cpu: sim_cpu; mirror; odp_mr; kvm; pin_region */
	void *dev2; /* odp: odp_dev; kvm: kvm_vcpu; pin: pindev */
	struct mutex vcpu_lock; /* kvm: one guest access at a time */
};

/* One alternative of an `expect` clause on an operation. */
enum scn_alt_kind { SCN_ALT_OK, SCN_ALT_ANY, SCN_ALT_VALUE, SCN_ALT_ERR };
struct scn_alt {
	enum scn_alt_kind kind;
	u64 value; /* VALUE: the word; ERR: the positive errno */
};

enum scn_op {
	/* declarations (top level only) */
	OP_PROCESS,
	OP_MAP,
	OP_CPU,
	OP_MIRROR,
	OP_ODP,
	OP_KVM,
	OP_PIN,
	OP_FORK,
	OP_EXIT,
	OP_DESTROY,
	OP_MREMAP,
	/* operations (anywhere) */
	OP_REMAP,
	OP_MUNMAP,
	OP_MPROTECT,
	OP_MADVISE,
	OP_AGE,
	OP_MIGRATE, /* a process's pages to new frames */
	OP_MIGRATE_DEV, /* to (flag) or from a mirror's device memory */
	OP_RECLAIM,
	OP_PRESSURE, /* top level: the frame limit */
	OP_EXCLUSIVE,
	OP_ATOMIC,
	OP_DEVMEM,
	OP_RELEASE,
	OP_LOAD,
	OP_STORE,
	OP_READ,
	OP_WRITE,
	OP_FAULT,
	OP_SNAPSHOT,
	OP_EXPECT_STAT,
	OP_EXPECT_VIOLATION,
	OP_PRINT,
	/* blocks */
	OP_REPEAT,
	OP_FOR,
	OP_PARALLEL,
	OP_THREAD,
};

enum scn_cmp { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

struct scn_stmt;
struct scn_block {
	struct scn_stmt **v;
	size_t n, cap;
};

struct scn_stmt {
	enum scn_op op;
	int line, col; /* of the statement's first word */
	char *text; /* the source line, trimmed, for messages */
	char *msg; /* print: its words, without quotes */
	struct scn_obj *obj; /* the subject: process, cpu or device */
	struct scn_obj *obj2; /* fork: the child; thread: itself */
	struct scn_range range;
	u64 value; /* store/write: the word; mremap: new size */
	unsigned long arg; /* prot, advice, repeat count, for: ns */
	bool flag; /* fault: write; thread: loop; violation: none */
	struct scn_alt *alts; /* expect clause, nalts == 0: must be ok */
	size_t nalts;
	/* snapshot: one pattern byte per page and what of it to compare */
	unsigned char *pat, *patmask;
	size_t npat;
	/* expect OBJ.STAT CMP NUM; expect violation RULE */
	const char *stat;
	enum scn_cmp cmp;
	u64 rhs;
	int rule;
	struct scn_block body; /* repeat, for, parallel, thread */
	/* run time: how often this statement did not do what it expected */
	atomic_long_t failures;
};

struct scenario {
	char *file; /* name for messages */
	struct scn_obj **objs; /* every named object, declaration order */
	size_t nobjs, capobjs;
	struct scn_block top;
	bool expect_none; /* `expect violations none` was given */
	unsigned int expected_rules; /* 1 << rule: `expect violation R` */
};

/*
 * scn_parse() - parse @len bytes of @text (need not be NUL-terminated)
 * named @file in messages.
 * Return: the scenario, or NULL after printing "FILE:LINE:COL: error:
 * ..." and the offending line with a caret to @err (also for allocation
 * failure).
 */
struct scenario *scn_parse(const char *file, const char *text, size_t len,
			   FILE *err);
/* scn_free() - free a parsed scenario (NULL is fine). */
void scn_free(struct scenario *scn);

struct scn_opts {
	bool verbose; /* one line per operation */
	bool progress; /* a line a second on stderr for long runs */
	bool quiet; /* only failures and the verdict */
};

/*
 * scn_run() - run @scn under the coherence oracle and tear down every
 * object it made, then print per-device statistics, the oracle's
 * verdict and the expectations to @out.
 * Context: the caller's thread; starts and joins kthreads for parallel
 * blocks.  Turns the oracle on (check_reset/check_enable) and off.
 * Return: SCN_EXIT_OK or SCN_EXIT_FAILED.
 */
int scn_run(struct scenario *scn, const struct scn_opts *opts, FILE *out);

/*
 * mmirror_main() - the `mmirror` command line (main.c calls it): `run
 * [-v] [--progress] FILE`, `explore ...`, `help`, `--help`, `--version`.
 * Return: the process exit status (SCN_EXIT_*).
 */
int mmirror_main(int argc, char **argv, FILE *out, FILE *err);
/* `mmirror explore ARGS` (argv[0] is "explore"), in explore_cli.c; exit
 * 0 when the result matches the scenario's expectation, 1 when not, 2
 * for bad arguments. */
int mmirror_explore_main(int argc, char **argv, FILE *out, FILE *err);

/* --- shared by the parser and the interpreter ------------------------- */

const char *scn_kind_name(enum scn_kind kind);
/* "EFAULT" for EFAULT, NULL when not one the language names. */
const char *scn_errno_name(int err);
/* Stat names of a kind, NULL-terminated, and the value of one. */
const char *const *scn_stat_names(enum scn_kind kind);
/* A snapshot's DMIRROR_PROT_* byte as a page-state code, and codes
 * printed as the pattern words that match them. */
unsigned char scn_state_code(unsigned char dmirror_prot);
void scn_format_states(FILE *out, const unsigned char *st, size_t n);

#endif /* MMIRROR_TOOLS_SCENARIO_H */
