// SPDX-License-Identifier: MIT
/*
 * mmirror - the command line (`mmirror run FILE`); all of it lives in the
 * mmirror_scenario library (cli.c) so the tests can drive it too.
 */
#include <stdio.h>
#include "scenario.h"

int main(int argc, char **argv)
{
	return mmirror_main(argc, argv, stdout, stderr);
}
