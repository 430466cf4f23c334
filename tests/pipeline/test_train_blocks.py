"""Where the fill and `make train` learn: one block of a small region, crops across a large one."""

import numpy as np

from pipeline.tile import Window
from pipeline.train import training_blocks


def test_a_region_that_fits_is_learnt_from_one_block():
    land = np.ones((36, 36), bool)
    assert training_blocks(land, np.ones((36, 36)), 144) == [Window(0, 0, 36, 36)]


def test_a_state_is_learnt_from_crops_spread_over_all_of_it():
    h, w = 1188, 1296
    land = np.ones((h, w), bool)
    land[:, : w // 3] = False  # the west third is outside the boundary
    seen = np.random.default_rng(0).poisson(20, (h, w))
    blocks = training_blocks(land, seen, 144)
    assert 12 <= len(blocks) <= 16  # (144 / 36)^2 strata, less those with no land
    assert all(b.height == b.width == 36 for b in blocks)
    rows = [b.row for b in blocks]
    cols = [b.col for b in blocks]
    assert min(rows) < h / 4 and max(rows) > 3 * h / 4  # north to south
    assert max(cols) > 3 * w / 4 and min(cols) >= w // 3 - 36  # east, and none far outside
    assert all(land[b.rows, b.cols].any() for b in blocks)


def test_the_model_reads_the_smooth_9km_product_and_remembers_daymets_rain():
    from pipeline.fill_inputs import Features
    from pipeline.train import model_hparams
    from stimpute.config import NeuralConfig

    both = Features(("lst", "prcp", "sm_9km", "tmax"), ("elevation",))
    hparams = model_hparams(both, "cpu")
    assert (hparams["prior_covariate"], hparams["rain_covariate"]) == (2, 1)
    neither = model_hparams(Features(("lst", "tmax"), ()), "cpu")  # no add-on without its input
    assert "prior_covariate" not in neither and "rain_covariate" not in neither
    config = NeuralConfig.build(**model_hparams(both, "cpu"))
    assert not config.model.temporal_context
