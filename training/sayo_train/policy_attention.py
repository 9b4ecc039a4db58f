"""The SAYO attention reward as a TRL reward plug-in: measured on the policy's OWN attention.

TRL's GRPOTrainer calls every reward function with `prompts`, `completions`, `completion_ids` and each dataset column
of the completion's example (here `image` and `boxes`). `AttentionRegionReward` is such a function that also holds
the trainer (`bind`), so it can run one teacher-forced, no-grad forward of the current policy over prompt +
completion with eager attention on that pass, and read:
- the attention of the spec's layer (head mean comes later), from a forward hook on that layer's attention module;
- each completion token's entropy from the logits that produced it (logits / temperature, as TRL's own entropies).

Pad-aware by construction: every sequence is right-padded, so row and column indices are the sequence's own; the
image tokens are the positions holding the config's image_token_id; the top-entropy selection runs over each
completion's own tokens. Boxes become token indices from the processor's own `image_grid_thw` and cell size
(patch_size × merge_size) through geometry.py. The numbers then go through reward_math.py (the same code that writes the
parity fixtures src/core is tested against), including the alignment choice (reward_math.py's docstring).
"""
from __future__ import annotations

import torch

from .geometry import Grid, box_tokens
from .reward_math import (DEFAULT_ALIGNMENT, DEFAULT_EPS, DEFAULT_TOP_RATIO, RewardError, align, attention_score,
                     reward_from_av)


def grid_from_thw(thw, width: int, height: int, patch_size: int, merge_size: int) -> Grid:
    """The token grid the processor produced for an image of `width`×`height` (its image_grid_thw row)."""
    _t, gh, gw = (int(x) for x in thw)
    return Grid(width=width, height=height, resized_width=gw * patch_size, resized_height=gh * patch_size,
                cell=patch_size * merge_size, rows=gh // merge_size, cols=gw // merge_size, patch_size=patch_size,
                merge_size=merge_size)


def summarize(image_att: torch.Tensor, entropy: torch.Tensor, target: list[int], *, top_ratio=DEFAULT_TOP_RATIO,
              eps=DEFAULT_EPS, alignment=DEFAULT_ALIGNMENT) -> dict:
    """The reward of one completion. image_att: [T, H, N] image-token attention, row t produced token t;
    entropy: [T]; target: box token indices (0…N−1). All sums in float64."""
    if not target:
        raise RewardError("boxes: no target token")
    att = image_att.to(torch.float64)
    a = att[:, :, target].mean(-1).mean(-1)          # T: head mean of the mean over the box tokens
    v = att.mean(-1).mean(-1)                        # T: head mean of the mean over all image tokens
    av = [(float(x), float(y)) for x, y in zip(a, v)]
    av, ent = align(av, [float(e) for e in entropy], alignment)
    r = reward_from_av(av, ent, top_ratio, eps)
    r["per_token"] = [{"a": x, "v": y, "R_a": attention_score(x, y, eps)} for x, y in av]
    return r


class _Capture:
    """Forward hook keeping the attention probabilities [B, H, L, L] a decoder layer's attention module returns."""

    def __init__(self, module):
        self.probs = None
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, _module, _inputs, output):
        self.probs = output[1]

    def close(self):
        self.handle.remove()


def decoder_layers(model):
    """The decoder layers of a Qwen-VL model (plain or peft-wrapped)."""
    for name, mod in model.named_modules():
        if name.endswith("language_model.layers"):
            return mod
    raise ValueError(f"{type(model).__name__}: no language_model.layers (not a Qwen-VL model)")


@torch.no_grad()
def measure(model, processor, prompt_texts: list[str], images: list, completion_ids: list[list[int]], *,
            layer: int = -1, temperature: float = 1.0) -> list[dict]:
    """One teacher-forced forward over each prompt + completion (right-padded batch, eager attention).
    Returns per completion: image_att [T, H, N] (row t = the query that produced token t), entropy [T],
    image_grid_thw (the processor's)."""
    enc = processor(images=[[im] for im in images], text=prompt_texts, return_tensors="pt", padding=True,
                    padding_side="right")
    prompt_lens = enc["attention_mask"].sum(-1).tolist()
    seqs = [enc["input_ids"][b, :p].tolist() + list(c) for b, (p, c) in enumerate(zip(prompt_lens, completion_ids))]
    pad = processor.tokenizer.pad_token_id
    B, L = len(seqs), max(len(s) for s in seqs)
    ids = torch.full((B, L), pad, dtype=torch.long)
    mask = torch.zeros((B, L), dtype=torch.long)
    for b, s in enumerate(seqs):
        ids[b, :len(s)] = torch.tensor(s)
        mask[b, :len(s)] = 1
    device = next(model.parameters()).device
    layers = decoder_layers(model)
    target_layer = layers[layer]
    previous = model.config._attn_implementation
    if previous != "eager":
        model.set_attn_implementation("eager")
    cap = _Capture(target_layer.self_attn)
    was_training = model.training
    model.eval()
    try:
        out = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                    pixel_values=enc["pixel_values"].to(device, dtype=model.dtype),
                    image_grid_thw=enc["image_grid_thw"].to(device), use_cache=False)
        probs = cap.probs
    finally:
        cap.close()
        if previous != "eager":
            model.set_attn_implementation(previous)
        model.train(was_training)
    if probs is None:
        raise RuntimeError("attention reward: the decoder layer returned no attention probabilities (eager path)")
    image_id = model.config.image_token_id
    res = []
    for b, (p, c) in enumerate(zip(prompt_lens, completion_ids)):
        T = len(c)
        rows = torch.arange(p - 1, p - 1 + T, device=device)
        cols = (ids[b, :p] == image_id).nonzero(as_tuple=True)[0].to(device)
        att = probs[b][:, rows][:, :, cols].transpose(0, 1).float().cpu()                  # T, H, N
        lg = out.logits[b, rows].float() / temperature
        lp = torch.log_softmax(lg, -1)
        ent = -(lp.exp() * lp).sum(-1).cpu()
        res.append({"image_att": att, "entropy": ent, "image_grid_thw": enc["image_grid_thw"][b].tolist()})
    return res


class AttentionRegionReward:
    """TRL reward function: SAYO's r_v = tanh(log((a_q+ε)/(v_q+ε))) over the top-`top_ratio` entropy tokens of each
    completion, from the policy's own `layer` attention. Call `bind(trainer)` once the GRPOTrainer exists."""

    __name__ = "attention_region"

    def __init__(self, processor, *, layer=-1, top_ratio=DEFAULT_TOP_RATIO, eps=DEFAULT_EPS,
                 alignment=DEFAULT_ALIGNMENT, temperature=1.0, cell_px=None):
        ip = processor.image_processor
        self.patch, self.merge = ip.patch_size, ip.merge_size
        if cell_px is not None and cell_px != self.patch * self.merge:
            raise ValueError(f"cell_px: {cell_px} px, but the processor's tokens cover "
                             f"{self.patch}×{self.merge} = {self.patch * self.merge} px")
        if alignment not in ("produced", "input"):
            raise ValueError(f"alignment: expected produced or input, got {alignment!r}")
        self.processor = processor
        self.layer, self.top_ratio, self.eps = layer, top_ratio, eps
        self.alignment, self.temperature = alignment, temperature
        self.trainer = None
        self.last = []   # the summaries of the latest call (logged by the trainer)

    def bind(self, trainer) -> "AttentionRegionReward":
        self.trainer = trainer
        return self

    def __call__(self, prompts, completions, completion_ids, image, boxes, **_kw) -> list[float]:
        if self.trainer is None:
            raise RuntimeError("AttentionRegionReward: bind(trainer) before training")
        model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        texts = [self.processor.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
        stats = measure(model, self.processor, texts, image, completion_ids, layer=self.layer,
                        temperature=self.temperature)
        out, self.last = [], []
        for st, im, bx in zip(stats, image, boxes):
            grid = grid_from_thw(st["image_grid_thw"], im.width, im.height, self.patch, self.merge)
            try:
                s = summarize(st["image_att"], st["entropy"], box_tokens(grid, bx), top_ratio=self.top_ratio,
                              eps=self.eps, alignment=self.alignment)
            except RewardError:
                s = None   # nothing to score (a one-token completion under the input alignment): neutral reward
            self.last.append(s)
            out.append(s["r_v"] if s else 0.0)
        return out
