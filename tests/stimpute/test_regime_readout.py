"""The readout's linear path per neighbour regime: where a neighbour is seen that day or not."""

import numpy as np
import torch

import stimpute
from stimpute.context import RecordOffset, model_inputs, neighbour_regimes
from stimpute.models.st_transformer import Readout


def _context_of_one_seen_pixel() -> torch.Tensor:
    """A 9 x 9 grid, one step, only the centre (4, 4) seen: the context [81, n_context]."""
    values = torch.full((1, 1, 81), float("nan"))
    values[0, 0, 4 * 9 + 4] = 0.3
    visible = ~values.isnan()
    offset = RecordOffset.of(values[0], (9, 9)).features(torch.zeros(1, 1, dtype=torch.long), None)
    kw = model_inputs(values, visible, torch.zeros(1, 1), grid=(9, 9), offset=offset)
    return kw["context"][0, 0]


def test_regimes_from_the_neighbours_seen_that_day():
    near, wide_only = (r.reshape(9, 9) for r in neighbour_regimes(_context_of_one_seen_pixel()))
    assert near[4, 5] == 1 and wide_only[4, 5] == 0  # next to the seen pixel
    assert near[1, 4] == 0 and wide_only[1, 4] == 1  # three away: in the 7 x 7 box only
    assert near[0, 0] == 0 and wide_only[0, 0] == 0  # four away: none seen
    assert near[4, 4] == 0 and wide_only[4, 4] == 0  # the seen pixel does not count itself
    assert int(near.sum()) == 8 and int(wide_only.sum()) == 49 - 9


def test_each_regime_path_moves_only_its_own_tokens():
    ctx = _context_of_one_seen_pixel()
    torch.manual_seed(0)
    plain, gated = Readout(8, ctx.shape[-1]), Readout(8, ctx.shape[-1], regimes=True)
    gated.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(81, 8)
    # zero-initialised: the same answer as a single path until training moves them
    assert torch.equal(plain(x, ctx), gated(x, ctx))
    near, wide_only = neighbour_regimes(ctx)
    with torch.no_grad():
        gated.regimes[0].bias.fill_(1.0)
        gated.regimes[1].bias.fill_(10.0)
    shift = (gated(x, ctx) - plain(x, ctx))[:, 0]
    assert torch.allclose(shift, near + 10 * wide_only)


def test_on_by_default_on_grids_off_on_point_sets():
    rng = np.random.default_rng(0)
    grid = np.where(rng.random((40, 6, 6)) < 0.5, rng.random((40, 6, 6)), np.nan)
    kw = {"window": 8, "dim": 8, "layers": 1, "heads": 2, "seed": 0}
    on_grid = stimpute.Imputer("st_transformer", **kw).fit(grid.astype(np.float32), max_epochs=1)
    points = grid.reshape(40, 36).astype(np.float32)
    on_set = stimpute.Imputer("st_transformer", **kw).fit(points, max_epochs=1)
    assert on_grid.method.model.cfg.regime_readout
    assert not on_set.method.model.cfg.regime_readout
    assert len(on_grid.method.model.readouts[0].regimes) == 2
    assert len(on_set.method.model.readouts[0].regimes) == 0
