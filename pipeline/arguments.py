"""Every command-line argument checked before any work starts: a bad one is one line naming
the argument, the value given and what to give instead (exit 2), never a traceback after an
hour of downloading and training."""

from __future__ import annotations

import math
import os
from pathlib import Path

from pipeline.errors import ArgumentError
from pipeline.fill_inputs import HOLDOUT_BY
from pipeline.year import today

FIRST_YEAR = 2015  # SMAP's first full year of SPL2SMAP_S; the sample follows the same rule
DEVICES = ("auto", "cpu", "cuda")


def check_year(year: int) -> int:
    _check_covered([year], f"--year {year}", "a year")
    return year


def check_years(text: str) -> list[int]:
    """`train --years`: a range (2016-2021) or a list (2019,2021), each year covered by SMAP."""
    try:
        if "-" in text:
            start, end = (int(x) for x in text.split("-"))
            years = list(range(start, end + 1))
        else:
            years = [int(x) for x in text.split(",")]
    except ValueError:
        years = []
    if not years:
        raise ArgumentError(
            f"--years {text!r}: write a range like 2016-2021 or a list like 2019,2021"
        )
    _check_covered(years, f"--years {text}", "years")
    return years


def _check_covered(years: list[int], given: str, what: str) -> None:
    last = today().year  # the pipeline's clock (a replayed night's date included)
    if any(not FIRST_YEAR <= y <= last for y in years):
        raise ArgumentError(
            f"{given}: SMAP (SPL2SMAP_S) covers {FIRST_YEAR} to {last}; give {what} in that range"
        )


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise ArgumentError(f"--device {device!r}: give one of {', '.join(DEVICES)}")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
            raise ArgumentError(
                f"--device cuda: torch {torch.__version__} ({build}) sees no CUDA GPU here; "
                "use --device auto or cpu, or install a CUDA build of torch on a GPU machine"
            )
    return device


def check_baselines(names: tuple[str, ...]) -> tuple[str, ...]:
    from stimpute.imputer import MODELS

    known = [m for m in MODELS if m not in ("st_transformer", "psan")]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ArgumentError(
            f"--baselines {','.join(unknown)}: unknown; choose from {', '.join(known)}, or none"
        )
    return names


def check_crs(crs: str | None) -> str | None:
    if not crs:
        return None
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(crs)
    except CRSError:
        raise ArgumentError(
            f"--crs {crs}: not a coordinate reference system PROJ knows; give one such as EPSG:4326"
        ) from None
    return crs


def check_budget(budget: float | None) -> float | None:
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise ArgumentError(f"--budget {budget}: give the seconds of training, a positive number")
    return budget


def check_holdout(holdout: float) -> float:
    if not (math.isfinite(holdout) and 0 <= holdout <= 0.5):
        raise ArgumentError(
            f"--holdout {holdout}: give the share of observations to hold out, from 0 to 0.5"
        )
    return holdout


def check_holdout_by(by: str) -> str:
    if by not in HOLDOUT_BY:
        raise ArgumentError(f"--holdout-by {by}: choose {' or '.join(HOLDOUT_BY)}")
    return by


def check_data(root: Path) -> Path:
    """The data root is a directory this user can write (created if missing)."""
    if root.exists() and not root.is_dir():
        raise ArgumentError(f"--data {root}: this is a file; give a directory for the data")
    existing = next((p for p in (root, *root.parents) if p.exists()), Path("/"))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ArgumentError(
            f"--data {root}: {existing} is not writable by this user; give a directory you can write"
        )
    return root
