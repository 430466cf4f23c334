"""Exceptions of the pipeline package: one base; each message says what the user should do."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of every error raised on purpose by the pipeline. The command line prints the
    message as one line and exits with `exit_code`: 2, the user must change something."""

    exit_code = 2


class BusyError(PipelineError):
    """Another run holds the region-year: try again later (exit 75, EX_TEMPFAIL)."""

    exit_code = 75


class Terminated(KeyboardInterrupt):
    """SIGTERM (systemd, a batch scheduler's stop or time limit): handled like Ctrl-C, so
    everything that cleans up after an interrupt cleans up after it too."""


class ArgumentError(PipelineError):
    """A command-line argument that cannot work: the message names it and what would."""


class CatalogError(PipelineError):
    """A catalog file is missing, malformed, or names something unknown."""


class GridError(PipelineError):
    """A grid, window or bounding box that cannot be built."""


class GranuleError(PipelineError):
    """A granule file that cannot be read: corrupt, truncated, or not the product it claims."""


class SourceError(PipelineError):
    """A source cannot deliver: no credentials, rejected login, no network, nothing found."""


class TransferError(PipelineError):
    """A file arrived damaged (size or checksum) or could not be fetched."""


class CubeError(PipelineError):
    """The cube cannot be built from what was downloaded."""


class TileError(PipelineError):
    """The region cannot be tiled (no land, bad tile settings, damaged tile index)."""


class FillError(PipelineError):
    """The fill stage cannot run: no cube or tiles, an incompatible checkpoint, nothing to learn."""


class ExportError(PipelineError):
    """An export product cannot be written or does not validate."""


class ClusterError(PipelineError):
    """The dask cluster cannot be reached, or a task failed on every worker it was tried on."""
