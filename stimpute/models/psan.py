"""PSAN, the Prototype-enhanced Spatial Attention Network (EDBT 2026), in the ST-Transformer's
interface: same token embedding (covariates, static, seasons, context), same per-layer readouts.

Per layer:
- a bidirectional temporal block: depthwise convolutions with a global kernel as long as the
  window and a local kernel of 3, each run causally forward and on the time-reversed sequence,
  mixed by a learned gate;
- spatial multi-head attention over all nodes of a step whose logits get an additive bias from
  learned prototypes: every node's state (averaged over the window) is compared with the
  prototypes by cosine similarity, and the bias between two nodes is the leaky-ReLU of the
  cosine similarity of their prototype profiles (scaled per head). The bias is computed from
  the data, not from a per-node table, so one model serves every tile;
- an MLP; each sub-block pre-norm with a residual.

Unlike the published code, the observed mask is an input channel and dropout is off at
inference (`model.eval()`). Attention runs through `scaled_dot_product_attention` with the bias
as an additive mask, so the fused kernels keep 1,296-node tiles in memory on a GPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from stimpute.config import ModelConfig, NeuralConfig
from stimpute.errors import ShapeError
from stimpute.models.embedding import TokenEmbedding
from stimpute.models.st_transformer import Readout


@dataclass(frozen=True)
class PSANConfig:
    """PSAN's own configuration: `stimpute.config.ModelConfig` (whose defaults these are, but
    for its depth) with the data's sizes, built by `TransformerMethod._arch`."""

    dim: int = ModelConfig.dim
    layers: int = 3  # PSAN's depth (`Imputer("psan")` sets it too)
    heads: int = ModelConfig.heads
    ffn_ratio: int = ModelConfig.ffn_ratio
    prototypes: int = ModelConfig.prototypes
    window: int = NeuralConfig.window  # the global temporal kernel spans the whole window
    dropout: float = ModelConfig.dropout
    n_covariates: int = 0
    n_static: int = 0
    periods: tuple[float, ...] = ModelConfig.periods
    n_nodes: int | None = None
    use_coords: bool = False
    temporal_context: bool = ModelConfig.temporal_context

    def to_dict(self) -> dict:
        return asdict(self)


class BiTemporal(nn.Module):
    """Global (kernel = window) and local (kernel 3) causal depthwise convolutions, forward and
    time-reversed, gated and mixed back to the model width."""

    def __init__(self, dim: int, window: int) -> None:
        super().__init__()
        self.window = window
        self.glob = nn.Conv1d(dim, dim, window, groups=dim)
        self.local = nn.Conv1d(dim, dim, 3, groups=dim)
        self.mix = nn.Linear(4 * dim, dim)
        self.gate = nn.Linear(4 * dim, dim)

    def _causal(self, conv: nn.Conv1d, h: torch.Tensor) -> torch.Tensor:
        k = conv.kernel_size[0]
        return conv(F.pad(h, (k - 1, 0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (M, L, D) sequences -> (M, L, D)."""
        length = x.shape[1]
        if length > self.window:
            raise ShapeError(f"PSAN was built for windows of {self.window} steps; got {length}")
        h = x.transpose(1, 2)  # (M, D, L)
        rev = h.flip(-1)
        parts = [
            self._causal(self.glob, h),
            self._causal(self.glob, rev).flip(-1),
            self._causal(self.local, h),
            self._causal(self.local, rev).flip(-1),
        ]
        cat = torch.cat(parts, dim=1).transpose(1, 2)  # (M, L, 4D)
        return self.mix(cat) * torch.sigmoid(self.gate(cat))


class PrototypeAttention(nn.Module):
    """Multi-head attention over nodes with an additive prototype bias (shared over time)."""

    def __init__(self, dim: int, heads: int, prototypes: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.prototypes = nn.Parameter(torch.randn(prototypes, dim) * 0.5)
        self.node = nn.Linear(dim, dim)
        self.scale = nn.Parameter(torch.ones(heads))

    def bias(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, L, N, D) -> (B, heads, N, N) additive logits."""
        node = self.node(x.mean(dim=1))  # (B, N, D): each node over the window
        profile = F.normalize(node, dim=-1) @ F.normalize(self.prototypes, dim=-1).T  # (B, N, P)
        profile = F.normalize(profile, dim=-1)
        sim = F.leaky_relu(profile @ profile.transpose(1, 2), 0.2)  # (B, N, N)
        return self.scale[None, :, None, None] * sim[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, nodes, dim = x.shape
        hd = dim // self.heads
        bias = self.bias(x).to(x.dtype)  # (B, heads, N, N), shared by the window's steps
        q, k, v = (
            t.reshape(batch, length, nodes, self.heads, hd).transpose(2, 3)  # (B, L, heads, N, hd)
            for t in self.qkv(x).chunk(3, dim=-1)
        )
        # steps in chunks so the attention scores of a large tile stay within ~2e8 elements
        step = max(1, int(2e8 // (self.heads * nodes * nodes)))
        out = []
        for b in range(batch):
            mask = bias[b][None]  # (1, heads, N, N): broadcast over the steps
            out.append(
                torch.cat(
                    [
                        F.scaled_dot_product_attention(
                            q[b, t : t + step],
                            k[b, t : t + step],
                            v[b, t : t + step],
                            attn_mask=mask,
                        )
                        for t in range(0, length, step)
                    ]
                )
            )
        y = torch.stack(out)  # (B, L, heads, N, hd)
        return self.out(y.transpose(2, 3).reshape(batch, length, nodes, dim))


class PSANLayer(nn.Module):
    def __init__(self, cfg: PSANConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.norm_t, self.norm_s, self.norm_f = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.temporal = BiTemporal(d, cfg.window)
        self.spatial = PrototypeAttention(d, cfg.heads, cfg.prototypes)
        self.ffn = nn.Sequential(
            nn.Linear(d, cfg.ffn_ratio * d), nn.GELU(), nn.Linear(cfg.ffn_ratio * d, d)
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, nodes, dim = x.shape
        h = self.norm_t(x).transpose(1, 2).reshape(batch * nodes, length, dim)
        h = self.temporal(h).reshape(batch, nodes, length, dim).transpose(1, 2)
        x = x + self.drop(h)
        x = x + self.drop(self.spatial(self.norm_s(x)))
        return x + self.drop(self.ffn(self.norm_f(x)))


class PSAN(nn.Module):
    """Returns per-layer (mean, log_scale) readouts, each (B, L, N); the last one is the answer."""

    def __init__(self, cfg: PSANConfig) -> None:
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
        self.mask_channel = nn.Linear(1, cfg.dim)
        self.blocks = nn.ModuleList(PSANLayer(cfg) for _ in range(cfg.layers))
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
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """As `STTransformer.forward`; with `steps`, every step is computed and those returned."""
        if values.ndim != 3 or visible.shape != values.shape:
            raise ShapeError(
                f"values/visible must both be [batch, time, node]; got {tuple(values.shape)}"
            )
        x = self.embed(
            values, visible, covariates=covariates, cov_missing=cov_missing, static=static,
            times=times, coords=coords, context=context,
        )  # fmt: skip
        x = x + self.mask_channel(visible.to(x.dtype)[..., None])
        outs = []
        last = len(self.blocks) - 1
        for i, (block, head) in enumerate(zip(self.blocks, self.readouts, strict=True)):
            x = block(x)
            if all_layers or i == last:
                out = head(x, context)
                outs.append((out[..., 0], out[..., 1]))
        if steps is not None:
            outs = [(mean[:, steps], log_scale[:, steps]) for mean, log_scale in outs]
        return outs
