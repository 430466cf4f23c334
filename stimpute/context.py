"""Context features and model inputs, computed in torch on the model's device.

Every feature is computed from the values that are *visible* after hiding, so it never leaks a
hidden value. Running them on the device (not in numpy on the host) keeps a GPU fed: inference
cuts windows out of tensors already on the device and nothing goes back to the host until the
end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

SPATIAL_RADII = (1, 3)


def n_context(n_covariates: int) -> int:
    """Context features per token: 3 temporal, 2 per covariate, 2 per spatial radius, 2 for
    the node's record offset."""
    return 3 + 2 * n_covariates + 2 * len(SPATIAL_RADII) + 2


def neighbour_departure(values: torch.Tensor, grid: tuple[int, int] | None) -> torch.Tensor:
    """Each observed value minus the mean of its observed 3 x 3 neighbours of the same step (on
    a point set: of all other nodes); NaN where either is missing. values (T, N) with NaN."""
    visible = ~values.isnan()
    clean = values.nan_to_num()[None]
    feats = spatial_context(clean, visible[None], grid)[0]
    mean, log_count = feats[..., 0], feats[..., 1]
    return torch.where(visible & (log_count > 0), clean[0] - mean, float("nan"))


@dataclass
class RecordOffset:
    """A node's mean departure from its neighbours over the whole record: a retrieval bias that
    stays put (sensor, soil, vegetation) and that a 72-day window sees too few times to learn.

    Kept as per-step departures plus per-node sums so that training can take a sample's hidden
    values back out of the sums (`features(hidden=...)`) and nothing hidden leaks.
    """

    departure: torch.Tensor  # (T, N), NaN where undefined
    total: torch.Tensor  # (N,)
    count: torch.Tensor  # (N,)

    @classmethod
    def of(
        cls, values: torch.Tensor, grid: tuple[int, int] | None, panels: int = 1
    ) -> RecordOffset:
        """From values (T, N); a grid of `panels` stacked bands is taken band by band, so no
        crop's departures come from another's pixels."""
        if grid is not None and panels > 1:
            band = (grid[0] // panels, grid[1])
            parts = values.reshape(values.shape[0], panels, -1).unbind(1)
            dep = torch.cat([neighbour_departure(p, band) for p in parts], dim=1)
        else:
            dep = neighbour_departure(values, grid)
        return cls(dep, dep.nan_to_num().sum(0), (~dep.isnan()).float().sum(0))

    @property
    def offset(self) -> torch.Tensor:
        """(N,) each node's mean departure from its neighbours over the record (0 if never)."""
        return _mean_or_zero(self.total, self.count)

    def features(
        self,
        t: torch.Tensor,
        nodes: torch.Tensor | None,
        hidden: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(offset, log(1 + days)) per window node, [B, n, 2]; t (B, L) steps, nodes (B, n) or
        None for all; hidden [B, L, n] marks values the sample hides (removed from the sums)."""
        if nodes is None:
            total = self.total.expand(len(t), -1)
            count = self.count.expand(len(t), -1)
        else:
            total, count = self.total[nodes], self.count[nodes]
        if hidden is not None:
            dep = (
                self.departure[t]
                if nodes is None
                else self.departure[t[:, :, None], nodes[:, None]]
            )
            drop = hidden & ~dep.isnan()
            total = total - torch.where(drop, dep, 0.0).sum(1)
            count = count - drop.float().sum(1)
        offset = _mean_or_zero(total, count)
        return torch.stack([offset, count.clamp(min=0).log1p()], dim=-1)


def _mean_or_zero(total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    return torch.where(count > 0, total / count.clamp(min=1), 0.0)


def temporal_context(
    values: torch.Tensor, visible: torch.Tensor, covariates: torch.Tensor | None = None
) -> torch.Tensor:
    """Per token, from the visible values of its own node in the window: the value linearly
    interpolated in time, log(1 + steps) to the previous and to the next visible value, and for
    each covariate its value interpolated the same way from those two observations (with a flag
    where it is missing there). With the covariate of the day itself, the model can then form
    "covariate now + the offset seen at nearby observations" as a linear combination.

    values, visible: [batch, time, node]; covariates [batch, time, node, C] with NaN ->
    [batch, time, node, 3 + 2C].
    """
    length = values.shape[1]
    idx = torch.arange(length, device=values.device).view(1, -1, 1).expand_as(values)
    prev_idx = torch.where(visible, idx, -1).cummax(dim=1).values
    next_idx = torch.where(visible, idx, length).flip(1).cummin(dim=1).values.flip(1)
    has_prev, has_next = prev_idx >= 0, next_idx < length
    prev_at, next_at = prev_idx.clamp(0, length - 1), next_idx.clamp(0, length - 1)
    d_prev = torch.where(has_prev, idx - prev_idx, length).float()
    d_next = torch.where(has_next, next_idx - idx, length).float()
    frac = d_prev / (d_prev + d_next).clamp(min=1.0)

    def interpolate(a: torch.Tensor, ok_prev: torch.Tensor, ok_next: torch.Tensor) -> torch.Tensor:
        at_prev = a.gather(1, prev_at)
        at_next = a.gather(1, next_at)
        zero = torch.zeros((), dtype=a.dtype, device=a.device)
        return torch.where(
            ok_prev & ok_next,
            at_prev + (at_next - at_prev) * frac,
            torch.where(ok_prev, at_prev, torch.where(ok_next, at_next, zero)),
        )

    clean = torch.where(visible, values, 0.0)
    feats = [interpolate(clean, has_prev, has_next), d_prev.log1p(), d_next.log1p()]
    if covariates is not None:
        present = ~covariates.isnan()
        filled = covariates.nan_to_num()
        for c in range(covariates.shape[-1]):
            ok_prev = has_prev & present[..., c].gather(1, prev_at)
            ok_next = has_next & present[..., c].gather(1, next_at)
            feats += [
                interpolate(filled[..., c], ok_prev, ok_next),
                (~(ok_prev | ok_next)).float(),
            ]
    return torch.stack(feats, dim=-1).float()


def _box_sum(a: torch.Tensor, radius: int) -> torch.Tensor:
    """Sum over a (2r+1)^2 box on the last two axes, zero outside: [..., H, W] -> same shape."""
    k = 2 * radius + 1
    lead = a.shape[:-2]
    flat = a.reshape(-1, 1, *a.shape[-2:])
    out = F.avg_pool2d(flat, k, stride=1, padding=radius, count_include_pad=True) * (k * k)
    return out.reshape(*lead, *a.shape[-2:])


def spatial_context(
    values: torch.Tensor, visible: torch.Tensor, grid: tuple[int, int] | None
) -> torch.Tensor:
    """Per token, the mean of the visible values of the same step in a 3 x 3 and a 7 x 7
    neighbourhood (the token itself excluded) and log(1 + their count); on a point set, the
    mean and count over all other nodes. [batch, time, node] -> [batch, time, node, 4].
    """
    vals = torch.where(visible, values, 0.0).float()
    vis = visible.float()
    if grid is None:
        total = vals.sum(dim=-1, keepdim=True) - vals
        count = vis.sum(dim=-1, keepdim=True) - vis
        pairs = [(total, count)] * len(SPATIAL_RADII)
    else:
        shape = (*values.shape[:2], *grid)
        pairs = []
        for r in SPATIAL_RADII:
            total = _box_sum(vals.reshape(shape), r).reshape(values.shape) - vals
            count = (_box_sum(vis.reshape(shape), r).reshape(values.shape) - vis).round()
            pairs.append((total, count))
    feats = []
    for total, count in pairs:
        feats += [torch.where(count > 0, total / count.clamp(min=1), 0.0), count.log1p()]
    return torch.stack(feats, dim=-1)


def model_inputs(
    values: torch.Tensor,
    visible: torch.Tensor,
    times: torch.Tensor,
    *,
    grid: tuple[int, int] | None,
    offset: torch.Tensor,
    covariates: torch.Tensor | None = None,
    static: torch.Tensor | None = None,
    coords: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Keyword tensors for STTransformer.forward from windows on the device (NaN allowed).

    values, visible [B, L, N]; times [B, L]; offset [B, N, 2] (`RecordOffset.features`);
    covariates [B, L, N, C]; static [B, N, S]; coords [B, N, 2]. Values that are not visible
    are zeroed, so hidden ones cannot leak.
    """
    clean = torch.where(visible, values.nan_to_num(), 0.0).float()
    kw: dict[str, Any] = {
        "values": clean,
        "visible": visible,
        "times": times.float(),
        "context": torch.cat(
            [
                temporal_context(clean, visible, covariates),
                spatial_context(clean, visible, grid),
                offset[:, None].expand(-1, values.shape[1], -1, -1),
            ],
            dim=-1,
        ),
    }
    if covariates is not None:
        missing = covariates.isnan()
        kw["covariates"] = covariates.nan_to_num().float()
        kw["cov_missing"] = missing.float()
    if static is not None:
        kw["static"] = static.float()
    if coords is not None:
        kw["coords"] = coords.float()
    return kw
