// SPDX-License-Identifier: MIT
/*
 * Interval tree: a randomized property test against a brute-force scan of
 * the same set, plus the edge cases named in interval_tree.h.
 *
 * The property: for every query [s, l], interval_tree_for_each() yields
 * exactly the nodes in the reference set that overlap [s, l], each once,
 * in (start, insertion order) order.  It is checked by requiring the
 * yielded sequence to be strictly increasing in (start, seq), every yielded
 * node to be live and overlapping, and the count to equal the brute-force
 * count: together these force the same set in the one correct order.
 * Every VALIDATE_EVERY operations the whole tree is checked: red-black
 * invariants, parent pointers, in-order (start, seq), the leftmost cache,
 * the live count, and __subtree_last == max(last) of the subtree at every
 * node.  Each seed runs at least 100,000 mixed operations; the seed and
 * the operation number are printed on any failure.
 */
#include "test_util.h"
#include <limits.h>
#include <mmirror/interval_tree.h>

#define VALIDATE_EVERY 397
#define BASE_OPS 100000

struct tnode {
	struct interval_tree_node it;
	u64 seq; /* insertion number: equal starts iterate in this order */
	bool in; /* reference: is it in the tree? */
};

static u64 cur_seed;
static long cur_op;

#define IT_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond))                                                   \
			fail_msg("seed %llu op %ld: %s",                       \
				 (unsigned long long)cur_seed, cur_op, #cond); \
	} while (0)

static struct tnode *tn(const struct interval_tree_node *it)
{
	return container_of(it, struct tnode, it);
}

static struct tnode *rbtn(const struct rb_node *rb)
{
	return tn(rb_entry(rb, struct interval_tree_node, rb));
}

static bool overlaps(const struct interval_tree_node *n, unsigned long s,
		     unsigned long l)
{
	return n->start <= l && s <= n->last;
}

/* (start, seq) strictly increasing */
static bool before(const struct tnode *a, const struct tnode *b)
{
	if (a->it.start != b->it.start)
		return a->it.start < b->it.start;
	return a->seq < b->seq;
}

/* ---- whole-tree validator ---- */

struct vstate {
	const struct tnode *prev;
	size_t count;
};

/* Returns the black height; *maxlast gets the subtree's max(last). */
static int validate_sub(const struct rb_node *rb, const struct rb_node *parent,
			struct vstate *vs, unsigned long *maxlast)
{
	unsigned long lmax = 0, rmax = 0, m;
	const struct tnode *n;
	int lh, rh;

	if (!rb)
		return 1;
	n = rbtn(rb);
	IT_CHECK(rb_parent(rb) == parent);
	IT_CHECK(n->in);
	IT_CHECK(!RB_EMPTY_NODE(rb));
	if (rb_is_red(rb)) {
		IT_CHECK(!rb->rb_left || rb_is_black(rb->rb_left));
		IT_CHECK(!rb->rb_right || rb_is_black(rb->rb_right));
	}
	lh = validate_sub(rb->rb_left, rb, vs, &lmax);
	if (vs->prev)
		IT_CHECK(before(vs->prev, n));
	vs->prev = n;
	vs->count++;
	rh = validate_sub(rb->rb_right, rb, vs, &rmax);
	IT_CHECK(lh == rh);
	m = n->it.last;
	if (rb->rb_left && lmax > m)
		m = lmax;
	if (rb->rb_right && rmax > m)
		m = rmax;
	IT_CHECK(n->it.__subtree_last == m);
	*maxlast = m;
	return lh + rb_is_black(rb);
}

static void validate(const struct rb_root_cached *root, size_t live)
{
	struct vstate vs = { 0 };
	unsigned long m;

	if (root->rb_root.rb_node)
		IT_CHECK(rb_is_black(root->rb_root.rb_node));
	validate_sub(root->rb_root.rb_node, NULL, &vs, &m);
	IT_CHECK(vs.count == live);
	IT_CHECK(root->rb_leftmost == rb_first(&root->rb_root));
}

/* ---- one query, checked against brute force ---- */

static size_t check_query(const struct rb_root_cached *root,
			  const struct tnode *pool, size_t npool,
			  unsigned long s, unsigned long l)
{
	struct interval_tree_node *it;
	const struct tnode *prev = NULL;
	size_t got = 0, want = 0;

	interval_tree_for_each(it, root, s, l) {
		const struct tnode *n = tn(it);

		IT_CHECK(n >= pool && n < pool + npool);
		IT_CHECK(n->in);
		IT_CHECK(overlaps(it, s, l));
		if (prev)
			IT_CHECK(before(prev, n));
		prev = n;
		got++;
		IT_CHECK(got <= npool);
	}
	for (size_t i = 0; i < npool; i++)
		if (pool[i].in && overlaps(&pool[i].it, s, l))
			want++;
	if (got != want)
		fail_msg(
			"seed %llu op %ld: query [%#lx, %#lx] got %zu want %zu",
			(unsigned long long)cur_seed, cur_op, s, l, got, want);
	return got;
}

/* ---- random shapes ---- */

enum universe {
	U_TINY, /* [0, 63]: duplicates, shared endpoints, points */
	U_SMALL, /* [0, 4095], short intervals */
	U_PAGES, /* page-aligned in a 47-bit space, mixed sizes, like VMAs */
	U_FULL, /* all of unsigned long, with 0 and ULONG_MAX edges */
};

static unsigned long rand_point(u64 *rng, enum universe u)
{
	switch (u) {
	case U_TINY:
		return test_rand(rng) % 64;
	case U_SMALL:
		return test_rand(rng) % 4096;
	case U_PAGES:
		return (test_rand(rng) % (1UL << 35)) << 12;
	default:
		switch (test_rand(rng) % 8) {
		case 0:
			return test_rand(rng) % 16;
		case 1:
			return ULONG_MAX - test_rand(rng) % 16;
		default:
			return test_rand(rng);
		}
	}
}

/* A random valid interval; sometimes a point, sometimes everything. */
static void rand_interval(u64 *rng, enum universe u, unsigned long *s,
			  unsigned long *l)
{
	unsigned long a = rand_point(rng, u), len;
	unsigned r = test_rand(rng) % 1000;

	if (r < 1) {
		*s = 0;
		*l = ULONG_MAX;
		return;
	}
	if (r < 200) { /* point interval */
		*s = *l = a;
		return;
	}
	switch (u) {
	case U_TINY:
		len = test_rand(rng) % 16;
		break;
	case U_SMALL:
		len = test_rand(rng) % (r < 600 ? 8 : 64);
		break;
	case U_PAGES:
		/* 1 page .. 2^20 pages, log-uniform; end on a page. */
		len = ((1UL << (test_rand(rng) % 21)) << 12) - 1;
		break;
	default:
		len = test_rand(rng) >> (4 + test_rand(rng) % 60);
		break;
	}
	*s = a;
	*l = a > ULONG_MAX - len ? ULONG_MAX : a + len;
}

static struct tnode *random_live(u64 *rng, struct tnode *pool, size_t npool)
{
	for (int tries = 0; tries < 8; tries++) {
		struct tnode *n = &pool[test_rand(rng) % npool];

		if (n->in)
			return n;
	}
	return NULL;
}

/* A query; half of them aimed at the endpoints of live nodes. */
static void rand_query(u64 *rng, enum universe u, struct tnode *pool,
		       size_t npool, unsigned long *s, unsigned long *l)
{
	struct tnode *n = random_live(rng, pool, npool);
	unsigned r = test_rand(rng) % 100;
	/* A distance, drawn once: min() evaluates its arguments twice. */
	unsigned long d = test_rand(rng) % 64;

	if (!n || r < 40) {
		rand_interval(rng, u, s, l);
		return;
	}
	if (r < 45) {
		*s = 0;
		*l = ULONG_MAX;
	} else if (r < 55) { /* the point at start / at last */
		*s = *l = n->it.start;
	} else if (r < 65) {
		*s = *l = n->it.last;
	} else if (r < 75) { /* ends exactly at n's start */
		*l = n->it.start;
		*s = *l - min(*l, d);
	} else if (r < 85) { /* starts exactly at n's last */
		*s = n->it.last;
		*l = *s + min(ULONG_MAX - *s, d);
	} else if (r < 92 && n->it.start > 0) { /* ends just before n */
		*l = n->it.start - 1;
		*s = *l - min(*l, d);
	} else if (n->it.last < ULONG_MAX) { /* starts just after n */
		*s = n->it.last + 1;
		*l = *s + min(ULONG_MAX - *s, d);
	} else {
		*s = *l = n->it.last;
	}
}

struct run_stats {
	long inserts, removes, queries, hits, refused;
};

static void run_seed(u64 seed, size_t npool, enum universe u, long ops)
{
	struct tnode *pool = calloc(npool, sizeof(*pool));
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct run_stats st = { 0 };
	u64 rng = seed, seq = 0;
	size_t live = 0;

	assert_non_null(pool);
	for (size_t i = 0; i < npool; i++)
		interval_tree_node_init(&pool[i].it);
	cur_seed = seed;
	mm_warn_set_quiet(true);
	for (cur_op = 0; cur_op < ops; cur_op++) {
		unsigned r = test_rand(&rng) % 100;
		/* Drift between filling and draining the pool. */
		unsigned fill = (cur_op / 5000) % 2 ? 25 : 50;
		struct tnode *n = &pool[test_rand(&rng) % npool];
		unsigned long s, l;

		if (r < fill && !n->in) {
			rand_interval(&rng, u, &s, &l);
			if (test_rand(&rng) % 100 == 0) {
				/* start > last is refused, tree untouched */
				unsigned long w = mm_warn_count();

				if (s == l)
					l = s == 0 ? 1 : s - 1;
				n->it.start = s > l ? s : l;
				n->it.last = s > l ? l : s;
				IT_CHECK(interval_tree_insert(&n->it, &root) ==
					 -EINVAL);
				IT_CHECK(mm_warn_count() == w + 1);
				IT_CHECK(!interval_tree_node_inserted(&n->it));
				st.refused++;
				continue;
			}
			n->it.start = s;
			n->it.last = l;
			n->seq = seq++;
			IT_CHECK(interval_tree_insert(&n->it, &root) == 0);
			IT_CHECK(interval_tree_node_inserted(&n->it));
			n->in = true;
			live++;
			st.inserts++;
		} else if (r < 60 && n->in) {
			IT_CHECK(interval_tree_remove(&n->it, &root) == 0);
			IT_CHECK(!interval_tree_node_inserted(&n->it));
			n->in = false;
			live--;
			st.removes++;
		} else if (r < 61 && !n->in) {
			/* removing a node that is in no tree is refused */
			unsigned long w = mm_warn_count();

			IT_CHECK(interval_tree_remove(&n->it, &root) ==
				 -ENOENT);
			IT_CHECK(mm_warn_count() == w + 1);
		} else {
			rand_query(&rng, u, pool, npool, &s, &l);
			st.hits += check_query(&root, pool, npool, s, l) != 0;
			st.queries++;
		}
		if (cur_op % VALIDATE_EVERY == 0)
			validate(&root, live);
	}
	validate(&root, live);
	mm_warn_set_quiet(false);
	/* The mix really exercised all paths. */
	IT_CHECK(st.inserts > ops / 10 && st.removes > ops / 10);
	IT_CHECK(st.queries > ops / 10 && st.refused > 0);
	IT_CHECK(st.hits > st.queries / 10);
	IT_CHECK(st.queries - st.hits > st.queries / 100);
	free(pool);
}

/* Four fixed seeds, each its own universe, BASE_OPS operations each. */
static void test_property(void **state)
{
	run_seed(0x1badb002, 64, U_TINY, BASE_OPS);
	run_seed(0xc0ffee, 700, U_SMALL, BASE_OPS);
	run_seed(0x5eed0001, 2000, U_PAGES, BASE_OPS);
	run_seed(0x0ddba11, 1500, U_FULL, BASE_OPS);
}

/* More seeds; these are the iterations sanitizer builds shorten. */
static void test_property_extra(void **state)
{
	run_seed(17, 16, U_TINY, TEST_SCALE(BASE_OPS));
	run_seed(18, 300, U_SMALL, TEST_SCALE(BASE_OPS));
	run_seed(19, 4000, U_PAGES, TEST_SCALE(BASE_OPS));
	run_seed(20, 200, U_FULL, TEST_SCALE(BASE_OPS));
}

/* ---- edge cases ---- */

static void set(struct tnode *n, unsigned long s, unsigned long l, u64 seq)
{
	n->it.start = s;
	n->it.last = l;
	n->seq = seq;
	n->in = true;
}

static size_t count(const struct rb_root_cached *root, unsigned long s,
		    unsigned long l)
{
	struct interval_tree_node *it;
	size_t c = 0;

	interval_tree_for_each(it, root, s, l)
		c++;
	return c;
}

static void test_empty_tree(void **state)
{
	struct rb_root_cached root = RB_ROOT_CACHED;

	assert_null(interval_tree_iter_first(&root, 0, ULONG_MAX));
	assert_null(interval_tree_iter_first(&root, 5, 5));
	assert_int_equal(count(&root, 0, 0), 0);
}

/* Closed intervals: touching an endpoint overlaps, one past does not. */
static void test_endpoints(void **state)
{
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct tnode a = { 0 }, p = { 0 };

	set(&a, 10, 20, 0);
	set(&p, 30, 30, 1);
	assert_int_equal(interval_tree_insert(&a.it, &root), 0);
	assert_int_equal(interval_tree_insert(&p.it, &root), 0);

	assert_ptr_equal(interval_tree_iter_first(&root, 20, 25), &a.it);
	assert_ptr_equal(interval_tree_iter_first(&root, 0, 10), &a.it);
	assert_ptr_equal(interval_tree_iter_first(&root, 10, 10), &a.it);
	assert_ptr_equal(interval_tree_iter_first(&root, 20, 20), &a.it);
	assert_ptr_equal(interval_tree_iter_first(&root, 15, 15), &a.it);
	assert_null(interval_tree_iter_first(&root, 21, 29));
	assert_null(interval_tree_iter_first(&root, 0, 9));
	assert_null(interval_tree_iter_first(&root, 31, ULONG_MAX));
	assert_ptr_equal(interval_tree_iter_first(&root, 30, 30), &p.it);
	assert_ptr_equal(interval_tree_iter_first(&root, 21, 30), &p.it);
	assert_ptr_equal(interval_tree_iter_first(&root, 30, ULONG_MAX), &p.it);
	assert_null(interval_tree_iter_next(&p.it, 30, 30));
	/* Both, in start order. */
	assert_ptr_equal(interval_tree_iter_first(&root, 20, 30), &a.it);
	assert_ptr_equal(interval_tree_iter_next(&a.it, 20, 30), &p.it);
	assert_null(interval_tree_iter_next(&p.it, 20, 30));
}

/* Points and the whole space, including both ends of unsigned long. */
static void test_point_and_full_range(void **state)
{
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct tnode all = { 0 }, zero = { 0 }, top = { 0 }, mid = { 0 };

	set(&zero, 0, 0, 0);
	set(&top, ULONG_MAX, ULONG_MAX, 1);
	set(&mid, 1UL << 40, (1UL << 40) + 4095, 2);
	assert_int_equal(interval_tree_insert(&zero.it, &root), 0);
	assert_int_equal(interval_tree_insert(&top.it, &root), 0);
	assert_int_equal(interval_tree_insert(&mid.it, &root), 0);
	assert_int_equal(count(&root, 0, ULONG_MAX), 3);
	assert_int_equal(count(&root, 1, ULONG_MAX - 1), 1);
	assert_int_equal(count(&root, ULONG_MAX, ULONG_MAX), 1);
	assert_int_equal(count(&root, 0, 0), 1);

	set(&all, 0, ULONG_MAX, 3);
	assert_int_equal(interval_tree_insert(&all.it, &root), 0);
	assert_int_equal(all.it.__subtree_last, ULONG_MAX);
	assert_int_equal(count(&root, 1, 1), 1);
	assert_ptr_equal(interval_tree_iter_first(&root, 1, 1), &all.it);
	/* [0,0] then [0,ULONG_MAX]: equal starts in insertion order. */
	assert_ptr_equal(interval_tree_iter_first(&root, 0, 0), &zero.it);
	assert_ptr_equal(interval_tree_iter_next(&zero.it, 0, 0), &all.it);
	assert_int_equal(count(&root, ULONG_MAX, ULONG_MAX), 2);
	assert_int_equal(count(&root, 0, ULONG_MAX), 4);
	validate(&root, 4);

	assert_int_equal(interval_tree_remove(&all.it, &root), 0);
	assert_int_equal(count(&root, 1, 1), 0);
	assert_int_equal(count(&root, 0, ULONG_MAX), 3);
	validate(&root, 3);
}

/* Many identical intervals and identical starts. */
static void test_duplicates(void **state)
{
	enum { N = 3000 };
	struct tnode *pool = calloc(N, sizeof(*pool));
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct interval_tree_node *it;
	size_t live = N;
	u64 prev;

	assert_non_null(pool);
	cur_seed = 0;
	for (int i = 0; i < N; i++) {
		/* [100,200] and [100,100] alternate; a third are [50,300]. */
		if (i % 3 == 2)
			set(&pool[i], 50, 300, i);
		else
			set(&pool[i], 100, i % 3 ? 200 : 100, i);
		assert_int_equal(interval_tree_insert(&pool[i].it, &root), 0);
	}
	validate(&root, live);
	assert_int_equal(count(&root, 150, 150), N / 3 * 2);
	assert_int_equal(count(&root, 100, 100), N);
	assert_int_equal(count(&root, 201, 300), N / 3);
	assert_int_equal(count(&root, 301, ULONG_MAX), 0);
	assert_int_equal(count(&root, 0, 49), 0);

	/* Order: [50,300] first, then start 100 in insertion order. */
	prev = 0;
	bool in_100 = false;
	interval_tree_for_each(it, &root, 100, 100) {
		if (it->start == 100) {
			if (in_100)
				assert_true(tn(it)->seq > prev);
			in_100 = true;
			prev = tn(it)->seq;
		} else {
			assert_false(in_100);
		}
	}

	/* Remove every other one, check all the same queries. */
	for (int i = 0; i < N; i += 2) {
		assert_int_equal(interval_tree_remove(&pool[i].it, &root), 0);
		pool[i].in = false;
		live--;
	}
	validate(&root, live);
	check_query(&root, pool, N, 150, 150);
	check_query(&root, pool, N, 100, 100);
	check_query(&root, pool, N, 0, ULONG_MAX);
	check_query(&root, pool, N, 300, 300);
	free(pool);
}

/* start > last is refused loudly, never inserted or answered. */
static void test_invalid(void **state)
{
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct tnode bad = { 0 }, good = { 0 };
	unsigned long w = mm_warn_count();

	set(&good, 5, 10, 0);
	assert_int_equal(interval_tree_insert(&good.it, &root), 0);

	mm_warn_set_quiet(true);
	set(&bad, 10, 5, 1);
	assert_int_equal(interval_tree_insert(&bad.it, &root), -EINVAL);
	assert_false(interval_tree_node_inserted(&bad.it));
	assert_int_equal(count(&root, 0, ULONG_MAX), 1);
	/* And removing what was refused is refused too. */
	assert_int_equal(interval_tree_remove(&bad.it, &root), -ENOENT);
	set(&bad, ULONG_MAX, 0, 1);
	assert_int_equal(interval_tree_insert(&bad.it, &root), -EINVAL);
	assert_int_equal(interval_tree_insert(NULL, &root), -EINVAL);
	assert_int_equal(interval_tree_insert(&bad.it, NULL), -EINVAL);
	assert_int_equal(interval_tree_remove(NULL, &root), -EINVAL);
	/* An inverted query warns and reports nothing. */
	assert_null(interval_tree_iter_first(&root, 10, 5));
	assert_null(interval_tree_iter_first(NULL, 0, 1));
	assert_null(interval_tree_iter_next(&good.it, 10, 5));
	assert_null(interval_tree_iter_next(NULL, 0, 1));
	/* Double remove. */
	assert_int_equal(interval_tree_remove(&good.it, &root), 0);
	assert_int_equal(interval_tree_remove(&good.it, &root), -ENOENT);
	mm_warn_set_quiet(false);
	assert_int_equal(mm_warn_count() - w, 11);
	assert_true(RB_EMPTY_ROOT(&root.rb_root));
	assert_null(root.rb_leftmost);
}

/* The _safe iterator lets the body remove the current node. */
static void test_for_each_safe_remove(void **state)
{
	enum { N = 2000 };
	struct tnode *pool = calloc(N, sizeof(*pool));
	struct rb_root_cached root = RB_ROOT_CACHED;
	struct interval_tree_node *it, *tmp;
	u64 rng = 4242;
	size_t live = N, removed = 0, want = 0;
	const unsigned long s = 1000, l = 3000;

	assert_non_null(pool);
	cur_seed = rng;
	for (int i = 0; i < N; i++) {
		unsigned long a = test_rand(&rng) % 10000;

		set(&pool[i], a, a + test_rand(&rng) % 300, i);
		interval_tree_insert(&pool[i].it, &root);
		want += overlaps(&pool[i].it, s, l);
	}
	interval_tree_for_each_safe(it, tmp, &root, s, l)
	{
		assert_int_equal(interval_tree_remove(it, &root), 0);
		tn(it)->in = false;
		removed++;
		live--;
	}
	assert_int_equal(removed, want);
	validate(&root, live);
	assert_int_equal(count(&root, s, l), 0);
	check_query(&root, pool, N, 0, ULONG_MAX);
	free(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_tree),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_point_and_full_range),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_for_each_safe_remove),
		cmocka_unit_test(test_property),
		cmocka_unit_test(test_property_extra),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
