#!/bin/sh
# Replays the change-segment fuzz corpus (records, manifests, watch responses; TAP output).
exec "$EDR_BUILDDIR/tests/fuzz/replay_segment" "$EDR_SRCDIR/tests/fuzz/corpus/segment"
