"""Honest baselines behind the same fit/predict interface as the transformer models."""

from stimpute.baselines.dctpls import DctPls
from stimpute.baselines.linear import LinearInTime
from stimpute.baselines.mean import PixelMean
from stimpute.baselines.neighbours import NeighbourMean
from stimpute.baselines.regression import Mice, RandomForest

__all__ = ["DctPls", "LinearInTime", "Mice", "NeighbourMean", "PixelMean", "RandomForest"]
