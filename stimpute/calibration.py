"""Recalibrating the neural models' std: one factor, or one per level of same-day support.

The scale head's std is multiplied by a factor fitted on validation values so that 90% of
them fall inside the 90% interval. One factor pools every kind of gap: a value hidden among
observed neighbours on its day (a random point) and one with nothing seen around it that day
(a missed overpass, a cloud block). The first is easier, so a pooled factor is too wide for it
and too narrow for the second, which is what real gaps mostly are. `calibration="support"`
fits one factor per level of *same-day support* (the share of the value's spatial neighbours
seen that day) and applies the one that matches each value at inference.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from stimpute.metrics import two_sided_z

RADIUS = 2  # neighbours within a (2r + 1)^2 box on a grid; a point set counts every node
SUPPORT_EDGES = (0.0, 0.25)  # levels: nothing seen around that day | up to a quarter | more
MIN_VALUES = 50  # fewer validation values than this in a level: it takes the pooled factor
NO_FACTORS = (1.0,) * (len(SUPPORT_EDGES) + 2)  # (pooled, one per level) before any fit


def same_day_support(visible: torch.Tensor, grid: tuple[int, int] | None) -> torch.Tensor:
    """[..., T, N] bool -> [..., T, N] float: the share of each value's neighbours (the value
    included, so a gap counts as unseen) that are visible on the same day; on a point set the
    share of all nodes."""
    v = visible.float()
    if grid is None:
        return v.mean(dim=-1, keepdim=True).expand_as(v)
    lead = v.shape[:-1]
    img = v.reshape(-1, 1, *grid)
    k = 2 * RADIUS + 1
    share = F.avg_pool2d(img, k, stride=1, padding=RADIUS, count_include_pad=False)
    return share.reshape(*lead, -1)


def support_level(support: torch.Tensor | np.ndarray) -> torch.Tensor:
    """0 where nothing was seen around that day, then one level per edge passed."""
    s = torch.as_tensor(support)
    level = torch.zeros(s.shape, dtype=torch.long, device=s.device)
    for edge in SUPPORT_EDGES:
        level += (s > edge).long()
    return level


def fit_factors(ratio: np.ndarray, level: np.ndarray, quantile: float = 0.9) -> tuple[float, ...]:
    """(pooled factor, one factor per support level): the `quantile` of |error| / std over the
    z of that central interval, clipped to [0.2, 5]; a level with too few values takes the
    pooled one. `ratio` is |error| / std, `level` from support_level."""
    z = two_sided_z(quantile)

    def factor(r: np.ndarray) -> float:
        return float(np.clip(np.quantile(r, quantile) / z, 0.2, 5.0))

    if len(ratio) < MIN_VALUES:
        return NO_FACTORS
    pooled = factor(ratio)
    per_level = [
        factor(ratio[level == k]) if (level == k).sum() >= MIN_VALUES else pooled
        for k in range(len(SUPPORT_EDGES) + 1)
    ]
    return (pooled, *per_level)


def factor_at(
    factors: tuple[float, ...],
    visible: torch.Tensor,
    grid: tuple[int, int] | None,
    by_support: bool,
) -> torch.Tensor | float:
    """The std factor for every value of a [..., T, N] visibility mask: the pooled factor, or
    the one of each value's support level."""
    if not by_support:
        return factors[0]
    table = torch.tensor(factors[1:], device=visible.device)
    return table[support_level(same_day_support(visible, grid))]
