"""The HTTPS raster source against a loopback HTTP server that honours range requests, read
through GDAL's /vsicurl/ exactly as SoilGrids' COGs are read."""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from pipeline.catalog import product, region
from pipeline.download import run
from pipeline.readers.regrid import read_geotiff
from pipeline.sources.covariate_files import write_geotiff
from pipeline.sources.https import HttpsSource
from tests.pipeline.conftest import YEAR


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with single-range support (what /vsicurl/ asks for)."""

    def log_message(self, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        rng = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not rng or not rng.startswith("bytes="):
            return super().send_head()
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            self.send_error(404)
            return None
        start_s, end_s = rng[6:].split("-")
        start = int(start_s)
        end = min(int(end_s) if end_s else len(data) - 1, len(data) - 1)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        import io

        return io.BytesIO(data[start : end + 1])


@pytest.fixture
def served(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("served", numbered=False)
    grid = region("txson").grid
    yy, xx = np.mgrid[0 : grid.height, 0 : grid.width]
    fields = {}
    for k, name in enumerate(("sand", "clay")):
        # smooth, as soil texture is at 1 km: GDAL's bilinear widens its kernel when it
        # downsamples, so a white-noise field would be (rightly) averaged across cells
        field = (450 + 250 * np.sin(xx / (6 + k)) * np.cos(yy / 5)).round()
        # a raster much larger than the region, as the global SoilGrids layers are
        big = type(grid)(grid.row0 - 36, grid.col0 - 36, 108, 108)
        padded = np.pad(field, 36, mode="edge")
        write_geotiff(
            tmp_path / f"{name}.tif", padded, big, nodata=-32768, dtype="int16", step=0.002
        )
        fields[name] = field
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", fields
    server.shutdown()


def test_soil_texture_window_is_fetched_and_lands_on_the_grid(served, tmp_path):
    from dataclasses import replace

    base, fields = served
    soil = replace(product("soil_texture"), url=base + "/{variable}.tif")
    src = HttpsSource()
    rep = run(region("txson"), YEAR, [soil], source=src, raw=tmp_path / "raw")
    assert sorted(rep.fetched) == ["soilgrids_clay_0-5cm.tif", "soilgrids_sand_0-5cm.tif"]
    local = tmp_path / "raw" / "soil_texture" / "soilgrids_sand_0-5cm.tif"
    import rasterio

    with (
        rasterio.open(local) as win,
        rasterio.open(tmp_path.parent / "served" / "sand.tif") as whole,
    ):
        assert win.width < whole.width / 2 and win.crs == whole.crs  # only the region's window
    dec = read_geotiff(local, soil, soil.variables["sand"], region("txson").grid)
    # g/kg -> % by the catalog's scale
    err = np.abs(dec.values - fields["sand"] * 0.1)
    assert np.isfinite(dec.values).all() and np.median(err) < 1.0
