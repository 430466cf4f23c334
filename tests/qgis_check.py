"""Open a QGIS project in a real QGIS (run with the interpreter that has PyQGIS, for example
Debian's /usr/bin/python3 with python3-qgis) and print what QGIS sees as JSON: the project CRS
and time range, and per layer its validity, CRS, time extent and styling.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_check.py DATA/txson/2022/export/txson_2022.qgs
"""

import json
import sys

from qgis.core import QgsApplication, QgsMapLayerType, QgsMeshDatasetIndex, QgsProject


def describe(path: str) -> dict:
    project = QgsProject.instance()
    out: dict = {"read": project.read(path), "crs": project.crs().authid(), "layers": []}
    span = project.timeSettings().temporalRange()
    out["time"] = [span.begin().toString("yyyy-MM-dd"), span.end().toString("yyyy-MM-dd")]
    for layer in project.mapLayers().values():
        d = {"name": layer.name(), "valid": layer.isValid(), "crs": layer.crs().authid()}
        if layer.type() == QgsMapLayerType.MeshLayer:
            d["kind"] = "mesh"
            extent = layer.temporalProperties().timeExtent()
            d["time"] = [extent.begin().toString("yyyy-MM-dd"), extent.end().toString("yyyy-MM-dd")]
            d["temporal"] = layer.temporalProperties().isActive()
            group = layer.rendererSettings().activeScalarDatasetGroup()
            d["shows"] = layer.datasetGroupMetadata(QgsMeshDatasetIndex(group)).name()
            shader = layer.rendererSettings().scalarSettings(group).colorRampShader()
            d["ramp"] = [[i.value, i.color.name()] for i in shader.colorRampItemList()]
        elif layer.type() == QgsMapLayerType.RasterLayer:
            d["kind"] = "raster"
            d["renderer"] = layer.renderer().type()
        else:
            d["kind"] = "vector"
            d["features"] = layer.featureCount()
        out["layers"].append(d)
    return out


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    print(json.dumps(describe(sys.argv[1])))
    app.exitQgis()
