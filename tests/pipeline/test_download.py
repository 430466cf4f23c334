import json

import pytest

from pipeline.catalog import load_products, region
from pipeline.download import run
from pipeline.errors import SourceError, TransferError
from pipeline.sources.base import Granule, newest_reissues, scene_and_counter
from pipeline.sources.sample import SampleSource
from tests.pipeline.conftest import SAMPLE_PRODUCTS, YEAR


def _run(archive, raw, source=None):
    p = load_products()
    return run(
        region("txson"), YEAR, [p[name] for name in SAMPLE_PRODUCTS],
        source=source or SampleSource(archive), raw=raw,
    )  # fmt: skip


def test_scene_counter_and_newest_reissue():
    name = "SMAP_L2_SM_SP_1AIWDV_20220101T003000_20220101T124000_099W31N_R18240_002.h5"
    scene, counter = scene_and_counter(name)
    assert counter == 2 and scene.endswith("_R18240.h5")
    day = __import__("datetime").date(2022, 1, 1)
    old = Granule("SPL2SMAP_S", name.replace("_002", "_001"), "u1", day, scene, 1)
    new = Granule("SPL2SMAP_S", name, "u2", day, scene, 2)
    assert newest_reissues([new, old]) == [new]


def test_manifest_lists_newest_reissues_and_rerun_fetches_nothing(raw, archive):
    manifest = json.loads((raw / "manifest.json").read_text())
    names = list(manifest["granules"])
    assert not any(n.endswith("_001.h5") and n.replace("_001", "_002") in names for n in names)
    assert any(n.endswith("_002.h5") for n in names)
    rec = next(iter(manifest["granules"].values()))
    assert {"name", "revision", "size", "checksum", "path"} <= set(rec)
    again = _run(archive, raw)
    assert again.fetched == [] and len(again.skipped) == len(names) and again.superseded == 1


def test_truncated_file_is_fetched_again(raw, archive):
    victim = next((raw / "SPL2SMAP_S").glob("*.h5"))
    good = victim.read_bytes()
    victim.write_bytes(good[:1000])
    rep = _run(archive, raw)
    assert rep.fetched == [victim.name] and victim.read_bytes() == good


def test_a_damaged_transfer_is_never_renamed_into_place(archive, tmp_path):
    class Corrupting(SampleSource):
        def fetch(self, granule, dest):
            super().fetch(granule, dest)
            dest.write_bytes(dest.read_bytes()[:-10])

    with pytest.raises(TransferError, match="bytes, the catalogue says"):
        _run(archive, tmp_path / "raw", source=Corrupting(archive))
    assert not list((tmp_path / "raw").rglob("*.h5"))
    assert not list((tmp_path / "raw").rglob("*.part"))  # the damaged copy is not kept either


def test_sample_source_names_what_it_cannot_provide(archive):
    from dataclasses import replace

    imerg = replace(load_products()["daymet"], name="GPM_3IMERGDF")
    with pytest.raises(SourceError, match="sample source has no GPM_3IMERGDF"):
        SampleSource(archive).search(imerg, region("txson"), YEAR)


def test_disk_full_is_one_clear_error_and_keeps_what_was_complete(archive, tmp_path):
    import errno

    class FillsUp(SampleSource):
        calls = 0

        def fetch(self, granule, dest):
            FillsUp.calls += 1
            if FillsUp.calls > 3:
                dest.write_bytes(b"partial")
                raise OSError(errno.ENOSPC, "No space left on device")
            super().fetch(granule, dest)

    with pytest.raises(TransferError, match="disk full while writing .*DATA="):
        _run(archive, tmp_path / "raw", source=FillsUp(archive))
    kept = list((tmp_path / "raw").rglob("*.h5"))
    assert len(kept) == 3 and not list((tmp_path / "raw").rglob("*.part"))
    manifest = json.loads((tmp_path / "raw" / "manifest.json").read_text())
    assert len(manifest["granules"]) == 3  # the next run resumes from here


def test_a_reissued_scene_is_found_by_the_next_listing_of_changes(archive, tmp_path):
    import os
    import shutil
    import time

    own = tmp_path / "archive"  # a copy: the reissue must not reach the other tests' archive
    shutil.copytree(archive, own)
    for f in (p for p in own.rglob("*") if p.is_file()):  # published two days ago
        os.utime(f, (time.time() - 2 * 86400,) * 2)
    raw = tmp_path / "raw"
    first = _run(own, raw)
    assert set(first.listings.values()) == {"full"}
    quiet = _run(own, raw)
    assert not quiet.fetched and all(v.endswith(": 0") for v in quiet.listings.values())
    manifest_before = (raw / "manifest.json").stat().st_mtime_ns
    assert _run(own, raw).fetched == [] and (raw / "manifest.json").stat().st_mtime_ns == (
        manifest_before
    )  # a listing that finds nothing leaves the stage's record alone
    name = sorted(p.name for p in (own / "txson" / str(YEAR)).glob("SMAP_L2_SM_SP_*_001.h5"))[-1]
    new = SampleSource(own).reissue(region("txson"), YEAR, name)
    after = _run(own, raw)
    assert after.fetched == [new.name] and after.listings["SPL2SMAP_S"].endswith(": 1")
    granules = json.loads((raw / "manifest.json").read_text())["granules"]
    assert granules[new.name]["revision"] == 2 and granules[new.name]["revised"]
    # the superseded revision is forgotten, so the cube reads the scene once, in its new version
    assert name not in granules and not (raw / "SPL2SMAP_S" / name).exists()


def test_the_year_in_progress_goes_without_a_product_published_by_whole_years(
    archive, tmp_path, monkeypatch
):
    """Daymet appears a year at a time, after the year: a run of the current year neither asks
    the source for it nor fails for want of it, and drops any record of it."""
    from pipeline import download as download_module

    asked = []

    class Counting(SampleSource):
        def search(self, product, *args, **kwargs):
            asked.append(product.name)
            return super().search(product, *args, **kwargs)

    raw = tmp_path / "raw"
    rep = _run(archive, raw, source=Counting(archive))  # the year complete: Daymet is there
    assert "daymet" in asked and rep.not_yet == []
    assert any(
        r["product"] == "daymet"
        for r in json.loads((raw / "manifest.json").read_text())["granules"].values()
    )
    monkeypatch.setattr(download_module, "in_progress", lambda year: True)  # a run in December
    asked.clear()
    rep = _run(archive, raw, source=Counting(archive))
    assert "daymet" not in asked and rep.not_yet == ["daymet"]
    records = json.loads((raw / "manifest.json").read_text())["granules"].values()
    assert not any(r["product"] == "daymet" for r in records)
    assert not list((raw / "daymet").glob("*.nc"))
