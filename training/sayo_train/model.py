"""Miniature Qwen2-VL in plain PyTorch (1.13), written once for training and for ONNX export.

Vision: Linear patch embedding of [N, 3·T·P·P] patches (≡ Qwen's Conv3d), 2-D rotary pre-LN blocks with QuickGELU MLPs,
2×2 patch merger (LayerNorm → MLP) → [N/merge², hidden]. The 2-D rotary positions are computed from grid_thw and
arange(N) with integer arithmetic only, so the exported graph stays dynamic (research/poc-tiny-qwen2vl.md §3.3).
Decoder: Qwen2 blocks (RMSNorm, q/k/v with bias, GQA expanded with expand+reshape — not repeat_interleave — M-RoPE
over (t, h, w) position ids, SwiGLU), explicit softmax attention so probabilities can be returned per layer and head.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class VisionCfg:
    patch_size: int = 14
    temporal_patch_size: int = 2
    merge_size: int = 2
    embed_dim: int = 96
    depth: int = 2
    num_heads: int = 4
    mlp_ratio: float = 2.0
    in_channels: int = 3


@dataclass
class TextCfg:
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    head_dim: int = 32
    intermediate_size: int = 384
    mrope_section: list = field(default_factory=lambda: [4, 6, 6])
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6


@dataclass
class ModelCfg:
    vision: VisionCfg
    text: TextCfg
    vocab_size: int
    image_token_id: int
    video_token_id: int
    vision_start_token_id: int
    vision_end_token_id: int
    bos_token_id: int
    eos_token_id: int
    pad_token_id: int

    @classmethod
    def from_dict(cls, d: dict) -> "ModelCfg":
        d = dict(d)
        return cls(vision=VisionCfg(**d.pop("vision")), text=TextCfg(**d.pop("text")), **d)

    def to_dict(self) -> dict:
        return asdict(self)

    def hf_config(self, min_pixels=None, max_pixels=None) -> dict:
        """config.json in the layout transformers.js reads for qwen2_vl (top-level text fields)."""
        t, v = self.text, self.vision
        return {
            "architectures": ["Qwen2VLForConditionalGeneration"],
            "model_type": "qwen2_vl",
            "attention_dropout": 0.0,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "hidden_act": "silu",
            "hidden_size": t.hidden_size,
            "intermediate_size": t.intermediate_size,
            "num_attention_heads": t.num_heads,
            "num_key_value_heads": t.num_kv_heads,
            "head_dim": t.head_dim,
            "num_hidden_layers": t.num_layers,
            "max_position_embeddings": 4096,
            "rms_norm_eps": t.rms_norm_eps,
            "rope_theta": t.rope_theta,
            "rope_scaling": {"type": "mrope", "mrope_section": list(t.mrope_section)},
            "tie_word_embeddings": False,
            "torch_dtype": "float32",
            "vocab_size": self.vocab_size,
            "image_token_id": self.image_token_id,
            "video_token_id": self.video_token_id,
            "vision_start_token_id": self.vision_start_token_id,
            "vision_end_token_id": self.vision_end_token_id,
            "vision_token_id": self.image_token_id,
            "vision_config": {
                "depth": v.depth, "embed_dim": v.embed_dim, "hidden_size": t.hidden_size, "hidden_act": "quick_gelu",
                "mlp_ratio": v.mlp_ratio, "num_heads": v.num_heads, "in_chans": v.in_channels,
                "in_channels": v.in_channels, "patch_size": v.patch_size, "spatial_patch_size": v.patch_size,
                "spatial_merge_size": v.merge_size, "temporal_patch_size": v.temporal_patch_size,
            },
            "sayo_mini": {"note": "miniature Qwen2-VL trained by training/ (SAYO Lens)"},
            "transformers.js_config": {"dtype": "fp32"},
        }


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


# ---------------------------------------------------------------------------------------------------------------
# Vision
# ---------------------------------------------------------------------------------------------------------------
class VisionBlock(nn.Module):
    def __init__(self, c: VisionCfg):
        super().__init__()
        self.num_heads = c.num_heads
        self.head_dim = c.embed_dim // c.num_heads
        self.norm1 = nn.LayerNorm(c.embed_dim, eps=1e-6)
        self.norm2 = nn.LayerNorm(c.embed_dim, eps=1e-6)
        self.qkv = nn.Linear(c.embed_dim, 3 * c.embed_dim)
        self.proj = nn.Linear(c.embed_dim, c.embed_dim)
        hid = int(c.embed_dim * c.mlp_ratio)
        self.fc1 = nn.Linear(c.embed_dim, hid)
        self.fc2 = nn.Linear(hid, c.embed_dim)

    def forward(self, x, cos, sin):
        n = x.shape[0]
        h = self.norm1(x)
        qkv = self.qkv(h).reshape(n, 3, self.num_heads, self.head_dim).permute(1, 2, 0, 3)  # 3, H, N, D
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        att = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim), dim=-1)
        o = torch.matmul(att, v).permute(1, 0, 2).reshape(n, -1)
        x = x + self.proj(o)
        h = self.fc1(self.norm2(x))
        h = h * torch.sigmoid(1.702 * h)  # QuickGELU
        return x + self.fc2(h)


class VisionEncoder(nn.Module):
    def __init__(self, c: VisionCfg, out_hidden: int):
        super().__init__()
        self.c = c
        in_dim = c.in_channels * c.temporal_patch_size * c.patch_size * c.patch_size
        self.patch_embed = nn.Linear(in_dim, c.embed_dim, bias=False)
        self.blocks = nn.ModuleList([VisionBlock(c) for _ in range(c.depth)])
        rot = (c.embed_dim // c.num_heads) // 2
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot)),
                             persistent=False)
        m2 = c.merge_size ** 2
        self.ln_q = nn.LayerNorm(c.embed_dim, eps=1e-6)
        self.mlp0 = nn.Linear(c.embed_dim * m2, c.embed_dim * m2)
        self.mlp2 = nn.Linear(c.embed_dim * m2, out_hidden)

    def rot_pos(self, n_patches: torch.Tensor, grid_thw: torch.Tensor):
        """(hpos, wpos) of each patch in the processor's merge-group order, from integer arithmetic only."""
        m = self.c.merge_size
        n = torch.arange(n_patches, dtype=torch.int64)
        gh = grid_thw[0, 1]
        gw = grid_thw[0, 2]
        wb = torch.div(gw, m, rounding_mode="floor")
        hb = torch.div(gh, m, rounding_mode="floor")
        mw = n % m
        mh = torch.div(n, m, rounding_mode="floor") % m
        bw = torch.div(n, m * m, rounding_mode="floor") % wb
        bh = torch.div(n, m * m * wb, rounding_mode="floor") % hb
        return bh * m + mh, bw * m + mw

    def forward(self, pixel_values, grid_thw):
        x = self.patch_embed(pixel_values)
        hpos, wpos = self.rot_pos(pixel_values.shape[0], grid_thw)
        fh = hpos.to(torch.float32)[:, None] * self.inv_freq[None, :]
        fw = wpos.to(torch.float32)[:, None] * self.inv_freq[None, :]
        freqs = torch.cat([fh, fw], dim=-1)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos()[None], emb.sin()[None]
        for b in self.blocks:
            x = b(x, cos, sin)
        x = self.ln_q(x).reshape(-1, self.c.embed_dim * self.c.merge_size ** 2)
        return self.mlp2(F.gelu(self.mlp0(x)))


# ---------------------------------------------------------------------------------------------------------------
# Decoder
# ---------------------------------------------------------------------------------------------------------------
class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class DecoderLayer(nn.Module):
    def __init__(self, c: TextCfg):
        super().__init__()
        self.c = c
        d, hd = c.hidden_size, c.head_dim
        self.input_layernorm = RMSNorm(d, c.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(d, c.rms_norm_eps)
        self.q_proj = nn.Linear(d, c.num_heads * hd)
        self.k_proj = nn.Linear(d, c.num_kv_heads * hd)
        self.v_proj = nn.Linear(d, c.num_kv_heads * hd)
        self.o_proj = nn.Linear(c.num_heads * hd, d, bias=False)
        self.gate_proj = nn.Linear(d, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(d, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, d, bias=False)

    def forward(self, x, cos, sin, mask_add, past_k=None, past_v=None):
        c = self.c
        B, S, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(B, S, c.num_heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(h).view(B, S, c.num_kv_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(B, S, c.num_kv_heads, c.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        present = (k, v)
        rep = c.num_heads // c.num_kv_heads
        T = k.shape[2]
        ke = k[:, :, None].expand(B, c.num_kv_heads, rep, T, c.head_dim).reshape(B, c.num_heads, T, c.head_dim)
        ve = v[:, :, None].expand(B, c.num_kv_heads, rep, T, c.head_dim).reshape(B, c.num_heads, T, c.head_dim)
        scores = torch.matmul(q, ke.transpose(-1, -2)) / math.sqrt(c.head_dim) + mask_add
        probs = torch.softmax(scores, dim=-1)
        o = torch.matmul(probs, ve).transpose(1, 2).reshape(B, S, c.num_heads * c.head_dim)
        x = x + self.o_proj(o)
        h = self.post_attention_layernorm(x)
        x = x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))
        return x, present, probs


class SayoMini(nn.Module):
    def __init__(self, cfg: ModelCfg):
        super().__init__()
        self.cfg = cfg
        t = cfg.text
        self.visual = VisionEncoder(cfg.vision, t.hidden_size)
        self.embed_tokens = nn.Embedding(cfg.vocab_size, t.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(t) for _ in range(t.num_layers)])
        self.norm = RMSNorm(t.hidden_size, t.rms_norm_eps)
        self.lm_head = nn.Linear(t.hidden_size, cfg.vocab_size, bias=False)
        self.register_buffer("inv_freq", 1.0 / (t.rope_theta ** (torch.arange(0, t.head_dim, 2,
                                                                               dtype=torch.float32) / t.head_dim)),
                             persistent=False)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def mrope_cos_sin(self, position_ids):
        """position_ids [3, B, S] → cos, sin [B, 1, S, head_dim] with M-RoPE sections over (t, h, w)."""
        freqs = position_ids.to(torch.float32)[..., None] * self.inv_freq  # 3,B,S,hd/2
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos(), emb.sin()
        sec = list(self.cfg.text.mrope_section) * 2
        cs, ss, start = [], [], 0
        for i, s in enumerate(sec):
            cs.append(cos[i % 3, :, :, start:start + s])
            ss.append(sin[i % 3, :, :, start:start + s])
            start += s
        return torch.cat(cs, dim=-1)[:, None], torch.cat(ss, dim=-1)[:, None]

    def decode(self, inputs_embeds, attention_mask, position_ids, past=None, attn_layers=None):
        """Returns logits, presents [(k, v)], {layer: probs [B, heads, S, T]} for layers in attn_layers."""
        B, S, _ = inputs_embeds.shape
        T = attention_mask.shape[1]
        qpos = torch.arange(S, dtype=torch.int64)[:, None] + (T - S)
        kpos = torch.arange(T, dtype=torch.int64)[None, :]
        allowed = (kpos <= qpos)[None, None] & (attention_mask[:, None, None, :] > 0)
        mask_add = (~allowed).to(torch.float32) * torch.finfo(torch.float32).min
        cos, sin = self.mrope_cos_sin(position_ids)
        x = inputs_embeds
        presents, attns = [], {}
        for i, layer in enumerate(self.layers):
            pk, pv = (past[i] if past is not None else (None, None))
            x, pres, probs = layer(x, cos, sin, mask_add, pk, pv)
            presents.append(pres)
            if attn_layers is not None and i in attn_layers:
                attns[i] = probs
        logits = self.lm_head(self.norm(x))
        return logits, presents, attns

    def embed(self, input_ids, image_features_list=None, image_starts=None):
        """Token embeddings with each sample's image features placed at its <|image_pad|> positions (or, given
        image_starts, at the n positions from that index: the prompt's image span, whatever a completion holds)."""
        e = self.embed_tokens(input_ids)
        if image_features_list is None:
            return e
        e = e.clone()
        for b, feats in enumerate(image_features_list):
            if feats is None:
                continue
            if image_starts is not None:
                pos = torch.arange(image_starts[b], image_starts[b] + feats.shape[0])
            else:
                pos = (input_ids[b] == self.cfg.image_token_id).nonzero(as_tuple=True)[0]
            if pos.numel() != feats.shape[0]:
                raise ValueError(f"image tokens ({pos.numel()}) != image features ({feats.shape[0]})")
            e[b, pos] = feats
        return e

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def rope_index(input_ids: list[int], grid_thw, image_token_id: int, vision_start_token_id: int, merge_size: int):
    """Qwen2-VL get_rope_index for one sequence with at most one image. Returns ([3][S] positions, rope_delta)."""
    S = len(input_ids)
    pos = [[0] * S for _ in range(3)]
    i, cur = 0, 0
    while i < S:
        tok = input_ids[i]
        if tok == image_token_id and i > 0 and input_ids[i - 1] == vision_start_token_id and grid_thw is not None:
            _, gh, gw = grid_thw
            h, w = gh // merge_size, gw // merge_size
            for k in range(h * w):
                pos[0][i + k] = cur
                pos[1][i + k] = cur + k // w
                pos[2][i + k] = cur + k % w
            cur = cur + max(h, w)
            i += h * w
            continue
        for a in range(3):
            pos[a][i] = cur
        cur += 1
        i += 1
    delta = cur - S
    return pos, delta


def save_checkpoint(model: SayoMini, path) -> None:
    torch.save({"cfg": model.cfg.to_dict(), "state": model.state_dict()}, path)


def load_checkpoint(path) -> SayoMini:
    ck = torch.load(path, map_location="cpu")
    m = SayoMini(ModelCfg.from_dict(ck["cfg"]))
    m.load_state_dict(ck["state"])
    return m


def config_json(model: SayoMini) -> str:
    return json.dumps(model.cfg.hf_config(), indent=2)
