"""The mean of the same day's observed neighbours plus the node's record offset.

This is the transformer's own spatial context turned into an estimator: the mean of the
visible values of the same step in the 3 x 3 neighbourhood (7 x 7 where the 3 x 3 is empty;
on a point set, all other nodes), plus the node's mean departure from its neighbours over the
whole record (a retrieval bias that stays put). Where no neighbour is seen that step, it falls
back to linear interpolation in time. It is cheap, and on gaps with observed neighbours
(random points) it is hard to beat, so it keeps the networks honest.
"""

from __future__ import annotations

import numpy as np
import torch

from stimpute.baselines.base import GapCalibrated
from stimpute.baselines.linear import interpolate_in_time
from stimpute.context import RecordOffset, spatial_context
from stimpute.layout import Batch


class NeighbourMean(GapCalibrated):
    """Same-step neighbour mean + record offset; linear in time where no neighbour is seen."""

    name = "neighbours"

    def predict(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        grid = batch.layout.grid
        values = torch.from_numpy(np.asarray(batch.values, np.float32))
        visible = ~values.isnan()
        feats = spatial_context(values.nan_to_num()[None], visible[None], grid)[0].numpy()
        offset = RecordOffset.of(values, grid).offset.numpy()[None]
        near, near_n, wide, wide_n = (feats[..., i] for i in range(4))
        spatial = np.where(near_n > 0, near, np.where(wide_n > 0, wide, np.nan)) + offset
        mean = np.where(np.isnan(spatial), interpolate_in_time(batch.values, batch.times), spatial)
        return np.where(batch.observed, batch.values, mean), self.std_for(batch.observed)
