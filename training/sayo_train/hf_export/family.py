"""Which Qwen-VL family a Hugging Face model is, and the family-specific pieces the export graphs call.

Everything numeric (norms, projections, MLPs, the text rotary embedding, the rotary application functions) is
Hugging Face's own code; this module only says which of it each family uses."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


class ExportError(RuntimeError):
    """A checkpoint the exporter cannot turn into the model contract, or an export that failed its check."""


SUPPORTED = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl")


@dataclass(frozen=True)
class Family:
    model_type: str
    module: object  # transformers.models.<family>.modeling_<family>
    window_attention: bool  # Qwen2.5-VL: windowed vision blocks outside fullatt_block_indexes
    learned_pos_embed: bool  # Qwen3-VL: bilinearly interpolated learned position embedding in the vision tower
    qk_norm: bool  # Qwen3-VL: RMSNorm on query and key heads
    interleaved_mrope: bool  # Qwen3-VL: the rotary module already folds t/h/w into one [B, S, D] cos/sin
    deepstack: tuple[int, ...] = ()  # Qwen3-VL: vision_config.deepstack_visual_indexes, in the config's order

    @property
    def deepstack_columns(self) -> int:
        """How many hidden-size column blocks image_features and inputs_embeds carry: the main embedding plus one
        per DeepStack feature (models/CONTRACT.md, "DeepStack")."""
        return 1 + len(self.deepstack)

    @property
    def grid_input(self) -> str:
        """Name of the vision graph's grid input, as transformers.js feeds it (its image_grid_thw_name):
        'grid_thw' for Qwen2VLForConditionalGeneration, 'image_grid_thw' for the Qwen2.5-VL class and its
        Qwen3-VL subclass."""
        return "grid_thw" if self.model_type == "qwen2_vl" else "image_grid_thw"

    def apply_text_rotary(self, q, k, cos, sin, mrope_section) -> tuple:
        if self.interleaved_mrope:
            return self.module.apply_rotary_pos_emb(q, k, cos, sin)
        return self.module.apply_multimodal_rotary_pos_emb(q, k, cos, sin, mrope_section)

    @property
    def apply_vision_rotary(self) -> Callable:
        return self.module.apply_rotary_pos_emb_vision

    @property
    def repeat_kv(self) -> Callable:
        return self.module.repeat_kv


# transformers 4.57 copies text_config's fields onto Qwen2(.5)-VL's top-level config, model_type included
# ("qwen2_vl_text"), so the family is read from the config class.
_CONFIG_CLASSES = {"Qwen2VLConfig": "qwen2_vl", "Qwen2_5_VLConfig": "qwen2_5_vl", "Qwen3VLConfig": "qwen3_vl"}


def family_of(config) -> Family:
    mt = _CONFIG_CLASSES.get(type(config).__name__, getattr(config, "model_type", None))
    if mt not in SUPPORTED:
        raise ExportError(
            f"model_type {mt!r} is not exportable: accepted are {', '.join(SUPPORTED)} "
            "(a Qwen-VL ...ForConditionalGeneration checkpoint)"
        )
    mod = importlib.import_module(f"transformers.models.{mt}.modeling_{mt}")
    ds = (
        tuple(int(i) for i in (getattr(config.vision_config, "deepstack_visual_indexes", None) or ()))
        if mt == "qwen3_vl"
        else ()
    )
    depth = int(getattr(config.vision_config, "depth", 0) or 0)
    bad = [i for i in ds if not 0 <= i < depth]
    if bad or len(set(ds)) != len(ds):
        raise ExportError(
            f"vision_config.deepstack_visual_indexes={list(ds)}: each must be a distinct vision block "
            f"index in 0..{depth - 1} (the tower has {depth} blocks)"
        )
    tc = text_config(config)
    if getattr(tc, "use_sliding_window", False):
        raise ExportError(
            f"{mt}: text_config.use_sliding_window=true is not supported (the exported decoder "
            "attends to every past position); set it to false"
        )
    return Family(
        model_type=mt,
        module=mod,
        window_attention=(mt == "qwen2_5_vl"),
        learned_pos_embed=(mt == "qwen3_vl"),
        qk_norm=(mt == "qwen3_vl"),
        interleaved_mrope=(mt == "qwen3_vl"),
        deepstack=ds,
    )


def text_config(config):
    return getattr(config, "text_config", None) or config


def parts(model):
    """(vision tower, text model, lm_head) of a ...ForConditionalGeneration."""
    inner = model.model
    return inner.visual, inner.language_model, model.lm_head
