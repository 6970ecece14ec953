#!/bin/sh
# Replays the EncryptionConfiguration fuzz corpus through the reader and the
# value opener (TAP output).
exec "$EDR_BUILDDIR/tests/fuzz/replay_encconfig" "$EDR_SRCDIR/tests/fuzz/corpus/encconfig"
