// SPDX-License-Identifier: MIT
/*
 * The scenario interpreter and the `mmirror` command line: every example
 * passes; unmet expectations of each kind (data, errno, statistic,
 * snapshot, in a thread) give exit 1; malformed files and bad arguments
 * give exit 2 with a FILE:LINE:COL message; a run stopped half-way still
 * tears everything down.  Each case checks that every frame, object and
 * address space came back.
 */
#include "mm_test_util.h"
#include <unistd.h>
#include <mmirror/page.h>
#include <mmirror/slab.h>
#include "scenario.h"

static char *out_text, *err_text;

/* Run `mmirror ARGS...` with its output captured in out_text/err_text. */
static int cli(int argc, const char **argv)
{
	size_t no = 0, ne = 0;
	FILE *out, *err;
	int ret;

	free(out_text);
	free(err_text);
	out = open_memstream(&out_text, &no);
	err = open_memstream(&err_text, &ne);
	assert_non_null(out);
	assert_non_null(err);
	ret = mmirror_main(argc, (char **)argv, out, err);
	fclose(out);
	fclose(err);
	return ret;
}

/* Write @text to a temporary .mms file and `mmirror run` it. */
static int run_text(const char *text)
{
	char path[] = "/tmp/mmirror-test-XXXXXX";
	const char *argv[] = { "mmirror", "run", path };
	struct mm_leak_check lc;
	int fd = mkstemp(path), ret;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), strlen(text));
	close(fd);
	mm_leak_check_begin(&lc);
	ret = cli(3, argv);
	mm_leak_check_end(&lc);
	unlink(path);
	return ret;
}

static void dump(int got, int want)
{
	if (got != want)
		fprintf(stderr, "exit %d, want %d\n--- out:\n%s--- err:\n%s",
			got, want, out_text, err_text);
}

static void test_examples(void **state)
{
	static const char *const ex[] = {
		"gpu-munmap-storm.mms", "rdma-odp-fork.mms",
		"kvm-aging.mms",	"pin-dma-after-munmap.mms",
		"devmem-migrate.mms",	"reclaim-under-mirror.mms",
		"exclusive-atomics.mms"
	};
	const char *src = __FILE__;
	char path[4096];
	const char *argv[] = { "mmirror", "run", path };
	struct mm_leak_check lc;

	for (size_t i = 0; i < ARRAY_SIZE(ex); i++) {
		int ret;

		snprintf(path, sizeof(path), "%.*s/../../examples/%s",
			 (int)(strrchr(src, '/') - src), src, ex[i]);
		mm_leak_check_begin(&lc);
		ret = cli(3, argv);
		dump(ret, 0);
		assert_int_equal(ret, SCN_EXIT_OK);
		assert_non_null(strstr(out_text, "result: PASS"));
		assert_non_null(strstr(out_text, "oracle: no violations"));
		mm_leak_check_end(&lc);
	}
}

#define SETUP                                               \
	"process P\nmap P buf 64K\ncpu P c\nmirror gpu P\n" \
	"store c buf 0x11\n"

static void test_pass(void **state)
{
	int ret = run_text(SETUP "read gpu buf expect 0x11\n"
				 "load c buf+8 expect 0x11|0x22\n"
				 "write gpu buf+16 0x22\n"
				 "load c buf[16:24] expect 0x22\n"
				 "munmap P buf[0:4K]\n"
				 "read gpu buf+0 expect -EFAULT\n"
				 "load c buf+0 expect -EFAULT|-EACCES\n"
				 "snapshot gpu buf[0:8K] expect error rw\n"
				 "expect gpu.reads > 0\n"
				 "expect c.stores == 1\n"
				 "expect violations none\n");

	dump(ret, 0);
	assert_int_equal(ret, SCN_EXIT_OK);
	assert_non_null(strstr(out_text, "result: PASS"));
}

/* The statements that move memory: migrate, reclaim, pressure,
 * exclusive, atomic, devmem, release; every page and slot back after. */
static void test_memory_statements(void **state)
{
	int ret = run_text(SETUP "devmem gpu 32\n"
				 "migrate gpu buf device\n"
				 "snapshot gpu buf expect dev*16\n"
				 "expect gpu.dev_free == 16\n"
				 "devmem gpu 8 expect -EBUSY\n"
				 "migrate gpu buf system\n"
				 "snapshot gpu buf expect rw*16\n"
				 "expect gpu.to_system == 16\n"
				 "migrate P buf\n"
				 "reclaim 16\n"
				 "expect P.swapents > 0\n"
				 "read gpu buf expect 0x11\n"
				 "exclusive gpu buf[0:4K]\n"
				 "atomic gpu buf+0 1 expect 0x11\n"
				 "load c buf+0 expect 0x12\n"
				 "atomic gpu buf+0 1 expect -EBUSY\n"
				 "migrate gpu buf[4K:8K] device\n"
				 "release gpu\n"
				 "release gpu expect -ENODEV\n"
				 "migrate gpu buf device expect -ENODEV\n"
				 "pressure 8\n"
				 "store c buf 0x5\n"
				 "pressure off\n"
				 "read gpu buf expect 0x5\n"
				 "expect gpu.atomics == 1\n"
				 "expect violations none\n");

	dump(ret, 0);
	assert_int_equal(ret, SCN_EXIT_OK);
	assert_non_null(strstr(out_text, "result: PASS"));
}

/* Each kind of unmet expectation fails the run, and says where. */
static void test_unmet(void **state)
{
	static const struct {
		const char *stmt, *says;
	} cases[] = {
		{ "load c buf+8 expect 0x12", "t:6: [main] load c buf+8 expect "
					      "0x12 -> 0x11  FAILED" },
		{ "read gpu buf expect 0x12", "-> 0x11 at +0  FAILED" },
		{ "read gpu buf[8:16] expect 0x12", "-> 0x11  FAILED" },
		{ "munmap P buf[0:4K]\nread gpu buf+0",
		  "read gpu buf+0 -> -EFAULT  FAILED" },
		{ "read gpu buf+0 expect -EFAULT", "-> 0x11  FAILED" },
		{ "store c buf[0:8K] 0x5\nload c buf[0:16K] expect 0x5",
		  "-> 0x11 at +0x2000  FAILED" },
		{ "expect gpu.faults > 1000", "gpu.faults is " },
		{ "snapshot gpu buf[0:8K] expect rw none",
		  "-> got rw*2 (2 pages, pattern 2)  FAILED" },
		{ "parallel\n thread a\n  repeat 3\n   load c buf+0 expect 9\n"
		  "  end\n end\nend",
		  "failed 3 times" },
		{ "expect violation stale", "EXPECTED, NONE SEEN" },
		{ "exclusive gpu buf[0:4K]\natomic gpu buf+0 1 expect 7",
		  "atomic gpu buf+0 1 expect 7 -> 0x11  FAILED" },
		{ "migrate gpu buf device", "-> -ENODEV  FAILED" },
	};
	char text[512];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *p;
		int ret;

		snprintf(text, sizeof(text), SETUP "%s\n", cases[i].stmt);
		ret = run_text(text);
		dump(ret, 1);
		assert_int_equal(ret, SCN_EXIT_FAILED);
		assert_non_null(strstr(out_text, "result: FAIL"));
		/* Messages name the temporary file: compare from ":LINE:" */
		p = strstr(cases[i].says, "t:") == cases[i].says ?
			    strstr(out_text, cases[i].says + 1) :
			    strstr(out_text, cases[i].says);
		if (!p)
			fprintf(stderr, "case %zu: no '%s' in\n%s", i,
				cases[i].says, out_text);
		assert_non_null(p);
	}
}

/* A declaration that fails stops the run; what was made is torn down. */
static void test_stop(void **state)
{
	int ret = run_text(SETUP "fork P Q\ncpu Q qc\nstore qc buf 0x22\n"
				 "munmap P buf[0:8K]\n"
				 "pin dma P buf[0:8K]\n"
				 "store c buf 0x33\n");

	dump(ret, 1);
	assert_int_equal(ret, SCN_EXIT_FAILED);
	assert_non_null(strstr(out_text, "STOPPED"));
	assert_non_null(strstr(out_text, "pin dma P buf[0:8K] -> "));
	assert_null(strstr(out_text, "store c buf 0x33"));
}

static void test_malformed(void **state)
{
	int ret = run_text("process P\nmap P buf 64K\ncpu P c\n"
			   "load c buf+0x10 expect 0x1z\n");

	dump(ret, 2);
	assert_int_equal(ret, SCN_EXIT_USAGE);
	assert_non_null(strstr(err_text, ":4:27: error: expected a digit, "
					 "not 'z'"));
	assert_string_equal(out_text, "");
}

static void test_cli(void **state)
{
	const char *help[] = { "mmirror", "--help" };
	const char *run_help[] = { "mmirror", "run", "--help" };
	const char *help_run[] = { "mmirror", "help", "run" };
	const char *none[] = { "mmirror" };
	const char *unknown[] = { "mmirror", "frob" };
	const char *missing[] = { "mmirror", "run", "/nonexistent/x.mms" };
	const char *nofile[] = { "mmirror", "run" };
	const char *badopt[] = { "mmirror", "run", "--frob", "x" };
	const char *two[] = { "mmirror", "run", "a", "b" };

	assert_int_equal(cli(2, help), 0);
	assert_non_null(strstr(out_text, "usage: mmirror COMMAND"));
	assert_int_equal(cli(3, run_help), 0);
	assert_non_null(strstr(out_text, "exit status"));
	assert_int_equal(cli(3, help_run), 0);
	assert_non_null(strstr(out_text, "usage: mmirror run"));
	assert_int_equal(cli(1, none), 2);
	assert_non_null(strstr(err_text, "usage:"));
	assert_int_equal(cli(2, unknown), 2);
	assert_non_null(strstr(err_text, "unknown command 'frob'"));
	assert_int_equal(cli(3, missing), 2);
	assert_non_null(strstr(err_text, "cannot open '/nonexistent/x.mms'"));
	assert_int_equal(cli(2, nofile), 2);
	assert_non_null(strstr(err_text, "missing FILE"));
	assert_int_equal(cli(4, badopt), 2);
	assert_non_null(strstr(err_text, "unknown option '--frob'"));
	assert_int_equal(cli(4, two), 2);
	assert_non_null(strstr(err_text, "one FILE only"));
}

/* -v prints every operation, from every thread, with its result. */
static void test_verbose(void **state)
{
	char path[] = "/tmp/mmirror-test-XXXXXX";
	const char *argv[] = { "mmirror", "run", "-v", path };
	const char *text = SETUP "parallel\n thread t1\n  load c buf+0\n end\n"
				 "end\nprint \"done here\"\n";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), strlen(text));
	close(fd);
	assert_int_equal(cli(4, argv), 0);
	unlink(path);
	assert_non_null(strstr(out_text, ":5: [main] store c buf 0x11 -> ok"));
	assert_non_null(strstr(out_text, ":8: [t1] load c buf+0 -> 0x11"));
	assert_non_null(strstr(out_text, "\ndone here\n"));
	assert_non_null(strstr(out_text, "gpu        mirror device on P:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_pass),
		cmocka_unit_test(test_memory_statements),
		cmocka_unit_test(test_unmet),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_verbose),
		cmocka_unit_test(test_examples),
	};
	int ret;

	/* The frame arena appears with the first allocation: before the
	 * first leak check counts free frames. */
	__free_page(alloc_page(GFP_KERNEL));
	ret = cmocka_run_group_tests(tests, NULL, NULL);

	free(out_text);
	free(err_text);
	return ret;
}
