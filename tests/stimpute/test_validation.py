import numpy as np
import torch

from stimpute.config import TrainConfig
from stimpute.context import RecordOffset
from stimpute.layout import prepare
from stimpute.models import STTransformer, STTransformerConfig
from stimpute.simulate import twin
from stimpute.tensors import Scaled, Scaler
from stimpute.validation import Validation


def _problem(grid: bool):
    tw = twin(height=12, width=12, days=60, seed=3)
    values = tw.observed if grid else tw.observed.reshape(60, -1)[:, :30]
    batch = prepare(values, None, None, None, None)
    data = Scaled.build(batch, Scaler.fit(batch))
    cfg = TrainConfig(window=20, tile=6, val_share=0.1, val_rate=0.2)
    return data, cfg


def test_validation_holds_its_rate_and_scores_boxes_in_batches_as_one_by_one():
    for grid in (True, False):
        data, cfg = _problem(grid)
        val = Validation.draw(data, cfg, np.random.default_rng(0))
        observed = ~np.isnan(data.values)
        assert 0.1 <= val.held.sum() / observed.sum() < 0.16  # the share asked for, just over
        assert not (val.held & ~observed).any()
        train_values = np.where(val.held, np.nan, data.values)
        offset = RecordOffset.of(torch.from_numpy(train_values), data.grid)
        torch.manual_seed(0)
        model = STTransformer(STTransformerConfig(dim=16, layers=1, heads=2))
        args = (data, train_values, offset, cfg, torch.device("cpu"))
        together = val.predictions(model, *args)
        alone = [Validation(val.held, [box]).predictions(model, *args) for box in val.boxes]
        for k in range(3):
            np.testing.assert_allclose(
                together[k], np.concatenate([a[k] for a in alone]), rtol=1e-5, atol=1e-6
            )
