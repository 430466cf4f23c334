"""The satellite's orbit plan on the lattice: fixed descending tracks, each passing every
`revisit` days, and the pixels a day's acquisition covers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Orbit:
    """Fixed descending tracks on the lattice: track k covers the pixels whose across-track
    coordinate u = col - tilt * row lies in [k * spacing, k * spacing + swath), and passes on
    the days d with d % revisit == (phase + k * step) % revisit. Swaths wider than the spacing
    overlap, so some pixels are seen twice a cycle, as with Sentinel-1."""

    revisit: int = 12
    spacing: int = 220  # px between neighbouring tracks
    swath: int = 250  # px across a track (Sentinel-1 IW: 250 km)
    tilt: float = -0.2  # columns per row: descending tracks run south-southwest
    step: int = 5  # days between neighbouring tracks' passes (coprime with the revisit)
    phase: int = 2

    def across(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return cols[None, :] - self.tilt * rows[:, None]

    def tracks_on(self, day: int, u: np.ndarray) -> list[int]:
        """Tracks passing on `day` whose swath meets the across-track values `u`."""
        lo = int(np.floor((u.min() - self.swath) / self.spacing))
        hi = int(np.floor(u.max() / self.spacing))
        return [
            k
            for k in range(lo, hi + 1)
            if day % self.revisit == (self.phase + k * self.step) % self.revisit
        ]

    def track_west(self, track: int, row: int) -> float:
        """The westmost column of `track`'s swath on global `row`."""
        return track * self.spacing + self.tilt * row

    def inside(self, track: int, u: np.ndarray) -> np.ndarray:
        lo = track * self.spacing
        return (u >= lo) & (u < lo + self.swath)


@dataclass
class Pass:
    """One acquisition of the day: its track and the window's pixels inside its swath."""

    track: int
    inside: np.ndarray  # (H, W) bool
