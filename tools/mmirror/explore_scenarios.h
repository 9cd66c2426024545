/* SPDX-License-Identifier: MIT */
/*
 * explore_scenarios.h - the seed races as explorer scenarios: for seeds
 * 000, 002 and 004 a "seedNNN-flawed" scenario (drivers/flawed, a
 * violation exists) and a "seedNNN-correct" one (its correct counterpart,
 * none may exist).
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
extern const struct explore_scenario explore_seed002_flawed;
extern const struct explore_scenario explore_seed002_correct;
extern const struct explore_scenario explore_seed004_flawed;
extern const struct explore_scenario explore_seed004_correct;

#endif /* MMIRROR_TOOLS_EXPLORE_SCENARIOS_H */
