"""Why does the std factor fitted on validation boxes under-cover the twin's held-out days?

One fit of a neural model on a twin protocol (the bench's `small` settings), then three probes
on the same fit, each against the oracle factor (the one that would give 90% on the eval
values themselves):

- `inference`: fit the factor through the inference path (whole grid, overlapping windows)
  on the validation-held values, instead of the training crops.
- `give_back`: give back 30% / 60% of the held days as input (whole time steps, so the hiding
  modes keep their shape) and fit on the rest: does a lower hiding rate than validation's
  50% move the factor towards the eval's 20%?
- `tile`: impute with inference tiles of 36, 24 and 12 (the training crop): does inferring on
  larger tiles than the model trained on shift the errors or the std?

    python benchmarks/experiments/calibration_gap.py day st_transformer 0 400 > out.json

It reaches into the fitted method (its `config.train`, `Validation`), which is fine for a probe
and is why this is not part of the bench. Results: benchmarks/README.md, "Calibration".
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import torch

from stimpute import Imputer
from stimpute.bench.__main__ import BUDGETS
from stimpute.bench.datasets import twin_problem
from stimpute.calibration import fit_factor, pooled_std_factor
from stimpute.context import RecordOffset
from stimpute.imputer import prepare
from stimpute.metrics import coverage
from stimpute.tensors import Scaled
from stimpute.validation import Validation


def main(protocol: str, model: str, seed: int, budget: float) -> dict:
    p = twin_problem(protocol, seed=seed)
    imp = Imputer(model, seed=seed, **dict(BUDGETS["small"]["st"]))
    imp.fit(p.values, p.covariates, p.static, times=p.times, time_budget_s=budget)
    method: Any = imp.method  # a TransformerMethod: its fitted parts are read below
    f0 = method.std_scale

    def impute(values: np.ndarray):
        return imp.impute(values, p.covariates, p.static, times=p.times)

    res = impute(p.values)
    e = p.eval_mask
    pred, target = res.values[e], p.target[e]
    err = np.abs(pred - target)
    raw = res.std[e] / f0  # the head's std, before the factor

    def scored(f: float) -> dict:
        return {"factor": f, "cov90": coverage(pred, raw * f, target),
                "cov50": coverage(pred, raw * f, target, level=0.5)}  # fmt: skip

    out = {"protocol": protocol, "model": model, "seed": seed, "steps": method.report.steps,
           "eval_mae": float(err.mean()), "validation": scored(f0),
           "oracle": scored(fit_factor(err / raw))}  # fmt: skip

    # the validation boxes training drew: its rng is seeded with the model's seed and the draw
    # is the first thing it takes from it
    data = Scaled.build(prepare(p.values, p.covariates, p.static, None, p.times), method.scaler)
    cfg = method.config.train
    val = Validation.draw(data, cfg, np.random.default_rng(seed))
    held = val.held.reshape(p.values.shape)

    on_path = impute(np.where(held, np.nan, p.values))
    path_err = np.abs(on_path.values[held] - p.values[held])
    out["inference"] = scored(fit_factor(path_err / (on_path.std[held] / f0)))
    out["inference"]["validation_mae"] = float(path_err.mean())

    train_values = np.where(val.held, np.nan, data.values)
    offset = RecordOffset.of(torch.from_numpy(train_values), data.grid)
    rng = np.random.default_rng(123)
    for share in (0.3, 0.6):
        back = np.asarray(rng.random(val.held.shape[0]) < share)
        kept = val.held & ~back[:, None]
        # the same fit training makes (calibration.pooled_std_factor), on the held values not
        # given back
        mean, scale, truth = Validation(kept, val.boxes).predictions(
            method.model, data, np.where(kept, np.nan, data.values), offset, cfg, method.device
        )
        f = pooled_std_factor(mean, scale, truth)
        out[f"give_back_{share}"] = scored(f)

    for tile in (24, 12):
        imp.set_inference(infer_tile=tile)
        r = impute(p.values)
        out[f"tile_{tile}"] = {
            "eval_mae": float(np.abs(r.values[e] - target).mean()),
            "cov90": coverage(r.values[e], r.std[e], target),
        }
    return out


if __name__ == "__main__":
    protocol, model, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    budget = float(sys.argv[4]) if len(sys.argv) > 4 else 400.0
    print(json.dumps(main(protocol, model, seed, budget), indent=1))
