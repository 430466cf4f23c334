import numpy as np
import pytest
import torch

import stimpute
from stimpute.calibration import MIN_VALUES, fit_factors, same_day_support, support_level
from stimpute.metrics import Z90
from tests.conftest import TINY


def test_same_day_support_by_hand():
    visible = torch.zeros(2, 36, dtype=torch.bool)  # two days of a 6 x 6 grid
    visible[0, 0] = True  # day 0: only the corner pixel seen
    visible[1] = True  # day 1: all seen
    share = same_day_support(visible, (6, 6)).reshape(2, 6, 6)
    assert share[0, 0, 0] == pytest.approx(1 / 9)  # its 3 x 3 share of the 5 x 5 box
    assert share[0, 2, 2] == pytest.approx(1 / 25)
    assert share[0, 5, 5] == 0  # nothing seen within two pixels
    assert torch.all(share[1] == 1)
    on_points = same_day_support(visible[:, :4], None)  # a point set: the share of all nodes
    assert torch.allclose(on_points[0], torch.full((4,), 0.25))
    levels = support_level(torch.tensor([0.0, 0.2, 0.5, 0.7]))
    assert levels.tolist() == [0, 1, 2, 2]


def test_one_factor_per_support_level_and_the_pooled_one_where_too_few():
    rng = np.random.default_rng(0)
    unseen = np.abs(rng.normal(size=2000)) * 2.0  # errors twice the std where nothing is seen
    seen = np.abs(rng.normal(size=2000))
    ratio = np.concatenate([unseen, seen, seen[: MIN_VALUES - 1]])
    level = np.repeat([0, 2, 1], [2000, 2000, MIN_VALUES - 1])
    pooled, f0, f1, f2 = fit_factors(ratio, level)
    # |N(0, s)| has its 90% quantile at s * Z90: the factor recovers s
    assert f0 == pytest.approx(2.0, rel=0.1)
    assert f2 == pytest.approx(1.0, rel=0.1)
    assert f1 == pooled and f2 < pooled < f0
    assert np.mean(unseen <= f0 * Z90) == pytest.approx(0.9, abs=0.01)


def test_calibration_by_support_rescales_the_std_and_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    t, y, x = np.ogrid[:60, :12, :12]
    truth = 0.25 + 0.1 * np.sin(t / 9 + y / 5) + 0.05 * np.cos(x / 4)
    values = np.where(
        rng.random(truth.shape) < 0.3, np.nan, truth + rng.normal(0, 0.01, truth.shape)
    )
    kw = dict(TINY, device="cpu", window=12, max_steps=20)
    with pytest.raises(stimpute.ConfigError, match="calibration='sometimes'"):
        stimpute.Imputer("st_transformer", calibration="sometimes", **kw)
    imp = stimpute.Imputer("st_transformer", seed=0, calibration="support", **kw).fit(values)
    factors = imp.method.std_factors
    assert len(factors) == 4 and all(0.2 <= f <= 5.0 for f in factors)
    assert len(set(factors[1:])) > 1  # enough validation values to tell the levels apart
    by_support = imp.impute(values)
    imp.method.hparams["calibration"] = "pooled"
    pooled = imp.impute(values)
    np.testing.assert_array_equal(by_support.values, pooled.values)  # the std only
    gaps = np.isnan(values)
    visible = torch.from_numpy(~gaps.reshape(60, 144))
    level = support_level(same_day_support(visible, (12, 12))).numpy()
    expected = np.asarray(factors[1:])[level.reshape(gaps.shape)] / factors[0]
    np.testing.assert_allclose(by_support.std[gaps], (pooled.std * expected)[gaps], rtol=1e-5)
    again = stimpute.Imputer.load(imp.save(tmp_path / "m.pt"), device="cpu")
    assert again.method.std_factors == pytest.approx(factors)
