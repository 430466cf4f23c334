"""Multi-head self-attention on fused kernels: along time, in shifted windows, or over all nodes."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    """Multi-head self-attention over the second-to-last axis using scaled_dot_product_attention."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(
        self,
        x: torch.Tensor,
        bias: torch.Tensor | None = None,
        queries: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x: (..., S, D) -> (..., S, D); bias: additive, broadcastable to (..., heads, S, S).
        `queries` (Q,) positions along S: only those attend (to all S), giving (..., Q, D).

        Without a bias the batch is flattened to 4-D so the fused (flash) kernels run on CPU
        and GPU; with a bias (short windows) a plain softmax is cheaper than the masked path.
        """
        *lead, seq, dim = x.shape
        hd = dim // self.heads
        flat = x.reshape(-1, seq, dim)
        if queries is None:
            q, k, v = self.qkv(flat).chunk(3, dim=-1)
        else:  # project only the queries that are asked for
            w, b = self.qkv.weight, self.qkv.bias
            q = F.linear(flat[:, queries], w[:dim], b[:dim])
            k, v = F.linear(flat, w[dim:], b[dim:]).chunk(2, dim=-1)
        q, k, v = (t.reshape(len(flat), -1, self.heads, hd).transpose(1, 2) for t in (q, k, v))
        if bias is None:
            y = F.scaled_dot_product_attention(q, k, v)
            return self.out(y.transpose(1, 2).reshape(*lead, q.shape[2], dim))
        m = q.shape[0]
        shape5 = (-1, *bias.shape[-4:-3], self.heads, seq, hd) if bias.dim() == 4 else None
        if shape5 is not None:  # (B, nW, heads, S, hd) so the bias broadcasts over B
            q, k, v = (t.reshape(shape5) for t in (q, k, v))
        scores = (q @ k.transpose(-1, -2)) * hd**-0.5 + bias.to(q.dtype)
        y = (scores.softmax(dim=-1) @ v).reshape(m, self.heads, seq, hd)
        return self.out(y.transpose(1, 2).reshape(*lead, seq, dim))


class WindowAttention(nn.Module):
    """Swin-style attention inside w x w windows of a grid, optionally shifted by w // 2.

    Shifting pads the grid (top/left by the shift, bottom/right up to a multiple of w) and masks
    the padding as keys, so tiles of any size work and no window mixes opposite edges. A learned
    relative-position bias per head gives each pixel its place inside the window; there is no
    absolute position, so one model serves tiles of every size and place. `offset` moves every
    window by that many pixels: the same network on the grid translated, whose window edges
    fall elsewhere (`InferConfig.window_offsets` averages such answers).
    """

    def __init__(self, dim: int, heads: int, window: int, shift: bool) -> None:
        super().__init__()
        self.attn = SelfAttention(dim, heads)
        self.window = window
        self.shift = window // 2 if shift else 0
        self.rel_bias = nn.Parameter(torch.zeros(heads, (2 * window - 1) ** 2))
        coords = torch.stack(
            torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
        ).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]) + (window - 1)
        self.register_buffer("rel_index", rel[0] * (2 * window - 1) + rel[1], persistent=False)
        self._mask_cache: dict[tuple[int, int, str, int], torch.Tensor] = {}

    def _pad_mask(
        self, height: int, width: int, device: torch.device, s: int
    ) -> tuple[torch.Tensor, int, int]:
        w = self.window
        hp = -(-(height + s) // w) * w
        wp = -(-(width + s) // w) * w
        key = (height, width, str(device), s)
        if key not in self._mask_cache:
            valid = torch.zeros(hp, wp, dtype=torch.bool, device=device)
            valid[s : s + height, s : s + width] = True
            valid = valid.reshape(hp // w, w, wp // w, w).permute(0, 2, 1, 3).reshape(-1, w * w)
            mask = torch.zeros(valid.shape, device=device).masked_fill(~valid, float("-inf"))
            self._mask_cache = {key: mask[:, None, None, :]}  # (nW, 1, 1, w*w)
        return self._mask_cache[key], hp, wp

    def forward(self, x: torch.Tensor, grid: tuple[int, int], offset: int = 0) -> torch.Tensor:
        """x: (B, N, D) with N = H * W in row-major order."""
        height, width = grid
        batch, _, dim = x.shape
        w = self.window
        s = (self.shift + offset) % w
        pad_mask, hp, wp = self._pad_mask(height, width, x.device, s)
        img = x.reshape(batch, height, width, dim)
        img = F.pad(img, (0, 0, s, wp - width - s, s, hp - height - s))
        win = img.reshape(batch, hp // w, w, wp // w, w, dim).permute(0, 1, 3, 2, 4, 5)
        win = win.reshape(batch, (hp // w) * (wp // w), w * w, dim)
        rel_index: torch.Tensor = self.rel_index  # type: ignore[assignment]
        rel = self.rel_bias[:, rel_index]  # (heads, w*w, w*w)
        out = self.attn(win, pad_mask + rel[None])
        out = out.reshape(batch, hp // w, wp // w, w, w, dim).permute(0, 1, 3, 2, 4, 5)
        out = out.reshape(batch, hp, wp, dim)[:, s : s + height, s : s + width]
        return out.reshape(batch, height * width, dim)
