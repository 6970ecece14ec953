#!/bin/sh
# Replays the Gardener delta fuzz corpus (compressed and plain deltas; TAP output).
exec "$EDR_BUILDDIR/tests/fuzz/replay_gardener" "$EDR_SRCDIR/tests/fuzz/corpus/gardener"
