"""The fill stage: the ST-Transformer fills every tile, tiles are blended, and a run checks itself.

Before filling, a deterministic share of observed values is held out (hidden from the model and
from the baselines); after filling, the held-out values are compared with what each method put
there, so every run states how good its output is. The delivered product still carries the
held-out observations themselves (they are observations): only the model never saw them.

Output `filled.zarr` (built in `.part`, swapped in when complete): `soil_moisture` gap-free on
land, `soil_moisture_uncertainty` (the model's standard error; where half the check holds
enough block-days, scaled so that 90% of that half falls in the 90% normal interval,
`fill_scores.std_factor`; 0 where observed), `flag`
(0 no data, 1 observed, 2 filled). Observed values are copied bit for bit from the cube; pixels
outside the boundary or on permanent water stay no-data.

The work is maps of tasks on a `cluster.Runner`: the region's 9 km prior by squares, brought up
to date in `prior.zarr` (`fill_prior`), then the model on each tile and the blend of each square
of whole output chunks (`fill_tasks`). This module orchestrates them: the model, the resumable
scratch (`fill.parts/`), the record (`fill.json`) and its held-out table. When
only some days of the cube changed since the last fill, the run is a refill (`refill.plan`):
the time windows of those days are run again and the rest of the product is kept.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from pipeline.catalog import product
from pipeline.cluster import Runner
from pipeline.cube import open_cube
from pipeline.errors import FillError
from pipeline.files import part_of, replacing, swap_dir
from pipeline.fill_inputs import PRIOR
from pipeline.fill_model import Model, Settings, ensure_model
from pipeline.fill_prior import ensure_prior
from pipeline.fill_scores import score_table, std_factor
from pipeline.fill_store import SQUARE, resume_or_start
from pipeline.fill_tasks import (
    FillJob,
    blend_square,
    predict_tile,
    squares,
)
from pipeline.fill_truth import truth_score
from pipeline.progress import Ticker
from pipeline.provenance import code_version, peak_rss_mb
from pipeline.refill import cube_blocks, cube_days
from pipeline.refill import plan as refill_plan
from pipeline.tile import Window, cube_fingerprint, fingerprint, land_mask
from pipeline.tile import read as read_tiles
from pipeline.train import device_kind, load

log = logging.getLogger("pipeline")

# 3: each tile filled whole (no tile of a tile); 4: the prior of the region; 5: the prior read
# from the region's store (`fill_prior`)
FILL_FORMAT = 6  # 6: the std scaled by a factor fitted on half of the check
# the model's answers are averaged over its spatial attention windows moved by these offsets
# (`stimpute.windows.offset_weights`), so the map has no grid of the 4-pixel windows: two runs on
# a CPU, one odd and one even, so each pixel's answer passes from one run to the other gradually
# (1 and 3, whose windows' edges lie on the same every-other pixel, left a 2-pixel texture); all
# four on a GPU; benchmarks/README.md, "window seams". The run's `--device` picks them, not each
# worker's, so one run's product is the same whichever workers fill its tiles (and a refill can
# reuse it)
WINDOW_OFFSETS = {"cpu": (1, 2), "cuda": (0, 1, 2, 3)}


def run(
    folder: Path,
    region: str,
    year: int,
    root: Path,
    s: Settings,
    runner: Runner | None = None,
    progress: Any = None,
    model: Model | None = None,
) -> dict[str, Any]:
    """Write folder/filled.zarr and folder/fill.json unless they are current; return the record.

    Tiles are predicted, then squares of whole output chunks blended and written, as tasks on
    `runner` (this process when None). Finished units are kept in `fill.parts/` until the
    store is complete, so a killed fill resumes where it stopped."""
    start = time.perf_counter()
    runner = runner or Runner(None)
    cube = open_cube(folder / "cube.zarr")
    tiles_path, record_path, out = (
        folder / "tiles.parquet",
        folder / "fill.json",
        folder / "filled.zarr",
    )
    if not tiles_path.exists():
        raise FillError(f"no tile index at {tiles_path}: run the tile stage first")
    windows = read_tiles(tiles_path)
    tiling = json.loads((folder / "tiles.json").read_text())
    overlap = tiling["overlap"]
    before = model.train_s if model is not None else 0.0  # trained before this call
    model = model or ensure_model(folder, region, year, root, s)
    ckpt, model_source, train_s = model.checkpoint, model.source, model.train_s
    # what a refill must share with the last fill: all but the cube (and the baselines it skips)
    offsets = WINDOW_OFFSETS[device_kind(s.device)]
    reuse_key = fingerprint(
        FILL_FORMAT, [w.__dict__ for w in windows], overlap, ckpt.digest, asdict(s.check), s.seed,
        offsets,
    )  # fmt: skip
    key = fingerprint(reuse_key, cube_fingerprint(cube), s.baselines, s.score_tiles)
    previous = json.loads(record_path.read_text()) if record_path.exists() else {}
    if out.exists() and previous.get("fingerprint") == key:
        return previous | {"up_to_date": True}
    imp = load(ckpt, "cpu")  # a damaged checkpoint fails here, in one line, not on every worker
    uses_prior = imp.config.model.prior_covariate is not None and PRIOR in ckpt.features.dynamic
    refill = refill_plan(previous, out, cube, reuse_key, imp, uses_prior)
    arch, prior_start = imp.config.model, time.perf_counter()
    prior = (
        ensure_prior(folder, cube, arch.prior_spread, arch.prior_memory, runner, progress)
        if uses_prior
        else None
    )
    prior_s = time.perf_counter() - prior_start
    land = land_mask(cube)
    part, parts = part_of(out), folder / "fill.parts"
    resume_or_start(part, parts, key, cube, land, start_from=out if refill else None)
    if refill and refill.only_new_days:
        log.info(
            "fill: %d new day(s) since the last fill: running their time windows and writing "
            "them; the %d day(s) already published keep their values", refill.appended,
            cube.sizes["time"] - refill.appended,
        )  # fmt: skip
    elif refill:
        log.info(
            "fill: inputs changed since the last fill (%d cube block(s)): running the time "
            "windows of %d day(s), rewriting %d, keeping %d", refill.blocks, len(refill.changed),
            len(refill.rewrite), cube.sizes["time"] - len(refill.rewrite),
        )  # fmt: skip
    step = max(1, len(windows) // max(1, s.score_tiles))
    valid = product("SPL2SMAP_S").variables["soil_moisture"].valid
    job = FillJob(
        cube=str(folder / "cube.zarr"), store=str(part), parts=str(parts),
        checkpoint=str(ckpt.path), checkpoint_sha256=ckpt.digest, features=ckpt.features,
        device=s.device, threads=runner.threads,
        shape=land.shape, origin=(int(cube.attrs["ease_row0"]), int(cube.attrs["ease_col0"])),
        overlap=overlap, holdout=s.check, seed=s.seed, valid=(float(valid[0]), float(valid[1])),
        tile_side=max(max(w.height, w.width) for w in windows),
        baselines=s.baselines,
        scored=frozenset() if refill else frozenset(range(0, len(windows), step)[: s.score_tiles]),
        rewrite=refill.rewrite if refill else (),
        prior=str(prior or ""),
        window_offsets=offsets,
    )  # fmt: skip
    units = list(enumerate(windows))
    ticker = Ticker(progress, "fill", len(units), "tiles")
    summaries = []
    for summary in runner.map(predict_tile, units, job, what="tile"):
        summaries.append(summary)
        ticker.advance()
    empty = sum(x["empty"] for x in summaries)
    if empty == len(windows):
        shutil.rmtree(part, ignore_errors=True)
        shutil.rmtree(parts, ignore_errors=True)
        raise FillError(
            "every tile is all-missing: the cube holds no retrieval for this region and year"
        )
    # the std's factor: a full fill fits it on half of its check; a refill keeps the last one's
    uncertainty = previous["uncertainty"] if refill else std_factor(summaries, s.check, job.origin)
    job = replace(job, std_factor=uncertainty["std_factor"])
    blocks = [
        (i, sq, [(k, w) for k, w in units if _meets(w, sq)])
        for i, sq in enumerate(squares(land.shape, SQUARE))
        if land[sq.rows, sq.cols].any()
    ]
    ticker = Ticker(progress, "blend", len(blocks), "squares")
    written = []
    for summary in runner.map(blend_square, blocks, job, what="square"):
        written.append(summary)
        ticker.advance()
    import zarr

    zarr.consolidate_metadata(str(part))
    if empty:
        log.warning(
            "fill: %d of %d tiles had no observation all year: they are filled from the covariates "
            "alone (flag 2), which the held-out check cannot score", empty, len(windows),
        )  # fmt: skip
    swap_dir(part, out)
    shutil.rmtree(parts, ignore_errors=True)
    infer_s = sum(x["infer_s"] for x in summaries if not x["reused"])
    pixel_days = sum(x["pixel_days"] for x in summaries if not x["reused"])
    counts = {n: sum(x[n] for x in written) for n in ("observed", "filled", "no_data")}
    # squares without land were never written: all their values are no-data
    counts["no_data"] = int(land.size * cube.sizes["time"] - counts["observed"] - counts["filled"])
    record_refill = (
        {**refill.summary(cube.sizes["time"]), "from": previous["fingerprint"]} if refill else None
    )
    record = {
        "fingerprint": key,
        "reuse_key": reuse_key,
        # what it was made from, so `status` can say why it is stale
        "inputs": {
            "format": FILL_FORMAT,
            "cube": cube_fingerprint(cube),
            "cube_blocks": cube_blocks(cube),
            "cube_days": cube_days(cube),
            "tiles": tiling["fingerprint"],
            "model": ckpt.digest,
        },
        "days": cube.sizes["time"],
        "refill": record_refill,
        "region": region,
        "year": year,
        "model": {
            "source": model_source,
            "checkpoint": str(ckpt.path),
            "sha256": ckpt.digest,
            "training": ckpt.meta.get("training", {}),
        },
        "tiles": len(windows),
        "tiles_computed": sum(not x["reused"] for x in summaries),
        "tiles_without_observations": empty,
        "values": counts,
        # a refill checks nothing itself: the held-out table is the last full fill's
        "holdout": previous["holdout"]
        if refill
        else {
            **asdict(s.check),
            "description": s.check.describe(),
            "points": int(sum(len(x["check"]["t"]) for x in summaries)),
        },
        "uncertainty": uncertainty,
        "metrics": previous["metrics"]
        if refill
        else score_table(
            summaries, written, job.scored, s.baselines, s.check, job.origin, uncertainty["fitted"]
        ),
        "metrics_from": _metrics_from(previous) if refill else "this run",
        "truth": truth_score(folder, region, year, key, record_refill),
        "seconds": {
            "train": round(train_s, 1),
            "prior": round(prior_s, 1),
            "infer": round(infer_s, 1),
            "baselines": round(sum(x["baseline_s"] for x in summaries if not x["reused"]), 1),
            "total": round(time.perf_counter() - start + before, 1),
        },
        "pixel_days_per_s": round(pixel_days / infer_s) if infer_s else None,
        "device": _device(s.device),
        "workers": runner.workers,
        "peak_memory_mb": peak_rss_mb(),
        "worker_peak_memory_mb": runner.run_on_workers(peak_rss_mb) if runner.client else {},
        "code_version": code_version(),
    }
    with replacing(record_path) as tmp:
        tmp.write_text(json.dumps(record, indent=1, default=float))
    return record


def _meets(w: Window, sq: Window) -> bool:
    return (
        w.row < sq.row + sq.height
        and sq.row < w.row + w.height
        and w.col < sq.col + sq.width
        and sq.col < w.col + w.width
    )


def _device(device: str) -> str:
    from stimpute.neural import resolve_device

    return str(resolve_device(device))


def _metrics_from(previous: dict[str, Any]) -> str:
    """Which run made the held-out table a refill carries over: the last full fill."""
    said = previous.get("metrics_from")
    if said and said != "this run":
        return str(said)
    return f"the full fill of code {previous.get('code_version')}"
