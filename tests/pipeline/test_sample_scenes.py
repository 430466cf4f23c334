"""The sample's SPL2SMAP_S scenes: windows of the global grid, named the same in every region."""

import numpy as np

from pipeline.grid import RegionGrid
from pipeline.sources.sample import padded, scenes
from stimpute.field_twin import FieldTwin

BIG = RegionGrid(3564, 7776, 216, 216)  # 6 x 6 SMAP 36 km cells around TxSON
SMALL = RegionGrid(3600, 7812, 36, 36)  # the TxSON cell inside it


def _scenes_by_day(grid: RegionGrid, days: int = 40) -> dict[int, dict[str, np.ndarray]]:
    wide = padded(grid)
    inner = (
        slice(grid.row0 - wide.row0, grid.row0 - wide.row0 + grid.height),
        slice(grid.col0 - wide.col0, grid.col0 - wide.col0 + grid.width),
    )
    tw = FieldTwin(wide.row0, wide.col0, wide.height, wide.width, seed=11, days=days)
    return {
        d.index: {f"{label}T{when}": m for label, when, m in scenes(d, grid, inner, tw.orbit)}
        for d in tw.days()
    }


def test_a_region_inside_another_gets_the_same_scenes_cut_to_it():
    big, small = _scenes_by_day(BIG), _scenes_by_day(SMALL)
    r, c = SMALL.row0 - BIG.row0, SMALL.col0 - BIG.col0
    several = 0
    for t, found in small.items():
        cut = {k: m[r : r + 36, c : c + 36] for k, m in big[t].items()}
        assert found.keys() == {k for k, m in cut.items() if m.any()}
        for k, m in found.items():
            assert np.array_equal(m, cut[k])
        several = max(several, len(big[t]))
    assert several >= 2  # the large region has days of several overlapping scenes
