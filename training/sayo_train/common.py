"""Shared pieces of the pipeline stages: tokenizer, model construction, example encoding, batching, logging."""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data import corpus_texts
from .geometry import Grid, box_tokens
from .model import ModelCfg, SayoMini, TextCfg, VisionCfg, rope_index
from .processor import Processor, prompt_ids
from .tokenizer import Tokenizer

REPO = Path(__file__).resolve().parents[2]
TOKENIZER_CORPUS_SEED = 0
TOKENIZER_CORPUS_SIZE = 20000


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def build_tokenizer() -> Tokenizer:
    """Deterministic: the same tokenizer for every run (the corpus is the generator's full template space)."""
    return Tokenizer.build(corpus_texts(TOKENIZER_CORPUS_SEED, TOKENIZER_CORPUS_SIZE))


def model_cfg(m, tok: Tokenizer) -> ModelCfg:
    """ModelCfg from the spec's `model` section (spec dataclasses or plain dicts)."""
    g = (lambda o, k: o[k]) if isinstance(m, dict) else getattr
    v, t = g(m, "vision"), g(m, "text")
    vision = VisionCfg(**{k: g(v, k) for k in ("patch_size", "temporal_patch_size", "merge_size", "embed_dim", "depth",
                                                "num_heads", "mlp_ratio")})
    text = TextCfg(**{k: g(t, k) for k in ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "head_dim",
                                            "intermediate_size", "mrope_section", "rope_theta", "rms_norm_eps")})
    text.mrope_section = list(text.mrope_section)
    return ModelCfg(vision=vision, text=text, vocab_size=len(tok), image_token_id=tok.token_id("<|image_pad|>"),
                    video_token_id=tok.token_id("<|video_pad|>"),
                    vision_start_token_id=tok.token_id("<|vision_start|>"),
                    vision_end_token_id=tok.token_id("<|vision_end|>"), bos_token_id=tok.token_id("<|endoftext|>"),
                    eos_token_id=tok.token_id("<|im_end|>"), pad_token_id=tok.token_id("<|endoftext|>"))


def processor_for(m) -> Processor:
    g = (lambda o, k: o[k]) if isinstance(m, dict) else getattr
    v, im = g(m, "vision"), g(m, "image")
    return Processor(g(v, "patch_size"), g(v, "merge_size"), g(v, "temporal_patch_size"), g(im, "min_pixels"),
                     g(im, "max_pixels"))


@dataclass
class Example:
    rec: dict
    pixel_values: torch.Tensor
    thw: list
    grid: Grid
    prompt: list          # prompt token ids (image pads expanded)
    target: list          # raster indices of box tokens
    image_start: int      # position of the first <|image_pad|> in the prompt
    completion: list | None = None   # completion ids incl. final <|im_end|>


def encode_example(rec: dict, tok: Tokenizer, proc: Processor, cfg: ModelCfg, with_completion: bool = False) -> Example:
    img = Image.open(rec["_image_path"])
    pv, thw, grid = proc(img)
    ids = prompt_ids(tok, rec["question"], grid)
    # image tokens located in the prompt ids via the config's image_token_id (never a hard-coded id)
    start = ids.index(cfg.image_token_id)
    assert ids[start:start + grid.n_tokens] == [cfg.image_token_id] * grid.n_tokens
    comp = None
    if with_completion:
        comp = tok.encode(rec["completion"] + "<|im_end|>")
    return Example(rec, pv, thw, grid, ids, box_tokens(grid, rec["boxes"]), start, comp)


def forward_batch(model: SayoMini, exs: list[Example], seqs: list[list[int]], attn_layers=None):
    """Teacher-forced forward over right-padded sequences (each = its example's prompt + continuation).
    Returns logits [B, L, V], attns {layer: [B, H, L, L]}, attention_mask [B, L]."""
    cfg = model.cfg
    B = len(seqs)
    L = max(len(s) for s in seqs)
    ids = torch.full((B, L), cfg.pad_token_id, dtype=torch.int64)
    am = torch.zeros((B, L), dtype=torch.int64)
    pos = torch.zeros((3, B, L), dtype=torch.int64)
    feats = []
    cache = {}
    for b, (ex, s) in enumerate(zip(exs, seqs)):
        ids[b, :len(s)] = torch.tensor(s)
        am[b, :len(s)] = 1
        p, delta = rope_index(ex.prompt, ex.thw, cfg.image_token_id, cfg.vision_start_token_id, cfg.vision.merge_size)
        P = len(ex.prompt)
        pos[:, b, :P] = torch.tensor(p)
        if len(s) > P:
            pos[:, b, P:len(s)] = torch.arange(P, len(s))[None] + delta
        key = id(ex)
        if key not in cache:
            cache[key] = model.visual(ex.pixel_values, torch.tensor([ex.thw]))
        feats.append(cache[key])
    emb = model.embed(ids, feats, [ex.image_start for ex in exs])
    logits, _pres, attns = model.decode(emb, am, pos, attn_layers=attn_layers)
    return logits, attns, am


class Logger:
    def __init__(self, path: Path | None = None):
        self.path = path
        self.t0 = time.time()
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, msg: str) -> None:
        line = f"[{time.time() - self.t0:7.1f}s] {msg}"
        print(line, flush=True)
        if self.path:
            with open(self.path, "a") as f:
                f.write(line + "\n")


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")
