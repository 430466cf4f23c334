"""One small-budget fit on twin 0, then the held-out MAE of the last readout's parts: the whole answer, the trunk's state path alone, the context's linear paths alone; and the paths' weight norms.

PYTHONPATH=. python benchmarks/experiments/readout_parts.py point 400
"""

import json
import sys

import numpy as np
import torch

from stimpute import Imputer
from stimpute.bench.__main__ import BUDGETS
from stimpute.bench.datasets import twin_problem
from stimpute.models import st_transformer as stm

protocol, budget = sys.argv[1], float(sys.argv[2])
p = twin_problem(protocol, seed=0)
imp = Imputer("st_transformer", seed=0, **dict(BUDGETS["small"]["st"]))
imp.fit(p.values, p.covariates, p.static, times=p.times, time_budget_s=budget)
orig = stm.Readout.forward
PART = {"v": "full"}


def forward(self, x, context):
    out = orig(self, x, context)
    if PART["v"] == "full" or context is None:
        return out
    state = self.state(self.norm(x.float()))
    ctx_part = out - state
    keep = state if PART["v"] == "state" else ctx_part
    return torch.stack([keep[..., 0], out[..., 1]], dim=-1)


stm.Readout.forward = forward
res = {}
e = p.eval_mask
for part in ("full", "state", "context"):
    PART["v"] = part
    r = imp.impute(p.values, p.covariates, p.static, times=p.times)
    res[part] = float(np.abs(r.values[e] - p.target[e]).mean())
m = imp.method.model
res["steps"] = imp.method.report.steps
res["weights"] = {
    f"layer{i}": {
        "shared": float(h.context.weight[0].norm()),
        **{f"regime{k}": float(g.weight[0].norm()) for k, g in enumerate(h.regimes)},
    }
    for i, h in enumerate(m.readouts)
}
print(json.dumps(res, indent=1))
