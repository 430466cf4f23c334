"""Context features are computed for a model that reads them (the context add-on) and only then."""

import numpy as np
import pytest
import torch

import stimpute
import stimpute.context
from stimpute.context import RecordOffset, model_inputs
from stimpute.models import STTransformer
from stimpute.models.st_transformer import STTransformerConfig
from tests.conftest import TINY


def test_without_the_context_add_on_the_answer_does_not_depend_on_context_features():
    g = torch.Generator().manual_seed(0)
    values = torch.randn(2, 6, 5 * 4, generator=g)
    visible = torch.rand(values.shape, generator=g) < 0.5
    values[~visible] = float("nan")
    times = torch.arange(6.0).expand(2, -1)
    offset = RecordOffset.of(values[0], (5, 4)).features(torch.arange(6).expand(2, -1), None)
    full = model_inputs(values, visible, times, grid=(5, 4), offset=offset)
    bare = model_inputs(values, visible, times, grid=(5, 4), offset=None)
    assert "context" in full and "context" not in bare
    model = STTransformer(STTransformerConfig(dim=16, layers=2, heads=2, temporal_context=False))
    with torch.no_grad():
        a = model.eval()(grid=(5, 4), **full)[-1][0]
        b = model(grid=(5, 4), **bare)[-1][0]
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("context", [False, True])
def test_training_and_inference_compute_context_features_only_for_the_add_on(
    context, small_twin, monkeypatch
):
    calls = []
    real = stimpute.context.temporal_context

    def counted(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(stimpute.context, "temporal_context", counted)
    tw = small_twin
    imp = stimpute.Imputer(
        "st_transformer", seed=0, device="cpu", window=12, temporal_context=context,
        **{**TINY, "max_steps": 3},
    )  # fmt: skip
    imp.fit(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    res = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    assert not np.isnan(res.values).any()
    assert bool(calls) == context
