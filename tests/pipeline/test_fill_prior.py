"""The region's 9 km prior, kept beside the fill: built once by squares, equal to the prior
of the whole region, and brought up to date by recomputing only the days a change reaches."""

import numpy as np
import pytest
import xarray as xr
import zarr

from pipeline.cluster import Runner
from pipeline.fill_prior import days_to_compute, ensure_prior
from stimpute.covariates import PRIOR_REACH, prior_field

SPREAD, MEMORY = 4.5, 0.6


def _cube(folder, coarse, keys):
    days = coarse.shape[0]
    ds = xr.Dataset(
        {"sm_9km": (("time", "y", "x"), coarse.astype(np.float32))},
        coords={
            "time": np.datetime64("2022-01-01", "ns") + np.arange(days) * np.timedelta64(1, "D")
        },
        attrs={"build": {"day_keys": keys}},
    )
    ds.to_zarr(folder / "cube.zarr", mode="w", zarr_format=2, consolidated=True)
    return xr.open_zarr(folder / "cube.zarr", consolidated=True)


def _coarse(days, h, w, seed=0):
    rng = np.random.default_rng(seed)
    coarse = 0.25 + 0.05 * rng.standard_normal((days, h, w))
    seen = (np.arange(w)[None, None, :] + 7 * np.arange(days)[:, None, None]) % 30 < 18
    return np.where(seen & (rng.random((days, h, 1)) < 0.9), coarse, np.nan)


@pytest.mark.parametrize(
    "old,new,expected",
    [
        (None, ["a"] * 5, (0, 5)),
        (["a", "b", "c"], ["a", "b", "c"], (3, 3)),  # current
        (["k"] * 100, ["k"] * 100 + ["n"], (100 - PRIOR_REACH, 101)),  # a new day
        (["k"] * 100, ["k"] * 50 + ["r"] + ["k"] * 49, (50 - PRIOR_REACH, 51 + PRIOR_REACH)),
        (["k"] * 6, ["k"] * 5, (0, 5)),  # fewer days than it was made for: afresh
    ],
)
def test_the_days_to_compute_are_those_a_change_reaches(old, new, expected):
    made = None if old is None else {"spread": SPREAD, "memory": MEMORY, "day_keys": old}
    assert days_to_compute(made, new, SPREAD, MEMORY) == expected
    if made:  # other settings: afresh
        assert days_to_compute({**made, "spread": 2.0}, new, SPREAD, MEMORY) == (0, len(new))


def test_the_kept_prior_is_the_regions_and_a_night_recomputes_only_what_it_reaches(tmp_path):
    days, h, w = 80, 80, 90  # squares of 72 pixels: four, two of them partial
    coarse = _coarse(days, h, w)
    keys = [f"d{i}" for i in range(days)]
    cube = _cube(tmp_path, coarse, keys)
    path = ensure_prior(tmp_path, cube, SPREAD, MEMORY, Runner(None))
    region = prior_field(coarse.reshape(days, -1), (h, w), SPREAD, MEMORY).reshape(days, h, w)
    np.testing.assert_allclose(zarr.open_array(str(path))[:], region, atol=1e-6)
    # the store is current: nothing is written again
    marked = zarr.open_array(str(path), mode="r+")
    marked[:, 0, 0] = -1.0
    ensure_prior(tmp_path, cube, SPREAD, MEMORY, Runner(None))
    assert (zarr.open_array(str(path))[:, 0, 0] == -1.0).all()
    # a reissued day 60: the days within the reach are recomputed, the rest kept as they were
    coarse[60] = _coarse(1, h, w, seed=5)[0]
    cube = _cube(tmp_path, coarse, [*keys[:60], "reissued", *keys[61:]])
    ensure_prior(tmp_path, cube, SPREAD, MEMORY, Runner(None))
    after = zarr.open_array(str(path))[:]
    region = prior_field(coarse.reshape(days, -1), (h, w), SPREAD, MEMORY).reshape(days, h, w)
    reach = slice(60 - PRIOR_REACH, days)
    np.testing.assert_allclose(after[reach], region[reach], atol=1e-6)
    assert (after[: 60 - PRIOR_REACH, 0, 0] == -1.0).all()  # not reached: not rewritten
    # the year in progress grows by two days: the store grows, the new days and their reach
    grown = np.concatenate([coarse, _coarse(2, h, w, seed=7)])
    cube = _cube(tmp_path, grown, [*keys[:60], "reissued", *keys[61:], "n1", "n2"])
    ensure_prior(tmp_path, cube, SPREAD, MEMORY, Runner(None))
    after = zarr.open_array(str(path))[:]
    region = prior_field(grown.reshape(days + 2, -1), (h, w), SPREAD, MEMORY)
    reach = slice(days - PRIOR_REACH, days + 2)
    np.testing.assert_allclose(after[reach], region.reshape(days + 2, h, w)[reach], atol=1e-6)
    assert after.shape[0] == days + 2 and (after[: 60 - PRIOR_REACH, 0, 0] == -1.0).all()
