"""What every source hands the download stage: granule records, and the newest reissue rule."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

_COUNTER = re.compile(r"_(\d{3})\.(h5|nc|tif)$")
_RELEASE = re.compile(r"_(R\d{5})_")


@dataclass(frozen=True)
class Granule:
    """One file of one product, as a catalogue search returns it."""

    product: str  # catalog name, e.g. SPL2SMAP_S
    name: str  # file name
    url: str  # where to fetch it (https://... or file://...)
    day: date  # acquisition date (first day for multi-day files)
    scene: str  # what a reissue replaces: the file name without its counter
    revision: int  # reissue counter (SMAP _001, _002, ...) or CMR revision
    size: int | None = None  # bytes, when the metadata gives it
    checksum: str | None = None  # hex digest, when the metadata gives it
    algorithm: str | None = None  # e.g. SHA-256, MD5
    revised: str | None = None  # when the catalogue last changed it (UTC, ISO 8601)
    native_id: str | None = None  # the catalogue's own id of the granule

    @property
    def release(self) -> str | None:
        """SMAP's composite release id (`R19240` in `..._R19240_001.h5`): a new one marks a
        reprocessing."""
        m = _RELEASE.search(self.name)
        return m.group(1) if m else None

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out["day"] = self.day.isoformat()
        out["release"] = self.release
        return out

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Granule:
        """The granule a manifest record describes (what `record` wrote)."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in record.items() if k in names}
        return cls(**{**kw, "day": date.fromisoformat(record["day"])})


def scene_and_counter(name: str) -> tuple[str, int]:
    """SMAP names end in a 3-digit counter raised on reissue: (name without it, counter)."""
    m = _COUNTER.search(name)
    if m is None:
        return name, 0
    return name[: m.start()] + "." + m.group(2), int(m.group(1))


def newest_reissues(granules: list[Granule]) -> list[Granule]:
    """Keep only the highest revision of each scene; order by day, then name."""
    best: dict[tuple[str, str], Granule] = {}
    for g in granules:
        key = (g.product, g.scene)
        if key not in best or g.revision > best[key].revision:
            best[key] = g
    return sorted(best.values(), key=lambda g: (g.day, g.name))


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
