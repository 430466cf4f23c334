"""Keyed draws and smooth fields on a global pixel lattice: every value depends on its global
(row, col), the seed, a stream and the day, never on the window it is computed in.

- smooth random fields are sums of random Fourier features evaluated at global coordinates
  (`smooth_field`), separable into one small matrix product per field;
- per-pixel draws (noise, dropouts) come from a counter-based hash of (seed, stream, keys...)
  (`uniform`, `normal`);
- block and moving means (`block_mean`, `moving_mean`) coarsen or blur fields of a window.

The endless twin (`stimpute.field_twin`) is built from them.
"""

from __future__ import annotations

import numpy as np

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijective scramble of uint64 values."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _hash(seed: int, stream: int, *keys: np.ndarray | int) -> np.ndarray:
    """uint64 hash of (seed, stream, keys...), broadcast over the key arrays."""
    h = _mix(np.asarray([(seed * 1_000_003 + stream) % 2**64], dtype=np.uint64))
    for k in keys:
        h = _mix(h ^ (np.atleast_1d(np.asarray(k, dtype=np.int64)).astype(np.uint64) + _GOLDEN))
    return h


def uniform(seed: int, stream: int, *keys: np.ndarray | int) -> np.ndarray:
    """Uniform [0, 1) draws keyed by (seed, stream, keys...): the same keys give the same draw."""
    return (_hash(seed, stream, *keys) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def normal(seed: int, stream: int, *keys: np.ndarray | int) -> np.ndarray:
    """Standard normal draws keyed like `uniform` (Box-Muller on two hashed streams)."""
    u1 = 1.0 - uniform(seed, 2 * stream, *keys)
    u2 = uniform(seed, 2 * stream + 1, *keys)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)


def smooth_field(
    seed: int, stream: int, length_px: float, rows: np.ndarray, cols: np.ndarray, n: int = 192
) -> np.ndarray:
    """(len(rows), len(cols)) unit-variance Gaussian random field with correlation length
    `length_px` (the same spectrum as `simulate.gaussian_field`), at global lattice indices.

    A sum of `n` random Fourier features cos(w . (row, col) + phase), written as A @ B with
    A (rows x 2n) and B (2n x cols), so one field of a 1000 x 1000 window is one matrix product.
    """
    rng = np.random.default_rng([seed, stream])
    w = rng.normal(0.0, 1.0 / (np.sqrt(2.0) * length_px), size=(n, 2))
    phase = rng.uniform(0.0, 2 * np.pi, size=n)
    ay = np.outer(np.asarray(rows, np.float64), w[:, 0]) + phase
    bx = np.outer(np.asarray(cols, np.float64), w[:, 1])
    a = np.concatenate([np.cos(ay), -np.sin(ay)], axis=1)
    b = np.concatenate([np.cos(bx), np.sin(bx)], axis=1).T
    return np.sqrt(2.0 / n) * (a @ b)


def block_mean(a: np.ndarray, k: int) -> np.ndarray:
    """Mean over k x k blocks of the last two axes (sizes must be multiples of k), repeated back."""
    *lead, h, w = a.shape
    means = a.reshape(*lead, h // k, k, w // k, k).mean(axis=(-3, -1))
    return np.repeat(np.repeat(means, k, axis=-2), k, axis=-1)


def moving_mean(wide: np.ndarray, k: int) -> np.ndarray:
    """Mean over the k x k neighbourhood of every pixel, from an array grown by k // 2 pixels
    on each side of the last two axes (so the result has no edge effects and no block edges)."""
    h, w = wide.shape[-2] - (k - 1), wide.shape[-1] - (k - 1)
    total = sum(wide[..., i : i + h, j : j + w] for i in range(k) for j in range(k))
    return np.asarray(total) / k**2
