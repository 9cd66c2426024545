// SPDX-License-Identifier: MIT
/*
 * explore_seed001.c - seed 001 as explorer scenarios: a device whose own
 * lockless page-table walker reads a PMD entry more than once
 * (seed001-flawed) or once, into a snapshot (seed001-correct).
 *
 * The world, in torn-read mode (64-bit entries stored as two 32-bit
 * halves, pgtable.h):
 *
 *   va       = 1 GiB: a 2 MiB MADV_HUGEPAGE mapping, nothing faulted, so
 *              its PMD entry is none
 *   va+2 MiB = a 4 KiB mapping, faulted in setup: the PGD, PUD and PMD
 *              tables above va exist and stay; its frame N holds
 *              F001_NEIGHBOUR
 *   a device (drivers/flawed/seed001.c) translating [va, va + 4 MiB)
 *
 * run() starts two threads and joins them:
 *
 *   "device"  polls va: up to F001_POLLS DMA reads, each a fresh walk,
 *             until one finds a translation (a device waiting for the
 *             process to fill a buffer)
 *   "cpu"     one CPU store of a word at va: the first touch takes a huge
 *             fault, which fills the none PMD entry with a 2 MiB leaf
 *             under mmap_lock held for read; then the word lands in the
 *             folio's first bytes.  The word looks like a PTE naming N.
 *
 * Why a huge fault, of the changes issue 7 lists: the device's
 * read_begin / read_retry protocol already makes it walk again after any
 * change bracketed by invalidate_range_start/end, and in this model a
 * huge-page split, munmap's free_pgd_range and mremap's table moves all
 * are (there is no khugepaged collapse).  What no notifier announces is a
 * fault filling a none entry, which is exactly seed 001's case ("the pud
 * can be set asynchronously, while also holding the mmap_sem for read eg
 * from: handle_mm_fault() ...").  The flawed walker tests
 * "leaf?" on one read (none), "present?" on a second and takes the table
 * from a third (the new leaf): it walks into the 2 MiB data folio as if it
 * were a PTE table and takes the process's word for a PTE.  The oracle
 * reports the DMA through frame N as stale (the CPU maps the folio at
 * va); the walk into a frame that is no page table is reported with
 * explore_fail() even when the word is not present.  PUD leaves (1 GiB)
 * cannot be faulted in the explorer's 64 MiB arena, so the PUD re-reads
 * are exercised only by their none -> table path.
 *
 * Torn-read mode can only be switched while no mm exists (-EBUSY
 * otherwise): setup() turns it on before mm_alloc() and teardown() off
 * after mm_exit().  explore() runs every schedule in a forked child that
 * starts with no mm and exits afterwards, so the global switch never
 * outlives its schedule.
 */
#include <mmirror/cpu.h>
#include <mmirror/explore.h>
#include <mmirror/kthread.h>
#include <mmirror/mm.h>
#include <mmirror/pgtable.h>
#include <mmirror/slab.h>
#include "flawed/seed001.h"

#define F001_VA (1UL << 30)
#define F001_LEN (2 * PMD_SIZE)
#define F001_NEIGHBOUR 0xf001f001f001f001ULL
#define F001_POLLS 64

struct x001_ctx {
	enum thp_mode old_thp;
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	struct f001_dev *dev;
	unsigned long va;
	u64 word; /* what the CPU stores at va: a PTE naming frame N */
	int dev_ret; /* the device's last read */
	u64 dev_val;
};

/* The address space: the huge-page mapping and its faulted neighbour. */
static int x001_mm_up(struct x001_ctx *c)
{
	unsigned long npfn;
	long va;
	int ret;
	u64 e;

	c->mm = mm_alloc();
	if (IS_ERR(c->mm)) {
		ret = (int)PTR_ERR(c->mm);
		c->mm = NULL;
		return ret;
	}
	va = vm_mmap(c->mm, F001_VA, PMD_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
	if (IS_ERR_VALUE(va))
		return (int)va;
	c->va = va;
	ret = vm_madvise(c->mm, c->va, PMD_SIZE, MADV_HUGEPAGE);
	if (ret)
		return ret;
	va = vm_mmap(c->mm, c->va + PMD_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
	if (IS_ERR_VALUE(va))
		return (int)va;
	c->cpu = cpu_create(c->mm);
	if (IS_ERR(c->cpu)) {
		ret = (int)PTR_ERR(c->cpu);
		c->cpu = NULL;
		return ret;
	}
	ret = cpu_store_u64(c->cpu, c->va + PMD_SIZE, F001_NEIGHBOUR);
	if (!ret)
		ret = follow_pte_pfn(c->mm, c->va + PMD_SIZE, &npfn, &e);
	if (ret)
		return ret;
	/* A word that looks like a PTE naming N: what the flawed walker
	 * takes it for when it takes the folio for a PTE table. */
	c->word = ((u64)npfn << PAGE_SHIFT) | _PAGE_PRESENT | _PAGE_RW |
		  _PAGE_USER | _PAGE_ACCESSED;
	return 0;
}

static void x001_teardown(void *ctx)
{
	struct x001_ctx *c = ctx;

	if (!c)
		return;
	f001_destroy(c->dev);
	if (c->cpu)
		cpu_destroy(c->cpu);
	if (c->mm)
		mm_exit(c->mm);
	/* The last mm is gone (the device's notifier let go first). */
	WARN_ON(pgtable_set_torn_mode(false));
	thp_set_mode(c->old_thp, false);
	kfree(c);
}

static int x001_setup(void **ctx, enum f001_walker walker)
{
	struct x001_ctx *c;
	int ret;

	/* Before any mm exists (each schedule is a fresh child). */
	ret = pgtable_set_torn_mode(true);
	if (ret)
		return ret;
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c) {
		pgtable_set_torn_mode(false);
		return -ENOMEM;
	}
	c->old_thp = thp_get_mode();
	thp_set_mode(THP_MADVISE, false);
	ret = x001_mm_up(c);
	if (!ret) {
		c->dev = f001_create(c->mm, c->va, F001_LEN, walker, "f001");
		if (!c->dev)
			ret = -ENOMEM;
	}
	if (ret) {
		x001_teardown(c);
		return ret;
	}
	*ctx = c;
	return 0;
}

/* --- the threads --------------------------------------------------------- */

static int x001_device_thread(void *arg)
{
	struct x001_ctx *c = arg;

	for (int i = 0; i < F001_POLLS; i++) {
		c->dev_ret = f001_dma_read(c->dev, c->va, &c->dev_val,
					   sizeof(c->dev_val));
		if (c->dev_ret != -EFAULT)
			break;
	}
	return 0;
}

static int x001_cpu_thread(void *arg)
{
	struct x001_ctx *c = arg;

	return cpu_store_u64(c->cpu, c->va, c->word);
}

static void x001_run(void *ctx)
{
	struct x001_ctx *c = ctx;
	struct task_struct *td = kthread_run(x001_device_thread, c, "device");
	struct task_struct *tc = kthread_run(x001_cpu_thread, c, "cpu");
	struct f001_stats st;

	if (IS_ERR(td))
		x001_device_thread(c);
	if (IS_ERR(tc))
		x001_cpu_thread(c);
	if (!IS_ERR(td))
		kthread_join(td);
	if (!IS_ERR(tc))
		kthread_join(tc);
	f001_get_stats(c->dev, &st);
	if (st.wild_walks)
		explore_fail("seed001: the device's walk of va %#lx fetched an "
			     "entry from pfn %#lx, which is no page table",
			     c->va, st.wild_pfn);
	/* The folio is zeroed, then the CPU's word lands: nothing else can
	 * be read at va through a right translation. */
	if (!c->dev_ret && c->dev_val && c->dev_val != c->word)
		explore_fail("seed001: the device read %#llx at va %#lx, a "
			     "word the process never stored there",
			     (unsigned long long)c->dev_val, c->va);
}

/* --- the scenarios ------------------------------------------------------- */

static int x001_setup_flawed(void **ctx)
{
	return x001_setup(ctx, F001_FLAWED);
}

static int x001_setup_correct(void **ctx)
{
	return x001_setup(ctx, F001_CORRECT);
}

const struct explore_scenario explore_seed001_flawed = {
	.name = "seed001-flawed",
	.summary = "lockless device walker re-reads a PMD a huge fault fills: "
		   "walks into a data page (stale)",
	.expect_violation = true,
	.setup = x001_setup_flawed,
	.run = x001_run,
	.teardown = x001_teardown,
};

const struct explore_scenario explore_seed001_correct = {
	.name = "seed001-correct",
	.summary = "lockless device walker reads each PUD/PMD once, descends "
		   "by the snapshot",
	.expect_violation = false,
	.setup = x001_setup_correct,
	.run = x001_run,
	.teardown = x001_teardown,
};
