#!/bin/sh
# Replays the Kubernetes object fuzz corpus through the decoder (TAP output).
exec "$EDR_BUILDDIR/tests/fuzz/replay_k8s" "$EDR_SRCDIR/tests/fuzz/corpus/k8s"
