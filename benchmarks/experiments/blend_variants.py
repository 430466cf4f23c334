"""One small-budget fit on a twin, then the held-out MAE of variants of the regime blend
(models/blend.py), all refitted on the same validation values of the same trained network, so
the comparison is paired and free of training noise.

Variants:
- none:   the network's answer (the blend at identity)
- base:   the blend as on main (answer, in time, 3 x 3 + offset, 7 x 7 + offset, constant)
- count:  base plus the 3 x 3 estimate, the 7 x 7 estimate and the answer times the share of
          neighbours seen (3 x 3: of 8, 7 x 7: of 48), so the weights can follow how many are seen
- count_all: base plus each of the first four times each share (3 x 3 and 7 x 7)
- bins:   base, with the 3 x 3 regime split by how many of the 8 are seen (1-2, 3-5, 6-8)

PYTHONPATH=. python benchmarks/experiments/blend_variants.py point 0 400 [out.json]

Run from `25d7829`: from `87e2d3c` on, "base" already has the share features.
"""

import json
import sys

import numpy as np
import torch

from stimpute import Imputer
from stimpute.bench.__main__ import BUDGETS
from stimpute.bench.datasets import twin_problem
from stimpute.models import blend as bl

protocol, seed, budget = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
CAPTURED: dict[str, torch.Tensor] = {}
orig_fit = bl.RegimeBlend.fit


def capture(self, answer, context, target):
    CAPTURED.update(answer=answer.clone(), context=context.clone(), target=target.clone())
    return orig_fit(self, answer, context, target)


bl.RegimeBlend.fit = capture


def counts(context):
    ctx = context.float()
    return torch.expm1(ctx[..., -5]).round(), torch.expm1(ctx[..., -3]).round()


def feats_count(answer, context):
    base = bl.blend_features(answer, context)
    c3, c7 = counts(context)
    s3, s7 = (c3 / 8).clamp(max=1), (c7 / 48).clamp(max=1)
    extra = torch.stack([base[..., 2] * s3, base[..., 3] * s7, base[..., 0] * s3], dim=-1)
    return torch.cat([base, extra], dim=-1)


def feats_count_all(answer, context):
    base = bl.blend_features(answer, context)
    c3, c7 = counts(context)
    s3, s7 = (c3 / 8).clamp(max=1), (c7 / 48).clamp(max=1)
    extra = [base[..., k] * s for k in (0, 1, 2, 3) for s in (s3, s7)]
    return torch.cat([base, torch.stack(extra, dim=-1)], dim=-1)


def regime_bins(context):
    r = bl.regime_of(context)
    c3, _ = counts(context)
    split = torch.where(c3 >= 6, 5, torch.where(c3 >= 3, 4, 3))
    return torch.where(r == 1, split, r)  # 0, 2, and 3/4/5 for the 3 x 3 regime by count


VARIANTS = {
    "base": (bl.blend_features, bl.regime_of, (1, 2), 3),
    "count": (feats_count, bl.regime_of, (1, 2), 3),
    "count_all": (feats_count_all, bl.regime_of, (1, 2), 3),
    "bins": (bl.blend_features, regime_bins, (2, 3, 4, 5), 6),
}


class Variant(torch.nn.Module):
    def __init__(self, feats, regime, blended, n_regimes, log_scale_shift):
        super().__init__()
        self.feats, self.regime, self.blended = feats, regime, blended
        self.coef = None
        self.n_regimes = n_regimes
        self.shift = log_scale_shift

    def fit(self, answer, context, target):
        x_all = self.feats(answer, context).double()
        reg = self.regime(context)
        start = torch.zeros(self.n_regimes, x_all.shape[-1], dtype=torch.float64)
        start[:, 0] = 1
        coef = start.clone()
        n = []
        for r in range(self.n_regimes):
            rows = reg == r
            n.append(int(rows.sum()))
            if r not in self.blended or n[-1] < bl.MIN_VALUES:
                continue
            x, y = x_all[rows], target[rows].double()
            gram = x.T @ x + bl.SHRINK * n[-1] * torch.eye(x.shape[1], dtype=x.dtype)
            coef[r] = start[r] + torch.linalg.solve(gram, x.T @ (y - x @ start[r]))
        self.coef = coef.float()
        return n

    def forward(self, answer, log_scale, context):
        reg = self.regime(context)
        mean = (self.feats(answer, context) * self.coef[reg]).sum(-1)
        base_reg = bl.regime_of(context)
        return mean.to(answer.dtype), log_scale + self.shift[base_reg].to(log_scale.dtype)


p = twin_problem(protocol, seed=seed)
imp = Imputer("st_transformer", seed=seed, **dict(BUDGETS["small"]["st"]))
imp.fit(p.values, p.covariates, p.static, times=p.times, time_budget_s=budget)
model = imp.method.model
fitted = model.blend
e = p.eval_mask


def score(tag):
    r = imp.impute(p.values, p.covariates, p.static, times=p.times)
    err = np.abs(r.values[e] - p.target[e])
    out = {"mae": float(err.mean())}
    if p.truth is not None:
        out["truth_mae_eval"] = float(np.abs(r.values[e] - p.truth[e]).mean())
    print(tag, json.dumps(out), flush=True)
    return out


res = {"protocol": protocol, "seed": seed, "steps": imp.method.report.steps}
res["fitted_on_main"] = score("fitted_on_main")
fitted.reset()
res["none"] = score("none")
shift = fitted.log_scale_shift.clone()
for name, (feats, regime, blended, n_reg) in VARIANTS.items():
    v = Variant(feats, regime, blended, n_reg, shift)
    res[f"{name}_counts"] = v.fit(CAPTURED["answer"], CAPTURED["context"], CAPTURED["target"])
    model.blend = v
    res[name] = score(name)
model.blend = fitted
print(json.dumps(res, indent=1))
if len(sys.argv) > 4:
    with open(sys.argv[4], "w") as f:
        json.dump(res, f, indent=1)
