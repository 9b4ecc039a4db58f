"""tools/gpu_check.py, the check a GPU host runs (GRPO with LoRA, DeepStack and the attention reward on a tiny
Qwen3-VL, with peak memory and s/step), runs here on the CPU through the same path, so it cannot rot."""

import json
import os
import subprocess
import sys
from pathlib import Path

TRAINING = Path(__file__).resolve().parents[1]


def test_gpu_check_runs_the_grpo_smoke_and_reports_peak_memory_and_step_time():
    r = subprocess.run(
        [
            sys.executable,
            str(TRAINING / "tools" / "gpu_check.py"),
            "--steps",
            "2",
            "--group",
            "2",
            "--response-tokens",
            "8",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["problems"] == []
    assert out["steps"] == 2 and len(out["step_seconds"]) == 2 and out["s_per_step"] > 0
    assert out["lora_modules"] > 0 and out["deepstack_calls"] >= 2 * 2
    assert len(out["attention_reward"]) == 2
    # no GPU here: the peak is the process's resident set (a tiny model: well under 4 GB, above the torch import)
    assert out["device"] == "cpu" and out["peak_kind"] == "peak RSS" and 100e6 < out["peak_bytes"] < 4e9
