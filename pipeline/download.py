"""Stage `download`: find the granules of a region-year, keep the newest reissue of each scene,
fetch what is missing or incomplete, verify size and checksum, and write a manifest.

The first run lists every granule of the year. A later run asks the catalogue only for what was
added or reissued since its last listing (CMR's `revision_date`), and merges that with the
manifest; every FULL_LISTING_DAYS it lists everything again, so a withdrawn granule is noticed.

Files arrive as `<name>.part` and are renamed only once verified, so an interrupted run never
leaves a file that looks complete; re-running fetches nothing that is already there and whole.
"""

from __future__ import annotations

import errno
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from pipeline.catalog import Product, Region
from pipeline.errors import SourceError, TransferError
from pipeline.files import part_of, read_record, replacing
from pipeline.sources.base import Granule, newest_reissues, sha256
from pipeline.year import in_progress

log = logging.getLogger("pipeline")
MANIFEST = "manifest.json"
# when each product was last listed: beside the manifest, not in it, so a run that finds
# nothing new leaves the manifest (the stage's record) untouched
LISTINGS = "listings.json"
FULL_LISTING_DAYS = 7  # a listing of only what changed is trusted this long after a full one
OVERLAP = timedelta(hours=1)  # asked again before the last listing: clocks and indexing lag


class Source(Protocol):
    """Finds a product's granules for a region-year and fetches one of them to a path."""

    name: str

    def search(
        self, product: Product, region: Region, year: int, revised_since: datetime | None = None
    ) -> list[Granule]:
        """The product's granules for the region-year; with `revised_since`, at least those
        added or reissued since then (a source that cannot tell returns them all)."""
        ...

    def fetch(self, granule: Granule, dest: Path) -> None: ...


@dataclass
class DownloadReport:
    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    superseded: int = 0
    not_yet: list[str] = field(default_factory=list)  # yearly products the year goes without
    bytes: int = 0
    seconds: float = 0.0
    listings: dict[str, str] = field(
        default_factory=dict
    )  # per product: "full" or "changes since ..."


def _complete(path: Path, g: Granule, known: dict[str, Any] | None) -> bool:
    """A file counts as present when its size matches and, if the manifest has no verified
    record of this very granule, its checksum matches too."""
    if not path.is_file():
        return False
    if g.size is not None and path.stat().st_size != g.size:
        return False
    if known and known.get("checksum") == g.checksum and known.get("size") == path.stat().st_size:
        return True
    return g.checksum is None or g.algorithm != "SHA-256" or sha256(path) == g.checksum


def verify(path: Path, g: Granule) -> None:
    size = path.stat().st_size
    if g.size is not None and size != g.size:
        raise TransferError(f"{g.name}: got {size} bytes, the catalogue says {g.size}")
    if g.checksum is not None and g.algorithm == "SHA-256" and sha256(path) != g.checksum:
        raise TransferError(f"{g.name}: SHA-256 does not match the catalogue")


def read_manifest(raw: Path) -> dict[str, Any]:
    path = raw / MANIFEST
    if not path.is_file():
        return {"granules": {}}
    return json.loads(path.read_text())


def write_manifest(raw: Path, manifest: dict[str, Any]) -> None:
    with replacing(raw / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))


def _listing(
    source: Source,
    product: Product,
    region: Region,
    year: int,
    records: dict[str, Any],
    listings: dict[str, Any],
    report: DownloadReport,
) -> list[Granule]:
    """Every granule of the product as now catalogued: a full listing, or the changes since the
    last listing merged with the manifest's records. Updates `listings[product]`."""
    now = datetime.now(UTC)
    last = listings.get(product.name, {})
    full_at = _when(last.get("full"))
    since = _when(last.get("last"))
    if full_at is None or since is None or now - full_at > timedelta(days=FULL_LISTING_DAYS):
        found = source.search(product, region, year)
        listings[product.name] = {"full": now.isoformat(), "last": now.isoformat()}
        report.listings[product.name] = "full"
        return found
    changes = source.search(product, region, year, revised_since=since - OVERLAP)
    known = [Granule.from_record(r) for r in records.values() if r.get("product") == product.name]
    listings[product.name] = {**last, "last": now.isoformat()}
    report.listings[product.name] = f"changes since {since:%Y-%m-%d %H:%M} UTC: {len(changes)}"
    by_name = {g.name: g for g in known}
    by_name.update({g.name: g for g in changes})
    return list(by_name.values())


def _forget_superseded(
    raw: Path, records: dict[str, Any], product: str, keep: list[Granule]
) -> bool:
    """Drop the records (and files) of scenes' older revisions, so the cube reads each scene
    once, in its newest version. True when the manifest changed."""
    newest = {g.scene: g.name for g in keep}
    old = [
        name
        for name, r in records.items()
        if r.get("product") == product and r.get("scene") in newest and newest[r["scene"]] != name
    ]
    for name in old:
        (raw / records.pop(name)["path"]).unlink(missing_ok=True)
    return bool(old)


def _when(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def run(
    region: Region,
    year: int,
    products: list[Product],
    *,
    source: Source,
    raw: Path,
    progress: Any = None,
) -> DownloadReport:
    """Download every product's granules for region/year into `raw/<product>/`."""
    start = time.perf_counter()
    report = DownloadReport()
    raw.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(raw)
    header = {"source": source.name, "region": region.name, "year": year}
    changed = any(manifest.get(k) != v for k, v in header.items())
    manifest.update(header)
    records: dict[str, Any] = manifest.setdefault("granules", {})
    listings = read_record(raw / LISTINGS) if not changed else {}
    for product in products:
        if product.yearly and in_progress(year):
            log.info(
                "download: no %s for %d: it is published a year at a time, after the year "
                "ends; this run goes without it", product.name, year,
            )  # fmt: skip
            report.not_yet.append(product.name)
            for name in [n for n, r in records.items() if r.get("product") == product.name]:
                (raw / records.pop(name)["path"]).unlink(missing_ok=True)  # an earlier sample's
                changed = True
            continue
        found = _listing(source, product, region, year, records, listings, report)
        if product.lead_in is not None:  # of the year before, only the lead-in's variables
            found = [g for g in found if product.lead_in.keeps(g.name, g.day, year)]
        if not found:
            raise SourceError(
                f"no {product.name} granules for {region.name} in {year}: check the region and "
                "year, or whether the product covers them"
            )
        keep = newest_reissues(found)
        report.superseded += len(found) - len(keep)
        changed |= _forget_superseded(raw, records, product.name, keep)
        folder = raw / product.name
        folder.mkdir(exist_ok=True)
        task = progress.add_task(product.name, total=len(keep)) if progress else None
        for g in keep:
            path = folder / g.name
            if _complete(path, g, records.get(g.name)):
                report.skipped.append(g.name)
            else:
                try:
                    with replacing(path) as part:  # a failed or damaged fetch leaves nothing
                        source.fetch(g, part)
                        verify(part, g)
                except OSError as exc:
                    if exc.errno == errno.ENOSPC:
                        raise TransferError(
                            f"disk full while writing {part_of(path)}: free space there or point "
                            "DATA= at a larger disk, then run again (files already complete are kept)"
                        ) from None
                    raise TransferError(f"{g.name}: cannot write {part_of(path)} ({exc})") from None
                report.fetched.append(g.name)
                report.bytes += path.stat().st_size
            record = {**g.record(), "path": str(path.relative_to(raw))}
            if records.get(g.name) != record:
                records[g.name] = record
                changed = True
            if report.fetched and report.fetched[-1] == g.name:
                write_manifest(raw, manifest)  # after every fetch: a crash loses nothing done
                changed = False
            if progress:
                progress.advance(task)
    if changed or not (raw / "manifest.json").exists():
        write_manifest(raw, manifest)
    with replacing(raw / LISTINGS) as tmp:
        tmp.write_text(json.dumps(listings, indent=1, sort_keys=True))
    report.seconds = time.perf_counter() - start
    return report
