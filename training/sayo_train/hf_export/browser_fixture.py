"""Exported folders plus Hugging Face's own answer for them, for the browser test (e2e/exported-folders.spec.ts):

    PYTHONPATH=training .venv/bin/python -m sayo_train.hf_export.browser_fixture <out_dir> [max_new_tokens]

For each family (tiny random-weight Qwen2-VL, Qwen2.5-VL, Qwen3-VL without and with DeepStack) it writes
<out_dir>/<family>/ (the fp32 export, every decoder layer's attention exposed, checked against HF in onnxruntime),
<out_dir>/<family>.png (an image already at the processor's size, so no resize runs in either implementation) and
<out_dir>/reference.json: per family the prompt's input_ids, HF generate()'s greedy tokens and, per generated token,
the attention row of that token over the image tokens as the engine's StepRecord lays it out (layer-major, then head,
then image token in grid order), from HF's output_attentions=True. Qwen2-VL is exported in q4 as well, with the q4
graphs' own greedy tokens and attention rows from onnxruntime (CPU) as its reference: there is no HF model to compare
a quantized graph with, and the point is that the same int4 graphs give the same answer in the browser."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from . import ExportConfig, export_checkpoint
from .check import check_image, hf_reference, prompt_inputs
from .tiny import PATCH, build_tiny

# Folder name -> (model_type, build_tiny keywords); qwen3_vl_deepstack feeds DeepStack features into all 3 text layers.
FAMILIES = {
    "qwen2_vl": ("qwen2_vl", {}),
    "qwen2_5_vl": ("qwen2_5_vl", {}),
    "qwen3_vl": ("qwen3_vl", {}),
    "qwen3_vl_deepstack": ("qwen3_vl", {"deepstack": [0, 1, 2], "text_layers": 3, "vision_depth": 3}),
}
QUESTION = "Where is the red circle?"
GRID = (4, 5)  # merged-token rows, cols of the test image
Q4_FAMILIES = ("qwen2_vl",)  # also exported in q4: its int4 graphs (MatMulNBits, GatherBlockQuantized) in the browser


def _rows(attentions: list[dict], layers: list[int], image_cols: np.ndarray) -> list[list[float]]:
    """Per step, the last query row of each layer and head over the image columns, flattened as StepRecord does."""
    return [
        np.stack([step[layer][:, -1, :] for layer in layers])[:, :, image_cols].reshape(-1).astype(float).tolist()
        for step in attentions
    ]


def family_reference(model, folder: Path, image_path: Path, max_new_tokens: int, q4: bool) -> dict:
    """HF's greedy answer; with `q4`, also the q4 graphs' own greedy answer in onnxruntime (CPU), cut after the
    first end-of-turn token as the engine stops there."""
    from PIL import Image

    from .check import run_onnx

    inputs = prompt_inputs(folder, Image.open(image_path).convert("RGB"), QUESTION)
    layers = list(range(model.config.text_config.num_hidden_layers))
    ref = hf_reference(model, inputs, layers, max_new_tokens)
    ids = inputs["input_ids"][0].numpy()
    image_cols = np.flatnonzero(ids == model.config.image_token_id)
    out = {
        "question": QUESTION,
        "inputIds": ids.tolist(),
        "grid": {"rows": GRID[0], "cols": GRID[1]},
        "imageSpan": {"start": int(image_cols[0]), "length": int(len(image_cols))},
        "layers": layers,
        "heads": model.config.text_config.num_attention_heads,
        "tokens": ref.tokens,
        "attention": _rows(ref.attentions, layers, image_cols),
    }
    if q4:
        got = run_onnx(folder, ref, "q4", model.config.image_token_id, greedy=True)
        eos = set(json.loads((folder / "generation_config.json").read_text())["eos_token_id"])
        n = next((i + 1 for i, t in enumerate(got["argmax"]) if t in eos), len(got["argmax"]))
        out["q4"] = {"tokens": got["argmax"][:n], "attention": _rows(got["attentions"][:n], layers, image_cols)}
    return out


def build(out_dir: Path, max_new_tokens: int = 4) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    refs = {}
    for seed, fam in enumerate(FAMILIES):
        model_type, kw = FAMILIES[fam]
        model = build_tiny(model_type, out_dir / "hf" / fam, seed=seed, **kw)
        q4 = fam in Q4_FAMILIES
        rep = export_checkpoint(
            out_dir / "hf" / fam,
            out_dir / fam,
            ExportConfig(
                layers="all", precisions=("fp32", "q4") if q4 else ("fp32",), check=True, check_tokens=max_new_tokens
            ),
        )
        cell = PATCH[model_type] * 2
        png = out_dir / f"{fam}.png"
        check_image((GRID[1] * cell, GRID[0] * cell), seed=seed).save(png)
        refs[fam] = family_reference(model, out_dir / fam, png, max_new_tokens, q4)
        refs[fam]["onnxCheck"] = rep.check
    (out_dir / "reference.json").write_text(json.dumps(refs) + "\n")
    return refs


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m sayo_train.hf_export.browser_fixture <out_dir> [max_new_tokens]")
    r = build(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) == 3 else 4)
    print(
        json.dumps(
            {
                f: {"tokens": v["tokens"], "q4": v.get("q4", {}).get("tokens"), "onnxCheck": v["onnxCheck"]}
                for f, v in r.items()
            }
        )
    )
