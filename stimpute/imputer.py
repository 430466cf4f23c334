"""The public entry point: Imputer(model=...).fit(values, ...).impute(values, ...) on numpy arrays."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stimpute.baselines import (
    DctPls,
    LinearInTime,
    Mice,
    NeighbourMean,
    PixelMean,
    RandomForest,
)
from stimpute.baselines.base import Method
from stimpute.config import RETIRED, InferConfig, NeuralConfig
from stimpute.errors import CheckpointError, ConfigError, NotFittedError, ShapeError
from stimpute.layout import prepare
from stimpute.neural import PSANMethod, TransformerMethod

MODELS: dict[str, type[Method]] = {
    "st_transformer": TransformerMethod,
    "psan": PSANMethod,
    "mean": PixelMean,
    "linear": LinearInTime,
    "dctpls": DctPls,
    "neighbours": NeighbourMean,
    "mice": Mice,
    "random_forest": RandomForest,
}
NEURAL = ("st_transformer", "psan")
# 2: covariates gap-filled in time (covariates.py); 3: a prior is read only as a smooth channel
FORMAT = "stimpute-imputer/3"
READABLE = ("stimpute-imputer/2", FORMAT)


@dataclass
class ImputeResult:
    """Filled values (observed ones unchanged) and a per-value standard error (0 where observed)."""

    values: np.ndarray
    std: np.ndarray
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


def _to_tensors(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, dict):
        return {k: _to_tensors(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_tensors(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


class Imputer:
    """One interface for every model, so they compare fairly.

    `values` is (time, y, x) for a grid or (time, node) for a point set, NaN where missing.
    `covariates` (time, *space, C) may hold NaN; `static` is (*space, S); `coords` (node, 2)
    for point sets; `times` (time,) gives each step's position for the seasonal encodings
    (day of year for daily data; defaults to 0, 1, 2, ...).
    """

    def __init__(
        self,
        model: str = "st_transformer",
        *,
        config: NeuralConfig | None = None,
        seed: int = 0,
        device: str = "auto",
        **settings: Any,
    ) -> None:
        """`model`: one of MODELS. The neural models take a `NeuralConfig` and/or its fields
        as keyword shortcuts (`window=48, dim=32, lr=2e-3`; `stimpute.config`); a baseline
        takes its own few settings (random_forest: n_estimators, max_rows; mice: max_iter,
        n_nearest). `device`: "auto" (CUDA when present), "cpu" or "cuda"."""
        if model not in MODELS:
            raise ConfigError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
        self.model_name = model
        self.seed, self.device = seed, device
        self.config: NeuralConfig | None = None
        self.settings = settings
        if model in NEURAL:
            if model == "psan" and config is None:
                settings = {"layers": 3, **settings}  # PSAN's own depth
            self.config = self._checked(NeuralConfig.build(config, **settings))
            self.method: Method = MODELS[model](seed=seed, device=device, config=self.config)
        else:
            if config is not None:
                raise ConfigError(f"{model} is a baseline: it takes no NeuralConfig")
            self.method = MODELS[model](seed=seed, **settings)
        self.fitted = False
        self.fit_seconds = 0.0

    def set_inference(self, **settings: Any) -> None:
        """Change how a neural model fills, after fitting too: `InferConfig` fields only (a
        wrong name is a ConfigError that lists them)."""
        allowed = {f.name for f in dataclasses.fields(InferConfig)}
        if self.config is None or set(settings) - allowed:
            raise ConfigError(
                f"set_inference takes {', '.join(sorted(allowed))} for a neural model; "
                f"got {sorted(settings)} for {self.model_name}"
            )
        self.config = self._checked(NeuralConfig.build(self.config, **settings))
        self.method.config = self.config  # type: ignore[attr-defined]

    def _checked(self, config: NeuralConfig) -> NeuralConfig:
        """`config`, refused where it asks this model for what only the other one has."""
        if self.model_name == "psan" and config.infer.window_offsets != (0,):
            raise ConfigError(
                f"window_offsets={config.infer.window_offsets} moves the ST-Transformer's "
                "attention windows; PSAN has none: leave it at (0,) for psan"
            )
        return config

    @property
    def window(self) -> int | None:
        """Steps per window of a neural model (None for a baseline)."""
        return None if self.config is None else self.config.window

    def fit(
        self,
        values: Any,
        covariates: Any = None,
        static: Any = None,
        coords: Any = None,
        *,
        times: Any = None,
        prior: Any = None,
        rain_before: Any = None,
        max_epochs: float | None = None,
        time_budget_s: float | None = None,
    ) -> Imputer:
        """Learn from the observed values; neural models train self-supervised on hidden ones.

        The neural models also learn from several crops of a region at once: `values` a list of
        (time, y, x) grids of one shape on one time axis (`times`), `covariates` and `static`
        lists to match. Each crop keeps its own static fields and neighbours.

        `prior` (like `values`): the prior field of a model with `prior_covariate`, when the
        caller computes it itself (over a wider area than the array, so that tiles of a larger
        region get the same prior where they overlap); by default it is computed from the
        covariate (`covariates.prior_field`).

        `rain_before` (days, *space), a model with `rain_covariate`: the rain of the days before
        the record (the rain channel's units), so the antecedent rain indices of its first days
        count the rain that fell before them (`covariates.rain_memory`); a list with crops."""
        batch = prepare(
            values, covariates, static, coords, times, prior=prior, rain_before=rain_before
        )
        if batch.layout.panels > 1 and self.model_name not in NEURAL:
            raise ConfigError(
                f"{self.model_name} learns from one array; pass a list of crops only to "
                "st_transformer or psan"
            )
        start = time.perf_counter()
        self.method.fit(batch, max_epochs=max_epochs, time_budget_s=time_budget_s)
        self.fit_seconds = time.perf_counter() - start
        self.fitted = True
        return self

    def impute(
        self,
        values: Any,
        covariates: Any = None,
        static: Any = None,
        coords: Any = None,
        *,
        times: Any = None,
        prior: Any = None,
        rain_before: Any = None,
        steps: Any = None,
    ) -> ImputeResult:
        """Fill the gaps of `values`; observed values are returned bit-identical.

        `steps` (T,) bool, neural models only: fill the gaps of those steps alone, as a full
        run fills them (a re-run after new days or a reissued scene: `refill_steps` says which
        steps a change reaches). Only the time windows holding one of them run, the network's
        last layer works on those steps alone, and every other gap is NaN.

        `prior` and `rain_before` as for `fit`."""
        if not self.fitted:
            raise NotFittedError("call fit() before impute(), or load a saved imputer")
        batch = prepare(
            values, covariates, static, coords, times, prior=prior, rain_before=rain_before,
            require_observed=not self.method.fills_without_observations,
        )  # fmt: skip
        if batch.layout.panels > 1:
            raise ShapeError(
                f"impute() fills one array at a time; got a list of {batch.layout.panels}"
            )
        start = time.perf_counter()
        if steps is None:
            mean, std = self.method.predict(batch)
        else:
            mean, std = self._neural().predict(batch, np.asarray(steps, bool))
        seconds = time.perf_counter() - start
        observed = batch.observed
        filled = np.array(mean, dtype=np.float32)  # a copy: the method's arrays stay untouched
        np.copyto(filled, batch.values, where=observed)  # observed values bit-identical
        std = np.array(std, dtype=np.float32)
        np.copyto(std, np.float32(0.0), where=observed)
        layout = batch.layout
        return ImputeResult(layout.to_user(filled), layout.to_user(std), seconds)

    def refill_steps(self, n_time: int, changed: Any) -> np.ndarray:
        """(n_time,) bool: the steps to fill again (`impute(..., steps=...)`) after the steps in
        `changed` changed: those that only time windows holding a change cover, where a partial
        run equals a full one; elsewhere the earlier run's values stand."""
        return self._neural().refill_steps(n_time, np.asarray(changed, bool))

    def _neural(self) -> TransformerMethod:
        """The neural method, for a partial re-run; a baseline re-runs whole."""
        if not isinstance(self.method, TransformerMethod):
            raise ConfigError(f"{self.model_name} re-runs whole: steps= is for the neural models")
        return self.method

    def save(self, path: str | Path) -> Path:
        """Write the imputer to one file (tensors and plain values only; loads with weights_only)."""
        if not self.fitted:
            raise NotFittedError("nothing to save: call fit() first")
        path = Path(path)
        payload = {
            "format": FORMAT,
            "model": self.model_name,
            "seed": self.seed,
            "config": None if self.config is None else self.config.to_dict(),
            "hparams": _to_tensors(self.settings if self.config is None else {}),
            "state": _to_tensors(self.method.state()),
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto") -> Imputer:
        """Read an imputer written by `save`."""
        path = Path(path)
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError as exc:
            raise CheckpointError(f"no saved imputer at {path}") from exc
        except Exception as exc:  # torch raises several types for corrupt files
            raise CheckpointError(
                f"{path} is not a readable stimpute imputer ({exc}); save it again"
            ) from exc
        found = payload.get("format") if isinstance(payload, dict) else None
        if not str(found).startswith("stimpute-imputer/"):
            raise CheckpointError(f"{path} is not a {FORMAT} file")
        if found not in READABLE:
            raise CheckpointError(
                f"{path} was saved as {found} by an older stimpute, whose models "
                f"took other covariate inputs; fit the imputer again and save it ({FORMAT})"
            )
        settings: dict[str, Any] = {
            str(k): (v.tolist() if isinstance(v, torch.Tensor) else v)
            for k, v in payload["hparams"].items()
        }
        _refuse_retired(path, payload, settings)
        if payload.get("config") is not None:
            config = NeuralConfig.from_dict(payload["config"])
            imp = cls(payload["model"], config=config, seed=payload["seed"], device=device)
        elif payload["model"] in NEURAL:  # saved before the typed configuration: flat names
            settings["window"] = payload["window"]
            imp = cls(payload["model"], seed=payload["seed"], device=device, **settings)
        else:
            imp = cls(payload["model"], seed=payload["seed"], device=device, **settings)
        imp.method.load_state(payload["state"])
        imp.fitted = True
        return imp


def _refuse_retired(path: Path, payload: dict[str, Any], settings: dict[str, Any]) -> None:
    """One line for a checkpoint whose weights need an add-on or mode this version no longer has
    (`config.RETIRED`, each removed after the ablation): fit it again. Such a switch saved off is
    dropped as the configuration is read (`NeuralConfig.from_dict`, `load_state`)."""
    arch = payload["state"].get("arch", {}) if isinstance(payload.get("state"), dict) else {}
    used = [name for name in RETIRED if arch.get(name, False)]
    model = (payload.get("config") or {}).get("model", settings)
    # before format 3 a network with a prior learned the departure from it unless told otherwise
    departed = model.get("prior_covariate") is not None and model.get("prior_departure", True)
    if payload.get("format") != FORMAT and departed and "prior_departure" not in used:
        used.append("prior_departure")
    if used:
        raise CheckpointError(
            f"{path} was fitted with {' and '.join(used)}, which this version no longer has "
            "(benchmarks/README.md, the ablation): fit the imputer again"
        )
