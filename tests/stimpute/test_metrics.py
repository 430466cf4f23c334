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
