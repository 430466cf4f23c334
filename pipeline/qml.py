"""QGIS layer styles (.qml) written beside each GeoTIFF, so QGIS opens it styled: band 1
(soil moisture) as a brown-to-teal pseudocolour ramp over 0-0.5 m3/m3, no-data transparent."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

# a colour-blind safe diverging ramp (ColorBrewer BrBG): dry soils brown, wet soils teal
RAMP = [
    (0.0, "#8c510a"),
    (0.1, "#d8b365"),
    (0.2, "#f6e8c3"),
    (0.3, "#c7eae5"),
    (0.4, "#5ab4ac"),
    (0.5, "#01665e"),
]


def soil_moisture_style(vmin: float = 0.0, vmax: float = 0.5, band: int = 1) -> str:
    items = "\n".join(
        f'            <item alpha="255" value="{v}" label={quoteattr(f"{v:.2f} m3/m3")} color="{c}"/>'
        for v, c in RAMP
    )
    stops = ":".join(f"{(v - vmin) / (vmax - vmin):.3f};{_rgba(c)}" for v, c in RAMP[1:-1])
    return f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.34.0" styleCategories="AllStyleCategories">
  <pipe>
    <rasterrenderer type="singlebandpseudocolor" band="{band}" opacity="1" alphaBand="-1" nodataColor="" classificationMin="{vmin}" classificationMax="{vmax}">
      <rasterTransparency/>
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <rastershader>
        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" minimumValue="{vmin}" maximumValue="{vmax}" labelPrecision="2">
          <colorramp type="gradient" name="[source]">
            <Option type="Map">
              <Option type="QString" name="color1" value="{_rgba(RAMP[0][1])}"/>
              <Option type="QString" name="color2" value="{_rgba(RAMP[-1][1])}"/>
              <Option type="QString" name="discrete" value="0"/>
              <Option type="QString" name="rampType" value="gradient"/>
              <Option type="QString" name="stops" value="{stops}"/>
            </Option>
          </colorramp>
{items}
        </colorrampshader>
      </rastershader>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" grayscaleMode="0" colorizeOn="0" colorizeStrength="100"/>
    <rasterresampler maxOversampling="2"/>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
"""


def _rgba(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"{r},{g},{b},255"
