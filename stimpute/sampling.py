"""Training windows: where each starts, which crop of the region it covers, and which of its
observed values are hidden for the model to predict (the loss is taken there)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from stimpute.config import TrainConfig
from stimpute.context import RecordOffset
from stimpute.masks import hide
from stimpute.tensors import Scaled, to_model_inputs
from stimpute.windows import training_starts


class WindowSampler:
    """Draws training windows (time start, spatial crop) and their hidden masks."""

    def __init__(self, data: Scaled, cfg: TrainConfig, rng: np.random.Generator) -> None:
        self.data, self.cfg, self.rng = data, cfg, rng
        self.window = cfg.window

    def crop(self) -> tuple[np.ndarray | None, tuple[int, int] | None]:
        if self.data.grid is None:
            return None, None
        height, width = self.data.grid
        height //= self.data.panels  # a crop stays inside one band (one of the stacked crops)
        th, tw = min(self.cfg.tile, height), min(self.cfg.tile, width)
        band = int(self.rng.integers(0, self.data.panels)) if self.data.panels > 1 else 0
        r0 = band * height + int(self.rng.integers(0, height - th + 1))
        c0 = int(self.rng.integers(0, width - tw + 1))
        return self.data.crop_nodes(r0, c0, th, tw), (th, tw)

    def pattern(self, values: np.ndarray, crop: np.ndarray | None) -> np.ndarray:
        """The observed mask of a random window at the same nodes (for the 'history' mode)."""
        t1 = int(self.rng.integers(0, values.shape[0] - self.window + 1))
        other = values[t1 : t1 + self.window]
        return ~np.isnan(other if crop is None else other[:, crop])

    def hidden_for(
        self,
        observed: np.ndarray,
        grid: tuple[int, int] | None,
        values: np.ndarray,
        crop: np.ndarray | None,
        mode: str | None = None,
        rate: float | None = None,
    ) -> np.ndarray:
        rate = float(self.rng.choice(self.cfg.hide_rates)) if rate is None else rate
        mode = str(self.rng.choice(list(self.cfg.hide_modes))) if mode is None else mode
        pattern = self.pattern(values, crop) if mode == "history" else None
        return hide(observed, rate, mode, self.rng, grid=grid, pattern=pattern)

    def batch(self, values: np.ndarray) -> Sample:
        """A batch of windows, each at its own time and its own spatial crop (same crop size)."""
        n_time = values.shape[0]
        parts, crops = [], []
        grid = None
        t0s = training_starts(n_time, self.window, self.cfg.batch_size, self.rng)
        for t0 in t0s:
            crop, grid = self.crop()
            crops.append(crop)
            parts.append(self.data.window([int(t0)], self.window, crop, values=values))
        win = {
            k: None if parts[0][k] is None else np.concatenate([p[k] for p in parts])
            for k in parts[0]
        }
        vals = win["values"]
        assert vals is not None  # a window always has values
        observed = ~np.isnan(vals)
        hidden = np.stack(
            [self.hidden_for(observed[i], grid, values, crops[i]) for i in range(len(parts))]
        )
        steps = torch.from_numpy(t0s)[:, None] + torch.arange(self.window)
        kept = [c for c in crops if c is not None]
        nodes = torch.from_numpy(np.stack(kept)) if kept else None
        return Sample(win, observed & ~hidden, hidden, grid, steps, nodes)


@dataclass
class Sample:
    """One training batch: numpy windows, what the model sees and what it must predict."""

    win: dict
    visible: np.ndarray  # [B, L, n]
    hidden: np.ndarray  # [B, L, n]
    grid: tuple[int, int] | None
    steps: torch.Tensor  # (B, L) time index of each window step
    nodes: torch.Tensor | None  # (B, n) node index of each window, None for all

    def inputs(self, offset: RecordOffset, device: torch.device) -> dict:
        """Model inputs; the record offset leaves this sample's hidden values out of its sums."""
        off = offset.features(self.steps, self.nodes, hidden=torch.from_numpy(self.hidden))
        return to_model_inputs(self.win, self.visible, device, self.grid, off)
