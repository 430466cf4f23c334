"""Tiling covers every land pixel; tile -> stitch is the identity on the values it is given."""

import numpy as np
import pytest

from pipeline.errors import TileError
from pipeline.fill_tasks import blend, squares
from pipeline.tile import Window, plan

SHAPES = [(36, 36), (37, 41), (100, 75), (20, 90), (13, 13), (181, 180)]


def _land(shape, seed):
    rng = np.random.default_rng(seed)
    land = rng.random(shape) < 0.7
    land[: shape[0] // 3, : shape[1] // 3] = False  # a corner of sea: windows there are skipped
    return land


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("overlap", [0, 4, 11])
def test_windows_cover_every_land_pixel_and_stay_inside(shape, overlap):
    land = _land(shape, sum(shape) + overlap)
    windows = plan(land, 36, overlap)
    covered = np.zeros(shape, dtype=int)
    for w in windows:
        assert (
            w.row >= 0
            and w.col >= 0
            and w.row + w.height <= shape[0]
            and w.col + w.width <= shape[1]
        )
        assert land[w.rows, w.cols].any()  # no window without land
        covered[w.rows, w.cols] += 1
    assert (covered[land] > 0).all()
    assert windows == sorted(windows)


def test_edge_windows_shift_inward_not_drop():
    windows = plan(np.ones((70, 70), bool), 36, 4)
    assert sorted({w.row for w in windows}) == [0, 32, 34]  # the last one ends on the edge
    assert all(w.height == 36 for w in windows)


def test_an_all_water_corner_is_skipped():
    land = np.zeros((72, 72), bool)
    land[70, 70] = True  # only the last window of each axis (rows 36..71) reaches it
    assert plan(land, 36, 4) == [Window(36, 36, 36, 36)]


def test_bad_tile_settings_are_an_error():
    with pytest.raises(TileError, match="overlap"):
        plan(np.ones((10, 10), bool), 8, 8)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("overlap", [0, 4, 11])
def test_blending_tiles_of_a_field_gives_the_field_back(shape, overlap):
    rng = np.random.default_rng(overlap)
    field = rng.random((5, *shape)).astype(np.float32)
    land = _land(shape, overlap)
    windows = plan(land, 36, overlap)
    out = np.full_like(field, np.nan)
    for sq in squares(shape, 24):  # squares that do not line up with the tiles
        pieces = ((w, {"v": field[:, w.rows, w.cols]}) for w in windows)
        out[:, sq.rows, sq.cols] = blend(sq, pieces, overlap, shape, 5).get("v", np.nan)
    covered = np.zeros(shape, bool)
    for w in windows:
        covered[w.rows, w.cols] = True
    np.testing.assert_allclose(out[:, covered], field[:, covered], rtol=1e-6)
    assert np.isnan(out[:, ~covered]).all()


def test_blended_tiles_show_no_seam_at_their_edges():
    # two tiles that disagree by a constant: across the overlap the answer ramps, never jumps
    shape, overlap = (36, 68), 4
    left, right = Window(0, 0, 36, 36), Window(0, 32, 36, 36)
    pieces = [
        (left, {"v": np.zeros((1, 36, 36), np.float32)}),
        (right, {"v": np.ones((1, 36, 36), np.float32)}),
    ]
    out = blend(Window(0, 0, 36, 68), pieces, overlap, shape, 1)["v"][0]
    steps = np.abs(np.diff(out, axis=1))
    assert steps.max() <= 1.0 / overlap + 1e-6  # the jump of 1 is spread over the overlap
