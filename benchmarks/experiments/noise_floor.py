"""The retrieval-noise floor of each twin protocol: what no fill can beat on held-out values.

The twin's held-out values are retrievals: truth + a per-pixel bias + noise drawn anew each
day. An oracle that knows the true soil moisture and each pixel's bias predicts
clip(truth + bias); what is left is the day's noise, which nothing can predict. Its MAE on the
bench's own held-out values (same twins, same masks as `python -m stimpute.bench --dataset
twin`) is the floor; a target below it cannot be met. Also scored: the truth alone (an oracle
that knows the moisture but not the bias), and the floor expected from the noise settings.

    python benchmarks/experiments/noise_floor.py point 0,1,2,3,4 > out.json

Results: README.md (random points) and benchmarks/README.md.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from stimpute.bench.datasets import twin_problem
from stimpute.metrics import mae
from stimpute.simulate import RETRIEVAL_RANGE, twin


def floor(protocol: str, seed: int) -> dict:
    p = twin_problem(protocol, seed=seed)
    tw = twin(height=36, width=36, days=365, seed=seed)  # twin_problem's twin, checked below
    if not np.array_equal(tw.observed, p.target, equal_nan=True):
        raise SystemExit("the twin here is not the bench's twin: match twin_problem's settings")
    e = p.eval_mask
    oracle = np.clip(tw.truth + tw.retrieval_bias, *RETRIEVAL_RANGE)
    sigma = np.broadcast_to(tw.retrieval_noise_std, e.shape)[e]
    expected = float(np.sqrt(2 / np.pi) * sigma.mean())
    return {
        "seed": seed,
        "held_out": int(e.sum()),
        "oracle_mae": mae(oracle, p.target, e),
        "truth_mae": mae(p.truth, p.target, e),
        "expected_noise_mae": expected,
    }


def main(protocol: str, seeds: list[int]) -> dict:
    rows = [floor(protocol, s) for s in seeds]
    o = np.array([r["oracle_mae"] for r in rows])
    return {"protocol": protocol, "twins": rows,
            "oracle_mae_mean": float(o.mean()),
            "oracle_mae_sd": float(o.std(ddof=1)) if len(o) > 1 else None}  # fmt: skip


if __name__ == "__main__":
    protocol = sys.argv[1] if len(sys.argv) > 1 else "point"
    seeds = [int(s) for s in (sys.argv[2] if len(sys.argv) > 2 else "0").split(",")]
    print(json.dumps(main(protocol, seeds), indent=1))
