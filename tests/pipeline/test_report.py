"""The run report's figures: the map is drawn again only when what it shows changed."""

import numpy as np
import xarray as xr

from pipeline.report import _busiest_gappy_day, map_figure, observed_counts


def _cube(values: np.ndarray) -> xr.Dataset:
    t, h, w = values.shape
    return xr.Dataset(
        {
            "soil_moisture": (("time", "y", "x"), values),
            "observed": (("time", "y", "x"), np.isfinite(values).astype(np.uint8)),
        },
        coords={
            "time": np.datetime64("2022-01-01") + np.arange(t),
            "y": 9000.0 - 1000.0 * np.arange(h),
            "x": 1000.0 * np.arange(w),
        },
    )


def test_an_unchanged_map_is_not_drawn_again(tmp_path):
    rng = np.random.default_rng(0)
    full = rng.uniform(0.1, 0.4, (3, 8, 10)).astype(np.float32)
    obs = np.where(rng.random(full.shape) < 0.5, np.nan, full)
    cube, filled = _cube(obs), _cube(full)
    path = map_figure(cube, filled, 1, tmp_path / "map.png")
    first = path.stat().st_mtime_ns, path.read_bytes()
    map_figure(cube, filled, 1, path)
    assert (path.stat().st_mtime_ns, path.read_bytes()) == first
    changed = full.copy()
    changed[1, 0, 0] += 0.01  # a filled value of the day moved: the map shows it
    map_figure(cube, _cube(changed), 1, path)
    assert path.stat().st_mtime_ns != first[0]
    map_figure(cube, _cube(changed), 2, path)  # another day
    assert path.read_bytes() != first[1]


def test_observed_counts_in_bands_match_the_whole():
    rng = np.random.default_rng(1)
    obs = np.where(rng.random((5, 7, 4)) < 0.7, np.nan, 0.2).astype(np.float32)
    per_day, per_pixel = observed_counts(_cube(obs), rows=3)
    np.testing.assert_array_equal(per_day, np.isfinite(obs).sum((1, 2)))
    np.testing.assert_array_equal(per_pixel, np.isfinite(obs).sum(0))
    assert _busiest_gappy_day(per_day, 28) == int(np.argmax(per_day))


def test_the_drawing_key_is_the_same_in_another_process():
    import subprocess
    import sys

    from pipeline.report import _drawing

    code = "from pipeline.report import _drawing, map_figure; print(_drawing(map_figure))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == _drawing(map_figure)
