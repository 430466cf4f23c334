"""Self-supervised training: hide observed values, learn to predict them, early-stop on validation."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from stimpute.config import TrainConfig
from stimpute.context import RecordOffset
from stimpute.inference import autocast
from stimpute.models import STTransformer
from stimpute.sampling import WindowSampler
from stimpute.tensors import Scaled
from stimpute.validation import Validation

log = logging.getLogger("stimpute")


@dataclass
class TrainReport:
    steps: int = 0
    seconds: float = 0.0
    best_val_mae: float = math.inf
    stopped_by: str = ""
    std_scale: float = 1.0  # recalibration of the standard error (calibration.py)
    history: list[tuple[int, float, float]] = field(default_factory=list)


def loss_on_hidden(
    outputs, target: torch.Tensor, hidden: torch.Tensor, aux_weight: float
) -> torch.Tensor:
    """L1 on hidden values for every readout (the last weighted 1, the others aux), plus a
    Laplace NLL for the scale head on the last readout with its mean detached."""
    n = hidden.sum().clamp(min=1)
    losses = [(torch.abs(mean - target) * hidden).sum() / n for mean, _ in outputs]
    total = losses[-1] + (
        aux_weight * sum(losses[:-1]) / max(len(losses) - 1, 1) if len(losses) > 1 else 0.0
    )
    mean, log_scale = outputs[-1]
    log_scale = log_scale.clamp(-7, 5)
    nll = (torch.abs(target - mean.detach()) * torch.exp(-log_scale) + log_scale) * hidden
    return total + nll.sum() / n


class WeightAverage:
    """An exponential moving average of the weights (torch's AveragedModel), warmed up so that
    short runs are not dragged back to their initial weights; the averaged copy is what gets
    validated and kept, because single SGD iterates on a few hundred steps are noisy. The
    decay is computed from a host-side count, so an update never waits on the GPU."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.model, self.updates = model, 0
        self.averaged: torch.optim.swa_utils.AveragedModel | None = None
        if decay > 0:

            def ema(
                averaged: list[torch.Tensor] | tuple[torch.Tensor, ...],
                current: list[torch.Tensor] | tuple[torch.Tensor, ...],
                _: torch.Tensor | int,
            ) -> None:
                d = min(decay, (1.0 + self.updates) / (10.0 + self.updates))
                torch._foreach_lerp_(averaged, current, 1.0 - d)

            # the models' buffers are constant index tables: only parameters are averaged
            self.averaged = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=ema)

    def update(self) -> None:
        if self.averaged is not None:
            self.averaged.update_parameters(self.model)
            self.updates += 1

    @property
    def current(self) -> torch.nn.Module:
        """The weights to validate and keep."""
        return self.model if self.averaged is None else self.averaged.module


def cosine_lr(step: int, total: int, cfg: TrainConfig, spent: float = 0.0) -> float:
    """Linear warm-up over `cfg.warmup_steps`, then a cosine from `cfg.lr` to `cfg.lr_min` that
    ends at `total` steps or when `spent` (the share of a time budget used since the warm-up)
    reaches 1, whichever comes first."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    frac = schedule_done(step, total, cfg, spent)
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * frac))


def schedule_done(step: int, total: int, cfg: TrainConfig, spent: float = 0.0) -> float:
    """The share of the cosine run (0 during the warm-up, 1 at its end): the steps' share or
    the time budget's, whichever is further."""
    steps = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    return min(1.0, max(0.0, steps, spent))


class BudgetClock:
    """The share of a time budget spent since the warm-up ended, for the cosine to follow time
    rather than a step count guessed from the first steps (that guess was 0.72-1.11 x the
    steps actually run on a 2-core machine, leaving the rate at its floor or never reaching it)."""

    def __init__(self, budget_s: float | None, warmup_steps: int) -> None:
        self.budget_s, self.warmup_steps = budget_s, warmup_steps
        self.start = time.perf_counter()
        self.warm_at: float | None = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def spent(self, step: int) -> float:
        if self.budget_s is None or step < self.warmup_steps:
            return 0.0
        if self.warm_at is None:
            self.warm_at = self.elapsed()
        left = self.budget_s - self.warm_at
        return 1.0 if left <= 0 else (self.elapsed() - self.warm_at) / left

    def over(self) -> bool:
        return self.budget_s is not None and self.elapsed() > self.budget_s


def train(
    model: STTransformer,
    data: Scaled,
    cfg: TrainConfig,
    *,
    seed: int,
    device: torch.device,
    max_steps: int | None = None,
    time_budget_s: float | None = None,
    log_every_s: float = 10.0,
) -> TrainReport:
    """Train in place; keeps the weights with the best validation MAE (scaled units)."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    validation = Validation.draw(data, cfg, rng)
    train_values = np.where(validation.held, np.nan, data.values)
    offset = RecordOffset.of(torch.from_numpy(train_values), data.grid, data.panels)
    sampler = WindowSampler(data, cfg, rng)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    average = WeightAverage(model, cfg.ema_decay)
    total = max_steps or cfg.max_steps
    report = TrainReport()
    best_state = _copy(model)
    clock = BudgetClock(time_budget_s, cfg.warmup_steps)
    bad_evals = 0
    step = 0
    last_log = clock.start
    while step < total:
        model.train()
        sample = sampler.batch(train_values)
        kw = sample.inputs(offset, device)
        target = torch.from_numpy(np.nan_to_num(sample.win["values"])).to(device)
        hid = torch.from_numpy(sample.hidden).to(device)
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, total, cfg, clock.spent(step))
        with autocast(device):
            outputs = model(grid=sample.grid, **kw)
        loss = loss_on_hidden(
            [(m.float(), s.float()) for m, s in outputs], target, hid, cfg.aux_weight
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        average.update()
        step += 1
        if step % cfg.eval_every == 0 or step == total:
            val = validation.mae(average.current, data, train_values, offset, cfg, device)
            report.history.append((step, float(loss.detach()), val))
            if math.isnan(val) or val < report.best_val_mae - 1e-4:
                report.best_val_mae = val
                best_state = _copy(average.current)
                bad_evals = 0
            else:
                bad_evals += 1
            if time.perf_counter() - last_log > log_every_s:
                log.info(
                    "training: step %d, %.0fs%s",
                    step,
                    clock.elapsed(),
                    "" if time_budget_s is None else f" of {time_budget_s:.0f}s",
                )
                log.debug(
                    "step %d (max %d)  lr %.2g  loss %.4f  val MAE %.4f (scaled)  %.0fs%s",
                    step,
                    total,
                    opt.param_groups[0]["lr"],
                    float(loss.detach()),
                    val,
                    clock.elapsed(),
                    "" if time_budget_s is None else f" of {time_budget_s:.0f}s",
                )
                last_log = time.perf_counter()
            # a stall while the learning rate is still high is not convergence: the cosine's
            # low-rate end usually improves the score again, so a fit stops early only late
            late = schedule_done(step, total, cfg, clock.spent(step)) >= cfg.stop_from
            if bad_evals >= cfg.patience and late:
                report.stopped_by = "early stopping"
                break
        if clock.over():
            report.stopped_by = "time budget"
            break
    else:
        report.stopped_by = "max steps"
    if not report.history or report.history[-1][0] != step:  # score the last weights too
        val = validation.mae(average.current, data, train_values, offset, cfg, device)
        report.history.append((step, math.nan, val))
        if math.isnan(val) or val < report.best_val_mae:
            report.best_val_mae = val
            best_state = _copy(average.current)
    model.load_state_dict(best_state)
    report.std_scale = validation.calibrate(model, data, train_values, offset, cfg, device)
    report.steps, report.seconds = step, clock.elapsed()
    return report


def _copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
