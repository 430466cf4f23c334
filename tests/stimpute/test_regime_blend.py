"""The answer's last step on grids: a linear blend per neighbour regime, fitted on validation."""

import numpy as np
import torch

import stimpute
from stimpute.context import RecordOffset, model_inputs
from stimpute.models import blend as blend_module
from stimpute.models.blend import (
    BLENDED,
    MIN_VALUES,
    RegimeBlend,
    blend_features,
    identity,
    regime_of,
)


def _contexts(n_steps: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Values on a 9 x 9 grid with 5-50% seen each step: (values [T, 81], context
    [T, 81, n_context]) with every regime present and shares of neighbours seen from few to
    most."""
    rng = np.random.default_rng(seed)
    values = torch.from_numpy(rng.random((n_steps, 81)).astype(np.float32))
    missing = rng.uniform(0.5, 0.95, (n_steps, 1))
    values[torch.from_numpy(rng.random((n_steps, 81)) < missing)] = float("nan")
    visible = ~values.isnan()
    offset = RecordOffset.of(values, (9, 9)).features(torch.zeros(1, n_steps).long(), None)
    kw = model_inputs(values[None], visible[None], torch.zeros(1, n_steps), grid=(9, 9),
                      offset=offset)  # fmt: skip
    return values, kw["context"][0]


def test_identity_until_fitted_and_exact():
    _, ctx = _contexts(20, 0)
    answer, log_scale = torch.randn(ctx.shape[:-1]), torch.randn(ctx.shape[:-1])
    mean, scale = RegimeBlend()(answer, log_scale, ctx)
    assert torch.equal(mean, answer) and torch.equal(scale, log_scale)


def test_fit_blends_where_a_neighbour_is_seen_and_leaves_the_rest_alone():
    _, ctx = _contexts(400, 1)
    answer = torch.randn(ctx.shape[:-1])
    feats = blend_features(answer, ctx)
    regime = regime_of(ctx)
    # regime 1 leans on the 3 x 3 mean more where more of it is seen
    true = torch.tensor([[0.5, 0.5, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0],
                         [0.2, 0.0, 0.3, 0.0, 0.0, 0.5, 0.0, 0.0],
                         [0.3, 0.3, 0.0, 0.4, -0.1, 0.0, 0.0, 0.0]])  # fmt: skip
    target = (feats * true[regime]).sum(-1)
    noisy = target + torch.distributions.Laplace(0.0, 0.1).sample(target.shape)
    blend = RegimeBlend()
    flat = (answer.flatten(), ctx.flatten(0, 1))
    counts = blend.fit(*flat, noisy.flatten())
    assert min(counts) >= MIN_VALUES and sum(counts) == answer.numel()
    assert torch.equal(blend.coef[0], identity()[0])  # no neighbour: as is
    # the features a regime has are recovered, near: noise and the shrink, which weighs most on
    # the share features (they are small) and on the mean they are nearly collinear with
    for r in BLENDED:
        used = true[r] != 0
        torch.testing.assert_close(blend.coef[r][used], true[r][used], atol=0.08, rtol=0)
    mean, _ = blend(answer, torch.zeros_like(answer), ctx)
    near = regime > 0
    assert (mean - target)[near].abs().mean() < 0.05 * (answer - target)[near].abs().mean()

    # too few values of regime 2 left: it keeps the network's answer
    thin = regime.flatten() != 2
    thin[torch.nonzero(~thin)[: MIN_VALUES - 1].flatten()] = True
    blend = RegimeBlend()
    blend.fit(*(a[thin] for a in flat), noisy.flatten()[thin])
    assert torch.equal(blend.coef[2], identity()[0])
    assert not torch.equal(blend.coef[1], identity()[0])


def test_a_std_factor_per_blended_regime():
    _, ctx = _contexts(400, 2)
    regime = regime_of(ctx)
    # |error| / std of Laplace errors whose std is right in regime 0, twice too wide in 1 and
    # half what it should be in 2
    err = torch.distributions.Laplace(0.0, 1.0).sample(regime.shape).abs() / 2**0.5
    ratio = err / torch.tensor([1.0, 2.0, 0.5])[regime]
    blend = RegimeBlend()
    blend.fit_scales(ratio, ctx)
    factor = blend.log_scale_shift.exp()
    assert factor[0] == 1.0  # regime 0 keeps the pooled factor alone
    torch.testing.assert_close(factor[1:], torch.tensor([0.5, 2.0]), atol=0.1, rtol=0)


def test_fitted_on_grids_kept_by_save_and_load_off_on_point_sets(tmp_path, monkeypatch):
    monkeypatch.setattr(blend_module, "MIN_VALUES", 20)  # a tiny twin holds few validation values
    obs = stimpute.simulate.twin(height=12, width=12, days=120, seed=0).observed
    kw = {"window": 24, "dim": 8, "layers": 1, "heads": 2, "seed": 0}
    imp = stimpute.Imputer("st_transformer", **kw).fit(obs, max_epochs=3)
    model = imp.method.model
    assert model.cfg.regime_blend and imp.method.report.blend_counts is not None
    assert not torch.equal(model.blend.coef, RegimeBlend().coef)
    imp.save(tmp_path / "m.pt")
    again = stimpute.Imputer.load(tmp_path / "m.pt")
    np.testing.assert_array_equal(again.impute(obs).values, imp.impute(obs).values)

    points = obs.reshape(obs.shape[0], -1)
    on_set = stimpute.Imputer("st_transformer", **kw).fit(points, max_epochs=1)
    assert on_set.method.model.blend is None and on_set.method.report.blend_counts is None


def test_a_checkpoint_from_before_the_share_features_gives_the_answers_it_gave():
    _, ctx = _contexts(50, 3)
    answer, log_scale = torch.randn(ctx.shape[:-1]), torch.zeros(ctx.shape[:-1])
    old = torch.tensor([[1.0, 0, 0, 0, 0], [0.2, 0.1, 0.5, 0.2, 0.01], [0.4, 0.3, 0, 0.3, 0]])
    feats = blend_features(answer, ctx)[..., :5]
    want = (feats * old[regime_of(ctx)]).sum(-1)
    blend = RegimeBlend()
    blend.load_state_dict({"coef": old, "log_scale_shift": torch.zeros(3)})
    torch.testing.assert_close(blend(answer, log_scale, ctx)[0], want)
