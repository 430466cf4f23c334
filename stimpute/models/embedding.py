"""Token embedding of one pixel-day: value or mask token, covariates, static, time, position."""

from __future__ import annotations

import math

import torch
from torch import nn

from stimpute.context import n_context


def mlp(n_in: int, dim: int) -> nn.Sequential:
    """Two-layer perceptron used for every input group."""
    return nn.Sequential(nn.Linear(n_in, dim), nn.GELU(), nn.Linear(dim, dim))


def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer sinusoidal encoding of integer positions: (L,) -> (L, dim)."""
    half = dim // 2
    freq = torch.exp(-math.log(10_000.0) * torch.arange(half, device=positions.device) / half)
    angle = positions.float()[:, None] * freq[None]
    return torch.cat([angle.sin(), angle.cos()], dim=-1)


def periodic(times: torch.Tensor, periods: tuple[float, ...], harmonics: int = 2) -> torch.Tensor:
    """sin/cos of 2 pi k t / P for each period P and k = 1..harmonics: (..., 2 * h * len(P))."""
    feats = []
    for period in periods:
        for k in range(1, harmonics + 1):
            angle = 2 * math.pi * k * times / period
            feats += [torch.sin(angle), torch.cos(angle)]
    return torch.stack(feats, dim=-1).float()


class TokenEmbedding(nn.Module):
    """Sum of the per-group embeddings; the value MLP only sees values that are visible."""

    def __init__(
        self,
        dim: int,
        *,
        n_covariates: int,
        n_static: int,
        periods: tuple[float, ...],
        n_nodes: int | None,
        use_coords: bool,
        temporal_context: bool = True,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.periods = periods
        self.value = mlp(1, dim)
        self.mask_token = nn.Parameter(torch.zeros(dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.covariates = mlp(2 * n_covariates, dim) if n_covariates else None
        self.n_context = n_context(n_covariates)  # temporal, per-covariate, spatial
        self.context = mlp(self.n_context, dim) if temporal_context else None
        self.static = mlp(n_static, dim) if n_static else None
        self.season = nn.Linear(4 * len(periods), dim) if periods else None
        self.coords = mlp(16, dim) if use_coords else None
        self.node = nn.Embedding(n_nodes, dim) if n_nodes else None
        nn.init.normal_(self.node.weight, std=0.02) if self.node is not None else None

    def forward(
        self,
        values: torch.Tensor,
        visible: torch.Tensor,
        *,
        covariates: torch.Tensor | None,
        cov_missing: torch.Tensor | None,
        static: torch.Tensor | None,
        times: torch.Tensor,
        coords: torch.Tensor | None,
        context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """values/visible (B, L, N); covariates (B, L, N, C); static (B, N, S); times (B, L)."""
        batch, length, nodes = values.shape
        tok = torch.where(visible[..., None], self.value(values[..., None]), self.mask_token)
        if self.covariates is not None and covariates is not None and cov_missing is not None:
            tok = tok + self.covariates(torch.cat([covariates, cov_missing], dim=-1))
        if self.context is not None and context is not None:
            tok = tok + self.context(context)
        if self.static is not None and static is not None:
            tok = tok + self.static(static)[:, None]
        step = sinusoid(torch.arange(length, device=values.device), self.dim)
        tok = tok + step[None, :, None]
        if self.season is not None:
            tok = tok + self.season(periodic(times, self.periods))[:, :, None]
        if self.coords is not None and coords is not None:
            scales = 2.0 ** torch.arange(4, device=coords.device) * math.pi
            ang = coords[..., None] * scales  # (B, N, 2, 4)
            four = torch.cat([ang.sin(), ang.cos()], dim=-1).flatten(-2)
            tok = tok + self.coords(four)[:, None]
        if self.node is not None:
            tok = tok + self.node.weight[None, None, :nodes]
        return tok
