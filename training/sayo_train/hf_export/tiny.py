"""Tiny random-weight Qwen2-VL / Qwen2.5-VL / Qwen3-VL checkpoints from transformers' own classes, saved with a
processor and tokenizer exactly as `save_pretrained` writes a real checkpoint (the tests' and the docs' stand-in for
a hub download, which this machine does not have)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..tokenizer import Tokenizer

CORPUS = [
    "What colour is the square?",
    "Where is the red circle?",
    "<answer>left</answer>",
    "a small blue ball",
    "How many shapes are there?",
    "The answer is two.",
]

# Vision geometry per family (patch size 14 for Qwen2 / 2.5, 16 for Qwen3, as the real models).
PATCH = {"qwen2_vl": 14, "qwen2_5_vl": 14, "qwen3_vl": 16}


def _tokenizer(folder: Path):
    from transformers import Qwen2TokenizerFast

    tok = Tokenizer.build(CORPUS)
    tok.save(folder)
    return tok, Qwen2TokenizerFast.from_pretrained(str(folder))


def tiny_config(
    family: str, tok: Tokenizer, *, deepstack: list[int] | None = None, text_layers: int = 2, vision_depth: int = 2
):
    """A tiny config of `family`; Qwen3-VL takes DeepStack vision block indexes (`deepstack`)."""
    ids = dict(
        image_token_id=tok.token_id("<|image_pad|>"),
        video_token_id=tok.token_id("<|video_pad|>"),
        vision_start_token_id=tok.token_id("<|vision_start|>"),
        vision_end_token_id=tok.token_id("<|vision_end|>"),
    )
    special = dict(
        bos_token_id=tok.token_id("<|endoftext|>"),
        eos_token_id=tok.token_id("<|im_end|>"),
        pad_token_id=tok.token_id("<|endoftext|>"),
    )
    text = dict(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=text_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        rope_theta=10000.0,
        **special,
    )
    if family == "qwen2_vl":
        from transformers import Qwen2VLConfig

        vision = dict(
            depth=vision_depth,
            embed_dim=32,
            hidden_size=64,
            mlp_ratio=2,
            num_heads=2,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            in_channels=3,
        )
        text["rope_scaling"] = {"type": "mrope", "mrope_section": [2, 3, 3]}
        return Qwen2VLConfig(vision_config=vision, text_config=text, **ids, **special)
    if family == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig

        # window 56 px = 2×2 merged tokens per window, block 1 full attention: both code paths run.
        vision = dict(
            depth=vision_depth,
            hidden_size=32,
            intermediate_size=48,
            num_heads=2,
            out_hidden_size=64,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            window_size=56,
            fullatt_block_indexes=[vision_depth - 1],
            in_channels=3,
        )
        text["rope_scaling"] = {"type": "mrope", "mrope_section": [2, 3, 3]}
        return Qwen2_5_VLConfig(vision_config=vision, text_config=text, **ids, **special)
    if family == "qwen3_vl":
        from transformers import Qwen3VLConfig

        vision = dict(
            depth=vision_depth,
            hidden_size=32,
            intermediate_size=48,
            num_heads=2,
            out_hidden_size=64,
            patch_size=16,
            spatial_merge_size=2,
            temporal_patch_size=2,
            num_position_embeddings=64,
            in_channels=3,
            deepstack_visual_indexes=list(deepstack or []),
        )
        text.update(
            head_dim=16, rope_scaling={"rope_type": "default", "mrope_section": [2, 3, 3], "mrope_interleaved": True}
        )
        return Qwen3VLConfig(vision_config=vision, text_config=text, **ids, tie_word_embeddings=False)
    raise ValueError(f"unknown family {family!r}: qwen2_vl, qwen2_5_vl or qwen3_vl")


def qwen2_vl_2b_config(tok: Tokenizer, text_layers: int = 28, vision_depth: int = 32):
    """Qwen2-VL-2B-Instruct's dimensions (its published config.json), depth adjustable, random weights."""
    from transformers import Qwen2VLConfig

    ids = dict(
        image_token_id=tok.token_id("<|image_pad|>"),
        video_token_id=tok.token_id("<|video_pad|>"),
        vision_start_token_id=tok.token_id("<|vision_start|>"),
        vision_end_token_id=tok.token_id("<|vision_end|>"),
        bos_token_id=tok.token_id("<|endoftext|>"),
        eos_token_id=tok.token_id("<|im_end|>"),
    )
    vision = dict(
        depth=vision_depth,
        embed_dim=1280,
        hidden_size=1536,
        mlp_ratio=4,
        num_heads=16,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        in_channels=3,
    )
    text = dict(
        vocab_size=151936,
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=text_layers,
        num_attention_heads=12,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]},
        tie_word_embeddings=True,
        bos_token_id=ids["bos_token_id"],
        eos_token_id=ids["eos_token_id"],
    )
    return Qwen2VLConfig(vision_config=vision, text_config=text, tie_word_embeddings=True, **ids)


def _image_processor(family: str):
    from transformers import Qwen2VLImageProcessor

    p = PATCH[family]
    ip = Qwen2VLImageProcessor(
        patch_size=p, merge_size=2, temporal_patch_size=2, min_pixels=(2 * p) ** 2 * 4, max_pixels=(2 * p) ** 2 * 64
    )
    # The processor classes insist on a video processor, which needs torchvision (not installed); SAYO Lens feeds
    # images only, so the image processor and the tokenizer are saved on their own, with the processor class named.
    ip.processor_class = {
        "qwen2_vl": "Qwen2VLProcessor",
        "qwen2_5_vl": "Qwen2_5_VLProcessor",
        "qwen3_vl": "Qwen3VLProcessor",
    }[family]
    return ip


def build_tiny(
    family: str,
    folder,
    seed: int = 0,
    *,
    deepstack: list[int] | None = None,
    text_layers: int = 2,
    vision_depth: int = 2,
    config_fn=None,
):
    """Write a random-weight checkpoint of `family` to `folder`; returns the model (eval, eager attention).
    `config_fn(tokenizer)` replaces the tiny config (e.g. qwen2_vl_2b_config)."""
    from transformers import AutoModelForImageTextToText, GenerationConfig

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok, hf_tok = _tokenizer(folder)
    cfg = (
        config_fn(tok)
        if config_fn
        else tiny_config(family, tok, deepstack=deepstack, text_layers=text_layers, vision_depth=vision_depth)
    )
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(cfg, attn_implementation="eager").eval()
    # Random init leaves logits nearly flat; widen them so greedy decoding has clear winners (a fair parity test).
    with torch.no_grad():
        model.lm_head.weight.mul_(8.0)
    model.generation_config = GenerationConfig(
        bos_token_id=tok.token_id("<|endoftext|>"),
        pad_token_id=tok.token_id("<|endoftext|>"),
        eos_token_id=[tok.token_id("<|im_end|>"), tok.token_id("<|endoftext|>")],
        do_sample=False,
    )
    model.save_pretrained(folder)
    _image_processor(family).save_pretrained(folder)
    hf_tok.save_pretrained(folder)
    return model
