#!/usr/bin/env bash
# The README's two commands:
#   ./build.sh run    install what is missing, build, run a scenario file
#                     (examples/gpu-munmap-storm.mms; EXAMPLE=... for another)
#   ./build.sh test   install what is missing, build and run the whole suite
#                     three times (plain -O2, ASan+UBSan, TSan)
# Any other argument is passed to make (see the Makefile: bench, build, ...).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/deps.sh
exec make "${@:-run}"
