"""The fill stage: the ST-Transformer fills every tile, tiles are blended, and a run checks itself.

Before filling, a deterministic share of observed values is held out (hidden from the model and
from the baselines); after filling, the held-out values are compared with what each method put
there, so every run states how good its output is. The delivered product still carries the
held-out observations themselves (they are observations): only the model never saw them.

Output `filled.zarr` (built in `.part`, swapped in when complete): `soil_moisture` gap-free on
land, `soil_moisture_uncertainty` (the model's standard error; 0 where observed), `flag`
(0 no data, 1 observed, 2 filled). Observed values are copied bit for bit from the cube; pixels
outside the boundary or on permanent water stay no-data.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pipeline.catalog import product
from pipeline.cube import open_cube
from pipeline.errors import FillError
from pipeline.files import part_of, replacing, swap_dir
from pipeline.fill_inputs import TARGET, BandReader, window_holdout
from pipeline.progress import Ticker
from pipeline.provenance import code_version
from pipeline.stitch import Stitcher
from pipeline.tile import Window, cube_fingerprint, fingerprint, land_mask
from pipeline.tile import read as read_tiles
from pipeline.train import Checkpoint, find, load, region_models, train_region

log = logging.getLogger("pipeline")

FILL_FORMAT = 1
NO_DATA, OBSERVED, FILLED = 0, 1, 2
CHUNKS = (32, 36, 36)


@dataclass
class Settings:
    holdout: float = 0.05  # share of observed values held out to check the run
    seed: int = 0
    device: str = "auto"
    train_budget_s: float = 300.0  # training on the target year when no region checkpoint exists
    train_area: int = 144  # pixels per side of the block trained on
    baselines: tuple[str, ...] = ("mean", "linear", "dctpls")
    score_tiles: int = 8  # tiles on which the baselines are run for the comparison


@dataclass
class Scores:
    """Held-out points of each tile and what every method put there."""

    scored: set[int]
    entries: list[dict[str, Any]] = field(default_factory=list)

    def register(
        self,
        k: int,
        w: Window,
        hide: np.ndarray,
        truth: np.ndarray,
        baselines: dict[str, np.ndarray],
    ) -> None:
        t, r, c = np.nonzero(hide)
        self.entries.append(
            {
                "tile": k,
                "t": t,
                "r": r + w.row,
                "c": c + w.col,
                "truth": truth[hide],
                "baselines": {m: p[hide] for m, p in baselines.items()},
                "st": np.full(len(t), np.nan, np.float32),
                "st_std": np.full(len(t), np.nan, np.float32),
            }
        )

    def take(self, r0: int, r1: int, mean: np.ndarray, std: np.ndarray) -> None:
        """The stitched model output for the rows [r0, r1) just finished."""
        for e in self.entries:
            sel = (e["r"] >= r0) & (e["r"] < r1)
            if sel.any():
                e["st"][sel] = mean[e["t"][sel], e["r"][sel] - r0, e["c"][sel]]
                e["st_std"][sel] = std[e["t"][sel], e["r"][sel] - r0, e["c"][sel]]

    def table(self, baselines: tuple[str, ...]) -> list[dict[str, Any]]:
        from stimpute.metrics import summary

        def cat(key: str, entries: list[dict[str, Any]], sub: str | None = None) -> np.ndarray:
            parts = [(e[key] if sub is None else e[key][sub]) for e in entries]
            return np.concatenate(parts) if parts else np.zeros(0, np.float32)

        rows = []
        scored = [e for e in self.entries if e["tile"] in self.scored]
        truth = cat("truth", scored)
        if len(truth):
            st = summary(cat("st", scored), truth, std=cat("st_std", scored))
            rows.append(
                {"method": "st_transformer", "points": int(len(truth)), "tiles": "scored", **st}
            )
            for m in baselines:
                rows.append(
                    {
                        "method": m,
                        "points": int(len(truth)),
                        "tiles": "scored",
                        **summary(cat("baselines", scored, m), truth),
                    }
                )
        truth_all = cat("truth", self.entries)
        if len(truth_all) > len(truth):
            st = summary(cat("st", self.entries), truth_all, std=cat("st_std", self.entries))
            rows.append(
                {"method": "st_transformer", "points": int(len(truth_all)), "tiles": "all", **st}
            )
        return rows


def _template(cube: xr.Dataset, land: np.ndarray) -> xr.Dataset:
    import dask.array as da

    shape = (cube.sizes["time"], cube.sizes["y"], cube.sizes["x"])
    dims = ("time", "y", "x")
    cf = {"grid_mapping": "spatial_ref"}
    nan = da.full(shape, np.nan, dtype=np.float32, chunks=CHUNKS)
    return xr.Dataset(
        {
            "soil_moisture": (dims, nan, {**cf, "units": "m3 m-3", "standard_name": "volume_fraction_of_condensed_water_in_soil", "long_name": "surface soil moisture, gap-filled (observed where flag = 1)", "valid_min": 0.0, "valid_max": 1.0}),
            "soil_moisture_uncertainty": (dims, nan, {**cf, "units": "m3 m-3", "long_name": "standard error of the filled value (0 where observed)"}),
            "flag": (dims, da.zeros(shape, dtype=np.uint8, chunks=CHUNKS), {**cf, "long_name": "how each value was obtained", "flag_values": np.array([NO_DATA, OBSERVED, FILLED], np.uint8), "flag_meanings": "no_data observed filled"}),
            "land": (("y", "x"), land.astype(np.uint8), {**cf, "long_name": "1 on land inside the region (filled), 0 no-data", "flag_values": np.array([0, 1], np.uint8), "flag_meanings": "no_data land"}),
        },
        coords={"spatial_ref": cube["spatial_ref"], "time": cube["time"], "y": cube["y"], "x": cube["x"]},
        attrs={"Conventions": "CF-1.8", **{k: v for k, v in cube.attrs.items() if k in ("ease_row0", "ease_col0")}},
    )  # fmt: skip


class Writer:
    """The stitcher's sink: turns finished row bands into the product and scores them."""

    def __init__(self, store: Path, cube: xr.Dataset, land: np.ndarray, scores: Scores) -> None:
        import zarr

        group = zarr.open_group(store, mode="r+")
        self.arrays: dict[str, Any] = {
            n: group[n] for n in ("soil_moisture", "soil_moisture_uncertainty", "flag")
        }
        self.cube, self.land, self.scores = cube, land, scores
        valid = product("SPL2SMAP_S").variables["soil_moisture"].valid
        self.lo, self.hi = float(valid[0]), float(valid[1])
        self.counts = {"observed": 0, "filled": 0, "no_data": 0}

    def __call__(self, r0: int, r1: int, band: dict[str, np.ndarray]) -> None:
        observed = self.cube[TARGET].isel(y=slice(r0, r1)).values  # float32, NaN where missing
        land = self.land[r0:r1][None]
        filled = np.clip(band["st"], self.lo, self.hi)  # NaN (no tile reached it) stays NaN
        self.scores.take(r0, r1, filled, band["st_std"])
        seen = np.isfinite(observed) & land
        fill = ~seen & land & np.isfinite(filled)
        sm = np.where(seen, observed, np.where(fill, filled, np.nan)).astype(np.float32)
        unc = np.where(seen, 0.0, np.where(fill, band["st_std"], np.nan)).astype(np.float32)
        flag = np.where(seen, OBSERVED, np.where(fill, FILLED, NO_DATA)).astype(np.uint8)
        self.arrays["soil_moisture"][:, r0:r1, :] = sm
        self.arrays["soil_moisture_uncertainty"][:, r0:r1, :] = unc
        self.arrays["flag"][:, r0:r1, :] = flag
        self.counts["observed"] += int(seen.sum())
        self.counts["filled"] += int(fill.sum())
        self.counts["no_data"] += int(flag.size - seen.sum() - fill.sum())


def model_for(
    cube: xr.Dataset, folder: Path, root: Path, region: str, year: int, s: Settings
) -> tuple[Checkpoint, str]:
    """The region's checkpoint when there is one, else one trained on this year (kept and reused
    while the cube and the settings are unchanged)."""
    ckpt = find(region_models(root, region))
    if ckpt is not None:
        ckpt.features.check(cube)
        return ckpt, f"region checkpoint trained on {', '.join(map(str, ckpt.meta['years']))}"
    own = folder / "model"
    ckpt = find(own)
    fp = cube_fingerprint(cube)
    if (
        ckpt is not None
        and ckpt.meta.get("cube_fingerprints", {}).get(str(year)) == fp
        and ckpt.meta.get("holdout") == s.holdout
        and ckpt.meta.get("seed") == s.seed
    ):
        return ckpt, f"trained on {year} itself (reused)"
    log.info(
        "fill: no checkpoint for %s in %s: training on %d itself (self-supervised, no labels needed) for up to %.0f s",
        region, region_models(root, region), year, s.train_budget_s,
    )  # fmt: skip
    ckpt = train_region(
        {year: cube},
        own,
        area=s.train_area,
        budget_s=s.train_budget_s,
        device=s.device,
        seed=s.seed,
        holdout=s.holdout,
    )
    return ckpt, f"trained on {year} itself"


def run(
    folder: Path, region: str, year: int, root: Path, s: Settings, progress: Any = None
) -> dict[str, Any]:
    """Write folder/filled.zarr and folder/fill.json unless they are current; return the record."""
    import stimpute

    start = time.perf_counter()
    cube = open_cube(folder / "cube.zarr")
    tiles_path, record_path, out = (
        folder / "tiles.parquet",
        folder / "fill.json",
        folder / "filled.zarr",
    )
    if not tiles_path.exists():
        raise FillError(f"no tile index at {tiles_path}: run the tile stage first")
    windows = read_tiles(tiles_path)
    overlap = json.loads((folder / "tiles.json").read_text())["overlap"]
    ckpt, model_source = model_for(cube, folder, root, region, year, s)
    train_s = time.perf_counter() - start
    key = fingerprint(
        FILL_FORMAT,
        cube_fingerprint(cube),
        [w.__dict__ for w in windows],
        overlap,
        ckpt.digest,
        s.holdout,
        s.seed,
        s.baselines,
        s.score_tiles,
    )
    if out.exists() and record_path.exists():
        previous = json.loads(record_path.read_text())
        if previous.get("fingerprint") == key:
            return previous | {"up_to_date": True}

    imp = load(ckpt, s.device)
    features = ckpt.features
    land = land_mask(cube)
    row0, col0 = int(cube.attrs["ease_row0"]), int(cube.attrs["ease_col0"])
    n_time = cube.sizes["time"]
    part = part_of(out)
    shutil.rmtree(part, ignore_errors=True)
    _template(cube, land).to_zarr(
        part,
        compute=False,
        zarr_format=2,
        consolidated=True,
        encoding={"time": {"units": "days since 1970-01-01", "dtype": "int32"}},
    )
    step = max(1, len(windows) // max(1, s.score_tiles))
    scores = Scores(scored=set(range(0, len(windows), step)[: s.score_tiles]))
    writer = Writer(part, cube, land, scores)
    stitcher = Stitcher(n_time, land.shape, ["st", "st_std"], overlap, writer)
    reader = BandReader(cube, features)
    ticker = Ticker(progress, "fill", len(windows), "tiles")
    infer_s, baseline_s, empty, pixel_days = 0.0, 0.0, 0, 0
    for k, w in enumerate(windows):
        arr = reader.window(w)
        on_land = land[w.rows, w.cols][None]
        hide = window_holdout(arr, w, row0, col0, s.holdout, s.seed) & on_land
        visible = np.where(hide | ~on_land, np.nan, arr.values).astype(np.float32)
        if not np.isfinite(visible).any():
            empty += 1  # no observation anchors this tile: the model fills it from the covariates
        t0 = time.perf_counter()
        res = imp.impute(visible, arr.covariates, arr.static, times=arr.times)
        infer_s += time.perf_counter() - t0
        pixel_days += visible.size
        if hide.any():
            preds = {}
            if k in scores.scored:
                t0 = time.perf_counter()
                for m in s.baselines:
                    preds[m] = (
                        stimpute.Imputer(m, seed=s.seed)
                        .fit(visible, times=arr.times)
                        .impute(visible, times=arr.times)
                        .values
                    )
                baseline_s += time.perf_counter() - t0
            scores.register(k, w, hide, arr.values, preds)
        stitcher.add(w, {"st": res.values, "st_std": res.std})
        ticker.advance()
    stitcher.close()
    if empty == len(windows):
        shutil.rmtree(part, ignore_errors=True)
        raise FillError(
            "every tile is all-missing: the cube holds no retrieval for this region and year"
        )
    import zarr

    zarr.consolidate_metadata(str(part))
    if empty:
        log.warning(
            "fill: %d of %d tiles had no observation all year: they are filled from the covariates "
            "alone (flag 2), which the held-out check cannot score", empty, len(windows),
        )  # fmt: skip
    swap_dir(part, out)
    record = {
        "fingerprint": key,
        "region": region,
        "year": year,
        "model": {
            "source": model_source,
            "checkpoint": str(ckpt.path),
            "sha256": ckpt.digest,
            "training": ckpt.meta.get("training", {}),
        },
        "tiles": len(windows),
        "tiles_without_observations": empty,
        "values": writer.counts,
        "holdout": {
            "share": s.holdout,
            "seed": s.seed,
            "points": int(sum(len(e["t"]) for e in scores.entries)),
        },
        "metrics": scores.table(s.baselines),
        "seconds": {
            "train": round(train_s, 1),
            "infer": round(infer_s, 1),
            "baselines": round(baseline_s, 1),
            "total": round(time.perf_counter() - start, 1),
        },
        "pixel_days_per_s": round(pixel_days / infer_s) if infer_s else None,
        "device": str(imp.method.device),
        "code_version": code_version(),
    }
    with replacing(record_path) as tmp:
        tmp.write_text(json.dumps(record, indent=1, default=float))
    return record
