// SPDX-License-Identifier: MIT
/*
 * The scenario registry: a fixed table filled at start-up, single-threaded
 * (explore_scenarios_init() runs before any explorer thread exists), read
 * afterwards.  Registering the same scenario twice is a no-op.
 */
#include <string.h>
#include <mmirror/explore.h>
#include <mmirror/slab.h>

#define EXPLORE_MAX_SCENARIOS 128

static const struct explore_scenario *scenarios[EXPLORE_MAX_SCENARIOS];
static unsigned int nr_scenarios;

void explore_register(const struct explore_scenario *s)
{
	if (WARN_ON(!s || !s->name || !s->run))
		return;
	if (explore_find(s->name))
		return;
	if (WARN_ON(nr_scenarios == EXPLORE_MAX_SCENARIOS))
		return;
	scenarios[nr_scenarios++] = s;
}

const struct explore_scenario *explore_find(const char *name)
{
	for (unsigned int i = 0; name && i < nr_scenarios; i++)
		if (!strcmp(scenarios[i]->name, name))
			return scenarios[i];
	return NULL;
}

const struct explore_scenario *explore_scenario_at(unsigned int i)
{
	return i < nr_scenarios ? scenarios[i] : NULL;
}
