#!/bin/sh
# Replays the manifest fuzz corpus through the parser (TAP output).
exec "$EDR_BUILDDIR/tests/fuzz/replay_manifest" "$EDR_SRCDIR/tests/fuzz/corpus/manifest"
