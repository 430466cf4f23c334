"""A sample archive and a downloaded raw folder for txson 2022, written once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.catalog import load_products, region
from pipeline.download import run
from pipeline.sources.sample import LocalFetcher, SampleSource

YEAR = 2022


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
        [products["SPL2SMAP_S"], products["SPL3SMP_E"]],
        source=SampleSource(archive),
        fetcher=LocalFetcher(),
        raw=folder,
    )
    return folder
