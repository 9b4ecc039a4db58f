"""The scale ladder: random-weight checkpoints of our Qwen2-VL architecture at growing sizes, for the performance
benchmark (`npm run bench -- --scale`). One command builds what is missing and prints where each rung lives:

    python -m sayo_train ladder [--rungs mini,25m,100m,500m] [--cache DIR] [--list] [--json]

Rung "mini" is the shipped SAYO-mini (models/sayo-mini), not rebuilt. The others are SayoMini modules
(model.py, the trainer's PyTorch Qwen2-VL) with random weights at the dimensions below, exported by the trainer's own
exporter (export.write_folder: the models/CONTRACT.md folder, every layer's decoder_attentions) and checked against
PyTorch in onnxruntime-node (export.check_export). With --q4 each built rung
also gets 4-bit weight-only decoders (decoder_model_merged_q4.onnx, dtype "q4"). A second decoder without attention outputs
(onnx/decoder_model_merged_noattn.onnx) is written beside it for the capture A/B, and a folder `noattn/` of symbolic
links presents it as a model of its own (same weights, decoder_model_merged.onnx without decoder_attentions).

The cache folder (default ~/.cache/sayo-lens/ladder, never inside the repository) holds one folder per rung named
<rung>-<key>, where the key hashes the rung's dimensions and the source of the exporter and model, so a changed
exporter or rung rebuilds and an unchanged one is reused.

Limits: the 2b rung (Qwen2-VL-2B's dimensions, 2.2 B parameters, 8.9 GB fp32) needs more than 2 GB per ONNX file
(external data) and a q4 pass; it is listed but not built here (see LADDER_NOT_BUILT).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED_MINI = REPO / "models" / "sayo-mini"
SHIPPED_MINI_NOATTN = REPO / "fixtures" / "onnx" / "sayo-mini-decoder-noattn.onnx"
VIEW_FILES = ["config.json", "generation_config.json", "preprocessor_config.json", "tokenizer.json",
              "tokenizer_config.json", "onnx/vision_encoder.onnx", "onnx/embed_tokens.onnx"]
DEFAULT_CACHE = Path(os.environ.get("SAYO_LADDER_CACHE", Path.home() / ".cache" / "sayo-lens" / "ladder"))
# ~1,300 image tokens fit: a 1008×1008 image is 36×36 = 1,296 tokens of 28×28 px.
LADDER_MAX_PIXELS = 1008 * 1008


@dataclass(frozen=True)
class Rung:
    """Dimensions of one rung (Qwen2-VL names: hidden, layers, heads, kv heads, head dim, MLP, vocabulary, vision)."""
    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    vision_dim: int
    vision_depth: int
    vision_heads: int
    vision_mlp_ratio: float = 4.0
    mrope: tuple = (16, 24, 24)


RUNGS: dict[str, Rung] = {
    "25m": Rung("25m", hidden=384, layers=8, heads=6, kv_heads=2, head_dim=64, intermediate=1024, vocab=8192,
                vision_dim=256, vision_depth=4, vision_heads=4, mrope=(8, 12, 12)),
    "100m": Rung("100m", hidden=768, layers=12, heads=12, kv_heads=2, head_dim=64, intermediate=2048, vocab=16384,
                 vision_dim=384, vision_depth=6, vision_heads=6, mrope=(8, 12, 12)),
    # Qwen2-0.5B's decoder (the language model of the smallest Qwen-VL family members), with a smaller vision tower.
    "500m": Rung("500m", hidden=896, layers=24, heads=14, kv_heads=2, head_dim=64, intermediate=4864, vocab=151936,
                 vision_dim=640, vision_depth=12, vision_heads=10, mrope=(8, 12, 12)),
    # Qwen2-VL-2B-Instruct's config.json.
    "2b": Rung("2b", hidden=1536, layers=28, heads=12, kv_heads=2, head_dim=128, intermediate=8960, vocab=151936,
               vision_dim=1280, vision_depth=32, vision_heads=16, mrope=(16, 24, 24)),
}
ORDER = ["mini", "25m", "100m", "500m", "2b"]
LADDER_NOT_BUILT = {
    "2b": "opt-out for now: 2.2 B parameters are 8.9 GB of fp32 weights held in PyTorch while TorchScript traces them "
          "(estimated, not measured, well over half of this shared 24 GiB machine), every ONNX file would exceed "
          "protobuf's 2 GB, which the trainer's exporter does not split into external data, and the 500m rung's "
          "export alone took ~10 min on 2 loaded cores",
}


class LadderError(RuntimeError):
    pass


def exporter_version() -> str:
    """Hash of the code that shapes an exported rung: the model, the exporter, the tokenizer and processor."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for f in ("model.py", "export.py", "tokenizer.py", "processor.py"):
        h.update((here / f).read_bytes())
    h.update(f"max_pixels={LADDER_MAX_PIXELS};tokenizer={(SHIPPED_MINI / 'tokenizer.json').read_bytes()!r}".encode())
    return h.hexdigest()[:12]


def rung_key(r: Rung) -> str:
    return hashlib.sha256(json.dumps([asdict(r), exporter_version()], sort_keys=True).encode()).hexdigest()[:12]


def padded_tokenizer(vocab_size: int):
    """SAYO-mini's byte-level BPE and Qwen's special tokens, its vocabulary padded to vocab_size with unreachable
    tokens (random weights may pick any id, and every id must decode)."""
    from .tokenizer import Tokenizer
    tok = Tokenizer.load(SHIPPED_MINI)
    if vocab_size < len(tok):
        raise LadderError(f"vocabulary {vocab_size} is smaller than the tokenizer's {len(tok)}")
    vocab = dict(tok.vocab)
    taken = set(vocab.values()) | set(tok.added.values())
    for i in range(vocab_size):
        if i not in taken:
            vocab[f"<pad{i}>"] = i
    return Tokenizer(vocab, tok.merges, tok.added)


def build_model(r: Rung, tok, seed: int = 0):
    import torch

    from .model import ModelCfg, SayoMini, TextCfg, VisionCfg
    if sum(r.mrope) * 2 != r.head_dim:
        raise LadderError(f"{r.name}: mrope sections {r.mrope} must sum to head_dim/2 = {r.head_dim // 2}")
    torch.manual_seed(seed)
    cfg = ModelCfg(
        vision=VisionCfg(embed_dim=r.vision_dim, depth=r.vision_depth, num_heads=r.vision_heads,
                         mlp_ratio=r.vision_mlp_ratio),
        text=TextCfg(hidden_size=r.hidden, num_layers=r.layers, num_heads=r.heads, num_kv_heads=r.kv_heads,
                     head_dim=r.head_dim, intermediate_size=r.intermediate, mrope_section=list(r.mrope)),
        vocab_size=r.vocab,
        image_token_id=tok.token_id("<|image_pad|>"), video_token_id=tok.token_id("<|video_pad|>"),
        vision_start_token_id=tok.token_id("<|vision_start|>"), vision_end_token_id=tok.token_id("<|vision_end|>"),
        bos_token_id=tok.token_id("<|endoftext|>"), eos_token_id=tok.token_id("<|im_end|>"),
        pad_token_id=tok.token_id("<|endoftext|>"))
    return SayoMini(cfg)


@contextlib.contextmanager
def torchscript_export():
    """The trainer's exporter was written for TorchScript tracing (torch.onnx.export before dynamo); torch ≥ 2.9
    defaults to the dynamo exporter, which fails on its graphs. Within this block export defaults to dynamo=False."""
    import torch
    orig = torch.onnx.export
    torch.onnx.export = functools.partial(orig, dynamo=False)
    try:
        yield
    finally:
        torch.onnx.export = orig


def build_rung(r: Rung, folder: Path, check: bool = True) -> dict:
    """Builds one rung into `folder` (written to a temporary sibling, renamed when complete)."""
    import torch
    from PIL import Image

    from .export import check_export, export_graphs, write_folder
    from .processor import Processor
    t0 = time.time()
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tok = padded_tokenizer(r.vocab)
    model = build_model(r, tok).eval()
    proc = Processor(max_pixels=LADDER_MAX_PIXELS)
    layers = list(range(r.layers))
    with torch.no_grad(), torchscript_export():
        write_folder(model, tok, proc, tmp, layers)
        export_graphs(model, tmp / "onnx", [], decoder_name="decoder_model_merged_noattn.onnx", only_decoder=True)
    cfg = json.loads((tmp / "config.json").read_text())
    cfg["sayo_mini"] = {"note": f"SAYO Lens scale ladder rung {r.name}: random weights, for benchmarks only"}
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    export_s = time.time() - t0
    report = {}
    if check:
        image = Image.open(REPO / "public" / "samples" / "sample-01.png")
        report = check_export(model, tmp / "onnx", tok, proc, image, "What shape is the blue object?", layers,
                              max_logit_diff=1e-3, max_attn_diff=1e-4)
    meta = {"rung": r.name, "dims": asdict(r), "params": model.n_params(),
            "decoder_params": model.n_params() - sum(p.numel() for p in model.visual.parameters()),
            "exporter": "sayo_train.export (trainer)", "exporter_version": exporter_version(), "key": rung_key(r),
            "export_s": round(export_s, 1), "build_s": round(time.time() - t0, 1), "check": report}
    (tmp / "LADDER.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return meta


def noattn_view(model: Path, decoder: Path, dest: Path) -> Path:
    """A model folder of symbolic links to `model`'s files with `decoder` as its decoder_model_merged.onnx."""
    if (dest / "onnx" / "decoder_model_merged.onnx").exists():
        return dest
    (dest / "onnx").mkdir(parents=True, exist_ok=True)
    for f in VIEW_FILES:
        link = dest / f
        if not link.is_symlink():
            link.symlink_to((model / f).resolve())
    (dest / "onnx" / "decoder_model_merged.onnx").symlink_to(decoder.resolve())
    return dest


def ensure_q4(onnx_file: Path, q4_file: Path) -> bool:
    """Writes the 4-bit weight-only copy of a decoder (onnxruntime's MatMulNBitsQuantizer: symmetric, blocks of 32,
    the layout transformers.js loads as dtype "q4"); False when it already exists."""
    if q4_file.exists():
        return False
    import logging

    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    q = MatMulNBitsQuantizer(onnx.load(str(onnx_file)), block_size=32, is_symmetric=True)
    q.process()
    tmp = q4_file.with_name(q4_file.name + ".partial")
    q.model.save_model_to_file(str(tmp), use_external_data_format=False)
    tmp.rename(q4_file)
    return True


def mini_entry(cache: Path) -> dict:
    cfg = json.loads((SHIPPED_MINI / "config.json").read_text())
    key = hashlib.sha256(SHIPPED_MINI_NOATTN.read_bytes()).hexdigest()[:12]
    view = noattn_view(SHIPPED_MINI, SHIPPED_MINI_NOATTN, cache / f"mini-noattn-{key}")
    params = _onnx_params(SHIPPED_MINI / "onnx")
    return {"rung": "mini", "path": str(SHIPPED_MINI), "noattn": str(view), "shipped": True,
            "layers": cfg["num_hidden_layers"], "heads": cfg["num_attention_heads"], "params": params["all"],
            "decoder_params": params["decoder"], "built": False}


def _onnx_params(onnx_dir: Path) -> dict:
    """Parameter counts from the graphs' float initializers (the shipped rung has no PyTorch module here)."""
    import numpy as np
    import onnx
    n = {}
    for f in ("vision_encoder", "embed_tokens", "decoder_model_merged"):
        g = onnx.load(str(onnx_dir / f"{f}.onnx"), load_external_data=False).graph
        n[f] = sum(int(np.prod(i.dims)) for i in g.initializer if i.data_type == onnx.TensorProto.FLOAT)
    return {"all": sum(n.values()), "decoder": n["embed_tokens"] + n["decoder_model_merged"]}


def ensure(names: list[str], cache: Path = DEFAULT_CACHE, check: bool = True, log=print, q4: bool = False) -> list[dict]:
    """Builds missing rungs (and with q4, their 4-bit decoders), returns one entry per rung: path, parameters,
    whether it was built now."""
    out = []
    cache.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name == "mini":
            out.append(mini_entry(cache))
            continue
        if name not in RUNGS:
            raise LadderError(f"unknown rung {name!r}; rungs: {', '.join(ORDER)}")
        if name in LADDER_NOT_BUILT:
            raise LadderError(f"rung {name} is not built by this ladder: {LADDER_NOT_BUILT[name]}")
        r = RUNGS[name]
        folder = cache / f"{name}-{rung_key(r)}"
        built = False
        if not (folder / "LADDER.json").exists():
            cache.mkdir(parents=True, exist_ok=True)
            for stale in cache.glob(f"{name}-*"):  # other keys: an older exporter or dimensions
                shutil.rmtree(stale, ignore_errors=True)
            log(f"ladder: building {name} into {folder} …")
            build_rung(r, folder, check=check)
            built = True
        meta = json.loads((folder / "LADDER.json").read_text())
        view = noattn_view(folder, folder / "onnx" / "decoder_model_merged_noattn.onnx", folder / "noattn")
        if q4:
            log(f"ladder: 4-bit decoders of {name} …")
            ensure_q4(folder / "onnx" / "decoder_model_merged.onnx", folder / "onnx" / "decoder_model_merged_q4.onnx")
            ensure_q4(folder / "onnx" / "decoder_model_merged_noattn.onnx", view / "onnx" / "decoder_model_merged_q4.onnx")
        out.append({"rung": name, "path": str(folder), "noattn": str(view), "shipped": False, "layers": r.layers, "heads": r.heads,
                     "params": meta["params"], "decoder_params": meta["decoder_params"], "build_s": meta["build_s"],
                     "built": built})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="sayo_train ladder", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rungs", default="mini,25m,100m,500m", help=f"comma-separated, from {', '.join(ORDER)}")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="cache folder (outside the repository)")
    ap.add_argument("--q4", action="store_true", help="also write 4-bit decoders (onnx/decoder_model_merged_q4.onnx)")
    ap.add_argument("--no-check", action="store_true", help="skip the onnxruntime-vs-PyTorch check of new rungs")
    ap.add_argument("--list", action="store_true", help="print the rungs and their dimensions; build nothing")
    ap.add_argument("--json", action="store_true", help="print the rungs as JSON on the last line")
    a = ap.parse_args(argv)
    names = [n.strip() for n in a.rungs.split(",") if n.strip()]
    if a.list:
        for n in ORDER:
            r = RUNGS.get(n)
            dims = "shipped models/sayo-mini" if r is None else \
                f"hidden {r.hidden}, {r.layers} layers × {r.heads} heads ({r.kv_heads} kv), vocab {r.vocab}, " \
                f"vision {r.vision_dim}×{r.vision_depth}"
            why = f"  [not built: {LADDER_NOT_BUILT[n]}]" if n in LADDER_NOT_BUILT else ""
            print(f"{n:>5}: {dims}{why}")
        return 0
    from .export import ExportError
    try:
        entries = ensure(names, Path(a.cache), check=not a.no_check, log=lambda s: print(s, file=sys.stderr), q4=a.q4)
    except (LadderError, ExportError) as e:
        print(f"sayo_train ladder: {e}", file=sys.stderr)
        return 2
    for e in entries:
        p = f"{e['params'] / 1e6:.1f} M params" if "params" in e else "shipped"
        print(f"{e['rung']:>5}  {p:>16}  {'built' if e['built'] else 'cached'}  {e['path']}", file=sys.stderr)
    if a.json:
        print(json.dumps(entries))
    return 0
