# fuzz targets and their corpus replay
EXTRA_DIST += tests/fuzz/README.md
