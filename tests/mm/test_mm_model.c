// SPDX-License-Identifier: MIT
/*
 * Property test of the host MMU against a plain reference model.
 *
 * Random sequences of mmap / munmap / mprotect / madvise / mremap / fork /
 * exit and CPU loads and stores run on up to four processes (mm + CPU
 * each), all inside a 32 MiB window of their address spaces.  The model
 * knows, for every page of every process, whether it is mapped, with which
 * protection, private or backed by which shared object, and the value of
 * four probe words in it.  After every step, loads of random probes (and
 * every 64 steps, of all of them) must return what the model says, and
 * every access must succeed or fail (-EFAULT, -EACCES) exactly as the model
 * predicts.  At the end every frame and object is back.
 *
 * VMA boundaries are invisible to the model, so operations that need "one
 * VMA" (mremap, mprotect, madvise) pick a run of pages that one operation
 * created: every operation gives its pages a fresh id, so a run of equal
 * ids has never been split and lies inside a single VMA.
 */
#include "test_util.h"
#include <mmirror/cpu.h>
#include <mmirror/mm.h>

#define WBASE 0x10000000000UL /* 1 TiB, 1 GiB aligned */
#define NPG 8192 /* 32 MiB window */
#define SLOTS 4
#define MAXPROC 4
#define MAXOBJ 512

static const unsigned slot_off[SLOTS] = { 0, 1032, 2064, 4088 };

enum { UNMAPPED, PRIVATE, SHARED };

struct mproc {
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	unsigned char kind[NPG], prot[NPG];
	unsigned int id[NPG];
	int obj[NPG];
	unsigned int objpg[NPG];
	u64 val[NPG][SLOTS]; /* private contents */
};

struct mobj {
	unsigned int npages;
	u64 *val; /* [npages][SLOTS] */
};

static struct mproc *procs[MAXPROC];
static int nprocs;
static struct mobj objs[MAXOBJ];
static int nobjs;
static unsigned int next_id = 1;
static uint64_t rng;
static unsigned long st_ok, st_fault, st_acc, st_ops[8];

static unsigned long va_of(long pg)
{
	return WBASE + pg * PAGE_SIZE;
}

static unsigned long rnd(unsigned long n)
{
	return n ? test_rand(&rng) % n : 0;
}

/* --- the model ------------------------------------------------------------- */

static u64 *model_slot(struct mproc *p, long pg, int s)
{
	if (p->kind[pg] == SHARED) {
		struct mobj *o = &objs[p->obj[pg]];

		assert_true(p->objpg[pg] < o->npages);
		return &o->val[p->objpg[pg] * SLOTS + s];
	}
	return &p->val[pg][s];
}

static void model_unmap(struct mproc *p, long pg, long n)
{
	for (long i = pg; i < pg + n; i++) {
		p->kind[i] = UNMAPPED;
		memset(p->val[i], 0, sizeof(p->val[i]));
	}
}

static int new_obj(unsigned int npages)
{
	assert_true(nobjs < MAXOBJ);
	objs[nobjs].npages = npages;
	objs[nobjs].val = calloc((size_t)npages * SLOTS, sizeof(u64));
	return nobjs++;
}

static void grow_obj(int o, unsigned int npages)
{
	if (npages <= objs[o].npages)
		return;
	objs[o].val = realloc(objs[o].val, (size_t)npages * SLOTS * 8);
	memset(objs[o].val + (size_t)objs[o].npages * SLOTS, 0,
	       (size_t)(npages - objs[o].npages) * SLOTS * 8);
	objs[o].npages = npages;
}

/* The expected result of an access. */
static int model_access(struct mproc *p, long pg, bool write)
{
	if (p->kind[pg] == UNMAPPED)
		return -EFAULT;
	if (!(p->prot[pg] & (write ? PROT_WRITE : PROT_READ)))
		return -EACCES;
	return 0;
}

/* A run of pages that one operation created: inside one VMA. */
static bool pick_run(struct mproc *p, long *start, long *n)
{
	for (int tries = 0; tries < 32; tries++) {
		long pg = rnd(NPG), s = pg, e = pg + 1;

		if (p->kind[pg] == UNMAPPED)
			continue;
		while (s > 0 && p->kind[s - 1] != UNMAPPED &&
		       p->id[s - 1] == p->id[pg])
			s--;
		while (e < NPG && p->kind[e] != UNMAPPED &&
		       p->id[e] == p->id[pg])
			e++;
		/* A random sub-run. */
		*start = s + rnd(e - s);
		*n = 1 + rnd(e - *start);
		return true;
	}
	return false;
}

static void renumber(struct mproc *p, long pg, long n)
{
	unsigned int id = next_id++;

	for (long i = pg; i < pg + n; i++)
		p->id[i] = id;
}

/* --- checking ------------------------------------------------------------------ */

static void check_probe(struct mproc *p, long pg, int s, const char *why)
{
	int expect = model_access(p, pg, false);
	u64 v = 0;
	int ret = cpu_load_u64(p->cpu, va_of(pg) + slot_off[s], &v);

	if (ret != expect || (!ret && v != *model_slot(p, pg, s))) {
		fprintf(stderr,
			"model mismatch after %s: page %ld slot %d: ret %d "
			"(want %d) value %#llx (want %#llx)\n",
			why, pg, s, ret, expect, (unsigned long long)v,
			(unsigned long long)(expect ? 0 :
						      *model_slot(p, pg, s)));
		fail();
	}
}

static void check_all(const char *why)
{
	for (int i = 0; i < nprocs; i++)
		for (long pg = 0; pg < NPG; pg++)
			for (int s = 0; s < SLOTS; s++)
				if (procs[i]->kind[pg] != UNMAPPED || !s)
					check_probe(procs[i], pg, s, why);
}

static void check_some(const char *why)
{
	for (int i = 0; i < nprocs; i++)
		for (int k = 0; k < 16; k++)
			check_probe(procs[i], rnd(NPG), rnd(SLOTS), why);
}

/* --- operations ------------------------------------------------------------------ */

static unsigned long rnd_prot(void)
{
	static const unsigned long prots[] = { PROT_READ | PROT_WRITE,
					       PROT_READ | PROT_WRITE,
					       PROT_READ | PROT_WRITE,
					       PROT_READ, PROT_NONE };

	return prots[rnd(ARRAY_SIZE(prots))];
}

static long rnd_len(void)
{
	switch (rnd(8)) {
	case 0:
		return 512; /* a huge page's worth */
	case 1:
		return 513 + rnd(600);
	default:
		return 1 + rnd(48);
	}
}

static void op_mmap(struct mproc *p)
{
	long n = rnd_len();
	long pg = rnd(NPG - n);
	unsigned long prot = rnd_prot();
	bool shared = !rnd(4), noreplace = !rnd(8), populate = !rnd(8);
	unsigned long flags = MAP_ANONYMOUS | MAP_FIXED |
			      (shared ? MAP_SHARED : MAP_PRIVATE) |
			      (populate ? MAP_POPULATE : 0);
	bool busy = false;
	long ret;

	if (!rnd(3))
		pg &= ~511L; /* 2 MiB aligned: room for huge pages */
	if (noreplace) {
		flags = (flags & ~MAP_FIXED) | MAP_FIXED_NOREPLACE;
		for (long i = pg; i < pg + n; i++)
			busy |= p->kind[i] != UNMAPPED;
	}
	ret = vm_mmap(p->mm, va_of(pg), n * PAGE_SIZE, prot, flags);
	if (busy) {
		assert_int_equal(ret, -EEXIST);
		return;
	}
	assert_int_equal(ret, (long)va_of(pg));
	model_unmap(p, pg, n);
	int o = shared ? new_obj(n) : -1;
	unsigned int id = next_id++;

	for (long i = pg; i < pg + n; i++) {
		p->kind[i] = shared ? SHARED : PRIVATE;
		p->prot[i] = prot;
		p->id[i] = id;
		p->obj[i] = o;
		p->objpg[i] = i - pg;
	}
}

static void op_munmap(struct mproc *p)
{
	long n = rnd_len(), pg = rnd(NPG - n);

	assert_int_equal(vm_munmap(p->mm, va_of(pg), n * PAGE_SIZE), 0);
	model_unmap(p, pg, n);
}

static void op_mprotect(struct mproc *p)
{
	long pg, n;
	unsigned long prot = rnd_prot();

	if (!pick_run(p, &pg, &n))
		return;
	assert_int_equal(vm_mprotect(p->mm, va_of(pg), n * PAGE_SIZE, prot), 0);
	for (long i = pg; i < pg + n; i++)
		p->prot[i] = prot;
	renumber(p, pg, n);
}

static void op_madvise(struct mproc *p)
{
	static const int advice[] = { MADV_DONTNEED, MADV_DONTNEED,
				      MADV_HUGEPAGE, MADV_NOHUGEPAGE,
				      MADV_WILLNEED };
	int adv = advice[rnd(ARRAY_SIZE(advice))];
	long pg, n;

	if (!pick_run(p, &pg, &n))
		return;
	assert_int_equal(vm_madvise(p->mm, va_of(pg), n * PAGE_SIZE, adv), 0);
	if (adv == MADV_DONTNEED) {
		for (long i = pg; i < pg + n; i++)
			if (p->kind[i] == PRIVATE)
				memset(p->val[i], 0, sizeof(p->val[i]));
	} else if (adv != MADV_WILLNEED) {
		renumber(p, pg, n);
	}
}

/* Move [pg, pg+n) to [dst, dst+m) in the model (m >= n or m < n). */
static void model_move(struct mproc *p, long pg, long n, long dst, long m)
{
	static struct mproc tmp; /* the moved pages, before the unmap */
	long keep = min(n, m);

	for (long i = 0; i < keep; i++) {
		tmp.kind[i] = p->kind[pg + i];
		tmp.prot[i] = p->prot[pg + i];
		tmp.obj[i] = p->obj[pg + i];
		tmp.objpg[i] = p->objpg[pg + i];
		memcpy(tmp.val[i], p->val[pg + i], sizeof(tmp.val[i]));
	}
	model_unmap(p, pg, n);
	model_unmap(p, dst, m);
	unsigned int id = next_id++;

	for (long i = 0; i < m; i++) {
		long src = min(i, keep - 1);

		p->kind[dst + i] = tmp.kind[src];
		p->prot[dst + i] = tmp.prot[src];
		p->obj[dst + i] = tmp.obj[src];
		p->objpg[dst + i] = tmp.objpg[0] + i;
		p->id[dst + i] = id;
		if (i < keep)
			memcpy(p->val[dst + i], tmp.val[i], sizeof(tmp.val[i]));
	}
	if (tmp.kind[0] == SHARED)
		grow_obj(tmp.obj[0], tmp.objpg[0] + m);
}

static void op_mremap(struct mproc *p)
{
	long pg, n, m, dst;
	long ret;

	if (!pick_run(p, &pg, &n))
		return;
	/* Shared runs must map consecutive object pages to move as one. */
	m = rnd(3) ? 1 + rnd(2 * n + 8) : n;
	switch (rnd(3)) {
	case 0: /* in place: shrink, or grow into free space */
		if (pg + m > NPG)
			return;
		ret = vm_mremap(p->mm, va_of(pg), n * PAGE_SIZE, m * PAGE_SIZE,
				0, 0);
		if (m > n) {
			bool room = true;

			for (long i = pg + n; i < pg + m; i++)
				room &= p->kind[i] == UNMAPPED;
			if (!room) {
				assert_int_equal(ret, -ENOMEM);
				return;
			}
		}
		assert_int_equal(ret, (long)va_of(pg));
		if (m < n) {
			model_unmap(p, pg + m, n - m);
			return;
		}
		model_move(p, pg, n, pg, m);
		return;
	default: /* move to a fixed place that does not overlap */
		dst = rnd(NPG - m);
		if (!rnd(2))
			dst &= ~511L;
		if (dst < pg + n && pg < dst + m)
			return;
		ret = vm_mremap(p->mm, va_of(pg), n * PAGE_SIZE, m * PAGE_SIZE,
				MREMAP_MAYMOVE | MREMAP_FIXED, va_of(dst));
		assert_int_equal(ret, (long)va_of(dst));
		model_move(p, pg, n, dst, m);
	}
}

static void op_access(struct mproc *p)
{
	for (int k = 0; k < 32; k++) {
		long pg = rnd(NPG);

		/* Mostly where something is mapped: that is where bugs live. */
		for (int t = 0; t < 8 && rnd(4) && p->kind[pg] == UNMAPPED; t++)
			pg = rnd(NPG);
		int s = rnd(SLOTS);
		u64 v = test_rand(&rng);
		int expect = model_access(p, pg, true);
		int ret = cpu_store_u64(p->cpu, va_of(pg) + slot_off[s], v);

		if (ret != expect) {
			fprintf(stderr, "store to page %ld: %d, want %d\n", pg,
				ret, expect);
			fail();
		}
		if (!ret)
			*model_slot(p, pg, s) = v;
		st_ok += !ret;
		st_fault += ret == -EFAULT;
		st_acc += ret == -EACCES;
	}
}

static struct mproc *proc_new(struct mm_struct *mm)
{
	struct mproc *p = calloc(1, sizeof(*p));

	p->mm = mm;
	p->cpu = cpu_create(mm);
	assert_false(IS_ERR(p->cpu));
	return p;
}

static void proc_exit(int i)
{
	cpu_destroy(procs[i]->cpu);
	mm_exit(procs[i]->mm);
	free(procs[i]);
	procs[i] = procs[--nprocs];
}

static void op_fork(struct mproc *p)
{
	struct mm_struct *child;
	struct mproc *c;

	if (nprocs == MAXPROC)
		return;
	child = mm_fork(p->mm);
	assert_false(IS_ERR(child));
	c = proc_new(child);
	memcpy(c->kind, p->kind, sizeof(c->kind));
	memcpy(c->prot, p->prot, sizeof(c->prot));
	memcpy(c->id, p->id, sizeof(c->id));
	memcpy(c->obj, p->obj, sizeof(c->obj));
	memcpy(c->objpg, p->objpg, sizeof(c->objpg));
	memcpy(c->val, p->val, sizeof(c->val));
	procs[nprocs++] = c;
}

static void run_seed(uint64_t seed, int steps)
{
	static const char *names[] = { "mmap",	  "munmap", "mprotect",
				       "madvise", "mremap", "fork",
				       "exit",	  "access" };
	unsigned long free_before = nr_free_pages();
	long objs_before = kmalloc_live_objects();
	unsigned long warns = mm_warn_count();

	rng = seed;
	thp_set_mode(seed & 1 ? THP_ALWAYS : THP_MADVISE, false);
	procs[0] = proc_new(mm_alloc());
	nprocs = 1;
	for (int step = 0; step < steps; step++) {
		int op = rnd(12);
		struct mproc *p = procs[rnd(nprocs)];

		op = op > 7 ? 7 : op;
		if (op == 5 && rnd(4))
			op = 7; /* fork and exit less often */
		if (op == 6 && (nprocs == 1 || rnd(3)))
			op = 7;
		switch (op) {
		case 0:
			op_mmap(p);
			break;
		case 1:
			op_munmap(p);
			break;
		case 2:
			op_mprotect(p);
			break;
		case 3:
			op_madvise(p);
			break;
		case 4:
			op_mremap(p);
			break;
		case 5:
			op_fork(p);
			break;
		case 6:
			proc_exit(rnd(nprocs));
			break;
		default:
			op_access(p);
			break;
		}
		st_ops[op]++;
		check_some(names[op]);
		if (step % 64 == 63)
			check_all(names[op]);
		if (mm_warn_count() != warns) {
			fprintf(stderr, "seed %#llx step %d (%s) warned\n",
				(unsigned long long)seed, step, names[op]);
			fail();
		}
	}
	check_all("the last step");
	print_message("  stores: %lu ok, %lu -EFAULT, %lu -EACCES; ops:", st_ok,
		      st_fault, st_acc);
	for (int i = 0; i < 8; i++)
		print_message(" %s %lu", names[i], st_ops[i]);
	print_message("; %d objects, %u ids\n", nobjs, next_id);
	st_ok = st_fault = st_acc = 0;
	memset(st_ops, 0, sizeof(st_ops));
	while (nprocs)
		proc_exit(0);
	for (int i = 0; i < nobjs; i++)
		free(objs[i].val);
	nobjs = 0;
	assert_int_equal(mm_live_count(), 0);
	assert_int_equal(nr_free_pages(), free_before);
	assert_int_equal(kmalloc_live_objects(), objs_before);
	thp_set_mode(THP_MADVISE, false);
}

static void test_model(void **state)
{
	static const uint64_t seeds[] = { 1, 2, 0xdecafbad, 0x5eed0005 };

	for (size_t i = 0; i < ARRAY_SIZE(seeds); i++) {
		print_message("seed %#llx\n", (unsigned long long)seeds[i]);
		run_seed(seeds[i], TEST_SCALE(5000));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
	};

	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
