"""SAYO-mini as a Hugging Face model: `Qwen2_5_VLForConditionalGeneration` with a tiny config built from the spec's
`model:` keys, a Qwen2.5-VL processor (Qwen2VLImageProcessor, Qwen's chat template and special tokens) around the
project's byte-level BPE tokenizer, saved and loaded with save_pretrained / from_pretrained.

Why Qwen2.5-VL and not Qwen3-VL: transformers.js 4.3.1's qwen3_vl model is an empty subclass of its Qwen2.5-VL model
with no DeepStack input, so a real Qwen3-VL export would not run correctly in the browser (models/CONTRACT.md).
Every vision block is full-attention (`fullatt_block_indexes` = all blocks), so Qwen2.5-VL's window reordering is a
no-op and the vision tower traces without data-dependent windows.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import (AutoModelForImageTextToText, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration,
                          Qwen2_5_VLProcessor, Qwen2TokenizerFast, Qwen2VLImageProcessor)
from transformers.processing_utils import ProcessorMixin

from .tokenizer import SPECIAL_TOKENS

# Positions the rotary tables cover; prompts of SAYO-mini stay far below (≤ 100 image tokens + ~60 text tokens).
MAX_POSITIONS = 4096


class SayoProcessor(Qwen2_5_VLProcessor):
    """Qwen2_5_VLProcessor for images only. transformers 4.57's Qwen2.5-VL video processor needs torchvision, which
    the pinned CPU stack does not install; images never touch it, and the saved files are the same
    (preprocessor_config.json, tokenizer files, chat template), so `Qwen2_5_VLProcessor.from_pretrained` reads them on
    a host that has torchvision."""

    attributes = ["image_processor", "tokenizer"]

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        self.image_token = "<|image_pad|>"
        self.video_token = "<|video_pad|>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    @classmethod
    def from_pretrained(cls, folder, **kwargs):
        tok = Qwen2TokenizerFast.from_pretrained(folder)
        ip = Qwen2VLImageProcessor.from_pretrained(folder)
        return cls(image_processor=ip, tokenizer=tok, chat_template=tok.chat_template)


def _get(o, k):
    return o[k] if isinstance(o, dict) else getattr(o, k)


def image_processor(model_spec) -> Qwen2VLImageProcessor:
    v, im = _get(model_spec, "vision"), _get(model_spec, "image")
    mn, mx = _get(im, "min_pixels"), _get(im, "max_pixels")
    return Qwen2VLImageProcessor(patch_size=_get(v, "patch_size"), merge_size=_get(v, "merge_size"),
                                 temporal_patch_size=_get(v, "temporal_patch_size"), min_pixels=mn, max_pixels=mx,
                                 size={"shortest_edge": mn, "longest_edge": mx})


def build_processor(model_spec, tokenizer_dir) -> SayoProcessor:
    """The processor of a spec: its image geometry and the tokenizer saved in `tokenizer_dir` (tokenizer.py)."""
    tok = Qwen2TokenizerFast.from_pretrained(str(tokenizer_dir))
    return SayoProcessor(image_processor=image_processor(model_spec), tokenizer=tok, chat_template=tok.chat_template)


def qwen_config(model_spec, processor) -> Qwen2_5_VLConfig:
    """Qwen2_5_VLConfig from the spec's `model:` keys; token ids come from the processor's tokenizer."""
    family = _get(model_spec, "family")
    if family != "qwen2_5_vl":
        raise ValueError(f"model.family: a model built from its shapes must be qwen2_5_vl, got {family!r}")
    v, t = _get(model_spec, "vision"), _get(model_spec, "text")
    tok = processor.tokenizer
    tid = tok.convert_tokens_to_ids
    depth = _get(v, "depth")
    cell = _get(v, "patch_size") * _get(v, "merge_size")
    tie = (getattr(t, "tie_word_embeddings", None) if not isinstance(t, dict) else t.get("tie_word_embeddings"))
    return Qwen2_5_VLConfig(
        vocab_size=len(tok),
        hidden_size=_get(t, "hidden_size"),
        intermediate_size=_get(t, "intermediate_size"),
        num_hidden_layers=_get(t, "num_layers"),
        num_attention_heads=_get(t, "num_heads"),
        num_key_value_heads=_get(t, "num_kv_heads"),
        head_dim=_get(t, "head_dim"),
        rope_theta=float(_get(t, "rope_theta")),
        rms_norm_eps=float(_get(t, "rms_norm_eps")),
        max_position_embeddings=MAX_POSITIONS,
        tie_word_embeddings=bool(tie),
        rope_scaling={"type": "mrope", "mrope_section": list(_get(t, "mrope_section"))},
        image_token_id=tid("<|image_pad|>"),
        video_token_id=tid("<|video_pad|>"),
        vision_start_token_id=tid("<|vision_start|>"),
        vision_end_token_id=tid("<|vision_end|>"),
        bos_token_id=tid("<|endoftext|>"),
        eos_token_id=tid("<|im_end|>"),
        pad_token_id=tid("<|endoftext|>"),
        vision_config={
            "depth": depth,
            "hidden_size": _get(v, "embed_dim"),
            "intermediate_size": int(round(_get(v, "embed_dim") * _get(v, "mlp_ratio"))),
            "num_heads": _get(v, "num_heads"),
            "patch_size": _get(v, "patch_size"),
            "spatial_merge_size": _get(v, "merge_size"),
            "temporal_patch_size": _get(v, "temporal_patch_size"),
            "out_hidden_size": _get(t, "hidden_size"),
            "fullatt_block_indexes": list(range(depth)),
            "window_size": cell * 4,
            "in_channels": 3,
            "hidden_act": "silu",
        },
        torch_dtype="float32",
    )


def new_model(model_spec, processor, seed: int) -> Qwen2_5_VLForConditionalGeneration:
    """Fresh weights (transformers' own initialisation, seeded) for the spec's shapes; eager attention, so the
    attention probabilities of every layer can be read."""
    torch.manual_seed(seed)
    cfg = qwen_config(model_spec, processor)
    cfg._attn_implementation = "eager"
    model = Qwen2_5_VLForConditionalGeneration(cfg)
    gc = model.generation_config
    gc.eos_token_id = cfg.eos_token_id
    gc.pad_token_id = cfg.pad_token_id
    gc.bos_token_id = cfg.bos_token_id
    return model


def banned_token_ids(tokenizer) -> list[int]:
    """Special tokens a completion never samples (all but <|im_end|>, which ends it)."""
    return [tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS if t != "<|im_end|>"]


def save(model, processor, folder) -> Path:
    """save_pretrained of both; the saved processor_class is Qwen2_5_VLProcessor (SayoProcessor's files are that
    class's), so transformers' and transformers.js's AutoProcessor load the folder with the real class."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    for name in ("preprocessor_config.json", "processor_config.json", "tokenizer_config.json"):
        f = folder / name
        if f.exists():
            cfg = json.loads(f.read_text())
            if cfg.get("processor_class") == type(processor).__name__ and isinstance(processor, SayoProcessor):
                cfg["processor_class"] = "Qwen2_5_VLProcessor"
                f.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return folder


def load(folder, attn_implementation: str = "eager"):
    """(model, processor) from a folder written by `save` (or any Qwen2.5-VL / Qwen3-VL checkpoint folder)."""
    folder = Path(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder, attn_implementation=attn_implementation,
                                                        dtype=torch.float32, trust_remote_code=False)
    return model, SayoProcessor.from_pretrained(folder)


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())
