"""Typed configuration of the neural imputers, defined once: what the network is (`ModelConfig`),
how it learns (`TrainConfig`), how it fills an array (`InferConfig`), and the window length they
share (`NeuralConfig`). Every field is typed, defaulted and documented here and nowhere else.

    Imputer("st_transformer", config=NeuralConfig(model=ModelConfig(dim=32)))
    Imputer("st_transformer", dim=32, lr=2e-3)          # the same, by keyword shortcuts

A checkpoint stores the whole configuration (`NeuralConfig.to_dict`), so a loaded imputer runs
exactly as it was fitted. An unknown name is a `ConfigError` that lists the allowed ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields, replace
from typing import Any

from stimpute.errors import ConfigError
from stimpute.masks import ALL_MODES, MODES

# add-ons and modes removed after the ablation (benchmarks/README.md): a checkpoint that names
# them loads while they were off, and is refused where its weights need them
RETIRED = ("regime_readout", "regime_blend", "prior_departure")


@dataclass(frozen=True)
class ModelConfig:
    """The network. Defaults are the paper's ST-Transformer (width 64, 4 layers, 4 heads, 4 x 4
    spatial windows shifted every other layer); the add-ons below each have their own switch."""

    dim: int = 64  # width of every token
    layers: int = 4  # ST layers (PSAN: its own layers, 3 by default)
    heads: int = 4  # attention heads; must divide `dim`
    ffn_ratio: int = 2  # hidden width of the MLP, in multiples of `dim`
    spatial_window: int = 4  # pixels per side of a spatial attention window (grids)
    dropout: float = 0.0
    periods: tuple[float, ...] = (365.25,)  # seasonal encodings of `times`, in steps
    prototypes: int = 16  # PSAN only: learned prototypes of its spatial attention bias
    # a learned embedding per node: None = on point sets (a fixed set of stations), off on grids
    node_embedding: bool | None = None
    # add-on: each token also gets its node's value interpolated in time from the visible values
    # and the gaps to them (as BRITS and GRU-D), with an exact linear path to the readout
    temporal_context: bool = True
    # add-on: index of a covariate channel of the same quantity (a coarse product) that the
    # network reads smoothed in space and time (`covariates.prior_field`) in that channel's
    # place, so the fill has no steps at the coarse cells' edges; None = off
    prior_covariate: int | None = None
    prior_spread: float = 4.5  # pixels: the prior's Gaussian in space (half a 9 km cell at 1 km)
    prior_memory: float = 0.6  # days: the prior's weight in time falls as exp(-|days| / memory)
    # add-on: index of a covariate channel of daily rain; the network also gets its antecedent
    # precipitation indices (`covariates.rain_memory`) as covariates; None = off
    rain_covariate: int | None = None
    rain_memory: tuple[float, ...] = (1.5, 5.0, 15.0)  # days: e-folding ages of the indices


@dataclass(frozen=True)
class TrainConfig:
    """Self-supervised training; defaults follow the paper (AdamW 1e-3 cosine to 1e-4, hidden
    shares 0.2 / 0.5 / 0.8). `window` is `NeuralConfig.window`, copied in by it."""

    window: int = 72
    tile: int = 12  # pixels per side of a training crop (grids)
    batch_size: int = 8
    lr: float = 1e-3
    lr_min: float = 1e-4
    weight_decay: float = 1e-5
    grad_clip: float = 1.0
    warmup_steps: int = 30
    hide_rates: tuple[float, ...] = (0.2, 0.5, 0.8)  # share of a window's observed values hidden
    hide_modes: tuple[str, ...] = MODES  # how they are hidden: points, whole days, blocks
    aux_weight: float = 0.5  # weight of the earlier layers' readouts in the loss
    max_steps: int = 3000
    val_share: float = 0.1  # share of observed values held out for early stopping
    val_rate: float = 0.5  # share of a validation box's observed values held
    eval_every: int = 50  # steps between validation scores
    patience: int = 8  # validation scores without progress before stopping
    # share of the learning-rate cosine (steps or time budget) before early stopping may end a fit
    stop_from: float = 0.75
    ema_decay: float = 0.99  # the weights scored and kept are a moving average; 0 = off


@dataclass(frozen=True)
class InferConfig:
    """How a fitted model fills an array: overlapping windows in time, tiles in space, blended
    with tapered weights."""

    time_overlap: int | None = None  # least overlap of time windows; None = a quarter window
    stride: int | None = None  # steps between time windows instead (None: spread evenly)
    infer_tile: int = 36  # most pixels per side of a spatial tile (grids)
    tile_overlap: int = 4  # least overlap of neighbouring tiles, pixels
    infer_batch: int | None = None  # windows per forward pass; None = 2 on a CPU, 48 on a GPU
    compile: bool = False  # torch.compile the model (worth it for large regions on a GPU)
    # pixels the ST-Transformer's spatial attention windows move by, one run each, answers
    # averaged (`windows.offset_weights`): (0,) one run; more leave no window edge at the same
    # place in every run, so the fill shows no grid of the window size, at that many times the
    # cost. ST-Transformer only
    window_offsets: tuple[int, ...] = (0,)


SECTIONS: dict[str, type] = {"model": ModelConfig, "train": TrainConfig, "infer": InferConfig}


@dataclass(frozen=True)
class NeuralConfig:
    """Everything a neural imputer is built from: the window length and the three sections."""

    window: int = 72  # steps per window, in training and in inference
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    infer: InferConfig = field(default_factory=InferConfig)

    def __post_init__(self) -> None:
        if self.window < 2:
            raise ConfigError(f"window={self.window}: give at least 2 steps")
        overlap = self.infer.time_overlap
        if overlap is not None and not 0 <= overlap < self.window:
            raise ConfigError(
                f"time_overlap={overlap} days: pass 0 to {self.window - 1}, less than the "
                f"window ({self.window})"
            )
        if self.model.dim % self.model.heads:
            raise ConfigError(
                f"dim ({self.model.dim}) must be divisible by heads ({self.model.heads})"
            )
        if not 0.0 <= self.train.stop_from <= 1.0:
            raise ConfigError(
                f"stop_from={self.train.stop_from}: give a share of the learning-rate cosine, 0 to 1"
            )
        bad = set(self.train.hide_modes) - set(ALL_MODES)
        if bad:
            raise ConfigError(f"hide_modes {sorted(bad)}: choose from {', '.join(ALL_MODES)}")
        if self.train.window != self.window:  # one window length, set here
            object.__setattr__(self, "train", replace(self.train, window=self.window))

    @classmethod
    def build(cls, config: NeuralConfig | None = None, **shortcuts: Any) -> NeuralConfig:
        """`config` (or the defaults) with keyword shortcuts applied: any field of any section
        by its own name (`dim=32`, `lr=2e-3`, `infer_tile=44`) or `window`."""
        base = config or cls()
        allowed = allowed_names()
        unknown = sorted(set(shortcuts) - allowed)
        if unknown:
            raise ConfigError(
                f"unknown setting(s) {unknown}; allowed: {', '.join(sorted(allowed))}"
            )
        sections = {}
        for name, section_cls in SECTIONS.items():
            mine = {k: _typed(k, v) for k, v in shortcuts.items() if k in _names(section_cls)}
            mine.pop("window", None)
            sections[name] = replace(getattr(base, name), **mine)
        return cls(window=int(shortcuts.get("window", base.window)), **sections)

    @classmethod
    def paper(cls, **shortcuts: Any) -> NeuralConfig:
        """The ST-Transformer as the paper describes it (embeddings, N x (temporal attention,
        spatial attention, MLP), per-layer readouts with a scale head) with every add-on off:
        the baseline each add-on is measured against."""
        off = {"temporal_context": False, "prior_covariate": None, "rain_covariate": None}
        return cls.build(**{**off, **shortcuts})

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (a checkpoint loads with weights_only)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NeuralConfig:
        sections = {
            name: section_cls(
                **{k: _typed(k, v) for k, v in d.get(name, {}).items() if k not in RETIRED}
            )
            for name, section_cls in SECTIONS.items()
        }
        return cls(window=int(d.get("window", 72)), **sections)


# The smaller network and training for a few CPU cores, where a fit has minutes: the pipeline's
# model on a CPU and the benchmarks' `small` budget both read it. A fit of minutes is short of
# steps, so each step is made cheap: half the paper's width with half its heads (each head keeps
# the paper's 16 channels), batch 2 (the paper's 8) of 8 x 8 px crops (benchmarks/README.md,
# "Cheaper steps on a CPU"). A step then sees a ninth of the pixels of the default (8 crops of
# 12 x 12), so its validation score is noisier and early stopping waits twice as many scores.
# Its step cap is twice the default's, so that on a few cores the time budget, not the cap,
# ends a fit (benchmarks/README.md, "A step cap of 6,000 on a CPU").
# Read-only in use: callers copy it (`{**CPU_SMALL}`).
CPU_SMALL: dict[str, Any] = {
    "dim": 32,
    "layers": 3,
    "heads": 2,
    "tile": 8,
    "batch_size": 2,
    "lr": 2e-3,
    "patience": 16,
    "max_steps": 6000,
}


def product_addons(prior_covariate: int | None, rain_covariate: int | None) -> dict[str, Any]:
    """Shortcuts for a field whose covariates hold a coarse product of the same quantity and the
    daily rain (the pipeline's soil moisture, both twin families): the add-ons the ablation kept,
    the product read as the smooth prior and the rain's antecedent indices, and the temporal
    context off (with the rain indices it cost accuracy on both twin families; benchmarks/
    README.md, "After the rain memory"). A channel that is not there (None) leaves its add-on off."""
    found = {"prior_covariate": prior_covariate, "rain_covariate": rain_covariate}
    return {"temporal_context": False, **{k: v for k, v in found.items() if v is not None}}


def _names(section_cls: type) -> set[str]:
    return {f.name for f in fields(section_cls)}


def allowed_names() -> set[str]:
    """Every keyword shortcut `NeuralConfig.build` takes."""
    return {"window"}.union(*(_names(c) for c in SECTIONS.values()))


def _typed(name: str, value: Any) -> Any:
    """Tuples for tuple fields (a checkpoint gives lists back); "auto" for a None default."""
    if isinstance(value, list):
        return tuple(value)
    if value == "auto" and name == "node_embedding":
        return None
    return value
