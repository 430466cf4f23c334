"""Exceptions of the stimpute package: one base, specific subclasses that say what to do."""

from __future__ import annotations


class StimputeError(Exception):
    """Base class of every error raised on purpose by stimpute."""


class ShapeError(StimputeError, ValueError):
    """An input array has the wrong number of dimensions or does not match the others."""


class NoObservationsError(StimputeError, ValueError):
    """There is nothing observed to learn from or to impute with."""


class WindowError(StimputeError, ValueError):
    """The time window does not fit the series."""


class ConfigError(StimputeError, ValueError):
    """An unknown model name or an invalid hyper-parameter."""


class NotFittedError(StimputeError, RuntimeError):
    """`impute` or `save` was called before `fit`."""


class CheckpointError(StimputeError, OSError):
    """A saved imputer could not be read."""
