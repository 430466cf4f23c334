"""The endless twin: a window's values depend on the global indices, not on the window."""

import numpy as np
import pytest

from stimpute.field_twin import FieldTwin
from stimpute.lattice import smooth_field, uniform

FIELDS = ("truth", "retrieval", "precipitation", "tmax")


def test_a_window_cut_from_a_larger_one_holds_the_same_data():
    big = FieldTwin(3600, 7200, 90, 90, seed=7, days=40)
    small = FieldTwin(3600 + 27, 7200 + 18, 36, 45, seed=7, days=40)
    sl = (slice(27, 63), slice(18, 63))
    for name, v in small.static.items():
        assert np.allclose(big.static[name][sl], v, atol=1e-6), name
    seen = 0
    for a, b in zip(big.days(), small.days(), strict=True):
        for f in FIELDS:
            assert np.allclose(getattr(a, f)[sl], getattr(b, f), equal_nan=True, atol=1e-6), f
        assert np.array_equal(a.qc_flag[sl], b.qc_flag)
        assert np.allclose(a.sm_9km[3:7, 2:7], b.sm_9km, equal_nan=True, atol=1e-6)
        assert [p.track for p in a.passes if p.inside[sl].any()] == [p.track for p in b.passes]
        seen += int(np.isfinite(b.observed).sum())
    assert seen > 0  # the window was observed on some days, so the check had teeth


def test_blocks_meet_without_edges():
    # the step across the line where two windows meet is like the steps inside them
    tw = FieldTwin(900, 900, 72, 144, seed=1, days=1)
    left = FieldTwin(900, 900, 72, 72, seed=1, days=1)
    right = FieldTwin(900, 972, 72, 72, seed=1, days=1)
    joined = np.concatenate([left.static["sand"], right.static["sand"]], axis=1)
    assert np.allclose(joined, tw.static["sand"], atol=1e-6)
    steps = np.abs(np.diff(tw.static["sand"], axis=1))
    assert steps[:, 71].mean() < 3 * steps.mean()


def test_the_year_is_sparse_and_physical():
    tw = FieldTwin(0, 0, 36, 36, seed=3, days=365)
    obs = total = 0
    low, high = 1.0, 0.0
    for d in tw.days():
        obs += int(np.isfinite(d.observed).sum())
        total += d.observed.size
        low, high = min(low, float(d.truth.min())), max(high, float(d.truth.max()))
    assert 0.9 < 1 - obs / total < 0.98
    assert 0.02 <= low < high <= 0.5


def test_draws_are_keyed_not_sequential():
    r = np.arange(5)[:, None]
    c = np.arange(4)[None, :]
    assert np.array_equal(uniform(1, 2, 3, r, c)[1:3, 2:], uniform(1, 2, 3, r[1:3], c[:, 2:]))
    assert not np.array_equal(uniform(1, 2, 3, r, c), uniform(2, 2, 3, r, c))
    f = smooth_field(0, 1, 8.0, np.arange(400), np.arange(400))
    assert abs(f.mean()) < 0.3 and 0.6 < f.std() < 1.4


def test_a_window_off_the_coarse_cells_is_refused():
    with pytest.raises(ValueError, match="col0=5: .*multiple of 9"):
        FieldTwin(0, 5, 36, 36, seed=0)


def test_truths_alone_are_the_days_truths():
    # the truth score walks the truth without simulating the observations: the same values
    tw = FieldTwin(900, 900, 36, 45, seed=5, days=30)
    alone = list(tw.truths(band_rows=18))
    for d, t in zip(tw.days(band_rows=18), alone, strict=True):
        assert np.array_equal(d.truth, t)
    assert len(alone) == 30 and alone[0].dtype == np.float32


def test_a_walk_over_the_truth_resumes_where_it_stopped():
    tw = FieldTwin(900, 900, 36, 36, seed=5, days=20)
    whole = list(tw.truths())
    state = tw.first_state()
    first = list(zip(range(12), tw.truths(state=state), strict=False))
    assert state.day == 12
    again = FieldTwin(900, 900, 36, 36, seed=5, days=20)  # another process, the state kept
    rest = list(again.truths(state=state))
    assert len(first) + len(rest) == 20 and state.day == 20
    for a, b in zip(whole, [t for _, t in first] + rest, strict=True):
        assert np.array_equal(a, b)


def test_the_rain_product_is_blurred_without_block_edges():
    # Daymet has no 3 km blocks; a blur by blocks would draw a 3 km grid into whatever reads it
    tw = FieldTwin(0, 0, 90, 90, seed=5, days=120)
    steps = np.zeros(89)
    for d in tw.days():
        steps += np.abs(np.diff(d.precipitation, axis=1)).mean(axis=0)
    at_block_edges = steps[2::3].mean()  # between columns 3k - 1 and 3k
    assert steps.sum() > 0  # some days were wet, so the check had teeth
    assert at_block_edges / steps.mean() < 1.02


def test_the_soil_on_the_first_morning_has_a_history():
    # a record opens on the soil the weather before it left, not on a fixed state it then
    # drifts away from: the first morning differs with the start date and from pixel to pixel
    january = FieldTwin(0, 0, 90, 90, seed=4, days=1).first_state()
    march = FieldTwin(0, 0, 90, 90, seed=4, days=1, start="2022-03-01").first_state()
    assert january.fast.std() > 0.001
    assert np.abs(january.fast - march.fast).mean() > 0.005
    assert np.abs(january.slow - march.slow).mean() > 0.005


def test_the_rain_before_the_record_is_a_window_of_the_lattice():
    # the rain the first morning's soil was walked through, as a rain archive holds it for the
    # end of the year before: the same in a window cut from a larger one, wet on some days
    big = list(FieldTwin(0, 0, 90, 90, seed=4, days=1).rain_before(30))
    small = list(FieldTwin(27, 18, 36, 45, seed=4, days=1).rain_before(30))
    assert len(big) == len(small) == 30
    for a, b in zip(big, small, strict=True):
        assert np.allclose(a[27:63, 18:63], b, atol=1e-6)
    assert sum(float(r.mean() > 0.1) for r in big) >= 3
    with pytest.raises(ValueError, match="reaches 90 days back"):
        next(FieldTwin(0, 0, 9, 9, seed=4, days=1).rain_before(91))
