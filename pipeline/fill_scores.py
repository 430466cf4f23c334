"""The fill's held-out table: what the blended product and each baseline put at the check values."""

from __future__ import annotations

from typing import Any

import numpy as np


def score_table(
    tiles: list[dict[str, Any]],
    blended: list[dict[str, Any]],
    scored: frozenset[int],
    baselines: tuple[str, ...],
) -> list[dict[str, Any]]:
    """Held-out metrics: the blended product and each baseline at the check values of the scored
    tiles, and the product at every tile's check values."""
    from stimpute.metrics import summary

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

    rows = []
    chosen = [e for e in tiles if e["tile"] in scored]
    truth = cat([e["check"]["truth"] for e in chosen])
    if len(truth):
        st, std = model_at(chosen)
        rows.append(
            {
                "method": "st_transformer",
                "points": int(len(truth)),
                "tiles": "scored",
                **summary(st, truth, std=std),
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
        st, std = model_at(tiles)
        rows.append(
            {
                "method": "st_transformer",
                "points": int(len(truth_all)),
                "tiles": "all",
                **summary(st, truth_all, std=std),
            }
        )
    return rows
