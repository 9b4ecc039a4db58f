"""A small word-level byte-BPE tokenizer in the Qwen2 format that @huggingface/transformers loads unchanged.

- Byte-level: all 256 byte characters are in the vocabulary (ids 0–255), so any text encodes (characters as fallback).
- Merges are learnt (plain BPE training, deterministic ties) until every pre-tokenised word of the corpus is one token.
- Pre-tokenisation is Qwen2's Split regex + ByteLevel; the Python scanner below implements that regex by hand
  (the `regex` module is not available here) and the prompt fixtures prove it equal to the JS tokenizer.
- Qwen's special tokens are added_tokens (special: true); `<answer>` and `</answer>` are added NON-special tokens so
  they survive `skip_special_tokens` decoding.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from pathlib import Path

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
ANSWER_TOKENS = ["<answer>", "</answer>"]
SYSTEM_PROMPT = "You are a helpful assistant."

QWEN_SPLIT_REGEX = (
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
)

# The Qwen2-VL chat template (as shipped in Qwen/Qwen2-VL-*-Instruct tokenizer_config.json).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == "
    "'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video "
    "{{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}"
    "{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)


def render_prompt(question: str, image: bool = True, system: str | None = SYSTEM_PROMPT) -> str:
    """The chat template rendered for one user turn [image, text] with add_generation_prompt=True. `system`: the
    default system turn of Qwen2/2.5-VL's template; None for Qwen3-VL's, which adds none."""
    content = ("<|vision_start|><|image_pad|><|vision_end|>" if image else "") + question
    head = f"<|im_start|>system\n{system}<|im_end|>\n" if system is not None else ""
    return f"{head}<|im_start|>user\n{content}<|im_end|>\n<|im_start|>assistant\n"


def default_system(model_type: str) -> str | None:
    """The system turn a family's chat template adds to a user-only conversation (Qwen3-VL's adds none)."""
    return None if model_type == "qwen3_vl" else SYSTEM_PROMPT


def bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_ENCODER = bytes_to_unicode()
BYTE_DECODER = {v: k for k, v in BYTE_ENCODER.items()}


def _is_l(c: str) -> bool:
    return c.isalpha()


def _is_n(c: str) -> bool:
    return unicodedata.category(c)[0] == "N"


def _is_s(c: str) -> bool:
    return c.isspace()


def pre_tokenize(text: str) -> list[str]:
    """Qwen2's Split regex (behaviour Isolated), implemented as a scanner."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        # 1. contractions
        if c == "'" and i + 1 < n:
            low = text[i + 1 : i + 3].lower()
            m = None
            for s in ("s", "t", "re", "ve", "m", "ll", "d"):
                if low.startswith(s):
                    m = s
                    break
            if m:
                out.append(text[i : i + 1 + len(m)])
                i += 1 + len(m)
                continue
        # 2. [^\r\n\p{L}\p{N}]?\p{L}+
        j = i
        if not _is_l(c) and c not in "\r\n" and not _is_n(c) and i + 1 < n and _is_l(text[i + 1]):
            j = i + 1
        if _is_l(text[j]):
            k = j
            while k < n and _is_l(text[k]):
                k += 1
            out.append(text[i:k])
            i = k
            continue
        # 3. \p{N}
        if _is_n(c):
            out.append(c)
            i += 1
            continue

        # 4. ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        def punct(ch):
            return not _is_s(ch) and not _is_l(ch) and not _is_n(ch)

        j = i + 1 if (c == " " and i + 1 < n and punct(text[i + 1])) else i
        if j < n and punct(text[j]):
            k = j
            while k < n and punct(text[k]):
                k += 1
            while k < n and text[k] in "\r\n":
                k += 1
            out.append(text[i:k])
            i = k
            continue
        if _is_s(c):
            k = i
            while k < n and _is_s(text[k]):
                k += 1
            run = text[i:k]
            # 5. \s*[\r\n]+
            last_nl = max(run.rfind("\r"), run.rfind("\n"))
            if last_nl >= 0:
                out.append(run[: last_nl + 1])
                i += last_nl + 1
                continue
            # 6. \s+(?!\S)
            if k == n:
                out.append(run)
                i = k
                continue
            if len(run) > 1:
                out.append(run[:-1])
                i += len(run) - 1
                continue
            # 7. \s+
            out.append(run)
            i = k
            continue
        out.append(c)
        i += 1
    return out


def byte_level(piece: str) -> str:
    return "".join(BYTE_ENCODER[b] for b in piece.encode("utf-8"))


def train_bpe(corpus: list[str]) -> list[tuple[str, str]]:
    """Merges (in rank order) that turn every pre-tokenised word of the corpus into a single token."""
    freq = Counter()
    for text in corpus:
        for part in split_added(text):
            if part in ADDED_SET:
                continue
            for piece in pre_tokenize(unicodedata.normalize("NFC", part)):
                freq[byte_level(piece)] += 1
    words = {w: list(w) for w in freq}
    merges = []
    while True:
        pairs = Counter()
        for w, syms in words.items():
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] += freq[w]
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        merged = best[0] + best[1]
        for w, syms in words.items():
            if len(syms) < 2:
                continue
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == best[0] and syms[i + 1] == best[1]:
                    out.append(merged)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[w] = out
    return merges


ADDED = SPECIAL_TOKENS + ANSWER_TOKENS
ADDED_SET = set(ADDED)


def split_added(text: str) -> list[str]:
    """Split on added tokens (longest match first at each position)."""
    parts, buf, i = [], [], 0
    toks = sorted(ADDED, key=len, reverse=True)
    while i < len(text):
        for t in toks:
            if text.startswith(t, i):
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parts.append(t)
                i += len(t)
                break
        else:
            buf.append(text[i])
            i += 1
    if buf:
        parts.append("".join(buf))
    return parts


class Tokenizer:
    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]], added: dict[str, int]):
        self.vocab = vocab
        self.merges = merges
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.added = added
        self.id_to_token = {i: t for t, i in vocab.items()}
        self.id_to_token.update({i: t for t, i in added.items()})
        self._cache: dict[str, list[int]] = {}

    # ---- construction / files -------------------------------------------------------------------------------------
    @classmethod
    def build(cls, corpus: list[str]) -> "Tokenizer":
        merges = train_bpe(corpus)
        vocab = {}
        for ch in BYTE_ENCODER.values():
            vocab[ch] = len(vocab)
        for a, b in merges:
            if a + b not in vocab:
                vocab[a + b] = len(vocab)
        added = {t: len(vocab) + i for i, t in enumerate(ADDED)}
        return cls(vocab, merges, added)

    @classmethod
    def load(cls, folder) -> "Tokenizer":
        j = json.loads((Path(folder) / "tokenizer.json").read_text())
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in j["model"]["merges"]]
        added = {t["content"]: t["id"] for t in j["added_tokens"]}
        return cls(j["model"]["vocab"], merges, added)

    def tokenizer_json(self) -> dict:
        bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {
                    "id": i,
                    "content": t,
                    "single_word": False,
                    "lstrip": False,
                    "rstrip": False,
                    "normalized": False,
                    "special": t in SPECIAL_TOKENS,
                }
                for t, i in sorted(self.added.items(), key=lambda kv: kv[1])
            ],
            "normalizer": {"type": "NFC"},
            "pre_tokenizer": {
                "type": "Sequence",
                "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": QWEN_SPLIT_REGEX}, "behavior": "Isolated", "invert": False},
                    bl,
                ],
            },
            "post_processor": dict(bl, trim_offsets=False),
            "decoder": dict(bl),
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": None,
                "continuing_subword_prefix": "",
                "end_of_word_suffix": "",
                "fuse_unk": False,
                "byte_fallback": False,
                "ignore_merges": False,
                "vocab": self.vocab,
                "merges": [f"{a} {b}" for a, b in self.merges],
            },
        }

    def tokenizer_config(self) -> dict:
        return {
            "add_prefix_space": False,
            "added_tokens_decoder": {
                str(i): {
                    "content": t,
                    "lstrip": False,
                    "normalized": False,
                    "rstrip": False,
                    "single_word": False,
                    "special": t in SPECIAL_TOKENS,
                }
                for t, i in sorted(self.added.items(), key=lambda kv: kv[1])
            },
            "additional_special_tokens": [
                "<|im_start|>",
                "<|im_end|>",
                "<|object_ref_start|>",
                "<|object_ref_end|>",
                "<|box_start|>",
                "<|box_end|>",
                "<|quad_start|>",
                "<|quad_end|>",
                "<|vision_start|>",
                "<|vision_end|>",
                "<|vision_pad|>",
                "<|image_pad|>",
                "<|video_pad|>",
            ],
            "bos_token": None,
            "chat_template": CHAT_TEMPLATE,
            "clean_up_tokenization_spaces": False,
            "eos_token": "<|im_end|>",
            "errors": "replace",
            "model_max_length": 4096,
            "pad_token": "<|endoftext|>",
            "padding_side": "left",
            "split_special_tokens": False,
            "tokenizer_class": "Qwen2Tokenizer",
            "unk_token": None,
        }

    def save(self, folder) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tokenizer.json").write_text(json.dumps(self.tokenizer_json(), ensure_ascii=False, indent=1) + "\n")
        (folder / "tokenizer_config.json").write_text(
            json.dumps(self.tokenizer_config(), ensure_ascii=False, indent=2) + "\n"
        )

    # ---- encode / decode -----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.vocab) + len(self.added)

    def token_id(self, token: str) -> int:
        if token in self.added:
            return self.added[token]
        return self.vocab[token]

    def _bpe(self, word: str) -> list[int]:
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        syms = list(word)
        while len(syms) > 1:
            best, pos = None, -1
            for i in range(len(syms) - 1):
                r = self.ranks.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best):
                    best, pos = r, i
            if best is None:
                break
            syms[pos : pos + 2] = [syms[pos] + syms[pos + 1]]
        ids = [self.vocab[s] for s in syms]
        self._cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        ids = []
        for part in split_added(text):
            if part in self.added:
                ids.append(self.added[part])
                continue
            for piece in pre_tokenize(unicodedata.normalize("NFC", part)):
                ids.extend(self._bpe(byte_level(piece)))
        return ids

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        out, buf = [], []
        special = set(SPECIAL_TOKENS)
        for i in ids:
            t = self.id_to_token.get(int(i))
            if t is None:
                continue
            if t in self.added:
                if buf:
                    out.append(bytes(BYTE_DECODER[c] for c in "".join(buf)).decode("utf-8", errors="replace"))
                    buf = []
                if not (skip_special_tokens and t in special):
                    out.append(t)
            else:
                buf.append(t)
        if buf:
            out.append(bytes(BYTE_DECODER[c] for c in "".join(buf)).decode("utf-8", errors="replace"))
        return "".join(out)
