import numpy as np
import pytest
import torch

import stimpute
from stimpute.covariates import PER_CHANNEL
from stimpute.gaps import fill_in_time
from stimpute.layout import prepare

nan = np.nan


def test_fill_in_time_by_hand():
    series = np.array([[nan, 1.0, nan, nan, 4.0, nan], [nan] * 6, [2.0] * 6]).T
    filled, dist = fill_in_time(series)
    np.testing.assert_allclose(filled[:, 0], [1, 1, 2, 3, 4, 4])  # held constant past the ends
    assert np.isnan(filled[:, 1]).all()  # never present: nothing to fill from
    np.testing.assert_allclose(filled[:, 2], 2.0)
    np.testing.assert_array_equal(dist[:, 0], [1, 0, 1, 1, 0, 1])
    np.testing.assert_array_equal(dist[:, 1], 6)
    np.testing.assert_array_equal(dist[:, 2], 0)
    # uneven steps: day 4 lies a quarter of the way from day 3 to day 7
    at_days, _ = fill_in_time(np.array([nan, 1.0, nan, 5.0]), times=np.array([0, 3, 4, 7]))
    np.testing.assert_allclose(at_days, [1, 1, 2, 5])


def test_every_model_gets_each_covariate_as_given_filled_and_its_gap():
    cov = np.ones((4, 2, 2, 2), np.float32)
    cov[1:3, 0, 0, 1] = nan  # channel 1 missing on days 1-2 at one pixel
    cov[3, 0, 0, 1] = 3.0
    batch = prepare(np.ones((4, 2, 2)), covariates=cov)
    assert batch.covariates is not None
    assert batch.covariates.shape == (4, 4, 2 * PER_CHANNEL)
    given, filled, gap = np.split(batch.covariates[:, 0], PER_CHANNEL, axis=-1)
    assert np.isnan(given[1:3, 1]).all()  # the original keeps its gaps
    np.testing.assert_allclose(filled[:, 1], [1.0, 5 / 3, 7 / 3, 3.0])
    np.testing.assert_allclose(gap[:, 1], np.log1p([0, 1, 1, 0]))
    np.testing.assert_allclose(gap[:, 0], 0.0)


def test_checkpoint_of_an_older_format_says_to_fit_again(tmp_path):
    old = tmp_path / "old.pt"
    torch.save({"format": "stimpute-imputer/1", "model": "mean"}, old)
    with pytest.raises(stimpute.CheckpointError, match="older stimpute.*fit the imputer again"):
        stimpute.Imputer.load(old)
