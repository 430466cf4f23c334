"""The days of a region-year: the whole year, or, for the year in progress, the days up to the
newest one with data. Granules arrive days after their overpass, so a nightly run of the current
year fills through the newest day it has and says which day that is; the next night's run
reaches further.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pipeline.errors import ArgumentError

# how many days after an overpass the sample source publishes its granules (SMAP's L2 products
# reach the archive within days)
SAMPLE_LATENCY_DAYS = 3
# the daily products whose newest day ends the year in progress: the 1 km retrievals and the
# 9 km product the model starts every gap from
DAILY = ("SPL2SMAP_S", "SPL3SMP_E")


def today() -> date:
    """Today in UTC: the one clock the pipeline reads. STIMPUTE_TODAY=YYYY-MM-DD replays the
    night of that date (a benchmark of nightly runs, a scheduler's dry run)."""
    fixed = os.environ.get("STIMPUTE_TODAY", "").strip()
    if not fixed:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(fixed)
    except ValueError:
        raise ArgumentError(
            f"STIMPUTE_TODAY={fixed!r} is not a date: give YYYY-MM-DD, or unset it to use the clock"
        ) from None


def in_progress(year: int) -> bool:
    return year >= today().year


def full_days(year: int) -> int:
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days


def sample_days(year: int) -> int:
    """How many days of the year the sample source has published by today."""
    if not in_progress(year):
        return full_days(year)
    newest = today() - timedelta(days=SAMPLE_LATENCY_DAYS)
    return max(1, min(full_days(year), (newest - date(year, 1, 1)).days + 1))


def cube_days(manifest: dict[str, Any], year: int) -> int:
    """The days a cube of the year holds: all of them for a past year; for the year in progress,
    through the newest day with a granule of a daily product."""
    if not in_progress(year):
        return full_days(year)
    days = [
        date.fromisoformat(r["day"])
        for r in manifest.get("granules", {}).values()
        if r.get("product") in DAILY
    ]
    newest = max((d for d in days if d.year == year), default=date(year, 1, 1))
    return max(1, min(full_days(year), (newest - date(year, 1, 1)).days + 1))


def through(year: int, days: int) -> date:
    """The last day of a year's first `days` days."""
    return date(year, 1, 1) + timedelta(days=days - 1)
