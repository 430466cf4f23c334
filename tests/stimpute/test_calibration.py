import numpy as np
import pytest

import stimpute
from stimpute.calibration import MIN_VALUES, fit_factor
from stimpute.metrics import Z90
from tests.conftest import TINY


def test_the_factor_recovers_a_known_scale_and_is_left_alone_on_too_few_values():
    rng = np.random.default_rng(0)
    ratio = np.abs(rng.normal(size=4000)) * 2.0  # errors twice the std the head gave
    factor = fit_factor(ratio)
    # |N(0, s)| has its 90% quantile at s * Z90: the factor recovers s
    assert factor == pytest.approx(2.0, rel=0.05)
    assert np.mean(ratio <= factor * Z90) == pytest.approx(0.9, abs=0.01)
    assert fit_factor(ratio[: MIN_VALUES - 1]) == 1.0
    assert fit_factor(ratio * 100) == 5.0  # clipped: a fit that far off is not trusted


def test_the_fitted_factor_scales_the_std_and_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    t, y, x = np.ogrid[:60, :12, :12]
    truth = 0.25 + 0.1 * np.sin(t / 9 + y / 5) + 0.05 * np.cos(x / 4)
    values = np.where(
        rng.random(truth.shape) < 0.3, np.nan, truth + rng.normal(0, 0.01, truth.shape)
    )
    kw = dict(TINY, device="cpu", window=12, max_steps=20)
    imp = stimpute.Imputer("st_transformer", seed=0, **kw).fit(values)
    factor = imp.method.std_scale
    assert 0.2 <= factor <= 5.0 and factor != 1.0  # fitted, on enough validation values
    calibrated = imp.impute(values)
    imp.method.std_scale = 1.0
    raw = imp.impute(values)
    np.testing.assert_array_equal(calibrated.values, raw.values)  # the std only
    gaps = np.isnan(values)
    np.testing.assert_allclose(calibrated.std[gaps], raw.std[gaps] * factor, rtol=1e-5)
    imp.method.std_scale = factor
    again = stimpute.Imputer.load(imp.save(tmp_path / "m.pt"), device="cpu")
    assert again.method.std_scale == factor
    np.testing.assert_array_equal(again.impute(values).std, calibrated.std)
