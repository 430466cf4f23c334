"""Earthdata source pieces that need no server: credentials and CMR UMM-G records."""

import json

import pytest

from pipeline.catalog import product
from pipeline.errors import SourceError
from pipeline.sources.earthdata import credentials_strategy, granule_record


def test_credentials_from_environment_then_netrc(tmp_path):
    assert (
        credentials_strategy({"EARTHDATA_USERNAME": "u", "EARTHDATA_PASSWORD": "p"})
        == "environment"
    )
    assert credentials_strategy({"EARTHDATA_TOKEN": "t"}) == "environment"
    rc = tmp_path / "netrc"
    rc.write_text("machine urs.earthdata.nasa.gov login u password secret\n")
    rc.chmod(0o600)
    assert credentials_strategy({}, netrc_path=rc) == "netrc"


def test_missing_credentials_say_what_to_do_and_show_no_secret(tmp_path):
    with pytest.raises(SourceError, match="no Earthdata credentials.*SOURCE=sample") as info:
        credentials_strategy({"EARTHDATA_USERNAME": "u"}, netrc_path=tmp_path / "none")
    assert "secret" not in str(info.value)


def test_umm_granule_record_from_a_recorded_cmr_response(shared_dir):
    doc = json.loads(
        (shared_dir / "reference/earthdata/Daymet_Daily_V4R1_2129_umm.json").read_text()
    )
    g = granule_record(product("daymet"), doc["items"][0])
    assert g.name == "daymet_v4_daily_pr_dayl_1950.nc"
    assert g.url.startswith("https://data.ornldaac.earthdata.nasa.gov/protected/")
    assert g.size == 2015649 and g.algorithm == "SHA-256" and len(g.checksum) == 64
    assert g.day.isoformat() == "1950-01-01"
