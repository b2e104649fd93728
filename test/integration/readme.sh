#!/usr/bin/env bash
# The README as a doctest: every ```sql block of README.md runs, in order, in
# one psql session against the Genie emulator, and psql must print the output
# the README shows after a block (test/integration/readme.py says how blocks
# are read, marked and compared; test/README.md repeats it).
#
# Set-up, as a reader following the README has it: the emulator started as
# the README's "Trying it without a workspace" does (questions not limited),
# on a free port instead of 8765; a fresh cluster without
# shared_preload_libraries (the README's Set-up section is optional; preloaded,
# its default limit of 5 questions a minute would slow the run to minutes); an
# empty database in which the README's examples create everything they use.
# The README's workspace host and token 'dapi...' are replaced by the
# emulator's.
source "$(dirname "$0")/../lib.sh"

genie_start_emulator --questions-per-minute 0
genie_start_cluster

python3 "$GENIE_ROOT/test/integration/readme.py" --url "$GENIE_EMULATOR_URL" --token "$GENIE_TOKEN" \
	"$GENIE_ROOT/README.md"
