"""The ST-Transformer as a Method: scaling, training, sliding-window inference, calibrated std."""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

import numpy as np
import torch

from stimpute.baselines.base import Method
from stimpute.covariates import PER_CHANNEL, prior_field
from stimpute.errors import ConfigError, NotFittedError, ShapeError, WindowError
from stimpute.inference import predict, time_windows
from stimpute.layout import Batch
from stimpute.models import PSAN, PSANConfig, STTransformer, STTransformerConfig
from stimpute.tensors import OnDevice, Scaled, Scaler
from stimpute.training import TrainConfig, TrainReport, train

log = logging.getLogger("stimpute")


def _arch_names(config_cls: Any) -> set[str]:
    """Architecture hyper-parameters a user may set (the rest follow from the data)."""
    return {f.name for f in dataclasses.fields(config_cls)} - {
        "n_covariates", "n_static", "n_nodes", "use_coords", "window",
    }  # fmt: skip


_TRAIN = {f.name for f in dataclasses.fields(TrainConfig)} - {"window"}
_INFER = {"stride", "time_overlap", "infer_tile", "tile_overlap", "infer_batch", "node_embedding", "compile"}  # fmt: skip
_DATA = {"prior_covariate", "prior_spread"}


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when available, else the CPU; anything else is passed to torch."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"device {device!r} is not valid: use 'auto', 'cpu' or 'cuda'") from exc


class TransformerMethod(Method):
    """ST-Transformer trained self-supervised on the array it is fitted to."""

    name = "st_transformer"
    model_cls: Any = STTransformer
    fills_without_observations = True
    config_cls: Any = STTransformerConfig

    def __init__(
        self, *, seed: int = 0, window: int = 72, device: str = "auto", **hparams: Any
    ) -> None:
        arch = _arch_names(self.config_cls)
        unknown = set(hparams) - arch - _TRAIN - _INFER - _DATA
        if unknown:
            allowed = ", ".join(sorted(arch | _TRAIN | _INFER | _DATA))
            raise ConfigError(
                f"unknown hyper-parameter(s) {sorted(unknown)} for {self.name}; allowed: {allowed}"
            )
        super().__init__(seed=seed, **hparams)
        self.window = int(window)
        overlap = hparams.get("time_overlap")
        if overlap is not None and not 0 <= int(overlap) < self.window:
            raise ConfigError(
                f"time_overlap={overlap} days: pass 0 to {self.window - 1}, less than the "
                f"window ({self.window})"
            )
        self.device = resolve_device(device)
        self.model: Any = None
        self.scaler: Scaler | None = None
        self.report: TrainReport | None = None
        self.std_scale = 1.0
        self._compiled: Any = None

    @property
    def stride(self) -> int | None:
        """Steps between inference windows when set (hparam `stride`); None: the windows are
        spread evenly (`time_overlap`)."""
        stride = self.hparams.get("stride")
        return None if stride is None else int(stride)

    @property
    def time_overlap(self) -> int:
        """Least overlap of neighbouring inference windows in time: a quarter of the window by
        default (on a 365-day year, seven 72-day windows overlapping by 23 or 24 days, where a
        stride of 48 took eight; `benchmarks/README.md`, "Inference windows")."""
        return int(self.hparams.get("time_overlap", self.window // 4))

    def window_plan(self, n_time: int) -> tuple[list[int], int]:
        """(starts, taper edge) of the inference windows over `n_time` steps."""
        return time_windows(n_time, self.window, overlap=self.time_overlap, stride=self.stride)

    @property
    def infer_tile(self) -> int:
        """Most pixels of an inference tile's side on grids (tiles shrink to fit the grid)."""
        return int(self.hparams.get("infer_tile", 36))

    @property
    def tile_overlap(self) -> int:
        """Least overlap of neighbouring inference tiles, pixels."""
        return int(self.hparams.get("tile_overlap", 4))

    @property
    def infer_batch(self) -> int:
        """Windows per forward pass at inference: small on a CPU (cache-friendly), large on a GPU."""
        return int(self.hparams.get("infer_batch", 2 if self.device.type == "cpu" else 48))

    @property
    def prior_covariate(self) -> int | None:
        """Index of the covariate channel the model corrects rather than replaces (hparam
        `prior_covariate`), or None."""
        k = self.hparams.get("prior_covariate")
        return None if k is None else int(k)

    def prior(self, batch: Batch) -> np.ndarray | None:
        """(T, N) the prior covariate without gaps and without steps at the edges of what was
        seen on a day (`covariates.prior_field`, spread over `prior_spread` pixels), or None.

        A coarse product of the same quantity (SMAP's 9 km retrieval under the 1 km one) is
        already a fair answer in every gap. With a prior the network learns the departure of the
        values from it, so an answer starts from the coarse field and only moves where the
        data say so, and a short training cannot leave a bias the coarse field does not have."""
        k = self.prior_covariate
        if k is None:
            return None
        if batch.covariates is None or not 0 <= k < batch.covariates.shape[-1]:
            n = 0 if batch.covariates is None else batch.covariates.shape[-1]
            raise ConfigError(f"prior_covariate={k}, but the input has {n} covariate channel(s)")
        spread = float(self.hparams.get("prior_spread", 4.0))
        coarse, layout = batch.covariates[..., k], batch.layout
        if layout.panels == 1:
            return prior_field(coarse, layout.grid, spread)
        band = (layout.panel_height, layout.grid[1]) if layout.grid else None
        parts = coarse.reshape(coarse.shape[0], layout.panels, -1)  # one crop per band
        return np.concatenate(
            [prior_field(parts[:, i], band, spread) for i in range(layout.panels)], axis=1
        )

    def _departure(self, batch: Batch) -> tuple[Batch, np.ndarray | None]:
        """The batch with its values taken relative to the prior (when there is one)."""
        prior = self.prior(batch)
        if prior is None:
            return batch, None
        return dataclasses.replace(batch, values=batch.values - prior), prior

    def _fitted(self) -> tuple[Any, Scaler]:
        if self.model is None or self.scaler is None:
            raise NotFittedError("call fit() (or Imputer.load) before impute() or save()")
        return self.model, self.scaler

    # -- configuration -------------------------------------------------------------------
    def _arch(self, batch: Batch) -> Any:
        kw = {k: v for k, v in self.hparams.items() if k in _arch_names(self.config_cls)}
        if "window" in {f.name for f in dataclasses.fields(self.config_cls)}:
            kw["window"] = self.window
        if "periods" in kw:
            kw["periods"] = tuple(float(p) for p in kw["periods"])
        for on_grids in ("regime_readout", "regime_blend"):
            if on_grids in {f.name for f in dataclasses.fields(self.config_cls)}:
                kw.setdefault(on_grids, batch.layout.grid is not None)
        node_emb = self.hparams.get("node_embedding", "auto")
        use_nodes = batch.layout.grid is None if node_emb == "auto" else bool(node_emb)
        return self.config_cls(
            n_covariates=0
            if batch.covariates is None
            else PER_CHANNEL * batch.covariates.shape[-1],
            n_static=0 if batch.static is None else batch.static.shape[-1],
            n_nodes=batch.layout.n_node if use_nodes else None,
            use_coords=batch.coords is not None,
            **kw,
        )

    def _train_cfg(self) -> TrainConfig:
        kw = {k: v for k, v in self.hparams.items() if k in _TRAIN}
        for key in ("hide_rates", "hide_modes"):
            if key in kw:
                kw[key] = tuple(kw[key])
        return TrainConfig(window=self.window, **kw)

    def _check_window(self, batch: Batch) -> None:
        if self.window > batch.layout.n_time:
            raise WindowError(
                f"window={self.window} is longer than the series ({batch.layout.n_time} steps); "
                f"pass window <= {batch.layout.n_time}"
            )

    # -- fit / predict ----------------------------------------------------------------------
    def fit(
        self,
        batch: Batch,
        *,
        max_epochs: float | None = None,
        time_budget_s: float | None = None,
        **_: Any,
    ) -> None:
        self._check_window(batch)
        torch.manual_seed(self.seed)
        batch = self._departure(batch)[0]
        self.scaler = Scaler.fit(batch)
        data = Scaled.build(batch, self.scaler)
        cfg = self._train_cfg()
        self.model = self.model_cls(self._arch(batch)).to(self.device)
        self._compiled = None
        max_steps = None
        if max_epochs is not None:  # an epoch: enough windows to cover the data once
            windows = math.ceil(batch.layout.n_time / cfg.window)
            for side in batch.layout.grid or ():
                windows *= math.ceil(side / min(cfg.tile, side))
            max_steps = max(1, round(max_epochs * math.ceil(windows / cfg.batch_size)))
        self.report = train(
            self.model,
            data,
            cfg,
            seed=self.seed,
            device=self.device,
            max_steps=max_steps,
            time_budget_s=time_budget_s,
        )
        self.std_scale = self.report.std_scale
        log.info(
            "%s: trained %d steps in %.0fs (%s)",
            self.name,
            self.report.steps,
            self.report.seconds,
            self.report.stopped_by,
        )
        log.debug(
            "%s: best validation MAE %.4f (scaled units), std x %.2f",
            self.name,
            self.report.best_val_mae,
            self.std_scale,
        )

    def predict(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        model, scaler = self._fitted()
        cfg = model.cfg
        n_cov = 0 if batch.covariates is None else batch.covariates.shape[-1]
        n_stat = 0 if batch.static is None else batch.static.shape[-1]
        if PER_CHANNEL * n_cov != cfg.n_covariates or n_stat != cfg.n_static:
            raise ShapeError(
                f"the model was fitted with {cfg.n_covariates // PER_CHANNEL} covariates and "
                f"{cfg.n_static} static fields; impute() got {n_cov} and {n_stat}"
            )
        if cfg.n_nodes is not None and batch.layout.n_node != cfg.n_nodes:
            raise ShapeError(
                f"the model learned one embedding per node of a {cfg.n_nodes}-node set; impute() got "
                f"{batch.layout.n_node} nodes (fit with node_embedding=False to move between point sets)"
            )
        self._check_window(batch)
        batch, prior = self._departure(batch)
        data = OnDevice.from_batch(batch, scaler, self.device)
        mean_s, scale_s = predict(
            model,
            data,
            window=self.window,
            time_plan=self.window_plan(data.values.shape[0]),
            tile=self.infer_tile,
            tile_overlap=self.tile_overlap,
            batch_size=self.infer_batch,
            device=self.device,
            forward=self._compiled_forward(model),
        )
        # back to physical units on the device; a Laplace scale b has standard deviation sqrt(2) b.
        # Imputer.impute puts the observed values (and std 0) back in, for every method alike.
        mean = mean_s * scaler.value_std + scaler.value_mean
        std = scale_s * float(np.sqrt(2.0) * scaler.value_std * self.std_scale)
        mean_np = mean.cpu().numpy()
        return (mean_np if prior is None else mean_np + prior), std.cpu().numpy()

    def _compiled_forward(self, model: Any) -> Any:
        """torch.compile'd model when hparam compile=True (worth it for large regions on a GPU:
        about 2x the eager speed there, after a compile of a minute or less), else None."""
        if not self.hparams.get("compile", False):
            return None
        if self._compiled is None:
            self._compiled = torch.compile(model, dynamic=False)
        return self._compiled

    # -- persistence -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        model, scaler = self._fitted()
        return {
            "arch": model.cfg.to_dict(),
            "weights": model.state_dict(),
            "scaler": scaler.state(),
            "std_scale": self.std_scale,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        arch = dict(state["arch"])
        arch["periods"] = tuple(arch["periods"])
        self.model = self.model_cls(self.config_cls(**arch)).to(self.device)
        self._compiled = None
        self.model.load_state_dict(state["weights"])
        self.scaler = Scaler.from_state(state["scaler"])
        # older checkpoints, from before the support calibration was removed, also hold
        # std_factors (pooled first); std_scale, which they hold too, is that pooled factor
        self.std_scale = float(state.get("std_scale", 1.0))


class PSANMethod(TransformerMethod):
    """PSAN (prototype-enhanced spatial attention) trained and run exactly like the ST-Transformer:
    same scaling, self-supervised hiding, windows, blending and calibrated std."""

    name = "psan"
    model_cls = PSAN
    config_cls = PSANConfig
