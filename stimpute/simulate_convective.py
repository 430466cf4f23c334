"""A second, structurally different soil-moisture twin, so that no model leans on one simulator's
habits. Same arrays as `stimpute.simulate.twin` (a `Twin`), other physics throughout:

- rain: convective cells, many small intense storms a day in the warm season (a monsoon-like
  peak in late summer), placed at random, each a few kilometres wide; no frontal bands;
- soil water: one 5 cm layer with infiltration excess (rain beyond an infiltration capacity
  that shrinks as the layer fills runs off), drainage that grows as a power of the wetness,
  and evaporation driven by temperature and damped by vegetation cover;
- vegetation: a green-up and senescence per land cover (crops peak in midsummer, grass in
  spring), which scales evaporation, the retrieval noise and quality losses;
- the 9 km product: the block mean of the truth plus a bias that drifts with the season and
  the block's vegetation (wet over green crops, dry over bare soil), seen in diagonal swaths
  every other day (its cells are in or out by their centres: staircase edges);
- the 1 km retrievals: one descending diagonal swath every 6 days, shifted each cycle, a
  quarter of the passes missed, lost where vegetation is dense, and in row stripes of radio
  interference; noise grows with vegetation, the per-pixel bias follows the sand content.

As in the first family, the soil is spun up through `spinup_days` of weather before the record
(their own draws) and their rain covariate is `Twin.rain_before`.
"""

from __future__ import annotations

import numpy as np

from stimpute.simulate import (
    COARSE_CELL,
    LAND_COVER,
    QC_DENSE_VEGETATION,
    QC_FROZEN,
    QC_NOT_COVERED,
    QC_RETRIEVAL,
    RETRIEVAL_RANGE,
    SPINUP_DAYS,
    Twin,
    _block_mean,
    days_of_year,
    gaussian_field,
    spinup,
)

GREEN_PEAK_DOY = np.array([110.0, 200.0, 150.0, 170.0])  # grass, crop, shrub, forest
GREEN_AMPLITUDE = np.array([0.35, 0.6, 0.2, 0.15])
GREEN_BASE = np.array([0.3, 0.1, 0.25, 0.7])


def vegetation(doy: np.ndarray, land_cover: np.ndarray) -> np.ndarray:
    """(T, H, W) fractional green cover in [0, 1] from each land cover's seasonal cycle."""
    phase = 2 * np.pi * (doy[:, None, None] - GREEN_PEAK_DOY[land_cover][None]) / 365.25
    green = GREEN_BASE[land_cover][None] + GREEN_AMPLITUDE[land_cover][None] * np.cos(phase)
    return np.clip(green, 0.02, 0.98)


def convective_rain(days: int, shape: tuple[int, int], doy: np.ndarray, rng) -> np.ndarray:
    """(T, H, W) mm/day: on each day a Poisson number of round storm cells (radius 1.5-5 px,
    peak 10-80 mm) at random places, most in late summer."""
    h, w = shape
    rows, cols = np.mgrid[0:h, 0:w]
    season = 0.5 + 0.5 * np.cos(2 * np.pi * (doy - 225) / 365.25)
    rain = np.zeros((days, h, w))
    area_cells = h * w / 400.0  # storms per day scale with the area
    for t in range(days):
        n = rng.poisson(area_cells * (0.1 + 1.1 * season[t] ** 2))
        for _ in range(n):
            r0, c0 = rng.uniform(-4, h + 4), rng.uniform(-4, w + 4)
            radius = rng.uniform(1.5, 5.0)
            peak = rng.gamma(1.5, 20.0)
            rain[t] += peak * np.exp(-((rows - r0) ** 2 + (cols - c0) ** 2) / (2 * radius**2))
    return rain


def layer_step(
    theta: np.ndarray,
    rain: np.ndarray,
    tmax: np.ndarray,
    green: np.ndarray,
    porosity: np.ndarray,
    residual: np.ndarray,
    ksat: np.ndarray,
) -> np.ndarray:
    """One day of the single-layer model: infiltration up to a capacity that falls as the layer
    fills (the excess runs off), power-law drainage, temperature-driven evaporation damped by
    green cover. Pixel-local. theta and the result in m3/m3."""
    room = porosity - theta
    wetness = np.clip((theta - residual) / (porosity - residual), 0, 1)
    capacity = ksat * (0.2 + 0.8 * (1 - wetness) ** 2)  # mm/day that can enter
    infiltrated = np.minimum(rain, capacity)
    theta = theta + np.minimum(infiltrated / 50.0, room)
    wetness = np.clip((theta - residual) / (porosity - residual), 0, 1)
    drainage = 0.06 * (porosity - residual) * wetness**4
    pet = np.clip(0.0012 * (tmax + 5), 0, None)  # m3/m3 per day from a 5 cm layer
    evaporation = pet * wetness * (1 - 0.6 * green)
    return np.clip(theta - drainage - evaporation, residual, porosity)


def twin_convective(
    *,
    height: int = 36,
    width: int = 36,
    days: int = 365,
    start: str = "2022-01-01",
    seed: int = 0,
    revisit_days: int = 6,
    swath_share: float = 0.55,
    missed_pass: float = 0.25,
    noise_std: float = 0.010,
    coarse_block: int = COARSE_CELL,
    spinup_days: int = SPINUP_DAYS,
) -> Twin:
    """Simulate one region-period of the convective family (seeded, numpy only)."""
    rng = np.random.default_rng(seed + 7_919)
    shape = (height, width)
    dates = np.datetime64(start, "D") + np.arange(days)
    doy = days_of_year(dates).astype(np.float64)

    elevation = 600 + 200 * gaussian_field(shape, 14, rng)
    sand = 0.2 + 0.6 / (1 + np.exp(-1.5 * gaussian_field(shape, 9, rng)))
    clay = (1 - sand) * (0.25 + 0.35 / (1 + np.exp(-gaussian_field(shape, 6, rng))))
    cover_field = gaussian_field(shape, 6, rng) - 0.5 * (elevation - elevation.mean()) / 200
    land_cover = np.digitize(cover_field, np.quantile(cover_field, [0.3, 0.65, 0.9]))
    porosity = 0.46 - 0.10 * sand + 0.08 * clay
    residual = 0.03 + 0.10 * clay
    ksat = 20 + 180 * sand**2  # mm/day

    tmax, green, rain = _weather(doy, elevation, land_cover, shape, rng)
    spin, doy_before = spinup(seed, dates[0], spinup_days)
    tmax_before, green_before, rain_past = _weather(doy_before, elevation, land_cover, shape, spin)

    theta = residual + 0.3 * (porosity - residual)
    for t in range(spinup_days):
        theta = layer_step(
            theta, rain_past[t], tmax_before[t], green_before[t], porosity, residual, ksat
        )
    truth = np.zeros((days, *shape))
    for t in range(days):
        theta = layer_step(theta, rain[t], tmax[t], green[t], porosity, residual, ksat)
        truth[t] = theta

    # 1 km retrievals: one descending diagonal swath per cycle, shifted every cycle
    rows, cols = np.mgrid[0:height, 0:width]
    diag = (rows + cols) / (height + width)
    coverage = np.zeros((days, *shape), bool)
    for k, t in enumerate(range(1, days, revisit_days)):
        lo = (k * 0.37) % 1.0
        inside = ((diag - lo) % 1.0) < swath_share
        if rng.random() >= missed_pass:
            coverage[t] = inside
    frozen = tmax < 0.0
    dense = coverage & (green > 0.75) & (rng.random((days, *shape)) < 0.6)
    stripes = coverage & (rng.random((days, height, 1)) < 0.04)  # interference on whole rows
    noise_sd = noise_std * (1 + 1.5 * green)
    bias = 0.02 * (sand - sand.mean()) + 0.004 * gaussian_field(shape, 2.0, rng)
    retrieval = np.clip(
        truth + rng.standard_normal(truth.shape) * noise_sd + bias[None], *RETRIEVAL_RANGE
    )
    qc = np.where(coverage, 0, QC_NOT_COVERED).astype(np.uint8)
    qc |= np.where(coverage & frozen, QC_FROZEN, 0).astype(np.uint8)
    qc |= np.where(dense, QC_DENSE_VEGETATION, 0).astype(np.uint8)
    qc |= np.where(stripes, QC_RETRIEVAL, 0).astype(np.uint8)
    observed = np.where(qc == 0, retrieval, np.nan)
    retrieval = np.where(coverage, retrieval, np.nan)

    # covariates: gauge-radar rain (blurred 2 px, 40% log error), the 9 km product, tmax
    rain_cov = _rain_product(rain, rng)
    season = np.sin(2 * np.pi * (doy - 170) / 365.25)[:, None, None]
    drift = 0.03 * (_block_mean(green, coarse_block) - 0.4) + 0.01 * season
    coarse = _block_mean(truth, coarse_block) + drift
    coarse = coarse + _block_mean(0.01 * rng.standard_normal((days, *shape)), coarse_block) * 3
    centre_r = (rows // coarse_block) * coarse_block + coarse_block / 2
    centre_c = (cols // coarse_block) * coarse_block + coarse_block / 2
    across = (centre_r - centre_c) / (height + width)
    seen9 = np.zeros((days, *shape), bool)
    for t in range(0, days, 2):  # every other day, a diagonal band of cells
        lo = (t * 0.29) % 1.0
        seen9[t] = ((across - lo) % 1.0) < 0.6
    coarse = np.where(seen9 & ~frozen, coarse, np.nan)
    covariates = np.stack([rain_cov, coarse, tmax * np.ones(shape)], axis=-1).astype(np.float32)
    one_hot = np.eye(len(LAND_COVER))[land_cover]
    static = np.concatenate([np.stack([elevation, sand, clay], axis=-1), one_hot], axis=-1)
    return Twin(
        truth=truth.astype(np.float32),
        observed=observed.astype(np.float32),
        retrieval=retrieval.astype(np.float32),
        qc_flag=qc,
        covariates=covariates,
        static=static.astype(np.float32),
        dates=dates,
        retrieval_bias=bias.astype(np.float32),
        retrieval_noise_std=noise_sd.mean(axis=0).astype(np.float32),  # its mean over the year
        rain_before=_rain_product(rain_past, spin).astype(np.float32),
        params={"family": "convective", "seed": seed, "revisit_days": revisit_days},
    )


def _weather(
    doy: np.ndarray,
    elevation: np.ndarray,
    land_cover: np.ndarray,
    shape: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tmax deg C, green cover, rain mm/day), each (T, H, W), of the days `doy`: a seasonal
    temperature with 10-day heat anomalies and a lapse rate, each land cover's green cycle, and
    convective storms."""
    days = len(doy)
    heat = np.convolve(rng.standard_normal(days + 20), np.ones(10) / 10, "same")[10 : 10 + days]
    tmax = (22 + 13 * np.sin(2 * np.pi * (doy - 105) / 365.25) + 4 * heat)[:, None, None]
    tmax = tmax - 0.006 * (elevation - elevation.mean())[None]
    return tmax, vegetation(doy, land_cover), convective_rain(days, shape, doy, rng)


def _rain_product(rain: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The rain covariate: gauge-radar rain blurred over 2 km blocks with a 40% log error."""
    rain_cov = np.stack([_block_mean(r, 2) for r in rain]) if len(rain) else rain
    return rain_cov * np.exp(0.4 * rng.standard_normal(rain_cov.shape) - 0.08)
