"""The scale ladder: random-weight checkpoints of the Qwen2-VL architecture at growing sizes, for the performance
benchmark (`npm run bench -- --scale`). One command builds what is missing and prints where each rung lives:

    python -m sayo_train ladder [--rungs mini,25m,100m,500m] [--quantized] [--cache DIR] [--list] [--json]
    python -m sayo_train ladder --rungs 2b     (opt-in, built light: see the 2b rung's `light`)
    python -m sayo_train ladder --rungs ds150m (opt-in: Qwen3-VL with DeepStack at SAYO-Qwen-8B's proportions, and
                                                its twin without DeepStack, for `npm run bench -- --deepstack`)

Rung "mini" is the shipped SAYO-mini (models/sayo-mini), not rebuilt; its view without attention outputs uses the
fixture decoder fixtures/onnx/sayo-mini-decoder-noattn.onnx. The others have random weights at the dimensions below:
Hugging Face's Qwen2VLForConditionalGeneration saved
  with save_pretrained (SAYO-mini's BPE padded to the vocabulary, Qwen2VLImageProcessor), exported by the project's
  exporter (`export_checkpoint`, every layer's decoder_attentions, checked against Hugging Face in onnxruntime), and
  exported a second time without attention outputs into noattn/ (vision and embedding graphs linked, not copied);
  with --quantized both also get the exporter's 4-bit and 8-bit decoders (dtypes "q4" and "q8": onnxruntime-web's
  WASM build has no 4-bit kernel, so the browser is measured on both);

The cache folder (default ~/.cache/sayo-lens/ladder, never inside the repository) holds one folder per rung named
<rung>-hf-<key>, where the key hashes the rung's dimensions and the exporter's source, so a changed exporter or rung
rebuilds (removing the rung's older folders) and an unchanged one is reused.

The 2b rung (Qwen2-VL-2B's dimensions) is built only when named, and light: the last layer's attention, the 4-bit
set only, no view without attention outputs and no check against PyTorch (its `light` field says why, measured).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED_MINI = REPO / "models" / "sayo-mini"
SHIPPED_MINI_NOATTN = REPO / "fixtures" / "onnx" / "sayo-mini-decoder-noattn.onnx"
VIEW_FILES = [
    "config.json",
    "generation_config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "onnx/vision_encoder.onnx",
    "onnx/embed_tokens.onnx",
]
# The quantized decoders a rung gets with --quantized (transformers.js dtypes).
QUANTIZED = ("q4", "q8")
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
    # qwen2_vl (Qwen2VLForConditionalGeneration, 14 px patches) or qwen3_vl (Qwen3VLForConditionalGeneration, 16 px
    # patches, learned vision position table, DeepStack from the vision blocks `deepstack`).
    family: str = "qwen2_vl"
    deepstack: tuple = ()
    # Non-empty: built light (the reason, printed before the build): decoder_attentions of the last layer only,
    # fp32 and q4 graphs, no noattn/ view, no onnxruntime-vs-PyTorch check.
    light: str = ""


RUNGS: dict[str, Rung] = {
    "25m": Rung(
        "25m",
        hidden=384,
        layers=8,
        heads=6,
        kv_heads=2,
        head_dim=64,
        intermediate=1024,
        vocab=8192,
        vision_dim=256,
        vision_depth=4,
        vision_heads=4,
        mrope=(8, 12, 12),
    ),
    "100m": Rung(
        "100m",
        hidden=768,
        layers=12,
        heads=12,
        kv_heads=2,
        head_dim=64,
        intermediate=2048,
        vocab=16384,
        vision_dim=384,
        vision_depth=6,
        vision_heads=6,
        mrope=(8, 12, 12),
    ),
    # Qwen2-0.5B's decoder (the language model of the smallest Qwen-VL family members), with a smaller vision tower.
    "500m": Rung(
        "500m",
        hidden=896,
        layers=24,
        heads=14,
        kv_heads=2,
        head_dim=64,
        intermediate=4864,
        vocab=151936,
        vision_dim=640,
        vision_depth=12,
        vision_heads=10,
        mrope=(8, 12, 12),
    ),
    # Qwen2-VL-2B-Instruct's config.json.
    "2b": Rung(
        "2b",
        hidden=1536,
        layers=28,
        heads=12,
        kv_heads=2,
        head_dim=128,
        intermediate=8960,
        vocab=151936,
        vision_dim=1280,
        vision_depth=32,
        vision_heads=16,
        mrope=(16, 24, 24),
        light=(
            "measured on this 24 GiB, 2-core machine, the random 2.2 B-parameter checkpoint (8.9 GB of fp32 "
            "weights) and its tracing peak at 17.5 GB RSS and the 8-bit quantization of its decoder ran the "
            "machine out of memory, so the rung gets the last layer's attention and the 4-bit set only (~7 min, "
            "~25 GB of disk while it builds), no second trace without attention outputs (capture cost is "
            "measured against the same graph with nothing fetched) and no check against PyTorch (a second "
            "8.9 GB copy of the weights beside onnxruntime's)"
        ),
    ),
}
# SAYO-Qwen-8B (Qwen3-VL-8B: text 4096 × 36 layers, 32 / 8 heads of 128, MLP 12288; vision 1152 × 27 blocks, 16
# heads, MLP 4304, DeepStack from blocks 8, 16, 24) with every width and depth divided by 4, the DeepStack blocks at
# the same relative depths. Built twice: as is, and (no-deepstack/) the same weights without the DeepStack mergers.
RUNGS["ds150m"] = Rung(
    "ds150m",
    hidden=1024,
    layers=9,
    heads=8,
    kv_heads=2,
    head_dim=128,
    intermediate=3072,
    vocab=16384,
    vision_dim=288,
    vision_depth=7,
    vision_heads=4,
    vision_mlp_ratio=1076 / 288,
    mrope=(24, 20, 20),
    family="qwen3_vl",
    deepstack=(2, 4, 6),
)
# SAYO-Qwen-8B's own dimensions (Qwen3-VL-8B-Instruct's config.json). Its random bfloat16 checkpoint is written a
# tensor at a time (8.8 B parameters would not fit this machine as one model) and exported with --streamed.
RUNGS["8b"] = Rung(
    "8b",
    hidden=4096,
    layers=36,
    heads=32,
    kv_heads=8,
    head_dim=128,
    intermediate=12288,
    vocab=151936,
    vision_dim=1152,
    vision_depth=27,
    vision_heads=16,
    vision_mlp_ratio=4304 / 1152,
    mrope=(24, 20, 20),
    family="qwen3_vl",
    deepstack=(8, 16, 24),
    light=(
        "8.8 B parameters: the random checkpoint is written tensor by tensor in bfloat16 (~17.6 GB) "
        "and exported with the streamed exporter (one decoder layer in memory at a time), the last "
        "layer's attention, the 4-bit set only (its fp32 graphs would be ~35 GB of disk), no noattn/ "
        "view and no check against PyTorch (the float32 model is ~35 GB); tens of minutes"
    ),
)
# Rungs built only when named in --rungs.
OPT_IN = ("2b", "ds150m", "8b")
ORDER = ["mini", "25m", "100m", "500m", "2b", "ds150m", "8b"]
# Rungs whose checkpoint is written tensor by tensor and exported with the streamed exporter.
STREAMED = ("8b",)
# The twin of a DeepStack rung: the same checkpoint without its DeepStack mergers (a folder inside the rung's).
NO_DEEPSTACK = "no-deepstack"


class LadderError(RuntimeError):
    pass


def exporter_version() -> str:
    """Hash of the code that shapes an exported rung: the exporter, the ladder, the tokenizer and processor."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    files = ["tokenizer.py", "processor.py"]
    files += ["ladder.py", *sorted(str(p.relative_to(here)) for p in (here / "hf_export").glob("*.py"))]
    for f in files:
        h.update((here / f).read_bytes())
    h.update(f"max_pixels={LADDER_MAX_PIXELS};tokenizer={(SHIPPED_MINI / 'tokenizer.json').read_bytes()!r}".encode())
    return h.hexdigest()[:12]


def rung_key(r: Rung) -> str:
    return hashlib.sha256(json.dumps([asdict(r), exporter_version()], sort_keys=True).encode()).hexdigest()[:12]


def rung_folder(cache: Path, r: Rung) -> Path:
    """<rung>-hf-<key> (Hugging Face classes + hf_export)."""
    return cache / f"{r.name}-hf-{rung_key(r)}"


def padded_tokenizer(vocab_size: int, added_last: bool = False):
    """SAYO-mini's byte-level BPE and Qwen's special tokens, its vocabulary padded to vocab_size with unreachable
    tokens (random weights may pick any id, and every id must decode). With added_last the special tokens take the
    last ids, so the ids are contiguous as Hugging Face's tokenizer classes keep them when they save."""
    from .tokenizer import Tokenizer

    tok = Tokenizer.load(SHIPPED_MINI)
    if vocab_size < len(tok):
        raise LadderError(f"vocabulary {vocab_size} is smaller than the tokenizer's {len(tok)}")
    vocab = dict(tok.vocab)
    added = dict(tok.added)
    if added_last:
        first = vocab_size - len(added)
        added = {t: first + k for k, t in enumerate(sorted(added, key=added.get))}
    taken = set(vocab.values()) | set(added.values())
    for i in range(vocab_size):
        if i not in taken:
            vocab[f"<pad{i}>"] = i
    return Tokenizer(vocab, tok.merges, added)


def noattn_view(model: Path, decoder: Path, dest: Path) -> Path:
    """A model folder of symbolic links to `model`'s files with `decoder` as its decoder_model_merged.onnx. The cache
    outlives checkouts: a view whose links point into another (or a removed) checkout is rebuilt."""
    targets = {f: (model / f).resolve() for f in VIEW_FILES}
    targets["onnx/decoder_model_merged.onnx"] = decoder.resolve()
    if all((dest / f).is_symlink() and (dest / f).resolve() == t for f, t in targets.items()):
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "onnx").mkdir(parents=True)
    for f, t in targets.items():
        (dest / f).symlink_to(t)
    return dest


def _config(r: Rung, tok, deepstack: tuple):
    """The transformers config of a rung: Qwen2VLConfig, or Qwen3VLConfig with DeepStack blocks `deepstack`."""
    from transformers import Qwen2VLConfig, Qwen3VLConfig

    t = tok.token_id
    ids = dict(
        image_token_id=t("<|image_pad|>"),
        video_token_id=t("<|video_pad|>"),
        vision_start_token_id=t("<|vision_start|>"),
        vision_end_token_id=t("<|vision_end|>"),
    )
    special = dict(bos_token_id=t("<|endoftext|>"), eos_token_id=t("<|im_end|>"), pad_token_id=t("<|endoftext|>"))
    text = dict(
        vocab_size=r.vocab,
        hidden_size=r.hidden,
        intermediate_size=r.intermediate,
        num_hidden_layers=r.layers,
        num_attention_heads=r.heads,
        num_key_value_heads=r.kv_heads,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        **special,
    )
    if r.family == "qwen3_vl":
        vision = dict(
            depth=r.vision_depth,
            hidden_size=r.vision_dim,
            num_heads=r.vision_heads,
            intermediate_size=round(r.vision_dim * r.vision_mlp_ratio),
            out_hidden_size=r.hidden,
            patch_size=16,
            spatial_merge_size=2,
            temporal_patch_size=2,
            in_channels=3,
            num_position_embeddings=2304,
            deepstack_visual_indexes=list(deepstack),
        )
        text.update(
            head_dim=r.head_dim,
            rope_scaling={"rope_type": "default", "mrope_section": list(r.mrope), "mrope_interleaved": True},
        )
        return Qwen3VLConfig(vision_config=vision, text_config=text, tie_word_embeddings=False, **ids)
    if r.hidden // r.heads != r.head_dim or sum(r.mrope) * 2 != r.head_dim:
        raise LadderError(f"{r.name}: Qwen2-VL needs head_dim = hidden/heads and mrope sections summing to head_dim/2")
    vision = dict(
        depth=r.vision_depth,
        embed_dim=r.vision_dim,
        hidden_size=r.hidden,
        mlp_ratio=r.vision_mlp_ratio,
        num_heads=r.vision_heads,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        in_channels=3,
    )
    text["rope_scaling"] = {"type": "mrope", "mrope_section": list(r.mrope)}
    return Qwen2VLConfig(vision_config=vision, text_config=text, tie_word_embeddings=False, **ids, **special)


def hf_checkpoint(r: Rung, folder: Path, seed: int = 0, state=None, deepstack: tuple | None = None):
    """A random-weight checkpoint at the rung's dimensions (Hugging Face's class for its family), saved with
    save_pretrained next to its tokenizer (SAYO-mini's BPE, padded) and image processor, as a downloaded Hugging Face
    checkpoint is. With `state` (a state dict) the weights are those, less any the config has no place for (the
    DeepStack mergers of a twin built with `deepstack=()`)."""
    import torch
    from transformers import AutoModelForImageTextToText, GenerationConfig, Qwen2TokenizerFast, Qwen2VLImageProcessor

    folder.mkdir(parents=True, exist_ok=True)
    tok = padded_tokenizer(r.vocab, added_last=True)
    tok.save(folder)
    hf_tok = Qwen2TokenizerFast.from_pretrained(str(folder))
    t = tok.token_id
    cfg = _config(r, tok, r.deepstack if deepstack is None else deepstack)
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(cfg, attn_implementation="eager").eval()
    if state is not None:
        missing, _unused = model.load_state_dict(state, strict=False)
        if missing:
            raise LadderError(f"{r.name}: the twin lacks weights {missing[:3]}")
    model.generation_config = GenerationConfig(
        eos_token_id=[t("<|im_end|>"), t("<|endoftext|>")],
        pad_token_id=t("<|endoftext|>"),
        bos_token_id=t("<|endoftext|>"),
        do_sample=False,
    )
    model.save_pretrained(folder)
    patch = 16 if r.family == "qwen3_vl" else 14
    half = [0.5, 0.5, 0.5]  # Qwen3-VL's normalisation; Qwen2-VL keeps the processor's CLIP default
    ip = Qwen2VLImageProcessor(
        patch_size=patch,
        merge_size=2,
        temporal_patch_size=2,
        min_pixels=(2 * patch) ** 2 * 4,
        max_pixels=LADDER_MAX_PIXELS,
        **({"image_mean": half, "image_std": half} if r.family == "qwen3_vl" else {}),
    )
    ip.processor_class = "Qwen3VLProcessor" if r.family == "qwen3_vl" else "Qwen2VLProcessor"
    ip.save_pretrained(folder)
    hf_tok.save_pretrained(folder)
    return model


def random_checkpoint(r: Rung, folder: Path, seed: int = 0, shard_bytes: int = 2 * 10**9) -> int:
    """A random-weight checkpoint at the rung's dimensions written tensor by tensor in bfloat16, as save_pretrained
    shards it (model-0000i-of-0000n.safetensors + model.safetensors.index.json), with the same tokenizer, processor
    and generation files as hf_checkpoint: normal(0, initializer_range) matrices, ones for norm weights, zeros for
    biases (transformers' own initialisation). The model is never in memory; returns the parameter count."""
    import torch
    from safetensors.torch import save_file
    from transformers import GenerationConfig, Qwen2TokenizerFast, Qwen2VLImageProcessor

    from .hf_export.weights import empty_model

    folder.mkdir(parents=True, exist_ok=True)
    tok = padded_tokenizer(r.vocab, added_last=True)
    tok.save(folder)
    cfg = _config(r, tok, r.deepstack)
    model = empty_model(cfg)
    std = getattr(cfg.text_config, "initializer_range", 0.02)
    g = torch.Generator().manual_seed(seed)
    shards, shard, size, total = [], {}, 0, 0
    for name, p in model.named_parameters():
        shape = tuple(p.shape)
        if name.endswith("bias"):
            t = torch.zeros(shape, dtype=torch.bfloat16)
        elif len(shape) == 1:
            t = torch.ones(shape, dtype=torch.bfloat16)
        else:
            t = (torch.randn(shape, generator=g) * std).to(torch.bfloat16)
        shard[name] = t
        size += t.numel() * 2
        total += t.numel()
        if size >= shard_bytes:
            shards.append(shard)
            _save_shard(folder, shards, save_file)
            shard, size = {}, 0
    if shard:
        shards.append(shard)
        _save_shard(folder, shards, save_file)
    n = len(shards)
    weight_map = {}
    for i, keys in enumerate(names_per_shard(folder, n)):
        final = folder / f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        (folder / f"shard-{i}.safetensors").rename(final)
        weight_map.update({k: final.name for k in keys})
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total * 2}, "weight_map": dict(sorted(weight_map.items()))}, indent=2)
        + "\n"
    )
    cfg.torch_dtype = "bfloat16"
    cfg.save_pretrained(folder)
    t = tok.token_id
    GenerationConfig(
        eos_token_id=[t("<|im_end|>"), t("<|endoftext|>")],
        pad_token_id=t("<|endoftext|>"),
        bos_token_id=t("<|endoftext|>"),
        do_sample=False,
    ).save_pretrained(folder)
    half = [0.5, 0.5, 0.5]
    ip = Qwen2VLImageProcessor(
        patch_size=16,
        merge_size=2,
        temporal_patch_size=2,
        min_pixels=32 * 32 * 4,
        max_pixels=LADDER_MAX_PIXELS,
        image_mean=half,
        image_std=half,
    )
    ip.processor_class = "Qwen3VLProcessor"
    ip.save_pretrained(folder)
    Qwen2TokenizerFast.from_pretrained(str(folder)).save_pretrained(folder)
    return total


def _save_shard(folder: Path, shards: list, save_file) -> None:
    """Writes the newest shard as shard-<i>.safetensors and frees its tensors (the list keeps only its key names)."""
    i = len(shards) - 1
    save_file(shards[i], str(folder / f"shard-{i}.safetensors"), metadata={"format": "pt"})
    shards[i] = sorted(shards[i])


def names_per_shard(folder: Path, n: int) -> list[list[str]]:
    from safetensors import safe_open

    return [list(safe_open(str(folder / f"shard-{i}.safetensors"), "pt").keys()) for i in range(n)]


def quantized_of(r: Rung, quantized: bool) -> tuple[str, ...]:
    """The quantized decoders a rung has: q4 alone for a light rung, QUANTIZED with --quantized, else none."""
    return ("q4",) if r.light else QUANTIZED if quantized else ()


def build_rung_hf(r: Rung, folder: Path, check: bool = True, quantized: bool = False) -> dict:
    """Builds one rung with Hugging Face's classes and the project's exporter (sayo_train.hf_export): every layer's
    attention in onnx/, the same weights without attention outputs in noattn/ (a second export); a light rung gets
    the last layer's attention, q4 and no noattn/."""
    from .hf_export import ExportConfig, export_checkpoint

    t0 = time.time()
    tmp = folder.with_name(folder.name + ".partial")
    hf = folder.with_name(folder.name + ".hf")  # beside the output: an export never writes around its input
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(hf, ignore_errors=True)
    precisions = ("fp32",) + quantized_of(r, quantized)
    if r.name in STREAMED:
        return _build_streamed(r, folder, tmp, hf, precisions, t0)
    model = hf_checkpoint(r, hf)
    rep = export_checkpoint(
        model,
        tmp,
        ExportConfig(
            layers="last" if r.light else "all", precisions=precisions, check=check and not r.light, processor_dir=hf
        ),
    )
    if r.deepstack:
        # the twin: the same weights without the DeepStack mergers, exported alike (what DeepStack costs)
        twin_hf = folder.with_name(folder.name + ".hf-twin")
        twin = hf_checkpoint(r, twin_hf, state=model.state_dict(), deepstack=())
        export_checkpoint(
            twin,
            tmp / NO_DEEPSTACK,
            ExportConfig(
                layers="last" if r.light else "all", precisions=precisions, check=check, processor_dir=twin_hf
            ),
        )
        shutil.rmtree(twin_hf)
    if not r.light:
        export_checkpoint(model, tmp / "noattn", ExportConfig(layers="none", precisions=precisions, processor_dir=hf))
        for f in (tmp / "noattn" / "onnx").glob("*"):  # the view shares vision and embeddings with the main folder
            if not f.name.startswith("decoder_model_merged"):
                f.unlink()
                f.symlink_to(Path("../../onnx") / f.name)
    shutil.rmtree(hf)
    n = sum(p.numel() for p in model.parameters())
    nv = sum(p.numel() for p in model.model.visual.parameters())
    meta = {
        "rung": r.name,
        "dims": asdict(r),
        "params": n,
        "decoder_params": n - nv,
        "exporter": f"sayo_train.hf_export ({type(model).__name__})",
        "builder": "hf",
        "exporter_version": exporter_version(),
        "key": rung_key(r),
        "quantized": list(quantized_of(r, quantized)),
        "light": r.light,
        "export_s": rep.seconds,
        "build_s": round(time.time() - t0, 1),
        "check": rep.check or {},
    }
    (tmp / "LADDER.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return meta


def _build_streamed(r: Rung, folder: Path, tmp: Path, hf: Path, precisions: tuple, t0: float) -> dict:
    """A rung too large to hold: random_checkpoint, then `sayo_train export --streamed` (last layer's attention) in a
    child process, so its peak RSS is the export's own."""
    import resource
    import subprocess

    precisions = tuple(p for p in precisions if p != "fp32")
    n = random_checkpoint(r, hf)
    built = time.time() - t0
    peak_here = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    t1 = time.time()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sayo_train",
            "export",
            str(hf),
            "--out",
            str(tmp),
            "--streamed",
            "--layers",
            "last",
            "--precisions",
            ",".join(precisions),
        ],
        cwd=REPO / "training",
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise LadderError(f"{r.name}: the streamed export failed: {run.stderr.strip().splitlines()[-1:]}")
    rep = json.loads(run.stdout)
    shutil.rmtree(hf)
    meta = {
        "rung": r.name,
        "dims": asdict(r),
        "params": n,
        "decoder_params": None,
        "exporter": "sayo_train export --streamed",
        "builder": "hf-streamed",
        "exporter_version": exporter_version(),
        "key": rung_key(r),
        "quantized": list(precisions),
        "light": r.light,
        "export_s": rep["seconds"],
        "export_wall_s": round(time.time() - t1, 1),
        "build_s": round(time.time() - t0, 1),
        "check": {},
        "checkpoint_s": round(built, 1),
        "peak_rss_gib": {
            "checkpoint": round(peak_here, 2),
            "export": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 2),
        },
        "files_gb": {k: round(v / 1e9, 3) for k, v in rep["files"].items() if k.startswith("onnx/")},
    }
    (tmp / "LADDER.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return meta


def mini_entry(cache: Path) -> dict:
    cfg = json.loads((SHIPPED_MINI / "config.json").read_text())
    key = hashlib.sha256(SHIPPED_MINI_NOATTN.read_bytes()).hexdigest()[:12]
    view = noattn_view(SHIPPED_MINI, SHIPPED_MINI_NOATTN, cache / f"mini-noattn-{key}")
    params = _onnx_params(SHIPPED_MINI / "onnx")
    tc = cfg.get("text_config") or cfg  # Qwen2-VL keeps the text fields at the top level
    return {
        "rung": "mini",
        "path": str(SHIPPED_MINI),
        "noattn": str(view),
        "shipped": True,
        "layers": tc["num_hidden_layers"],
        "heads": tc["num_attention_heads"],
        "attention_layers": list(range(tc["num_hidden_layers"])),
        "quantized": [],
        "light": "",
        "params": params["all"],
        "decoder_params": params["decoder"],
        "built": False,
    }


def _onnx_params(onnx_dir: Path) -> dict:
    """Parameter counts from the graphs' float initializers (the shipped rung has no PyTorch module here)."""
    import numpy as np
    import onnx

    n = {}
    for f in ("vision_encoder", "embed_tokens", "decoder_model_merged"):
        g = onnx.load(str(onnx_dir / f"{f}.onnx"), load_external_data=False).graph
        n[f] = sum(int(np.prod(i.dims)) for i in g.initializer if i.data_type == onnx.TensorProto.FLOAT)
    return {"all": sum(n.values()), "decoder": n["embed_tokens"] + n["decoder_model_merged"]}


def ensure(
    names: list[str], cache: Path = DEFAULT_CACHE, check: bool = True, log=print, quantized: bool = False
) -> list[dict]:
    """Builds missing rungs (and with quantized, their q4 and q8 decoders), returns one entry per rung: path, parameters,
    whether it was built now."""
    from .hf_export.quantize import variant_name

    out = []
    cache.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name == "mini":
            out.append(mini_entry(cache))
            continue
        if name not in RUNGS:
            raise LadderError(f"unknown rung {name!r}; rungs: {', '.join(ORDER)}")
        r = RUNGS[name]
        folder = rung_folder(cache, r)
        built = False
        wanted = quantized_of(r, quantized)
        missing = [p for p in wanted if not (folder / "onnx" / variant_name("decoder_model_merged", p)).exists()]
        if not (folder / "LADDER.json").exists() or missing:
            # other keys of the rung: an older exporter or other dimensions
            for stale in cache.glob(f"{name}-hf-*"):
                shutil.rmtree(stale, ignore_errors=True)
            if r.light:
                log(f"ladder: {name} is built light: {r.light}")
            log(f"ladder: building {name} with sayo_train.hf_export into {folder} …")
            build_rung_hf(r, folder, check=check, quantized=quantized)
            built = True
        meta = json.loads((folder / "LADDER.json").read_text())
        have = [p for p in QUANTIZED if (folder / "onnx" / variant_name("decoder_model_merged", p)).exists()]
        out.append(
            {
                "rung": name,
                "path": str(folder),
                "noattn": None if r.light else str(folder / "noattn"),
                "twin": str(folder / NO_DEEPSTACK) if r.deepstack else None,
                "family": r.family,
                "deepstack": list(r.deepstack),
                "shipped": False,
                "builder": "hf",
                "layers": r.layers,
                "heads": r.heads,
                "attention_layers": [r.layers - 1] if r.light else list(range(r.layers)),
                "quantized": have,
                "light": r.light,
                "params": meta["params"],
                "decoder_params": meta["decoder_params"],
                "build_s": meta["build_s"],
                "built": built,
            }
        )
    return out


def configure_logging(verbose: bool) -> None:
    """Warnings and errors only unless `verbose`. onnxruntime's quantizer modules call logging.basicConfig(INFO) when
    imported and then log every MatMul they quantize (thousands of lines for a real rung); with a handler already on
    the root logger their basicConfig does nothing, and the root's level decides."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(name)s [%(levelname)s] %(message)s", stream=sys.stderr)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="sayo_train ladder", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--rungs",
        default=",".join(n for n in ORDER if n not in OPT_IN),
        help=f"comma-separated, from {', '.join(ORDER)} ({', '.join(OPT_IN)} only when named)",
    )
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="cache folder (outside the repository)")
    ap.add_argument(
        "--quantized",
        action="store_true",
        help="also write q4 and q8 decoders (onnx/decoder_model_merged_q4.onnx, _quantized.onnx)",
    )
    ap.add_argument("--no-check", action="store_true", help="skip the onnxruntime-vs-PyTorch check of new rungs")
    ap.add_argument("--list", action="store_true", help="print the rungs and their dimensions; build nothing")
    ap.add_argument("--json", action="store_true", help="print the rungs as JSON on the last line")
    ap.add_argument("--verbose", action="store_true", help="log at INFO (onnxruntime's quantizer: every MatMul)")
    a = ap.parse_args(argv)
    configure_logging(a.verbose)
    names = [n.strip() for n in a.rungs.split(",") if n.strip()]
    if a.list:
        for n in ORDER:
            r = RUNGS.get(n)
            dims = (
                "shipped models/sayo-mini"
                if r is None
                else f"{r.family}, hidden {r.hidden}, {r.layers} layers × {r.heads} heads ({r.kv_heads} kv), "
                f"vocab {r.vocab}, vision {r.vision_dim}×{r.vision_depth}"
                + (f", DeepStack {list(r.deepstack)} (+ a twin without)" if r.deepstack else "")
            )
            why = (
                f"  [opt-in, built light: {r.light}]"
                if r is not None and r.light
                else "  [opt-in]"
                if n in OPT_IN
                else ""
            )
            print(f"{n:>5}: {dims}{why}")
        return 0
    from .hf_export.family import ExportError

    try:
        entries = ensure(
            names, Path(a.cache), check=not a.no_check, log=lambda s: print(s, file=sys.stderr), quantized=a.quantized
        )
    except (LadderError, ExportError) as e:
        print(f"sayo_train ladder: {e}", file=sys.stderr)
        return 2
    for e in entries:
        p = f"{e['params'] / 1e6:.1f} M params" if "params" in e else "shipped"
        print(f"{e['rung']:>5}  {p:>16}  {'built' if e['built'] else 'cached'}  {e['path']}", file=sys.stderr)
    if a.json:
        print(json.dumps(entries))
    return 0
