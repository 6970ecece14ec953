#!/bin/sh
# Replays the cron fuzz corpus through the parser (TAP output).
exec "$EDR_BUILDDIR/tests/fuzz/replay_cron" "$EDR_SRCDIR/tests/fuzz/corpus/cron"
