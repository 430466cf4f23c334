import math

import numpy as np
import pytest

from stimpute import metrics


def test_metrics_against_hand_computed_values():
    pred = np.array([1.0, 2.0, 4.0, 9.0])
    target = np.array([2.0, 2.0, 2.0, np.nan])
    mask = np.array([True, True, True, True])
    # errors on the finite pairs: -1, 0, 2
    assert metrics.mae(pred, target, mask) == pytest.approx(1.0)
    assert metrics.rmse(pred, target, mask) == pytest.approx(math.sqrt(5 / 3))
    assert metrics.bias(pred, target, mask) == pytest.approx(1 / 3)
    assert metrics.ubrmse(pred, target, mask) == pytest.approx(math.sqrt(5 / 3 - 1 / 9))
    assert metrics.mre(pred, target, mask) == pytest.approx(3 / 6)
    assert math.isnan(metrics.pearson_r(pred, target, mask))  # constant target


def test_pearson_and_mask():
    pred = np.array([1.0, 2.0, 3.0, 100.0])
    target = np.array([2.0, 4.0, 6.0, 0.0])
    mask = np.array([True, True, True, False])
    assert metrics.pearson_r(pred, target, mask) == pytest.approx(1.0)
    assert metrics.mae(pred, target, mask) == pytest.approx(2.0)


def test_coverage_counts_values_inside_the_interval():
    pred = np.zeros(4)
    target = np.array([0.5, 1.0, 2.0, -0.1])
    std = np.ones(4)
    # 90% interval is +/- 1.645: 0.5, 1.0, -0.1 inside, 2.0 outside
    assert metrics.coverage(pred, std, target, level=0.9) == pytest.approx(0.75)
    # 50% interval is +/- 0.674: 0.5 and -0.1 inside
    assert metrics.coverage(pred, std, target, level=0.5) == pytest.approx(0.5)


def test_empty_mask_raises():
    from stimpute.errors import NoObservationsError

    with pytest.raises(NoObservationsError):
        metrics.mae(np.ones(3), np.ones(3), np.zeros(3, bool))


def test_cell_edges_follow_the_line_origin_on_the_cells_grid():
    assert np.flatnonzero(metrics.cell_edges(20, 9)).tolist() == [8, 17]
    # a line that starts 3 pixels into a cell meets its first edge after 6 pixels
    assert np.flatnonzero(metrics.cell_edges(20, 9, origin=3)).tolist() == [5, 14]


def test_neighbour_steps_count_only_pairs_inside_the_mask_with_finite_values():
    field = np.array([[[0.0, 1.0, 3.0, np.nan, 4.0]]])
    where = np.array([[[True, True, True, True, False]]])
    step, both = metrics.neighbour_steps(field, where, axis=2)
    assert step[0, 0, :2].tolist() == [1.0, 2.0]
    assert both[0, 0].tolist() == [True, True, False, False]


def test_cell_seam_ratio_sees_steps_at_cell_edges_and_none_in_a_smooth_field():
    t, h, w = 3, 18, 18
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    smooth = np.broadcast_to(0.01 * rows + 0.02 * cols, (t, h, w)).copy()
    everywhere = np.ones((t, h, w), bool)
    x, y = metrics.cell_seam_ratio(smooth, everywhere, 9)
    assert x == pytest.approx(1.0) and y == pytest.approx(1.0)
    blocky = smooth + 0.05 * (cols // 9)  # a step at the cells' edge across the width only
    x, y = metrics.cell_seam_ratio(blocky, everywhere, 9)
    assert x == pytest.approx((0.02 + 0.05) / 0.02) and y == pytest.approx(1.0)
    only_left = everywhere & (cols < 9)  # no pair of pixels crosses an edge
    assert math.isnan(metrics.cell_seam_ratio(blocky, only_left, 9)[0])
    with pytest.raises(metrics.ShapeError):
        metrics.cell_seam_ratio(smooth[0], everywhere[0], 9)
