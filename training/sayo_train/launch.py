"""One entry point for every spec on several processes: `python -m sayo_train launch <spec>` runs
`accelerate launch … -m sayo_train run <spec>`.

- No `hardware:` section (this machine): `--num-processes N` CPU processes; N > 1 goes through accelerate's multi-process
  launcher (torchrun), which on a machine without GPUs uses the gloo backend.
- With `hardware:` (a GPU host): `hardware.gpus` processes, mixed precision from `hardware.precision`, and DeepSpeed
  with a ZeRO config derived from the spec (stage `hardware.zero_stage`; batch sizes, accumulation and clipping left
  to "auto", which transformers fills from the GRPOConfig the spec produces).
`--dry-run` prints the exact command and the DeepSpeed config, and writes nothing.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

TRAINING = Path(__file__).resolve().parent.parent


def deepspeed_config(spec) -> dict | None:
    h = spec.hardware
    if h is None or h.zero_stage is None:
        return None
    return {
        "zero_optimization": {"stage": h.zero_stage, "overlap_comm": True, "contiguous_gradients": True},
        "bf16": {"enabled": h.precision == "bf16"},
        "fp16": {"enabled": h.precision == "fp16"},
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
    }


def launch_command(
    spec, *, num_processes: int = 1, stages: str | None = None, ds_path: Path | None = None
) -> list[str]:
    h = spec.hardware
    accel = str(Path(sys.executable).with_name("accelerate"))
    cmd = [accel, "launch", "--num_machines", "1", "--dynamo_backend", "no"]
    if h is None:
        cmd += ["--num_processes", str(num_processes), "--mixed_precision", "no"]
        cmd += ["--multi_gpu"] if num_processes > 1 else ["--cpu"]
    else:
        precision = "no" if h.precision == "fp32" else h.precision
        cmd += ["--num_processes", str(h.gpus), "--mixed_precision", precision]
        if h.zero_stage is not None:
            cmd += ["--use_deepspeed", "--deepspeed_config_file", str(ds_path)]
        elif h.gpus > 1:
            cmd += ["--multi_gpu"]
    cmd += ["-m", "sayo_train", "run", str(spec.path)]
    if stages:
        cmd += ["--stages", stages]
    return cmd


def plan(spec, *, num_processes: int = 1, stages: str | None = None) -> tuple[list[str], dict | None, Path]:
    ds = deepspeed_config(spec)
    ds_path = Path(spec.run.output_dir) / "accelerate" / "deepspeed.json"
    return launch_command(spec, num_processes=num_processes, stages=stages, ds_path=ds_path), ds, ds_path


def launch(spec, *, num_processes: int = 1, stages: str | None = None, dry_run: bool = False) -> int:
    cmd, ds, ds_path = plan(spec, num_processes=num_processes, stages=stages)
    env = {"PYTHONPATH": str(TRAINING)}
    if dry_run:
        print("launch command (run from training/):")
        print("  " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " " + shlex.join(cmd))
        if ds is not None:
            print(f"DeepSpeed config ({ds_path}):")
            print(json.dumps(ds, indent=2))
        return 0
    if ds is not None:
        ds_path.parent.mkdir(parents=True, exist_ok=True)
        ds_path.write_text(json.dumps(ds, indent=2) + "\n")
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(TRAINING)] + ([full_env["PYTHONPATH"]] if full_env.get("PYTHONPATH") else [])
    )
    return subprocess.call(cmd, cwd=TRAINING, env=full_env)
