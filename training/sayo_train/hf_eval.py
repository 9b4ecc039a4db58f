"""`python -m sayo_train eval`: `sayo eval` on Hugging Face checkpoints (full folders or LoRA adapter folders), in
their own stack, sharded over processes / GPUs by accelerate.

Same metrics and definitions as `sayo eval` (src/core/metrics.ts, models/CONTRACT.md "Metrics"): greedy decoding
(argmax over the whole vocabulary, stop at the checkpoint's eos ids, as the Node engine), the last decoder layer,
mean over heads, boxes united, ε = 1e-8, the "produced" alignment by default (the row that chose a token is that
token's row, what the engine records at each decoding step): per sample correct, R_a (mean over every scored token
of ½(1 + tanh log((a+ε)/(v+ε)))), r_v (top-30 % entropy tokens), image share (mean over tokens of the head-mean
share of the whole row on image tokens), pointing hit (the argmax of the head- and token-mean image attention lies in
a box); R_a / r_v / pointing are null without a box. With two or more models each row also carries the model's
figures teacher-forced on its partner's greedy answer (`tf_*`; the first model's partner is the second, every other
model's partner is the first; the partner's token ids are forced when both checkpoints share the architecture, else
its text re-tokenised with the scorer's tokenizer + the end token), as `sayo eval` does.

How: each batch of records is generated with transformers' `generate` on a LEFT-padded batch (the processor pads
on the left; generate builds positions and the M-RoPE index from the attention mask), then every answer goes through
one teacher-forced, RIGHT-padded forward with eager attention on the last layer (the reward's pass,
policy_attention.measure's layout: every index is the sequence's own), which gives the attention rows, the image
share, the row sums and the entropies. The numbers then go through reward_math.py via policy_attention.summarize.

Scale-out: under `accelerate launch` each process takes `split_between_processes` of the pending records, appends its
rows to `<out>/progress[.<rank>].jsonl` as soon as a batch is done, and `gather_object` brings every row to the main
process, which writes results.json / results.csv / plot.svg in `sayo eval`'s schema. A rerun with the same --out
skips every row already there whose key matches (the checkpoint's files, the record's line, content and image
bytes, the token budget, the alignment and, for tf_* figures, the partner's files).

Sessions (`--sessions DIR --keep all|worst:N|diff:N`): per kept question, one file in the lens's session format
(src/session/serialize.ts, version 1): the image, the question, the boxes, every model's own answer (source
"generate") and its teacher-forced score of the partner's answer (source "score") with the last layer's attention
of every head. They are written after the rows exist (worst / diff need them all), from each row's token ids by a
teacher-forced pass; results.json / results.csv / plot.svg name each row's file (`session`).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import os
import re
import string
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
from PIL import Image

from .geometry import GeometryError, box_tokens
from .hf_data import prompt_text
from .policy_attention import decoder_layers, grid_from_thw, right_padded, summarize
from .reward_math import ALIGNMENTS, DEFAULT_EPS, DEFAULT_TOP_RATIO, RewardError
from .text_rewards import extract_answer


class _Capture:
    """Forward hook keeping the attention probabilities [B, H, L, L] a decoder layer's attention module returns
    (eager attention returns them as its second output)."""

    def __init__(self, module):
        self.probs = None
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, _module, _inputs, output):
        self.probs = output[1]

    def close(self):
        self.handle.remove()


MAX_NEW_TOKENS = 24
MAX_BOXES = 256
CSV_COLUMNS = [
    "model",
    "modelName",
    "line",
    "image",
    "question",
    "answer",
    "prediction",
    "correct",
    "tokens",
    "stoppedBy",
    "R_a",
    "r_v",
    "imageShare",
    "pointingHit",
    "tf_on",
    "tf_tokens",
    "tf_R_a",
    "tf_r_v",
    "tf_imageShare",
    "tf_pointingHit",
    "ms",
    "prefillMs",
    "decodeMs",
    "session",
    "text",
]


class EvalError(ValueError):
    """A problem with the command's inputs (one line, exit status 2)."""


# ---------------------------------------------------------------------------------------------------- the set


@dataclass
class Record:
    line: int
    image: str
    image_path: str
    question: str
    answer: str
    boxes: list


def read_eval_set(path) -> tuple[list[Record], list[dict]]:
    """`sayo eval`'s reader (src/cli/lib/jsonl.ts): 1-based line numbers, blank lines ignored, a malformed line is
    reported and skipped; boxes optional (a record without one has no R_a / r_v / pointing)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise EvalError(f"cannot read {path}: {e.strerror or e}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    recs, problems = [], []
    for i, raw in enumerate(text.replace("\r\n", "\n").split("\n")):
        if not raw.strip():
            continue
        try:
            r = json.loads(raw)
            if not isinstance(r, dict):
                raise ValueError("not a JSON object")
            for k in ("image", "question", "answer"):
                if not isinstance(r.get(k), str) or not r[k]:
                    raise ValueError(f'"{k}" must be a non-empty string')
            boxes = r.get("boxes", [])
            if boxes is None:
                boxes = []
            ok = isinstance(boxes, list) and all(
                isinstance(b, list)
                and len(b) == 4
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in b)
                for b in boxes
            )
            if not ok:
                raise ValueError('"boxes" must be a list of [x1, y1, x2, y2] number lists')
            if len(boxes) > MAX_BOXES:
                raise ValueError(f'"boxes": {len(boxes)} boxes, more than {MAX_BOXES}')
            recs.append(
                Record(i + 1, r["image"], str((path.parent / r["image"]).resolve()), r["question"], r["answer"], boxes)
            )
        except json.JSONDecodeError as e:
            problems.append({"line": i + 1, "message": f"invalid JSON ({e.msg})"})
        except ValueError as e:
            problems.append({"line": i + 1, "message": str(e)})
    return recs, problems


def _digest(data: bytes, n: int = 16) -> str:
    return hashlib.sha256(data).hexdigest()[:n]


def image_digest(path: str) -> str:
    try:
        return _digest(Path(path).read_bytes())
    except OSError:
        return "unreadable"


def record_digest(r: Record) -> str:
    content = json.dumps(
        [r.image, r.question, r.answer, r.boxes, image_digest(r.image_path)], separators=(",", ":"), ensure_ascii=False
    )
    return _digest(content.encode(), 12)


# ------------------------------------------------------------------------------------------------- the models

MODEL_FILE_SUFFIXES = (".json", ".jinja", ".safetensors", ".bin", ".model", ".txt")


def folder_fingerprint(*folders) -> str:
    """A hash of the names and bytes of every file an answer depends on: configs, tokenizer, template, weights."""
    h = hashlib.sha256()
    for folder in folders:
        if folder is None:
            continue
        folder = Path(folder)
        for f in sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(MODEL_FILE_SUFFIXES)):
            h.update(f"{f.name}\0".encode())
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


@dataclass
class ModelRef:
    spec: str  # the --model argument as given
    folder: Path  # a checkpoint folder, or a LoRA adapter folder
    base: Path | None  # the base checkpoint of an adapter
    name: str
    fingerprint: str = ""

    @property
    def is_adapter(self) -> bool:
        return self.base is not None


def model_ref(spec: str, base: str | None = None) -> ModelRef:
    folder = Path(spec)
    if not folder.is_dir():
        raise EvalError(f"--model {spec}: not a folder (a Hugging Face checkpoint or a LoRA adapter folder)")
    if (folder / "adapter_config.json").exists():
        cfg = json.loads((folder / "adapter_config.json").read_text())
        b = Path(base) if base else Path(cfg.get("base_model_name_or_path") or "")
        if not base and not b.is_absolute():
            b = (folder / b) if (folder / b / "config.json").exists() else b
        if not (b / "config.json").exists():
            raise EvalError(
                f"--model {spec}: a LoRA adapter whose base {str(b)!r} is not a checkpoint folder here "
                f"(give it with --base)"
            )
        return ModelRef(spec, folder, b, folder.resolve().name)
    if not (folder / "config.json").exists():
        raise EvalError(f"--model {spec}: no config.json (nor adapter_config.json)")
    return ModelRef(spec, folder, None, folder.resolve().name)


def load_model(ref: ModelRef, dtype=torch.float32, device="cpu", attn_implementation="eager"):
    """(model, processor) in eval mode; an adapter is merged into its base with peft's merge_and_unload."""
    from transformers import AutoModelForImageTextToText

    from . import hf_model

    src = ref.base if ref.is_adapter else ref.folder
    model = AutoModelForImageTextToText.from_pretrained(
        src, attn_implementation=attn_implementation, dtype=dtype, trust_remote_code=False
    )
    if ref.is_adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, ref.folder).merge_and_unload()
    proc_dir = ref.folder if (ref.folder / "preprocessor_config.json").exists() else src
    proc = hf_model.processor_class(src).from_pretrained(proc_dir)
    return model.to(device).eval(), proc


def eos_ids(model) -> list[int]:
    e = getattr(model.generation_config, "eos_token_id", None)
    if e is None:
        e = model.config.eos_token_id if hasattr(model.config, "eos_token_id") else None
    if e is None:
        e = getattr(getattr(model.config, "text_config", None), "eos_token_id", None)
    return [int(x) for x in ([] if e is None else (e if isinstance(e, (list, tuple)) else [e]))]


def shares_token_ids(a, b) -> bool:
    """As the Node engine's sharesTokenIds: same model type, layers and heads → the ids mean the same."""

    def key(m):
        t = getattr(m.config, "text_config", m.config)
        return (m.config.model_type, t.num_hidden_layers, t.num_attention_heads)

    return key(a) == key(b)


# --------------------------------------------------------------------------------------- generate and score


class _StepClock:
    """A logits processor that only notes when the first step's logits exist (prefill end) and when the last did."""

    def __init__(self):
        self.first = None
        self.last = None

    def __call__(self, input_ids, scores):
        t = time.perf_counter()
        if self.first is None:
            self.first = t
        self.last = t
        return scores


@torch.no_grad()
def generate_batch(model, proc, images, questions, max_new: int, system_prompt=None):
    """Greedy answers of a left-padded batch. Returns per item (token ids ending with the eos id when finished,
    finished) and the batch's (wall, prefill, decode) seconds."""
    from transformers import LogitsProcessorList

    texts = [prompt_text(proc, q, system_prompt) for q in questions]
    enc = proc(images=[[im] for im in images], text=texts, return_tensors="pt", padding=True, padding_side="left")
    device = next(model.parameters()).device
    enc = {k: (v.to(device, dtype=model.dtype) if k == "pixel_values" else v.to(device)) for k, v in enc.items()}
    eos = eos_ids(model)
    clock = _StepClock()
    t0 = time.perf_counter()
    out = model.generate(
        **enc,
        max_new_tokens=max_new,
        do_sample=False,
        num_beams=1,
        temperature=None,
        top_p=None,
        top_k=None,
        eos_token_id=eos,
        pad_token_id=proc.tokenizer.pad_token_id,
        logits_processor=LogitsProcessorList([clock]),
    )
    t1 = time.perf_counter()
    P = enc["input_ids"].shape[1]
    res = []
    for b in range(out.shape[0]):
        c = out[b, P:].tolist()
        cut = next((i for i, t in enumerate(c) if t in eos), None)
        c = c[: cut + 1] if cut is not None else c[:max_new]
        res.append((c, cut is not None))
    first = clock.first if clock.first is not None else t1
    return res, (t1 - t0, first - t0, t1 - first)


@torch.no_grad()
def score_batch(model, proc, images, questions, completions, system_prompt=None, layer: int = -1):
    """One teacher-forced forward over each prompt + completion (right-padded, eager attention, `layer` captured).
    Per item: att [T, H, N] (row t produced token t), image_share [T, H], row_sum [T, H], entropy [T] (float64,
    logits at temperature 1), grid_thw, prompt_len, image_start."""
    texts = [prompt_text(proc, q, system_prompt) for q in questions]
    enc, plens, ids, mask = right_padded(proc, texts, images, completions)
    pad = proc.tokenizer.pad_token_id
    device = next(model.parameters()).device
    previous = model.config._attn_implementation
    if previous != "eager":
        model.set_attn_implementation("eager")
    cap = _Capture(decoder_layers(model)[layer].self_attn)
    # A completion may hold an <|image_pad|> (or <|vision_start|>) token: at generation it was a plain embedding, but
    # one forward over prompt + completion would count it as an image position. The vision placeholders and the
    # M-RoPE index are therefore read from the ids with every completion position replaced by the pad token, which
    # gives exactly the generation's embeddings and positions.
    prompt_only = ids.clone()
    for b, p in enumerate(plens):
        prompt_only[b, p:] = pad
    prompt_only = prompt_only.to(device)
    inner = model.model
    patched = {}
    for name in ("get_placeholder_mask", "get_rope_index"):
        orig = getattr(inner, name)
        patched[name] = (
            lambda orig: (
                lambda input_ids, *args, **kw: orig(
                    prompt_only if input_ids is not None and input_ids.shape == prompt_only.shape else input_ids,
                    *args,
                    **kw,
                )
            )
        )(orig)
        setattr(inner, name, patched[name])
    try:
        out = model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            pixel_values=enc["pixel_values"].to(device, dtype=model.dtype),
            image_grid_thw=enc["image_grid_thw"].to(device),
            use_cache=False,
        )
        probs = cap.probs
    finally:
        cap.close()
        for name in patched:
            delattr(inner, name)
        if previous != "eager":
            model.set_attn_implementation(previous)
    image_id = model.config.image_token_id
    res = []
    for b, (p, c) in enumerate(zip(plens, completions)):
        T = len(c)
        rows = torch.arange(p - 1, p - 1 + T, device=probs.device)
        full = probs[b][:, rows].to(torch.float64)  # H, T, L
        cols = (ids[b, :p] == image_id).nonzero(as_tuple=True)[0].to(probs.device)  # the prompt's only
        att = full[:, :, cols]  # H, T, N
        lp = torch.log_softmax(out.logits[b, rows].to(torch.float64), -1)
        res.append(
            {
                "att": att.transpose(0, 1).cpu(),
                "image_share": att.sum(-1).transpose(0, 1).cpu(),
                "row_sum": full.sum(-1).transpose(0, 1).cpu(),
                "entropy": (-(lp.exp() * lp).sum(-1)).cpu(),
                "grid_thw": enc["image_grid_thw"][b].tolist(),
                "prompt_len": p,
                "image_start": int(cols[0]) if len(cols) else 0,
            }
        )
    del probs, out
    return res


def sample_metrics(st: dict, grid, boxes, *, alignment="produced", eps=DEFAULT_EPS, top_ratio=DEFAULT_TOP_RATIO):
    """`sampleMetrics`'s attention side (src/core/metrics.ts) from one score_batch item."""
    att = st["att"]
    share = float(st["image_share"].mean(-1).mean())
    out = {"R_a": None, "r_v": None, "imageShare": share, "pointingHit": None}
    if not boxes:
        return out
    tgt = box_tokens(grid, boxes)
    try:
        r = summarize(att, st["entropy"], tgt, top_ratio=top_ratio, eps=eps, alignment=alignment)
    except RewardError:  # one token under the input alignment: nothing to score
        return out
    heat = att.mean(1).sum(0)  # N
    out.update(
        R_a=sum(t["R_a"] for t in r["per_token"]) / len(r["per_token"]),
        r_v=r["r_v"],
        pointingHit=int(torch.argmax(heat)) in set(tgt),
    )
    return out


# ---------------------------------------------------------------------------------------------- answers

# JavaScript's white space (String.prototype.trim, /\s/): Python's str.strip / str.split also take \x1c-\x1f and
# \x85, which JavaScript keeps, and the answers must compare as `sayo eval` compares them.
JS_WS = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_JS_WS_RUN = re.compile(f"[{JS_WS}]+")


def js_trim(text: str) -> str:
    return text.strip(JS_WS)


def normalize_answer(text: str) -> str:
    """normalizeAnswer of src/core/metrics.ts: lower-case, trim, drop a/an/the and ASCII punctuation, collapse."""
    t = re.sub(r"\b(a|an|the)\b", " ", js_trim(text.lower()), flags=re.ASCII)
    t = "".join(ch for ch in t if ch not in string.punctuation)
    return " ".join(w for w in _JS_WS_RUN.split(t) if w)


def is_correct(generation: str, reference: str) -> bool:
    return normalize_answer(extract_answer(generation)) == normalize_answer(reference)


# ------------------------------------------------------------------------------------------------ progress


def progress_files(out: Path) -> list[Path]:
    return sorted(out.glob("progress*.jsonl"))


ROW_TYPES = {
    "key": str,
    "model": str,
    "modelName": str,
    "line": int,
    "image": str,
    "question": str,
    "answer": str,
    "prediction": str,
    "text": str,
    "correct": bool,
    "tokens": int,
    "stoppedBy": str,
    "ms": (int, float),
    "prefillMs": (int, float),
    "decodeMs": (int, float),
    "tokenIds": list,
}


def _is_row(r) -> bool:
    if not isinstance(r, dict):
        return False
    if not all(isinstance(r.get(k), t) and not (t is int and isinstance(r.get(k), bool)) for k, t in ROW_TYPES.items()):
        return False
    return all(r.get(k) is None or isinstance(r.get(k), (int, float)) for k in ("R_a", "r_v", "imageShare"))


def load_progress(out: Path) -> dict:
    """Rows already in <out>/progress*.jsonl by key; a torn last line (a kill mid-append) is cut off first."""
    rows = {}
    for f in progress_files(out):
        data = f.read_bytes()
        if data and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]
            with open(f, "r+b") as fh:
                fh.truncate(len(data))
        for line in data.decode("utf-8", "replace").split("\n"):
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if _is_row(r):
                rows[r["key"]] = r
    return rows


# ------------------------------------------------------------------------------------------------ sessions


def _data_url(path: str) -> tuple[str, int, int]:
    data = Path(path).read_bytes()
    with Image.open(Path(path)) as im:
        fmt, (w, h) = im.format, im.size
    mime = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif", "BMP": "image/bmp"}
    if fmt not in mime:
        raise EvalError(f"{path}: {fmt} images cannot go into a session file (PNG, JPEG, WebP, GIF, BMP)")
    return f"data:{mime[fmt]};base64,{base64.b64encode(data).decode()}", w, h


def _f32(t: torch.Tensor) -> str:
    return base64.b64encode(t.to(torch.float32).contiguous().numpy().astype("<f4").tobytes()).decode()


def session_panel(side, ref: ModelRef, proc, st: dict, ids: list[int], layer_id: int, source: str, summary=None):
    ip = proc.image_processor
    _t, gh, gw = st["grid_thw"]
    m = ip.merge_size
    rows, cols = gh // m, gw // m
    att = st["att"]
    T, H, N = att.shape
    steps = []
    for t in range(T):
        steps.append(
            {
                "index": t,
                "tokenId": int(ids[t]),
                "text": proc.tokenizer.decode([ids[t]], skip_special_tokens=False),
                "entropy": max(0.0, float(st["entropy"][t])),
                "layers": [layer_id],
                "heads": H,
                "n": N,
                "attention": _f32(att[t]),
                "imageShare": _f32(st["image_share"][t]),
                "rowSum": _f32(st["row_sum"][t]),
            }
        )
    panel = {
        "side": side,
        "modelId": ref.spec,
        "modelName": ref.name,
        "source": source,
        "prompt": {
            "image": None,
            "resized": {"width": gw * ip.patch_size, "height": gh * ip.patch_size},
            "gridThw": [1, gh, gw],
            "grid": {"rows": rows, "cols": cols},
            "imageSpan": {"start": st["image_start"], "length": N},
            "promptTokens": st["prompt_len"],
            "unknownWords": [],
        },
        "steps": steps,
    }
    if summary is not None:
        panel["summary"] = summary
    return panel


def session_file(rec: Record, panels: list[dict], layer_id: int) -> dict:
    url, w, h = _data_url(rec.image_path)
    for p in panels:
        p["prompt"]["image"] = {"width": w, "height": h}
    return {
        "format": "sayo-lens-session",
        "version": 1,
        "createdAt": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "question": rec.question,
        "image": {"name": Path(rec.image).name, "width": w, "height": h, "dataUrl": url},
        "boxes": [[float(v) for v in b] for b in rec.boxes],
        "panels": panels,
        "view": {
            "token": "all",
            "layer": layer_id,
            "head": {"kind": "mean"},
            "norm": "shared",
            "opacity": 0.6,
            "colorBy": "ra",
        },
    }


def parse_keep(keep: str) -> tuple[str, int | None]:
    if keep == "all":
        return "all", None
    kind, _, n = keep.partition(":")
    if kind in ("worst", "diff") and n.isdigit() and int(n) > 0:
        return kind, int(n)
    raise EvalError(f"--keep: expected all, worst:N or diff:N, got {keep!r}")


def identical_text_gap(base: dict | None, trained: dict | None) -> float | None:
    """`sayo eval`'s identicalTextGap: the largest |trained − base| R_a on identical text — on the base's answer
    (trained teacher-forced vs the base's own) and on the trained's answer (its own vs the base teacher-forced)."""
    if not base or not trained:
        return None
    gaps = []
    if trained["tf_on"] == base["model"] and trained["tf_R_a"] is not None and base["R_a"] is not None:
        gaps.append(abs(trained["tf_R_a"] - base["R_a"]))
    if base["tf_on"] == trained["model"] and base["tf_R_a"] is not None and trained["R_a"] is not None:
        gaps.append(abs(trained["R_a"] - base["tf_R_a"]))
    return max(gaps) if gaps else None


def select_sessions(keep: str, refs: list[ModelRef], rows: list[dict]) -> list[int]:
    """Lines to write a session for, as `sayo eval --keep` (src/cli/lib/sessions.ts selectLines): all; worst:N, the
    last model's N lowest R_a on its own answers; diff:N, the N largest identical_text_gap between the first and the
    last model (the questions where the two look most differently at the same words). Ties to the lower line."""
    kind, n = parse_keep(keep)
    by = {(r["model"], r["line"]): r for r in rows}
    lines = sorted({r["line"] for r in rows})
    if kind == "all":
        return lines
    first, last = refs[0].spec, refs[-1].spec
    if kind == "worst":
        scored = [
            (by[(last, ln)]["R_a"], ln) for ln in lines if by.get((last, ln)) and by[(last, ln)]["R_a"] is not None
        ]
    else:
        if len(refs) < 2:
            raise EvalError("--keep diff:N compares two models: give two --model")
        scored = [
            (-g, ln) for ln in lines if (g := identical_text_gap(by.get((first, ln)), by.get((last, ln)))) is not None
        ]
    return sorted(ln for _v, ln in sorted(scored)[:n])


# ------------------------------------------------------------------------------------------------ the run


def partner_of(i: int, count: int) -> int:
    """As `sayo eval`: the first model's partner is the second, every other model's partner is the first."""
    if count < 2:
        return -1
    return 1 if i == 0 else 0


def answer_ids_for(scorer, scorer_proc, author, author_row) -> list[int] | None:
    """What the scorer is forced on: the author's token ids when the ids mean the same, else its text + end token."""
    if author_row["tokenIds"] and shares_token_ids(scorer, author):
        return list(author_row["tokenIds"])
    if not author_row["text"].strip():
        return None
    ids = scorer_proc.tokenizer(author_row["text"], add_special_tokens=False)["input_ids"]
    eos = eos_ids(scorer)
    if eos and (not ids or ids[-1] != eos[0]):
        ids.append(eos[0])
    return ids


def grid_for(st, img, proc):
    ip = proc.image_processor
    return grid_from_thw(st["grid_thw"], img.width, img.height, ip.patch_size, ip.merge_size)


def evaluate_batch(models, refs, recs: list[Record], keys: list[list[str]], args) -> tuple[list[dict], list[dict]]:
    """Every model over a batch of records: greedy answers, own scores, and tf scores on the partner's answer."""
    skips, images, ok = [], [], []
    for r in recs:
        try:
            with Image.open(r.image_path) as im:
                images.append(im.convert("RGB"))
            ok.append(r)
        except FileNotFoundError:
            skips.append({"line": r.line, "reason": f"image {r.image} not found"})
        except OSError as e:
            skips.append({"line": r.line, "reason": f"image {r.image}: {e}"})
    keys = [k for r, k in zip(recs, keys) if r in ok]
    recs = ok
    if not recs:
        return [], skips
    qs = [r.question for r in recs]
    gens = []
    for model, proc in models:
        res, (wall, pre, dec) = generate_batch(model, proc, images, qs, args.max_new_tokens, args.system_prompt)
        gens.append((res, wall, pre, dec))
    rows_by_model = []
    for i, ((model, proc), ref) in enumerate(zip(models, refs)):
        res, wall, pre, dec = gens[i]
        comps = [c if c else eos_ids(model)[:1] for c, _f in res]
        stats = score_batch(model, proc, images, qs, comps, args.system_prompt)
        rows = []
        for b, (rec, st) in enumerate(zip(recs, stats)):
            c, finished = res[b]
            text = proc.tokenizer.decode(c, skip_special_tokens=True) if c else ""
            m = sample_metrics(st, grid_for(st, images[b], proc), rec.boxes, alignment=args.alignment)
            n = len(recs)
            rows.append(
                {
                    "key": keys[b][i],
                    "model": ref.spec,
                    "modelName": ref.name,
                    "line": rec.line,
                    "image": rec.image,
                    "question": rec.question,
                    "answer": rec.answer,
                    "prediction": js_trim(extract_answer(text)),
                    "text": text,
                    "correct": is_correct(text, rec.answer),
                    "tokens": len(c),
                    "stoppedBy": "eos" if finished else "max_tokens",
                    **m,
                    "ms": 1000 * wall / n,
                    "prefillMs": 1000 * pre / n,
                    "decodeMs": 1000 * dec / n,
                    "tokenIds": c,
                    "tf_on": None,
                    "tf_tokens": None,
                    "tf_R_a": None,
                    "tf_r_v": None,
                    "tf_imageShare": None,
                    "tf_pointingHit": None,
                }
            )
        rows_by_model.append(rows)
    for i, ((model, proc), ref) in enumerate(zip(models, refs)):
        p = partner_of(i, len(models))
        if p < 0:
            continue
        forced = [answer_ids_for(model, proc, models[p][0], rows_by_model[p][b]) for b in range(len(recs))]
        idx = [b for b, f in enumerate(forced) if f]
        if not idx:
            continue
        stats = score_batch(
            model, proc, [images[b] for b in idx], [qs[b] for b in idx], [forced[b] for b in idx], args.system_prompt
        )
        for b, st in zip(idx, stats):
            m = sample_metrics(st, grid_for(st, images[b], proc), recs[b].boxes, alignment=args.alignment)
            rows_by_model[i][b].update(
                tf_on=refs[p].spec,
                tf_tokens=len(forced[b]),
                tf_R_a=m["R_a"],
                tf_r_v=m["r_v"],
                tf_imageShare=m["imageShare"],
                tf_pointingHit=m["pointingHit"],
            )
    return [r for rows in rows_by_model for r in rows], skips


def write_sessions(models, refs, recs: list[Record], rows_by: dict, session_dir: Path, args) -> dict:
    """Session files for `recs` as `sayo eval --sessions` writes them: the pair is the first and the last model
    ("base" and "trained" in the lens); per model its own answer (source "generate") and, when the eval
    teacher-forced it on the other's answer, that score (source "score"), rebuilt from the rows' token ids by a
    teacher-forced pass (the attention the answer was produced with). Returns {line: file path}."""
    written = {}
    pair = [0, len(models) - 1] if len(models) > 1 else [0]
    sides = ["base", "trained"]
    layer_id = len(decoder_layers(models[0][0])) - 1
    for rec in recs:
        img = Image.open(rec.image_path).convert("RGB")
        panels = []
        for k, i in enumerate(pair):
            (model, proc), ref = models[i], refs[i]
            row = rows_by.get((ref.spec, rec.line))
            if row is None or not row["tokenIds"]:
                continue
            st = score_batch(model, proc, [img], [rec.question], [row["tokenIds"]], args.system_prompt)[0]
            summary = {
                "tokens": row["tokens"],
                "stoppedBy": row["stoppedBy"],
                "text": row["text"],
                "prefillMs": row["prefillMs"],
                "decodeMs": row["decodeMs"],
            }
            panels.append(session_panel(sides[k], ref, proc, st, row["tokenIds"], layer_id, "generate", summary))
            j = pair[1 - k] if len(pair) > 1 else None
            other = rows_by.get((refs[j].spec, rec.line)) if j is not None else None
            if other is not None and row["tf_on"] == other["model"]:
                forced = answer_ids_for(model, proc, models[j][0], other)
                if forced:
                    t0 = time.perf_counter()
                    st = score_batch(model, proc, [img], [rec.question], [forced], args.system_prompt)[0]
                    ms = 1000 * (time.perf_counter() - t0)
                    scored = {
                        "tokens": len(forced),
                        "stoppedBy": "eos" if forced[-1] in eos_ids(model) else "max_tokens",
                        "text": proc.tokenizer.decode(forced, skip_special_tokens=True),
                        "prefillMs": ms,
                        "decodeMs": 0.0,
                    }
                    panels.append(session_panel(sides[k], ref, proc, st, forced, layer_id, "score", scored))
        if not panels:
            continue
        f = session_dir / f"line-{rec.line:06d}.json"
        tmp = f.with_name(f".{f.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(session_file(rec, panels, layer_id)))
        os.replace(tmp, f)
        written[rec.line] = str(f)
    return written


def _mean(vals):
    v = [float(x) for x in vals if x is not None]
    return sum(v) / len(v) if v else None


def summarize_rows(ref: ModelRef, rows: list[dict], resumed: int, partner: ModelRef | None) -> dict:
    tokens = sum(r["tokens"] for r in rows)
    secs = sum(r["ms"] for r in rows) / 1000
    s = {
        "model": ref.spec,
        "name": ref.name,
        "samples": len(rows),
        "accuracy": _mean([r["correct"] for r in rows]) or 0.0,
        "R_a": _mean([r["R_a"] for r in rows]),
        "r_v": _mean([r["r_v"] for r in rows]),
        "imageShare": _mean([r["imageShare"] for r in rows]),
        "pointingHit": _mean([r["pointingHit"] for r in rows]),
        "tokensPerSecond": tokens / secs if secs > 0 else None,
        "resumed": resumed,
        "format": _mean([r["stoppedBy"] == "eos" and "</answer>" in r["text"] for r in rows]),
        "meanTokens": _mean([r["tokens"] for r in rows]),
        "teacherForced": None,
    }
    if partner is not None:
        f = [r for r in rows if r["tf_on"] is not None]
        s["teacherForced"] = {
            "on": partner.spec,
            "onName": partner.name,
            "samples": len(f),
            "R_a": _mean([r["tf_R_a"] for r in f]),
            "r_v": _mean([r["tf_r_v"] for r in f]),
            "imageShare": _mean([r["tf_imageShare"] for r in f]),
            "pointingHit": _mean([r["tf_pointingHit"] for r in f]),
        }
    return s


def _paired(pairs):
    d = [a - b for a, b in pairs if a is not None and b is not None]
    if not d:
        return {"n": 0, "mean": None, "se": None}
    m = sum(d) / len(d)
    sd = math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1)) if len(d) > 1 else None
    return {"n": len(d), "mean": m, "se": None if sd is None else sd / math.sqrt(len(d))}


def paired_differences(refs, rows_of: list[list[dict]]) -> list[dict]:
    """`sayo eval`'s paired differences on identical text (see pairedDifferences in src/cli/commands/eval.ts)."""
    if len(refs) < 2:
        return []
    first = {r["line"]: r for r in rows_of[0]}
    out = []
    keys = ("R_a", "r_v", "imageShare")
    for ref, rows in zip(refs[1:], rows_of[1:]):
        own = [r for r in rows if r["tf_on"] == refs[0].spec and r["line"] in first]
        out.append(
            {
                "textOf": refs[0].name,
                "model": ref.name,
                "minus": refs[0].name,
                **{k: _paired([(r[f"tf_{k}"], first[r["line"]][k]) for r in own]) for k in keys},
            }
        )
    second = {r["line"]: r for r in rows_of[1]}
    forced = [r for r in rows_of[0] if r["tf_on"] == refs[1].spec and r["line"] in second]
    out.append(
        {
            "textOf": refs[1].name,
            "model": refs[1].name,
            "minus": refs[0].name,
            **{k: _paired([(second[r["line"]][k], r[f"tf_{k}"]) for r in forced]) for k in keys},
        }
    )
    return out


def _csv_cell(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        s = ""
    elif isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, float):
        s = repr(v) if not v.is_integer() else str(int(v))
    else:
        s = str(v)
    if isinstance(v, str) and s[:1] in ("=", "+", "-", "@", "\t", "\r"):
        s = "'" + s
    return '"' + s.replace('"', '""') + '"' if any(ch in s for ch in '",\r\n') else s


def to_csv(columns, rows) -> str:
    """src/cli/lib/csv.ts's toCsv: RFC 4180 quoting, formula-leading text cells prefixed with an apostrophe."""
    return "\n".join([",".join(columns)] + [",".join(_csv_cell(r.get(c)) for c in columns) for r in rows]) + "\n"


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="sayo_train eval",
        description=(
            "sayo eval on Hugging Face checkpoints: greedy answers, accuracy, R_a, r_v, image share, pointing, "
            "teacher-forced figures on the partner's answer; results.json / results.csv / plot.svg in --out. "
            "Scale out with: accelerate launch [--num_processes N] -m sayo_train eval …"
        ),
    )
    ap.add_argument(
        "--model",
        action="append",
        required=True,
        help="checkpoint folder or LoRA adapter folder (repeat: base first, then trained)",
    )
    ap.add_argument("--base", help="base checkpoint of the LoRA adapter folders (default: their adapter_config.json)")
    ap.add_argument("--data", required=True, help='JSONL set: {"image", "question", "answer", "boxes"} per line')
    ap.add_argument("--out", default="sayo-eval", help="output folder (a rerun with the same folder resumes)")
    ap.add_argument("--limit", type=int, help="evaluate only the first n records")
    ap.add_argument("--max-new-tokens", type=int, default=MAX_NEW_TOKENS)
    ap.add_argument("--batch-size", type=int, default=8, help="records per generate call (left-padded)")
    ap.add_argument(
        "--alignment",
        choices=ALIGNMENTS,
        default="produced",
        help="which attention row a token owns (reward.py; sayo eval uses produced)",
    )
    ap.add_argument("--system-prompt", help="system turn (default: the chat template's own, as sayo eval)")
    ap.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32")
    ap.add_argument(
        "--attn-implementation",
        default="eager",
        help="attention for generate (sdpa / flash_attention_2 on GPUs); scoring is always eager",
    )
    ap.add_argument("--sessions", help="folder for the lens's session files (one per kept question)")
    ap.add_argument("--keep", default="all", help="sessions to write: all | worst:N | diff:N (default all)")
    ap.add_argument("--threads", type=int, help="torch threads per process")
    ap.add_argument("--rss-log", help=argparse.SUPPRESS)  # benchmarks: sample this process's RSS every 100 rows
    a = ap.parse_args(argv)
    try:
        return run(a)
    except (EvalError, GeometryError) as e:
        print(f"sayo_train eval: {e}", file=sys.stderr)
        return 2


def _memory() -> dict:
    """This process's resident set and its peak so far (MB), from /proc/self/status."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out["rss_mb" if line.startswith("VmRSS") else "peak_rss_mb"] = int(line.split()[1]) / 1024
    return out


def run(a) -> int:
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list, gather_object

    if a.threads:
        torch.set_num_threads(a.threads)
    if a.max_new_tokens < 1 or a.batch_size < 1 or (a.limit is not None and a.limit < 1):
        raise EvalError("--max-new-tokens, --batch-size and --limit must be positive integers")
    if a.sessions:
        parse_keep(a.keep)
    state = PartialState()
    t_start = time.perf_counter()
    out = Path(a.out)
    refs = [model_ref(m, a.base) for m in a.model]
    if len({r.spec for r in refs}) != len(refs):
        raise EvalError("--model: the same model given twice")
    recs, problems = read_eval_set(a.data)
    recs = recs[: a.limit] if a.limit else recs
    if not recs:
        raise EvalError(f"{a.data} has no usable record")
    if state.is_main_process:
        for p in problems:
            print(f"sayo_train eval: {a.data} line {p['line']}: {p['message']} (skipped)", file=sys.stderr)
        out.mkdir(parents=True, exist_ok=True)
        fps = [folder_fingerprint(r.folder, r.base) for r in refs]
    else:
        fps = [None] * len(refs)
    fps = broadcast_object_list(fps) if state.num_processes > 1 else fps
    for r, fp in zip(refs, fps):
        r.fingerprint = fp
    state.wait_for_everyone()
    done = load_progress(out)

    def keys_of(rec):
        d = record_digest(rec)
        ks = []
        for i, r in enumerate(refs):
            p = partner_of(i, len(refs))
            ks.append(
                f"{r.fingerprint}:{rec.line}:{d}:{a.max_new_tokens}:{a.alignment}"
                + (f":tf:{refs[p].fingerprint}" if p >= 0 else "")
            )
        return ks

    all_keys = {rec.line: keys_of(rec) for rec in recs}
    pending = [rec for rec in recs if any(k not in done for k in all_keys[rec.line])]
    progress_file = out / ("progress.jsonl" if state.is_main_process else f"progress.{state.process_index}.jsonl")
    dtype = getattr(torch, a.dtype)
    mine_rows, mine_skips = [], []
    models = None
    rss = []
    with state.split_between_processes(pending) as mine:
        if mine:
            models = [load_model(r, dtype, state.device, a.attn_implementation) for r in refs]
        for s in range(0, len(mine), a.batch_size):
            batch = mine[s : s + a.batch_size]
            rows, skips = evaluate_batch(models, refs, batch, [all_keys[r.line] for r in batch], a)
            with open(progress_file, "a") as f:
                f.write("".join(json.dumps(r) + "\n" for r in rows))
            mine_rows += rows
            mine_skips += skips
            if a.rss_log and (s // a.batch_size) % max(1, 100 // a.batch_size) == 0:
                rss.append({"rows": s + len(batch), **_memory(), "t": time.perf_counter() - t_start})
            if state.is_main_process:
                print(f"  eval {s + len(batch)}/{len(mine)} (process 0 of {state.num_processes})", flush=True)
    if a.rss_log:
        rss.append({"rows": len(mine_rows) // max(1, len(refs)), **_memory(), "t": time.perf_counter() - t_start})
        Path(f"{a.rss_log}.{state.process_index}").write_text(json.dumps(rss))
    new_rows = gather_object(mine_rows) if state.num_processes > 1 else mine_rows
    skips = gather_object(mine_skips) if state.num_processes > 1 else mine_skips
    # every row, in `sayo eval`'s order: model by model, records in file order
    fresh = {r["key"]: r for r in new_rows}
    rows_of, resumed = [], []
    for i, ref in enumerate(refs):
        rows, n_res = [], 0
        for rec in recs:
            k = all_keys[rec.line][i]
            if k in fresh:
                rows.append(fresh[k])
            elif k in done and done[k]["model"] == ref.spec:
                rows.append(done[k])
                n_res += 1
        rows_of.append(rows)
        resumed.append(n_res)
    session_of = {}
    if a.sessions:
        sdir = Path(a.sessions)
        if state.is_main_process:
            sdir.mkdir(parents=True, exist_ok=True)
        lines = select_sessions(a.keep, refs, [r for rows in rows_of for r in rows]) if state.is_main_process else None
        lines = broadcast_object_list([lines])[0] if state.num_processes > 1 else lines
        state.wait_for_everyone()
        rows_by = {(r["model"], r["line"]): r for rows in rows_of for r in rows}
        want = [rec for rec in recs if rec.line in set(lines)]
        with state.split_between_processes(want) as mine:
            if mine and models is None:
                models = [load_model(r, dtype, state.device, a.attn_implementation) for r in refs]
            written = write_sessions(models, refs, mine, rows_by, sdir, a) if mine else {}
        written = gather_object([written]) if state.num_processes > 1 else [written]
        for w in written:
            session_of.update(w)
    if not state.is_main_process:
        return 0
    for rows in rows_of:
        for r in rows:
            f = session_of.get(r["line"])
            r["session"] = os.path.relpath(f, out) if f else None
    summaries = [
        summarize_rows(ref, rows, n, refs[partner_of(i, len(refs))] if len(refs) > 1 else None)
        for i, (ref, rows, n) in enumerate(zip(refs, rows_of, resumed))
    ]
    all_rows = [r for rows in rows_of for r in rows]
    skipped = sorted(
        [{"line": p["line"], "model": None, "reason": p["message"]} for p in problems]
        + [{"line": s["line"], "model": None, "reason": s["reason"]} for s in skips],
        key=lambda s: s["line"],
    )
    seconds = time.perf_counter() - t_start
    meta = {
        "data": str(Path(a.data).resolve()),
        "records": len(recs),
        "samples": len({r["line"] for r in all_rows}),
        "skippedLines": sorted({s["line"] for s in skipped}),
        "skipped": skipped,
        "maxNewTokens": a.max_new_tokens,
        "layer": "last",
        "seconds": seconds,
        "engine": "transformers",
        "processes": state.num_processes,
        "alignment": a.alignment,
        "batchSize": a.batch_size,
    }
    write_atomic(
        out / "results.json",
        json.dumps(
            {**meta, "models": summaries, "paired": paired_differences(refs, rows_of), "rows": all_rows}, indent=2
        )
        + "\n",
    )
    write_atomic(out / "results.csv", to_csv(CSV_COLUMNS, all_rows))
    from .eval_plot import render_plot

    plot_models = [
        {"name": s["name"], "accuracy": s["accuracy"], "meanRa": s["R_a"], "samples": rows}
        for s, rows in zip(summaries, rows_of)
    ]
    write_atomic(
        out / "plot.svg",
        render_plot(plot_models, f"{Path(a.data).name}: {meta['samples']} samples, greedy, last layer"),
    )
    for s in summaries:
        tf = s["teacherForced"]
        print(
            f"{s['name']}: {s['samples']} samples, accuracy {100 * s['accuracy']:.1f}%, R_a {_fmt(s['R_a'])}, "
            f"r_v {_fmt(s['r_v'])}, image share {_fmt(s['imageShare'])}, pointing {_fmt(s['pointingHit'])}"
            + (f"; tf on {tf['onName']}: R_a {_fmt(tf['R_a'])}, r_v {_fmt(tf['r_v'])}" if tf else "")
        )
    print(
        f"{len(all_rows)} rows ({sum(resumed)} resumed) in {seconds:.1f} s on {state.num_processes} process(es); "
        f"wrote {out / 'results.json'}, {out / 'results.csv'}, {out / 'plot.svg'}"
        + (f"; {len(session_of)} sessions in {a.sessions}" if a.sessions else "")
    )
    return 0


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.4f}"
