#!/bin/sh
# Replays the data file reader's fuzz corpus (open -> zstd -> tar); prints TAP.
exec "$EDR_BUILDDIR/tests/fuzz/replay_datafile" "$EDR_SRCDIR/tests/fuzz/corpus/datafile"
