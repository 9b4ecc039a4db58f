"""Measures the peak memory of the attention-reward pass in a fresh process: `python reward_pass_peak.py [micro_batch]`
runs the pass before it computed only what it uses (old), the current pass on the whole batch (new) and the current
pass `micro_batch` sequences at a time (micro), one after the other on the same model, and prints one JSON line
{"old": bytes, "new": bytes, "micro": bytes, "micro_batch": m, "dims": {...}}.

Each peak is the growth of the resident set above what the process holds just before the pass (Linux: VmHWM after
resetting it through /proc/self/clear_refs, minus VmRSS then). Run with MALLOC_MMAP_THRESHOLD_ fixed (the test does)
so every large tensor is its own mapping, returned to the system when freed: the figure is then what the pass
allocates, not what malloc happens to keep."""

import gc
import json
import re
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sayo_train import hf_model  # noqa: E402
from sayo_train.common import build_tokenizer  # noqa: E402
from sayo_train.hf_data import prompt_text  # noqa: E402
from sayo_train.spec import load_spec  # noqa: E402

JOBS = Path(__file__).resolve().parents[1] / "jobs"
VOCAB = 50_000  # a vocabulary large enough that full logits show (SAYO-Qwen-8B: 151,936)
SIDE = 320  # 10 × 10 cells of 32 px: 100 image tokens per prompt
COMPLETION = 24  # tokens per completion
BATCH = 8


def tiny_case(attn: str = "sdpa", batch: int = BATCH):
    """(spec, processor, model, prompt texts, images, completions) of a small Qwen3-VL with DeepStack (jobs/smoke.yaml
    with a wider decoder), fp32, weights seeded, `attn` for every layer."""
    spec = load_spec(JOBS / "smoke.yaml")
    t = spec.model.text
    t.hidden_size, t.intermediate_size, t.num_heads, t.num_kv_heads = 256, 768, 4, 2
    t.head_dim, t.mrope_section = 64, [12, 10, 10]
    spec.model.image.max_pixels = SIDE * SIDE
    tok = Path(tempfile.mkdtemp(prefix="sayo-tok-"))
    build_tokenizer().save(tok)
    proc = hf_model.build_processor(spec.model, tok)
    model = hf_model.new_model(spec.model, proc, 0)
    model.resize_token_embeddings(VOCAB, mean_resizing=False)
    model.set_attn_implementation(attn)
    model.eval()
    gen = torch.Generator().manual_seed(0)
    images, texts, comps = [], [], []
    for b in range(batch):
        im = Image.new("RGB", (SIDE - 8 * b, SIDE), (240, 240, 240))
        ImageDraw.Draw(im).ellipse((20 + 10 * b, 30, 120 + 10 * b, 150), fill=(200, 30, 30))
        images.append(im)
        texts.append(prompt_text(proc, "What color is the circle?" if b % 2 else "Where is the red object?"))
        comps.append(torch.randint(10, 300, (COMPLETION - b % 3,), generator=gen).tolist())
    return spec, proc, model, texts, images, comps


def _status(key: str) -> int:
    return int(re.search(rf"{key}:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024


def peak_of(fn) -> int:
    gc.collect()
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    fn()
    return _status("VmHWM") - before


def main(argv):
    from reward_pass_ref import measure_full
    from sayo_train.policy_attention import measure

    micro = int(argv[0]) if argv else 2
    torch.set_num_threads(1)
    spec, proc, model, texts, images, comps = tiny_case("sdpa")
    old = lambda: measure_full(model, proc, texts, images, comps)  # noqa: E731
    new = lambda: measure(model, proc, texts, images, comps)  # noqa: E731
    mic = lambda: measure(model, proc, texts, images, comps, micro_batch=micro)  # noqa: E731
    measure_full(model, proc, texts[:1], images[:1], comps[:1])  # warm-up: lazy initialisation, both paths
    measure(model, proc, texts[:1], images[:1], comps[:1])
    peaks = {"new": peak_of(new), "micro": peak_of(mic), "old": peak_of(old)}
    enc = proc(images=[[im] for im in images], text=texts, return_tensors="pt", padding=True)
    t, v = spec.model.text, spec.model.vision
    dims = {
        "B": len(texts),
        "L": int(enc["attention_mask"].sum(-1).max()) + max(len(c) for c in comps),
        "T": max(len(c) for c in comps),
        "n_img": int((enc["input_ids"][0] == model.config.image_token_id).sum()),
        "patches": int(enc["image_grid_thw"][0].prod()),
        "h": t.hidden_size,
        "i": t.intermediate_size,
        "heads": t.num_heads,
        "vocab": VOCAB,
        "embed": v.embed_dim,
        "vision_heads": v.num_heads,
        "n_deepstack": len(v.deepstack_visual_indexes),
        "layers": t.num_layers,
    }
    print(json.dumps({**peaks, "micro_batch": micro, "dims": dims}))


if __name__ == "__main__":
    main(sys.argv[1:])
