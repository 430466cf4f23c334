"""The train stage: fit the ST-Transformer self-supervised on a region's cube(s), save a checkpoint.

A region checkpoint (`DATA/models/<region>/`) is trained on past years (`make train`); the fill
stage uses it when present. Otherwise the fill stage trains on the target year itself (no labels
are needed: the model learns by hiding observed values) and keeps that model beside the year's
outputs, so a re-run reuses it. Either way the checkpoint carries its settings, the covariates it
expects, the fingerprints of the cubes it learnt from and the code version.

Training reads `area` x `area` pixels' worth of the cube: the best block where the region fits in
one, else crops of 36 x 36 spread over the whole region (`training_blocks`), stacked in time like
years, so a state's model learns from all of it in memory bounded by `area`, not by the region.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pipeline.errors import FillError
from pipeline.files import replacing
from pipeline.fill_inputs import (
    PRIOR,
    RAIN,
    Features,
    Holdout,
    window_arrays,
    window_holdout,
    window_prior,
)
from pipeline.provenance import code_version
from pipeline.tile import Window, cube_fingerprint, land_mask
from stimpute.config import CPU_SMALL, product_addons

log = logging.getLogger("pipeline")

CHECKPOINT = "st_transformer.pt"
# how a region's model is built (its network, the prior): bumped when that changes, so a kept
# checkpoint made by an earlier version is retrained rather than used for ever
TRAIN_FORMAT = 4
# model size per device: the paper's defaults where a GPU trains them, a smaller model that
# trains within minutes on a few CPU cores (the one `make bench`'s small budget trains)
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": CPU_SMALL,
    "cuda": {"tile": 18, "batch_size": 16},
}


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    meta: dict[str, Any]

    @property
    def features(self) -> Features:
        f = self.meta["features"]
        return Features(tuple(f["dynamic"]), tuple(f["static"]))

    @property
    def digest(self) -> str:
        return self.meta["sha256"]


def region_models(root: Path, region: str) -> Path:
    return root / "models" / region


def find(folder: Path) -> Checkpoint | None:
    """The checkpoint in `folder`, if a complete one is there."""
    meta_path, path = folder / "model.json", folder / CHECKPOINT
    if not (meta_path.exists() and path.exists()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError as exc:
        raise FillError(f"{meta_path} is damaged ({exc}); delete {folder} and train again") from exc
    return Checkpoint(path, meta)


def load(ckpt: Checkpoint, device: str) -> Any:
    import stimpute

    try:
        return stimpute.Imputer.load(ckpt.path, device=device)
    except stimpute.StimputeError as exc:
        raise FillError(f"{exc}; delete {ckpt.path.parent} and train again") from exc


def training_area(land: np.ndarray, observed_days: np.ndarray, area: int) -> Window:
    """The block of up to area x area pixels, on a 36-pixel lattice, with the most observations."""
    height, width = land.shape
    h, w = min(area, height), min(area, width)
    seen = np.where(land, observed_days, 0)
    best, where = -1.0, (0, 0)
    for r in sorted({*range(0, height - h + 1, 36), height - h}):
        for c in sorted({*range(0, width - w + 1, 36), width - w}):
            total = float(seen[r : r + h, c : c + w].sum())
            if total > best:
                best, where = total, (r, c)
    return Window(where[0], where[1], h, w)


def training_blocks(
    land: np.ndarray, observed_days: np.ndarray, area: int, crop: int = 36
) -> list[Window]:
    """Where to learn: the best area x area block when the region fits in one; for a larger
    region, (area / crop)^2 crops of crop x crop pixels spread over it (one per stratum of a
    coarse grid, the crop with the most observations), so a state's model sees all of it."""
    height, width = land.shape
    if height <= area and width <= area or area < 2 * crop:
        return [training_area(land, observed_days, area)]
    per_side = area // crop
    seen = np.where(land, observed_days, 0)
    out = []
    row_edges = np.linspace(0, height - crop, per_side + 1).astype(int)
    col_edges = np.linspace(0, width - crop, per_side + 1).astype(int)
    for i in range(per_side):
        for j in range(per_side):
            best, where = 0.0, None
            for r in range(row_edges[i], max(row_edges[i] + 1, row_edges[i + 1]), crop // 2):
                for c in range(col_edges[j], max(col_edges[j] + 1, col_edges[j + 1]), crop // 2):
                    total = float(seen[r : r + crop, c : c + crop].sum())
                    if total > best:
                        best, where = total, (r, c)
            if where is not None:  # strata of sea or outside the boundary give nothing
                out.append(Window(where[0], where[1], crop, crop))
    return out or [training_area(land, observed_days, area)]


def fit(
    cubes: list[xr.Dataset],
    features: Features,
    *,
    area: int,
    budget_s: float,
    device: str,
    seed: int,
    holdout: Holdout,
    progress: Any = None,
) -> tuple[Any, dict[str, Any]]:
    """Fit on the training blocks of the region (`training_blocks`), each block its own crop
    (its own static fields and neighbours), years stacked in time; check values hidden."""
    import stimpute

    land = land_mask(cubes[0])
    observed_days = sum(c["observed"].sum("time").values for c in cubes)
    blocks = training_blocks(land, np.asarray(observed_days), area)
    crops: list[list[Any]] = [[] for _ in blocks]  # per block, its arrays of every year
    priors: list[list[np.ndarray]] = [[] for _ in blocks]
    use_prior = PRIOR in features.dynamic
    model = stimpute.config.ModelConfig()  # the prior's defaults
    for cube in cubes:  # read block by block from the cube
        row0, col0 = int(cube.attrs["ease_row0"]), int(cube.attrs["ease_col0"])
        for block, years, prior in zip(blocks, crops, priors, strict=True):
            arr = window_arrays(cube, features, block)
            hide = window_holdout(arr, block, row0, col0, holdout)
            arr.values[hide] = np.nan  # the model never sees the values it is checked on
            arr.values[:, ~land[block.rows, block.cols]] = np.nan
            years.append(arr)
            if use_prior:  # over the block grown by the prior's reach, as the fill computes it
                prior.append(window_prior(cube, block, model.prior_spread, model.prior_memory))
    values = [np.concatenate([a.values for a in years]) for years in crops]
    if not any(np.isfinite(v).any() for v in values):
        raise FillError(
            "the training block has no observed value: the cube holds no retrieval for this region"
        )
    has_before = all(years[0].rain_before is not None for years in crops)
    block = blocks[0]
    hparams = model_hparams(features, device)
    imp = stimpute.Imputer("st_transformer", seed=seed, device=device, **hparams)
    method: Any = imp.method  # a TransformerMethod: its device and training report are read below
    start = time.perf_counter()
    log.info(
        "train: %s, %d block(s) of %d x %d pixels (first at row %d col %d), %d steps of time, up to %.0f s",
        method.device, len(blocks), block.height, block.width, block.row, block.col, len(values[0]), budget_s,
    )  # fmt: skip
    imp.fit(
        values,
        [np.concatenate([a.covariates for a in years]) for years in crops],
        [years[0].static for years in crops],
        times=np.concatenate([a.times for a in crops[0]]),
        prior=[np.concatenate(p) for p in priors] if use_prior else None,
        # the rain before the first year (later years follow the one before them in the record)
        rain_before=[years[0].rain_before for years in crops] if has_before else None,
        time_budget_s=budget_s,
    )
    report = method.report
    info = {
        "blocks": [[b.row, b.col, b.height, b.width] for b in blocks],
        "days": int(len(values[0])),
        "seconds": round(time.perf_counter() - start, 1),
        "steps": int(report.steps),
        "best_validation_mae_scaled": float(report.best_val_mae),
        "stopped_by": report.stopped_by,
        "hparams": hparams,
        "device": str(method.device),
    }
    return imp, info


def model_hparams(features: Features, device: str) -> dict[str, Any]:
    """The network the pipeline trains on `device` for these features: the paper's network with
    the add-ons the ablation kept for a coarse product and rain (`stimpute.config.product_addons`):
    Daymet's rain and the 9 km product, which the network reads smoothed in space and time, so
    the fill has no steps at the 9 km cells' edges."""
    dynamic = features.dynamic
    return {
        "window": 72,
        **PRESETS[device_kind(device)],
        **product_addons(
            dynamic.index(PRIOR) if PRIOR in dynamic else None,
            dynamic.index(RAIN) if RAIN in dynamic else None,
        ),
    }


def recipe(features: Features, *, area: int, budget_s: float, device: str) -> dict[str, Any]:
    """What a checkpoint is made from besides the data. A fill reuses the checkpoint it trained
    only while this is unchanged: an upgrade that changes the model, another budget or another
    crop size trains again."""
    return {
        "format": TRAIN_FORMAT,
        "area": area,
        "budget_s": float(budget_s),
        "model": model_hparams(features, device),
    }


def device_kind(device: str) -> str:
    """The kind of `device`: "cuda" when it resolves to a GPU, else "cpu"."""
    from stimpute.neural import resolve_device

    return "cuda" if resolve_device(device).type == "cuda" else "cpu"


def save(imp: Any, folder: Path, meta: dict[str, Any]) -> Checkpoint:
    """Write the checkpoint and its description (model.json last, so a crash leaves none)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKPOINT
    imp.save(path)
    meta = meta | {
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "code_version": code_version(),
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with replacing(folder / "model.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=1))
    return Checkpoint(path, meta)


def train_region(
    cubes: dict[int, xr.Dataset],
    folder: Path,
    *,
    area: int,
    budget_s: float,
    device: str,
    seed: int,
    holdout: Holdout,
) -> Checkpoint:
    """Train on several years' cubes; write the checkpoint into `folder`."""
    first = next(iter(cubes.values()))
    features = Features.of(first)
    for cube in cubes.values():
        features.check(cube)
    imp, info = fit(
        list(cubes.values()),
        features,
        area=area,
        budget_s=budget_s,
        device=device,
        seed=seed,
        holdout=holdout,
    )
    meta = {
        "years": sorted(cubes),
        "recipe": recipe(features, area=area, budget_s=budget_s, device=device),
        "features": features.as_dict(),
        "cube_fingerprints": {str(y): cube_fingerprint(c) for y, c in cubes.items()},
        "cube_days": {str(y): c.sizes["time"] for y, c in cubes.items()},
        "holdout": asdict(holdout),
        "seed": seed,
        "training": info,
    }
    return save(imp, folder, meta)
