"""Turn raw product numbers into physical values with NaN for every reason a value is unusable,
and count the reasons."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from pipeline.catalog import QC, Variable


@dataclass
class Decoded:
    """Values (float32, NaN where unusable) and how many were dropped for which reason."""

    values: np.ndarray
    dropped: Counter[str] = field(default_factory=Counter)

    @property
    def valid(self) -> int:
        return int(np.isfinite(self.values).sum())


def qc_keeps(flags: np.ndarray, qc: QC) -> np.ndarray:
    """True where the QC rule keeps a value."""
    if qc.rule == "bit0_clear":  # SMAP retrieval_qual_flag: bit 0 set = not recommended quality
        return (flags.astype(np.int64) & 1) == 0
    raise ValueError(f"unknown QC rule {qc.rule!r}")  # the catalog loader rejects these first


def decode(raw: np.ndarray, var: Variable, flags: np.ndarray | None = None) -> Decoded:
    """Apply fill, valid range (in the file's numbers), QC flags and scale to `raw`."""
    raw = np.asarray(raw)
    out = raw.astype(np.float32)
    dropped: Counter[str] = Counter()
    fill = np.isclose(raw, var.fill) | ~np.isfinite(out)
    dropped["fill"] = int(fill.sum())
    lo, hi = var.valid
    bad_range = ~fill & ((out < lo) | (out > hi))
    dropped["out_of_range"] = int(bad_range.sum())
    unusable = fill | bad_range
    if flags is not None and var.qc is not None:
        bad_qc = ~unusable & ~qc_keeps(flags, var.qc)
        dropped["qc"] = int(bad_qc.sum())
        unusable |= bad_qc
    out[unusable] = np.nan
    if var.scale != 1.0:
        out *= np.float32(var.scale)
    return Decoded(out, dropped)
