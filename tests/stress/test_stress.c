// SPDX-License-Identifier: MIT
/*
 * Multi-driver stress (issue 6): several processes, each with simulated
 * CPUs and one device of every kind (mirror with two engines, an ODP MR
 * per region, a KVM vCPU, a plain and a caching pin region), all reading
 * and writing while a mutator munmaps and maps back, mprotects back and
 * forth, drops pages, moves ranges away and back, forks short-lived
 * children and finally exits the process under the running devices.  Then
 * a new process takes the slot, until the time is up.
 *
 * Time: MMIRROR_STRESS_SECONDS (default 60) for the whole run; each
 * process lives about a quarter of it.  The one-line summary gives, per
 * actor, successful reads/writes and failed accesses (not counting those
 * after its process began to exit), and the mutations made by kind.
 *
 * Each process has a private region (one PMD, THP eligible) and a shared
 * anonymous one.  Every actor (CPU thread or device thread) owns one
 * 8-byte word per page, at offset 8 * kind, and only it writes that word.
 * An actor writes a value unique to (process, actor, page, sequence) and
 * reads it back at once.  Any access may fail while the mutator works:
 * CPUs with -EFAULT/-EACCES; mirror, ODP and KVM with -EFAULT/-EPERM; the
 * caching pin region with -EFAULT (evicted, and the range cannot be
 * re-pinned whole).  A successful read must return:
 *
 *   - the last value this actor wrote successfully to that word, or
 *   - 0: the page was dropped since (MADV_DONTNEED of private memory,
 *     munmap + mmap back, an eviction followed by a re-pin of fresh
 *     pages); after reading 0 the old value may never come back, so 0
 *     becomes the expected value until the next successful write.
 *
 * Any older value of its own, or anybody else's, is a lost write or a
 * stale translation.  The plain pin region is stricter: its DMA never
 * fails and always reads back the last value written, whatever the
 * mappings do (the pinned frames stay the device's).  Children of fork
 * write their own word in their copy and must read it back exactly.
 *
 * Memory pressure: a frame limit below what the processes touch, so
 * faults reclaim directly and kswapd runs, and a "reclaim" mutation that
 * ages the LRU and swaps out cold pages of every process.  Swapped-out words
 * must come back exactly (the same read rule; the oracle's lost-write
 * shadow follows them through the swap slots).  A "migrate" mutation
 * moves a range of a process's pages to new frames under the CPUs and
 * devices (the same read rule: nothing lost, no stale translation).  A
 * "devmem" mutation moves a private range into the mirror device's
 * device-private memory or back: every other actor then reaches those
 * pages through migrate_to_ram() (CPUs, faults of the other devices) or,
 * the mirror itself, in device memory.
 *
 * At the end: zero oracle violations, every frame, pin, kmalloc object,
 * mm and swap slot back, no WARN.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <time.h>
#include <mmirror/kthread.h>
#include <mmirror/migrate.h>
#include <mmirror/swap.h>
#include <mmirror/wait.h>
#include <kvm/kvm.h>
#include <mirror/mirror.h>
#include <odp/odp.h>
#include <pin/pin.h>

#define NPROC 2
#define PRIV_PAGES 512 /* one PMD: huge pages come and go */
#define SHR_PAGES 64
#define NR_SLOTS (PRIV_PAGES + SHR_PAGES)
#define PIN_PAGES 16 /* plain pin: private [0, 16); cache: [16, 32) */
#define MAX_MUT 32 /* pages per mutation at most */
#define RW (PROT_READ | PROT_WRITE)

enum kind {
	K_CPU0,
	K_CPU1,
	K_MIRROR,
	K_ODP,
	K_KVM,
	K_PIN,
	K_PINC,
	K_CHILD,
	NR_KINDS
};
static const char *const kind_name[NR_KINDS] = {
	"cpu0", "cpu1", "mirror", "odp", "kvm", "pin", "pin-cache", "child",
};

enum mut {
	M_REMAP,
	M_PROT,
	M_UNPROT,
	M_DONTNEED,
	M_MREMAP,
	M_FORK,
	M_THP,
	M_RECLAIM,
	M_MIGRATE,
	M_DEVMEM,
	NR_MUTS
};
static const char *const mut_name[NR_MUTS] = {
	"remap", "mprotect", "unprotect", "dontneed", "mremap",
	"fork",	 "thp",	     "reclaim",	  "migrate",  "devmem",
};

/* Totals for the summary, summed by each thread as it ends. */
static long nr_ok[NR_KINDS][2], nr_fail[NR_KINDS], nr_mut[NR_MUTS], nr_gen;
/* Device-memory traffic of the mirror devices, summed at their exit. */
static long nr_to_dev, nr_to_sys, nr_dev_faults;
static u64 deadline_ns;

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static bool time_up(u64 until)
{
	return now_ns() >= until;
}

struct proc;

struct actor {
	struct proc *p;
	enum kind kind;
	unsigned int lo, hi; /* slots [lo, hi) */
	struct sim_cpu *cpu; /* K_CPU* */
	u64 seq;
	long ok[2], fail; /* [0] reads, [1] writes */
	struct task_struct *task;
	u64 expect[NR_SLOTS]; /* see the top comment */
};

struct proc {
	int slot;
	unsigned int gen;
	struct mm_struct *mm;
	unsigned long priv, shr, park;
	struct dmirror *dm;
	struct odp_dev *odp;
	struct odp_mr *mr_priv, *mr_shr;
	struct kvm *kvm;
	struct kvm_vcpu *vcpu;
	struct pindev *pin, *pinc;
	struct pin_region *pr, *pcr;
	uint64_t rng;
	struct actor actors[K_CHILD];
	int started; /* actor threads past their first step */
	int exited; /* mm_exit() begun: failures are expected, not counted */
	wait_queue_head_t wq; /* the mutator waits for them on it */
};

static unsigned long slot_va(struct proc *p, unsigned int i)
{
	return i < PRIV_PAGES ? p->priv + i * PAGE_SIZE :
				p->shr + (i - PRIV_PAGES) * PAGE_SIZE;
}

/* --- one access by one actor ---------------------------------------------- */

static int odp_rw(struct proc *p, unsigned long va, u64 *v, bool write)
{
	struct odp_mr *mr = va >= p->shr ? p->mr_shr : p->mr_priv;

	return write ? odp_dma_write(mr, va, v, 8) : odp_dma_read(mr, va, v, 8);
}

static int access_word(struct actor *a, unsigned int i, u64 *v, bool write)
{
	struct proc *p = a->p;
	unsigned long off = a->kind * 8, va = slot_va(p, i) + off;
	/* Guest-physical: slot 0 is the private region, slot 1 follows. */
	unsigned long gpa = (unsigned long)i * PAGE_SIZE + off;

	switch (a->kind) {
	case K_CPU0:
	case K_CPU1:
		return write ? cpu_store_u64(a->cpu, va, *v) :
			       cpu_load_u64(a->cpu, va, v);
	case K_MIRROR:
		return write ? dmirror_write(p->dm, va, v, 8) :
			       dmirror_read(p->dm, va, v, 8);
	case K_ODP:
		return odp_rw(p, va, v, write);
	case K_KVM:
		return write ? kvm_vcpu_write(p->vcpu, gpa, v, 8) :
			       kvm_vcpu_read(p->vcpu, gpa, v, 8);
	case K_PIN:
		return write ? pindev_dma_write(p->pr, va, v, 8) :
			       pindev_dma_read(p->pr, va, v, 8);
	default:
		return write ? pindev_dma_write(p->pcr, va, v, 8) :
			       pindev_dma_read(p->pcr, va, v, 8);
	}
}

/* The failures each kind of actor may see while the mutator works. */
static bool allowed(enum kind kind, int ret)
{
	switch (kind) {
	case K_CPU0:
	case K_CPU1:
		return !ret || ret == -EFAULT || ret == -EACCES;
	case K_PIN:
		return !ret;
	case K_PINC:
		return !ret || ret == -EFAULT;
	default:
		return !ret || ret == -EFAULT || ret == -EPERM;
	}
}

static void report(struct actor *a, unsigned int i, const char *what, long ret,
		   u64 got)
{
	fprintf(stderr,
		"proc %d gen %u %s slot %u va %#lx: %s (ret %ld, got %#llx, "
		"expected %#llx or 0)\n",
		a->p->slot, a->p->gen, kind_name[a->kind], i,
		slot_va(a->p, i) + a->kind * 8, what, ret,
		(unsigned long long)got, (unsigned long long)a->expect[i]);
	abort();
}

/* Write a fresh value to slot @i, read it back, check both. */
static void actor_step(struct actor *a, unsigned int i)
{
	u64 v = ((u64)(a->p->slot * 16 + (a->p->gen & 15)) << 56) |
		((u64)a->kind << 48) | ((u64)i << 32) | (++a->seq & 0xffffffff);
	u64 got = 0;
	int ret = access_word(a, i, &v, true);

	if (!allowed(a->kind, ret))
		report(a, i, "write failed", ret, 0);
	a->ok[1] += !ret;
	/* Pairs with the WRITE_ONCE in proc_exit(); a hint for statistics. */
	a->fail += ret && !READ_ONCE(a->p->exited);
	if (!ret)
		a->expect[i] = v;
	ret = access_word(a, i, &got, false);
	if (!allowed(a->kind, ret))
		report(a, i, "read failed", ret, 0);
	a->fail += ret && !READ_ONCE(a->p->exited);
	if (ret)
		return;
	a->ok[0]++;
	if (got == a->expect[i])
		return;
	if (got || a->kind == K_PIN)
		report(a, i, "wrong value", 0, got);
	a->expect[i] = 0; /* dropped: the old value may not come back */
}

static void actor_sum(struct actor *a)
{
	for (int w = 0; w < 2; w++)
		__atomic_add_fetch(&nr_ok[a->kind][w], a->ok[w],
				   __ATOMIC_RELAXED);
	__atomic_add_fetch(&nr_fail[a->kind], a->fail, __ATOMIC_RELAXED);
}

/*
 * An actor's thread.  The two pin regions share one (the pin thread also
 * drives the cache region): fewer threads leave the mutator more turns on
 * this 2-core machine, where each shootdown waits for every CPU thread.
 */
static int actor_fn(void *arg)
{
	struct actor *a = arg;
	struct actor *b = a->kind == K_PIN ? &a->p->actors[K_PINC] : NULL;
	uint64_t rng = (uint64_t)a->p->slot * 1000 + a->kind * 10 + a->p->gen;

	check_set_thread_name(kind_name[a->kind]);
	if (a->kind <= K_CPU1) {
		a->cpu = cpu_create(a->p->mm);
		CHECK(!IS_ERR(a->cpu));
	}
	/* First steps before the mutator starts, on untouched memory: they
	 * must succeed, so a run where a device never works cannot pass. */
	actor_step(a, a->lo);
	CHECK(a->ok[0] == 1 && a->ok[1] == 1);
	if (b) {
		actor_step(b, b->lo);
		CHECK(b->ok[0] == 1 && b->ok[1] == 1);
	}
	/* Pairs with the acquire in proc_start()'s wait_event(). */
	__atomic_add_fetch(&a->p->started, 1, __ATOMIC_RELEASE);
	wake_up(&a->p->wq);
	while (!kthread_should_stop()) {
		actor_step(a, a->lo + test_rand(&rng) % (a->hi - a->lo));
		if (b)
			actor_step(b,
				   b->lo + test_rand(&rng) % (b->hi - b->lo));
	}
	if (a->cpu)
		cpu_destroy(a->cpu);
	actor_sum(a);
	if (b)
		actor_sum(b);
	return 0;
}

/* --- a process: memory, devices, actors ---------------------------------- */

static void proc_map(struct proc *p)
{
	/* Room for the private PMD aligned, the shared region, a park. */
	unsigned long len = 2 * PMD_SIZE + (SHR_PAGES + MAX_MUT) * PAGE_SIZE;
	long a = vm_mmap(p->mm, 0, len, RW, MAP_PRIVATE | MAP_ANONYMOUS);

	CHECK(!IS_ERR_VALUE(a));
	p->priv = ALIGN_UP((unsigned long)a, PMD_SIZE);
	p->shr = p->priv + PMD_SIZE;
	p->park = p->shr + SHR_PAGES * PAGE_SIZE;
	CHECK(vm_mmap(p->mm, p->shr, SHR_PAGES * PAGE_SIZE, RW,
		      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED) == (long)p->shr);
	CHECK(vm_munmap(p->mm, p->park, MAX_MUT * PAGE_SIZE) == 0);
	CHECK(vm_madvise(p->mm, p->priv, PMD_SIZE, MADV_HUGEPAGE) == 0);
}

static void proc_devices(struct proc *p)
{
	char name[32];

	snprintf(name, sizeof(name), "mirror%d", p->slot);
	p->dm = dmirror_create(p->mm, name, 2);
	snprintf(name, sizeof(name), "odp%d", p->slot);
	p->odp = odp_create(name);
	CHECK(!IS_ERR(p->dm) && !IS_ERR(p->odp));
	CHECK(dmirror_devmem_add(p->dm, 2 * MAX_MUT) == 0);
	p->mr_priv =
		odp_reg_mr(p->odp, p->mm, p->priv, PMD_SIZE, ODP_ACCESS_WRITE);
	p->mr_shr = odp_reg_mr(p->odp, p->mm, p->shr, SHR_PAGES * PAGE_SIZE,
			       ODP_ACCESS_WRITE);
	CHECK(!IS_ERR(p->mr_priv) && !IS_ERR(p->mr_shr));
	snprintf(name, sizeof(name), "kvm%d", p->slot);
	p->kvm = kvm_create(p->mm, name);
	CHECK(!IS_ERR(p->kvm));
	CHECK(!kvm_set_memory_region(p->kvm, 0, 0, p->priv, PMD_SIZE, 0));
	CHECK(!kvm_set_memory_region(p->kvm, 1, PMD_SIZE, p->shr,
				     SHR_PAGES * PAGE_SIZE, 0));
	p->vcpu = kvm_vcpu_create(p->kvm, 0);
	CHECK(!IS_ERR_OR_NULL(p->vcpu));
	snprintf(name, sizeof(name), "pin%d", p->slot);
	p->pin = pindev_create(name, 0);
	snprintf(name, sizeof(name), "pinc%d", p->slot);
	p->pinc = pindev_create(name, PINDEV_CACHE);
	CHECK(!IS_ERR(p->pin) && !IS_ERR(p->pinc));
	p->pr = pindev_register(p->pin, p->mm, p->priv, PIN_PAGES * PAGE_SIZE);
	p->pcr =
		pindev_register(p->pinc, p->mm, p->priv + PIN_PAGES * PAGE_SIZE,
				PIN_PAGES * PAGE_SIZE);
	CHECK(!IS_ERR(p->pr) && !IS_ERR(p->pcr));
}

static void proc_start(struct proc *p)
{
	memset(p->actors, 0, sizeof(p->actors));
	p->mm = mm_alloc();
	CHECK(!IS_ERR(p->mm));
	proc_map(p);
	proc_devices(p);
	for (int k = 0; k < K_CHILD; k++) {
		struct actor *a = &p->actors[k];

		a->p = p;
		a->kind = k;
		a->lo = k == K_PINC ? PIN_PAGES : 0;
		a->hi = k == K_PIN  ? PIN_PAGES :
			k == K_PINC ? 2 * PIN_PAGES :
				      NR_SLOTS;
	}
	p->started = 0;
	p->exited = 0;
	for (int k = 0; k < K_CHILD; k++) {
		struct actor *a = &p->actors[k];

		if (k == K_PINC)
			continue; /* run by the K_PIN thread */
		a->task = kthread_run(actor_fn, a, "%s/%d", kind_name[k],
				      p->slot);
		CHECK(!IS_ERR(a->task));
	}
	wait_event(p->wq, __atomic_load_n(&p->started, __ATOMIC_ACQUIRE) ==
				  K_CHILD - 1);
}

/*
 * The process exits while its devices still run: the CPUs go first (they
 * hold users of the mm), then the address space is torn down under the
 * device threads, which must see it fail cleanly.
 */
static void proc_exit(struct proc *p)
{
	struct dmirror_devmem_stats ds;
	struct pindev_stats ps;
	u64 v = 0;

	for (int k = K_CPU0; k <= K_CPU1; k++)
		CHECK(kthread_stop(p->actors[k].task) == 0);
	WRITE_ONCE(p->exited, 1);
	mm_exit(p->mm);
	for (int k = K_MIRROR; k < K_CHILD; k++)
		if (p->actors[k].task)
			CHECK(kthread_stop(p->actors[k].task) == 0);
	/* Gone for the translating devices; the pins hold their frames. */
	CHECK(dmirror_read(p->dm, p->priv, &v, 8) == -EFAULT);
	CHECK(odp_dma_read(p->mr_priv, p->priv, &v, 8) == -EFAULT);
	CHECK(kvm_vcpu_read(p->vcpu, 0, &v, 8) == -EFAULT);
	CHECK(pindev_dma_read(p->pcr, p->priv + PIN_PAGES * PAGE_SIZE, &v, 8) ==
	      -EFAULT);
	CHECK(pindev_dma_read(p->pr, p->priv + K_PIN * 8, &v, 8) == 0);
	CHECK(v == p->actors[K_PIN].expect[0]);
	/* Exit evicted the cache region; the plain one still pins. */
	pindev_get_stats(p->pinc, &ps);
	CHECK(ps.pinned == 0 && ps.evictions > 0);
	pindev_get_stats(p->pin, &ps);
	CHECK(ps.pinned == PIN_PAGES && ps.evictions == 0);
	pindev_destroy(p->pin);
	pindev_destroy(p->pinc);
	kvm_vcpu_destroy(p->vcpu);
	kvm_destroy(p->kvm);
	odp_dereg_mr(p->mr_priv);
	odp_dereg_mr(p->mr_shr);
	odp_destroy(p->odp);
	dmirror_get_devmem_stats(p->dm, &ds);
	__atomic_add_fetch(&nr_to_dev, ds.to_device, __ATOMIC_RELAXED);
	__atomic_add_fetch(&nr_to_sys, ds.to_system, __ATOMIC_RELAXED);
	__atomic_add_fetch(&nr_dev_faults, ds.cpu_faults, __ATOMIC_RELAXED);
	dmirror_destroy(p->dm);
}

/* --- the mutator ---------------------------------------------------------- */

/*
 * A child: its CPU writes its own word in its copy of both regions and
 * reads it back exactly (nobody else touches the child's mm, and the
 * parent's actors never write that word of the shared region).  Now and
 * then a pin outlives the child's exit.
 */
static void child_run(struct proc *p, uint64_t *rng)
{
	struct mm_struct *child = mm_fork(p->mm);
	struct pindev *pin = NULL;
	struct pin_region *r = NULL;
	struct sim_cpu *cpu;
	u64 v, got;

	CHECK(!IS_ERR(child));
	cpu = cpu_create(child);
	CHECK(!IS_ERR(cpu));
	for (int n = 0; n < 32; n++) {
		unsigned long va =
			slot_va(p, test_rand(rng) % NR_SLOTS) + K_CHILD * 8;
		int ret;

		v = test_rand(rng) | 1;
		ret = cpu_store_u64(cpu, va, v);

		CHECK(!ret || ret == -EACCES || ret == -EFAULT);
		got = 0;
		CHECK(ret || (!cpu_load_u64(cpu, va, &got) && got == v));
	}
	if (test_rand(rng) % 4 == 0) {
		pin = pindev_create("child-pin", 0);
		CHECK(!IS_ERR(pin));
		r = pindev_register(pin, child, p->priv, 4 * PAGE_SIZE);
		CHECK(!IS_ERR(r) || PTR_ERR(r) == -EFAULT);
		v = 0x5eed;
		if (!IS_ERR(r))
			CHECK(!pindev_dma_write(r, p->priv + K_CHILD * 8, &v,
						8));
	}
	cpu_destroy(cpu);
	mm_exit(child);
	if (pin && !IS_ERR(r)) {
		got = 0;
		CHECK(!pindev_dma_read(r, p->priv + K_CHILD * 8, &got, 8));
		CHECK(got == 0x5eed);
	}
	pindev_destroy(pin);
}

static void mutate(struct proc *p, uint64_t *rng)
{
	static const unsigned long prots[] = { PROT_READ, PROT_NONE };
	bool shr = test_rand(rng) % 4 == 0;
	unsigned long n = 1 + test_rand(rng) % MAX_MUT;
	unsigned long first =
		test_rand(rng) % ((shr ? SHR_PAGES : PRIV_PAGES) - n + 1);
	unsigned long va = (shr ? p->shr : p->priv) + first * PAGE_SIZE;
	unsigned long len = n * PAGE_SIZE;
	enum mut m = test_rand(rng) % NR_MUTS;
	long ret;

	switch (m) {
	case M_REMAP:
		CHECK(vm_munmap(p->mm, va, len) == 0);
		ret = vm_mmap(p->mm, va, len, RW,
			      (shr ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS |
				      MAP_FIXED);
		CHECK(ret == (long)va);
		break;
	case M_PROT:
		CHECK(vm_mprotect(p->mm, va, len, prots[test_rand(rng) & 1]) ==
		      0);
		break;
	case M_UNPROT:
		CHECK(vm_mprotect(p->mm, p->priv, PMD_SIZE, RW) == 0);
		CHECK(vm_mprotect(p->mm, p->shr, SHR_PAGES * PAGE_SIZE, RW) ==
		      0);
		break;
	case M_RECLAIM:
		/* Age, then swap out what stayed cold: every process's pages,
		 * under every driver. */
		lru_age_pages(4 * MAX_MUT, NULL);
		vm_reclaim(n);
		break;
	case M_MIGRATE:
		/* Move the pages under the CPUs and devices; pinned ones
		 * (-EAGAIN), THPs and swap-cache pages (-EBUSY) stay. */
		ret = vm_migrate_range(p->mm, va, va + len);
		CHECK(ret == 0 || ret == -EAGAIN || ret == -EBUSY ||
		      ret == -ENOMEM);
		break;
	case M_DEVMEM:
		/* Private memory only; pinned, huge, swapped pages stay
		 * where they are; -ENOMEM when device memory is full. */
		if (shr)
			break;
		ret = test_rand(rng) & 1 ?
			      dmirror_migrate_to_device(p->dm, va, va + len) :
			      dmirror_migrate_to_system(p->dm, va, va + len);
		CHECK(ret == 0 || ret == -ENOMEM || ret == -EFAULT);
		break;
	case M_DONTNEED:
		CHECK(vm_madvise(p->mm, va, len, MADV_DONTNEED) == 0);
		break;
	case M_MREMAP:
		ret = vm_mremap(p->mm, va, len, len,
				MREMAP_MAYMOVE | MREMAP_FIXED, p->park);
		if (ret == -EFAULT)
			break; /* the range spans several VMAs */
		CHECK(ret == (long)p->park);
		ret = vm_mremap(p->mm, p->park, len, len,
				MREMAP_MAYMOVE | MREMAP_FIXED, va);
		CHECK(ret == (long)va);
		break;
	case M_FORK:
		child_run(p, rng);
		break;
	default:
		CHECK(vm_madvise(p->mm, p->priv, PMD_SIZE,
				 test_rand(rng) & 1 ? MADV_HUGEPAGE :
						      MADV_NOHUGEPAGE) == 0);
	}
	__atomic_add_fetch(&nr_mut[m], 1, __ATOMIC_RELAXED);
}

/* One process slot: processes live a quarter of the run each. */
static int proc_fn(void *arg)
{
	struct proc *p = arg;
	u64 life = (deadline_ns - now_ns()) / 4;

	check_set_thread_name("mutator");
	p->rng = 1234 + p->slot;
	do {
		u64 until = now_ns() + life;

		proc_start(p);
		while (!time_up(until) && !time_up(deadline_ns))
			mutate(p, &p->rng);
		proc_exit(p);
		p->gen++;
		__atomic_add_fetch(&nr_gen, 1, __ATOMIC_RELAXED);
	} while (!time_up(deadline_ns));
	return 0;
}

/* --- the test ------------------------------------------------------------- */

static double stress_seconds(void)
{
	const char *s = getenv("MMIRROR_STRESS_SECONDS");
	double t = s ? strtod(s, NULL) : 60;

	return t > 0 ? t : 60;
}

/* Frames the processes may use before reclaim starts: well below their
 * touched memory (NPROC x (PRIV_PAGES + SHR_PAGES) and the children's). */
#define PRESSURE_FRAMES 1024

static void print_summary(double secs)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "stress %.1fs: %ld processes;",
			 secs, nr_gen);

	for (int k = 0; k < K_CHILD; k++)
		n += snprintf(line + n, sizeof(line) - n, " %s %ldr/%ldw/%ldf",
			      kind_name[k], nr_ok[k][0], nr_ok[k][1],
			      nr_fail[k]);
	n += snprintf(line + n, sizeof(line) - n, ";");
	for (int m = 0; m < NR_MUTS; m++)
		n += snprintf(line + n, sizeof(line) - n, " %s %ld",
			      mut_name[m], nr_mut[m]);
	print_message("%s\n", line);
}

static void print_swap_summary(void)
{
	struct vm_migrate_stat ms;
	struct vm_reclaim_stat st;

	vm_reclaim_stat(&st);
	print_message("stress swap: %lu out, %lu in, %lu reclaimed, %lu aged, "
		      "%lu pinned skipped\n",
		      st.pswpout, st.pswpin, st.reclaimed, st.aged,
		      st.skipped_pinned);
	vm_migrate_stat(&ms);
	print_message("stress migrate: %lu moved, %lu failed (%lu pinned), "
		      "%lu faults waited\n",
		      ms.succeeded, ms.failed, ms.refused_pinned, ms.waits);
	print_message("stress devmem: %ld pages to device memory, %ld back "
		      "by the driver, %ld by faults\n",
		      nr_to_dev, nr_to_sys, nr_dev_faults);
}

static void test_stress(void **state)
{
	static struct proc procs[NPROC];
	struct task_struct *t[NPROC];
	struct mm_leak_check leaks;
	double secs = stress_seconds();

	thp_set_mode(THP_MADVISE, false);
	assert_int_equal(swap_area_init(4 * NPROC * NR_SLOTS), 0);
	mm_leak_check_begin(&leaks);
	oracle_begin();
	deadline_ns = now_ns() + (u64)(secs * 1e9);
	vm_set_frame_limit(totalram_pages() - nr_free_pages() +
			   PRESSURE_FRAMES);
	assert_int_equal(kswapd_start(), 0);
	for (int i = 0; i < NPROC; i++) {
		procs[i].slot = i;
		t[i] = kthread_run(proc_fn, &procs[i], "proc%d", i);
		assert_false(IS_ERR(t[i]));
	}
	for (int i = 0; i < NPROC; i++)
		assert_int_equal(kthread_join(t[i]), 0);
	kswapd_stop();
	vm_set_frame_limit(0);
	print_summary(secs);
	print_swap_summary();
	for (int k = 0; k < K_CHILD; k++)
		assert_true(nr_ok[k][0] > 0 && nr_ok[k][1] > 0);
	/* Swap-cache pages no page table maps are left to the LRU; drop
	 * them, then every slot is back. */
	swap_cache_drain();
	assert_int_equal(swap_slots_used(), 0);
	oracle_end_clean();
	mm_leak_check_end(&leaks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress),
	};

	/* Physical memory exists before the leak check's snapshot. */
	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
