from datetime import date

import pytest

from pipeline.catalog import load_products, load_regions, product, region
from pipeline.errors import CatalogError


def test_shipped_catalogs_load():
    regions = load_regions()
    assert {"txson", "texas", "central_texas"} <= set(regions)
    assert regions["txson"].grid.shape == (36, 36)
    assert regions["central_texas"].grid.shape == (180, 180)
    assert len(regions["texas"].polygons()) == 1
    products = load_products()
    assert products["SPL2SMAP_S"].role == "target" and products["SPL2SMAP_S"].version == "003"
    assert products["SPL3SMP_E"].variables["sm_9km_pm"].path.endswith("soil_moisture_pm")
    assert products["soil_texture"].source == "https"


def test_unknown_names_list_what_exists():
    with pytest.raises(CatalogError, match="unknown region 'atlantis'; known: .*txson"):
        region("atlantis")
    with pytest.raises(CatalogError, match="unknown product"):
        product("SPL9XYZ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[r]\nbbox = [1, 2, 3]\nsnap = "cell"\n', r"\[r\] bbox must be a list of 4 numbers"),
        ('[r]\nbbox = [-98, 30, -99, 31]\nsnap = "cell"\n', r"\[r\] bbox must be \[lon_min"),
        (
            '[r]\nbbox = [-99, 30, -98, 31]\nsnap = "inward"\n',
            r"snap is 'inward'; allowed: cell, outward",
        ),
        (
            '[r]\nbbox = [-99, 30, -98, 31]\nsnap = "cell"\ncolour = 1\n',
            r"unknown key\(s\) \['colour'\]",
        ),
        (
            '[r]\nbbox = [-99, 30, -98, 31]\nsnap = "cell"\nboundary = "nope.geojson"\n',
            r"does not exist",
        ),
        ("[r\n", "not valid TOML"),
    ],
)
def test_region_errors_name_file_entry_and_key(tmp_path, text, message):
    path = tmp_path / "regions.toml"
    path.write_text(text)
    with pytest.raises(CatalogError, match=message) as info:
        load_regions(path)
    assert str(path) in str(info.value)


def _product(path, role, grid, pattern, variable, valid, more=""):
    """A one-product catalog `[p]` with one variable, written to `path`."""
    path.write_text(
        f'[p]\nsource = "cmr"\nshort_name = "X"\nversion = "1"\nrole = "{role}"\n'
        f'grid = "{grid}"\npattern = "{pattern}"\n{more}[p.variables.{variable}]\n'
        f'path = "a/b"\nfill = -9999\nvalid = {valid}\nunits = "1"\n'
    )
    return path


def test_product_errors_name_the_variable(tmp_path):
    path = _product(tmp_path / "products.toml", "target", "ease2_1km", "*.h5", "sm", "[0.5, 0.1]")
    with pytest.raises(CatalogError, match=r"\[p.variables.sm\] valid must be \[min, max\]"):
        load_products(path)
    fixed = path.read_text().replace("[0.5, 0.1]", "[0.1, 0.5]")
    path.write_text(fixed.replace('role = "target"', 'role = "covariate"'))
    with pytest.raises(CatalogError, match="role is 'covariate'; allowed: target, dynamic, static"):
        load_products(path)


def test_a_lead_in_names_the_product_s_own_variables(tmp_path):
    lead_in = 'lead_in = { days = 60, variables = ["rain"] }\n'
    path = _product(
        tmp_path / "products.toml", "dynamic", "daymet_lcc", "*.nc", "prcp", "[0, 2000]", lead_in
    )
    with pytest.raises(CatalogError, match=r"\[p.lead_in\] variables: \['rain'\]; .*: prcp"):
        load_products(path)
    path.write_text(path.read_text().replace('["rain"]', '["prcp"]').replace("60", "400"))
    with pytest.raises(CatalogError, match=r"\[p.lead_in\] days is 400; give 1 to 365"):
        load_products(path)
    lead = load_products()["daymet"].lead_in
    assert lead is not None and lead.days == 60 and lead.variables == ("prcp",)
    assert lead.keeps("daymet_v4_daily_na_prcp_2021.nc", date(2021, 1, 1), 2022)
    assert not lead.keeps("daymet_v4_daily_na_tmax_2021.nc", date(2021, 1, 1), 2022)
    assert not lead.keeps("daymet_v4_daily_na_prcp_2020.nc", date(2020, 1, 1), 2022)
