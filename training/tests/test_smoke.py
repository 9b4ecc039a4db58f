"""Pipeline smoke: jobs/smoke.yaml (tiny config, a few steps of every stage, export with its check) in a temporary
directory. It never touches the shipped models, METRICS.md, data or fixtures."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


@pytest.mark.skipif(shutil.which("node") is None, reason="node needed for the export check")
def test_pipeline_smoke(tmp_path):
    shipped = [REPO / "models", REPO / "fixtures", REPO / "data" / "heldout", REPO / "training" / "results"]
    shipped = [p for p in shipped if p.exists()]
    before = _tree_digest(shipped)
    spec = tmp_path / "smoke.yaml"
    shutil.copy(TRAINING / "jobs" / "smoke.yaml", spec)
    t = time.time()
    r = subprocess.run([sys.executable, "-m", "sayo_train", "run", str(spec)], cwd=TRAINING, capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(TRAINING)))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert time.time() - t < 300
    for name in ("sayo-mini-base", "sayo-mini"):
        d = tmp_path / "models" / name
        assert (d / "onnx" / "decoder_model_merged.onnx").exists() and (d / "TRAINING.md").exists()
        assert "accuracy" in (d / "TRAINING.md").read_text()
    assert (tmp_path / "models" / "decoder-noattn.onnx").exists()
    res = json.loads((tmp_path / "run" / "result.json").read_text())
    assert set(res["checkpoints"]) == {"base", "trained"}
    assert "| checkpoint |" in (tmp_path / "METRICS.md").read_text()
    assert "check ok" in r.stdout
    assert _tree_digest(shipped) == before


def test_bad_spec_fails_before_work(tmp_path):
    spec = tmp_path / "bad.yaml"
    text = (TRAINING / "jobs" / "smoke.yaml").read_text().replace("  seed: 7\n", "  seed: 7\n  sede: 8\n")
    spec.write_text(text)
    r = subprocess.run([sys.executable, "-m", "sayo_train", "run", str(spec)], cwd=TRAINING, capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(TRAINING)))
    assert r.returncode == 2
    assert "run.sede: unknown key" in r.stderr
    assert not (tmp_path / "run").exists()


def test_corrupt_dataset_line_fails_with_file_and_line(tmp_path):
    spec = tmp_path / "s.yaml"
    text = (TRAINING / "jobs" / "smoke.yaml").read_text().replace("stages: [data, sft, grpo, export, report]",
                                                                 "stages: [sft]")
    spec.write_text(text)
    (tmp_path / "run" / "data").mkdir(parents=True)
    (tmp_path / "run" / "data" / "train.jsonl").write_text('{"image": "a.png"}\n')
    r = subprocess.run([sys.executable, "-m", "sayo_train", "run", str(spec)], cwd=TRAINING, capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(TRAINING)))
    assert r.returncode != 0
    assert "train.jsonl:1: missing field 'question'" in r.stderr
