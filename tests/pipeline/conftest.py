"""A sample archive and a downloaded raw folder for txson 2022, written once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.catalog import load_products, region
from pipeline.download import run
from pipeline.sources.sample import SampleSource

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
