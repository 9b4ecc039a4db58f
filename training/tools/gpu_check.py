"""GPU check: a short GRPO run of the real trainer path (sayo_train.train_grpo: TRL's GRPOTrainer, peft LoRA on every
linear, the attention reward from the policy's own last layer, micro-batched) on a tiny Qwen3-VL with DeepStack
(jobs/smoke.yaml's shapes, random weights), and what it cost: peak memory and seconds per optimizer step.

On a machine with one NVIDIA GPU and this repository's venv (training/requirements-gpu.txt):
    cd training && ../.venv/bin/python tools/gpu_check.py
prints peak GPU memory (torch.cuda.max_memory_allocated) and s/step. Without a GPU it runs the same path on the CPU
and prints the process's peak resident memory instead. It fails (exit 1) when a part did not run: no LoRA adapters
in the policy, a DeepStack merger never called, no attention reward logged, or a reward that is not finite.
`--json` prints the figures as one JSON line (what tests/test_gpu_check.py reads)."""

from __future__ import annotations

import argparse
import json
import math
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

TRAINING = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAINING))


def _peak_rss() -> int:
    status = Path("/proc/self/status")
    if status.exists():
        m = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
        if m:
            return int(m.group(1)) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=3, help="optimizer steps (the first one includes warm-up)")
    ap.add_argument("--prompts", type=int, default=2, help="prompts per step")
    ap.add_argument("--group", type=int, default=4, help="rollouts per prompt")
    ap.add_argument("--micro-batch", type=int, default=2, help="grpo.reward_micro_batch")
    ap.add_argument("--response-tokens", type=int, default=16, help="max completion tokens")
    ap.add_argument(
        "--attn", default="sdpa", help="attention implementation of every layer (sdpa, eager, flash_attention_2)"
    )
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    a = ap.parse_args(argv)

    import torch
    from sayo_train import hf_model
    from sayo_train.common import build_tokenizer
    from sayo_train.data import generate
    from sayo_train.hf_data import grpo_dataset
    from sayo_train.pipeline import lora_config
    from sayo_train.spec import Hardware, load_spec
    from sayo_train.train_grpo import train_grpo
    from transformers import TrainerCallback

    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name(0) if cuda else "cpu"
    spec = load_spec(TRAINING / "jobs" / "smoke.yaml")
    lo = spec.model.lora
    lo.enabled, lo.r, lo.alpha, lo.target_modules = True, 8, 16, "all-linear"
    g = spec.grpo
    g.steps, g.prompts_per_step, g.group_size, g.reward_micro_batch = a.steps, a.prompts, a.group, a.micro_batch
    g.save_every = None
    spec.data.max_response_tokens = a.response_tokens
    spec.hardware = Hardware(
        gpus=1,
        gpu=device,
        gpu_memory_gb=0,
        per_device_batch_size=a.prompts * a.group,
        gradient_accumulation_steps=1,
        precision="bf16",
        gradient_checkpointing=True,
        attn_implementation=a.attn,
    )
    n_deepstack = len(spec.model.vision.deepstack_visual_indexes)

    class Probe(TrainerCallback):
        """Step times, and proof that LoRA and DeepStack are in the policy being trained."""

        def __init__(self):
            self.times, self.deepstack_calls, self.lora_modules, self.t0 = [], 0, 0, None

        def on_train_begin(self, args, state, control, model=None, **kw):
            self.lora_modules = sum(1 for n, _ in model.named_modules() if n.endswith("lora_A"))
            for name, mod in model.named_modules():
                if name.endswith("deepstack_merger_list"):
                    for m in mod:
                        m.register_forward_hook(lambda *_: setattr(self, "deepstack_calls", self.deepstack_calls + 1))

        def on_step_begin(self, *a_, **kw):
            if cuda:
                torch.cuda.synchronize()
            self.t0 = time.perf_counter()

        def on_step_end(self, *a_, **kw):
            if cuda:
                torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self.t0)

    with tempfile.TemporaryDirectory(prefix="sayo-gpu-check-") as tmp:
        tmp = Path(tmp)
        build_tokenizer().save(tmp / "tok")
        proc = hf_model.build_processor(spec.model, tmp / "tok")
        hf_model.save(hf_model.new_model(spec.model, proc, spec.run.seed), proc, tmp / "base")
        gen = spec.data.generator
        train = generate(
            tmp / "data", a.prompts * a.steps, spec.run.seed, gen.min_side, gen.max_side, with_completion=False
        )
        ds = grpo_dataset(train, spec.data.system_prompt)
        probe = Probe()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        res = train_grpo(
            tmp / "base",
            proc,
            ds,
            spec,
            output_dir=tmp / "trainer",
            peft_config=lora_config(spec),
            log=lambda *_: None,
            callbacks=[probe],
        )
    peak = torch.cuda.max_memory_allocated() if cuda else _peak_rss()
    attn = [h.get("rewards/attention_region/mean") for h in res["history"]]
    steady = probe.times[1:] or probe.times
    out = {
        "device": device,
        "peak_bytes": peak,
        "peak_kind": "cuda max_memory_allocated" if cuda else "peak RSS",
        "steps": res["steps"],
        "s_per_step": statistics.median(steady),
        "step_seconds": probe.times,
        "lora_modules": probe.lora_modules,
        "deepstack_calls": probe.deepstack_calls,
        "attention_reward": attn,
        "attn_implementation": a.attn,
        "reward_micro_batch": a.micro_batch,
    }
    problems = []
    if out["steps"] != a.steps:
        problems.append(f"{out['steps']} optimizer steps, expected {a.steps}")
    if probe.lora_modules == 0:
        problems.append("no LoRA adapters in the policy")
    if probe.deepstack_calls < n_deepstack * a.steps:
        problems.append(f"DeepStack mergers ran {probe.deepstack_calls} times over {a.steps} steps")
    if len(attn) != a.steps or not all(x is not None and math.isfinite(x) for x in attn):
        problems.append(f"attention reward per step: {attn}")
    out["problems"] = problems
    if a.json:
        print(json.dumps(out))
    else:
        print(
            f"device: {device} ({a.attn}, LoRA r {lo.r} on {probe.lora_modules} linears, DeepStack "
            f"{n_deepstack} mergers, reward micro-batch {a.micro_batch})"
        )
        print(f"{out['peak_kind']}: {peak / 2**20:.1f} MiB")
        print(
            f"s/step: {out['s_per_step']:.3f} (median of steps 2..{len(probe.times)}; all: "
            + ", ".join(f"{t:.3f}" for t in probe.times)
            + ")"
        )
        print("attention reward per step: " + ", ".join(f"{x:+.4f}" for x in attn if x is not None))
        for p in problems:
            print(f"FAILED: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
