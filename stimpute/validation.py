"""Validation: boxes of held-out values that training never sees, for early stopping and for
the factor on the model's standard error (calibration.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stimpute.calibration import pooled_std_factor
from stimpute.config import TrainConfig
from stimpute.context import RecordOffset
from stimpute.inference import autocast
from stimpute.models import STTransformer
from stimpute.sampling import WindowSampler
from stimpute.tensors import Scaled, to_model_inputs
from stimpute.windows import training_starts


@dataclass
class Validation:
    """Fixed boxes (time window x spatial crop) whose held-out values are never trained on."""

    held: np.ndarray  # (T, N) bool, removed from the training values
    boxes: list[tuple[int, np.ndarray | None, tuple[int, int] | None]]

    @classmethod
    def draw(cls, data: Scaled, cfg: TrainConfig, rng: np.random.Generator) -> Validation:
        observed = ~np.isnan(data.values)
        held = np.zeros(observed.shape, bool)
        sampler = WindowSampler(data, cfg, rng)
        n_time = observed.shape[0]
        target = cfg.val_share * observed.sum()
        boxes: list[tuple[int, np.ndarray | None, tuple[int, int] | None]] = []
        for i in range(64):
            if held.sum() >= target:
                break
            nodes, grid = sampler.crop()
            t0 = int(training_starts(n_time, cfg.window, 1, rng)[0])
            sel = slice(None) if nodes is None else nodes
            box_obs = observed[t0 : t0 + cfg.window][:, sel] & ~held[t0 : t0 + cfg.window][:, sel]
            if not box_obs.any():
                continue
            mode = cfg.hide_modes[i % len(cfg.hide_modes)]
            box_hidden = sampler.hidden_for(box_obs, grid, data.values, nodes, mode, cfg.val_rate)
            block = held[t0 : t0 + cfg.window]
            if nodes is None:
                block |= box_hidden
            else:
                block[:, nodes] |= box_hidden
            boxes.append((t0, nodes, grid))
        return cls(held, boxes)

    @torch.no_grad()
    def predictions(
        self,
        model: STTransformer,
        data: Scaled,
        train_values: np.ndarray,
        offset: RecordOffset,
        cfg: TrainConfig,
        device: torch.device,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean, Laplace scale, truth) at the held values inside the boxes (scaled units),
        predicted from the training values only."""
        model.eval()
        means, scales, truths = [], [], []
        if not self.boxes:
            empty = np.zeros(0, np.float32)
            return empty, empty, empty
        n_nodes = data.values.shape[1] if self.boxes[0][1] is None else len(self.boxes[0][1])
        chunk = max(1, min(32, 400_000 // (cfg.window * n_nodes)))  # boxes per forward pass
        for c in range(0, len(self.boxes), chunk):
            part = self.boxes[c : c + chunk]
            wins = [
                data.window([t0], cfg.window, nodes, values=train_values) for t0, nodes, _ in part
            ]
            win = {k: None if wins[0][k] is None else np.concatenate([w[k] for w in wins])
                   for k in wins[0]}  # fmt: skip
            vals = win["values"]
            assert vals is not None
            steps = torch.tensor([t0 for t0, _, _ in part])[:, None] + torch.arange(cfg.window)
            crops = [nodes for _, nodes, _ in part if nodes is not None]
            off = offset.features(steps, torch.from_numpy(np.stack(crops)) if crops else None)
            grid = part[0][2]
            kw = to_model_inputs(win, ~np.isnan(vals), device, grid, off)
            with autocast(device):
                mean, log_scale = model(grid=grid, all_layers=False, **kw)[-1]
            mean_np = mean.float().cpu().numpy()
            scale_np = log_scale.float().exp().cpu().numpy()
            for b, (t0, nodes, _) in enumerate(part):
                sel = slice(None) if nodes is None else nodes
                held = self.held[t0 : t0 + cfg.window][:, sel]
                means.append(mean_np[b][held])
                scales.append(scale_np[b][held])
                truths.append(data.values[t0 : t0 + cfg.window][:, sel][held])
        return (
            np.concatenate(means),
            np.concatenate(scales),
            np.concatenate(truths),
        )

    def mae(self, *args: Any) -> float:
        """MAE (scaled units) on the held values inside the boxes, predicted from training values."""
        mean, _, truth = self.predictions(*args)
        return float(np.abs(mean - truth).mean()) if len(truth) else math.nan

    def calibrate(self, model: STTransformer, *args: Any) -> float:
        """After training, from one pass over the held values: the factor on the model's
        standard error that puts 90% of them inside the central 90% normal interval
        (calibration.py)."""
        mean, scale, truth = self.predictions(model, *args)
        return pooled_std_factor(mean, scale, truth)
