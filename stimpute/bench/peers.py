"""Peers from PyPOTS (SAITS, BRITS, ImputeFormer) on the benchmark's own data and masks.

PyPOTS models are multivariate series: every node (station, pixel) is a feature, samples are
windows of `n_steps`. They see the values only (no covariates), standardised per
node on the fit rows, and are trained for about the same seconds as our models: one epoch is
timed, then the same model trains on in runs of as many epochs as the time left holds at the last
run's pace, until not one more fits (without a budget, 1,000 epochs: a peer has no step count to
stop at). An epoch of a small region is a few windows, so a fixed cap on epochs, not the budget,
would end the training; and a count sized once, on one epoch, would not follow a pace that
changes as training goes on.
Training windows start every quarter window, so a short record still gives many samples.
Observed values are put back unchanged, as for every other model. Install with the `peers`
extra (`pip install -e .[peers]`, or `make bench-field`); without it these models raise a
clear error.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from typing import Any

import numpy as np

from stimpute.errors import StimputeError

log = logging.getLogger("stimpute")

PEERS = ("saits", "brits", "imputeformer")
MAX_EPOCHS = 1000  # without a time budget
INSTALL = "pip install -e '.[peers]'"  # what a missing or broken PyPOTS asks for


def _import_quietly(name: str) -> None:
    """Import PyPOTS without the banner its `ai4ts` dependency prints to stdout, and keep its
    log to warnings, less the one every model without a `saving_path` gives. A PyPOTS that is
    missing or does not import is one `StimputeError` that names the peer and the install line."""
    # the banner reads stdout's encoding: a bare StringIO has none
    try:
        with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO(), encoding="utf-8")):
            from pypots.utils.logging import logger
    except ImportError as e:  # not installed, or installed but broken
        raise StimputeError(f"{name} needs PyPOTS, which does not import ({e}): {INSTALL}") from e
    if not any(isinstance(f, _NoSavingPath) for f in logger.filters):
        logger.setLevel(logging.WARNING)
        logger.addFilter(_NoSavingPath())


class _NoSavingPath(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "saving_path" not in record.getMessage()


def _batch_size(name: str, n_features: int) -> int:
    """32 windows a batch, fewer for ImputeFormer on many nodes: its temporal attention holds
    batch x nodes x heads x steps^2 scores, about 24 GB at 32 x 1,296 pixels x 72 days."""
    if name != "imputeformer":
        return 32
    return int(np.clip(32 * 36 // max(n_features, 1), 4, 32))


def _model(name: str, n_steps: int, n_features: int, epochs: int, seed: int) -> Any:
    _import_quietly(name)
    from pypots.imputation import BRITS, SAITS, ImputeFormer
    from pypots.utils.random import set_random_seed

    set_random_seed(seed)
    common = {
        "epochs": epochs,
        "batch_size": _batch_size(name, n_features),
        "device": "cuda" if _cuda() else "cpu",
        "verbose": False,
        "saving_path": None,
    }
    if name == "saits":
        return SAITS(
            n_steps,
            n_features,
            n_layers=2,
            d_model=64,
            n_heads=4,
            d_k=16,
            d_v=16,
            d_ffn=128,
            dropout=0.1,
            **common,
        )
    if name == "brits":
        return BRITS(n_steps, n_features, rnn_hidden_size=64, **common)
    if name == "imputeformer":
        return ImputeFormer(
            n_steps,
            n_features,
            n_layers=2,
            d_input_embed=32,
            d_learnable_embed=32,
            d_proj=8,
            d_ffn=64,
            n_temporal_heads=4,
            dropout=0.1,
            **common,
        )
    raise ValueError(f"unknown PyPOTS peer {name!r}; choose one of {', '.join(PEERS)}")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def next_epochs(time_left_s: float | None, per_epoch_s: float, done: int) -> int:
    """How many more epochs to train after `done`: as many as `time_left_s` holds at
    `per_epoch_s` each (all that are left to MAX_EPOCHS without a budget); 0 when not one fits."""
    if time_left_s is None:
        return max(MAX_EPOCHS - done, 0)
    return max(int(time_left_s / max(per_epoch_s, 1e-3)), 0)


def _windows(
    values: np.ndarray, n_steps: int, stride: int | None = None
) -> tuple[np.ndarray, list[int]]:
    """(samples, n_steps, N) windows every `stride` steps (default: back to back) covering the
    series (the last one shifted in)."""
    n_time = len(values)
    starts = list(range(0, n_time - n_steps + 1, stride or n_steps))
    if starts[-1] != n_time - n_steps:
        starts.append(n_time - n_steps)
    return np.stack([values[s : s + n_steps] for s in starts]), starts


def fill(
    name: str,
    fit_values: np.ndarray,
    values: np.ndarray,
    *,
    n_steps: int,
    seed: int,
    time_budget_s: float | None,
) -> tuple[np.ndarray, float, float]:
    """(filled values, fit seconds, impute seconds) for (time, node) arrays, NaN = missing."""
    with warnings.catch_warnings():  # nodes never observed in the fit rows: standardised as 0/1
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(fit_values, axis=0)
        std = np.nanstd(fit_values, axis=0)
    mean, std = np.nan_to_num(mean), np.where(np.isfinite(std) & (std > 0), std, 1.0)
    train, _ = _windows((fit_values - mean) / std, n_steps, stride=max(1, n_steps // 4))
    train = train[np.isfinite(train).any(axis=(1, 2))]
    start = time.perf_counter()
    model = _model(name, n_steps, values.shape[1], 1, seed)
    model.fit({"X": train})
    epochs, per_epoch = 1, time.perf_counter() - start
    while True:
        elapsed = time.perf_counter() - start
        left = None if time_budget_s is None else time_budget_s - elapsed
        more = next_epochs(left, per_epoch, epochs)
        if more == 0:
            break
        model.epochs = more  # fit() goes on from the current weights and optimiser state
        model.fit({"X": train})
        per_epoch = (time.perf_counter() - start - elapsed) / more
        epochs += more
    fit_s = time.perf_counter() - start
    log.info("pypots %s: %d epochs (%.1fs each) in %.0fs", name, epochs, per_epoch, fit_s)
    start = time.perf_counter()
    test, starts = _windows((values - mean) / std, n_steps)
    out = model.predict({"X": test})["imputation"]
    total = np.zeros(values.shape, np.float64)
    count = np.zeros(values.shape, np.float64)
    for w, s in zip(out, starts, strict=True):
        total[s : s + n_steps] += w.reshape(n_steps, -1)
        count[s : s + n_steps] += 1
    filled = (total / count * std + mean).astype(np.float32)
    np.copyto(filled, values, where=np.isfinite(values))
    return filled, fit_s, time.perf_counter() - start
