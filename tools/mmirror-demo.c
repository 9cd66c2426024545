// SPDX-License-Identifier: MIT
/*
 * mmirror-demo - build an address space, map memory, store and load through
 * a simulated CPU, and print what happened at each step.
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
		"usage: mmirror-demo [--levels 4|5] [--pages N] [--help]\n"
		"\n"
		"Builds an address space in mmirror's host-MMU model, maps N\n"
		"anonymous pages (default 4) plus the shared zero page, then\n"
		"stores and loads through a simulated CPU that walks the page\n"
		"tables like x86-64 hardware.  Prints each step, the page-table\n"
		"entries it produced, and the accounting at teardown.\n"
		"\n"
		"  --levels 4|5   page-table levels (default 4)\n"
		"  --pages N      pages to map, 1..512 (default 4)\n");
}

static const char *entry_flags(u64 e, char *buf)
{
	snprintf(buf, 64, "%s%s%s%s%s%s", (e & _PAGE_PRESENT) ? "P" : "-",
		 (e & _PAGE_RW) ? "W" : "-", (e & _PAGE_USER) ? "U" : "-",
		 (e & _PAGE_ACCESSED) ? "A" : "-",
		 (e & _PAGE_DIRTY) ? "D" : "-",
		 (e & _PAGE_SPECIAL) ? " special" : "");
	return buf;
}

static void show_entry(struct mm_struct *mm, unsigned long va)
{
	unsigned long pfn;
	u64 e;
	char buf[64];

	if (follow_pte_pfn(mm, va, &pfn, &e))
		printf("    %#014lx  not mapped\n", va);
	else
		printf("    %#014lx  pfn %#8lx  %s%s\n", va, pfn,
		       entry_flags(e, buf),
		       is_zero_pfn(pfn) ? " (zero page)" : "");
}

static int parse_args(int argc, char **argv, int *levels, long *npages)
{
	static const struct option opts[] = {
		{ "levels", required_argument, NULL, 'l' },
		{ "pages", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "l:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			*levels = (int)strtol(optarg, &end, 10);
			if (*end || (*levels != 4 && *levels != 5)) {
				fprintf(stderr,
					"mmirror-demo: --levels must "
					"be 4 or 5, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			*npages = strtol(optarg, &end, 10);
			if (*end || *npages < 1 || *npages > 512) {
				fprintf(stderr,
					"mmirror-demo: --pages must "
					"be 1..512, not '%s'\n",
					optarg);
				return 2;
			}
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

/* Map the pages, then the zero page just after them. */
static int build(struct mm_struct *mm, unsigned long base, long npages,
		 struct page **pages)
{
	for (long i = 0; i < npages; i++) {
		int ret;

		pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!pages[i])
			return -ENOMEM;
		ret = mm_map_page(
			mm, base + i * PAGE_SIZE, pages[i],
			__pgprot(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER));
		if (ret)
			return ret;
	}
	return mm_map_page(mm, base + npages * PAGE_SIZE, ZERO_PAGE(0),
			   PAGE_READONLY);
}

static int run(struct mm_struct *mm, unsigned long base, long npages)
{
	struct sim_cpu *cpu = cpu_create(mm);
	char msg[64], back[64] = { 0 };
	unsigned long zero_va = base + npages * PAGE_SIZE;
	u64 word = 0;
	int ret;

	if (IS_ERR(cpu))
		return (int)PTR_ERR(cpu);
	printf("\n[3] CPU stores and loads through the page tables\n");
	for (long i = 0; i < npages; i++) {
		unsigned long va = base + i * PAGE_SIZE + 64;

		snprintf(msg, sizeof(msg), "page %ld says hello", i);
		ret = cpu_store(cpu, va, msg, strlen(msg) + 1);
		if (!ret)
			ret = cpu_load(cpu, va, back, sizeof(back));
		if (ret)
			goto out;
		printf("    store+load %#lx: \"%s\"\n", va, back);
	}
	ret = cpu_load_u64(cpu, zero_va + 8, &word);
	printf("    load  %#lx (zero page): %d, value %llu\n", zero_va + 8, ret,
	       (unsigned long long)word);
	ret = cpu_store_u64(cpu, zero_va, 1);
	printf("    store %#lx (zero page, read-only): %d (%s)\n", zero_va, ret,
	       ret == -EACCES ? "-EACCES: protection fault" : "?");
	ret = cpu_load_u64(cpu, zero_va + PAGE_SIZE, &word);
	printf("    load  %#lx (nothing mapped): %d (%s)\n",
	       zero_va + PAGE_SIZE, ret,
	       ret == -EFAULT ? "-EFAULT: page fault" : "?");
	printf("    the CPU did %lu loads, %lu stores, %lu table walks\n",
	       cpu->loads, cpu->stores, cpu->walks);
	ret = 0;
out:
	cpu_destroy(cpu);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long base = 0x7f0000000000UL;
	struct page *pages[512] = { 0 };
	struct mm_struct *mm;
	int levels = 4, ret;
	long npages = 4;

	ret = parse_args(argc, argv, &levels, &npages);
	if (ret)
		return ret == 1 ? 0 : ret;
	if (pgtable_set_levels(levels))
		return 1;

	printf("mmirror demo: %d-level page tables, %ld pages at %#lx\n",
	       levels, npages, base);
	mm = mm_alloc();
	if (IS_ERR(mm)) {
		fprintf(stderr, "mm_alloc: %ld\n", PTR_ERR(mm));
		return 1;
	}
	printf("\n[1] new address space: %lu page-table page(s), %lu of %lu "
	       "frames free\n",
	       mm_pgtables_pages(mm), nr_free_pages(), totalram_pages());
	ret = build(mm, base, npages, pages);
	if (ret) {
		fprintf(stderr, "mapping failed: %d\n", ret);
		goto out;
	}
	printf("\n[2] mapped %ld page(s) + the zero page: %lu page-table "
	       "pages, RSS %lu\n",
	       npages, mm_pgtables_pages(mm), get_mm_counter(mm, MM_ANONPAGES));
	for (long i = 0; i <= min(npages, 3L); i++)
		show_entry(mm, base + i * PAGE_SIZE);
	ret = run(mm, base, npages);
	if (ret) {
		fprintf(stderr, "CPU access failed: %d\n", ret);
		goto out;
	}
	printf("\n[4] entries after the accesses (A = accessed, D = dirty):\n");
	for (long i = 0; i <= min(npages, 3L); i++)
		show_entry(mm, base + i * PAGE_SIZE);
out:
	mmput(mm);
	for (long i = 0; i < npages; i++)
		if (pages[i])
			__free_page(pages[i]);
	printf("\n[5] address space torn down: %lu of %lu frames free, %ld "
	       "objects leaked\n",
	       nr_free_pages(), totalram_pages(), kmalloc_live_objects());
	return ret || nr_free_pages() != totalram_pages() ? 1 : 0;
}
