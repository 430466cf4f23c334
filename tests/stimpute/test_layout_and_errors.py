import numpy as np
import pytest

import stimpute
from stimpute.layout import prepare


def test_grid_and_point_layouts():
    grid = prepare(np.ones((5, 3, 4)))
    assert grid.layout.grid == (3, 4) and grid.values.shape == (5, 12)
    points = prepare(np.ones((5, 7)), coords=np.zeros((7, 2)))
    assert points.layout.grid is None and points.values.shape == (5, 7)
    assert grid.layout.to_user(grid.values).shape == (5, 3, 4)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"values": np.ones(5)}, stimpute.ShapeError),
        ({"values": np.full((5, 3), np.nan)}, stimpute.NoObservationsError),
        ({"values": np.ones((5, 3)), "covariates": np.ones((5, 4, 2))}, stimpute.ShapeError),
        ({"values": np.ones((5, 2, 2)), "covariates": np.ones((5, 4, 2))}, stimpute.ShapeError),
        ({"values": np.ones((5, 2, 2)), "static": np.ones((2, 3, 1))}, stimpute.ShapeError),
        ({"values": np.ones((5, 3)), "coords": np.ones((2, 2))}, stimpute.ShapeError),
        ({"values": np.full((5, 3), np.inf)}, stimpute.ShapeError),
    ],
)
def test_bad_inputs_raise_package_errors(kwargs, error):
    with pytest.raises(error) as info:
        prepare(**kwargs)
    assert isinstance(info.value, stimpute.StimputeError)


def test_imputer_rejects_unknown_model_and_hparams():
    with pytest.raises(stimpute.ConfigError, match="choose one of"):
        stimpute.Imputer("nope")
    with pytest.raises(stimpute.ConfigError, match="allowed"):
        stimpute.Imputer("st_transformer", bogus=1)
    with pytest.raises(stimpute.ConfigError, match="time_overlap=24 days: pass 0 to 23"):
        stimpute.Imputer("st_transformer", window=24, time_overlap=24)


def test_window_longer_than_series_is_explained():
    imp = stimpute.Imputer("st_transformer", window=30, device="cpu")
    with pytest.raises(stimpute.WindowError, match="window=30"):
        imp.fit(np.ones((10, 4)))


def test_impute_before_fit():
    with pytest.raises(stimpute.NotFittedError):
        stimpute.Imputer("mean").impute(np.ones((4, 2)))


def test_load_of_a_corrupt_file(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(stimpute.CheckpointError, match="not a readable"):
        stimpute.Imputer.load(bad)
    with pytest.raises(stimpute.CheckpointError, match="no saved imputer"):
        stimpute.Imputer.load(tmp_path / "missing.pt")


def test_record_offset_is_a_neighbour_departure_and_leaves_hidden_values_out():
    import torch

    from stimpute.context import RecordOffset

    # 3 steps on a 1 x 3 grid: node 1's neighbours are nodes 0 and 2
    values = torch.tensor([[1.0, 4.0, 3.0], [2.0, 2.0, float("nan")], [float("nan"), 5.0, 1.0]])
    ro = RecordOffset.of(values, (1, 3))
    # node 1: 4 - (1+3)/2 = 2, 2 - 2/1 = 0, 5 - 1/1 = 4  -> mean 2 over 3 days
    assert torch.allclose(ro.departure[:, 1], torch.tensor([2.0, 0.0, 4.0]))
    steps = torch.arange(3)[None]
    feats = ro.features(steps, None)
    assert torch.allclose(feats[0, 1], torch.tensor([2.0, float(np.log1p(3.0))]))
    # a sample hiding node 1 at step 2 must not see that day's departure
    hidden = torch.zeros(1, 3, 3, dtype=torch.bool)
    hidden[0, 2, 1] = True
    feats = ro.features(steps, None, hidden=hidden)
    assert torch.allclose(feats[0, 1], torch.tensor([1.0, float(np.log1p(2.0))]))
