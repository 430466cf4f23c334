"""A seeded soil-moisture twin: daily 1 km fields with known truth, gaps and covariates (numpy only).

Physics in brief: storms are spatially correlated rain fields on wet days whose odds follow
the season; surface soil water is a two-store bucket (a fast 5 cm store and a slow one) that
drains toward a texture-dependent residual with a drydown time set by clay, land cover and
temperature, capped at a texture-dependent porosity. Observations exist only on overpass days
of a fixed 12-day orbit pattern (two partial swaths per cycle, some acquisitions missed), fail
quality control in frozen weather, over dense forest and in random patches, and carry
retrieval noise plus a per-pixel bias. Covariates carry real but partial information: rain
with a multiplicative error on a blurred grid, a 9 km soil moisture that averages away the 1 km
detail and has its own swath gaps and bias, and temperature.

The soil is spun up through `spinup_days` of weather before the record (drawn from a stream of
their own, so the record's draws do not depend on how long the spin-up is), so the record does
not begin from a fixed state; the rain covariate of those days is kept (`Twin.rain_before`), as
the pipeline's cube keeps the rain of the days before its year.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COVARIATES = ("precipitation", "sm_9km", "tmax")
LAND_COVER = ("grass", "crop", "shrub", "forest")
STATIC = ("elevation", "sand", "clay", *(f"lc_{c}" for c in LAND_COVER))
QC_NOT_COVERED, QC_FROZEN, QC_DENSE_VEGETATION, QC_RETRIEVAL = 1, 2, 4, 8
RETRIEVAL_RANGE = (0.02, 0.6)  # m3/m3: a retrieval is clipped to this
COARSE_CELL = 9  # 1 km pixels per side of a coarse (9 km) cell: where a seam would show
SPINUP_DAYS = 90  # days of weather the soil is stepped through before a record
SPINUP_STREAM = 90_001  # the spin-up's draws come from Generator((seed, SPINUP_STREAM))


@dataclass
class Twin:
    """Arrays of one simulated region-period; NaN marks missing in `observed` and `covariates`."""

    truth: np.ndarray  # (T, H, W) m3/m3
    observed: np.ndarray  # (T, H, W) retrievals that passed QC, NaN elsewhere
    retrieval: np.ndarray  # (T, H, W) every retrieval inside a swath, QC failures included
    qc_flag: np.ndarray  # (T, H, W) uint8 bit flags: 1 not covered, 2 frozen, 4 forest, 8 QC
    covariates: np.ndarray  # (T, H, W, C)
    static: np.ndarray  # (H, W, S)
    dates: np.ndarray  # (T,) datetime64[D]
    retrieval_bias: np.ndarray  # (H, W) m3/m3, the per-pixel bias in `retrieval`
    retrieval_noise_std: np.ndarray  # (H, W) m3/m3, the sd of each day's noise in `retrieval`
    # (D, H, W) mm/day: the rain covariate of the D days of spin-up before `dates[0]`, as a rain
    # archive holds the days before a record (what `Imputer.fit(rain_before=...)` takes)
    rain_before: np.ndarray | None = None
    covariate_names: tuple[str, ...] = COVARIATES
    static_names: tuple[str, ...] = STATIC
    params: dict = field(default_factory=dict)

    @property
    def day_of_year(self) -> np.ndarray:
        return days_of_year(self.dates).astype(np.float64)

    @property
    def missing_share(self) -> float:
        return float(np.isnan(self.observed).mean())


def gaussian_field(
    shape: tuple[int, int], length_px: float, rng: np.random.Generator
) -> np.ndarray:
    """Unit-variance Gaussian random field with a Gaussian correlation of `length_px` pixels."""
    h, w = shape
    pad_h, pad_w = h + int(3 * length_px), w + int(3 * length_px)
    noise = rng.standard_normal((pad_h, pad_w))
    ky = np.fft.fftfreq(pad_h)[:, None]
    kx = np.fft.rfftfreq(pad_w)[None, :]
    spectrum = np.exp(-2 * (np.pi * length_px) ** 2 * (kx**2 + ky**2))
    out = np.fft.irfft2(np.fft.rfft2(noise) * spectrum, s=(pad_h, pad_w))[:h, :w]
    return (out - out.mean()) / max(out.std(), 1e-12)


def _block_mean(a: np.ndarray, block: int) -> np.ndarray:
    """Mean over block x block cells on the last two axes, broadcast back to full size."""
    *lead, h, w = a.shape
    hb, wb = -(-h // block), -(-w // block)
    pad = np.pad(a, [(0, 0)] * len(lead) + [(0, hb * block - h), (0, wb * block - w)], mode="edge")
    means = pad.reshape(*lead, hb, block, wb, block).mean(axis=(-3, -1))
    return np.repeat(np.repeat(means, block, axis=-2), block, axis=-1)[..., :h, :w]


def soil_water_step(
    fast: np.ndarray,
    slow: np.ndarray,
    rain: np.ndarray,
    tmax: np.ndarray,
    porosity: np.ndarray,
    residual: np.ndarray,
    tau0: np.ndarray,
    runoff: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One day of the two-store bucket: both stores drain (the fast one faster when hot), then
    the day's rain less runoff infiltrates 70/30, capped by the room above the residual.
    Pixel-local, so a field can be stepped over any window. Returns the new (fast, slow)."""
    tau = tau0 * np.exp(-(tmax - 20) / 18)
    fast = fast * np.exp(-1 / np.maximum(tau, 0.7))
    slow = slow * np.exp(-1 / 45.0)
    water = rain * (1 - runoff) / 50.0  # mm over a 50 mm (5 cm) layer -> m3/m3
    fast = fast + 0.7 * water
    slow = slow + 0.3 * water * 0.5
    room = porosity - residual
    slow = np.minimum(slow, 0.6 * room)
    fast = np.minimum(fast, room - slow)
    return fast, slow


def twin(
    *,
    height: int = 36,
    width: int = 36,
    days: int = 365,
    start: str = "2022-01-01",
    seed: int = 0,
    revisit_days: int = 12,
    swath_cover: tuple[float, float] = (0.6, 0.55),
    missed_pass: float = 0.3,
    qc_patch_share: float = 0.08,
    noise_std: float = 0.012,
    pixel_bias_std: float = 0.008,
    coarse_block: int = COARSE_CELL,
    coarse_valid: float = 0.45,
    rain_error: float = 0.5,
    spinup_days: int = SPINUP_DAYS,
) -> Twin:
    """Simulate one region-period.

    Args:
        height, width: grid size in 1 km pixels. days: length; start: first date (ISO).
        seed: everything is drawn from numpy's Generator seeded with it.
        revisit_days: orbit repeat cycle (12 for Sentinel-1A alone, as in 2022).
        swath_cover: share of the region inside each of the two swaths of a cycle; their
            union covers every pixel, their overlap is seen twice.
        missed_pass: probability that an acquisition of the plan did not happen.
        qc_patch_share: share of covered pixels lost to patchy retrieval-quality failures.
        noise_std: retrieval noise (m3/m3), raised by half over forest.
        pixel_bias_std: per-pixel retrieval bias (m3/m3), constant in time.
        coarse_block: pixels per side of the coarse (9 km) soil moisture cell.
        coarse_valid: share of coarse cells with a valid retrieval on a day.
        rain_error: std of the log multiplicative error of the rain covariate.
        spinup_days: days of weather the soil is stepped through before the record; their
            rain covariate is `Twin.rain_before` (0: the record starts from a fixed state).
    """
    rng = np.random.default_rng(seed)
    shape = (height, width)
    dates = np.datetime64(start, "D") + np.arange(days)
    doy = days_of_year(dates)
    season = np.sin(2 * np.pi * (doy - 110) / 365.25)  # +1 in late July, -1 in late January

    # static fields
    elevation = 350 + 120 * gaussian_field(shape, 10, rng) + 60 * np.linspace(-1, 1, width)[None, :]
    gy, gx = np.gradient(elevation, 1000.0)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    sand = 1 / (1 + np.exp(-1.2 * gaussian_field(shape, 7, rng)))
    sand = 0.15 + 0.7 * sand
    clay = (1 - sand) * (0.35 + 0.25 * (1 / (1 + np.exp(-gaussian_field(shape, 5, rng)))))
    lc_field = (
        gaussian_field(shape, 4, rng) + 0.6 * (elevation - elevation.mean()) / elevation.std()
    )
    cuts = np.quantile(lc_field, [0.35, 0.6, 0.85])
    land_cover = np.digitize(lc_field, cuts)  # 0 grass, 1 crop, 2 shrub, 3 forest
    forest = land_cover == 3
    porosity = 0.50 - 0.14 * sand + 0.06 * clay
    residual = 0.02 + 0.14 * clay
    tau0 = 2.0 + 9.0 * clay + np.array([0.0, 1.5, -0.5, 3.0])[land_cover]
    runoff = np.clip(0.05 + 0.35 * clay + 0.015 * slope, 0, 0.7)

    # weather, and the soil spun up through the days before the record
    tmax, rain = _weather(doy, season, elevation, shape, rng)
    spin, doy_before = spinup(seed, dates[0], spinup_days)
    season_before = np.sin(2 * np.pi * (doy_before - 110) / 365.25)
    tmax_before, rain_past = _weather(doy_before, season_before, elevation, shape, spin)
    fast = np.full(shape, 0.05)
    slow = 0.3 * (porosity - residual)
    for t in range(spinup_days):
        fast, slow = soil_water_step(
            fast, slow, rain_past[t], tmax_before[t], porosity, residual, tau0, runoff
        )
    truth = np.zeros((days, *shape))
    for t in range(days):
        fast, slow = soil_water_step(fast, slow, rain[t], tmax[t], porosity, residual, tau0, runoff)
        truth[t] = residual + fast + slow

    # observation plan: two partial swaths in each revisit cycle, fixed geometry
    rows, cols = np.mgrid[0:height, 0:width]
    coverage = np.zeros((days, *shape), bool)
    plan = [(2, np.radians(100), swath_cover[0], False), (8, np.radians(80), swath_cover[1], True)]
    for offset, angle, share, from_east in plan:
        proj = cols * np.cos(angle) + rows * np.sin(angle) * 0.2
        proj = -proj if from_east else proj
        inside = proj <= np.quantile(proj, share)
        for t in range(offset, days, revisit_days):
            if rng.random() >= missed_pass:
                coverage[t] = inside
    frozen = tmax < 1.0
    qc_patches = np.zeros((days, *shape), bool)
    for t in np.flatnonzero(coverage.any(axis=(1, 2))).tolist():
        qc_patches[t] = gaussian_field(shape, 2.5, rng) > np.quantile(
            rng.standard_normal(4000), 1 - qc_patch_share
        )
    dense = forest[None] & (rng.random((days, *shape)) < 0.35)
    noise_sd = noise_std * np.where(forest, 1.5, 1.0)
    noise = rng.standard_normal((days, *shape)) * noise_sd
    bias = pixel_bias_std * gaussian_field(shape, 1.0, rng)
    retrieval = np.clip(truth + noise + bias, *RETRIEVAL_RANGE)
    qc = np.where(coverage, 0, QC_NOT_COVERED).astype(np.uint8)
    qc |= np.where(coverage & frozen, QC_FROZEN, 0).astype(np.uint8)
    qc |= np.where(coverage & dense, QC_DENSE_VEGETATION, 0).astype(np.uint8)
    qc |= np.where(coverage & qc_patches, QC_RETRIEVAL, 0).astype(np.uint8)
    observed = np.where(qc == 0, retrieval, np.nan)
    retrieval = np.where(coverage, retrieval, np.nan)

    # covariates
    rain_cov = _rain_product(rain, rain_error, rng)
    coarse = (
        _block_mean(truth, coarse_block)
        + _block_mean(0.012 * rng.standard_normal((days, *shape)), coarse_block) * coarse_block
        + 0.01 * _block_mean(gaussian_field(shape, 20, rng)[None], coarse_block)[0]
    )
    hb, wb = -(-height // coarse_block), -(-width // coarse_block)
    valid = np.zeros((days, hb, wb), bool)
    phase = rng.uniform(0, 1)
    for t in range(days):
        band = ((np.arange(wb) * 0.25 + t * 0.37 + phase) % 1.0) < coarse_valid
        valid[t] = band[None, :] & (rng.random((hb, wb)) > 0.05)
    valid_full = np.repeat(np.repeat(valid, coarse_block, axis=1), coarse_block, axis=2)[
        :, :height, :width
    ]
    coarse = np.where(valid_full & ~frozen, coarse, np.nan)
    covariates = np.stack([rain_cov, coarse, tmax], axis=-1).astype(np.float32)
    one_hot = np.eye(len(LAND_COVER))[land_cover]
    static = np.concatenate([np.stack([elevation, sand, clay], axis=-1), one_hot], axis=-1).astype(
        np.float32
    )
    params = {
        k: v
        for k, v in locals().items()
        if k in twin.__code__.co_varnames[: twin.__code__.co_kwonlyargcount]
    }
    return Twin(
        truth=truth.astype(np.float32),
        observed=observed.astype(np.float32),
        retrieval=retrieval.astype(np.float32),
        qc_flag=qc,
        covariates=covariates,
        static=static,
        dates=dates,
        retrieval_bias=bias.astype(np.float32),
        retrieval_noise_std=noise_sd.astype(np.float32),
        rain_before=_rain_product(rain_past, rain_error, spin).astype(np.float32),
        params=params,
    )


def days_of_year(dates: np.ndarray) -> np.ndarray:
    """1 for 1 January, of numpy datetime64[D] dates (a leap year's 31 December is 366)."""
    return (dates - dates.astype("datetime64[Y]")).astype(int) + 1


def spinup(seed: int, start: np.datetime64, days: int) -> tuple[np.random.Generator, np.ndarray]:
    """The spin-up's own draws (so the record's do not depend on its length) and the day of year
    of each of the `days` days before `start`, as the record's are computed."""
    dates = start - np.arange(days, 0, -1)
    return np.random.default_rng((seed, SPINUP_STREAM)), days_of_year(dates).astype(np.float64)


def _weather(
    doy: np.ndarray,
    season: np.ndarray,
    elevation: np.ndarray,
    shape: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(tmax (T, H, W) deg C, rain (T, H, W) mm/day) of the days `doy`: a temperature anomaly
    that persists from day to day, and wet days (whose odds follow the season) of correlated
    rain fields."""
    days = len(doy)
    anomaly = np.zeros(days)
    for t in range(1, days):
        anomaly[t] = 0.7 * anomaly[t - 1] + 2.5 * rng.standard_normal()
    lapse = 0.0065 * (elevation - elevation.mean())[None]
    tmax = (24 + 10 * season + anomaly)[:, None, None] - lapse
    wet_odds = 0.18 + 0.08 * np.sin(2 * np.pi * (doy - 60) / 182.6)
    rain = np.zeros((days, *shape))
    for t in np.flatnonzero(rng.random(days) < wet_odds).tolist():
        cell = gaussian_field(shape, rng.uniform(6, 18), rng) + rng.normal(0.3, 0.8)
        depth = rng.gamma(0.8, 14.0)
        rain[t] = depth * np.maximum(cell, 0) ** 1.5
    return tmax, rain


def _rain_product(rain: np.ndarray, error: float, rng: np.random.Generator) -> np.ndarray:
    """The rain covariate: the rain blurred over 3 km blocks with a log-normal error."""
    blur = np.stack([_block_mean(r, 3) for r in rain]) if len(rain) else rain
    return blur * np.exp(error * rng.standard_normal(rain.shape) - error**2 / 2)
