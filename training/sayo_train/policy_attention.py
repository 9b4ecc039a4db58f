"""The SAYO attention reward as a TRL reward plug-in: measured on the policy's OWN attention.

TRL's GRPOTrainer calls every reward function with `prompts`, `completions`, `completion_ids` and each dataset column
of the completion's example (here `image` and `boxes`). `AttentionRegionReward` is such a function that also holds
the trainer (`bind`), so it can run one teacher-forced, no-grad forward of the current policy over prompt +
completion (`micro_batch` sequences at a time), and read:
- the attention of the spec's layer at the completion rows (head mean comes later): that layer alone runs an
  attention function that also computes those rows' probabilities, every layer keeps the model's implementation;
- each completion token's entropy from the logits that produced it (logits / temperature, as TRL's own entropies),
  computed from the last hidden states at the completion rows only.

Pad-aware by construction: every sequence is right-padded, so row and column indices are the sequence's own; the
image tokens are the positions holding the config's image_token_id; the top-entropy selection runs over each
completion's own tokens. Boxes become token indices from the processor's own `image_grid_thw` and cell size
(patch_size × merge_size) through geometry.py. The numbers then go through reward_math.py (the same code that writes
the parity fixtures src/core is tested against), including the alignment choice (reward_math.py's docstring).
"""

from __future__ import annotations

import copy
import sys

import torch
from transformers import AttentionInterface
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from .geometry import Grid, box_tokens
from .reward_math import (
    DEFAULT_ALIGNMENT,
    DEFAULT_EPS,
    DEFAULT_TOP_RATIO,
    RewardError,
    align,
    attention_score,
    reward_from_av,
)


def grid_from_thw(thw, width: int, height: int, patch_size: int, merge_size: int) -> Grid:
    """The token grid the processor produced for an image of `width`×`height` (its image_grid_thw row)."""
    _t, gh, gw = (int(x) for x in thw)
    return Grid(
        width=width,
        height=height,
        resized_width=gw * patch_size,
        resized_height=gh * patch_size,
        cell=patch_size * merge_size,
        rows=gh // merge_size,
        cols=gw // merge_size,
        patch_size=patch_size,
        merge_size=merge_size,
    )


def summarize(
    image_att: torch.Tensor,
    entropy: torch.Tensor,
    target: list[int],
    *,
    top_ratio=DEFAULT_TOP_RATIO,
    eps=DEFAULT_EPS,
    alignment=DEFAULT_ALIGNMENT,
) -> dict:
    """The reward of one completion. image_att: [T, H, N] image-token attention, row t produced token t;
    entropy: [T]; target: box token indices (0…N−1). All sums in float64."""
    if not target:
        raise RewardError("boxes: no target token")
    att = image_att.to(torch.float64)
    a = att[:, :, target].mean(-1).mean(-1)  # T: head mean of the mean over the box tokens
    v = att.mean(-1).mean(-1)  # T: head mean of the mean over all image tokens
    av = [(float(x), float(y)) for x, y in zip(a, v)]
    av, ent = align(av, [float(e) for e in entropy], alignment)
    r = reward_from_av(av, ent, top_ratio, eps)
    r["per_token"] = [{"a": x, "v": y, "R_a": attention_score(x, y, eps)} for x, y in av]
    return r


REWARD_ROWS = "sayo_reward_rows"  # the attention implementation name the reward's layer runs under


class _RowCapture:
    """What the reward's layer records during the pass: for sequence b, the softmax attention of its completion rows
    (the queries that produced its tokens) over its image-token columns, [T, H, N].

    Only those rows are computed (H × T × L scores per sequence instead of H × L × L), from the query and key states
    the layer hands its attention function (after q/k norm and RoPE), exactly as transformers' eager attention does
    it: q·kᵀ × scaling, causal mask, softmax in float32, cast to the query dtype. Right padding puts every pad key
    after the sequence's last row, so the causal mask alone is the full mask for these rows. The layer's own output
    comes from the model's implementation (sdpa, flash-attention-2 or eager), so every hidden state is unchanged."""

    def __init__(self, shared, rows: list, cols: list):
        self.shared, self.inner, self.rows, self.cols = shared, shared._attn_implementation or "eager", rows, cols
        self.att: list = []

    def record(self, query, key, scaling: float, groups: int):
        self.att = []
        for b, (rows, cols) in enumerate(zip(self.rows, self.cols)):
            kv, L, d = key.shape[1], key.shape[2], key.shape[3]
            q = query[b][:, rows].reshape(kv, groups, len(rows), d)  # kv, g, T, d
            s = torch.matmul(q, key[b].unsqueeze(1).transpose(-1, -2)) * scaling  # kv, g, T, L
            s = s.reshape(kv * groups, len(rows), L)
            ahead = torch.arange(L, device=s.device)[None, :] > rows[:, None]  # T, L: keys after the row
            s = s.masked_fill(ahead, torch.finfo(s.dtype).min)
            p = torch.softmax(s, dim=-1, dtype=torch.float32).to(query.dtype)
            self.att.append(p[:, :, cols].transpose(0, 1).float().cpu())  # T, H, N


def _rows_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """The reward layer's attention function: the model's own implementation for the output, plus the rows."""
    cap: _RowCapture = module._sayo_rows
    inner = (
        sys.modules[type(module).__module__].eager_attention_forward
        if cap.inner == "eager"
        else ALL_ATTENTION_FUNCTIONS[cap.inner]
    )
    own, module.config = module.config, cap.shared  # the inner function reads the model's own config
    try:
        out, _ = inner(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
    finally:
        module.config = own
    cap.record(query, key, scaling, module.num_key_value_groups)
    return out, None


AttentionInterface.register(REWARD_ROWS, _rows_attention)


def decoder_layers(model):
    """The decoder layers of a Qwen-VL model (plain or peft-wrapped)."""
    for name, mod in model.named_modules():
        if name.endswith("language_model.layers"):
            return mod
    raise ValueError(f"{type(model).__name__}: no language_model.layers (not a Qwen-VL model)")


def _backbone_and_head(model):
    """(the Qwen-VL backbone that returns hidden states, lm_head), through a peft wrapper (whose LoRA layers are in
    place inside the base model, so they run)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model, base.lm_head


def _entropies(hidden, head, temperature: float, chunk: int = 256):
    """Entropy of softmax(head(hidden) / temperature) per row, `chunk` rows at a time (float32), so at most
    chunk × V logits exist at once."""
    out = []
    for i in range(0, hidden.shape[0], chunk):
        lg = head(hidden[i : i + chunk]).float() / temperature
        lp = torch.log_softmax(lg, -1)
        out.append(-(lp.exp() * lp).sum(-1))
        del lg, lp
    return torch.cat(out).cpu()


@torch.no_grad()
def measure(
    model,
    processor,
    prompt_texts: list[str],
    images: list,
    completion_ids: list[list[int]],
    *,
    layer: int = -1,
    temperature: float = 1.0,
    micro_batch: int | None = None,
) -> list[dict]:
    """One teacher-forced forward over each prompt + completion (right-padded), `micro_batch` sequences at a time
    (all at once when None). Returns per completion: image_att [T, H, N] (row t = the query that produced token t),
    entropy [T], image_grid_thw (the processor's).

    It computes only what the reward uses: the spec's layer computes attention probabilities for the completion rows
    only (_RowCapture) while every layer keeps the model's attention implementation; the backbone's last hidden
    states go through lm_head at the completion rows only, a chunk at a time (no [B, L, V] logits)."""
    n = len(prompt_texts)
    step = n if not micro_batch else max(1, int(micro_batch))
    res = []
    for i in range(0, n, step):
        res += _measure_batch(
            model,
            processor,
            prompt_texts[i : i + step],
            images[i : i + step],
            completion_ids[i : i + step],
            layer=layer,
            temperature=temperature,
        )
    return res


def right_padded(processor, prompt_texts: list[str], images: list, completion_ids: list[list[int]]):
    """Each prompt (with its image) followed by its completion, right-padded into one batch: the processor's encoding
    of the prompts, each prompt's length, the ids [B, L] and the attention mask [B, L]."""
    enc = processor(
        images=[[im] for im in images], text=prompt_texts, return_tensors="pt", padding=True, padding_side="right"
    )
    prompt_lens = enc["attention_mask"].sum(-1).tolist()
    seqs = [enc["input_ids"][b, :p].tolist() + list(c) for b, (p, c) in enumerate(zip(prompt_lens, completion_ids))]
    pad = processor.tokenizer.pad_token_id
    B, L = len(seqs), max(len(s) for s in seqs)
    ids = torch.full((B, L), pad, dtype=torch.long)
    mask = torch.zeros((B, L), dtype=torch.long)
    for b, s in enumerate(seqs):
        ids[b, : len(s)] = torch.tensor(s)
        mask[b, : len(s)] = 1
    return enc, prompt_lens, ids, mask


def _measure_batch(model, processor, prompt_texts, images, completion_ids, *, layer, temperature):
    enc, prompt_lens, ids, mask = right_padded(processor, prompt_texts, images, completion_ids)
    B = ids.shape[0]
    device = next(model.parameters()).device
    image_id = model.config.image_token_id
    rows = [torch.arange(p - 1, p - 1 + len(c), device=device) for p, c in zip(prompt_lens, completion_ids)]
    cols = [(ids[b, :p] == image_id).nonzero(as_tuple=True)[0].to(device) for b, p in enumerate(prompt_lens)]
    attn = decoder_layers(model)[layer].self_attn
    backbone, head = _backbone_and_head(model)
    shared = attn.config
    cap = _RowCapture(shared, rows, cols)
    own = copy.copy(shared)  # this layer alone switches implementation
    own._attn_implementation_internal = REWARD_ROWS
    attn.config, attn._sayo_rows = own, cap
    was_training = model.training
    model.eval()
    try:
        hidden = backbone(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            pixel_values=enc["pixel_values"].to(device, dtype=model.dtype),
            image_grid_thw=enc["image_grid_thw"].to(device),
            use_cache=False,
        ).last_hidden_state
    finally:
        attn.config = shared
        del attn._sayo_rows
        model.train(was_training)
    if len(cap.att) != B:
        raise RuntimeError("attention reward: the reward's decoder layer did not run its attention function")
    res = []
    for b in range(B):
        ent = _entropies(hidden[b, rows[b]], head, temperature)
        res.append({"image_att": cap.att[b], "entropy": ent, "image_grid_thw": enc["image_grid_thw"][b].tolist()})
    return res


class AttentionRegionReward:
    """TRL reward function: SAYO's r_v = tanh(log((a_q+ε)/(v_q+ε))) over the top-`top_ratio` entropy tokens of each
    completion, from the policy's own `layer` attention. Call `bind(trainer)` once the GRPOTrainer exists."""

    __name__ = "attention_region"

    def __init__(
        self,
        processor,
        *,
        layer=-1,
        top_ratio=DEFAULT_TOP_RATIO,
        eps=DEFAULT_EPS,
        alignment=DEFAULT_ALIGNMENT,
        temperature=1.0,
        cell_px=None,
        micro_batch=None,
    ):
        ip = processor.image_processor
        self.patch, self.merge = ip.patch_size, ip.merge_size
        if cell_px is not None and cell_px != self.patch * self.merge:
            raise ValueError(
                f"cell_px: {cell_px} px, but the processor's tokens cover "
                f"{self.patch}×{self.merge} = {self.patch * self.merge} px"
            )
        if alignment not in ("produced", "input"):
            raise ValueError(f"alignment: expected produced or input, got {alignment!r}")
        self.processor = processor
        self.layer, self.top_ratio, self.eps = layer, top_ratio, eps
        self.alignment, self.temperature, self.micro_batch = alignment, temperature, micro_batch
        self.trainer = None
        self.last = []  # the summaries of the latest call (logged by the trainer)

    def bind(self, trainer) -> "AttentionRegionReward":
        self.trainer = trainer
        return self

    def __call__(self, prompts, completions, completion_ids, image, boxes, **_kw) -> list[float]:
        if self.trainer is None:
            raise RuntimeError("AttentionRegionReward: bind(trainer) before training")
        model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        texts = [self.processor.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
        stats = measure(
            model,
            self.processor,
            texts,
            image,
            completion_ids,
            layer=self.layer,
            temperature=self.temperature,
            micro_batch=self.micro_batch,
        )
        out, self.last = [], []
        for st, im, bx in zip(stats, image, boxes):
            grid = grid_from_thw(st["image_grid_thw"], im.width, im.height, self.patch, self.merge)
            try:
                s = summarize(
                    st["image_att"],
                    st["entropy"],
                    box_tokens(grid, bx),
                    top_ratio=self.top_ratio,
                    eps=self.eps,
                    alignment=self.alignment,
                )
            except RewardError:
                s = None  # nothing to score (a one-token completion under the input alignment): neutral reward
            self.last.append(s)
            out.append(s["r_v"] if s else 0.0)
        return out
