#!/bin/sh
# Replays the S3 XML fuzz corpus through the parser and the response readers (TAP output).
exec "$EDR_BUILDDIR/tests/fuzz/replay_s3xml" "$EDR_SRCDIR/tests/fuzz/corpus/s3xml"
