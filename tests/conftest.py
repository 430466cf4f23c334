"""Shared fixtures: tiny seeded problems, and where ../shared is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (it sits beside the project in CI and on dev machines)")
    return SHARED


@pytest.fixture
def small_twin():
    from stimpute.simulate import twin

    return twin(height=12, width=12, days=48, seed=3)


@pytest.fixture
def smooth_grid() -> np.ndarray:
    """A smooth field (T=40, 6, 6) with 60% of values missing at random."""
    rng = np.random.default_rng(0)
    t = np.arange(40)[:, None, None]
    y = np.arange(6)[None, :, None]
    x = np.arange(6)[None, None, :]
    field = 0.25 + 0.1 * np.sin(t / 5.0 + x / 3.0) + 0.05 * np.cos(y / 2.0)
    field = field.astype(np.float32)
    return np.where(rng.random(field.shape) < 0.6, np.nan, field), field


TINY = {
    "dim": 16,
    "layers": 2,
    "heads": 2,
    "batch_size": 4,
    "tile": 6,
    "eval_every": 10,
    "max_steps": 20,
}
