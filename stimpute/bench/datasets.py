"""Benchmark problems: the twin under day/point/block hiding, and AQI-36 with its standard protocol."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stimpute.config import product_addons
from stimpute.errors import ConfigError, NoObservationsError
from stimpute.masks import hide
from stimpute.simulate import COARSE_CELL, COVARIATES, twin
from stimpute.simulate_convective import twin_convective

FAMILIES = ("bands", "convective")  # the two twin simulators

AQI_TEST_MONTHS = (3, 6, 9, 12)


@dataclass
class Problem:
    """What every model gets (`values` and friends) and how it is scored (`eval_mask`)."""

    name: str
    protocol: str
    values: np.ndarray  # model input, NaN where missing (eval values removed)
    target: np.ndarray  # the values scored at eval_mask
    eval_mask: np.ndarray
    covariates: np.ndarray | None = None
    static: np.ndarray | None = None
    coords: np.ndarray | None = None
    times: np.ndarray | None = None
    truth: np.ndarray | None = None  # full truth where a simulator gives it
    rain_before: np.ndarray | None = None  # (D, *space) the rain covariate of the days before
    fit_rows: np.ndarray | None = None  # time steps a model may fit on (None: all)
    st_hparams: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def twin_problem(
    protocol: str,
    *,
    size: int = 36,
    days: int = 365,
    seed: int = 0,
    rate: float = 0.2,
    observed_share: float | None = None,
    family: str = "bands",
) -> Problem:
    """The soil-moisture twin with `rate` of the observed values hidden for scoring.

    With `observed_share`, the twin is seen every day in full (no swaths, no missed passes) and
    then thinned at random to that share of pixel-days: the sparsity curve's inputs.
    `family`: "bands" (`stimpute.simulate`) or "convective" (`stimpute.simulate_convective`),
    two simulators with different rain, soil water, coarse product and orbits.
    """
    if family not in FAMILIES:
        raise ConfigError(f"twin family {family!r}: choose one of {', '.join(FAMILIES)}")
    if family == "convective" and observed_share is not None:
        raise ConfigError("the sparsity curve runs on the bands family only")
    if protocol not in ("day", "point", "block"):
        raise ConfigError(f"the twin supports protocols day, point and block; got {protocol!r}")
    if family == "convective":
        tw = twin_convective(height=size, width=size, days=days, seed=seed)
    elif observed_share is None:
        tw = twin(height=size, width=size, days=days, seed=seed)
    else:
        if not 0 < observed_share <= 1:
            raise ConfigError(f"observed_share must be in (0, 1]; got {observed_share}")
        tw = twin(height=size, width=size, days=days, seed=seed, revisit_days=1,
                  swath_cover=(1.0, 1.0), missed_pass=0.0)  # fmt: skip
        seen = np.isfinite(tw.observed)
        keep = np.random.default_rng(seed + 7).random(seen.shape) < observed_share / seen.mean()
        tw.observed = np.where(keep, tw.observed, np.nan).astype(np.float32)
    observed = ~np.isnan(tw.observed)
    eval_mask = hide(
        observed, rate, protocol, np.random.default_rng(seed + 1000), grid=(size, size)
    )
    return Problem(
        name="twin" if family == "bands" else f"twin-{family}",
        protocol=protocol,
        values=np.where(eval_mask, np.nan, tw.observed),
        target=tw.observed,
        eval_mask=eval_mask,
        covariates=tw.covariates,
        static=tw.static,
        times=tw.day_of_year,
        truth=tw.truth,
        rain_before=tw.rain_before,
        # the neural models are the pipeline's: the add-ons kept for a coarse product and rain
        st_hparams=product_addons(COVARIATES.index("sm_9km"), COVARIATES.index("precipitation")),
        info={
            "shape": list(tw.observed.shape),
            "coarse_cell": COARSE_CELL,
            "missing_share": tw.missing_share,
            "seed": seed,
            "family": family,
            "hidden_for_eval": int(eval_mask.sum()),
            "observed_share": float(observed.mean()),
        },
    )


def _read_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open() as fh:
        rows = list(csv.reader(fh))
    stamps = np.array([r[0].replace("/", "-") for r in rows[1:]], dtype="datetime64[h]")
    vals = np.array(
        [[float(v) if v else np.nan for v in r[1:]] for r in rows[1:]], dtype=np.float32
    )
    return stamps, vals


def aqi36_problem(root: Path) -> Problem:
    """AQI-36 as in GRIN/CSDI: eval = present in ground but missing in pm25_missing, test months
    3, 6, 9, 12; models fit on the other months only and impute the whole year."""
    ground_path, missing_path = root / "pm25_ground.txt", root / "pm25_missing.txt"
    if not ground_path.is_file() or not missing_path.is_file():
        raise NoObservationsError(
            f"AQI-36 files not found under {root}; pass --data-dir to their folder"
        )
    stamps, ground = _read_table(ground_path)
    _, missing = _read_table(missing_path)
    months = (stamps.astype("datetime64[M]").astype(int) % 12) + 1
    test_rows = np.isin(months, AQI_TEST_MONTHS)
    eval_mask = ~np.isnan(ground) & np.isnan(missing) & test_rows[:, None]
    coords = None
    latlng = root / "pm25_latlng.txt"
    if latlng.is_file():
        with latlng.open() as fh:
            rows = list(csv.reader(fh))[1:]
        coords = np.array([[float(r[1]), float(r[2])] for r in rows], dtype=np.float32)
    hours = (stamps - stamps[0]).astype(np.float64)
    return Problem(
        name="aqi36",
        protocol="native",
        values=missing,
        target=ground,
        eval_mask=eval_mask,
        coords=coords,
        times=hours,
        fit_rows=~test_rows,
        # training hides random points and the gaps of other windows (CSDI's historical masks),
        # the way the evaluation mask itself was made from other months' gaps
        st_hparams={
            "window": 36,
            "periods": (24.0, 168.0),
            "batch_size": 32,
            "hide_modes": ("point", "history"),
        },
        info={
            "shape": list(ground.shape),
            "eval_values": int(eval_mask.sum()),
            "test_months": list(AQI_TEST_MONTHS),
        },
    )
