"""The export's unit of work: spans of days inside the store's time chunks, sized by memory."""

import pytest

from pipeline.errors import ExportError
from pipeline.export import BYTES_PER_PIXEL_DAY, day_spans


@pytest.mark.parametrize(
    ("days", "chunk", "pixels", "budget"),
    [
        (365, 32, 36 * 36, 2**28),
        (365, 32, 1188 * 1296, 2**28),
        (366, 32, 10**6, 1),
        (5, 32, 4, 10**9),
    ],
)
def test_spans_cover_every_day_once_within_chunks_and_budget(days, chunk, pixels, budget):
    spans = day_spans(days, chunk, pixels, budget)
    covered = [t for t0, t1 in spans for t in range(t0, t1)]
    assert covered == list(range(days))
    for t0, t1 in spans:
        assert t0 // chunk == (t1 - 1) // chunk  # never across a time chunk
        assert t1 - t0 == 1 or (t1 - t0) * pixels * BYTES_PER_PIXEL_DAY <= budget


def test_a_small_region_takes_whole_chunks_and_a_state_smaller_spans():
    assert day_spans(365, 32, 36 * 36, 2**28)[:2] == [(0, 32), (32, 64)]
    texas = day_spans(365, 32, 1188 * 1296, 2**28)
    assert max(t1 - t0 for t0, t1 in texas) == 19  # 256 MB / (1.54 M pixels x 9 bytes)


def test_a_bad_size_names_the_numbers():
    with pytest.raises(ExportError, match=r"days \(365\), chunk \(0\) and pixels \(1296\)"):
        day_spans(365, 0, 1296)
