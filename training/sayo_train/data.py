"""Seeded synthetic grounded VQA: scenes of coloured shapes, questions whose answer needs one object (or a named few),
their boxes in original-image pixels, a short answer and an SFT completion `… <answer>x</answer>`.

Record format (one JSON object per line, the same format `sayo eval` reads):
    {"image": "<path relative to the jsonl>", "question": "...", "answer": "...", "boxes": [[x1, y1, x2, y2], ...]}
Training records also carry "completion" (the SFT target text, without the final <|im_end|>).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

COLORS = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 60, 220),
    "yellow": (235, 210, 20),
    "purple": (140, 40, 170),
    "orange": (245, 130, 20),
}
SHAPES = ["circle", "square", "triangle", "diamond"]
SIZES = ["small", "big"]
RELATIONS = {"left of": "left", "right of": "right", "above": "above", "below": "below"}
NUMBERS = ["zero", "one", "two", "three", "four", "five"]


class DatasetError(ValueError):
    pass


@dataclass
class Obj:
    shape: str
    color: str
    size: str
    box: tuple[int, int, int, int]

    @property
    def cx(self):
        return (self.box[0] + self.box[2]) / 2

    @property
    def cy(self):
        return (self.box[1] + self.box[3]) / 2


def _draw(d: ImageDraw.ImageDraw, o: Obj):
    x1, y1, x2, y2 = o.box
    col = COLORS[o.color]
    if o.shape == "circle":
        d.ellipse([x1, y1, x2 - 1, y2 - 1], fill=col)
    elif o.shape == "square":
        d.rectangle([x1, y1, x2 - 1, y2 - 1], fill=col)
    elif o.shape == "triangle":
        d.polygon([((x1 + x2) / 2, y1), (x2 - 1, y2 - 1), (x1, y2 - 1)], fill=col)
    else:
        d.polygon(
            [((x1 + x2) / 2, y1), (x2 - 1, (y1 + y2) / 2), ((x1 + x2) / 2, y2 - 1), (x1, (y1 + y2) / 2)], fill=col
        )


def snap_side(x: int, snap: int, min_side: int, max_side: int) -> int:
    """x rounded to a multiple of snap within [min_side, max_side] (snap 0: x unchanged)."""
    if not snap:
        return x
    lo, hi = -(-min_side // snap) * snap, (max_side // snap) * snap
    return min(hi, max(lo, snap * int(math.floor(x / snap + 0.5))))


def make_scene(rng: random.Random, min_side: int, max_side: int, snap: int = 0):
    # varied sizes and aspect ratios (up to 3:1) so dynamic resolution is exercised; with snap > 0 (the processor's
    # factor) the sides are multiples of it, so no implementation resamples the image (held-out set: the trainer's
    # PIL and the browser's canvas / Node's sharp then see identical pixels, and the metrics reproduce exactly)
    for _ in range(100):
        w = rng.randint(min_side, max_side)
        aspect = math.exp(rng.uniform(-math.log(2.5), math.log(2.5)))
        h = int(round(w / aspect))
        if min_side <= h <= max_side:
            break
    else:
        h = w
    w, h = snap_side(w, snap, min_side, max_side), snap_side(h, snap, min_side, max_side)
    m = min(w, h)
    n = rng.choice([1, 2, 2, 3, 3, 4])  # single-object scenes teach perception; 2-4 objects need grounding
    objs: list[Obj] = []
    tries = 0
    while len(objs) < n and tries < 400:
        tries += 1
        size = rng.choice(SIZES)
        s = int(m * (rng.uniform(0.17, 0.23) if size == "small" else rng.uniform(0.31, 0.39)))
        s = max(s, 8)
        x1 = rng.randint(0, w - s)
        y1 = rng.randint(0, h - s)
        box = (x1, y1, x1 + s, y1 + s)
        if any(
            not (box[2] + 2 <= o.box[0] or o.box[2] + 2 <= box[0] or box[3] + 2 <= o.box[1] or o.box[3] + 2 <= box[1])
            for o in objs
        ):
            continue
        objs.append(Obj(rng.choice(SHAPES), rng.choice(list(COLORS)), size, box))
    bg = tuple(rng.randint(200, 250) for _ in range(3))
    img = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(img)
    # faint distractor strokes
    for _ in range(rng.randint(0, 3)):
        g = rng.randint(150, 190)
        d.line(
            [(rng.randint(0, w), rng.randint(0, h)), (rng.randint(0, w), rng.randint(0, h))], fill=(g, g, g), width=1
        )
    for o in objs:
        _draw(d, o)
    return img, objs


def _unique(objs, **kw):
    hits = [o for o in objs if all(getattr(o, k) == v for k, v in kw.items())]
    return hits[0] if len(hits) == 1 else None


def _relation_target(rng, objs):
    """An anchor (unique colour+shape) and the object nearest to it in a direction, unambiguous by a margin."""
    cands = []
    for a in objs:
        if _unique(objs, color=a.color, shape=a.shape) is None:
            continue
        for rel, dirn in RELATIONS.items():

            def ok(o):
                if o is a:
                    return False
                if dirn == "left":
                    return o.box[2] <= a.box[0] and abs(o.cy - a.cy) < (a.box[3] - a.box[1])
                if dirn == "right":
                    return o.box[0] >= a.box[2] and abs(o.cy - a.cy) < (a.box[3] - a.box[1])
                if dirn == "above":
                    return o.box[3] <= a.box[1] and abs(o.cx - a.cx) < (a.box[2] - a.box[0])
                return o.box[1] >= a.box[3] and abs(o.cx - a.cx) < (a.box[2] - a.box[0])

            hits = [o for o in objs if ok(o)]
            if len(hits) == 1:
                cands.append((a, rel, hits[0]))
    return rng.choice(cands) if cands else None


def make_question(rng: random.Random, objs: list[Obj]):
    """Returns (question, answer, target objects, description of the target) or None."""
    kinds = ["color_of_shape", "shape_of_color", "count", "color_of_size_shape", "relation", "shape_of_color"]
    rng.shuffle(kinds)
    for kind in kinds:
        if kind == "color_of_shape":
            opts = [o for o in objs if _unique(objs, shape=o.shape)]
            if opts:
                o = rng.choice(opts)
                return f"What color is the {o.shape}?", o.color, [o], f"the {o.shape}"
        elif kind == "shape_of_color":
            opts = [o for o in objs if _unique(objs, color=o.color)]
            if opts:
                o = rng.choice(opts)
                return f"What shape is the {o.color} object?", o.shape, [o], f"the {o.color} object"
        elif kind == "count":
            colors = sorted({o.color for o in objs})
            c = rng.choice(colors)
            hits = [o for o in objs if o.color == c]
            return f"How many {c} objects are there?", str(len(hits)), hits, f"the {c} objects"
        elif kind == "color_of_size_shape":
            opts = [o for o in objs if _unique(objs, shape=o.shape, size=o.size) and not _unique(objs, shape=o.shape)]
            if opts:
                o = rng.choice(opts)
                return f"What color is the {o.size} {o.shape}?", o.color, [o], f"the {o.size} {o.shape}"
        elif kind == "relation":
            r = _relation_target(rng, objs)
            if r:
                a, rel, o = r
                q = f"What color is the object {rel} the {a.color} {a.shape}?"
                return q, o.color, [o], f"the {o.shape} {rel} the {a.shape}"
    return None


DESCRIBE_QUESTION = "Describe the objects from left to right."


def describe_task(objs: list[Obj]):
    """Dense grounding supervision for SFT only: every object, left to right (the whole scene is the region)."""
    objs = sorted(objs, key=lambda o: (o.cx, o.cy))
    a = ", ".join(f"{o.size} {o.color} {o.shape}" for o in objs)
    return DESCRIBE_QUESTION, a, objs, None


def make_completion(rng: random.Random, question: str, answer: str, desc: str, size: str | None = None) -> str:
    """SFT target: a short lead-in, then the tagged answer. Lead-ins: one that states an attribute of the target which
    only the image tells (its size: look, then answer), a generic one, or none."""
    if question == DESCRIBE_QUESTION:
        return f"<answer>{answer}</answer>"
    style = rng.randrange(3)
    if style == 0:
        if size is None:
            return f"Looking at {desc}: <answer>{answer}</answer>"
        return f"{desc[0].upper() + desc[1:]} is {size}. <answer>{answer}</answer>"
    if style == 1:
        return f"I see it. <answer>{answer}</answer>"
    return f"<answer>{answer}</answer>"


def generate(
    out_dir,
    n: int,
    seed: int,
    min_side: int = 84,
    max_side: int = 336,
    name: str = "set.jsonl",
    image_dir: str = "images",
    prefix: str = "",
    with_completion: bool = True,
    describe_ratio: float = 0.0,
    snap: int = 0,
) -> Path:
    """Writes n records (images as PNG) to out_dir/name; deterministic for (n, seed, sizes, snap)."""
    out_dir = Path(out_dir)
    (out_dir / image_dir).mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    lines = []
    i = 0
    while len(lines) < n:
        img, objs = make_scene(rng, min_side, max_side, snap)
        if describe_ratio and rng.random() < describe_ratio:
            qa = describe_task(objs)
        else:
            qa = make_question(rng, objs)
        if qa is None:
            continue
        q, a, targets, desc = qa
        fname = f"{image_dir}/{prefix}{i:05d}.png"
        img.save(out_dir / fname, optimize=True)
        rec = {"image": fname, "question": q, "answer": a, "boxes": [list(o.box) for o in targets]}
        size = targets[0].size if (len(targets) == 1 and not q.startswith("How many")) else None
        completion = make_completion(rng, q, a, desc, size)
        if with_completion:
            rec["completion"] = completion
        lines.append(json.dumps(rec))
        i += 1
    path = out_dir / name
    path.write_text("\n".join(lines) + "\n")
    return path


def corpus_texts(seed: int = 0, n: int = 20000) -> list[str]:
    """Text the tokenizer must cover with one token per word: prompts, questions, completions (no images drawn)."""
    from .tokenizer import SYSTEM_PROMPT

    rng = random.Random(seed)
    texts = [f"system\n{SYSTEM_PROMPT}\nuser\nassistant\n"]
    words = (
        list(COLORS)
        + SHAPES
        + SIZES
        + list(RELATIONS)
        + NUMBERS
        + [str(i) for i in range(10)]
        + [
            "yes",
            "no",
            "object",
            "objects",
            "the",
            "a",
            "an",
            "is",
            "are",
            "there",
            "What",
            "How",
            "many",
            "color",
            "shape",
            "Is",
            "Which",
            "Looking",
            "at",
            "I",
            "see",
            "it",
            "where",
            "image",
            "picture",
            "answer",
            "left",
            "right",
            "of",
            "in",
            "this",
            "and",
            "with",
            "to",
            "on",
            "Where",
            "what",
            "which",
            "colour",
            "size",
            "count",
        ]
    )
    texts.append(" ".join(words))
    texts.append(" ".join(w.capitalize() for w in words))
    texts.append(DESCRIBE_QUESTION + " big red circle, small blue square")
    for _ in range(n):
        objs = []
        for _k in range(rng.randint(3, 6)):
            x, y = rng.randint(0, 250), rng.randint(0, 250)
            s = rng.randint(10, 60)
            objs.append(Obj(rng.choice(SHAPES), rng.choice(list(COLORS)), rng.choice(SIZES), (x, y, x + s, y + s)))
        qa = make_question(rng, objs)
        if qa:
            q, a, _t, desc = qa
            texts.append(q)
            for style in range(3):
                for sz in (None, "small", "big"):
                    r = random.Random(style)
                    r.randrange = lambda _n, s=style: s  # force each style
                    texts.append(make_completion(r, q, a, desc, sz))
    return texts


def read_jsonl(path, require_completion: bool = False) -> list[dict]:
    """Reads and validates a dataset; a corrupt line raises DatasetError naming the file and line."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: file not found")
    out = []
    for ln, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{ln}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{where}: invalid JSON ({e.msg})") from None
        if not isinstance(rec, dict):
            raise DatasetError(f"{where}: expected an object")
        for key, typ in (("image", str), ("question", str), ("answer", str), ("boxes", list)):
            if key not in rec:
                raise DatasetError(f"{where}: missing field '{key}'")
            if not isinstance(rec[key], typ):
                raise DatasetError(f"{where}: field '{key}' must be a {typ.__name__}")
        if require_completion and not isinstance(rec.get("completion"), str):
            raise DatasetError(f"{where}: missing field 'completion'")
        if not rec["boxes"]:
            raise DatasetError(f"{where}: field 'boxes' is empty")
        for bi, b in enumerate(rec["boxes"]):
            if (
                not isinstance(b, list)
                or len(b) != 4
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in b)
            ):
                raise DatasetError(f"{where}: boxes[{bi}] must be [x1, y1, x2, y2] numbers")
            if b[2] <= b[0] or b[3] <= b[1]:
                raise DatasetError(f"{where}: boxes[{bi}] has zero or negative area")
        img = path.parent / rec["image"]
        if not img.exists():
            raise DatasetError(f"{where}: image not found: {rec['image']}")
        rec["_image_path"] = str(img)
        out.append(rec)
    if not out:
        raise DatasetError(f"{path}: no records")
    return out


def write_gallery(out_dir, n: int, seed: int, min_side: int = 180, max_side: int = 336) -> Path:
    """The app's sample gallery: n images + samples.json [{"id", "image": "<file name>", "question", "answer", "boxes"}]."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    items = []
    kinds_seen = set()
    while len(items) < n:
        img, objs = make_scene(rng, min_side, max_side)
        qa = make_question(rng, objs)
        if qa is None:
            continue
        q, a, targets, _desc = qa
        kind = (
            q.split(" ")[0] + q.split(" ")[2] + str(len(targets) > 1) + str("of" in q or "above" in q or "below" in q)
        )
        if kind in kinds_seen and len(kinds_seen) < 5:
            continue  # prefer a varied gallery
        kinds_seen.add(kind)
        sid = f"sample-{len(items) + 1:02d}"
        fname = f"{sid}.png"
        img.save(out_dir / fname, optimize=True)
        items.append({"id": sid, "image": fname, "question": q, "answer": a, "boxes": [list(o.box) for o in targets]})
    p = out_dir / "samples.json"
    p.write_text(json.dumps(items, indent=2) + "\n")
    return p
