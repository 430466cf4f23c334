"""The window offsets a CPU fill averages (`pipeline.fill.WINDOW_OFFSETS`): the map must show no
texture of the runs' hand-over (benchmarks/README.md, "Window offsets of both parities")."""

import numpy as np
import pytest

from pipeline.fill import WINDOW_OFFSETS
from stimpute.windows import offset_weights


def largest_change(offsets: tuple[int, ...]) -> float:
    """The largest change of the first run's weight between neighbouring pixels."""
    w = offset_weights((8, 8), 4, offsets)[0].reshape(8, 8)
    return float(max(np.abs(np.diff(w, axis=a)).max() for a in (0, 1)))


def test_a_cpu_fill_hands_each_pixel_from_one_run_to_the_other_in_even_steps():
    """Offsets 1 and 3 put both runs' window edges on the same every-other pixel, so the weights
    flipped from one run to the other every two pixels (a 2-pixel texture in the map); with one
    odd and one even offset no step between neighbours moves them by more than a third."""
    assert largest_change((1, 3)) == pytest.approx(6 / 13)
    assert largest_change(WINDOW_OFFSETS["cpu"]) <= 1 / 3 + 1e-9
