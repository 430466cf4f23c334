import numpy as np
import pytest
import torch

import stimpute
from stimpute.covariates import PER_CHANNEL, with_gap_fill
from stimpute.gaps import fill_in_time
from stimpute.layout import prepare
from stimpute.tensors import OnDevice, Scaler

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

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
    assert batch.covariates_filled is not None
    assert batch.covariates_filled.shape == (4, 4, 2 * PER_CHANNEL)
    given, filled, gap = np.split(batch.covariates_filled[:, 0], PER_CHANNEL, axis=-1)
    assert np.isnan(given[1:3, 1]).all()  # the original keeps its gaps
    np.testing.assert_allclose(filled[:, 1], [1.0, 5 / 3, 7 / 3, 3.0])
    np.testing.assert_allclose(gap[:, 1], np.log1p([0, 1, 1, 0]))
    np.testing.assert_allclose(gap[:, 0], 0.0)


def test_checkpoint_of_an_older_format_says_to_fit_again(tmp_path):
    old = tmp_path / "old.pt"
    torch.save({"format": "stimpute-imputer/1", "model": "mean"}, old)
    with pytest.raises(stimpute.CheckpointError, match="older stimpute.*fit the imputer again"):
        stimpute.Imputer.load(old)


@pytest.mark.parametrize("device", DEVICES)
def test_the_neural_models_fill_on_their_device_as_the_baselines_do_on_the_host(device):
    rng = np.random.default_rng(0)
    cov = rng.normal(size=(40, 5, 5, 2)).astype(np.float32)
    cov[rng.random(cov.shape) < 0.6] = nan  # a 9 km field: present on under half the days
    cov[:, 0, 0, 0] = nan  # never present at one pixel
    batch = prepare(rng.normal(size=(40, 5, 5)), covariates=cov)
    on_host = batch.covariates_filled
    assert on_host is not None
    on_device = with_gap_fill(torch.from_numpy(batch.covariates).to(device))
    assert on_device.device.type == device
    np.testing.assert_allclose(on_device.cpu().numpy(), on_host, rtol=1e-6, equal_nan=True)
    scaler = Scaler.fit(batch)
    data = OnDevice.from_batch(batch, scaler, torch.device(device))
    assert data.covariates is not None
    expected = (on_host - scaler.cov_mean) / scaler.cov_std
    np.testing.assert_allclose(data.covariates.cpu().numpy(), expected, rtol=1e-5, equal_nan=True)
