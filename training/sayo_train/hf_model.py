"""SAYO-mini as a Hugging Face model, built from the spec's `model:` keys, with its processor around the project's
byte-level BPE tokenizer, saved and loaded with save_pretrained / from_pretrained. Two families:

- `qwen3_vl`: transformers' own `Qwen3VLForConditionalGeneration` with DeepStack (the class of SAYO-Qwen-8B): the
  vision blocks `vision.deepstack_visual_indexes` each feed their own patch merger, whose output is added to the decoder's
  hidden states after decoder layers 0, 1, … at the image positions; a learned position table of
  `vision.num_position_embeddings` entries; 16 px patches; interleaved M-RoPE. Its processor is Qwen3-VL's
  (processor_class Qwen3VLProcessor, Qwen2VLImageProcessor geometry, mean/std 0.5, Qwen3-VL-Instruct's chat template).
- `qwen2_5_vl`: `Qwen2_5_VLForConditionalGeneration`, every vision block full-attention (`fullatt_block_indexes` = all
  blocks), so Qwen2.5-VL's window reordering is a no-op and the vision tower traces without data-dependent windows.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import (
    AutoModelForImageTextToText,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2TokenizerFast,
    Qwen2VLImageProcessor,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
)
from transformers.processing_utils import ProcessorMixin

from .tokenizer import SPECIAL_TOKENS

# Positions the rotary tables cover; prompts of SAYO-mini stay far below (≤ 100 image tokens + ~60 text tokens).
MAX_POSITIONS = 4096

FAMILIES = ("qwen2_5_vl", "qwen3_vl")

# Qwen3-VL's image normalisation (its preprocessor_config.json); Qwen2/2.5-VL keep the CLIP values (processor.py).
QWEN3_VL_IMAGE_MEAN = [0.5, 0.5, 0.5]
QWEN3_VL_IMAGE_STD = [0.5, 0.5, 0.5]
# Qwen3-VL-Instruct's chat template, verbatim (its chat_template.json). Unlike Qwen2/2.5-VL's it adds no default
# system turn.
QWEN3_VL_CHAT_TEMPLATE = (Path(__file__).resolve().parent / "templates" / "qwen3_vl.jinja").read_text(encoding="utf-8")


class _ImagesOnly:
    """The token attributes the Qwen-VL processors set, without their video processor: transformers 4.57's Qwen-VL
    video processors need torchvision, which the pinned CPU stack does not install; images never touch it. Read back
    from a folder as the tokenizer and image processor it saved."""

    attributes = ["image_processor", "tokenizer"]

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        self.image_token = "<|image_pad|>"
        self.video_token = "<|video_pad|>"
        self.vision_start_token = "<|vision_start|>"
        self.vision_end_token = "<|vision_end|>"
        tid = tokenizer.convert_tokens_to_ids
        self.image_token_id = tid(self.image_token)
        self.video_token_id = tid(self.video_token)
        self.vision_start_token_id = tid(self.vision_start_token)
        self.vision_end_token_id = tid(self.vision_end_token)
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    @classmethod
    def from_pretrained(cls, folder, **kwargs):
        tok = Qwen2TokenizerFast.from_pretrained(folder)
        ip = Qwen2VLImageProcessor.from_pretrained(folder)
        return cls(image_processor=ip, tokenizer=tok, chat_template=tok.chat_template)


class SayoProcessor(_ImagesOnly, Qwen2_5_VLProcessor):
    """Qwen2_5_VLProcessor for images only. The saved files are that class's (preprocessor_config.json, tokenizer
    files, chat template), so `Qwen2_5_VLProcessor.from_pretrained` reads them on a host that has torchvision."""

    saved_class = "Qwen2_5_VLProcessor"


class SayoQwen3VLProcessor(_ImagesOnly, Qwen3VLProcessor):
    """Qwen3VLProcessor for images only, as SayoProcessor; saved as Qwen3VLProcessor (what AutoProcessor and
    transformers.js read)."""

    saved_class = "Qwen3VLProcessor"


PROCESSORS = {"qwen2_5_vl": SayoProcessor, "qwen3_vl": SayoQwen3VLProcessor}


def _get(o, k, default=KeyError):
    if isinstance(o, dict):
        return o[k] if default is KeyError else o.get(k, default)
    return getattr(o, k) if default is KeyError else getattr(o, k, default)


def _family(model_spec) -> str:
    family = _get(model_spec, "family")
    if family not in FAMILIES:
        raise ValueError(
            f"model.family: a model built from its shapes must be one of {', '.join(FAMILIES)}, got {family!r}"
        )
    return family


def image_processor(model_spec) -> Qwen2VLImageProcessor:
    v, im = _get(model_spec, "vision"), _get(model_spec, "image")
    mn, mx = _get(im, "min_pixels"), _get(im, "max_pixels")
    norm = (
        {"image_mean": QWEN3_VL_IMAGE_MEAN, "image_std": QWEN3_VL_IMAGE_STD}
        if _get(model_spec, "family") == "qwen3_vl"
        else {}
    )
    return Qwen2VLImageProcessor(
        patch_size=_get(v, "patch_size"),
        merge_size=_get(v, "merge_size"),
        temporal_patch_size=_get(v, "temporal_patch_size"),
        min_pixels=mn,
        max_pixels=mx,
        size={"shortest_edge": mn, "longest_edge": mx},
        **norm,
    )


def build_processor(model_spec, tokenizer_dir):
    """The processor of a spec: its family's class and chat template, its image geometry and the tokenizer saved in
    `tokenizer_dir` (tokenizer.py). For qwen3_vl the tokenizer carries Qwen3-VL's chat template too, so its
    tokenizer_config.json (what transformers.js renders with) and chat_template.jinja hold the same text."""
    family = _family(model_spec)
    tok = Qwen2TokenizerFast.from_pretrained(str(tokenizer_dir))
    if family == "qwen3_vl":
        tok.chat_template = QWEN3_VL_CHAT_TEMPLATE
    return PROCESSORS[family](
        image_processor=image_processor(model_spec), tokenizer=tok, chat_template=tok.chat_template
    )


def _token_ids(tok) -> dict:
    tid = tok.convert_tokens_to_ids
    return dict(
        image_token_id=tid("<|image_pad|>"),
        video_token_id=tid("<|video_pad|>"),
        vision_start_token_id=tid("<|vision_start|>"),
        vision_end_token_id=tid("<|vision_end|>"),
    )


def _special_ids(tok) -> dict:
    tid = tok.convert_tokens_to_ids
    return dict(bos_token_id=tid("<|endoftext|>"), eos_token_id=tid("<|im_end|>"), pad_token_id=tid("<|endoftext|>"))


def qwen_config(model_spec, processor):
    """The transformers config of the spec's family from its `model:` keys; token ids come from the processor's
    tokenizer."""
    family = _family(model_spec)
    return (_qwen3_vl_config if family == "qwen3_vl" else _qwen2_5_vl_config)(model_spec, processor.tokenizer)


def _qwen2_5_vl_config(model_spec, tok) -> Qwen2_5_VLConfig:
    v, t = _get(model_spec, "vision"), _get(model_spec, "text")
    depth = _get(v, "depth")
    cell = _get(v, "patch_size") * _get(v, "merge_size")
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
        tie_word_embeddings=bool(_get(t, "tie_word_embeddings", None)),
        rope_scaling={"type": "mrope", "mrope_section": list(_get(t, "mrope_section"))},
        **_token_ids(tok),
        **_special_ids(tok),
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


def _qwen3_vl_config(model_spec, tok) -> Qwen3VLConfig:
    """Qwen3VLConfig as Qwen3-VL's own config.json states it (activations, interleaved M-RoPE with rope_type default,
    no attention bias, tie_word_embeddings stated at both levels), with the spec's shapes."""
    v, t = _get(model_spec, "vision"), _get(model_spec, "text")
    tie = _get(t, "tie_word_embeddings", None)
    if tie is None:
        raise ValueError("model.text.tie_word_embeddings: a qwen3_vl model states it (Qwen3-VL-8B: false)")
    return Qwen3VLConfig(
        text_config={
            "vocab_size": len(tok),
            "hidden_size": _get(t, "hidden_size"),
            "intermediate_size": _get(t, "intermediate_size"),
            "num_hidden_layers": _get(t, "num_layers"),
            "num_attention_heads": _get(t, "num_heads"),
            "num_key_value_heads": _get(t, "num_kv_heads"),
            "head_dim": _get(t, "head_dim"),
            "hidden_act": "silu",
            "max_position_embeddings": MAX_POSITIONS,
            "rms_norm_eps": float(_get(t, "rms_norm_eps")),
            "rope_theta": float(_get(t, "rope_theta")),
            "rope_scaling": {
                "rope_type": "default",
                "mrope_section": list(_get(t, "mrope_section")),
                "mrope_interleaved": bool(_get(t, "mrope_interleaved")),
            },
            "attention_bias": False,
            "attention_dropout": 0.0,
            "tie_word_embeddings": bool(tie),
            "dtype": "float32",
            **_special_ids(tok),
        },
        vision_config={
            "depth": _get(v, "depth"),
            "hidden_size": _get(v, "embed_dim"),
            "hidden_act": "gelu_pytorch_tanh",
            "intermediate_size": int(round(_get(v, "embed_dim") * _get(v, "mlp_ratio"))),
            "num_heads": _get(v, "num_heads"),
            "in_channels": 3,
            "patch_size": _get(v, "patch_size"),
            "spatial_merge_size": _get(v, "merge_size"),
            "temporal_patch_size": _get(v, "temporal_patch_size"),
            "out_hidden_size": _get(t, "hidden_size"),
            "num_position_embeddings": _get(v, "num_position_embeddings"),
            "deepstack_visual_indexes": list(_get(v, "deepstack_visual_indexes")),
        },
        tie_word_embeddings=bool(tie),
        **_token_ids(tok),
        **_special_ids(tok),
        dtype="float32",
    )


MODEL_CLASSES = {"qwen2_5_vl": Qwen2_5_VLForConditionalGeneration, "qwen3_vl": Qwen3VLForConditionalGeneration}


def new_model(model_spec, processor, seed: int):
    """Fresh weights (transformers' own initialisation, seeded) for the spec's shapes and family; eager attention, so
    the attention probabilities of every layer can be read."""
    torch.manual_seed(seed)
    cfg = qwen_config(model_spec, processor)
    cfg._attn_implementation = "eager"
    model = MODEL_CLASSES[cfg.model_type](cfg)
    gc = model.generation_config
    gc.eos_token_id = cfg.eos_token_id
    gc.pad_token_id = cfg.pad_token_id
    gc.bos_token_id = cfg.bos_token_id
    return model


def banned_token_ids(tokenizer) -> list[int]:
    """Special tokens a completion never samples (all but <|im_end|>, which ends it)."""
    return [tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS if t != "<|im_end|>"]


def save(model, processor, folder) -> Path:
    """save_pretrained of both; the saved processor_class is the real class whose files these are
    (Qwen2_5_VLProcessor or Qwen3VLProcessor), so transformers' and transformers.js's AutoProcessor load the folder
    with it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    for name in ("preprocessor_config.json", "processor_config.json", "tokenizer_config.json"):
        f = folder / name
        if f.exists():
            cfg = json.loads(f.read_text())
            changed = cfg.get("processor_class") == type(processor).__name__ and hasattr(processor, "saved_class")
            if changed:
                cfg["processor_class"] = processor.saved_class
            if (
                name == "tokenizer_config.json"
                and processor.chat_template
                and cfg.get("chat_template") != processor.chat_template
            ):
                # transformers.js's Qwen-VL processors render with the tokenizer's template (tokenizer_config.json);
                # transformers 4.57 writes it only to chat_template.jinja.
                cfg["chat_template"] = processor.chat_template
                changed = True
            if changed:
                f.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return folder


def load(folder, attn_implementation: str = "eager"):
    """(model, processor) from a folder written by `save` (or any Qwen2.5-VL / Qwen3-VL checkpoint folder)."""
    folder = Path(folder)
    model = AutoModelForImageTextToText.from_pretrained(
        folder, attn_implementation=attn_implementation, dtype=torch.float32, trust_remote_code=False
    )
    return model, processor_class(folder).from_pretrained(folder)


def processor_class(folder):
    """SayoQwen3VLProcessor for a Qwen3-VL folder, SayoProcessor for the others (read from config.json)."""
    model_type = json.loads((Path(folder) / "config.json").read_text()).get("model_type")
    return SayoQwen3VLProcessor if model_type == "qwen3_vl" else SayoProcessor


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())
