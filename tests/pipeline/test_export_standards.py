"""The shared txson run's outputs against the standards' own checkers: the CF checker, the STAC
validator, and a real QGIS opening the project."""

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xarray as xr

from pipeline.catalog import region

GRID = region("txson").grid


def test_the_netcdf_passes_the_cf_checker_for_the_cf_version_it_declares(run_dir, tmp_path):
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    nc = run_dir / "export" / "txson_2022.nc"
    with xr.open_dataset(nc) as ds:
        version = ds.attrs["Conventions"].removeprefix("CF-")
        assert "longitude_of_central_meridian" in ds["spatial_ref"].attrs
    CheckSuite().load_all_available_checkers()
    report = tmp_path / "cf.json"
    ComplianceChecker.run_checker(str(nc), [f"cf:{version}"], 0, "normal",
                                  output_filename=str(report), output_format="json")  # fmt: skip
    checked = json.loads(report.read_text())[f"cf:{version}"]
    errors = [
        f"{check['name']}: {msg}"
        for check in checked["high_priorities"]
        if check["value"][0] < check["value"][1]
        for msg in check["msgs"]
        # checker fault (6.1.0, cf/appendix_f.py): the one required attribute of
        # lambert_cylindrical_equal_area is a string, not a tuple, so each of its letters is
        # reported missing; the attribute itself is checked above
        if not (len(msg.split(" ", 1)[0]) == 1 and "lambert_cylindrical_equal_area" in msg)
    ]
    assert not errors, errors


def test_the_stac_catalog_and_items_validate_against_the_spec(run_dir):
    from stac_pydantic import Catalog, Item

    stac = run_dir / "export" / "stac"
    Catalog.model_validate(json.loads((stac / "catalog.json").read_text()))
    items = sorted(stac.glob("*/*.json"))
    assert len(items) == 366
    for path in items:
        item = json.loads(path.read_text())
        Item.model_validate(item)
        if any(k.startswith("proj:") for k in item["properties"]):  # the extension is declared
            assert any("/projection/" in e for e in item["stac_extensions"]), path.name


def test_the_qgis_project_names_every_output_by_a_relative_path(run_dir):
    out = run_dir / "export"
    root = ET.parse(out / "txson_2022.qgs").getroot()
    layers = {m.get("type"): m for m in root.iter("maplayer")}
    assert sorted(layers) == ["mesh", "raster", "vector"] and len(list(root.iter("maplayer"))) == 4
    for m in root.iter("maplayer"):
        source = m.findtext("datasource").split("|")[0]
        assert source.startswith("./") and (out / source).exists(), source
    assert layers["mesh"].find("temporal").get("start-time-extent") == "2022-01-01T00:00:00Z"


def _qgis_python() -> str | None:
    """An interpreter with PyQGIS: $QGIS_PYTHON, else Debian's python3 with python3-qgis."""
    for exe in filter(None, (os.environ.get("QGIS_PYTHON"), "/usr/bin/python3")):
        try:
            found = subprocess.run([exe, "-c", "import qgis.core"], capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if found.returncode == 0:
            return exe
    return None


def test_the_qgis_project_opens_in_a_real_qgis(run_dir):
    exe = _qgis_python()
    if exe is None:
        pytest.skip("no QGIS here: `make qgis-check` installs Debian's python3-qgis and runs this")
    check = Path(__file__).parents[1] / "qgis_check.py"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(run_dir.parent)}
    res = subprocess.run([exe, str(check), str(run_dir / "export" / "txson_2022.qgs")],
                         capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    seen = json.loads(res.stdout.strip().splitlines()[-1])
    assert (
        seen["read"] and seen["crs"] == "EPSG:6933" and seen["time"] == ["2022-01-01", "2022-12-31"]
    )
    kinds = {layer["kind"]: layer for layer in seen["layers"]}
    assert all(layer["valid"] and layer["crs"] == "EPSG:6933" for layer in seen["layers"])
    mesh = kinds["mesh"]
    assert mesh["temporal"] and mesh["time"] == ["2022-01-01", "2022-12-31"]
    assert mesh["shows"].startswith("surface soil moisture") and mesh["ramp"][0] == [0.0, "#8c510a"]
    assert kinds["raster"]["renderer"] == "singlebandpseudocolor"
    assert (
        sorted(layer["features"] for layer in seen["layers"] if layer["kind"] == "vector")[0] >= 1
    )
