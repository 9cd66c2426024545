// SPDX-License-Identifier: MIT
/*
 * The CPU-column race diagram on synthetic traces, compared whole: column
 * layout and the marked row, relevant-only filtering (a lock one thread
 * alone takes is dropped), elision of long runs (never hiding the marked
 * row), wrapping and truncation, and argument errors.
 */
#include "test_util.h"
#include "explore/diagram.h"

static char *text;

/* Render into @text; return diagram_render()'s result. */
static int render(const struct diagram_event *ev, size_t nr,
		  const char *const *names, unsigned int nr_threads,
		  const struct diagram_opts *o)
{
	size_t len = 0;
	FILE *f;
	int ret;

	free(text);
	text = NULL;
	f = open_memstream(&text, &len);
	assert_non_null(f);
	ret = diagram_render(f, ev, nr, names, nr_threads, o);
	fclose(f);
	return ret;
}

static void expect(const char *want)
{
	if (strcmp(text, want))
		fprintf(stderr, "--- got:\n%s--- want:\n%s", text, want);
	assert_string_equal(text, want);
}

#define E(step, t, k, s)             \
	{                            \
		step, t, k, s, false \
	}
#define M(step, t, k, s)            \
	{                           \
		step, t, k, s, true \
	}

static const char *const names2[] = { "T0 main", "T1 fault" };

static void test_basic(void **state)
{
	static const struct diagram_event ev[] = {
		E(1, 0, TR_INV_START, "inv_start 0x1000-0x2000"),
		E(2, 1, TR_FAULT, "dev fault 0x1000"),
		E(3, 0, TR_INV_END, "inv_end"),
		M(14, 1, TR_DEV_ACCESS, "dev write 0x1000"),
	};

	assert_int_equal(render(ev, 4, names2, 2, NULL), 0);
	expect("   step  T0 main                 | T1 fault\n"
	       "   ----  ----------------------- | ----------------------\n"
	       "      1  inv_start 0x1000-0x2000 |\n"
	       "      2                          | dev fault 0x1000\n"
	       "      3  inv_end                 |\n"
	       ">>   14                          | !! dev write 0x1000 !!\n");
}

/* Unnamed threads, a wide step number, three columns, a blank middle. */
static void test_default_names(void **state)
{
	static const struct diagram_event ev[] = {
		E(99999, 2, TR_TLB_FLUSH, "flush"),
		E(100000, 0, TR_PTE, "pte 0x1000 5->0"),
	};

	assert_int_equal(render(ev, 2, NULL, 3, NULL), 0);
	expect("     step  T0              | T1 | T2\n"
	       "   ------  --------------- | -- | -----\n"
	       "    99999                  |    | flush\n"
	       "   100000  pte 0x1000 5->0 |    |\n");
}

static void test_relevant_locks(void **state)
{
	static const struct diagram_event ev[] = {
		E(1, 0, TR_LOCK, "lock &dev->lock"),
		E(2, 0, TR_LOCK, "lock &priv"),
		E(3, 0, TR_UNLOCK, "unlock &priv"),
		E(4, 0, TR_UNLOCK, "unlock &dev->lock"),
		E(5, 1, TR_LOCK, "lock &dev->lock"),
		E(6, 1, TR_NOTE, "install"),
		M(7, 1, TR_LOCK, "lock &mine"),
		E(8, 1, TR_UNLOCK, "unlock &dev->lock"),
	};
	struct diagram_opts o = { .relevant_only = true };

	assert_int_equal(render(ev, 8, names2, 2, &o), 0);
	expect("   step  T0 main           | T1 fault\n"
	       "   ----  ----------------- | -----------------\n"
	       "      1  lock &dev->lock   |\n"
	       "      4  unlock &dev->lock |\n"
	       "      5                    | lock &dev->lock\n"
	       "      6                    | install\n"
	       ">>    7                    | !! lock &mine !!\n"
	       "      8                    | unlock &dev->lock\n");
	/* without the filter every lock is there */
	assert_int_equal(render(ev, 8, names2, 2, NULL), 0);
	assert_non_null(strstr(text, "      2  lock &priv "));
	assert_non_null(strstr(text, "      3  unlock &priv "));
}

static void fill_run(struct diagram_event *ev, size_t n, unsigned int t,
		     unsigned long step0)
{
	static const char *const txt[] = { "a0", "a1", "a2", "a3", "a4",
					   "a5", "a6", "a7", "a8", "a9" };

	for (size_t i = 0; i < n; i++)
		ev[i] = (struct diagram_event)E(step0 + i, t, TR_NOTE, txt[i]);
}

static void test_elide(void **state)
{
	struct diagram_event ev[12];
	struct diagram_opts o = { .max_run = 5 };

	fill_run(ev, 10, 0, 1);
	ev[10] = (struct diagram_event)E(11, 1, TR_FAULT, "fault");
	ev[11] = (struct diagram_event)E(12, 0, TR_PTE, "b");
	assert_int_equal(render(ev, 12, names2, 2, &o), 0);
	expect("   step  T0 main                         | T1 fault\n"
	       "   ----  ------------------------------- | --------\n"
	       "      1  a0                              |\n"
	       "      2  a1                              |\n"
	       "         ... 6 more steps of T0 main ... |\n"
	       "      9  a8                              |\n"
	       "     10  a9                              |\n"
	       "     11                                  | fault\n"
	       "     12  b                               |\n");

	/* the marked row splits the hidden span; a span of one is shown */
	ev[4].marked = true;
	assert_int_equal(render(ev, 10, names2, 2, &o), 0);
	expect("   step  T0 main                         | T1 fault\n"
	       "   ----  ------------------------------- | --------\n"
	       "      1  a0                              |\n"
	       "      2  a1                              |\n"
	       "         ... 2 more steps of T0 main ... |\n"
	       ">>    5  !! a4 !!                        |\n"
	       "         ... 3 more steps of T0 main ... |\n"
	       "      9  a8                              |\n"
	       "     10  a9                              |\n");
	ev[4].marked = false;
	ev[3].marked = true;
	assert_int_equal(render(ev, 10, names2, 2, &o), 0);
	assert_non_null(strstr(text, "\n      3  a2"));
	assert_non_null(strstr(text, "\n>>    4  !! a3 !!"));

	/* a run of exactly max_run is left alone */
	ev[3].marked = false;
	assert_int_equal(render(ev, 5, names2, 2, &o), 0);
	assert_null(strstr(text, "more steps"));
	assert_non_null(strstr(text, "\n      5  a4"));
}

/*
 * Elision folds lock and note rows only: an inv_start, a PTE write or a
 * device access inside a long run stays, splitting the hidden span.
 */
static void test_elide_keeps_key_rows(void **state)
{
	static const enum trace_kind key[] = {
		TR_INV_START, TR_INV_STARTED, TR_INV_END, TR_CALLBACK,	TR_PTE,
		TR_TLB_FLUSH, TR_FAULT,	      TR_DEV_MAP, TR_DEV_ACCESS
	};
	struct diagram_event ev[20];
	struct diagram_opts o = { .max_run = 5 };

	for (size_t k = 0; k < ARRAY_SIZE(key); k++) {
		fill_run(ev, 10, 0, 1);
		fill_run(ev + 10, 10, 0, 11);
		ev[10].kind = key[k];
		ev[10].text = "key";
		ev[14].kind = TR_LOCK;
		ev[14].text = "lock &l";
		assert_int_equal(render(ev, 20, names2, 2, &o), 0);
		assert_non_null(strstr(text, "\n     11  key "));
		assert_null(strstr(text, "lock &l"));
		assert_non_null(
			strstr(text, "... 8 more steps of T0 main ..."));
		assert_non_null(
			strstr(text, "... 7 more steps of T0 main ..."));
	}
	/* two pinned rows in a row, and relevant-only filtering with them */
	fill_run(ev, 10, 0, 1);
	ev[5].kind = TR_INV_START;
	ev[6].kind = TR_PTE;
	o.relevant_only = true;
	assert_int_equal(render(ev, 10, names2, 2, &o), 0);
	expect("   step  T0 main                         | T1 fault\n"
	       "   ----  ------------------------------- | --------\n"
	       "      1  a0                              |\n"
	       "      2  a1                              |\n"
	       "         ... 3 more steps of T0 main ... |\n"
	       "      6  a5                              |\n"
	       "      7  a6                              |\n"
	       "      8  a7                              |\n"
	       "      9  a8                              |\n"
	       "     10  a9                              |\n");
}

static void test_wrap(void **state)
{
	static const struct diagram_event ev[] = {
		E(1, 0, TR_NOTE, "alpha beta gamma delta"),
		E(2, 1, TR_NOTE, "abcdefghijklmnopqrstuvwxyz"),
		M(3, 0, TR_VIOLATION, "stale write va 0x1000"),
	};
	struct diagram_opts o = { .max_width = 12 };

	assert_int_equal(render(ev, 3, names2, 2, &o), 0);
	expect("   step  T0 main      | T1 fault\n"
	       "   ----  ------------ | ------------\n"
	       "      1  alpha beta   |\n"
	       "         gamma delta  |\n"
	       "      2               | abcdefghijkl\n"
	       "                      | mnopqrstuvwx\n"
	       "                      | yz\n"
	       ">>    3  !! stale     |\n"
	       "         write va     |\n"
	       "         0x1000 !!    |\n");

	o.max_lines = 1;
	assert_int_equal(render(ev, 3, names2, 2, &o), 0);
	expect("   step  T0 main      | T1 fault\n"
	       "   ----  ------------ | ------------\n"
	       "      1  alpha bet... |\n"
	       "      2               | abcdefghi...\n"
	       ">>    3  !! sta... !! |\n");
}

static void test_control_chars(void **state)
{
	static const struct diagram_event ev[] = {
		E(1, 0, TR_NOTE, "a\tb\nc"),
	};

	assert_int_equal(render(ev, 1, NULL, 1, NULL), 0);
	expect("   step  T0\n"
	       "   ----  -----\n"
	       "      1  a b c\n");
}

static void test_errors(void **state)
{
	static const struct diagram_event bad[] = {
		E(1, 2, TR_NOTE, "x"),
	};
	struct diagram_event null_text = E(1, 0, TR_NOTE, NULL);

	assert_int_equal(render(bad, 1, names2, 2, NULL), -EINVAL);
	assert_string_equal(text, "");
	assert_int_equal(render(&null_text, 1, names2, 2, NULL), -EINVAL);
	assert_int_equal(render(NULL, 1, names2, 2, NULL), -EINVAL);
	assert_int_equal(render(bad, 1, names2, 0, NULL), -EINVAL);
	assert_int_equal(diagram_render(NULL, bad, 1, names2, 3, NULL),
			 -EINVAL);
	/* no events: just the header */
	assert_int_equal(render(NULL, 0, names2, 2, NULL), 0);
	expect("   step  T0 main | T1 fault\n"
	       "   ----  ------- | --------\n");
	assert_true(diagram_kind_relevant(TR_VIOLATION));
	assert_false(diagram_kind_relevant(TR__NR));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_default_names),
		cmocka_unit_test(test_relevant_locks),
		cmocka_unit_test(test_elide),
		cmocka_unit_test(test_elide_keeps_key_rows),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_control_chars),
		cmocka_unit_test(test_errors),
	};
	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	free(text);
	return ret;
}
