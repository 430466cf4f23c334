"""A sample archive and a downloaded raw folder for txson 2022, written once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.catalog import load_products, region
from pipeline.download import run
from pipeline.sources.sample import SampleSource
from tests.pipeline.txson_run import fill_txson

YEAR = 2022
SAMPLE_PRODUCTS = ("SPL2SMAP_S", "SPL3SMP_E", "daymet", "elevation", "land_cover", "soil_texture")


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Path:
    src = SampleSource(tmp_path_factory.mktemp("archive"))
    src.ensure(region("txson"), YEAR)
    return src.archive


@pytest.fixture
def raw(archive, tmp_path) -> Path:
    products = load_products()
    folder = tmp_path / "raw"
    run(
        region("txson"),
        YEAR,
        [products[name] for name in SAMPLE_PRODUCTS],
        source=SampleSource(archive),
        raw=folder,
    )
    return folder


@pytest.fixture(scope="session")
def run_dir(archive, tmp_path_factory) -> Path:
    """txson 2022 filled and exported once per session; tests that change it put it back."""
    data = tmp_path_factory.mktemp("data")
    (data / "sample-archive").symlink_to(archive)
    res = fill_txson(data)
    assert res.exit_code == 0, res.output
    assert "Created 1 records" not in res.output  # GDAL's per-file chatter stays out of the log
    assert "Receive client connection" not in res.output  # and dask's, without --debug
    assert "impute txson 2022" in res.output and "export txson 2022" in res.output
    return data / "txson" / "2022"
