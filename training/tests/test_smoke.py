"""Pipeline smoke: jobs/smoke.yaml (a tiny Qwen3-VL with DeepStack, a few steps of data, SFT on transformers' Trainer, GRPO on
TRL's GRPOTrainer with the attention reward plug-in, ONNX export with its check, report) run by `python -m sayo_train launch --num-processes 2`
(accelerate, two CPU processes, gloo) in a temporary directory. It never touches the shipped models, METRICS.md, data
or fixtures."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

TRAINING = Path(__file__).resolve().parents[1]
REPO = TRAINING.parent


def _tree_digest(paths):
    h = hashlib.sha256()
    for root in paths:
        for p in sorted(Path(root).rglob("*")) if Path(root).is_dir() else [Path(root)]:
            if p.is_file():
                h.update(str(p).encode())
                h.update(p.read_bytes())
    return h.hexdigest()


def test_pipeline_smoke_on_two_accelerate_processes(tmp_path):
    shipped = [REPO / "models", REPO / "fixtures", REPO / "data" / "heldout", REPO / "training" / "results"]
    shipped = [p for p in shipped if p.exists()]
    before = _tree_digest(shipped)
    spec = tmp_path / "smoke.yaml"
    shutil.copy(TRAINING / "jobs" / "smoke.yaml", spec)
    t = time.time()
    r = subprocess.run(
        [sys.executable, "-m", "sayo_train", "launch", str(spec), "--num-processes", "2"],
        cwd=TRAINING,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=str(TRAINING)),
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert time.time() - t < 600
    assert "processes 2, out" in r.stdout and "Gloo" in r.stdout + r.stderr  # two processes, gloo backend
    for name in ("base", "policy"):
        d = tmp_path / "run" / name
        cfg = json.loads((d / "config.json").read_text())
        assert cfg["model_type"] == "qwen3_vl" and (d / "model.safetensors").exists()
        assert cfg["architectures"] == ["Qwen3VLForConditionalGeneration"]
        assert cfg["vision_config"]["deepstack_visual_indexes"] == [0, 1]
        assert (d / "tokenizer.json").exists() and (d / "preprocessor_config.json").exists()
        assert json.loads((d / "preprocessor_config.json").read_text())["processor_class"] == "Qwen3VLProcessor"
    for name in ("sayo-mini-base", "sayo-mini"):  # exported by sayo_train.hf_export, checked against transformers
        d = tmp_path / "models" / name
        assert (d / "onnx" / "decoder_model_merged.onnx").exists() and (d / "onnx" / "vision_encoder.onnx").exists()
        assert json.loads((d / "config.json").read_text())["model_type"] == "qwen3_vl"
        check = json.loads((tmp_path / "run" / f"export-{name}.json").read_text())["check"]["fp32"]
        assert check["tokens_equal"] and check["logits"] < 1e-4 and check["attention"] < 1e-4
    assert r.stdout.count("check ok") == 2
    grpo = json.loads((tmp_path / "run" / "policy" / "grpo.json").read_text())
    assert grpo["steps"] == 2
    for h in grpo["history"]:  # TRL logged every reward function, the attention one measured (not a constant)
        assert {"rewards/attention_region/mean", "rewards/format/mean", "rewards/accuracy/mean"} <= set(h)
        assert h["rewards/attention_region/std"] > 0
    res = json.loads((tmp_path / "run" / "result.json").read_text())
    assert set(res["checkpoints"]) == {"base", "trained"}
    assert set(res["paired"]["r_v"]) == {"mean", "se", "n"} and res["paired"]["r_v"]["n"] == 4
    assert "| checkpoint |" in (tmp_path / "METRICS.md").read_text()
    assert _tree_digest(shipped) == before


def test_bad_spec_fails_before_work(tmp_path):
    spec = tmp_path / "bad.yaml"
    text = (TRAINING / "jobs" / "smoke.yaml").read_text().replace("  seed: 7\n", "  seed: 7\n  sede: 8\n")
    spec.write_text(text)
    r = subprocess.run(
        [sys.executable, "-m", "sayo_train", "run", str(spec)],
        cwd=TRAINING,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(TRAINING)),
    )
    assert r.returncode == 2
    assert "run.sede: unknown key" in r.stderr
    assert not (tmp_path / "run").exists()


def test_corrupt_dataset_line_fails_with_file_and_line(tmp_path):
    spec = tmp_path / "s.yaml"
    text = (
        (TRAINING / "jobs" / "smoke.yaml")
        .read_text()
        .replace("stages: [data, sft, grpo, export, report]", "stages: [sft]")
    )
    spec.write_text(text)
    (tmp_path / "run" / "data").mkdir(parents=True)
    (tmp_path / "run" / "data" / "train.jsonl").write_text('{"image": "a.png"}\n')
    r = subprocess.run(
        [sys.executable, "-m", "sayo_train", "run", str(spec)],
        cwd=TRAINING,
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ, PYTHONPATH=str(TRAINING)),
    )
    assert r.returncode != 0
    assert "train.jsonl:1: missing field 'question'" in r.stderr
