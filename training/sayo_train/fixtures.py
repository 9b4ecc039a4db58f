"""`python3 -m sayo_train fixtures`: JSON test vectors for the TypeScript core and the `sayo reward` CLI, written by the
trainer's own geometry, reward and tokenizer code (models/CONTRACT.md, "Fixtures")."""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image

from .geometry import GeometryError, make_grid
from .processor import Processor, prompt_ids
from .reward_math import reward_case
from .tokenizer import Tokenizer, default_system

REPO = Path(__file__).resolve().parents[2]

MINI = {"patch_size": 14, "merge_size": 2, "min_pixels": 3136, "max_pixels": 112896}
QWEN2 = {"patch_size": 14, "merge_size": 2, "min_pixels": 3136, "max_pixels": 12845056}
QWEN2_200K = {"patch_size": 14, "merge_size": 2, "min_pixels": 3136, "max_pixels": 200704}
QWEN3 = {"patch_size": 16, "merge_size": 2, "min_pixels": 65536, "max_pixels": 16777216}
QWEN3_SMALL = {"patch_size": 16, "merge_size": 2, "min_pixels": 4096, "max_pixels": 262144}


def grid_cases() -> list[dict]:
    sizes = [
        (640, 480),
        (480, 640),
        (224, 168),
        (230, 170),
        (84, 84),
        (336, 336),
        (337, 335),
        (1000, 20),
        (20, 30),
        (10, 10),
        (1, 1),
        (27, 500),
        (70, 42),
        (98, 70),
        (126, 14),
        (2000, 9),
        (3000, 10),
        (4032, 3024),
        (1920, 1080),
        (1080, 1920),
        (300, 100),
        (100, 300),
        (56, 56),
        (55, 57),
        (42, 70),
        (5000, 5000),
        (12345, 678),
        (999, 1001),
        (150, 50),
        (77, 91),
        (401, 199),
        (641, 359),
        (28, 28),
        (14, 14),
        (250, 1),
        (201, 1),
        (199, 1),
        (0, 10),
    ]
    out = []
    for proc in (MINI, QWEN2, QWEN2_200K, QWEN3, QWEN3_SMALL):
        for w, h in sizes:
            case = {"width": w, "height": h, "processor": dict(proc)}
            try:
                g = make_grid(w, h, **proc)
                case["resized"] = {"width": g.resized_width, "height": g.resized_height}
                case["grid"] = {"rows": g.rows, "cols": g.cols}
            except GeometryError as e:
                case["error"] = str(e)
            out.append(case)
    return out


def _attention(rng, T, H, N, mode="random", target=None, boost=5.0):
    att = []
    for _t in range(T):
        heads = []
        for _h in range(H):
            if mode == "zero":
                row = [0.0] * N
            else:
                row = [rng.random() for _ in range(N)]
                if mode == "boost" and target:
                    for k in target:
                        row[k] *= boost
                s = sum(row) * rng.uniform(1.2, 3.0)  # image tokens hold part of the row's mass
                row = [round(x / s, 9) for x in row]
            heads.append(row)
        att.append(heads)
    return att


def reward_cases() -> list[dict]:
    rng = random.Random(20260224)
    specs = [
        ("basic-640x480", (640, 480), QWEN2_200K, [[10, 20, 200, 220]], 10, 2, "random", None),
        ("mini-single-box", (224, 168), MINI, [[40, 30, 120, 100]], 8, 4, "random", None),
        ("multi-box-overlapping", (300, 200), MINI, [[10, 10, 120, 90], [100, 60, 220, 180]], 12, 3, "random", None),
        ("multi-box-disjoint", (336, 252), MINI, [[0, 0, 40, 40], [290, 200, 336, 252]], 9, 2, "random", None),
        ("box-partly-outside", (200, 150), MINI, [[-30, -20, 60, 50]], 6, 2, "random", None),
        ("box-partly-outside-right-bottom", (200, 150), MINI, [[150, 100, 400, 300]], 5, 1, "random", None),
        ("box-whole-image", (196, 140), MINI, [[0, 0, 196, 140]], 7, 2, "random", None),
        ("box-on-cell-edges", (112, 112), MINI, [[28, 28, 56, 56]], 4, 2, "random", None),
        ("box-subpixel", (150, 90), MINI, [[33.5, 10.25, 33.75, 10.5]], 3, 2, "random", None),
        ("entropy-ties", (168, 168), MINI, [[20, 20, 90, 90]], 10, 2, "random", "ties"),
        ("entropy-all-equal", (168, 168), MINI, [[20, 20, 90, 90]], 7, 2, "random", "equal"),
        ("T1", (140, 112), MINI, [[0, 0, 50, 50]], 1, 3, "random", None),
        ("T10-k3", (140, 112), MINI, [[60, 40, 140, 112]], 10, 2, "random", None),
        ("T20-k6", (140, 112), MINI, [[60, 40, 140, 112]], 20, 1, "random", None),
        ("T7-k2", (140, 112), MINI, [[60, 40, 140, 112]], 7, 2, "random", None),
        ("T3-k1", (140, 112), MINI, [[60, 40, 140, 112]], 3, 2, "random", None),
        ("zero-attention", (112, 84), MINI, [[0, 0, 30, 30]], 4, 2, "zero", None),
        ("mass-in-box", (224, 224), MINI, [[100, 100, 200, 200]], 6, 4, "boost", None),
        ("tiny-image-upscaled", (20, 30), MINI, [[2, 2, 10, 12]], 3, 2, "random", None),
        ("downscaled-large", (1200, 800), MINI, [[600, 100, 1100, 500]], 5, 2, "random", None),
        ("qwen3-32px-cells", (512, 384), QWEN3_SMALL, [[100, 100, 300, 250]], 6, 2, "random", None),
        ("wide-aspect", (600, 120), MINI, [[500, 0, 600, 120]], 5, 2, "random", None),
    ]
    out = []
    for name, (w, h), proc, boxes, T, H, mode, ent_mode in specs:
        g = make_grid(w, h, **proc)
        from .geometry import box_tokens

        target = box_tokens(g, boxes)
        att = _attention(rng, T, H, g.n_tokens, mode, target)
        if ent_mode == "ties":
            ent = [round(rng.choice([0.5, 1.25, 2.0]), 6) for _ in range(T)]
        elif ent_mode == "equal":
            ent = [1.0] * T
        else:
            ent = [round(rng.uniform(0, 3), 6) for _ in range(T)]
        inp = {
            "image": {"width": w, "height": h},
            "processor": dict(proc),
            "boxes": boxes,
            "attention": att,
            "entropy": ent,
        }
        if name == "T10-k3":
            inp["top_ratio"] = 0.3
        if name == "T20-k6":
            inp["top_ratio"] = 0.3
            inp["eps"] = 1e-6
        out.append({"name": name, "input": inp, "expected": reward_case(inp)})
    # ⌊T·ratio⌋ float guard: 100 × 0.29 = 28.999999999999996 must select 29
    g = make_grid(56, 56, **MINI)
    inp = {
        "image": {"width": 56, "height": 56},
        "processor": dict(MINI),
        "boxes": [[0, 0, 28, 28]],
        "attention": _attention(rng, 100, 1, g.n_tokens),
        "entropy": [round(rng.uniform(0, 3), 6) for _ in range(100)],
        "top_ratio": 0.29,
    }
    out.append({"name": "float-guard-T100-r0.29", "input": inp, "expected": reward_case(inp)})
    # the same attention under both alignments (reward_math.py): "produced" spelled out, and "input" (SAYO's code)
    for c in list(out):
        if c["name"] in (
            "basic-640x480",
            "mini-single-box",
            "multi-box-overlapping",
            "entropy-ties",
            "T10-k3",
            "T20-k6",
            "T3-k1",
            "mass-in-box",
            "qwen3-32px-cells",
            "float-guard-T100-r0.29",
        ):
            for alignment in ("produced", "input"):
                inp = dict(c["input"], alignment=alignment)
                out.append({"name": f"{c['name']}-align-{alignment}", "input": inp, "expected": reward_case(inp)})
    return out


def prompt_cases(model_dir: Path) -> list[dict]:
    tok = Tokenizer.load(model_dir)
    system = default_system(json.loads((model_dir / "config.json").read_text()).get("model_type", ""))
    pc = json.loads((model_dir / "preprocessor_config.json").read_text())
    proc = Processor(pc["patch_size"], pc["merge_size"], pc["temporal_patch_size"], pc["min_pixels"], pc["max_pixels"])
    cases = []
    samples = REPO / "public" / "samples" / "samples.json"
    items = []
    if samples.exists():
        for s in json.loads(samples.read_text()):
            items.append((f"public/samples/{s['image']}", s["question"]))
    held = REPO / "data" / "heldout" / "set.jsonl"
    if held.exists():
        for line in held.read_text().splitlines()[:4]:
            r = json.loads(line)
            items.append((f"data/heldout/{r['image']}", r["question"]))
    extra_q = [
        "Where is the big red circle, and what colour is it?",
        "How many objects? 3 or 4?",
        "Is it a naïve café — or not?",
    ]
    for i, q in enumerate(extra_q):
        if items:
            items.append((items[i % len(items)][0], q))
    for rel, q in items:
        img = Image.open(REPO / rel)
        _pv, thw, g = proc(img)
        cases.append({"question": q, "image": rel, "image_grid_thw": thw, "input_ids": prompt_ids(tok, q, g, system)})
    return cases


def write_all(out_dir: Path = REPO / "fixtures", model_dir: Path = REPO / "models" / "sayo-mini") -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in (("grid-cases.json", grid_cases()), ("reward-cases.json", reward_cases())):
        p = out_dir / name
        p.write_text(json.dumps(data) + "\n")
        written.append(p)
    if (model_dir / "tokenizer.json").exists():
        p = out_dir / "prompt-cases.json"
        p.write_text(json.dumps(prompt_cases(model_dir), indent=1, ensure_ascii=False) + "\n")
        written.append(p)
    return written
