"""An endless seeded soil-moisture twin: any window of a global lattice, generated a day at a time.

The same physics as `stimpute.simulate.twin` (storms, a two-store bucket, an orbit plan,
quality-control losses, retrieval noise and bias, partial covariates), written so that every
value of a pixel depends only on its global (row, col), the day and the seed, never on the
window it was generated in:

- smooth random fields and per-pixel draws are keyed by global coordinates (`stimpute.lattice`:
  `smooth_field`, `uniform`, `normal`);
- the 9-pixel coarse soil moisture is a mean over blocks of the global lattice, so windows
  must start and end on 9-pixel block edges; the rain product's blur is a moving mean of rain
  evaluated a pixel beyond the window, so it has no block edges (real Daymet has none);
- the orbit plan is a set of fixed tracks on the lattice (`stimpute.orbit.Orbit`);
- the soil water on the first morning has a history: it is walked through `SPINUP_DAYS` days of
  weather before the record (whose rain product `rain_before` gives, as a rain archive holds
  the end of the year before).

So a small region cut out of a large one holds exactly the same data, blocks of a large region
meet without edges, and memory follows one day of the window, not the year.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from stimpute.lattice import block_mean, moving_mean, normal, smooth_field, uniform
from stimpute.orbit import Orbit, Pass
from stimpute.simulate import (
    COARSE_CELL,
    LAND_COVER,
    RETRIEVAL_RANGE,
    SPINUP_DAYS,
    days_of_year,
    soil_water_step,
)

RAIN_BLUR = 3  # pixels per side of the rain covariate's moving-mean blur (odd)


@dataclass
class Day:
    """One day of the window; NaN marks missing. Arrays are (H, W) float32 unless said."""

    index: int  # days since the start
    date: np.datetime64
    truth: np.ndarray
    retrieval: np.ndarray  # every retrieval inside an acquired swath, QC failures included
    qc_flag: np.ndarray  # uint8 bits as in simulate: 1 not covered, 2 frozen, 4 forest, 8 QC
    precipitation: np.ndarray  # mm/day, blurred and with a multiplicative error
    tmax: np.ndarray  # degrees C
    sm_9km: np.ndarray  # (H / 9, W / 9) coarse soil moisture, NaN outside its swaths
    passes: list[Pass]

    @property
    def observed(self) -> np.ndarray:
        return np.where(self.qc_flag == 0, self.retrieval, np.nan).astype(np.float32)


@dataclass
class SoilState:
    """The twin's soil-water stores (fast, slow) before day `day`: where a walk over the days
    resumes (the weather and the statics are functions of the seed and the day alone)."""

    day: int
    fast: np.ndarray
    slow: np.ndarray


class FieldTwin:
    """The twin on the window [row0, row0 + height) x [col0, col0 + width) of a global lattice.

    Args:
        row0, col0, height, width: the window, in lattice pixels; all multiples of 9.
        seed: everything is keyed by it (and by the global indices and the day).
        start: first date (ISO); days: how many days `days()` yields.
        The rest as in `stimpute.simulate.twin`.
    """

    def __init__(
        self,
        row0: int,
        col0: int,
        height: int,
        width: int,
        *,
        seed: int,
        start: str = "2022-01-01",
        days: int = 365,
        orbit: Orbit | None = None,
        missed_pass: float = 0.3,
        qc_patch_share: float = 0.08,
        noise_std: float = 0.012,
        pixel_bias_std: float = 0.008,
        coarse_valid: float = 0.45,
        rain_error: float = 0.5,
    ) -> None:
        for name, v in (("row0", row0), ("col0", col0), ("height", height), ("width", width)):
            if v % COARSE_CELL or v < 0 or (name in ("height", "width") and v == 0):
                raise ValueError(
                    f"{name}={v}: the window must start and end on {COARSE_CELL}-pixel block edges "
                    f"(a non-negative multiple of {COARSE_CELL})"
                )
        self.seed, self.n_days = int(seed), int(days)
        self.rows = np.arange(row0, row0 + height)
        self.cols = np.arange(col0, col0 + width)
        self.shape = (height, width)
        self.start = np.datetime64(start, "D")
        self.orbit = orbit or Orbit()
        self.missed_pass, self.qc_patch_share = missed_pass, qc_patch_share
        self.noise_std, self.coarse_valid, self.rain_error = noise_std, coarse_valid, rain_error
        self._statics(pixel_bias_std)
        self._weather()

    def _field(self, stream: int, length: float) -> np.ndarray:
        return smooth_field(self.seed, stream, length, self.rows, self.cols)

    def _statics(self, pixel_bias_std: float, band_rows: int = 144) -> None:
        """The fixed fields (terrain, soil, land cover and what follows from them), computed
        `band_rows` rows at a time so that their temporaries follow the band."""
        f64 = {k: np.empty(self.shape) for k in ("elevation", "sand", "clay", "lc_field", "bias")}
        f64["slope"] = np.empty(self.shape)
        for r0 in range(0, self.shape[0], band_rows):
            b = slice(r0, min(self.shape[0], r0 + band_rows))
            self._static_band(b, f64)
        elevation, sand, clay, slope = f64["elevation"], f64["sand"], f64["clay"], f64["slope"]
        spread = NormalDist(0.0, float(np.sqrt(1 + 0.36 * (120**2 + 60**2) / 134.0**2)))
        cuts = [spread.inv_cdf(q) for q in (0.35, 0.6, 0.85)]  # the old twin's quantiles
        # 0 grass, 1 crop, 2 shrub, 3 forest
        land_cover = np.digitize(f64.pop("lc_field"), cuts).astype(np.int8)
        self.forest = land_cover == 3
        self.porosity = 0.50 - 0.14 * sand + 0.06 * clay
        self.residual = 0.02 + 0.14 * clay
        self.tau0 = 2.0 + 9.0 * clay + np.array([0.0, 1.5, -0.5, 3.0])[land_cover]
        self.runoff = np.clip(0.05 + 0.35 * clay + 0.015 * slope, 0, 0.7)
        self.elevation = elevation
        self.bias = pixel_bias_std * f64["bias"]
        self.coarse_bias = 0.01 * block_mean(self._field(7, 20), COARSE_CELL)
        self.sand, self.clay = sand.astype(np.float32), clay.astype(np.float32)
        self.land_cover = land_cover

    @property
    def static(self) -> dict[str, np.ndarray]:
        """The fixed fields as covariate files carry them (float32; land cover one-hot), made
        when asked, so the twin does not hold a second copy of them all year."""
        return {
            "elevation": self.elevation.astype(np.float32),
            "sand": self.sand,
            "clay": self.clay,
            **{
                f"lc_{c}": (self.land_cover == i).astype(np.float32)
                for i, c in enumerate(LAND_COVER)
            },
        }

    def _static_band(self, b: slice, out: dict[str, np.ndarray]) -> None:
        rows = self.rows[b]
        # elevation grown by a pixel, so the slope is a central difference everywhere
        grown_rows = np.arange(rows[0] - 1, rows[-1] + 2)
        grown_cols = np.arange(self.cols[0] - 1, self.cols[-1] + 2)
        elev = 350 + 120 * smooth_field(self.seed, 1, 10, grown_rows, grown_cols)
        elev += 60 * smooth_field(self.seed, 2, 300, grown_rows, grown_cols)
        gy, gx = np.gradient(elev, 1000.0)
        out["slope"][b] = np.degrees(np.arctan(np.hypot(gx, gy)))[1:-1, 1:-1]
        elevation = elev[1:-1, 1:-1]
        out["elevation"][b] = elevation
        field = lambda stream, length: smooth_field(self.seed, stream, length, rows, self.cols)  # noqa: E731
        sand = 0.15 + 0.7 / (1 + np.exp(-1.2 * field(3, 7)))
        out["sand"][b] = sand
        out["clay"][b] = (1 - sand) * (0.35 + 0.25 / (1 + np.exp(-field(4, 5))))
        out["lc_field"][b] = field(5, 4) + 0.6 * (elevation - 350) / 134.0
        out["bias"][b] = field(6, 1.0)

    def _weather(self) -> None:
        """The region-wide weather of each day, keyed by the seed alone."""
        dates = self.start + np.arange(self.n_days)
        self.dates = dates
        self.doy = days_of_year(dates)
        rng = np.random.default_rng([self.seed, 100])
        anomaly = np.zeros(self.n_days)
        for t in range(1, self.n_days):
            anomaly[t] = 0.7 * anomaly[t - 1] + 2.5 * rng.standard_normal()
        self.anomaly = anomaly
        self.coarse_phase = float(np.random.default_rng([self.seed, 101]).uniform(0, 1))

    def days(self, band_rows: int = 144) -> Iterator[Day]:
        """Yield each day in order; the soil-water state is carried from one day to the next.

        A day is computed `band_rows` rows at a time (a multiple of the coarse cell), so its
        temporaries follow the band, not the window; every value depends on its global row and
        column only, so the bands meet without a seam."""
        self._check_bands(band_rows)
        first = self.first_state(band_rows)
        fast, slow = first.fast, first.slow
        h, w = self.shape
        for t in range(self.n_days):
            doy = int(self.doy[t])
            out: dict[str, np.ndarray] = {
                "truth": np.empty(self.shape, np.float32),
                "retrieval": np.empty(self.shape, np.float32),
                "qc_flag": np.empty(self.shape, np.uint8),
                "precipitation": np.empty(self.shape, np.float32),
                "tmax": np.empty(self.shape, np.float32),
            }
            sm_9km = np.empty((h // COARSE_CELL, w // COARSE_CELL), np.float32)
            tracks = self.orbit.tracks_on(t, self.orbit.across(self.rows, self.cols))
            tracks = [k for k in tracks if uniform(self.seed, 20, t, k)[0] >= self.missed_pass]
            inside = {k: np.zeros(self.shape, bool) for k in tracks}
            for b in self._bands(band_rows):
                self._band(t, doy, b, fast, slow, out, sm_9km, inside)
            passes = [Pass(k, m) for k, m in inside.items() if m.any()]
            yield Day(index=t, date=self.dates[t], sm_9km=sm_9km, passes=passes, **out)
            del out, sm_9km, inside, passes  # the caller holds the day; the next is made fresh

    def truths(self, band_rows: int = 144, state: SoilState | None = None) -> Iterator[np.ndarray]:
        """Only the true soil moisture of each day, in order: the `truth` of `days()`, without
        simulating what the satellites see (a score against the truth needs nothing else, and
        the observations are most of a day's work).

        From `state` when given (a walk resumed where an earlier one stopped; it is advanced in
        place, so after the walk it holds the stores for the next day), else from the first day.
        """
        state = state or self.first_state(band_rows)
        self._check_bands(band_rows)
        for t in range(state.day, self.n_days):
            truth = np.empty(self.shape, np.float32)
            for b in self._bands(band_rows):
                truth[b] = self._advance(t, int(self.doy[t]), b, state.fast, state.slow)[0]
            state.day = t + 1
            yield truth

    def first_state(self, band_rows: int = 144) -> SoilState:
        """The soil-water stores on the morning of the first day: walked from a fixed state
        through the SPINUP_DAYS days of weather before it (the slow store forgets in 45 days), so
        the record does not open with the soil drying or wetting towards its climate, which no
        real soil on 1 January does."""
        fast, slow = np.full(self.shape, 0.05), 0.3 * (self.porosity - self.residual)
        for t in range(-SPINUP_DAYS, 0):
            for b in self._bands(band_rows):
                self._advance(t, self._doy(t), b, fast, slow)
        return SoilState(0, fast, slow)

    def rain_before(self, days: int, band_rows: int = 144) -> Iterator[np.ndarray]:
        """The rain product (as `Day.precipitation`) of each of the `days` days before the
        record, oldest first: the weather the first morning's soil was walked through, which a
        rain archive holds for the end of the year before (at most SPINUP_DAYS days)."""
        if not 0 <= days <= SPINUP_DAYS:
            raise ValueError(f"days={days}: the twin's weather reaches {SPINUP_DAYS} days back")
        self._check_bands(band_rows)
        for t in range(-days, 0):
            rain = np.empty(self.shape, np.float32)
            for b in self._bands(band_rows):
                rain[b] = self._rain_covariate(t, self._wide_rain(t, self._doy(t), b), self.rows[b])
            yield rain

    def _doy(self, t: int) -> int:
        """Day of the year of day `t` (negative: before the record)."""
        if t >= 0:
            return int(self.doy[t])
        return int(days_of_year(np.asarray(self.start + np.timedelta64(t, "D"))))

    @staticmethod
    def _check_bands(band_rows: int) -> None:
        if band_rows % COARSE_CELL or band_rows < COARSE_CELL:
            raise ValueError(f"band_rows={band_rows}: give a positive multiple of {COARSE_CELL}")

    def _bands(self, band_rows: int) -> Iterator[slice]:
        h = self.shape[0]
        return (slice(r0, min(h, r0 + band_rows)) for r0 in range(0, h, band_rows))

    def _advance(
        self, t: int, doy: int, b: slice, fast: np.ndarray, slow: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Day `t` on the rows `b`: the weather, then the soil-water stores advanced in place.
        Returns the band's truth, its rain grown by the rain blur's margin on each side (what
        the rain product blurs) and its maximum temperature."""
        season = np.sin(2 * np.pi * (doy - 110) / 365.25)
        anomaly = self.anomaly[t] if t >= 0 else 0.0  # the days before the record: the season's
        tmax = 24 + 10 * season + anomaly - 0.0065 * (self.elevation[b] - 350)
        m = RAIN_BLUR // 2
        wide = self._wide_rain(t, doy, b)
        rain = wide[m : wide.shape[0] - m, m : wide.shape[1] - m]
        fast[b], slow[b] = soil_water_step(
            fast[b], slow[b], rain, tmax, self.porosity[b], self.residual[b], self.tau0[b],
            self.runoff[b],
        )  # fmt: skip
        return self.residual[b] + fast[b] + slow[b], wide, tmax

    def _band(
        self,
        t: int,
        doy: int,
        b: slice,
        fast: np.ndarray,
        slow: np.ndarray,
        out: dict[str, np.ndarray],
        sm_9km: np.ndarray,
        inside: dict[int, np.ndarray],
    ) -> None:
        """Day `t` on the rows `b` of the window: advances `fast` and `slow` there in place and
        writes the band's share of `out`, `sm_9km` and the passes' `inside` masks."""
        seed, rows = self.seed, self.rows[b]
        r, c = rows[:, None], self.cols[None, :]
        truth, wide_rain, tmax = self._advance(t, doy, b, fast, slow)
        u = self.orbit.across(rows, self.cols)
        coverage = np.zeros(truth.shape, bool)
        for k, mask in inside.items():
            mask[b] = self.orbit.inside(k, u)
            coverage |= mask[b]
        frozen = tmax < 1.0
        qc = np.where(coverage, 0, 1).astype(np.uint8)
        retrieval = np.full(truth.shape, np.nan)
        if coverage.any():
            cut = NormalDist().inv_cdf(1 - self.qc_patch_share)
            patch = smooth_field(self.seed * 1000 + 30, t, 2.5, rows, self.cols) > cut
            dense = self.forest[b] & (uniform(seed, 31, t, r, c) < 0.35)
            noise_sd = self.noise_std * np.where(self.forest[b], 1.5, 1.0)
            noise = normal(seed, 16, t, r, c) * noise_sd
            value = np.clip(truth + noise + self.bias[b], *RETRIEVAL_RANGE)
            retrieval = np.where(coverage, value, np.nan)
            qc |= np.where(coverage & frozen, 2, 0).astype(np.uint8)
            qc |= np.where(coverage & dense, 4, 0).astype(np.uint8)
            qc |= np.where(coverage & patch, 8, 0).astype(np.uint8)
        out["truth"][b], out["retrieval"][b], out["qc_flag"][b] = truth, retrieval, qc
        out["precipitation"][b] = self._rain_covariate(t, wide_rain, rows)
        out["tmax"][b] = tmax
        c9 = slice(b.start // COARSE_CELL, -(-b.stop // COARSE_CELL))
        sm_9km[c9] = self._coarse(t, truth, frozen, rows, self.coarse_bias[b])

    def _wide_rain(self, t: int, doy: int, b: slice) -> np.ndarray:
        """Day `t`'s rain on the rows `b` grown by the rain blur's margin on each side (what the
        rain product blurs)."""
        m = RAIN_BLUR // 2
        rows, cols = self.rows[b], self.cols
        return self._rain(t, doy, np.arange(rows[0] - m, rows[-1] + m + 1),
                          np.arange(cols[0] - m, cols[-1] + m + 1))  # fmt: skip

    def _rain(self, t: int, doy: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Storms on the lattice `rows` x `cols`: on a wet day (odds follow the season) a
        correlated rain cell over a larger weather system, so parts of a large region stay dry
        on a wet day. The day's draws are keyed by the seed and the day alone, so every band
        sees the same storm (a day before the record, t < 0, by keys no record's day reaches)."""
        key = t if t >= 0 else 2**40 + t
        rng = np.random.default_rng([self.seed, 200, key])
        wet_odds = 0.18 + 0.08 * np.sin(2 * np.pi * (doy - 60) / 182.6)
        if rng.random() >= wet_odds:
            return np.zeros((len(rows), len(cols)))
        length, offset, depth = rng.uniform(6, 18), rng.normal(0.3, 0.8), rng.gamma(0.8, 10.8)
        cell = smooth_field(self.seed * 1000 + 10, key, length, rows, cols) + offset
        cell += 0.8 * smooth_field(self.seed * 1000 + 11, key, 150, rows, cols)
        return depth * np.maximum(cell, 0) ** 1.5

    def _rain_covariate(self, t: int, wide_rain: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The rain product on `rows`: the rain blurred by a moving mean (from the rain grown by
        its margin, `wide_rain`) with a multiplicative, mean-one lognormal error per pixel."""
        r, c = rows[:, None], self.cols[None, :]
        err = self.rain_error
        return moving_mean(wide_rain, RAIN_BLUR) * np.exp(
            err * normal(self.seed, 17, t, r, c) - err**2 / 2
        )

    def _coarse(
        self, t: int, truth: np.ndarray, frozen: np.ndarray, rows: np.ndarray, bias: np.ndarray
    ) -> np.ndarray:
        """The 9 km soil moisture of the day on the coarse cells of `rows` (NaN outside the
        day's coarse swaths, where a cell is frozen, and on 5% random dropouts)."""
        h, w = len(rows) // COARSE_CELL, len(self.cols) // COARSE_CELL
        r9 = (rows[::COARSE_CELL] // COARSE_CELL)[:, None]
        c9 = (self.cols[::COARSE_CELL] // COARSE_CELL)[None, :]
        mean = truth.reshape(h, COARSE_CELL, w, COARSE_CELL).mean(axis=(1, 3))
        noise = 0.012 * normal(self.seed, 18, t, r9, c9)
        value = mean + noise + bias[::COARSE_CELL, ::COARSE_CELL]
        band = ((c9 * 0.25 + t * 0.37 + self.coarse_phase) % 1.0) < self.coarse_valid
        valid = band & (uniform(self.seed, 19, t, r9, c9) > 0.05)
        cold = frozen.reshape(h, COARSE_CELL, w, COARSE_CELL).any(axis=(1, 3))
        return np.where(valid & ~cold, value, np.nan)
