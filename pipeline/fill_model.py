"""The fill's settings and the model a fill uses: the region's checkpoint when `make train`
wrote one, else one trained on the year itself, kept and reused while it still serves."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import xarray as xr

from pipeline.cube import open_cube
from pipeline.fill_inputs import Features, Holdout
from pipeline.tile import cube_fingerprint
from pipeline.train import Checkpoint, find, recipe, region_models, train_region

log = logging.getLogger("pipeline")

GROWTH = 1.25  # a self-trained model serves until the year in progress grows by this factor


@dataclass
class Settings:
    holdout: float = 0.05  # share of observed values held out to check the run
    holdout_by: str = "block"  # `fill_inputs.Holdout`: whole blocks on a day, or points
    seed: int = 0
    device: str = "auto"
    # training on the target year when no region checkpoint exists: the network keeps improving
    # for several hundred steps (benchmarks/README.md, "The default changes")
    train_budget_s: float = 600.0
    train_area: int = 144  # pixels per side of the block trained on
    baselines: tuple[str, ...] = ("mean", "linear", "dctpls")
    score_tiles: int = 8  # tiles on which the baselines are run for the comparison

    @property
    def check(self) -> Holdout:
        return Holdout(self.holdout, self.holdout_by, self.seed)


def model_for(
    cube: xr.Dataset, folder: Path, root: Path, region: str, year: int, s: Settings
) -> tuple[Checkpoint, str]:
    """The region's checkpoint when there is one, else one trained on this year (kept and reused
    while the year has as many days, and the check and the training recipe are unchanged)."""
    ckpt = find(region_models(root, region))
    if ckpt is not None:
        ckpt.features.check(cube)
        return ckpt, f"region checkpoint trained on {', '.join(map(str, ckpt.meta['years']))}"
    own = folder / "model"
    ckpt = find(own)
    if ckpt is not None and reusable(ckpt, cube, year, s):
        # the same words as when it was trained: they are the products' provenance, which a
        # reused model must not change (a refill would otherwise rewrite every day's COG)
        log.info("fill: reusing the checkpoint trained on %d itself (%s)", year, ckpt.path)
        return ckpt, f"trained on {year} itself"
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
        holdout=s.check,
    )
    return ckpt, f"trained on {year} itself"


def reusable(ckpt: Checkpoint, cube: xr.Dataset, year: int, s: Settings) -> bool:
    """Whether the checkpoint a fill trained on this year serves now: the same check, seed and
    recipe (model, budget, crop size), trained on this cube or on an earlier build of the year
    with at least 1/GROWTH of its days (a reissued scene, a rebuilt block or a night's new days
    do not retrain the model; the nightly refill reuses it; the year in progress trains again
    once it has grown by a quarter)."""
    meta = ckpt.meta
    wanted = recipe(
        Features.of(cube), area=s.train_area, budget_s=s.train_budget_s, device=s.device
    )
    same_cube = meta.get("cube_fingerprints", {}).get(str(year)) == cube_fingerprint(cube)
    trained = meta.get("cube_days", {}).get(str(year))
    days = cube.sizes["time"]
    return (
        (same_cube or (isinstance(trained, int) and trained <= days <= GROWTH * trained))
        and meta.get("holdout") == asdict(s.check)
        and meta.get("seed") == s.seed
        and meta.get("recipe") == wanted
    )


@dataclass(frozen=True)
class Model:
    """The checkpoint a fill uses, where it came from, and the seconds spent training it now."""

    checkpoint: Checkpoint
    source: str
    train_s: float


def ensure_model(folder: Path, region: str, year: int, root: Path, s: Settings) -> Model:
    """The checkpoint `run` will use, trained now if there is none yet (the CLI calls this before
    it starts a local cluster, so training has the machine to itself)."""
    start = time.perf_counter()
    ckpt, source = model_for(open_cube(folder / "cube.zarr"), folder, root, region, year, s)
    return Model(ckpt, source, time.perf_counter() - start)
