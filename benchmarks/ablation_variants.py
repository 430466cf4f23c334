"""What the ablation compares: the paper's ST-Transformer, each add-on alone on top of it,
their combinations, and the baseline every variant is measured against."""

from __future__ import annotations

from typing import Any

PAPER = {"temporal_context": False}
CONTEXT = {"temporal_context": True}
NO_PRIOR = {"prior_covariate": None}
NO_RAIN = {"rain_covariate": None}
# each add-on alone on top of the paper's network, then combinations; every switch a variant
# depends on is named, so a problem's own settings cannot change what a label means (the
# variants retired with their add-ons are in benchmarks/README.md)
VARIANTS: dict[str, dict[str, Any]] = {
    "paper": {**PAPER, **NO_PRIOR, **NO_RAIN},
    "+context": {**CONTEXT, **NO_PRIOR, **NO_RAIN},
    "+smooth 9 km": {**PAPER, **NO_RAIN},  # the problem's prior_covariate stays
    "+rain": {**PAPER, **NO_PRIOR},  # the problem's rain_covariate stays
    "+rain +smooth 9 km": {**PAPER},
    "+rain +context +smooth 9 km": {**CONTEXT},
}
ADD_ON_FIELDS = ("prior_covariate", "rain_covariate")


def needs(variant: str) -> tuple[str, ...]:
    """The channel fields the problem must name for `variant`: every add-on it does not switch
    off."""
    return tuple(k for k in ADD_ON_FIELDS if k not in VARIANTS[variant])


FOREST = (
    "random_forest+rain"  # the best baseline on both families: the forest given the rain indices
)

# each add-on: (with it alone, the paper's network) and (the shipped mix with it, without it)
ADD_ON_PAIRS = {
    "+context": (("+context", "paper"), ("+rain +context +smooth 9 km", "+rain +smooth 9 km")),
    "+smooth 9 km": (("+smooth 9 km", "paper"), ("+rain +smooth 9 km", "+rain")),
    "+rain": (("+rain", "paper"), ("+rain +smooth 9 km", "+smooth 9 km")),
}
KEEP = -0.02  # an add-on earns its place by lowering the MAE at least 2% somewhere (issue 25)


def order(variant: str) -> int:
    """Where a variant's row goes: as listed in VARIANTS, then retired ones (earlier rows)."""
    return list(VARIANTS).index(variant) if variant in VARIANTS else len(VARIANTS)
