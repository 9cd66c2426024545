// SPDX-License-Identifier: MIT
/*
 * mmirror-demo - build an address space, map memory, store and load through
 * a simulated CPU (taking demand faults), fork, take a copy-on-write fault,
 * and print what happened at each step.
 *
 * Uses only the public API (include/mmirror/), like a driver would.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mmirror/cpu.h>
#include <mmirror/mm.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mmirror-demo [--levels 4|5] [--pages N] [--thp] [--help]\n"
		"\n"
		"Builds an address space in mmirror's host-MMU model, maps N\n"
		"pages of private anonymous memory (default 4), stores and loads\n"
		"through a simulated CPU that walks the page tables like x86-64\n"
		"hardware and takes demand faults, forks, and shows the\n"
		"copy-on-write fault that gives the child its own page.  Prints\n"
		"each step, the page-table entries, and the accounting at exit.\n"
		"\n"
		"  --levels 4|5   page-table levels (default 4)\n"
		"  --pages N      pages to map, 1..512 (default 4)\n"
		"  --thp          map 2 MiB with MADV_HUGEPAGE: one huge leaf\n");
}

static void show_entry(const char *who, struct mm_struct *mm, unsigned long va)
{
	unsigned long pfn;
	u64 e;

	if (follow_pte_pfn(mm, va, &pfn, &e)) {
		printf("    %-7s %#014lx  not mapped\n", who, va);
		return;
	}
	printf("    %-7s %#014lx  pfn %#8lx  %s%s%s%s%s%s%s\n", who, va, pfn,
	       (e & _PAGE_PRESENT) ? "P" : "-", (e & _PAGE_RW) ? "W" : "-",
	       (e & _PAGE_USER) ? "U" : "-", (e & _PAGE_ACCESSED) ? "A" : "-",
	       (e & _PAGE_DIRTY) ? "D" : "-",
	       (e & _PAGE_PSE) ? " huge 2 MiB leaf" : "",
	       is_zero_pfn(pfn) ? " (the zero page)" : "");
}

struct opts {
	int levels;
	long pages;
	bool thp;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "levels", required_argument, NULL, 'l' },
		{ "pages", required_argument, NULL, 'n' },
		{ "thp", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "l:n:th", lopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->levels = (int)strtol(optarg, &end, 10);
			if (*end || (o->levels != 4 && o->levels != 5)) {
				fprintf(stderr,
					"mmirror-demo: --levels must "
					"be 4 or 5, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			o->pages = strtol(optarg, &end, 10);
			if (*end || o->pages < 1 || o->pages > 512) {
				fprintf(stderr,
					"mmirror-demo: --pages must "
					"be 1..512, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 't':
			o->thp = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mmirror-demo: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

static int check(const char *what, long ret)
{
	if (ret < 0)
		fprintf(stderr, "mmirror-demo: %s failed: %ld\n", what, ret);
	return ret < 0;
}

/* Step 2-3: demand faults, the zero page, the errors a CPU can see. */
static int touch(struct sim_cpu *cpu, unsigned long base, long pages)
{
	char msg[64], back[64] = { 0 };
	u64 word = 1;
	int ret;

	printf("\n[2] the CPU stores and loads; each first touch is a fault\n");
	for (long i = 0; i < pages; i++) {
		unsigned long va = base + i * PAGE_SIZE + 64;

		snprintf(msg, sizeof(msg), "page %ld says hello", i);
		if (check("store", cpu_store(cpu, va, msg, strlen(msg) + 1)) ||
		    check("load", cpu_load(cpu, va, back, sizeof(back))))
			return 1;
		if (i < 4)
			printf("    store+load %#lx: \"%s\"\n", va, back);
	}
	printf("    %lu faults, %lu TLB hits, %lu table walks so far\n",
	       cpu->faults, cpu->tlb_hits, cpu->walks);
	ret = cpu_load_u64(cpu, base + pages * PAGE_SIZE, &word);
	printf("    load  %#lx (never written): %d, value %llu\n",
	       base + pages * PAGE_SIZE, ret, (unsigned long long)word);
	show_entry("", cpu->mm, base + pages * PAGE_SIZE);
	printf("    load  %#lx (nothing mapped): %d (-EFAULT: SIGSEGV)\n",
	       0x1000UL, cpu_load_u64(cpu, 0x1000, &word));
	return 0;
}

/* Step 4-5: fork, and the COW fault that separates parent and child. */
static int fork_and_cow(struct mm_struct *mm, struct sim_cpu *cpu,
			unsigned long va)
{
	struct mm_struct *child = mm_fork(mm);
	struct sim_cpu *ccpu;
	u64 pv = 0, cv = 0;

	if (check("fork", IS_ERR(child) ? PTR_ERR(child) : 0))
		return 1;
	printf("\n[4] fork: both map the same frame, write-protected\n");
	ccpu = cpu_create(child);
	if (check("cpu_create", IS_ERR(ccpu) ? PTR_ERR(ccpu) : 0)) {
		mm_exit(child);
		return 1;
	}
	show_entry("parent", mm, va);
	show_entry("child", child, va);
	if (check("child store", cpu_store_u64(ccpu, va, 0xc0ffee)) ||
	    check("parent load", cpu_load_u64(cpu, va, &pv)) ||
	    check("child load", cpu_load_u64(ccpu, va, &cv)))
		goto out;
	printf("\n[5] the child writes %#lx: a copy-on-write fault gives it "
	       "its own frame\n",
	       va);
	show_entry("parent", mm, va);
	show_entry("child", child, va);
	printf("    parent reads %#llx, child reads %#llx\n",
	       (unsigned long long)pv, (unsigned long long)cv);
out:
	cpu_destroy(ccpu);
	mm_exit(child);
	printf("    child exited\n");
	return 0;
}

static int run(struct mm_struct *mm, const struct opts *o)
{
	unsigned long len = o->thp ? PMD_SIZE : (o->pages + 1) * PAGE_SIZE;
	long base = vm_mmap(mm, 0, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS);
	long pages = o->thp ? 1 : o->pages;
	struct sim_cpu *cpu;
	int ret;

	if (check("vm_mmap", base))
		return 1;
	if (o->thp &&
	    check("madvise", vm_madvise(mm, base, len, MADV_HUGEPAGE)))
		return 1;
	printf("\n[1] vm_mmap: %lu KiB of private memory at %#lx (nothing "
	       "is mapped until touched)\n",
	       len >> 10, base);
	show_entry("", mm, base);
	cpu = cpu_create(mm);
	if (check("cpu_create", IS_ERR(cpu) ? PTR_ERR(cpu) : 0))
		return 1;
	ret = touch(cpu, base, pages);
	if (!ret) {
		printf("\n[3] entries after the accesses (A accessed, D "
		       "dirty); RSS %lu pages, %lu page-table pages\n",
		       get_mm_counter(mm, MM_ANONPAGES), mm_pgtables_pages(mm));
		for (long i = 0; i <= min(pages, 3L); i++)
			show_entry("", mm, base + i * PAGE_SIZE);
		ret = check("store", cpu_store_u64(cpu, base + 8, 42)) ||
		      fork_and_cow(mm, cpu, base + 8);
	}
	cpu_destroy(cpu);
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o = { .levels = 4, .pages = 4 };
	struct mm_struct *mm;
	int ret = parse_args(argc, argv, &o);

	if (ret)
		return ret == 1 ? 0 : ret;
	if (pgtable_set_levels(o.levels))
		return 1;
	printf("mmirror demo: %d-level page tables%s\n", o.levels,
	       o.thp ? ", transparent huge pages" : "");
	mm = mm_alloc();
	if (check("mm_alloc", IS_ERR(mm) ? PTR_ERR(mm) : 0))
		return 1;
	ret = run(mm, &o);
	mm_exit(mm);
	printf("\n[6] parent exited: %lu of %lu frames free, %ld objects "
	       "leaked, %ld address spaces left\n",
	       nr_free_pages(), totalram_pages(), kmalloc_live_objects(),
	       mm_live_count());
	return ret || nr_free_pages() != totalram_pages() ? 1 : 0;
}
