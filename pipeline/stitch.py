"""Blending weights of a tile: a taper that ramps over the overlap on the sides that meet another
tile, so the weighted mean of overlapping tiles (`fill_tasks.blend`) shows no seam."""

from __future__ import annotations

import numpy as np

from pipeline.tile import Window
from stimpute.windows import taper


def blend_weights(window: Window, overlap: int, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) weights: ramps over `overlap` pixels on sides that can meet another tile."""
    height, width = shape
    wy = taper(window.height, edge=overlap if window.height < height else 0)
    wx = taper(window.width, edge=overlap if window.width < width else 0)
    return np.outer(wy, wx).astype(np.float32)
