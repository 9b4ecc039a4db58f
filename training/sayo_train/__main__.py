"""python -m sayo_train run <spec.yaml> [--dry-run] [--stages data,sft,...]  |  launch <spec.yaml> [--num-processes N]
[--dry-run]  |  fixtures  |  metrics  |  export <hf_folder> --out <dir>  |  ladder [--rungs ...]  |
eval --model <hf_folder> [--model …] --data <set.jsonl> --out <dir> (hf_eval.py; under accelerate launch too)"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["eval"]:
        from .hf_eval import main as eval_main

        return eval_main(argv[1:])
    if argv[:1] == ["ladder"]:
        from .ladder import main as ladder_main

        return ladder_main(argv[1:])
    ap = argparse.ArgumentParser(prog="sayo_train", description="SAYO Lens training pipeline")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the stages of a job spec")
    r.add_argument("spec")
    r.add_argument("--dry-run", action="store_true", help="validate the spec and print the plan; do no work")
    r.add_argument("--stages", help="comma-separated subset of the spec's stages (data,sft,grpo,export,report)")
    r.add_argument(
        "--hardware",
        help="with --dry-run: plan for other GPUs, NAME[xN] (H200, H100, A100-80GB, "
        "A100-40GB, L40S, A6000, RTX4090) and/or key=value of the hardware section or reward_micro_batch, "
        "comma-separated, e.g. H100x8,per_device_batch_size=16",
    )
    la = sub.add_parser("launch", help="run a spec on several processes with accelerate (DeepSpeed on GPU hosts)")
    la.add_argument("spec")
    la.add_argument("--num-processes", type=int, default=1, help="CPU processes when the spec has no hardware section")
    la.add_argument("--stages", help="comma-separated subset of the spec's stages")
    la.add_argument("--dry-run", action="store_true", help="print the exact launch command and DeepSpeed config")
    f = sub.add_parser("fixtures", help="write fixtures/*.json (grid, reward, prompt cases)")
    f.add_argument("--out", default=None)
    f.add_argument("--model", default=None, help="model folder whose tokenizer builds the prompt cases")
    sub.add_parser("metrics", help="re-render models/METRICS.md from training/results/*.json (+ NOTES.md)")
    sub.add_parser("ladder", help="build the scale ladder's random-weight checkpoints (see ladder.py; --help)")
    e = sub.add_parser("export", help="a Hugging Face Qwen-VL folder (+ LoRA adapter) to the model contract")
    e.add_argument("src", help="Hugging Face checkpoint folder (Qwen2-VL, Qwen2.5-VL or Qwen3-VL)")
    e.add_argument("--out", required=True, help="output folder (models/CONTRACT.md layout)")
    e.add_argument("--adapter", help="peft LoRA folder merged into src with merge_and_unload()")
    e.add_argument(
        "--layers", default="last", help="decoder_attentions outputs: last | all | none | 0,3 (default last)"
    )
    e.add_argument("--precisions", default="fp32", help="comma-separated of fp32,fp16,q8,q4,q4f16 (default fp32)")
    e.add_argument("--opset", type=int, default=17)
    e.add_argument("--processor", help="folder with the tokenizer / preprocessor files, if not src")
    e.add_argument(
        "--external-data",
        choices=("auto", "always", "never"),
        default="auto",
        help="weights in <graph>.onnx_data: auto = above 1.8 GB (the 2 GB protobuf limit)",
    )
    e.add_argument("--check", action="store_true", help="compare the graphs in onnxruntime with HF; fail above limits")
    e.add_argument(
        "--streamed",
        action="store_true",
        help="memory bounded by one decoder layer: weights read from the safetensors files piece by piece "
        "(for checkpoints larger than memory; --check still loads the whole model)",
    )
    a = ap.parse_args(argv)

    if a.cmd == "export":
        return _export(a)

    if a.cmd == "metrics":
        from .common import REPO
        from .report import load_results, render_metrics

        out = REPO / "models" / "METRICS.md"
        out.write_text(render_metrics(load_results()))
        print(out)
        return 0

    if a.cmd == "fixtures":
        from pathlib import Path

        from . import fixtures

        kw = {}
        if a.out:
            kw["out_dir"] = Path(a.out)
        if a.model:
            kw["model_dir"] = Path(a.model)
        for p in fixtures.write_all(**kw):
            print(p)
        return 0

    from .spec import SpecError, load_spec

    try:
        spec = load_spec(a.spec)
    except SpecError as e:
        print(str(e), file=sys.stderr)
        return 2
    stages = list(spec.run.stages)
    if a.stages:
        want = [s.strip() for s in a.stages.split(",") if s.strip()]
        unknown = [s for s in want if s not in stages]
        if unknown:
            print(f"{a.spec}: --stages: {', '.join(unknown)} not in run.stages {stages}", file=sys.stderr)
            return 2
        stages = [s for s in stages if s in want]
    if a.cmd == "launch" or not a.dry_run:
        from .pins import problems

        bad = problems()
        if a.cmd == "launch" and not a.dry_run and spec.hardware is not None and spec.hardware.zero_stage is not None:
            from .pins import REQUIREMENTS

            bad += problems(REQUIREMENTS.with_name("requirements-gpu.txt"))
        if bad:
            for line in bad:
                print(f"sayo_train: {line}", file=sys.stderr)
            return 2
    if a.cmd == "launch":
        from .launch import launch

        return launch(spec, num_processes=a.num_processes, stages=a.stages, dry_run=a.dry_run)
    if getattr(a, "hardware", None) and not a.dry_run:
        print(
            f"{a.spec}: --hardware plans only: add --dry-run (a run uses the spec's hardware section)", file=sys.stderr
        )
        return 2
    if a.dry_run:
        from .plan import apply_hardware, build_plan, format_plan

        notes = []
        if a.hardware:
            try:
                notes = apply_hardware(spec, a.hardware)
            except ValueError as e:
                print(f"{a.spec}: {e}", file=sys.stderr)
                return 2
        plan = build_plan(spec)
        plan.warnings = notes + plan.warnings
        print(format_plan(plan))
        return 0
    from .converters import ConversionError
    from .data import DatasetError
    from .geometry import GeometryError
    from .hf_export import ExportError
    from .pipeline import run

    try:
        run(spec, stages)
    except (
        ConversionError,
        DatasetError,
        ExportError,
        GeometryError,
        FileNotFoundError,
        NotImplementedError,
        RuntimeError,
    ) as e:
        print(f"sayo_train: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


def _export(a) -> int:
    import json

    from .hf_export import ExportConfig, ExportError, export_checkpoint

    cfg = ExportConfig(
        layers=a.layers,
        precisions=tuple(p.strip() for p in a.precisions.split(",") if p.strip()),
        opset=a.opset,
        adapter=a.adapter,
        check=a.check,
        processor_dir=a.processor,
        external_data={"auto": None, "always": True, "never": False}[a.external_data],
        streamed=a.streamed,
    )
    try:
        rep = export_checkpoint(a.src, a.out, cfg)
    except ExportError as err:
        print(f"sayo_train export: {err}", file=sys.stderr)
        return 1
    except (OSError, ValueError, RuntimeError, MemoryError, RecursionError) as err:
        # Whatever the checks above did not foresee still ends in one line (the output folder is untouched: the
        # export is staged); SAYO_DEBUG=1 re-raises for the traceback.
        if os.environ.get("SAYO_DEBUG") == "1":
            raise
        first = (str(err).strip().splitlines() or [""])[0][:300]
        print(f"sayo_train export: failed: {type(err).__name__}: {first}", file=sys.stderr)
        return 1
    print(json.dumps(rep.to_json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
