"""Exceptions of the pipeline package: one base; each message says what the user should do."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of every error raised on purpose by the pipeline."""


class CatalogError(PipelineError):
    """A catalog file is missing, malformed, or names something unknown."""


class GridError(PipelineError):
    """A grid, window or bounding box that cannot be built."""


class GranuleError(PipelineError):
    """A granule file that cannot be read: corrupt, truncated, or not the product it claims."""
