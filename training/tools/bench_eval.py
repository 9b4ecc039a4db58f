"""Speed and memory of `python -m sayo_train eval` (docs/benchmarks.md, "Evaluation"; JSON in docs/bench/).

    OMP_NUM_THREADS=1 PYTHONPATH=training .venv/bin/python training/tools/bench_eval.py speed --out docs/bench/eval-py.json
    OMP_NUM_THREADS=1 PYTHONPATH=training .venv/bin/python training/tools/bench_eval.py memory --out docs/bench/eval-py.json

speed: the SAYO-mini pair's shapes (jobs/sayo-mini.yaml's model section, random weights: the shipped pair exists
here only as ONNX folders, its Hugging Face checkpoints are not kept) over the first --n questions of the shipped
held-out set (data/heldout/set.jsonl), base + trained with tf_* figures, 1 process and then 2 accelerate processes.
memory: one tiny random-weight Qwen3-VL (hf_export.tiny) over a 2,000-question synthetic set from data.generate, one
process, RSS and peak RSS sampled every 100 rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

TRAINING = Path(__file__).resolve().parent.parent
REPO = TRAINING.parent


def sh(cmd, **kw):
    t = time.perf_counter()
    r = subprocess.run(
        cmd,
        cwd=TRAINING,
        env=dict(os.environ, PYTHONPATH=str(TRAINING), OMP_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        **kw,
    )
    if r.returncode:
        sys.exit(r.stderr[-3000:])
    return time.perf_counter() - t


def eval_cmd(procs: int, models, data, out, extra=()):
    base = (
        [sys.executable, "-m", "sayo_train", "eval"]
        if procs == 1
        else [
            str(Path(sys.executable).with_name("accelerate")),
            "launch",
            "--num_machines",
            "1",
            "--num_processes",
            str(procs),
            "--multi_gpu",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "sayo_train",
            "eval",
        ]
    )
    return (
        base
        + [a for m in models for a in ("--model", str(m))]
        + ["--data", str(data), "--out", str(out), "--threads", "1", *extra]
    )


def speed(a, work: Path) -> dict:
    from sayo_train import hf_model
    from sayo_train.common import build_tokenizer
    from sayo_train.spec import load_spec

    spec = load_spec(TRAINING / "jobs" / "sayo-mini.yaml")
    if not (work / "trained" / "config.json").exists():
        build_tokenizer().save(work / "tok")
        proc = hf_model.build_processor(spec.model, work / "tok")
        for name, seed in (("base", 1), ("trained", 2)):
            hf_model.save(hf_model.new_model(spec.model, proc, seed).eval(), proc, work / name)
    lines = (REPO / "data" / "heldout" / "set.jsonl").read_text().splitlines()[: a.n]
    data = REPO / "data" / "heldout" / f".bench-{a.n}.jsonl"
    data.write_text("\n".join(lines) + "\n")
    res = {}
    try:
        for procs in (1, 2):
            out = work / f"speed-{procs}"
            shutil.rmtree(out, ignore_errors=True)  # a previous run's rows would be resumed, not measured
            wall = sh(eval_cmd(procs, [work / "base", work / "trained"], data, out, ("--batch-size", str(a.batch))))
            r = json.loads((out / "results.json").read_text())
            rows = len(r["rows"])
            res[f"{procs}"] = {
                "processes": procs,
                "questions": r["samples"],
                "rows": rows,
                "seconds_in_run": round(r["seconds"], 1),
                "seconds_wall": round(wall, 1),
                "rows_per_second": round(rows / r["seconds"], 2),
                "questions_per_second": round(r["samples"] / r["seconds"], 2),
                "rows_per_second_wall": round(rows / wall, 2),
                "mean_tokens": [round(m["meanTokens"], 1) for m in r["models"]],
            }
            print(json.dumps(res[f"{procs}"]), flush=True)
    finally:
        data.unlink(missing_ok=True)
    n_params = sum(p.numel() for p in hf_model.load(work / "base")[0].parameters())
    return {
        "model": "SAYO-mini shapes (jobs/sayo-mini.yaml model section), random weights, float32, base + trained",
        "parameters_per_model": n_params,
        "data": f"first {a.n} of data/heldout/set.jsonl",
        "max_new_tokens": 24,
        "batch_size": a.batch,
        "tf": True,
        "runs": res,
    }


def memory(a, work: Path) -> dict:
    from sayo_train.data import generate
    from sayo_train.hf_export.tiny import build_tiny

    if not (work / "tiny" / "config.json").exists():
        build_tiny("qwen3_vl", work / "tiny", 1, deepstack=[0, 1])
    data = work / "mem" / "set.jsonl"
    if not data.exists():
        generate(data.parent, a.n, 11, 64, 160, name="set.jsonl", with_completion=False, snap=32)
    out = work / "mem-out"
    shutil.rmtree(out, ignore_errors=True)
    log = work / "mem-rss"
    wall = sh(eval_cmd(1, [work / "tiny"], data, out, ("--batch-size", "10", "--rss-log", str(log))))
    samples = json.loads(Path(f"{log}.0").read_text())
    r = json.loads((out / "results.json").read_text())
    first = [s for s in samples if s["rows"] >= 200][0]
    return {
        "model": "tiny Qwen3-VL (hf_export.tiny, DeepStack [0, 1]; random weights)",
        "questions": r["samples"],
        "data": f"data.generate(n={a.n}, seed=11, sides 64-160 snapped to 32 px)",
        "batch_size": 10,
        "max_new_tokens": 24,
        "seconds_in_run": round(r["seconds"], 1),
        "seconds_wall": round(wall, 1),
        "rows_per_second": round(len(r["rows"]) / r["seconds"], 2),
        "rss_samples": [{k: (round(v, 1) if isinstance(v, float) else v) for k, v in s.items()} for s in samples],
        "rss_growth_mb_from_row_200": round(samples[-1]["rss_mb"] - first["rss_mb"], 1),
        "peak_rss_growth_mb_from_row_200": round(samples[-1]["peak_rss_mb"] - first["peak_rss_mb"], 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("speed", "memory"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default=str(TRAINING / "runs" / "bench-eval"))
    ap.add_argument("--n", type=int)
    ap.add_argument("--batch", type=int, default=8)
    a = ap.parse_args()
    a.n = a.n or (48 if a.what == "speed" else 2000)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    res = speed(a, work) if a.what == "speed" else memory(a, work)
    res["load_average_1min"] = {"before": round(load_before[0], 1), "after": round(os.getloadavg()[0], 1)}
    out = Path(a.out)
    doc = json.loads(out.read_text()) if out.exists() else {}
    doc[a.what] = {
        **res,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs), "
        f"OMP_NUM_THREADS=1, torch threads 1 per process",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc[a.what], indent=2)[:3000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
