# fuzz targets and their corpus replay
