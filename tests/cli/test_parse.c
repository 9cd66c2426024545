// SPDX-License-Identifier: MIT
/*
 * The scenario parser: a file using every statement parses into the
 * objects and statements it says; each kind of malformed input gives the
 * exact "FILE:LINE:COL: error:" of the offending token; random mutations
 * of the example scenarios never crash it or leak (ASan).
 */
#include "test_util.h"
#include <mmirror/mm.h>
#include "scenario.h"

#define SRC_DIR_OF_TEST __FILE__

static struct scenario *parse(const char *text, char **errs)
{
	size_t n = 0;
	FILE *err = open_memstream(errs, &n);
	struct scenario *scn;

	assert_non_null(err);
	scn = scn_parse("t.mms", text, strlen(text), err);
	fclose(err);
	return scn;
}

static const char good[] = "# every statement once\n"
			   "process P\n"
			   "map P buf 2M rw private thp\n"
			   "map P sh 64K r shared populate\n"
			   "cpu P c0\n"
			   "cpu P c1\r\n"
			   "mirror gpu P engines 2\n"
			   "odp nic P buf[0:1M] write\n"
			   "kvm vm P buf[1M:] gpa 0x100000 readonly\n"
			   "pin dma P sh cache\n"
			   "store c0 buf+0x10 0x1234\n"
			   "load c0 buf+0x10 expect 0x1234\n"
			   "read gpu buf[0:8K] expect 0|0x1234\n"
			   "write gpu buf+8 7 expect ok|-EPERM\n"
			   "fault nic buf[0:4K] write\n"
			   "snapshot gpu buf[0:16K] expect rw/4k r none*2\n"
			   "parallel\n"
			   "\tthread storm\n"
			   "\t\trepeat 3\n"
			   "\t\t\tmunmap P buf[0:64K]\n"
			   "\t\t\tmap P buf[0:64K]\n"
			   "\t\tend\n"
			   "\tend\n"
			   "\tthread dev loop\n"
			   "\t\tread gpu buf+0 expect any\n"
			   "\t\tload c1 buf+0 expect any # a comment\n"
			   "\tend\n"
			   "end\n"
			   "for 10ms\n"
			   "  age P\n"
			   "end\n"
			   "mprotect P buf r\n"
			   "madvise P buf dontneed\n"
			   "mremap P buf 4M\n"
			   "fork P Q\n"
			   "expect gpu.faults >= 1\n"
			   "expect P.referenced == 0\n"
			   "print \"hello # not a comment\"\n"
			   "destroy dma\n"
			   "exit Q\n"
			   "expect violations none\n";

static void test_good(void **state)
{
	char *errs = NULL;
	struct scenario *scn = parse(good, &errs);

	if (!scn)
		fprintf(stderr, "%s", errs);
	assert_non_null(scn);
	assert_string_equal(errs, "");
	/* P buf sh c0 c1 gpu nic vm dma storm dev Q */
	assert_int_equal(scn->nobjs, 12);
	assert_int_equal(scn->objs[1]->kind, SCN_MAPPING);
	assert_int_equal(scn->objs[1]->size, 2 << 20);
	assert_true(scn->objs[1]->thp);
	assert_int_equal(scn->objs[2]->flags,
			 MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE);
	assert_int_equal(scn->objs[2]->prot, PROT_READ);
	assert_int_equal(scn->objs[5]->engines, 2);
	assert_int_equal(scn->objs[7]->gpa, 0x100000);
	assert_true(scn->objs[7]->opt);
	assert_int_equal(scn->objs[7]->range.start, 1 << 20);
	assert_int_equal(scn->objs[7]->range.end, SCN_END);
	assert_int_equal(scn->top.n, 27);
	assert_int_equal(scn->top.v[9]->op, OP_STORE);
	assert_int_equal(scn->top.v[9]->value, 0x1234);
	assert_int_equal(scn->top.v[9]->range.start, 0x10);
	assert_int_equal(scn->top.v[11]->nalts, 2);
	assert_int_equal(scn->top.v[12]->alts[1].kind, SCN_ALT_ERR);
	assert_int_equal(scn->top.v[12]->alts[1].value, EPERM);
	assert_int_equal(scn->top.v[14]->npat, 4);
	assert_int_equal(scn->top.v[15]->op, OP_PARALLEL);
	assert_int_equal(scn->top.v[15]->body.n, 2);
	assert_true(scn->top.v[15]->body.v[1]->flag);
	assert_int_equal(scn->top.v[15]->body.v[0]->body.v[0]->body.v[1]->op,
			 OP_REMAP);
	assert_int_equal(scn->top.v[16]->arg, 10000000);
	assert_true(scn->expect_none);
	scn_free(scn);
	free(errs);
}

struct bad {
	const char *text;
	const char *msg; /* the first line of the message, exactly */
};

#define PMC "process P\nmap P b 4K\ncpu P c\n" /* 3 lines */

static const struct bad bad[] = {
	{ "frobnicate x", "t.mms:1:1: error: unknown statement 'frobnicate'" },
	{ "process P\nmap P buf 2X",
	  "t.mms:2:12: error: expected a digit, not 'X'" },
	{ "process P\ncpu Q c0", "t.mms:2:5: error: unknown process 'Q'" },
	{ "process P\n\nrepeat 3\n  process R\n",
	  "t.mms:4:3: error: 'process' may only be used at the top level, "
	  "outside blocks" },
	{ "process P\nrepeat 3\n",
	  "t.mms:2:1: error: 'repeat 3' block has no matching 'end'" },
	{ "  end", "t.mms:1:3: error: 'end' without a block to close" },
	{ PMC "load P b", "t.mms:4:6: error: 'P' is a process (line 1), "
			  "not a cpu" },
	{ PMC "load c b+0x1g", "t.mms:4:13: error: expected a digit, not 'g'" },
	{ "print \"abc", "t.mms:1:7: error: unterminated string" },
	{ "process P\nprocess  P",
	  "t.mms:2:10: error: 'P' is already a process (line 1)" },
	{ PMC "parallel\n  thread a\n    load c b\n  end\n  thread x\n"
	      "    load c b\n  end\nend",
	  "t.mms:9:10: error: cpu 'c' is already used by thread 'a' of this "
	  "parallel block (a CPU runs one thread at a time)" },
	{ "process\x01P",
	  "t.mms:1:8: error: unexpected character (byte 0x01)" },
	{ PMC "exit P\nload c b",
	  "t.mms:5:6: error: cpu 'c' is gone: its process exited at line 4" },
	{ PMC "exit P\nmunmap P b",
	  "t.mms:5:8: error: process 'P' is gone since line 4" },
	{ PMC "parallel\n thread a loop\n  age P\n end\nend",
	  "t.mms:4:1: error: a parallel block needs a thread that is not "
	  "'loop' (loop threads run until the others finish)" },
	{ "thread a\nend", "t.mms:1:1: error: 'thread' may only be used "
			   "inside 'parallel'" },
	{ PMC "parallel\n age P\nend", "t.mms:5:2: error: a parallel block "
				       "holds only 'thread' blocks" },
	{ PMC "mirror d P\nsnapshot d b expect rw*0",
	  "t.mms:5:21: error: a repeat count is 1..2^36" },
	{ PMC "mirror d P\nsnapshot d b expect rw/2m",
	  "t.mms:5:23: error: expected /4k, /pmd or /pud" },
	{ PMC "mirror d P\nexpect d.bogus > 1",
	  "t.mms:5:10: error: a mirror device has no statistic 'bogus'" },
	{ PMC "expect violations none\nexpect violation stale",
	  "t.mms:5:1: error: 'expect violations none' and 'expect violation "
	  "RULE' contradict each other" },
	{ PMC "expect violation stail",
	  "t.mms:4:18: error: unknown rule 'stail' (stale, use-after-free, "
	  "permission, lost-write, pin, protocol)" },
	{ PMC "load c b expect -EWHAT",
	  "t.mms:4:17: error: unknown error '-EWHAT' (expected -EFAULT, "
	  "-EPERM, -EINVAL, -ENOMEM, -EACCES, -EEXIST, -EBUSY, -EAGAIN, "
	  "-ENOENT, -ENODEV or -EOPNOTSUPP)" },
	/* The memory statements (parse_mem.c). */
	{ PMC "pin x P b\nmigrate x b device",
	  "t.mms:5:9: error: migrate to a device works on mirror devices, "
	  "not on a pin device" },
	{ PMC "mirror d P\nmigrate d b gpu",
	  "t.mms:5:13: error: expected device or system" },
	{ PMC "mirror d P\nmigrate d b",
	  "t.mms:5:12: error: missing words: migrate PROC RANGE | migrate "
	  "MIRROR RANGE device|system" },
	{ PMC "migrate c b", "t.mms:4:9: error: 'c' is a cpu (line 3): migrate "
			     "takes a process or a mirror device" },
	{ PMC "mirror d P\natomic d b 1",
	  "t.mms:5:10: error: atomic takes one word: NAME+OFF, OFF a "
	  "multiple of 8" },
	{ PMC "mirror d P\natomic d b+0 1 expect 0|-EBUSY\nexclusive d b "
	      "expect 4",
	  "t.mms:6:22: error: only load, read and atomic have a value to "
	  "expect" },
	{ PMC "repeat 2\n pressure 10\nend",
	  "t.mms:5:2: error: 'pressure' may only be used at the top level, "
	  "outside blocks" },
	{ PMC "reclaim many", "t.mms:4:9: error: expected a digit, not 'm'" },
	{ PMC "mirror d P\nrelease d extra",
	  "t.mms:5:11: error: unexpected 'extra' (an expectation starts with "
	  "'expect')" },
	{ PMC "store c b 1 expect 5",
	  "t.mms:4:20: error: only load, read and atomic have a value to expect" },
	{ PMC "load c b[8:4]",
	  "t.mms:4:9: error: empty range: END must be above START" },
	{ PMC "load c b extra", "t.mms:4:10: error: unexpected 'extra' (an "
				"expectation starts with 'expect')" },
	{ PMC "mirror d P\nfault", "t.mms:5:6: error: missing words: "
				   "read|write|fault DEVICE RANGE [VALUE]" },
	{ PMC "pin x P b\nfault x b",
	  "t.mms:5:7: error: fault works on "
	  "mirror and odp devices, not on a pin device" },
	{ "process P\nmap P b 4097", "t.mms:2:9: error: a mapping size is a "
				     "non-zero multiple of 4K below 128T" },
	{ "process P\nmap P b 99999999999999999999999",
	  "t.mms:2:9: error: number too large" },
	{ "process 9P", "t.mms:1:9: error: '9P' is not a name (a letter, "
			"then letters, digits, '_' or '-')" },
	{ PMC "for 2h\nend", "t.mms:4:5: error: expected a duration like 2s "
			     "or 500ms" },
	{ PMC "repeat 2 3\nend", "t.mms:4:10: error: unexpected '3'" },
	{ PMC "mprotect P b rwz",
	  "t.mms:4:14: error: expected a protection (none, r, rw, rx, rwx), "
	  "not 'rwz'" },
	{ PMC "map P b[0:4K] extra", "t.mms:4:15: error: unexpected 'extra' "
				     "(an expectation starts with 'expect')" },
	{ "process P\nrepeat 2\n  map P b 4K\nend",
	  "t.mms:3:9: error: a new mapping may only be declared at the top "
	  "level" },
	{ PMC "end extra", "t.mms:4:1: error: 'end' without a block to "
			   "close" },
	{ PMC "destroy c", "t.mms:4:9: error: 'c' is a cpu (line 3), not a "
			   "device" },
};

static void test_errors(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *errs = NULL;
		struct scenario *scn = parse(bad[i].text, &errs);
		size_t n = strcspn(errs, "\n");

		if (scn || strlen(bad[i].msg) != n ||
		    strncmp(errs, bad[i].msg, n))
			fprintf(stderr, "case %zu: want\n  %s\ngot\n%s\n", i,
				bad[i].msg, errs);
		assert_null(scn);
		assert_int_equal(n, strlen(bad[i].msg));
		assert_memory_equal(errs, bad[i].msg, n);
		/* The offending line and a caret follow. */
		assert_non_null(strchr(errs + n, '^'));
		free(errs);
	}
}

/* A long line and many names: no fixed limit truncates anything. */
static void test_no_limits(void **state)
{
	size_t cap = 1 << 20, n = 0, nx, last;
	char *t = malloc(cap), *errs = NULL;
	struct scenario *scn;

	assert_non_null(t);
	n += sprintf(t + n, "process P\nprint \"");
	for (nx = 0; n < 200000; nx++)
		t[n++] = 'x';
	n += sprintf(t + n, "\"\n");
	for (int i = 0; i < 3000; i++)
		n += sprintf(t + n,
			     "map P m%d_with_a_rather_long_name_%0100d "
			     "4K\n",
			     i, i);
	last = n;
	n += sprintf(t + n,
		     "munmap P m2999_with_a_rather_long_name_%0100d "
		     "bogus\n",
		     2999);
	scn = parse(t, &errs);
	assert_null(scn);
	assert_non_null(strstr(errs, "t.mms:3003:141: error: unexpected "
				     "'bogus'"));
	free(errs);
	/* Without the last line it parses, with all 3001 names. */
	t[last] = '\0';
	scn = parse(t, &errs);
	assert_non_null(scn);
	assert_int_equal(scn->nobjs, 3001);
	assert_int_equal(strlen(scn->top.v[1]->text),
			 strlen("print \"\"") + nx);
	scn_free(scn);
	free(errs);
	free(t);
}

static char *read_example(const char *name, size_t *len)
{
	char path[4096], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%.*s/../../examples/%s",
		 (int)(strrchr(SRC_DIR_OF_TEST, '/') - SRC_DIR_OF_TEST),
		 SRC_DIR_OF_TEST, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, f), n);
	fclose(f);
	*len = n;
	return buf;
}

/* Random byte, word and line mutations of each example: the parser may
 * refuse them, never crash or leak. */
static void test_fuzz(void **state)
{
	static const char *const ex[] = { "gpu-munmap-storm.mms",
					  "rdma-odp-fork.mms", "kvm-aging.mms",
					  "pin-dma-after-munmap.mms" };
	static const char junk[] = " \t\n#\"[]:+*|/-0x1Kend";
	uint64_t seed = 42;
	int parsed = 0, found = 0;

	for (size_t e = 0; e < ARRAY_SIZE(ex); e++) {
		size_t len;
		char *orig = read_example(ex[e], &len);

		if (!orig)
			continue;
		found++;
		for (int round = 0; round < TEST_SCALE(400); round++) {
			char *m = malloc(len + 1), *errs = NULL;
			size_t n = 0;
			FILE *err = open_memstream(&errs, &n);
			struct scenario *scn;
			int k = 1 + test_rand(&seed) % 8;

			memcpy(m, orig, len);
			while (len && k--) {
				size_t at = test_rand(&seed) % len;
				uint64_t r = test_rand(&seed);

				m[at] = r & 1 ? junk[r % (sizeof(junk) - 1)] :
						(char)(r >> 8);
			}
			scn = scn_parse(ex[e], m, len, err);
			fclose(err);
			parsed += !!scn;
			assert_true(scn || strstr(errs, ": error: "));
			scn_free(scn);
			free(errs);
			free(m);
		}
		free(orig);
	}
	assert_int_equal(found, ARRAY_SIZE(ex));
	assert_true(parsed > 0); /* some mutations land in comments */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_no_limits),
		cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
