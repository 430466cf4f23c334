"""The run report: what a person looks at after a run (Markdown with PNG figures).

- a map of one day before (observations) and after filling;
- time series at a few pixels: observations, filled values and a 90% band from the uncertainty;
- the held-out check values: MAE/RMSE/ubRMSE/R of the model and the baselines;
- time per stage.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pipeline.fill_scores import MIN_UNITS
from pipeline.qml import RAMP

STAGES = ("download", "cube", "tile", "fill", "export")


def _cmap():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("sm", [(v / 0.5, c) for v, c in RAMP])


def _holdout_sentence(hold: dict) -> str:
    """What the check hid: whole blocks on a day (like a missed overpass) or single values."""
    if hold.get("by", "point") == "block":
        return (
            f"{hold['points']:,} observed values in {hold['share']:.0%} of the 36 x 36 km blocks on "
            f"each day (seed {hold['seed']}): whole pieces of an overpass, so the figure predicts "
            "the error in real gaps."
        )
    return (
        f"{hold['points']:,} single observed values, {hold['share']:.0%} of them (seed {hold['seed']}), "
        "each among observed neighbours: an easier check than the real gaps."
    )


def observed_counts(cube: xr.Dataset, rows: int = 144) -> tuple[np.ndarray, np.ndarray]:
    """(observed pixels per day (T,), observed days per pixel (H, W)) in one pass over the
    cube's `observed`, `rows` rows at a time: memory holds a band of the year, not the year."""
    obs = cube["observed"]
    per_day = np.zeros(obs.sizes["time"], np.int64)
    per_pixel = np.zeros((obs.sizes["y"], obs.sizes["x"]), np.int64)
    for r0 in range(0, obs.sizes["y"], rows):
        band = np.asarray(obs.isel(y=slice(r0, r0 + rows)).values)
        per_day += band.sum(axis=(1, 2), dtype=np.int64)
        per_pixel[r0 : r0 + rows] = band.sum(axis=0, dtype=np.int64)
    return per_day, per_pixel


def _busiest_gappy_day(per_day: np.ndarray, pixels: int) -> int:
    """A day with many observations but gaps left (the most telling before/after pair)."""
    share = per_day / pixels
    candidates = np.where((share > 0) & (share < 0.95))[0]
    return (
        int(candidates[np.argmax(share[candidates])]) if len(candidates) else int(np.argmax(share))
    )


def map_figure(cube: xr.Dataset, filled: xr.Dataset, t: int, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = cube["soil_moisture"].isel(time=t).values
    after = filled["soil_moisture"].isel(time=t).values
    day = str(cube["time"].values[t])[:10]
    key = _inputs_key(before, after, day, _drawing(map_figure))
    if _drawn_from(path) == key:  # the same day and values as the map there: a night's usual case
        return path
    x, y = cube["x"].values / 1000, cube["y"].values / 1000
    extent = (x[0], x[-1], y[-1], y[0])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), constrained_layout=True)
    for ax, data, title in (
        (axes[0], before, "observed (SPL2SMAP_S, QC passed)"),
        (axes[1], after, "filled"),
    ):
        im = ax.imshow(data, cmap=_cmap(), vmin=0, vmax=0.5, extent=extent, interpolation="nearest")
        ax.set_title(title)
        ax.set_xlabel("x (km, EASE-Grid 2.0)")
    axes[0].set_ylabel("y (km)")
    fig.colorbar(im, ax=axes, label="soil moisture (m³/m³)", shrink=0.9)
    fig.suptitle(day)
    fig.savefig(path, dpi=110, metadata={INPUTS_KEY: key})
    plt.close(fig)
    return path


INPUTS_KEY = "stimpute-inputs"  # a PNG text chunk: the digest of what the figure shows


def _inputs_key(*parts: np.ndarray | str) -> str:
    """A digest of a figure's inputs and of what draws them (the colour ramp, matplotlib)."""
    import matplotlib

    h = hashlib.sha256(f"{RAMP}|{matplotlib.__version__}".encode())
    for part in parts:
        h.update(part.tobytes() if isinstance(part, np.ndarray) else part.encode())
    return h.hexdigest()


def _drawing(fn: Any) -> str:
    """What a figure function draws with: its bytecode and its words and numbers (a changed
    title or layout is drawn again); nothing that differs between processes."""
    code = fn.__code__
    plain = [c for c in code.co_consts if isinstance(c, str | int | float | bool | type(None))]
    return code.co_code.hex() + repr(plain)


def _drawn_from(path: Path) -> str | None:
    """The inputs digest a figure at `path` was drawn from (None when there is none)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return getattr(im, "text", {}).get(INPUTS_KEY)
    except (OSError, UnidentifiedImageError):
        return None


def series_figure(
    cube: xr.Dataset, filled: xr.Dataset, counts: np.ndarray, path: Path, n: int = 3
) -> tuple[Path, list[tuple[int, int]]]:
    """Observed, filled and the 90% interval at `n` pixels picked along the ranking of
    `counts` (observed days per pixel), from the most observed down."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flat = np.argsort(counts.ravel())[::-1]
    picks = [np.unravel_index(i, counts.shape) for i in flat[:: max(1, len(flat) // (4 * n))][:n]]
    days = cube["time"].values
    fig, axes = plt.subplots(len(picks), 1, figsize=(10, 2.6 * len(picks)), sharex=True)
    # fixed margins: the figure's size is fixed, and a layout engine doubles its drawing time
    fig.subplots_adjust(left=0.07, right=0.985, top=0.96, bottom=0.05, hspace=0.22)
    for ax, (r, c) in zip(np.atleast_1d(axes), picks, strict=True):
        obs = cube["soil_moisture"].isel(y=r, x=c).values
        sm = filled["soil_moisture"].isel(y=r, x=c).values
        unc = filled["soil_moisture_uncertainty"].isel(y=r, x=c).values
        ax.fill_between(
            days,
            sm - 1.645 * unc,
            sm + 1.645 * unc,
            color="#5ab4ac",
            alpha=0.3,
            label="90% interval",
        )
        ax.plot(days, sm, color="#01665e", lw=1, label="filled")
        ax.plot(days, obs, "o", ms=3, color="#8c510a", label="observed")
        ax.set_ylabel("m³/m³")
        ax.set_title(f"pixel row {r}, col {c}", fontsize=9)
    np.atleast_1d(axes)[0].legend(loc="upper right", fontsize=8, ncol=3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path, [(int(r), int(c)) for r, c in picks]


def _intervals_sentence(uncertainty: dict[str, Any] | None) -> str:
    """How the std was scaled: on half of the check, the coverage read on the other half."""
    if not uncertainty:
        return "the model's own."
    if not uncertainty["fitted"]:
        return (
            f"the model's own: half of this check holds {uncertainty['block_days']} block-day(s), "
            f"too few (at least {MIN_UNITS}) to scale them on."
        )
    return (
        f"on the half of the check values that did not scale them: the model's standard error "
        f"is multiplied by {uncertainty['std_factor']:.2f}, the factor that puts 90% of the other "
        f"half ({uncertainty['values']:,} values, {uncertainty['block_days']:,} block-days) inside "
        "that interval."
    )


def _truth_line(score: dict[str, Any] | None) -> str:
    """The sample's extra check: every filled value against the twin's truth."""
    if not score:
        return ""
    return (
        f"\nAgainst the truth (the sample knows it): every one of the {score['values']:,} filled "
        f"values, MAE {score['mae']:.4f}, RMSE {score['rmse']:.4f}, bias {score['bias']:+.4f} m³/m³. "
        "The held-out values sit among observations on overpass days; most gaps are whole days "
        "away from any, so this figure is the one to expect on the map.\n"
    )


def metrics_table(rows: list[dict[str, Any]]) -> str:
    head = "| method | tiles | check values | MAE | RMSE | ubRMSE | R | in 90% interval |\n|---|---|---|---|---|---|---|---|"
    lines = [
        f"| {r['method']} | {r['tiles']} | {r['points']} | {r['mae']:.4f} | {r['rmse']:.4f} | {r['ubrmse']:.4f} | {r['r']:.3f} | "
        + (f"{r['coverage90']:.2f}" if "coverage90" in r else "-")
        + " |"
        for r in rows
    ]
    return "\n".join([head, *lines])


def write(folder: Path, region: str, year: int, seconds: dict[str, float]) -> Path:
    """folder/export/report/report.md and its figures."""
    from pipeline.cube import open_cube

    out = folder / "export" / "report"
    out.mkdir(parents=True, exist_ok=True)
    # xarray's own lazy indexing: the few reads here need no dask graph
    cube = open_cube(folder / "cube.zarr", dask=False)
    filled = xr.open_zarr(folder / "filled.zarr", consolidated=True, chunks=None)
    fill = json.loads((folder / "fill.json").read_text())
    per_day, per_pixel = observed_counts(cube)
    t = _busiest_gappy_day(per_day, per_pixel.size)
    map_figure(cube, filled, t, out / "map.png")
    _, pixels = series_figure(cube, filled, per_pixel, out / "series.png")
    counts = fill["values"]
    total = sum(counts.values()) or 1
    hold = fill["holdout"]
    stage_rows = "\n".join(f"| {s} | {seconds[s]:.1f} |" for s in STAGES if s in seconds)
    text = f"""# Soil moisture gap fill: {region} {year}

Model: {fill["model"]["source"]} (checkpoint sha256 `{fill["model"]["sha256"][:12]}`), on {fill["device"]}, code {fill["code_version"]}.

Values: {counts["observed"]:,} observed ({100 * counts["observed"] / total:.1f}%), {counts["filled"]:,} filled ({100 * counts["filled"] / total:.1f}%), {counts["no_data"]:,} no data. Tiles: {fill["tiles"]} ({fill["tiles_without_observations"]} without any observation).

## How good is it: held-out check values

{_holdout_sentence(hold)} They were hidden from the model and the baselines and compared with what each put there. The baselines ran on the "scored" tiles; the model's row "all" covers every tile.

{metrics_table(fill["metrics"])}

MAE, RMSE and ubRMSE in m³/m³. "in 90% interval": share of check values inside the model's 90% interval (nominal 0.90), {_intervals_sentence(fill.get("uncertainty"))}
{_truth_line(fill.get("truth"))}
## Before and after

![one day before and after filling](map.png)

## Time series at {len(pixels)} pixels

![observations, filled values and the 90% interval](series.png)

## Time per stage (seconds, this run)

| stage | seconds |
|---|---|
{stage_rows}

Fill stage inference: {fill["pixel_days_per_s"] or 0:,} pixel-days per second on {fill["device"]}.
"""
    path = out / "report.md"
    path.write_text(text)
    return path
