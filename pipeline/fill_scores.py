"""The fill's held-out check: the factor on the model's std fitted on half of it, and the table of
what the blended product and each baseline put at the check values.

The model's std is scaled on its training validation, crops of its training block (stimpute's
`Validation`); the check's whole 36 km blocks of overpass days are the gaps users have. Where the
check holds enough block-days, the std is scaled again by the factor that puts 90% of one half
of them inside the 90% normal interval (split conformal calibration), and the intervals'
coverage is reported on the other half, which the factor never saw. A small region's check
(a few block-days a year) cannot fit a factor: its std stays as the model gives it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.fill_inputs import Holdout

MIN_UNITS = 20  # block-days (or single values) of the fitting half below which no factor is fitted


def std_factor(
    tiles: list[dict[str, Any]], holdout: Holdout, origin: tuple[int, int]
) -> dict[str, Any]:
    """The factor on the std from the tiles' own answers at the fitting half of the check
    (`Holdout.calibrates`), with how many values and block-days that half holds; 1.0, not
    fitted, when it holds fewer than MIN_UNITS block-days."""
    from stimpute.calibration import fit_factor

    t, r, c, truth, st, std = (
        np.concatenate([np.asarray(e["check"][k]) for e in tiles]) if tiles else np.zeros(0)
        for k in ("t", "r", "c", "truth", "check_st", "check_std")
    )
    rows, cols = r.astype(np.int64) + origin[0], c.astype(np.int64) + origin[1]
    mine = holdout.calibrates(t, rows, cols) & np.isfinite(st)
    units = holdout.units(t[mine], rows[mine], cols[mine])
    fitted = units >= MIN_UNITS
    ratio = np.abs(st[mine] - truth[mine]) / np.maximum(std[mine], 1e-6)
    return {
        "std_factor": fit_factor(ratio) if fitted else 1.0,
        "fitted": fitted,
        "values": int(mine.sum()),
        "block_days": units,
    }


def score_table(
    tiles: list[dict[str, Any]],
    blended: list[dict[str, Any]],
    scored: frozenset[int],
    baselines: tuple[str, ...],
    holdout: Holdout,
    origin: tuple[int, int],
    fitted: bool,
) -> list[dict[str, Any]]:
    """Held-out metrics: the blended product and each baseline at the check values of the scored
    tiles, and the product at every tile's check values; the product's interval coverage on the
    `coverage_values` of them that did not fit its std factor (all, when none was `fitted`)."""
    from stimpute.metrics import coverage, summary

    def key(t: Any, r: Any, c: Any) -> np.ndarray:
        return (
            (np.asarray(t, np.int64) << 42)
            | (np.asarray(r, np.int64) << 21)
            | np.asarray(c, np.int64)
        )

    def cat(parts: list[Any], dtype: Any = np.float32) -> np.ndarray:
        return (
            np.concatenate([np.asarray(p, dtype) for p in parts]) if parts else np.zeros(0, dtype)
        )

    known = cat([key(b["t"], b["r"], b["c"]) for b in blended], np.int64)
    order = np.argsort(known)
    st_all = cat([b["st"] for b in blended])[order]
    std_all = cat([b["st_std"] for b in blended])[order]
    known = known[order]

    def model_at(entries: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        k = cat([key(e["check"]["t"], e["check"]["r"], e["check"]["c"]) for e in entries], np.int64)
        i = np.clip(np.searchsorted(known, k), 0, max(0, len(known) - 1))
        hit = (known[i] == k) if len(known) else np.zeros(len(k), bool)
        return np.where(hit, st_all[i] if len(known) else np.nan, np.nan), np.where(
            hit, std_all[i] if len(known) else np.nan, np.nan
        )

    def with_intervals(entries: list[dict[str, Any]], truth: np.ndarray) -> dict[str, Any]:
        st, std = model_at(entries)
        t, r, c = (cat([e["check"][k] for e in entries], np.int64) for k in ("t", "r", "c"))
        fits = (
            holdout.calibrates(t, r + origin[0], c + origin[1])
            if fitted
            else np.zeros(len(t), bool)
        )
        other = ~fits & np.isfinite(std)
        if not other.any():
            return summary(st, truth)
        return {
            **summary(st, truth),
            "coverage50": coverage(st, std, truth, other, level=0.5),
            "coverage90": coverage(st, std, truth, other, level=0.9),
            "coverage_values": int(other.sum()),
        }

    rows = []
    chosen = [e for e in tiles if e["tile"] in scored]
    truth = cat([e["check"]["truth"] for e in chosen])
    if len(truth):
        rows.append(
            {
                "method": "st_transformer",
                "points": int(len(truth)),
                "tiles": "scored",
                **with_intervals(chosen, truth),
            }
        )
        for m in baselines:
            pred = cat([e["baselines"][m] for e in chosen if m in e["baselines"]])
            if len(pred) == len(truth):
                rows.append(
                    {
                        "method": m,
                        "points": int(len(truth)),
                        "tiles": "scored",
                        **summary(pred, truth),
                    }
                )
    truth_all = cat([e["check"]["truth"] for e in tiles])
    if len(truth_all) > len(truth):
        rows.append(
            {
                "method": "st_transformer",
                "points": int(len(truth_all)),
                "tiles": "all",
                **with_intervals(tiles, truth_all),
            }
        )
    return rows
