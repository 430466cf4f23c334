import ast
from pathlib import Path

FORBIDDEN = {
    "pipeline",
    "xarray",
    "rasterio",
    "rioxarray",
    "requests",
    "earthaccess",
    "zarr",
    "dask",
    "pyproj",
    "h5py",
}


def test_stimpute_imports_nothing_geographic_or_networked():
    root = Path(__file__).resolve().parents[2] / "stimpute"
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
