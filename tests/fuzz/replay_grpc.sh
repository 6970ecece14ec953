#!/bin/sh
# Replays the gRPC fuzz corpus through the decoder (TAP output).
exec "$EDR_BUILDDIR/tests/fuzz/replay_grpc" "$EDR_SRCDIR/tests/fuzz/corpus/grpc"
