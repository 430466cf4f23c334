"""The run's check hides whole 36 km blocks on a day by default, the same ones in every tile."""

import numpy as np
import pytest

from pipeline.fill_inputs import HOLDOUT_BLOCK, Holdout


def _grid(days=200, rows=(504, 648), cols=(720, 864)):  # 4 x 4 blocks, aligned
    t = np.arange(days)[:, None, None]
    r = np.arange(*rows)[None, :, None]
    c = np.arange(*cols)[None, None, :]
    return t, r, c


def test_a_held_out_block_is_hidden_whole_on_its_day():
    t, r, c = _grid()
    hide = Holdout(0.1, "block", seed=3).mask(t, r, c)
    blocks = hide.reshape(200, 4, HOLDOUT_BLOCK, 4, HOLDOUT_BLOCK)
    whole = blocks.all(axis=(2, 4))
    assert np.array_equal(whole, blocks.any(axis=(2, 4)))  # all of a block, or none of it
    assert 0.07 < whole.mean() < 0.13  # about the share of block-days
    assert not whole.all(axis=0).any()  # a block is held out on some days, not every day


def test_points_are_chosen_one_by_one():
    t, r, c = _grid(days=20)
    hide = Holdout(0.1, "point").mask(t, r, c)
    assert 0.09 < hide.mean() < 0.11
    blocks = hide.reshape(20, 4, HOLDOUT_BLOCK, 4, HOLDOUT_BLOCK)
    assert not np.array_equal(blocks.all(axis=(2, 4)), blocks.any(axis=(2, 4)))


@pytest.mark.parametrize("by", ["block", "point"])
def test_every_tile_sees_the_same_choice(by):
    h = Holdout(0.2, by, seed=1)
    t, r, c = _grid(days=30)
    whole = h.mask(t, r, c)
    part = h.mask(t, r[:, 50:90], c[:, :, 17:61])  # a tile cut anywhere, with its own halo
    assert np.array_equal(part, whole[:, 50:90, 17:61])
    assert not Holdout(0.0, by).mask(t, r, c).any()
    assert not np.array_equal(whole, Holdout(0.2, by, seed=2).mask(t, r, c))


def test_a_tiles_prior_is_the_regions_prior_where_it_lies():
    import xarray as xr

    from pipeline.fill_inputs import window_prior
    from pipeline.tile import Window
    from stimpute.covariates import prior_field

    rng = np.random.default_rng(0)
    days, h, w = 20, 60, 70
    coarse = 0.25 + 0.05 * rng.standard_normal((days, h, w))
    seen = (np.arange(w)[None, None, :] + 7 * np.arange(days)[:, None, None]) % 30 < 18
    coarse = np.where(seen & (rng.random((days, h, 1)) < 0.9), coarse, np.nan)
    cube = xr.Dataset({"sm_9km": (("time", "y", "x"), coarse)})
    region = prior_field(coarse.reshape(days, -1), (h, w), 4.5, 0.6).reshape(days, h, w)
    for win in (Window(10, 20, 24, 24), Window(0, 0, 20, 30), Window(40, 50, 20, 20)):
        tile = window_prior(cube, win, 4.5, 0.6)
        assert np.allclose(tile, region[:, win.rows, win.cols], atol=1e-6)


def test_half_of_the_check_fits_the_std_factor_in_whole_block_days():
    t, r, c = _grid()
    h = Holdout(0.3, "block", seed=3)
    held, fits = h.mask(t, r, c), h.calibrates(t, r, c)
    blocks = fits.reshape(200, 4, HOLDOUT_BLOCK, 4, HOLDOUT_BLOCK)
    assert np.array_equal(blocks.all(axis=(2, 4)), blocks.any(axis=(2, 4)))  # whole blocks
    share = (held & fits).sum() / held.sum()
    assert 0.4 < share < 0.6  # about half of the check, cut across its own choice


def test_the_std_factor_is_fitted_on_its_half_of_the_check_alone():
    from pipeline.fill_scores import std_factor
    from stimpute.metrics import Z90

    t, r, c = (np.broadcast_to(a, (200, 144, 144))[Holdout(0.3, "block", seed=3).mask(*_grid())]
               for a in _grid())  # fmt: skip
    h, origin = Holdout(0.3, "block", seed=3), (504, 720)
    r, c = r - origin[0], c - origin[1]  # the tiles' rows and columns are the region's
    fits = h.calibrates(t, r + origin[0], c + origin[1])
    rng = np.random.default_rng(0)
    std = np.full(len(t), 0.01, np.float32)
    # errors twice the std on the fitting half, ten times on the other: the factor is 2
    err = rng.standard_normal(len(t)) * np.where(fits, 0.02, 0.1)
    tiles = [
        {"check": {"t": t[s], "r": r[s], "c": c[s], "truth": 0.3 + err[s],
                   "check_st": np.full(len(t[s]), 0.3), "check_std": std[s]}}
        for s in (slice(0, len(t) // 2), slice(len(t) // 2, None))
    ]  # fmt: skip
    got = std_factor(tiles, h, origin)
    assert got["fitted"] and got["values"] == int(fits.sum())
    assert got["block_days"] == h.units(t[fits], r[fits] + origin[0], c[fits] + origin[1]) > 100
    assert abs(got["std_factor"] - 2.0) < 0.1
    assert np.mean(np.abs(err[fits]) <= got["std_factor"] * 0.01 * Z90) == pytest.approx(
        0.9, abs=0.01
    )
    # a check of a few block-days does not scale the std
    few = [{"check": {k: v[:50] for k, v in tiles[0]["check"].items()}}]
    f = fits[:50]
    assert std_factor(few, h, origin) == {
        "std_factor": 1.0, "fitted": False, "values": int(f.sum()),
        "block_days": h.units(t[:50][f], r[:50][f] + origin[0], c[:50][f] + origin[1]),
    }  # fmt: skip
