"""Recalibrating the neural models' std: one factor fitted on validation values.

The scale head's std is multiplied by a factor fitted on held-out validation values so that 90%
of them fall inside the central 90% normal interval. One factor for all values: factors per
level of same-day support measured worse (benchmarks/README.md, "Calibration per same-day
support").
"""

from __future__ import annotations

import numpy as np

from stimpute.metrics import two_sided_z

MIN_VALUES = 50  # fewer validation values than this: the std is left as the head gives it
CLIP = (0.2, 5.0)  # a factor beyond these says the fit failed, not that the head is that far off


def fit_factor(ratio: np.ndarray, quantile: float = 0.9) -> float:
    """The factor on the std that puts `quantile` of the values inside the central `quantile`
    normal interval: the `quantile` of |error| / std over that interval's z (1.0 when there are
    fewer than MIN_VALUES values)."""
    if len(ratio) < MIN_VALUES:
        return 1.0
    return float(np.clip(np.quantile(ratio, quantile) / two_sided_z(quantile), *CLIP))


def pooled_std_factor(mean: np.ndarray, scale: np.ndarray, truth: np.ndarray) -> float:
    """The factor on the standard error (sqrt(2) x the Laplace scale) that puts 90% of the held
    values inside the central 90% normal interval."""
    return fit_factor(np.abs(mean - truth) / (np.sqrt(2.0) * np.maximum(scale, 1e-6)))
