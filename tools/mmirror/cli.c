// SPDX-License-Identifier: MIT
/*
 * cli.c - the `mmirror` command line: subcommands, options, help, and
 * reading the scenario file.
 *
 * Exit statuses are the scenario's (scenario.h): 0 pass, 1 failed
 * expectation or violation, 2 anything that kept the run from starting
 * (bad arguments, an unreadable or malformed file).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "scenario.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mmirror COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  run [-v] [-q] [--progress] FILE   run a scenario file\n"
		"  explore SCENARIO [OPTIONS]        search a built-in scenario's\n"
		"                                    interleavings for races\n"
		"  explore --list                    list the built-in scenarios\n"
		"  help [COMMAND]                    show help\n"
		"\n"
		"`mmirror explore --help` lists the explorer's options.\n"
		"`mmirror run --help` describes scenario files; the language is\n"
		"in docs/scenario-language.md, examples in examples/*.mms.\n");
}

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: mmirror run [-v|--verbose] [-q|--quiet] [--progress] "
		"FILE\n"
		"\n"
		"Runs the scenario FILE (or - for standard input) under the\n"
		"coherence oracle: processes, mappings, CPUs and devices\n"
		"(mirror, odp, kvm, pin), their operations in sequence and in\n"
		"parallel threads, and expectations.  Prints per-device\n"
		"statistics, the oracle's verdict and each failed expectation.\n"
		"\n"
		"  -v, --verbose   one line per operation and its result\n"
		"  -q, --quiet     no per-operation failure lines\n"
		"  --progress      a progress line a second on stderr once the\n"
		"                  run passes 2 s (default when stderr is a "
		"tty)\n"
		"\n"
		"exit status: 0 every expectation held and no unexpected\n"
		"violation; 1 otherwise; 2 malformed file or bad arguments\n"
		"(errors as FILE:LINE:COL: error: ...).\n");
}

/* Read all of @f; NULL on error (errno set). */
static char *slurp(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap), *nb;

	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		cap *= 2;
		nb = realloc(buf, cap);
		if (!nb)
			free(buf);
		buf = nb;
	}
	if (buf && ferror(f)) {
		free(buf);
		buf = NULL;
	}
	*len = n;
	return buf;
}

static int run_file(const char *path, const struct scn_opts *o, FILE *out,
		    FILE *err)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	struct scenario *scn;
	size_t len;
	char *text;
	int ret;

	if (!f) {
		fprintf(err, "mmirror: cannot open '%s': %s\n", path,
			strerror(errno));
		return SCN_EXIT_USAGE;
	}
	text = slurp(f, &len);
	if (!text)
		fprintf(err, "mmirror: cannot read '%s': %s\n", path,
			strerror(errno ? errno : ENOMEM));
	if (f != stdin)
		fclose(f);
	if (!text)
		return SCN_EXIT_USAGE;
	scn = scn_parse(strcmp(path, "-") ? path : "<stdin>", text, len, err);
	free(text);
	if (!scn)
		return SCN_EXIT_USAGE;
	ret = scn_run(scn, o, out);
	scn_free(scn);
	return ret;
}

static int cmd_run(int argc, char **argv, FILE *out, FILE *err)
{
	struct scn_opts o = { .progress = isatty(STDERR_FILENO) };
	const char *file = NULL;
	bool opts_done = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts_done || a[0] != '-' || !strcmp(a, "-")) {
			if (file) {
				fprintf(err,
					"mmirror run: one FILE only "
					"('%s' and '%s')\n",
					file, a);
				return SCN_EXIT_USAGE;
			}
			file = a;
		} else if (!strcmp(a, "--")) {
			opts_done = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			run_usage(out);
			return SCN_EXIT_OK;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			o.verbose = true;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			o.quiet = true;
		} else if (!strcmp(a, "--progress")) {
			o.progress = true;
		} else {
			fprintf(err, "mmirror run: unknown option '%s'\n", a);
			run_usage(err);
			return SCN_EXIT_USAGE;
		}
	}
	if (!file) {
		fprintf(err, "mmirror run: missing FILE\n");
		run_usage(err);
		return SCN_EXIT_USAGE;
	}
	return run_file(file, &o, out, err);
}

int mmirror_main(int argc, char **argv, FILE *out, FILE *err)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		usage(err);
		return SCN_EXIT_USAGE;
	}
	if (!strcmp(cmd, "explore"))
		return mmirror_explore_main(argc - 1, argv + 1, out, err);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1, out, err);
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "help")) {
		if (argc > 2 && !strcmp(argv[2], "run"))
			run_usage(out);
		else if (argc > 2 && !strcmp(argv[2], "explore"))
			return mmirror_explore_main(
				2, (char *[]){ "explore", "--help", NULL }, out,
				err);
		else
			usage(out);
		return SCN_EXIT_OK;
	}
	fprintf(err, "mmirror: unknown command '%s' (try 'mmirror --help')\n",
		cmd);
	return SCN_EXIT_USAGE;
}
