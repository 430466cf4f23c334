"""Window arithmetic: start indices that cover an axis, and overlap-averaging of window outputs."""

from __future__ import annotations

import numpy as np

from stimpute.errors import WindowError


def starts(length: int, window: int, stride: int) -> list[int]:
    """Start indices of windows of `window` steps that cover 0..length-1; the last is shifted in.

    Never drops the remainder: if the windows do not tile the axis exactly, the last window
    ends at `length` and overlaps its neighbour more.
    """
    if window < 1 or stride < 1:
        raise WindowError(f"window ({window}) and stride ({stride}) must be at least 1")
    _fits(length, window)
    out = list(range(0, length - window + 1, stride))
    if out[-1] != length - window:
        out.append(length - window)
    return out


def spread(length: int, window: int, overlap: int) -> list[int]:
    """Start indices of the fewest windows of `window` steps, spread evenly, that cover
    0..length-1 with each pair of neighbours overlapping by at least `overlap` steps.

    Unlike `starts`, no window is wasted on a remainder: on a 365-day year, 72-day windows
    overlapping by 12 days or more take 6 windows (`starts` with stride 48: 8).
    """
    if window < 1 or not 0 <= overlap < window:
        raise WindowError(
            f"window ({window}) must be at least 1 and overlap ({overlap}) in 0..window-1"
        )
    _fits(length, window)
    room = length - window
    n = -(-room // (window - overlap)) + 1
    return [0] if n == 1 else [round(i * room / (n - 1)) for i in range(n)]


def training_starts(length: int, window: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` starts of training windows of `window` steps in a record of `length`.

    Starts drawn uniformly over the record put its first and last steps in one window for every
    `window` that holds a step in its middle, so a model learns little of how a record begins and
    ends (the days of a year's first and last weeks, and their season). Here the starts are
    drawn over the record widened by half a window at both ends and clipped back into it: every
    step is in a window at least half as often as a step in the middle, and none more than 1.5
    times as often."""
    _fits(length, window)
    half = window // 2
    drawn = rng.integers(-half, length - window + half + 1, size=count)
    return np.clip(drawn, 0, length - window)


def fit_side(length: int, most: int, overlap: int) -> int:
    """The smallest tile side, at most `most`, whose `spread` covers `length` with as few
    tiles as a side of `most` does (so the tiles overlap by little more than `overlap`)."""
    side = min(most, length)
    n = len(spread(length, side, min(overlap, side - 1)))
    return min(side, -(-(length + (n - 1) * overlap) // n))


# how much a pixel on a spatial attention window's outer rows or columns counts, against one
# inside, when answers with the windows moved are averaged (benchmarks/README.md, "window seams")
WINDOW_EDGE_WEIGHT = 0.2


def offset_weights(grid: tuple[int, int], window: int, offsets: tuple[int, ...]) -> np.ndarray:
    """(len(offsets), H * W) weights, summing to 1 at each pixel of a `grid` (row-major), for
    averaging a network's answers with its `window` x `window` attention windows moved by each
    offset. A pixel on the first or last row or column of its window in the unshifted layers
    (whose edges drew the grid; the shifted layers' fall mid-window), where attention sees its
    neighbours on one side only, counts `WINDOW_EDGE_WEIGHT` as much as one inside, so each
    pixel's answer comes mostly from the runs that hold it inside a window."""
    if not offsets:
        raise WindowError("offsets is empty: pass at least one window offset, such as (0,)")
    edge = np.ones(window)
    edge[[0, -1]] = WINDOW_EDGE_WEIGHT
    rows, cols = np.arange(grid[0]), np.arange(grid[1])
    w = np.stack(
        [np.outer(edge[(rows + o) % window], edge[(cols + o) % window]).ravel() for o in offsets]
    )
    return w / w.sum(0)


def _fits(length: int, window: int) -> None:
    if window > length:
        raise WindowError(
            f"window of {window} steps is longer than the series ({length}); pass a smaller window"
        )


def taper(window: int, *, edge: int) -> np.ndarray:
    """Blending weights along one axis: ramp up over `edge` steps at both ends, 1 inside.

    Used so that overlapping windows blend smoothly instead of switching abruptly; weights
    are strictly positive so a lone window still counts everywhere.
    """
    w = np.ones(window, dtype=np.float64)
    edge = min(edge, window // 2)
    if edge > 0:
        ramp = (np.arange(edge) + 1.0) / (edge + 1.0)
        w[:edge] = ramp
        w[window - edge :] = ramp[::-1]
    return w


class OverlapAverage:
    """Accumulates weighted window predictions and returns their weighted mean."""

    def __init__(self, shape: tuple[int, ...], n_out: int = 2) -> None:
        self.sum = np.zeros((n_out, *shape), dtype=np.float64)
        self.weight = np.zeros(shape, dtype=np.float64)

    def add(
        self, index: tuple[slice | np.ndarray, ...], outputs: np.ndarray, weight: np.ndarray
    ) -> None:
        """Add `outputs` (n_out, *window) with `weight` (*window) at `index`."""
        self.sum[(slice(None), *index)] += outputs * weight
        self.weight[index] += weight

    def result(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sum / self.weight
