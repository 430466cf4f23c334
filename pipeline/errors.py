"""Exceptions of the pipeline package: one base; each message says what the user should do."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of every error raised on purpose by the pipeline."""
