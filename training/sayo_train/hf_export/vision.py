"""A traceable forward for the Qwen-VL vision towers.

Hugging Face's towers derive rotary positions, Qwen2.5-VL's window index and Qwen3-VL's position-embedding
interpolation from Python loops over `grid_thw` values; tracing would freeze them to the traced image size. Here the
same quantities are computed per patch from `grid_thw` with tensor ops only, so the graph serves every image size
(and several images in one call, `grid_thw` [n_images, 3]).

Window attention without reordering: Qwen2.5-VL permutes merge units into window order, attends inside each window
and permutes back after the merger. Attention within a group is permutation-equivariant and the merger reads the
same four consecutive patches (a merge unit) in either order, so an additive mask that lets a patch attend only to
patches of its own window, in the processor's original order, gives the same result with no permutation at all."""

from __future__ import annotations

import torch
import torch.nn as nn

from .family import Family


def _patch_coords(grid_thw: torch.Tensor, n: torch.Tensor, merge: int):
    """Per patch k (processor order): image index, frame, full-res row and column, and the grid's H, W."""
    k = torch.arange(n, dtype=torch.int64)
    t, h, w = grid_thw[:, 0], grid_thw[:, 1], grid_thw[:, 2]
    ends = torch.cumsum(t * h * w, 0)
    img = (k[:, None] >= ends[None, :]).sum(1)
    start = ends[img] - (t * h * w)[img]
    H, W = h[img], w[img]
    p = k - start
    frame = torch.div(p, H * W, rounding_mode="floor")
    q = p - frame * H * W
    mm = merge * merge
    unit = torch.div(q, mm, rounding_mode="floor")
    lw = torch.div(W, merge, rounding_mode="floor")
    br = torch.div(unit, lw, rounding_mode="floor")
    bc = unit - br * lw
    s = q - unit * mm
    sr = torch.div(s, merge, rounding_mode="floor")
    row = br * merge + sr
    col = bc * merge + (s - sr * merge)
    return img, frame, row, col, H, W, br, bc


def _linspace_at(i: torch.Tensor, n: torch.Tensor, end: float) -> torch.Tensor:
    """torch.linspace(0, end, n)[i], reproducing its two-sided evaluation (float32) element by element."""
    step = end / torch.clamp(n - 1, min=1).to(torch.float32)
    lo = i.to(torch.float32) * step
    hi = end - (n - 1 - i).to(torch.float32) * step
    v = torch.where(i < torch.div(n, 2, rounding_mode="floor"), lo, hi)
    return torch.where(n == 1, torch.zeros_like(v), v)


class VisionExport(nn.Module):
    """pixel_values [N, C·T·P·P], grid_thw [n, 3] -> image_features [N / merge², out_hidden · (1 + K)], K the number
    of DeepStack features (0 but for Qwen3-VL with deepstack_visual_indexes)."""

    def __init__(self, visual: nn.Module, family: Family, config):
        super().__init__()
        self.visual = visual
        self.family = family
        vc = config.vision_config
        self.merge = int(vc.spatial_merge_size)
        self.full_blocks = set(getattr(vc, "fullatt_block_indexes", []) or []) if family.window_attention else None
        if family.window_attention:
            self.window = int(vc.window_size) // self.merge // int(vc.patch_size)
        blk = visual.blocks[0].attn
        self.heads = blk.num_heads
        self.head_dim = blk.head_dim
        self.scaling = blk.scaling

    def _pos_embed(self, row, col, H, W):
        v = self.visual
        G = int(v.num_grid_per_side)
        hf = _linspace_at(row, H, float(G - 1))
        wf = _linspace_at(col, W, float(G - 1))
        h0, w0 = hf.to(torch.int64), wf.to(torch.int64)
        h1 = torch.clamp(h0 + 1, max=G - 1)
        w1 = torch.clamp(w0 + 1, max=G - 1)
        dh = (hf - h0.to(torch.float32))[:, None]
        dw = (wf - w0.to(torch.float32))[:, None]
        e = v.pos_embed
        return (
            e(h0 * G + w0) * ((1 - dh) * (1 - dw))
            + e(h0 * G + w1) * ((1 - dh) * dw)
            + e(h1 * G + w0) * (dh * (1 - dw))
            + e(h1 * G + w1) * (dh * dw)
        )

    def _attention(self, blk, x, cos, sin, bias):
        """x [1, N, C] (a leading 1 so the block's linears trace to MatMul, which the q4 quantizer handles, not
        Gemm). One head at a time: the vision tower attends over every patch of an image (4 per image token), and
        a batched [heads, N, N] score and probability pair is 2·heads·N²·4 bytes (4 GB at Qwen2-VL-2B's 16 heads
        and 5,184 patches, past wasm32's address space). Per head the same arithmetic needs 2·N²·4 bytes at a
        time: onnxruntime runs each head's chain to its end before the next (depth-first order from the Concat),
        and frees the pair after its one consumer."""
        a = blk.attn
        n = x.shape[1]
        q, k, v = a.qkv(x).reshape(n, 3, self.heads, -1).permute(1, 0, 2, 3).unbind(0)
        q, k = self.family.apply_vision_rotary(q, k, cos, sin)
        heads = []
        for h in range(self.heads):
            w = torch.matmul(q[:, h], k[:, h].transpose(0, 1)) * self.scaling + bias
            w = torch.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
            heads.append(torch.matmul(w, v[:, h]))
        o = torch.cat(heads, dim=-1).reshape(1, n, -1)
        return a.proj(o)

    def forward(self, pixel_values, grid_thw):
        v = self.visual
        x = v.patch_embed(pixel_values)
        n = x.shape[0]
        img, frame, row, col, H, W, br, bc = _patch_coords(grid_thw, n, self.merge)
        if self.family.learned_pos_embed:
            x = x + self._pos_embed(row, col, H, W)
        inv = v.rotary_pos_emb.inv_freq
        freqs = torch.cat([row.to(inv.dtype)[:, None] * inv[None, :], col.to(inv.dtype)[:, None] * inv[None, :]], -1)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        neg = torch.finfo(torch.float32).min
        key = img * 65536 + frame
        full = torch.where(key[:, None] == key[None, :], 0.0, neg).to(x.dtype)
        win = None
        if self.family.window_attention:
            wkey = (key * 65536 + torch.div(br, self.window, rounding_mode="floor")) * 65536 + torch.div(
                bc, self.window, rounding_mode="floor"
            )
            win = torch.where(wkey[:, None] == wkey[None, :], 0.0, neg).to(x.dtype)
        x = x[None]
        deepstack = []
        for i, blk in enumerate(v.blocks):
            bias = full if (win is None or i in self.full_blocks) else win
            x = x + self._attention(blk, blk.norm1(x), cos, sin, bias)
            x = x + blk.mlp(blk.norm2(x))
            if i in self.family.deepstack:
                deepstack.append(v.deepstack_merger_list[self.family.deepstack.index(i)](x[0]))
        # DeepStack features ride along as extra column blocks, in vision-block order as Hugging Face's tower lists
        # them: feature j is what the decoder adds after its layer j (models/CONTRACT.md).
        return torch.cat([v.merger(x[0]), *deepstack], dim=-1) if deepstack else v.merger(x[0])
