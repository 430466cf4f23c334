"""The Earthdata source end to end against a loopback HTTPS fake (tests/pipeline/fake_earthdata.py)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time

import pytest

from pipeline.catalog import product, region
from pipeline.download import run
from pipeline.errors import SourceError, TransferError
from pipeline.sources.earthdata import EarthdataSource
from tests.pipeline.conftest import YEAR
from tests.pipeline.fake_earthdata import PASSWORD, TOKEN, USER, FakeEarthdata

earthaccess = pytest.importorskip("earthaccess")
if shutil.which("openssl") is None:
    pytest.skip(
        "the fake's HTTPS certificate is made with the openssl command", allow_module_level=True
    )
from earthaccess.system import System  # noqa: E402


def _system(host: str) -> System:
    return System(
        f"https://{host}/search/", f"https://{host}/status", f"https://{host}/status/api", host
    )


@pytest.fixture
def fake(archive, tmp_path, monkeypatch):
    folder = archive / "txson" / str(YEAR)
    scenes = sorted(folder.glob("SMAP_L2_SM_SP_*.h5"))
    # the reissued scene (both counters) and two more
    reissued = [p for p in scenes if p.name.endswith(("_001.h5", "_002.h5"))][:2]
    files = {p.name: p for p in [*reissued, *[p for p in scenes if p not in reissued][:3]]}
    # a bearer token: earthaccess re-sends a username/password only to a host named exactly
    # like its EDL hostname, which a fake on a non-443 port cannot be (see test_rejected_...)
    monkeypatch.setenv("EARTHDATA_TOKEN", TOKEN)
    monkeypatch.delenv("EARTHDATA_USERNAME", raising=False)
    monkeypatch.delenv("EARTHDATA_PASSWORD", raising=False)
    with FakeEarthdata(tmp_path, files) as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.cert))
        earthaccess.__auth__.authenticated = False  # earthaccess keeps one login per process
        yield server


def _download(fake, raw):
    src = EarthdataSource(system=_system(fake.host), backoff_s=0.01)
    return run(region("txson"), YEAR, [product("SPL2SMAP_S")], source=src, raw=raw)


def test_search_newest_reissue_retry_on_503_and_skip_on_rerun(fake, tmp_path):
    busy = sorted(fake.files)[-1]
    fake.busy[busy] = 2  # two 503s, then the file
    rep = _download(fake, tmp_path / "raw")
    assert rep.superseded == 1 and len(rep.fetched) == len(fake.files) - 1
    assert not any(
        n.endswith("_001.h5") and n.replace("_001", "_002") in fake.files for n in rep.fetched
    )
    assert fake.requests.count(f"GET /data/{busy}") == 3
    for name in rep.fetched:
        assert (tmp_path / "raw" / "SPL2SMAP_S" / name).read_bytes() == fake.files[
            name
        ].read_bytes()
    before = len([r for r in fake.requests if r.startswith("GET /data/")])
    again = _download(fake, tmp_path / "raw")
    assert (
        again.fetched == []
        and len([r for r in fake.requests if r.startswith("GET /data/")]) == before
    )


def test_a_truncated_download_is_resumed_by_the_next_run(fake, tmp_path):
    _download(fake, tmp_path / "raw")
    victim = next((tmp_path / "raw" / "SPL2SMAP_S").glob("*.h5"))
    victim.write_bytes(victim.read_bytes()[:500])
    rep = _download(fake, tmp_path / "raw")
    assert (
        rep.fetched == [victim.name] and victim.read_bytes() == fake.files[victim.name].read_bytes()
    )


def test_404_is_not_retried(fake, tmp_path):
    gone = sorted(fake.files)[-1]
    fake.missing.add(gone)
    with pytest.raises(TransferError, match="not found"):
        _download(fake, tmp_path / "raw")
    assert fake.requests.count(f"GET /data/{gone}") == 1


def test_rejected_credentials(fake, tmp_path, monkeypatch):
    monkeypatch.delenv("EARTHDATA_TOKEN")
    monkeypatch.setenv("EARTHDATA_USERNAME", USER)
    monkeypatch.setenv("EARTHDATA_PASSWORD", "wrong")
    with pytest.raises(SourceError, match="rejected the credentials") as info:
        _download(fake, tmp_path / "raw")
    assert "wrong" not in str(info.value)


def test_no_network(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("EARTHDATA_USERNAME", USER)
    monkeypatch.setenv("EARTHDATA_PASSWORD", PASSWORD)
    earthaccess.__auth__.authenticated = False
    src = EarthdataSource(system=_system(host))
    with pytest.raises(SourceError, match="cannot reach Earthdata Login.*SOURCE=sample"):
        src.search(product("SPL2SMAP_S"), region("txson"), YEAR)


def test_a_later_run_asks_cmr_only_for_what_was_revised_since_and_fetches_a_reissue(fake, tmp_path):
    raw, published = tmp_path / "raw", tmp_path / "published"
    published.mkdir()
    for name, path in list(fake.files.items()):  # catalogued two days ago
        fake.files[name] = published / name
        shutil.copyfile(path, fake.files[name])
        os.utime(fake.files[name], (time.time() - 2 * 86400,) * 2)
    first = _download(fake, raw)
    assert first.listings == {"SPL2SMAP_S": "full"} and "revision_date[]" not in fake.queries[-1]
    again = _download(fake, raw)  # nothing revised since: nothing fetched, every file kept
    assert "revision_date[]" in fake.queries[-1] and not again.fetched
    assert again.listings["SPL2SMAP_S"].endswith(": 0") and len(again.skipped) == len(
        first.fetched
    ) + len(first.skipped)
    # the data centre reissues one scene: the next run finds it by its revision date alone
    old = sorted(n for n in fake.files if n.endswith("_001.h5"))[-1]
    new = old.replace("_001.h5", "_009.h5")
    fake.files[new] = published / new
    shutil.copyfile(fake.files[old], fake.files[new])
    third = _download(fake, raw)
    assert third.fetched == [new] and third.superseded >= 1, third
    manifest = json.loads((raw / "manifest.json").read_text())
    record = manifest["granules"][new]
    assert record["revision"] == 9 and record["revised"] and record["native_id"] == new
    assert record["release"] == new.split("_")[-2]  # the composite release id, e.g. R19240


def test_daymet_comes_with_the_rain_of_the_weeks_before_the_year(fake, tmp_path):
    # CMR is asked from 60 days before 1 January; of the year before's files only the rain is
    # kept (the model's rain indices read it), not its other variables
    rain_before = (
        fake.files[next(iter(fake.files))].parent / f"daymet_v4_daily_na_prcp_{YEAR - 1}.nc"
    )
    fake.files.clear()
    for variable in ("prcp", "tmax"):
        for year in (YEAR - 2, YEAR - 1, YEAR):
            fake.files[f"daymet_v4_daily_na_{variable}_{year}.nc"] = rain_before  # any bytes
    src = EarthdataSource(system=_system(fake.host), backoff_s=0.01)
    run(region("txson"), YEAR, [product("daymet")], source=src, raw=tmp_path / "raw")
    start = fake.queries[-1]["temporal[]"][0].split(",")[0]
    assert start.startswith(f"{YEAR - 1}-11-02")
    kept = json.loads((tmp_path / "raw" / "manifest.json").read_text())["granules"]
    assert sorted(kept) == [
        f"daymet_v4_daily_na_prcp_{YEAR - 1}.nc",
        f"daymet_v4_daily_na_prcp_{YEAR}.nc",
        f"daymet_v4_daily_na_tmax_{YEAR}.nc",
    ]
    assert kept[f"daymet_v4_daily_na_prcp_{YEAR - 1}.nc"]["day"] == f"{YEAR - 1}-01-01"
