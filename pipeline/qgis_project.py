"""A QGIS project beside the export, `<region>_<year>.qgs`, so a user opens one file and sees
the year: the NetCDF as a time-aware mesh layer (QGIS's MDAL reads CF NetCDF with its time
axis, so the Temporal Controller steps through the days) styled with the COGs' ramp, the
latest day's COG, the tiles and the region's boundary, all in EPSG:6933 and with paths
relative to the project. Written as plain XML (QGIS itself is not a dependency); the tests load
it in a real QGIS where one is installed (`make qgis-check`).
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from pipeline.files import write_text
from pipeline.qml import RAMP, soil_moisture_style

CRS = "EPSG:6933"
# the long names of write_netcdf's variables: MDAL lists a file's dataset groups sorted by them
GROUPS = sorted(
    [
        "how each value was obtained",
        "standard error of the filled value (0 where observed)",
        "surface soil moisture, gap-filled (observed where flag = 1)",
    ]
)
SOIL_MOISTURE_GROUP = GROUPS.index("surface soil moisture, gap-filled (observed where flag = 1)")


def _spatialrefsys() -> str:
    from pyproj import CRS as ProjCRS

    wkt = ProjCRS.from_user_input(CRS).to_wkt("WKT2_2019")
    return f"<spatialrefsys><wkt>{escape(wkt)}</wkt><authid>{CRS}</authid></spatialrefsys>"


def _srs() -> str:
    return f"<srs>{_spatialrefsys()}</srs>"


def _layer(kind: str, lid: str, name: str, source: str, provider: str, body: str) -> str:
    return f"""    <maplayer type="{kind}" styleCategories="AllStyleCategories">
      <id>{lid}</id>
      <datasource>{escape(source)}</datasource>
      <layername>{escape(name)}</layername>
      {_srs()}
      <provider>{provider}</provider>
{body}
    </maplayer>
"""


def _mesh_body(year: int) -> str:
    items = "\n".join(
        f'            <item alpha="255" label="{v:.2f} m3/m3" color="{c}" value="{v}"/>'
        for v, c in RAMP
    )
    lo, hi = RAMP[0][0], RAMP[-1][0]
    return f"""      <temporal temporal-active="1" reference-time="1970-01-01T00:00:00Z" start-time-extent="{year}-01-01T00:00:00Z" end-time-extent="{year}-12-31T00:00:00Z" matching-method="0"/>
      <mesh-renderer-settings>
        <active-dataset-group scalar="{SOIL_MOISTURE_GROUP}" vector="-1"/>
        <scalar-settings group="{SOIL_MOISTURE_GROUP}" min-val="{lo}" max-val="{hi}" opacity="1" interpolation-method="none">
          <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" minimumValue="{lo}" maximumValue="{hi}" labelPrecision="2">
{items}
          </colorrampshader>
        </scalar-settings>
        <mesh-settings-native enabled="0" line-width="0.26" line-width-unit="MM" color="0,0,0,255"/>
        <mesh-settings-triangular enabled="0" line-width="0.26" line-width-unit="MM" color="0,0,0,255"/>
      </mesh-renderer-settings>"""


def _raster_body() -> str:
    style = soil_moisture_style()
    pipe = style[style.index("<pipe>") : style.index("</pipe>") + len("</pipe>")]
    return "      " + pipe


def _outline_body(colour: str, width: float) -> str:
    props = {
        "color": "0,0,0,0",
        "style": "no",
        "outline_color": colour,
        "outline_style": "solid",
        "outline_width": str(width),
        "outline_width_unit": "MM",
    }
    options = "".join(f'<Option type="QString" name="{k}" value="{v}"/>' for k, v in props.items())
    legacy = "".join(f'<prop k="{k}" v="{v}"/>' for k, v in props.items())
    return f"""      <renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">
        <symbols>
          <symbol type="fill" name="0" alpha="1" clip_to_extent="1" force_rhr="0">
            <layer class="SimpleFill" enabled="1" pass="0" locked="0"><Option type="Map">{options}</Option>{legacy}</layer>
          </symbol>
        </symbols>
      </renderer-v2>"""


def write_project(
    out: Path,
    region: str,
    year: int,
    netcdf: Path,
    latest_cog: Path,
    tiles: Path,
    boundary: Path,
    extent: tuple[float, float, float, float],
) -> Path:
    """Write `out/<region>_<year>.qgs`; every path given must lie under `out`."""
    xmin, ymin, xmax, ymax = extent
    rel = {p: "./" + p.relative_to(out).as_posix() for p in (netcdf, latest_cog, tiles, boundary)}
    day = latest_cog.stem.rsplit("_", 1)[-1]
    layers = [
        ("boundary", "vector", f"{region} boundary", f"{rel[boundary]}|layername=boundary", "ogr",
         _outline_body("30,30,30,255", 0.6)),
        ("tiles", "vector", "tiles (36 x 36 km, overlapping)", f"{rel[tiles]}|layername=tiles", "ogr",
         _outline_body("120,120,120,255", 0.2)),
        ("latest_cog", "raster", f"soil moisture {day} (COG)", rel[latest_cog], "gdal", _raster_body()),
        ("daily", "mesh", f"soil moisture {year}, daily (NetCDF: use the Temporal Controller)",
         rel[netcdf], "mdal", _mesh_body(year)),
    ]  # fmt: skip
    tree = "\n".join(
        f'    <layer-tree-layer id="{lid}" name={quoteattr(name)} source={quoteattr(src)} '
        f'providerKey="{prov}" checked="{"Qt::Checked" if lid != "latest_cog" else "Qt::Unchecked"}" expanded="0"/>'
        for lid, _, name, src, prov, _ in layers
    )
    maplayers = "".join(
        _layer(kind, lid, name, src, prov, body) for lid, kind, name, src, prov, body in layers
    )
    order = "\n".join(f'    <layer id="{lid}"/>' for lid, *_ in layers)
    text = f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis projectname={quoteattr(f"{region} {year}: gap-filled soil moisture")} version="3.22.0">
  <title>{escape(f"{region} {year}: gap-filled soil moisture")}</title>
  <projectCrs>
    {_spatialrefsys()}
  </projectCrs>
  <layer-tree-group>
{tree}
  </layer-tree-group>
  <mapcanvas name="theMapCanvas" annotationsVisible="1">
    <units>meters</units>
    <extent><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></extent>
    <destinationsrs><spatialrefsys><authid>{CRS}</authid></spatialrefsys></destinationsrs>
  </mapcanvas>
  <projectlayers>
{maplayers}  </projectlayers>
  <layerorder>
{order}
  </layerorder>
  <ProjectTimeSettings timeStep="1" timeStepUnit="d" frameRate="1" cumulativeTemporalRange="0">
    <TemporalRange><start>{year}-01-01T00:00:00Z</start><end>{year}-12-31T00:00:00Z</end></TemporalRange>
  </ProjectTimeSettings>
  <properties>
    <Paths><Absolute type="bool">false</Absolute></Paths>
    <SpatialRefSys><ProjectionsEnabled type="int">1</ProjectionsEnabled></SpatialRefSys>
  </properties>
</qgis>
"""
    path = out / f"{region}_{year}.qgs"
    write_text(path, text)
    return path
