"""Hiding observed values: random points (MCAR), whole days (MNAR), spatial blocks/swaths, and
the missing pattern of another window of the same data ("history", as CSDI's historical masks).

Vocabulary (as in tsl): `observed` is what the data has, `hidden` is observed values removed
for training (the loss is taken there), `eval` is held out for scoring and never trained on.
Every function returns a boolean mask that is a subset of `observed`.
"""

from __future__ import annotations

import numpy as np

from stimpute.errors import ConfigError

MODES = ("point", "day", "block")  # the default mix
ALL_MODES = (*MODES, "history")


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"hiding rate must be within [0, 1]; got {rate}")


def hide_points(observed: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Hide exactly round(rate * n_observed) observed values chosen uniformly at random."""
    _check_rate(rate)
    idx = np.flatnonzero(observed)
    n_hide = int(round(rate * idx.size))
    hidden = np.zeros(observed.shape, bool)
    if n_hide:
        hidden.flat[rng.choice(idx, size=n_hide, replace=False)] = True
    return hidden


def hide_days(observed: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Hide whole time steps (axis 0) in random order until about `rate` of observed is hidden.

    This is the paper's MNAR protocol: a whole scene is missing, as when a satellite pass
    is lost. The last day drawn is kept only if it brings the share closer to `rate`.
    """
    _check_rate(rate)
    per_day = observed.reshape(observed.shape[0], -1).sum(axis=1)
    total = per_day.sum()
    hidden = np.zeros(observed.shape, bool)
    target = rate * total
    done = 0
    for day in rng.permutation(np.flatnonzero(per_day)):
        if done >= target:
            break
        if abs(done + per_day[day] - target) > abs(done - target):
            continue
        hidden[day] = observed[day]
        done += per_day[day]
    return hidden


def hide_blocks(
    observed: np.ndarray,
    rate: float,
    rng: np.random.Generator,
    *,
    grid: tuple[int, int] | None = None,
    max_tries: int = 10_000,
) -> np.ndarray:
    """Hide spatial blocks on single days (grid) or runs of time steps per node (point set).

    On a grid a block is a rectangle or a swath-like band across the tile on one day, as when
    part of a scene fails quality control; on a point set it is a run of 1..48 steps at one
    node (a sensor outage). Blocks are added until round(rate * n_observed) values are hidden;
    the last block is cut short (its first cells in time/row order are kept) rather than
    redrawn, so the loop ends after a handful of draws at any rate.
    """
    _check_rate(rate)
    n_time = observed.shape[0]
    total = int(observed.sum())
    target = int(round(rate * total))
    hidden = np.zeros(observed.shape, bool)
    done = 0
    obs_days = np.flatnonzero(observed.reshape(n_time, -1).any(axis=1))
    if obs_days.size == 0 or target == 0:
        return hidden
    if grid is not None:
        rows, cols = np.mgrid[0 : grid[0], 0 : grid[1]]
    for _ in range(max_tries):
        if done >= target:
            break
        if grid is not None:  # one day's scene: work on that day alone
            height, width = grid
            sel: tuple = (int(rng.choice(obs_days)),)
            if rng.random() < 0.5:  # rectangle
                block: np.ndarray = np.zeros(grid, bool)
                bh = rng.integers(max(1, height // 6), max(2, height // 2) + 1)
                bw = rng.integers(max(1, width // 6), max(2, width // 2) + 1)
                r0 = rng.integers(0, height - bh + 1)
                c0 = rng.integers(0, width - bw + 1)
                block[r0 : r0 + bh, c0 : c0 + bw] = True
            else:  # a band across the tile beyond a slanted swath edge
                angle = rng.uniform(0, np.pi)
                proj = rows * np.sin(angle) + cols * np.cos(angle)
                cut = rng.uniform(proj.min(), proj.max())
                block = proj > cut if rng.random() < 0.5 else proj < cut
            block = block.reshape(observed[sel].shape)
        else:  # an outage of one node
            length = int(rng.integers(1, min(48, n_time) + 1))
            t0 = int(rng.integers(0, n_time - length + 1))
            sel = (slice(t0, t0 + length), int(rng.integers(0, observed.shape[1])))
            block = np.ones(length, bool)
        cells = np.flatnonzero(block & observed[sel] & ~hidden[sel])
        if cells.size == 0:
            continue
        hidden[sel].flat[cells[: target - done]] = True  # the last block is cut short
        done += min(cells.size, target - done)
    return hidden


def hide_history(
    observed: np.ndarray,
    pattern: np.ndarray,
    rng: np.random.Generator,
    *,
    max_rate: float = 0.8,
) -> np.ndarray:
    """Hide the observed values that are missing in `pattern`, the observed mask of another
    window at the same nodes: the data's own gap shapes (sensor outages, swaths, whole days).
    At most `max_rate` of the observed values are hidden (a random subset of the pattern's), so
    something always stays visible; an empty overlap falls back to hiding half the points."""
    _check_rate(max_rate)
    if pattern.shape != observed.shape:
        raise ConfigError(f"pattern shape {pattern.shape} differs from {observed.shape}")
    hidden = observed & ~pattern
    n_obs, n_hid = int(observed.sum()), int(hidden.sum())
    if n_hid == 0:
        return hide_points(observed, 0.5, rng)
    cap = int(max_rate * n_obs)
    if n_hid > cap:
        idx = np.flatnonzero(hidden)
        hidden.flat[rng.choice(idx, size=n_hid - cap, replace=False)] = False
    return hidden


def hide(
    observed: np.ndarray,
    rate: float,
    mode: str,
    rng: np.random.Generator,
    *,
    grid: tuple[int, int] | None = None,
    pattern: np.ndarray | None = None,
) -> np.ndarray:
    """Dispatch to one hiding mode by name: 'point', 'day', 'block' or 'history' (which needs
    `pattern`, the observed mask of another window, and ignores `rate`)."""
    if mode == "history":
        if pattern is None:
            raise ConfigError("hiding mode 'history' needs the observed mask of another window")
        return hide_history(observed, pattern, rng)
    if mode == "point":
        return hide_points(observed, rate, rng)
    if mode == "day":
        return hide_days(observed, rate, rng)
    if mode == "block":
        return hide_blocks(observed, rate, rng, grid=grid)
    raise ConfigError(f"unknown hiding mode {mode!r}; choose one of {', '.join(ALL_MODES)}")
