"""Plausibility limits the Python side reads, mirrored from src/core/limits.ts (the TypeScript side holds the same
numbers; tests compare the two): what a model config may declare (the exporter reads config.json), and the upper
bounds of a job spec's counts and sizes (both job spec readers apply SPEC_LIMITS with the same message)."""

from __future__ import annotations

CONFIG_LIMITS = {
    "num_hidden_layers": 512,
    "num_attention_heads": 1024,
    "num_key_value_heads": 1024,
    "hidden_size": 65_536,
    "intermediate_size": 1_048_576,
    "vocab_size": 4_194_304,
    "max_position_embeddings": 16_777_216,
}
VISION_LIMITS = {
    "depth": 256,
    "num_heads": 1024,
    "hidden_size": 65_536,
    "embed_dim": 65_536,
    "out_hidden_size": 65_536,
    "intermediate_size": 1_048_576,
    "patch_size": 1024,
    "spatial_merge_size": 64,
    "temporal_patch_size": 64,
    "in_channels": 16,
    "num_position_embeddings": 1_048_576,
}
# Upper bounds of a job spec's numbers, by key path ("[]" for any list item). Model sizes: CONFIG_LIMITS / VISION_LIMITS
# (nothing larger loads here); seeds: what numpy / torch accept; counts: far above any run this project plans.
SPEC_LIMITS = {
    "run.seed": 4_294_967_295,
    "run.threads": 1024,
    "model.text.hidden_size": 65_536,
    "model.text.num_layers": 512,
    "model.text.num_heads": 1024,
    "model.text.num_kv_heads": 1024,
    "model.text.head_dim": 4096,
    "model.text.intermediate_size": 1_048_576,
    "model.vision.embed_dim": 65_536,
    "model.vision.depth": 256,
    "model.vision.num_heads": 1024,
    "model.vision.patch_size": 1024,
    "model.vision.temporal_patch_size": 64,
    "model.vision.merge_size": 64,
    "model.vision.mlp_ratio": 64,
    "model.image.min_pixels": 67_108_864,
    "model.image.max_pixels": 67_108_864,
    "model.lora.r": 65_536,
    "data.generator.train_size": 100_000_000,
    "data.generator.heldout_size": 100_000_000,
    "data.max_response_tokens": 1_048_576,
    "sft.epochs": 100_000,
    "sft.batch_size": 1_048_576,
    "grpo.steps": 10_000_000,
    "grpo.epochs": 100_000,
    "grpo.prompts_per_step": 1_048_576,
    "grpo.group_size": 1024,
    "report.max_new_tokens": 1_048_576,
}
# Nesting of a job spec (its deepest shipped key is 5 levels down).
MAX_SPEC_DEPTH = 32
