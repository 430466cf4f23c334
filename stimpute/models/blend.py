"""The ST-Transformer's last step on grids: a linear blend per neighbour regime, fitted after
training on the validation values.

A value hidden among seen neighbours of the same day is best predicted quite differently from
one hidden in a whole missed day: the neighbours' mean plus the pixel's record offset is most of
the answer in the first case and absent in the second. The network learns that switch only
partly in a short fit (`benchmarks/experiments/point_gap.py`; the regime readout). This module
takes the network's answer as it is and, per regime (no neighbour seen that step, a 3 x 3 one
seen, only a 7 x 7 one seen), fits by least squares a blend of

    the network's answer, the value interpolated in time, the 3 x 3 mean + record offset,
    the 7 x 7 mean + record offset, a constant, and the two means and the answer times the
    share of neighbours seen (so the weights follow how many are seen)

on validation values that were never trained on (`training.Validation`). The fit is shrunk
towards "the network's answer unchanged", and a regime with fewer than MIN_VALUES validation
values keeps it. Until fitted, the blend is exactly the network's answer, so training is the
same with or without it.

The targets are retrievals with noise; noise on the target alone leaves the least-squares blend
unbiased for the truth, and the neighbour means' own noise is part of what the fit weighs.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from stimpute.calibration import fit_factor
from stimpute.context import NEIGHBOURHOOD_SIZES, Neighbours, neighbour_regimes

FEATURES = (
    "answer",
    "in time",
    "3 x 3 mean + offset",
    "7 x 7 mean + offset",
    "constant",
    # the same times the share of neighbours seen (3 x 3: of 8, 7 x 7: of 48), so the weights
    # follow how many are seen: the validation hides 20-80% of a window, the gaps to fill may
    # leave far more (or fewer) neighbours seen, and a mean of many is worth more than of few
    "3 x 3 mean + offset, x share seen",
    "7 x 7 mean + offset, x share seen",
    "answer x 3 x 3 share seen",
)
REGIMES = ("no neighbour", "3 x 3 neighbour", "only 7 x 7 neighbour")
# only where a neighbour is seen that step: without one, the features a blend could weigh are
# inputs of the network already, and the validation's values of that regime come from a few
# whole days, so a fit there does not carry over to whole missed days
BLENDED = (1, 2)
MIN_VALUES = 200  # fewer validation values than this in a regime: it keeps the network's answer
SHRINK = 1e-3  # ridge towards the network's answer, per validation value


def regime_of(context: torch.Tensor) -> torch.Tensor:
    """0 where no neighbour is seen that step, 1 where a 3 x 3 one is, 2 where only a 7 x 7 one
    is (long, the context's leading shape)."""
    near, wide_only = neighbour_regimes(context)
    return (near + 2 * wide_only).long()


def blend_features(answer: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """[..., len(FEATURES)] from the network's answer [...] and the context [..., n_context],
    which starts with the value interpolated in time."""
    ctx = context.float()
    seen = Neighbours.of(ctx)
    near, wide = (
        torch.where(count > 0, mean + seen.offset, 0.0)
        for mean, count in zip(seen.means, seen.counts, strict=True)
    )
    near_share, wide_share = (
        (count / size).clamp(0.0, 1.0)
        for count, size in zip(seen.counts, NEIGHBOURHOOD_SIZES, strict=True)
    )
    answer = answer.float()
    return torch.stack(
        [answer, ctx[..., 0], near, wide, torch.ones_like(near),
         near * near_share, wide * wide_share, answer * near_share],
        dim=-1,
    )  # fmt: skip


def identity() -> torch.Tensor:
    """Coefficients that give the network's answer unchanged, (regime, feature)."""
    coef = torch.zeros(len(REGIMES), len(FEATURES))
    coef[:, 0] = 1.0
    return coef


class RegimeBlend(nn.Module):
    """(answer, log scale), context -> the blended answer and its log scale; identity until
    fitted. Only the regimes with a neighbour seen are blended (BLENDED). The blend changes how
    far off their answers are, so their std gets its own factor too (`fit_scales`), on top of
    the pooled recalibration (calibration.py) that every value gets, which is fitted first, on
    the network's own answers."""

    coef: torch.Tensor  # (regime, feature)
    log_scale_shift: torch.Tensor  # (regime,)

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("coef", identity())
        self.register_buffer("log_scale_shift", torch.zeros(len(REGIMES)))

    def forward(
        self, answer: torch.Tensor, log_scale: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        regime = regime_of(context)
        mean = (blend_features(answer, context) * self.coef[regime]).sum(-1)
        return mean.to(answer.dtype), log_scale + self.log_scale_shift[regime].to(log_scale.dtype)

    def _load_from_state_dict(
        self, state_dict: dict[str, torch.Tensor], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        """A checkpoint from before the share features (3 x 5 coefficients) loads with zero
        weight on them, which gives the same answers it gave."""
        coef = state_dict.get(prefix + "coef")
        if coef is not None and coef.shape[-1] < len(FEATURES):
            pad = coef.new_zeros(*coef.shape[:-1], len(FEATURES) - coef.shape[-1])
            state_dict[prefix + "coef"] = torch.cat([coef, pad], dim=-1)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def reset(self) -> None:
        self.coef.copy_(identity())
        self.log_scale_shift.zero_()

    @torch.no_grad()
    def fit(self, answer: torch.Tensor, context: torch.Tensor, target: torch.Tensor) -> list[int]:
        """Least squares per blended regime, shrunk towards identity; answer, target [n] and
        context [n, n_context] at validation values, with the blend at identity. Returns the
        number of values in each regime."""
        feats = blend_features(answer, context).double()
        regime = regime_of(context)
        start = identity().double()
        coef = start.clone()
        counts = [int((regime == r).sum()) for r in range(len(REGIMES))]
        for r in BLENDED:
            if counts[r] < MIN_VALUES:
                continue
            rows = regime == r
            x, y = feats[rows], target[rows].double()
            resid = y - x @ start[r]  # solve for the change from identity
            gram = x.T @ x + SHRINK * counts[r] * torch.eye(x.shape[1], dtype=x.dtype)
            coef[r] = start[r] + torch.linalg.solve(gram, x.T @ resid)
        self.coef.copy_(coef.to(self.coef))
        return counts

    @torch.no_grad()
    def fit_scales(self, ratio: torch.Tensor, context: torch.Tensor) -> None:
        """A std factor per blended regime (calibration.fit_factor) from |error| / std at the
        validation values, the std with every factor fitted so far applied."""
        regime = regime_of(context)
        for r in BLENDED:
            factor = fit_factor(ratio[regime == r].double().numpy())
            self.log_scale_shift[r] += math.log(factor)
