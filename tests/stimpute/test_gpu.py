"""CUDA checks (marker `gpu`, off by default; `pytest -m gpu` runs them and they skip without a
CUDA device). Training and inference on the GPU, bf16 against fp32, GPU checkpoints on CPU."""

import numpy as np
import pytest
import torch

import stimpute
from stimpute.context import spatial_context, temporal_context
from tests.conftest import TINY

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _fit(tw, device):
    imp = stimpute.Imputer("st_transformer", seed=0, device=device, window=24, **TINY)
    return imp.fit(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)


def test_context_features_match_on_cpu_and_gpu():
    rng = np.random.default_rng(0)
    values = torch.from_numpy(rng.normal(size=(3, 30, 64)).astype(np.float32))
    visible = torch.from_numpy(rng.random((3, 30, 64)) < 0.3)
    cov = torch.from_numpy(rng.normal(size=(3, 30, 64, 2)).astype(np.float32))
    for fn, args in ((temporal_context, (cov,)), (spatial_context, ((8, 8),))):
        cpu = fn(values, visible, *args)
        gpu = fn(
            values.cuda(), visible.cuda(), *(a.cuda() if torch.is_tensor(a) else a for a in args)
        )
        assert torch.allclose(cpu, gpu.cpu(), atol=1e-5)


def test_gpu_fit_and_impute_keep_observed_values(small_twin):
    tw = small_twin
    imp = _fit(tw, "cuda")
    assert imp.method.device.type == "cuda"
    res = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    observed = ~np.isnan(tw.observed)
    assert np.array_equal(res.values[observed], tw.observed[observed])
    assert np.isfinite(res.values).all() and (res.std[~observed] > 0).all()


def test_bf16_gpu_inference_matches_fp32_cpu(small_twin, tmp_path):
    """A checkpoint written on the GPU loads on the CPU; bf16 autocast stays within bf16
    rounding of the fp32 CPU answer (relative error of the filled values under 1e-2)."""
    tw = small_twin
    imp = _fit(tw, "cuda")
    gpu = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    imp.save(tmp_path / "m.pt")
    cpu_imp = stimpute.Imputer.load(tmp_path / "m.pt", device="cpu")
    cpu = cpu_imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    gaps = np.isnan(tw.observed)
    rel = np.linalg.norm(gpu.values[gaps] - cpu.values[gaps]) / np.linalg.norm(cpu.values[gaps])
    assert rel < 5e-3, rel
