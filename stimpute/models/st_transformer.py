"""ST-Transformer (Yao, Huang, Zhu, arXiv 2312.00963): temporal then spatial attention per layer."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from stimpute.config import ModelConfig
from stimpute.errors import ShapeError
from stimpute.models.attention import SelfAttention, WindowAttention
from stimpute.models.embedding import TokenEmbedding


@dataclass(frozen=True)
class STTransformerConfig:
    """The network's own configuration: `stimpute.config.ModelConfig` (whose defaults these are)
    with the data's sizes and every switch decided (`TransformerMethod._arch` builds it)."""

    dim: int = ModelConfig.dim
    layers: int = ModelConfig.layers
    heads: int = ModelConfig.heads
    ffn_ratio: int = ModelConfig.ffn_ratio
    spatial_window: int = ModelConfig.spatial_window
    dropout: float = ModelConfig.dropout
    n_covariates: int = 0
    n_static: int = 0
    periods: tuple[float, ...] = ModelConfig.periods
    n_nodes: int | None = None  # learned node embedding, for a fixed point set only
    use_coords: bool = False
    temporal_context: bool = ModelConfig.temporal_context  # the add-on: see ModelConfig

    def to_dict(self) -> dict:
        return asdict(self)


class STLayer(nn.Module):
    """Temporal MHSA per node -> spatial attention per step -> MLP, each pre-norm with residual."""

    def __init__(self, cfg: STTransformerConfig, *, shift: bool) -> None:
        super().__init__()
        d = cfg.dim
        self.norm_t, self.norm_s, self.norm_f = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.temporal = SelfAttention(d, cfg.heads)
        self.window = WindowAttention(d, cfg.heads, cfg.spatial_window, shift)
        self.full = SelfAttention(d, cfg.heads)
        self.ffn = nn.Sequential(
            nn.Linear(d, cfg.ffn_ratio * d), nn.GELU(), nn.Linear(cfg.ffn_ratio * d, d)
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: torch.Tensor,
        grid: tuple[int, int] | None,
        steps: torch.Tensor | None = None,
        offset: int = 0,
    ) -> torch.Tensor:
        """x: (B, L, N, D) -> (B, L, N, D); with `steps` (S,) positions in L, the layer's output
        at those steps only, (B, S, N, D): they still attend to every step. `offset`: pixels
        the spatial windows move by (`WindowAttention`)."""
        h = self.norm_t(x).transpose(1, 2)  # (B, N, L, D)
        if steps is not None:
            x = x[:, steps]
        x = x + self.drop(self.temporal(h, queries=steps).transpose(1, 2))
        batch, length, nodes, dim = x.shape
        h = self.norm_s(x).reshape(batch * length, nodes, dim)
        h = self.window(h, grid, offset) if grid is not None else self.full(h)
        x = x + self.drop(h.reshape(batch, length, nodes, dim))
        return x + self.drop(self.ffn(self.norm_f(x)))


class Readout(nn.Module):
    """(mean, log_scale) from the normed token state, plus an exact linear path from the
    context features (interpolations of visible values) when the context add-on is on, so the
    trunk learns a correction to them."""

    def __init__(self, dim: int, n_context: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.state = nn.Linear(dim, 2)
        self.context = nn.Linear(n_context, 2) if n_context else None
        if self.context is not None:
            nn.init.zeros_(self.context.weight)
            nn.init.zeros_(self.context.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        # in fp32 even under bf16 autocast: the answer should not carry bf16 rounding (about
        # 0.4% of the value), and this head is a sliver of the cost
        with torch.autocast(x.device.type, enabled=False):
            out = self.state(self.norm(x.float()))
            if self.context is not None and context is not None:
                out = out + self.context(context.float())
        return out


class STTransformer(nn.Module):
    """Returns per-layer (mean, log_scale) readouts, each (B, L, N); the last one is the answer."""

    def __init__(self, cfg: STTransformerConfig) -> None:
        super().__init__()
        if cfg.dim % cfg.heads:
            raise ShapeError(f"dim ({cfg.dim}) must be divisible by heads ({cfg.heads})")
        self.cfg = cfg
        self.embed = TokenEmbedding(
            cfg.dim,
            n_covariates=cfg.n_covariates,
            n_static=cfg.n_static,
            periods=cfg.periods,
            n_nodes=cfg.n_nodes,
            use_coords=cfg.use_coords,
            temporal_context=cfg.temporal_context,
        )
        self.blocks = nn.ModuleList(STLayer(cfg, shift=bool(i % 2)) for i in range(cfg.layers))
        n_context = self.embed.n_context if cfg.temporal_context else 0
        self.readouts = nn.ModuleList(Readout(cfg.dim, n_context) for _ in range(cfg.layers))

    def forward(
        self,
        values: torch.Tensor,
        visible: torch.Tensor,
        *,
        times: torch.Tensor,
        grid: tuple[int, int] | None,
        covariates: torch.Tensor | None = None,
        cov_missing: torch.Tensor | None = None,
        static: torch.Tensor | None = None,
        coords: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
        all_layers: bool = True,
        steps: torch.Tensor | None = None,
        window_offset: int = 0,
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """values, visible: [batch, time, node]; covariates [batch, time, node, C].

        `steps` (S,) positions in time, with `all_layers=False`: the answer at those steps only,
        (B, S, N); the last layer then works on them alone (a refill that wants one new day).
        `window_offset`: pixels every spatial attention window moves by (grids)."""
        if values.ndim != 3 or visible.shape != values.shape:
            raise ShapeError(
                f"values/visible must both be [batch, time, node]; got {tuple(values.shape)}"
            )
        if grid is not None and grid[0] * grid[1] != values.shape[2]:
            raise ShapeError(f"grid {grid} does not hold {values.shape[2]} nodes")
        x = self.embed(
            values,
            visible,
            covariates=covariates,
            cov_missing=cov_missing,
            static=static,
            times=times,
            coords=coords,
            context=context,
        )
        outs = []
        last = len(self.blocks) - 1
        if steps is not None and all_layers:
            raise ShapeError("steps= gives the last layer's answer only: pass all_layers=False")
        for i, (block, head) in enumerate(zip(self.blocks, self.readouts, strict=True)):
            if i == last and steps is not None:
                x = block(x, grid, steps, window_offset)
                context = None if context is None else context[:, steps]
            else:
                x = block(x, grid, offset=window_offset)
            if all_layers or i == last:
                out = head(x, context)
                outs.append((out[..., 0], out[..., 1]))
        return outs
