import numpy as np
import pytest

from stimpute import Imputer
from stimpute.calibration import MIN_VALUES, StdCalibration, dark_gaps
from stimpute.simulate import twin
from stimpute.training import scene_days


def _dark_by_hand(visible: np.ndarray, height: int, width: int, reach: int) -> np.ndarray:
    seen = visible.reshape(-1, height, width)
    out = np.zeros(seen.shape, bool)
    for t in range(seen.shape[0]):
        for r in range(height):
            for c in range(width):
                box = seen[t, max(0, r - reach) : r + reach + 1, max(0, c - reach) : c + reach + 1]
                out[t, r, c] = not box.any()
    return out.reshape(len(seen), -1)


def test_dark_gaps_on_a_grid_match_a_loop_over_each_square():
    rng = np.random.default_rng(0)
    visible = rng.random((6, 7 * 9)) < 0.03
    for reach in (0, 1, 3):
        np.testing.assert_array_equal(
            dark_gaps(visible, (7, 9), reach), _dark_by_hand(visible, 7, 9, reach)
        )


def test_dark_gaps_on_a_point_set_are_days_with_nothing_seen_anywhere():
    visible = np.zeros((3, 4), bool)
    visible[1, 2] = True
    assert dark_gaps(visible, None, 5).tolist() == [[True] * 4, [False] * 4, [True] * 4]


def test_each_factor_puts_ninety_percent_of_its_kind_inside_the_interval():
    rng = np.random.default_rng(1)
    lit = np.abs(rng.normal(size=14_000)) * 0.7  # errors over the raw std: too small by 0.7
    dark = np.abs(rng.normal(size=6_000)) * 2.0  # and by 2 on dark days
    cal = StdCalibration.fit(lit, dark)
    assert cal.lit == pytest.approx(0.7, rel=0.05)
    assert cal.dark == pytest.approx(2.0, rel=0.05)
    assert np.mean(lit <= 1.6449 * cal.lit) == pytest.approx(0.9, abs=0.02)
    assert np.mean(dark <= 1.6449 * cal.dark) == pytest.approx(0.9, abs=0.02)
    np.testing.assert_allclose(cal.factors(np.array([True, False])), [cal.dark, cal.lit], rtol=1e-6)


def test_a_kind_with_too_few_values_borrows_the_other_factor():
    ratio = np.abs(np.random.default_rng(2).normal(size=1000)) * 3.0
    cal = StdCalibration.fit(ratio, ratio[: MIN_VALUES - 1])
    assert cal.dark == cal.lit == pytest.approx(3.0, rel=0.1)
    cal = StdCalibration.fit(ratio[:10], ratio)
    assert cal.dark == cal.lit == pytest.approx(3.0, rel=0.1)
    assert StdCalibration.fit(ratio[:10], ratio[:10]) == StdCalibration()


def test_scene_days_hold_whole_observed_days_at_every_node():
    observed = np.random.default_rng(3).random((60, 50)) < 0.2
    observed[::3] = False  # some days with nothing seen
    held = scene_days(observed, 0.1, np.random.default_rng(0))
    days = held.any(axis=1)
    assert days.sum() >= 1
    np.testing.assert_array_equal(held[days], observed[days])  # every seen value of those days
    assert 0.05 < held.sum() / observed.sum() < 0.15
    few = observed.copy()
    few[12:] = False
    assert not scene_days(few, 0.1, np.random.default_rng(0)).any()  # under 10 observed days


def test_a_fitted_model_carries_both_factors_through_save_and_load(tmp_path):
    tw = twin(height=12, width=12, days=120, seed=4)
    imp = Imputer("st_transformer", window=24, seed=0, dim=16, layers=1, heads=2, tile=6)
    imp.fit(tw.observed, max_epochs=2)
    cal = imp.method.calibration
    assert cal != StdCalibration() and 0.2 <= cal.lit <= 5 and 0.2 <= cal.dark <= 5
    imp.save(tmp_path / "m.pt")
    again = Imputer.load(tmp_path / "m.pt")
    assert again.method.calibration == cal
    res = imp.impute(tw.observed)
    np.testing.assert_array_equal(again.impute(tw.observed).std, res.std)
    # each gap's std is the raw one times the factor of its kind
    gaps = np.isnan(tw.observed.reshape(120, -1))
    dark = dark_gaps(~gaps, (12, 12), imp.method.reach)[gaps]
    assert dark.any() and not dark.all()
    imp.method.calibration = StdCalibration()
    raw = imp.impute(tw.observed).std.reshape(120, -1)[gaps]
    np.testing.assert_allclose(
        res.std.reshape(120, -1)[gaps] / raw, np.where(dark, cal.dark, cal.lit), rtol=1e-4
    )
