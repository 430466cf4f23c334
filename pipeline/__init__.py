"""pipeline: download, cube, tile, fill and export soil-moisture products (stages land in later issues)."""
