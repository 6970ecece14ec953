#!/bin/sh
# Replays the bbolt reader's fuzz corpus (TAP).
exec "$EDR_BUILDDIR/tests/fuzz/replay_bolt" "$EDR_SRCDIR/tests/fuzz/corpus/bolt"
