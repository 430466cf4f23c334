"""stimpute: spatiotemporal imputation of sparse (time, space) arrays with transformers.

Depends on torch and numpy (scipy and scikit-learn for baselines); knows nothing of geography.
"""

from stimpute import metrics, simulate
from stimpute.errors import (
    CheckpointError,
    ConfigError,
    NoObservationsError,
    NotFittedError,
    ShapeError,
    StimputeError,
    WindowError,
)
from stimpute.imputer import MODELS, Imputer, ImputeResult

__all__ = [
    "MODELS",
    "CheckpointError",
    "ConfigError",
    "ImputeResult",
    "Imputer",
    "NoObservationsError",
    "NotFittedError",
    "ShapeError",
    "StimputeError",
    "WindowError",
    "metrics",
    "simulate",
]
__version__ = "0.1.0"
