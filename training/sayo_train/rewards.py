"""GRPO reward functions. Plain contract: `f(completions, *, <explicit keyword inputs>) -> list[float]`, one float per
completion; no name-based dispatch and no hidden side channels — the trainer passes every input by keyword.

The attention reward is SAYO's r_v (research/sayo-paper.md §2.2) computed from the policy's OWN last-layer attention.
The trainer obtains it by a teacher-forced forward of the current policy over prompt + completion (the same parameters
that sampled the completion, so the attention rows equal the rollout-time ones; this is also the pass that yields the
log-probabilities and entropies). Differences from the official code, on purpose: the image-token span comes from the
prompt ids and the config's image_token_id, box tokens come from the processor grid (cell = patch × merge), the
top-30 % entropy selection runs per completion over its own T real tokens (pad-aware), ties go to the lower index.
"""
from __future__ import annotations

import re
import string

import torch

from .reward import DEFAULT_EPS, DEFAULT_TOP_RATIO, tanh_log_ratio, top_k_count

ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.S)


def select_top_entropy_t(entropy: torch.Tensor, ratio: float) -> torch.Tensor:
    """Indices of the k = max(1, ⌊T·ratio⌋) highest-entropy tokens of ONE completion (T real tokens), ties → lower
    index (stable sort on −entropy)."""
    T = int(entropy.shape[0])
    k = top_k_count(T, ratio)
    order = sorted(range(T), key=lambda i: (-float(entropy[i]), i))
    return torch.tensor(sorted(order[:k]), dtype=torch.int64)


def attention_region_reward(completions, *, image_attention, entropies, targets, top_ratio=DEFAULT_TOP_RATIO,
                            eps=DEFAULT_EPS) -> list[float]:
    """r_v = tanh(log((a_q+ε)/(v_q+ε))).
    image_attention[i]: [T_i, H, N] attention of the queries that produced completion i's T_i tokens, image columns only;
    entropies[i]: [T_i]; targets[i]: box token indices (0..N-1)."""
    out = []
    for att, ent, tgt in zip(image_attention, entropies, targets):
        sel = select_top_entropy_t(ent, top_ratio)
        a_sel = att[sel].to(torch.float64)                    # k, H, N
        a_q = float(a_sel[:, :, tgt].mean(-1).mean(-1).mean())
        v_q = float(a_sel.mean(-1).mean(-1).mean())
        out.append(tanh_log_ratio(a_q, v_q, eps))
    return out


def format_reward(completions, *, finished, pattern=r"<answer>(?!.*<answer>)(.*?)</answer>") -> list[float]:
    """1 when the completion holds exactly one well-formed <answer>…</answer> (pattern as in SAYO's code), nothing but
    white space after it, and it ended with <|im_end|> (finished[i]); else 0."""
    rx = re.compile(pattern, re.S)
    out = []
    for text, done in zip(completions, finished):
        m = rx.search(text)
        ok = bool(m) and done and text[m.end():].strip() == "" and text.count("<answer>") == 1
        out.append(1.0 if ok else 0.0)
    return out


def normalize_answer(s: str) -> str:
    """CONTRACT.md: lower-case, strip, drop the articles a/an/the and punctuation, collapse white space."""
    s = s.lower().strip()
    s = re.sub(r"\b(a|an|the)\b", " ", s, flags=re.A)
    s = "".join(ch for ch in s if ch not in string.punctuation)
    return " ".join(s.split())


def extract_answer(text: str) -> str:
    """The text inside the last <answer>…</answer>, or the whole text when there is none."""
    m = ANSWER_RE.findall(text)
    return m[-1] if m else text


def accuracy_reward(completions, *, answers) -> list[float]:
    return [1.0 if normalize_answer(extract_answer(c)) == normalize_answer(a) else 0.0
            for c, a in zip(completions, answers)]
