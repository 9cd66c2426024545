// SPDX-License-Identifier: MIT
/*
 * A pinning device (drivers/pin: FOLL_LONGTERM pins, vfio-style and with
 * hfi1's notifier cache) registering memory that sits in ZONE_MOVABLE
 * while a mirror device (drivers/mirror) reads and writes the same range.
 * GUP migrates every page out before pinning it: under the oracle, no
 * device access goes through a translation of an old frame and no write
 * is lost on the way (the lost-write shadow follows the copy); the data
 * is intact for the CPU and both devices, the pins hold ZONE_NORMAL
 * frames, and every frame, pin, object and mm is back at the end.
 */
#include "mirror_util.h"
#include <mmirror/gup.h>
#include <mmirror/kthread.h>
#include <mmirror/migrate.h>
#include <mmirror/wait.h>
#include <pin/pin.h>

#define NP 16
#define HALF (NP / 2 * P)
#define ROUNDS TEST_SCALE(200)
#define MOVABLE_NR 2048UL

/* The mirror device at work while the pin is taken. */
struct dev_work {
	struct dmirror *dm;
	unsigned long va; /* first half: read tag 1; second: write 1.. */
	long errors;
	unsigned int last_tag; /* release store; acquire load in the waiter */
};

/* The register waits for the device's first round: they overlap. */
static DECLARE_WAIT_QUEUE_HEAD(dev_work_wq);

static int dev_work_fn(void *arg)
{
	struct dev_work *w = arg;
	unsigned char *buf = malloc(HALF);

	CHECK(buf);
	for (unsigned int tag = 1; tag <= ROUNDS; tag++) {
		if (dmirror_read(w->dm, w->va, buf, HALF) ||
		    !pat_ok(buf, w->va, HALF, 1))
			w->errors++;
		pat_fill(buf, w->va + HALF, HALF, tag);
		if (dmirror_write(w->dm, w->va + HALF, buf, HALF))
			w->errors++;
		memset(buf, 0, HALF);
		if (dmirror_read(w->dm, w->va + HALF, buf, HALF) ||
		    !pat_ok(buf, w->va + HALF, HALF, tag))
			w->errors++;
		__atomic_store_n(&w->last_tag, tag, __ATOMIC_RELEASE);
		wake_up(&dev_work_wq);
	}
	free(buf);
	return 0;
}

static struct scen s;

static int setup_region(unsigned long nr)
{
	__free_page(alloc_page(GFP_KERNEL)); /* memory exists */
	assert_int_equal(mem_set_movable(nr), 0);
	scen_setup(&s, 2);
	return 0;
}

static int setup(void **state)
{
	return setup_region(MOVABLE_NR);
}

static int setup_no_region(void **state)
{
	return setup_region(0);
}

static int teardown(void **state)
{
	scen_teardown(&s);
	/* Only with every frame free: proves none leaked either. */
	assert_int_equal(mem_set_movable(0), 0);
	return 0;
}

static unsigned long migrated(void)
{
	struct vm_migrate_stat st;

	vm_migrate_stat(&st);
	return st.succeeded;
}

/* The device's DMA reads [va, va + len): pattern @tag. */
static void dma_expect(struct pin_region *r, unsigned long va, size_t len,
		       unsigned int tag)
{
	unsigned char *buf = malloc(len);

	assert_non_null(buf);
	assert_int_equal(pindev_dma_read(r, va, buf, len), 0);
	assert_true(pat_ok(buf, va, len, tag));
	free(buf);
}

static void dma_write_pat(struct pin_region *r, unsigned long va, size_t len,
			  unsigned int tag)
{
	unsigned char *buf = malloc(len);

	assert_non_null(buf);
	pat_fill(buf, va, len, tag);
	assert_int_equal(pindev_dma_write(r, va, buf, len), 0);
	free(buf);
}

/* Register [a, a + NP pages) on a new pin device while the mirror works. */
static struct pin_region *register_busy(struct pindev *dev, long a,
					struct dev_work *w)
{
	struct pin_region *r;
	struct task_struct *t;

	*w = (struct dev_work){ .dm = s.dm, .va = a };
	t = kthread_run(dev_work_fn, w, "mirror-dev");
	assert_false(IS_ERR(t));
	wait_event(dev_work_wq,
		   __atomic_load_n(&w->last_tag, __ATOMIC_ACQUIRE) > 0);
	r = pindev_register(dev, s.mm, a, NP * P);
	assert_int_equal(kthread_join(t), 0);
	assert_false(IS_ERR(r));
	assert_int_equal(w->errors, 0);
	assert_int_equal(w->last_tag, ROUNDS);
	return r;
}

/* Both devices and the CPU agree on the range after the pin. */
static void check_coherent(struct pin_region *r, long a, unsigned int tag2)
{
	dma_expect(r, a, HALF, 1);
	dma_expect(r, a + HALF, HALF, tag2);
	cpu_expect(s.cpu, a, HALF, 1);
	cpu_expect(s.cpu, a + HALF, HALF, tag2);
	/* A DMA write is seen by the CPU and by the mirror device: neither
	 * may still use a translation of an old frame. */
	dma_write_pat(r, a, NP * P, 7);
	cpu_expect(s.cpu, a, NP * P, 7);
	dev_expect(s.dm, a, NP * P, 7);
	dev_write_pat(s.dm, a + P, P, 8);
	dma_expect(r, a + P, P, 8);
}

static void run(unsigned int flags, bool region)
{
	struct pindev *dev = pindev_create("pin", flags);
	unsigned long old[NP], moved = migrated();
	struct pin_region *r;
	struct dev_work w;
	long a;

	assert_false(IS_ERR(dev));
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, a, NP * P, 1);
	dev_expect(s.dm, a, NP * P, 1); /* the mirror maps the frames */
	for (int i = 0; i < NP; i++) {
		old[i] = test_pfn_at(s.mm, a + i * P, NULL);
		assert_int_equal(page_is_movable(pfn_to_page(old[i])), region);
	}
	r = register_busy(dev, a, &w);
	assert_int_equal(pindev_region_pinned(r), NP);
	for (int i = 0; i < NP; i++) {
		struct page *p =
			pfn_to_page(test_pfn_at(s.mm, a + i * P, NULL));

		assert_false(page_is_movable(p));
		assert_int_equal(folio_pincount(p), 1);
		if (!region)
			assert_int_equal(page_to_pfn(p), old[i]);
	}
	if (region)
		assert_true(migrated() - moved >= NP);
	check_coherent(r, a, w.last_tag);
	pindev_deregister(r);
	pindev_destroy(dev);
	for (int i = 0; i < NP; i++)
		assert_int_equal(folio_pincount(pfn_to_page(
					 test_pfn_at(s.mm, a + i * P, NULL))),
				 0);
	vm_munmap(s.mm, a, NP * P);
}

/* vfio-style: pin_user_pages(FOLL_WRITE | FOLL_LONGTERM) at register. */
static void test_plain_pin_moves(void **state)
{
	run(0, true);
}

/*
 * hfi1-style cache: the region's interval notifier sees the
 * MMU_NOTIFY_MIGRATE invalidations its own pin caused; the collision
 * retry pins again, and the second pin finds ZONE_NORMAL frames.
 */
static void test_cache_pin_moves(void **state)
{
	run(PINDEV_CACHE, true);
}

/* Without a movable region nothing moves. */
static void test_no_region(void **state)
{
	unsigned long moved = migrated();

	run(0, false);
	assert_int_equal(migrated(), moved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain_pin_moves, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cache_pin_moves, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_region, setup_no_region,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
