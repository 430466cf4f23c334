"""Where inference time goes on a GPU: one batch of windows through the default model.

    python benchmarks/profile_gpu.py [--batch 48] [--compile]

Prints the top CUDA kernels (torch.profiler) and event-timed medians of the three stages of
`stimpute.inference.predict`: cutting windows and context features, the forward pass, and the
overlap accumulation. Notes on what was tried are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch

from stimpute.covariates import PER_CHANNEL
from stimpute.layout import prepare
from stimpute.models import STTransformer, STTransformerConfig
from stimpute.simulate import twin
from stimpute.tensors import OnDevice, Scaler


def timed(fn, repeats: int = 10) -> float:
    """Median milliseconds of fn() between CUDA events, after two warm-up calls."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=48)
    p.add_argument("--compile", action="store_true")
    args = p.parse_args()
    dev = torch.device("cuda")
    tw = twin(height=36, width=36, days=365, seed=0)
    batch = prepare(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    data = OnDevice.from_batch(batch, Scaler.fit(batch), dev)
    n_cov = PER_CHANNEL * tw.covariates.shape[-1]  # each as given, filled in time, its gap
    cfg = STTransformerConfig(n_covariates=n_cov, n_static=tw.static.shape[-1])
    model = STTransformer(cfg).to(dev).eval()
    rng = np.random.default_rng(0)
    t0 = torch.from_numpy(rng.integers(0, 365 - 72, args.batch)).to(dev)
    kw = data.inputs(t0, 72, None, (36, 36))
    tokens = args.batch * 72 * 36 * 36

    def forward(m=model):
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            return m(grid=(36, 36), all_layers=False, **kw)

    rows = {"inputs (windows + context)": timed(lambda: data.inputs(t0, 72, None, (36, 36)))}
    rows["forward (eager)"] = timed(forward)
    if args.compile:
        compiled = torch.compile(model, dynamic=False)
        rows["forward (torch.compile)"] = timed(lambda: forward(compiled))
    acc = torch.zeros(2, 365, 1296, device=dev)
    out = torch.rand(2, args.batch, 72, 1296, device=dev)
    t = (t0[:, None] + torch.arange(72, device=dev))[:, :, None].expand(-1, -1, 1296)
    n = torch.arange(1296, device=dev)[None, None].expand_as(t)
    rows["accumulate (index_put_)"] = timed(
        lambda: [acc[c].index_put_((t, n), out[c], accumulate=True) for c in range(2)]
    )
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        forward()
        torch.cuda.synchronize()
    print(
        prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=70)
    )
    print(f"\nbatch {args.batch} windows = {tokens / 1e6:.1f} M tokens")
    print("| stage | ms | M tokens/s |\n|---|---|---|")
    for name, ms in rows.items():
        print(f"| {name} | {ms:.2f} | {tokens / ms / 1e3:.1f} |")


if __name__ == "__main__":
    main()
