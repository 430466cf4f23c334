"""On the sample, every filled value against the twin's truth: what the product's gaps really
hold, not only the held-out observations.

The score is kept per day in `truth.npz` beside the product, with the twin's soil-water stores
after the last day scored, so a refill scores only the days it rewrote, and a night that adds
days walks the twin on from where the last one stopped instead of from 1 January."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.files import replacing
from pipeline.refill import refilled_days

log = logging.getLogger("pipeline")

SUMS = ("abs", "sq", "bias", "n")  # per day: sum |error|, sum error², sum error, values


def score(sums: np.ndarray) -> dict[str, Any]:
    """MAE, RMSE and bias over all days from the (T, 4) per-day sums."""
    total = sums.sum(axis=0)
    n = max(1.0, float(total[3]))
    return {
        "values": int(total[3]),
        "mae": round(float(total[0]) / n, 5),
        "rmse": round((float(total[1]) / n) ** 0.5, 5),
        "bias": round(float(total[2]) / n, 5),
    }


class FilledDays:
    """The filled store's values and flags read 32 days at a time, as a walk in time asks."""

    def __init__(self, ds: Any, block: int = 32) -> None:
        self.ds, self.block, self.first = ds, block, -1
        self.value = self.flag = np.empty(0)

    def day(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        if not self.first <= t < self.first + len(self.value):
            sel = self.ds.isel(time=slice(t, t + self.block))
            self.first, self.value, self.flag = t, sel["soil_moisture"].values, sel["flag"].values
        return self.value[t - self.first], self.flag[t - self.first]


def day_sum(value: np.ndarray, flag: np.ndarray, truth: np.ndarray) -> tuple[float, ...]:
    """One day's sums over its filled values (flag 2)."""
    from pipeline.fill_tasks import FILLED

    gap = flag == FILLED
    err = value[gap].astype(np.float64) - truth[gap]
    return float(np.abs(err).sum()), float((err**2).sum()), float(err.sum()), float(gap.sum())


def truth_score(
    folder: Path,
    region: str,
    year: int,
    fill: str,
    refill: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """The score of the product in `folder` made by the fill `fill` (its fingerprint); None
    for real data, whose truth nobody knows. `refill`: the refill's summary (its `from`, the
    fill it started from, and its `rewritten` day runs), or None for a whole fill."""
    import json

    manifest = folder / "raw" / "manifest.json"
    if not manifest.exists() or json.loads(manifest.read_text()).get("source") != "sample":
        return None
    import xarray as xr

    from pipeline.catalog import region as find_region
    from pipeline.sources.sample import truth_twin
    from stimpute.field_twin import SoilState

    start = time.perf_counter()
    filled, kept_path = folder / "filled.zarr", folder / "truth.npz"
    twin = truth_twin(find_region(region), year)
    with xr.open_zarr(filled, consolidated=True, chunks=None) as ds:
        n_time = min(twin.n_days, ds.sizes["time"])  # the twin may know days not yet filled
        sums = np.zeros((n_time, len(SUMS)))
        todo = set(range(n_time))
        state = twin.first_state()
        kept = _kept(kept_path, refill)
        if kept is not None and refill is not None:
            had = min(len(kept["sums"]), n_time)
            sums[:had] = kept["sums"][:had]
            todo = refilled_days(refill, str(kept["fill"])) or set()
            todo |= set(range(had, n_time))
            if int(kept["day"]) == had and all(t >= had for t in todo):
                state = SoilState(had, kept["fast"], kept["slow"])  # walk on from the last day
        days = FilledDays(ds)
        # the days first: the walk stops after day n_time - 1, its state ready for day n_time
        for t, truth in zip(range(state.day, n_time), twin.truths(state=state), strict=False):
            if t in todo:
                sums[t] = day_sum(*days.day(t), truth)
    with replacing(kept_path) as tmp, open(tmp, "wb") as f:
        np.savez(f, fill=fill, sums=sums, day=state.day, fast=state.fast, slow=state.slow)
    result = score(sums)
    log.info(
        "fill: every filled value against the sample's truth: MAE %.4f over %d values "
        "(%d day(s) scored, %.0fs)", result["mae"], result["values"], len(todo),
        time.perf_counter() - start,
    )  # fmt: skip
    return result


def _kept(path: Path, refill: dict[str, Any] | None) -> dict[str, np.ndarray] | None:
    """The per-day sums kept by the fill this refill started from (None for a whole fill, or
    when what is kept belongs to another fill or cannot be read)."""
    if not refill or not refill.get("from") or not path.exists():
        return None
    try:
        with np.load(path) as z:
            kept = {k: z[k] for k in ("fill", "sums", "day", "fast", "slow")}
    except (OSError, ValueError, KeyError):
        return None
    return kept if str(kept["fill"]) == refill["from"] else None
