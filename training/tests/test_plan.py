"""Dry-run plans: stages and commands in order, data sizes, and a memory estimate whose parameter counts match real
torch modules (SAYO-mini) and the published size of Qwen3-VL-8B."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch.nn as nn
from sayo_train.common import build_tokenizer
from sayo_train.hf_model import MODEL_CLASSES, build_processor, qwen_config
from sayo_train.launch import deepspeed_config
from sayo_train.launch import plan as launch_plan
from sayo_train.plan import GB, build_plan, count_lora, count_params, format_plan
from sayo_train.spec import load_spec

JOBS = Path(__file__).resolve().parent.parent / "jobs"


def mini_model(spec, tmp_path):
    build_tokenizer().save(tmp_path)
    proc = build_processor(spec.model, tmp_path)
    spec.model.text.vocab_size = len(proc.tokenizer)
    return MODEL_CLASSES[spec.model.family](qwen_config(spec.model, proc))


def test_8b_dry_run_prints_stages_commands_data_and_memory():
    plan = build_plan(load_spec(JOBS / "sayo-qwen3-vl-8b.yaml"))
    text = format_plan(plan)
    assert [s.name for s in plan.stages] == ["data", "grpo", "export", "report"]
    assert all(s.where == "GPU host" for s in plan.stages)
    assert "python -m sayo_train launch jobs/sayo-qwen3-vl-8b.yaml --stages grpo" in text
    assert "accelerate launch --num_processes 6 --mixed_precision bf16 --use_deepspeed (ZeRO-1)" in text
    assert "decoder_attentions of layers: last" in text
    assert "hub:ReFocus/ReFocus_Data" in text and "~16000 records" in text
    assert "GRPO steps: 2475 = 3 epochs x ceil(19800 / 24); 24 prompts x 16 rollouts per step" in text
    assert "64-1024 image tokens of 32x32 px" in text
    for line in (
        "weights",
        "LoRA adapters",
        "AdamW state",
        "KV cache",
        "reward: one decoder layer",
        "checkpointed layer inputs",
        "ViT activations",
        "completion logits",
    ):
        assert line in text
    assert "memory per GPU (H200, 6 in all)" in text and "of 141 GB: fits" in text
    assert 40 * GB < plan.peak_bytes() < 141 * GB


def test_8b_parameter_counts():
    counts = count_params(load_spec(JOBS / "sayo-qwen3-vl-8b.yaml"))
    assert 8.70e9 < counts["total"] < 8.85e9  # model card: 8.77 B
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


def test_counts_match_the_real_sayo_mini_modules(tmp_path):
    spec = load_spec(JOBS / "sayo-mini.yaml")
    spec.model.text.tie_word_embeddings = False
    model = mini_model(spec, tmp_path)
    counts = count_params(spec)
    assert counts["vision"] == sum(p.numel() for p in model.model.visual.parameters())
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    spec.model.lora.enabled = True
    r = spec.model.lora.r
    # peft 'all-linear' skips lm_head; patch_embed is a Conv3d (not targeted).
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear) and n != "lm_head"]
    assert count_lora(spec) == sum(r * (m.in_features + m.out_features) for _, m in linears)


def test_mini_plan_runs_here_on_cpu():
    plan = build_plan(load_spec(JOBS / "sayo-mini.yaml"))
    text = format_plan(plan)
    assert [s.name for s in plan.stages] == load_spec(JOBS / "sayo-mini.yaml").run.stages
    assert all(s.where == "here" for s in plan.stages)
    assert "python -m sayo_train run " in text and "sayo-mini.yaml --stages sft" in text
    assert text.count("all in order: $ python -m sayo_train run ") == 1
    assert "memory per process (CPU RAM" in text and plan.capacity_gb is None


def test_plan_warns_when_run_outputs_land_next_to_the_specs(tmp_path):
    spec = load_spec(JOBS / "sayo-qwen3-vl-8b.yaml")
    assert not [w for w in build_plan(spec).warnings if "next to the spec files" in w]
    spec.run.output_dir = spec.path.parent / "runs" / "x"
    assert [w for w in build_plan(spec).warnings if w.startswith("run.output_dir resolves to") and "../runs/" in w]


def test_cli_dry_run_prints_the_plan_and_refuses_a_bad_spec(tmp_path):
    cwd = JOBS.parent
    ok = subprocess.run(
        [sys.executable, "-m", "sayo_train", "run", "jobs/sayo-qwen3-vl-8b.yaml", "--dry-run"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("plan: sayo-qwen3-vl-8b") and "peak ≈ static + largest phase" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text((JOBS / "sayo-qwen3-vl-8b.yaml").read_text().replace("  group_size: 16", "  group_sise: 16"))
    run = subprocess.run(
        [sys.executable, "-m", "sayo_train", "run", str(bad), "--dry-run"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [
        f"{bad}: grpo.group_sise: unknown key",
        f"{bad}: grpo.group_size: missing required key",
    ]


def test_8b_launch_dry_run_prints_the_accelerate_command_and_a_zero_config_from_the_spec():
    spec = load_spec(JOBS / "sayo-qwen3-vl-8b.yaml")
    cmd, ds, ds_path = launch_plan(spec, stages="grpo")
    assert cmd[1:] == [
        "launch",
        "--num_machines",
        "1",
        "--dynamo_backend",
        "no",
        "--num_processes",
        "6",
        "--mixed_precision",
        "bf16",
        "--use_deepspeed",
        "--deepspeed_config_file",
        str(ds_path),
        "-m",
        "sayo_train",
        "run",
        str(spec.path),
        "--stages",
        "grpo",
    ]
    assert ds == deepspeed_config(spec) and ds["zero_optimization"]["stage"] == 1 and ds["bf16"]["enabled"] is True
    assert ds["train_micro_batch_size_per_gpu"] == "auto"
    r = subprocess.run(
        [sys.executable, "-m", "sayo_train", "launch", "jobs/sayo-qwen3-vl-8b.yaml", "--dry-run"],
        cwd=JOBS.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert (
        "accelerate launch --num_machines 1 --dynamo_backend no --num_processes 6 --mixed_precision bf16 "
        "--use_deepspeed --deepspeed_config_file" in r.stdout
    )
    assert '"stage": 1' in r.stdout and not ds_path.exists()


def test_cpu_launch_uses_the_multi_process_launcher_only_above_one_process():
    spec = load_spec(JOBS / "smoke.yaml")
    two, ds, _ = launch_plan(spec, num_processes=2)
    one, _, _ = launch_plan(spec, num_processes=1)
    assert (
        ds is None
        and "--multi_gpu" in two
        and "--num_processes" in two
        and two[two.index("--num_processes") + 1] == "2"
    )
    assert "--cpu" in one and "--multi_gpu" not in one


def test_8b_dry_run_hardware_report_checks_by_independent_arithmetic():
    """`run <8b spec> --dry-run --hardware H100x8,per_device_batch_size=16`: every figure a reader needs (weights,
    LoRA, optimizer, rollouts, reward pass) is printed with its arithmetic, and the numbers are recomputed here from
    the published shapes of Qwen3-VL-8B, not from the plan's code."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sayo_train",
            "run",
            str(JOBS / "sayo-qwen3-vl-8b.yaml"),
            "--dry-run",
            "--hardware",
            "H100x8,per_device_batch_size=16",
        ],
        capture_output=True,
        text=True,
        cwd=JOBS.parent,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "memory per GPU (H100, 8 in all)" in text
    assert "gradient_accumulation_steps = 384 completions / (8 GPUs x 16 per device) = 3" in text

    def shown(label):
        line = next(x for x in text.splitlines() if x.strip().startswith(label))
        num, unit = line[len(line) - len(line.lstrip()) + len(label) :].split()[:2]
        return float(num) * (1e9 if unit == "GB" else 1e6), (0.005e9 if unit == "GB" else 0.05e6)

    def close(label, expected):
        got, half_digit = shown(label)  # printed as x.xx GB or x.x MB: equal within half the last digit
        assert abs(got - expected) <= half_digit * 1.001, (label, got, expected)

    n_img = 1048576 // 32**2  # max_pixels / (32 px cells)² = 1024 image tokens
    seq = n_img + 128 + 110  # + assumed text prompt + max completion = 1262
    r = 16
    lora = (
        36 * r * ((4096 + 32 * 128) + 2 * (4096 + 8 * 128) + (32 * 128 + 4096) + 2 * (4096 + 12288) + (12288 + 4096))
    )  # text decoder linears
    lora += 27 * r * ((1152 + 3 * 1152) + (1152 + 1152) + (1152 + 4304) + (4304 + 1152))  # ViT blocks
    lora += 4 * r * ((4608 + 4608) + (4608 + 4096))  # merger + 3 DeepStack
    close("weights", 8.767e9 * 2)
    close("LoRA adapters", lora * 4)
    close("gradients", lora * 4)
    close("AdamW state", lora * 8 / 8)
    close("KV cache", 48 * seq * 36 * 2 * 8 * 128 * 2)  # 16 x 3 completions generated per device
    close("reward: one decoder layer", 8 * seq * (8 * 4096 + 4 * 12288) * 2)  # reward_micro_batch 8
    close("reward: entropy chunk", 110 * 151936 * 4 * 4)
    close("reward: last hidden states", 8 * seq * 4096 * 2)
    assert "8 seq x 1262 tok x (8h + 4i = 81920) x 2 B" in text
    phase = {}
    for line in text.splitlines():
        if line.startswith("  phase ") or line.startswith("  held for"):
            name, val = line.strip().rsplit(": ", 1)
            num, unit = val.split()
            phase[name] = float(num) * (1e9 if unit == "GB" else 1e6)
    peak = phase["held for the whole run"] + max(v for k, v in phase.items() if k.startswith("phase"))
    assert abs(shown("peak ≈ static + largest phase =")[0] - peak) < 0.02e9
    # the reward pass's full-batch, full-logit version would need 64 x 1262 x 151936 x 2 B of logits alone
    assert phase["phase reward pass"] < 0.15 * (64 * seq * 151936 * 2)
