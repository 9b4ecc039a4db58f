"""Text rewards of GRPO (format, accuracy) and their TRL adapters. Plain contract:
`f(completions, *, <explicit keyword inputs>) -> list[float]`, one float per completion. The attention reward, which
needs the policy itself, is policy_attention.py."""

from __future__ import annotations

import re
import string

ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.S)


GATINGS = ("strict", "official")


def format_reward(
    completions, *, finished, pattern=r"<answer>(?!.*<answer>)(.*?)</answer>", gating: str = "strict"
) -> list[float]:
    """1 or 0 per completion. gating "official" (SAYO's released code): the pattern is found somewhere in the
    text, so a completion cut off by the length limit, text after </answer>, or an earlier <answer>…</answer> (the
    pattern's look-ahead matches the last one) still score 1. "strict": also exactly one <answer>, nothing but white
    space after </answer>, and the completion ended with <|im_end|> (finished[i]) — a format the app can parse."""
    if gating not in GATINGS:
        raise ValueError(f"format gating: expected one of {', '.join(GATINGS)}, got {gating!r}")
    rx = re.compile(pattern, re.S)
    out = []
    for text, done in zip(completions, finished):
        m = rx.search(text)
        ok = bool(m) and (
            gating == "official" or (done and text[m.end() :].strip() == "" and text.count("<answer>") == 1)
        )
        out.append(1.0 if ok else 0.0)
    return out


def length_factor(n_tokens: int, min_tokens: int, max_tokens: int, floor: float) -> float:
    """SAYO's length shaping of the format reward: 1 inside [min_tokens, max_tokens]; above, min(1, floor·max/L);
    below, min(1, floor·L/min) (the official code's coefficient is 0.6, for 60–100 tokens)."""
    if n_tokens > max_tokens:
        return min(1.0, floor * max_tokens / n_tokens)
    if n_tokens < min_tokens:
        return min(1.0, floor * n_tokens / min_tokens)
    return 1.0


class FormatReward:
    """TRL reward function: format_reward × length_factor (when the spec declares length shaping); a completion is
    finished when its last id is the end-of-turn id."""

    __name__ = "format"

    def __init__(self, pattern: str, eos_token_id: int, length_shaping=None, gating: str = "strict"):
        self.pattern, self.eos, self.shaping, self.gating = pattern, eos_token_id, length_shaping, gating

    def __call__(self, completions, completion_ids, **_kw) -> list[float]:
        texts = [_text(c) for c in completions]
        finished = [len(ids) > 0 and ids[-1] == self.eos for ids in completion_ids]
        out = format_reward(texts, finished=finished, pattern=self.pattern, gating=self.gating)
        if self.shaping is not None:
            s = self.shaping
            out = [
                r * length_factor(len(ids), s.min_tokens, s.max_tokens, s.floor) for r, ids in zip(out, completion_ids)
            ]
        return out


class AccuracyReward:
    """TRL reward function: accuracy_reward against the example's `answer` column."""

    __name__ = "accuracy"

    def __call__(self, completions, answer, **_kw) -> list[float]:
        return accuracy_reward([_text(c) for c in completions], answers=answer)


def _text(completion) -> str:
    """A TRL completion: plain text, or conversational [{"role": "assistant", "content": text}]."""
    return completion if isinstance(completion, str) else completion[-1]["content"]


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
    return [
        1.0 if normalize_answer(extract_answer(c)) == normalize_answer(a) else 0.0 for c, a in zip(completions, answers)
    ]
