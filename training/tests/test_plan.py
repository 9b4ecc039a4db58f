"""Dry-run plans: stages and commands in order, data sizes, and a memory estimate whose parameter counts match real
torch modules (SAYO-mini) and the published size of Qwen3-VL-8B."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch.nn as nn

from sayo_train.model import ModelCfg, SayoMini, TextCfg, VisionCfg
from sayo_train.plan import GB, build_plan, count_lora, count_params, format_plan
from sayo_train.spec import load_spec

JOBS = Path(__file__).resolve().parent.parent / "jobs"


def mini_model(spec) -> SayoMini:
    v, t = spec.model.vision, spec.model.text
    return SayoMini(ModelCfg(
        vision=VisionCfg(v.patch_size, v.temporal_patch_size, v.merge_size, v.embed_dim, v.depth, v.num_heads, v.mlp_ratio),
        text=TextCfg(t.hidden_size, t.num_layers, t.num_heads, t.num_kv_heads, t.head_dim, t.intermediate_size,
                     t.mrope_section, t.rope_theta, t.rms_norm_eps),
        vocab_size=500, image_token_id=1, video_token_id=2, vision_start_token_id=3, vision_end_token_id=4,
        bos_token_id=5, eos_token_id=6, pad_token_id=7))


def test_8b_dry_run_prints_stages_commands_data_and_memory():
    plan = build_plan(load_spec(JOBS / "sayo-qwen3-vl-8b.yaml"))
    text = format_plan(plan)
    assert [s.name for s in plan.stages] == ["data", "grpo", "export", "report"]
    assert all(s.where == "GPU host" for s in plan.stages)
    assert "accelerate launch --num_processes 6 --mixed_precision bf16 --use_deepspeed --zero_stage 1" in text
    assert "npx sayo expose-attention decoder_model_merged.onnx out.onnx --layers last" in text
    assert "hub:ReFocus/ReFocus_Data" in text and "~16000 records" in text
    assert "GRPO steps: 2475 = 3 epochs x ceil(19800 / 24); 24 prompts x 16 rollouts per step" in text
    assert "64-1024 image tokens of 32x32 px" in text
    for line in ("weights", "AdamW state", "KV cache", "reward attention rows", "checkpointed layer inputs",
                 "ViT activations", "completion logits"):
        assert line in text
    assert "memory per GPU (H200, 6 in all)" in text and "of 141 GB: fits" in text
    assert 40 * GB < plan.peak_bytes() < 141 * GB


def test_8b_parameter_counts():
    counts = count_params(load_spec(JOBS / "sayo-qwen3-vl-8b.yaml"))
    assert 8.70e9 < counts["total"] < 8.85e9  # model card: 8.77 B (we leave out the ViT position table)
    # LoRA r=16 over every linear but lm_head: 36 decoder layers dominate, r·(in+out) each.
    text_lora = 36 * 16 * ((4096 + 4096) * 2 + (4096 + 1024) * 2 + (4096 + 12288) * 3)
    assert text_lora < counts["lora"] < text_lora * 1.25


def test_paper_response_length_does_not_fit_at_batch_64_and_the_plan_says_what_to_change():
    spec = load_spec(JOBS / "sayo-qwen3-vl-8b.yaml")
    spec.data.max_response_tokens = 1100  # the paper's text (the code says 110)
    plan = build_plan(spec)
    assert plan.peak_bytes() > 141 * GB
    assert any("lower hardware.per_device_batch_size and raise gradient_accumulation_steps" in w for w in plan.warnings)
    assert "DOES NOT FIT" in format_plan(plan)
    spec.hardware.per_device_batch_size, spec.hardware.gradient_accumulation_steps = 16, 4
    assert build_plan(spec).peak_bytes() < 141 * GB


def test_counts_match_the_real_sayo_mini_modules():
    spec = load_spec(JOBS / "sayo-mini.yaml")
    spec.model.text.vocab_size, spec.model.text.tie_word_embeddings = 500, False
    model = mini_model(spec)
    counts = count_params(spec)
    assert counts["vision"] == sum(p.numel() for p in model.visual.parameters())
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    spec.model.lora.enabled = True
    r = spec.model.lora.r
    # peft 'all-linear' skips lm_head; HF builds patch_embed as a Conv3d (not targeted), the mini as a Linear.
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear) and n not in ("lm_head", "visual.patch_embed")]
    assert count_lora(spec) == sum(r * (m.in_features + m.out_features) for _, m in linears)


def test_mini_plan_runs_here_on_cpu():
    plan = build_plan(load_spec(JOBS / "sayo-mini.yaml"))
    text = format_plan(plan)
    assert [s.name for s in plan.stages] == load_spec(JOBS / "sayo-mini.yaml").run.stages
    assert all(s.where == "here" for s in plan.stages)
    assert "python3 -m sayo_train run " in text and "sayo-mini.yaml --stages sft" in text
    assert text.count("all in order: $ /usr/bin/python3 -m sayo_train run ") == 1
    assert "memory per process (CPU RAM" in text and plan.capacity_gb is None


def test_plan_warns_when_run_outputs_land_next_to_the_specs(tmp_path):
    spec = load_spec(JOBS / "sayo-qwen3-vl-8b.yaml")
    assert not [w for w in build_plan(spec).warnings if "next to the spec files" in w]
    spec.run.output_dir = spec.path.parent / "runs" / "x"
    assert [w for w in build_plan(spec).warnings if w.startswith("run.output_dir resolves to") and "../runs/" in w]


def test_cli_dry_run_prints_the_plan_and_refuses_a_bad_spec(tmp_path):
    cwd = JOBS.parent
    ok = subprocess.run([sys.executable, "-m", "sayo_train", "run", "jobs/sayo-qwen3-vl-8b.yaml", "--dry-run"],
                        cwd=cwd, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("plan: sayo-qwen3-vl-8b") and "peak ≈ static + largest phase" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text((JOBS / "sayo-qwen3-vl-8b.yaml").read_text().replace("  group_size: 16", "  group_sise: 16"))
    run = subprocess.run([sys.executable, "-m", "sayo_train", "run", str(bad), "--dry-run"],
                         cwd=cwd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [f"{bad}: grpo.group_sise: unknown key", f"{bad}: grpo.group_size: missing required key"]
