"""pipeline: download, cube, tile, fill and export soil-moisture products, stage by stage."""

import warnings

# the cube keeps its chunk checksums in its own store (`cube_chunks.SUMS`), so they move with it;
# zarr notes every file of a store that is not an array or group, on every open
warnings.filterwarnings(
    "ignore", message=r"Object at chunks\.sha256 is not recognized", category=UserWarning
)
