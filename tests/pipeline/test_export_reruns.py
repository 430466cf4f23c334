"""What a nightly job relies on, on the shared txson run: a re-run does no work, `status` says
what is stale and why, a deleted, cut-short or altered file is remade alone, a new fill rewrites
only the days it changed, an interrupted or disk-full export keeps what was there."""

import json
import shutil
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr

from pipeline.catalog import region
from tests.pipeline.txson_run import export_txson, fill_txson, status_of

GRID = region("txson").grid


def test_rerun_does_no_work_and_a_deleted_file_is_rebuilt_alone(run_dir):
    data = run_dir.parents[1]
    files = [p for p in (run_dir / "export").rglob("*") if p.is_file()]
    before = {p: p.stat().st_mtime_ns for p in files}
    res = fill_txson(data)
    assert res.exit_code == 0 and "everything is up to date" in res.output, res.output
    assert {p: p.stat().st_mtime_ns for p in files} == before
    gone = run_dir / "export" / "cog" / "txson_2022-06-15.tif"
    gone.unlink()
    res = fill_txson(data)
    assert res.exit_code == 0 and "1 files written" in res.output, res.output
    assert gone.exists()
    unchanged = [
        p
        for p in files
        if p != gone
        and "stac" not in p.parts
        and "report" not in p.parts
        and p.name != "export.json"
    ]
    assert all(p.stat().st_mtime_ns == before[p] for p in unchanged)


def test_status_says_what_is_current_stale_or_missing_and_what_the_last_run_did(run_dir, tmp_path):
    data = run_dir.parents[1]
    state = status_of(data)
    assert [s["state"] for s in state["stages"]] == ["current"] * 5, state
    last = state["last_run"]
    assert last["outcome"] == "done" and last["changed"] == ["export"]  # the rebuilt COG
    assert "python -m pipeline fill --region txson" in last["command"]
    log_text = Path(last["log"]).read_text()  # the run's own log file, with the DEBUG detail
    assert "everything is up to date" not in log_text and "export txson 2022" in log_text
    first = sorted(Path(last["log"]).parent.glob("txson-2022-fill-*.log"))[0].read_text()
    assert " DEBUG stimpute: st_transformer: best validation MAE" in first  # the detail
    # a deleted COG: the export is stale until the next run
    cog = run_dir / "export" / "cog" / "txson_2022-03-01.tif"
    kept = cog.read_bytes()
    cog.unlink()
    export = status_of(data)["stages"][4]
    assert export["state"] == "stale" and "missing" in export["why"]
    cog.write_bytes(kept)
    # a granule the cube was not built from: the cube is stale, and says how many blocks
    copy = tmp_path / "data"
    shutil.copytree(run_dir, copy / "txson" / "2022", ignore=shutil.ignore_patterns("*.tif"))
    manifest_path = copy / "txson" / "2022" / "raw" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    name, rec = next(
        (k, v) for k, v in manifest["granules"].items() if v["product"] == "SPL2SMAP_S"
    )
    manifest["granules"][name] = {**rec, "checksum": "reissued"}
    manifest_path.write_text(json.dumps(manifest))
    cube, *after = status_of(copy)["stages"][1:]
    assert cube["state"] == "stale" and cube["why"].startswith("1 block(s) changed"), cube
    # what the next run rebuilds after the cube is not called current (the copy left out the
    # COGs, which the export's own state says first)
    assert [(s["state"], s["why"]) for s in after] == [
        ("stale", "follows the cube stage, which is stale"),
        ("stale", "follows the cube stage, which is stale"),
        ("stale", "files are missing: the next run rewrites them"),
    ]
    assert status_of(copy)["last_run"] is None  # records live beside the lock, not in the year


def test_a_cut_short_or_altered_export_file_is_remade_by_the_next_run(run_dir):
    cog = run_dir / "export" / "cog" / "txson_2022-07-01.tif"
    whole = cog.read_bytes()
    cog.write_bytes(whole[: len(whole) // 2])  # what a full disk left under the final name
    item = next((run_dir / "export" / "stac").rglob("*2022-07-02*.json"))
    kept = item.read_bytes()
    item.write_bytes(kept.replace(b"2022-07-02", b"2022-07-03", 1))  # altered by hand
    res = fill_txson(run_dir.parents[1])
    assert res.exit_code == 0 and "1 files written" in res.output, res.output
    assert cog.read_bytes() == whole and item.read_bytes() == kept
    res = fill_txson(run_dir.parents[1])  # and then nothing more to do
    assert "everything is up to date" in res.output, res.output


def test_interrupted_export_leaves_no_half_file_and_a_rerun_completes(run_dir, monkeypatch):
    from pipeline import export

    cog = run_dir / "export" / "cog"
    for day in ("2022-02-01", "2022-02-02", "2022-02-03"):
        (cog / f"txson_{day}.tif").unlink()
    real, calls = export.write_cog, []

    def dying(bands, path, *a, **k):
        calls.append(path)
        if len(calls) == 2:
            with open(path.with_name(path.name + ".part"), "wb") as f:
                f.write(b"half")  # what a kill leaves mid-write...
            raise KeyboardInterrupt
        return real(bands, path, *a, **k)

    monkeypatch.setattr(export, "write_cog", dying)
    res = fill_txson(run_dir.parents[1], "--workers", "0")  # in this process, where the patch is
    assert res.exit_code == 130 and "interrupted" in res.output
    monkeypatch.setattr(export, "write_cog", real)
    res = fill_txson(run_dir.parents[1], "--workers", "0")
    assert res.exit_code == 0 and "2 files written" in res.output, res.output
    assert not list(run_dir.rglob("*.part"))  # ...is gone once the re-run completes
    with rasterio.open(cog / "txson_2022-02-02.tif") as src:
        assert src.read(1).shape == (36, 36)


def test_a_rebuilt_export_is_the_same_bytes(run_dir, tmp_path):
    """No wall-clock time inside a product: rebuilt from the same fill, every file is identical
    (the run's own record, export.json, and the report say when). The NetCDF holds the same
    values and attributes, but not yet the same bytes: HDF5 lays its chunks out in the order
    dask writes them, which differs from one process to the next."""
    import hashlib

    out = run_dir / "export"

    def digests() -> dict[str, str]:
        return {
            str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*"))
            if p.is_file() and "report" not in p.parts and p.name != "export.json"
        }

    before = digests()
    out.rename(tmp_path / "export-before")
    try:
        res = export_txson(run_dir.parents[1])
        assert res.exit_code == 0, res.output
        after = digests()
        with (
            xr.open_dataset(tmp_path / "export-before" / "txson_2022.nc") as a,
            xr.open_dataset(out / "txson_2022.nc") as b,
        ):
            assert a.attrs == b.attrs
            for name in ("soil_moisture", "soil_moisture_uncertainty", "flag"):
                np.testing.assert_array_equal(a[name].values, b[name].values)
    finally:
        shutil.rmtree(out, ignore_errors=True)
        (tmp_path / "export-before").rename(out)
    assert after.keys() == before.keys()
    assert [k for k in before if before[k] != after[k]] in ([], ["txson_2022.nc"])


def test_a_full_disk_in_the_export_is_one_line_and_the_outputs_stay(run_dir, monkeypatch):
    import errno

    from pipeline import export

    cog = run_dir / "export" / "cog"
    (cog / "txson_2022-04-01.tif").unlink()
    kept = [p for p in (run_dir / "export").rglob("*") if p.is_file()]
    before = {p: p.stat().st_mtime_ns for p in kept}

    def full(bands, path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(export, "write_cog", full)
    res = fill_txson(run_dir.parents[1], "--workers", "0")
    assert res.exit_code == 2, res.output
    assert (
        "disk full while writing export days 2022-03-" in res.output
        and "Traceback" not in res.output
    )
    assert {p: p.stat().st_mtime_ns for p in kept} == before  # nothing written was touched
    monkeypatch.undo()
    res = fill_txson(run_dir.parents[1], "--workers", "0")
    assert res.exit_code == 0 and "1 files written" in res.output, res.output


def _refill(run_dir: Path, day: int, values: np.ndarray, fingerprint: str) -> np.ndarray:
    """What a new fill that changed one day leaves behind: that day's soil moisture in
    filled.zarr replaced by `values`, and `fingerprint` in fill.json; returns the old values."""
    import zarr

    sm = zarr.open_group(str(run_dir / "filled.zarr"), mode="r+")["soil_moisture"]
    old = sm[day]
    sm[day] = values
    record = json.loads((run_dir / "fill.json").read_text())
    (run_dir / "fill.json").write_text(json.dumps(record | {"fingerprint": fingerprint}))
    return old


def test_a_new_fill_rewrites_only_the_days_it_changed(run_dir):
    """A night's fill changes a few days (new days, a reissued scene): the export compares each
    day's digest with what it wrote before and rewrites only those COGs (and the NetCDF)."""
    import zarr

    data, out = run_dir.parents[1], run_dir / "export"
    record_before = json.loads((run_dir / "fill.json").read_text())
    cogs = sorted((out / "cog").glob("*.tif"))
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in cogs}
    netcdf = out / "txson_2022.nc"
    changed = out / "cog" / "txson_2022-05-10.tif"  # day 129
    filled = zarr.open_group(str(run_dir / "filled.zarr"), mode="r")
    flag = filled["flag"][129]
    original = filled["soil_moisture"][129]
    try:
        _refill(run_dir, 129, np.where(flag == 2, original + 0.01, original), "a new fill")
        res = export_txson(data)
        assert res.exit_code == 0, res.output
        assert "1 of them COGs" in res.output, res.output
        assert changed.read_bytes() != before[changed][1]
        assert [p for p in cogs if p.stat().st_mtime_ns != before[p][0]] == [changed]
        assert netcdf.stat().st_mtime_ns > before[changed][0]  # the year's NetCDF is rewritten
        with rasterio.open(changed) as tif, xr.open_dataset(netcdf) as nc:
            in_nc = nc["soil_moisture"].isel(time=129).values
            np.testing.assert_array_equal(tif.read(1)[flag == 2], in_nc[flag == 2])
        np.testing.assert_allclose(in_nc[flag == 2], original[flag == 2] + 0.01, atol=1e-6)
        assert json.loads((out / "export.json").read_text())["cogs_written"] == 1
    finally:  # put the shared run back as it was: the COG comes back byte for byte
        _refill(run_dir, 129, original, record_before["fingerprint"])
        (run_dir / "fill.json").write_text(json.dumps(record_before, indent=1))
        assert export_txson(data).exit_code == 0
    assert changed.read_bytes() == before[changed][1]
