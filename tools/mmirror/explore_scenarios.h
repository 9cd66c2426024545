/* SPDX-License-Identifier: MIT */
/*
 * explore_scenarios.h - the seed races as explorer scenarios: for each
 * seed 000..004 a "seedNNN-flawed" scenario (drivers/flawed, a violation
 * exists) and a "seedNNN-correct" one (its correct counterpart, none may
 * exist); seed 003 also has "seed003-checked" (the other side of its
 * argument, also clean).  000, 002 and 004 are in explore_scenarios.c,
 * 001 and 003 in explore_seed001.c and explore_seed003.c.
 */
#ifndef MMIRROR_TOOLS_EXPLORE_SCENARIOS_H
#define MMIRROR_TOOLS_EXPLORE_SCENARIOS_H

#include <mmirror/explore.h>

/* Register the scenarios above with explore_register(); idempotent. */
void explore_scenarios_init(void);

/* The scenarios themselves (for tests that run them without the
 * explorer). */
extern const struct explore_scenario explore_seed000_flawed;
extern const struct explore_scenario explore_seed000_correct;
/* tools/mmirror/explore_seed001.c (torn-mode walker) */
extern const struct explore_scenario explore_seed001_flawed;
extern const struct explore_scenario explore_seed001_correct;
extern const struct explore_scenario explore_seed002_flawed;
extern const struct explore_scenario explore_seed002_correct;
/* tools/mmirror/explore_seed003.c (device-memory removal vs GUP-fast) */
extern const struct explore_scenario explore_seed003_flawed;
extern const struct explore_scenario explore_seed003_checked;
extern const struct explore_scenario explore_seed003_correct;
extern const struct explore_scenario explore_seed004_flawed;
extern const struct explore_scenario explore_seed004_correct;
/* explore_devmem.c: device-private memory, correct protocol only. */
extern const struct explore_scenario explore_devmem_migrate;
extern const struct explore_scenario explore_devmem_release;
extern const struct explore_scenario explore_devmem_fork;

#endif /* MMIRROR_TOOLS_EXPLORE_SCENARIOS_H */
