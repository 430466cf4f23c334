"""Blend per-tile results into region arrays with smooth weights, a band of rows at a time.

Each tile's output is weighted by a taper that ramps over the overlap, so seams do not show;
the weighted sums are divided by the summed weights. Tiles arrive sorted by (row, col), so once
a tile starting at row r arrives every row above r is complete: it is normalised and handed to
`sink` and its memory reused. Memory is about two tile-heights of the region's width.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pipeline.tile import Window
from stimpute.windows import taper

Sink = Callable[[int, int, dict[str, np.ndarray]], None]  # (row0, row1, field -> (T, rows, W))


def blend_weights(window: Window, overlap: int, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) weights: ramps over `overlap` pixels on sides that can meet another tile."""
    height, width = shape
    wy = taper(window.height, edge=overlap if window.height < height else 0)
    wx = taper(window.width, edge=overlap if window.width < width else 0)
    return np.outer(wy, wx).astype(np.float32)


class Stitcher:
    """Accumulates tiles of several fields (T, h, w) and emits finished row bands to `sink`."""

    def __init__(
        self, n_time: int, shape: tuple[int, int], fields: list[str], overlap: int, sink: Sink
    ) -> None:
        self.n_time, self.shape, self.fields = n_time, shape, fields
        self.overlap, self.sink = overlap, sink
        self.row0 = 0  # first region row held in the buffer
        self._alloc(0)
        self.last: Window | None = None

    def _alloc(self, rows: int) -> None:
        width = self.shape[1]
        self.sums = {f: np.zeros((self.n_time, rows, width), np.float32) for f in self.fields}
        self.weight = np.zeros((rows, width), np.float32)

    def _grow(self, end: int) -> None:
        """Extend the buffer down to region row `end` (exclusive)."""
        extra = end - (self.row0 + self.weight.shape[0])
        if extra <= 0:
            return
        width = self.shape[1]
        self.sums = {
            f: np.concatenate([s, np.zeros((self.n_time, extra, width), np.float32)], axis=1)
            for f, s in self.sums.items()
        }
        self.weight = np.concatenate([self.weight, np.zeros((extra, width), np.float32)])

    def _flush(self, upto: int) -> None:
        """Emit rows [row0, upto) and keep the rest of the buffer."""
        n = upto - self.row0
        if n <= 0:
            return
        self._grow(upto)
        with np.errstate(invalid="ignore", divide="ignore"):
            done = {f: s[:, :n] / self.weight[None, :n] for f, s in self.sums.items()}
        self.sink(self.row0, upto, done)
        keep = {f: s[:, n:] for f, s in self.sums.items()}
        weight = self.weight[n:]
        self.sums, self.weight, self.row0 = keep, weight, upto

    def add(self, window: Window, outputs: dict[str, np.ndarray]) -> None:
        if self.last is not None and window < self.last:
            raise ValueError(f"tiles must arrive sorted by (row, col): {window} after {self.last}")
        self.last = window
        self._flush(window.row)  # rows above this tile's first row are complete
        end = window.row + window.height
        self._grow(end)
        w = blend_weights(window, self.overlap, self.shape)
        r = slice(window.row - self.row0, end - self.row0)
        for f in self.fields:
            self.sums[f][:, r, window.cols] += outputs[f] * w
        self.weight[r, window.cols] += w

    def close(self) -> None:
        """Emit everything left, down to the region's last row (rows no tile reached are NaN)."""
        self._flush(self.shape[0])
