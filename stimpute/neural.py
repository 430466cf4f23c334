"""The ST-Transformer as a Method: scaling, training, sliding-window inference, calibrated std."""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

import numpy as np
import torch

from stimpute.baselines.base import Method
from stimpute.config import RETIRED, NeuralConfig
from stimpute.covariates import PER_CHANNEL, prior_field, rain_memory
from stimpute.errors import ConfigError, NotFittedError, ShapeError, WindowError
from stimpute.inference import predict, refill_steps, time_windows
from stimpute.layout import Batch
from stimpute.models import PSAN, PSANConfig, STTransformer, STTransformerConfig
from stimpute.tensors import OnDevice, Scaled, Scaler
from stimpute.training import TrainReport, train

log = logging.getLogger("stimpute")


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
        self, *, seed: int = 0, device: str = "auto", config: NeuralConfig | None = None
    ) -> None:
        super().__init__(seed=seed)
        self.config = config or NeuralConfig()
        self.window = self.config.window
        self.device = resolve_device(device)
        self.model: Any = None
        self.scaler: Scaler | None = None
        self.report: TrainReport | None = None
        self.std_scale = 1.0
        self._compiled: Any = None

    @property
    def time_overlap(self) -> int:
        """Least overlap of neighbouring inference windows in time (a quarter window unless set)."""
        overlap = self.config.infer.time_overlap
        return self.window // 4 if overlap is None else overlap

    def window_plan(self, n_time: int) -> tuple[list[int], int]:
        """(starts, taper edge) of the inference windows over `n_time` steps."""
        return time_windows(
            n_time, self.window, overlap=self.time_overlap, stride=self.config.infer.stride
        )

    @property
    def infer_batch(self) -> int:
        """Windows per forward pass at inference: small on a CPU (cache-friendly), large on a GPU."""
        batch = self.config.infer.infer_batch
        return batch if batch is not None else (2 if self.device.type == "cpu" else 48)

    def prior(self, batch: Batch) -> np.ndarray | None:
        """(T, N) the prior covariate without gaps and without steps at the edges of what was
        seen on a day (`covariates.prior_field`: `prior_spread` pixels, `prior_memory` days),
        or None.

        A coarse product of the same quantity (SMAP's 9 km retrieval under the 1 km one) is
        already a fair answer in every gap, but read as it is its cells' edges show in the
        fill. The network reads this smooth prior in the coarse channel's place."""
        k = self.config.model.prior_covariate
        if k is None:
            return None
        if batch.covariates is None or not 0 <= k < batch.covariates.shape[-1]:
            n = 0 if batch.covariates is None else batch.covariates.shape[-1]
            raise ConfigError(f"prior_covariate={k}, but the input has {n} covariate channel(s)")
        if batch.prior is not None:  # computed by the caller, e.g. over a wider area
            return batch.prior
        spread, memory = self.config.model.prior_spread, self.config.model.prior_memory
        coarse, layout = batch.covariates[..., k], batch.layout
        if layout.panels == 1:
            return prior_field(coarse, layout.grid, spread, memory)
        band = (layout.panel_height, layout.grid[1]) if layout.grid else None
        parts = coarse.reshape(coarse.shape[0], layout.panels, -1)  # one crop per band
        return np.concatenate(
            [prior_field(parts[:, i], band, spread, memory) for i in range(layout.panels)], axis=1
        )

    def rain_channels(self, batch: Batch) -> np.ndarray | None:
        """(T, N, K) the antecedent precipitation indices of the rain covariate
        (`covariates.rain_memory`, one per `rain_memory` age), or None when the add-on is off."""
        k = self.config.model.rain_covariate
        if k is None:
            return None
        n = 0 if batch.covariates is None else batch.covariates.shape[-1]
        if batch.covariates is None or not 0 <= k < n:
            raise ConfigError(f"rain_covariate={k}, but the input has {n} covariate channel(s)")
        return rain_memory(
            batch.covariates[..., k], self.config.model.rain_memory, batch.rain_before
        )

    def _network_batch(self, batch: Batch) -> Batch:
        """What the network sees: the batch with the rain indices appended to its covariates and
        the smooth prior in the coarse channel's place, each when its add-on is on."""
        rain = self.rain_channels(batch)
        if rain is not None:
            covariates = np.concatenate([batch.covariates, rain], axis=-1)
            batch = dataclasses.replace(batch, covariates=covariates)
        prior = self.prior(batch)
        if prior is None:
            return batch
        covariates = np.array(batch.covariates)  # a copy; self.prior checked the channel
        covariates[..., self.config.model.prior_covariate] = prior
        return dataclasses.replace(batch, covariates=covariates)

    def _fitted(self) -> tuple[Any, Scaler]:
        if self.model is None or self.scaler is None:
            raise NotFittedError("call fit() (or Imputer.load) before impute() or save()")
        return self.model, self.scaler

    # -- configuration -------------------------------------------------------------------
    def _arch(self, batch: Batch) -> Any:
        """The network's own config: the model section, with the data's sizes and the switches
        left to the data (None) decided: node embedding on point sets."""
        m = self.config.model
        on_grid = batch.layout.grid is not None
        chosen = {
            "node_embedding": not on_grid if m.node_embedding is None else m.node_embedding,
        }
        names = {f.name for f in dataclasses.fields(self.config_cls)}
        kw = {k: v for k, v in dataclasses.asdict(m).items() if k in names}
        kw.update({k: v for k, v in chosen.items() if k in names})
        if "window" in names:
            kw["window"] = self.window
        return self.config_cls(
            n_covariates=0
            if batch.covariates is None
            else PER_CHANNEL * batch.covariates.shape[-1],
            n_static=0 if batch.static is None else batch.static.shape[-1],
            n_nodes=batch.layout.n_node if chosen["node_embedding"] else None,
            use_coords=batch.coords is not None,
            **kw,
        )

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
        batch = self._network_batch(batch)
        self.scaler = Scaler.fit(batch)
        data = Scaled.build(batch, self.scaler)
        cfg = self.config.train
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

    def refill_steps(self, n_time: int, changed: np.ndarray) -> np.ndarray:
        """The steps a partial re-run fills after the steps in `changed` changed
        (`inference.refill_steps` on this model's plan)."""
        if changed.shape != (n_time,):
            raise ShapeError(
                f"changed has shape {changed.shape}; give one flag per step ({n_time},)"
            )
        return refill_steps(self.window_plan(n_time), self.window, changed.astype(bool))

    def predict(
        self, batch: Batch, steps: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) (T, N); with `steps` (T,) bool, only the windows that hold one of those
        steps run, and only those steps are returned (NaN elsewhere), equal to a full run's."""
        model, scaler = self._fitted()
        cfg = model.cfg
        n_cov = 0 if batch.covariates is None else batch.covariates.shape[-1]
        n_stat = 0 if batch.static is None else batch.static.shape[-1]
        if cfg.n_nodes is not None and batch.layout.n_node != cfg.n_nodes:
            raise ShapeError(
                f"the model learned one embedding per node of a {cfg.n_nodes}-node set; impute() got "
                f"{batch.layout.n_node} nodes (fit with node_embedding=False to move between point sets)"
            )
        self._check_window(batch)
        batch = self._network_batch(batch)
        # the add-ons' channels are counted where they are made: the widened batch against the
        # network, the user's own channels in the message
        width = 0 if batch.covariates is None else batch.covariates.shape[-1]
        added = width - n_cov
        if PER_CHANNEL * width != cfg.n_covariates or n_stat != cfg.n_static:
            raise ShapeError(
                f"the model was fitted with {cfg.n_covariates // PER_CHANNEL - added} covariates "
                f"and {cfg.n_static} static fields; impute() got {n_cov} and {n_stat}"
            )
        data = OnDevice.from_batch(batch, scaler, self.device)
        n_time = data.values.shape[0]
        if steps is not None and np.shape(steps) != (n_time,):
            raise ShapeError(
                f"steps has shape {np.shape(steps)}; give one flag per step ({n_time},)"
            )
        mean_s, scale_s = predict(
            model,
            data,
            window=self.window,
            time_plan=self.window_plan(n_time),
            tile=self.config.infer.infer_tile,
            tile_overlap=self.config.infer.tile_overlap,
            window_offsets=self.config.infer.window_offsets,
            batch_size=self.infer_batch,
            device=self.device,
            # a compiled forward has one shape; the steps of a partial run vary
            forward=self._compiled_forward(model) if steps is None else None,
            wanted=None if steps is None else np.asarray(steps, bool),
        )
        # back to physical units on the device; a Laplace scale b has standard deviation sqrt(2) b.
        # Imputer.impute puts the observed values (and std 0) back in, for every method alike.
        mean = mean_s * scaler.value_std + scaler.value_mean
        std = scale_s * float(np.sqrt(2.0) * scaler.value_std * self.std_scale)
        return mean.cpu().numpy(), std.cpu().numpy()

    def _compiled_forward(self, model: Any) -> Any:
        """torch.compile'd model when `InferConfig.compile` (worth it for large regions on a GPU:
        about 2x the eager speed there, after a compile of a minute or less), else None."""
        if not self.config.infer.compile:
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
        for name in RETIRED:  # off, or refused by Imputer.load where the weights need it
            arch.pop(name, None)
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
