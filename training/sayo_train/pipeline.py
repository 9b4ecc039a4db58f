"""The stages of a job spec: data → sft → grpo → export → report. Each stage reads what the previous one left in
run.output_dir, so `--stages` can resume a run. Under `accelerate launch` every process runs this module: training
stages run on all of them (transformers / TRL distribute the batches); data, saving, export and report run on the
main process only, the others wait."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from accelerate import PartialState

from . import hf_model
from .common import REPO, Logger, build_tokenizer, seed_everything, write_json
from .data import generate, read_jsonl


class Run:
    def __init__(self, spec):
        self.spec = spec
        self.state = PartialState()
        self.main = self.state.is_main_process
        self.out = Path(spec.run.output_dir)
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.state.wait_for_everyone()
        self.log = Logger(self.out / "log.txt" if self.main else None, quiet=not self.main)
        self.timings_path = self.out / "timings.json"
        self.timings = json.loads(self.timings_path.read_text()) if self.timings_path.exists() else {}

    @property
    def tokenizer_dir(self) -> Path:
        """This run's tokenizer (data stage), else model.init's (a checkpoint folder); built on demand."""
        d = self.out / "tokenizer"
        if (d / "tokenizer.json").exists():
            return d
        init = self.init_dir
        if init is not None and (init / "tokenizer.json").exists():
            return init
        if self.main:
            build_tokenizer().save(d)
        self.state.wait_for_everyone()
        return d

    @property
    def init_dir(self):
        return Path(self.spec.model.init_path) if self.spec.model.init_path else None

    def processor(self):
        return hf_model.build_processor(self.spec.model, self.tokenizer_dir)

    def rel(self, p) -> str:
        try:
            return str(Path(p).resolve().relative_to(REPO))
        except ValueError:
            return str(p)

    def base(self):
        """The GRPO starting point: this run's SFT output, else model.init (checkpoint folder or hub id)."""
        d = self.out / "base"
        if (d / "config.json").exists():
            return d
        if self.init_dir is not None and (self.init_dir / "config.json").exists():
            return self.init_dir
        init = self.spec.model.init
        if init.startswith("hub:"):
            return init[len("hub:") :]
        raise FileNotFoundError(f"no SFT base: {d} (run the sft stage) nor a model.init checkpoint folder")

    def policy(self) -> Path | None:
        d = self.out / "policy"
        return d if (d / "config.json").exists() else None

    def save_timings(self):
        if self.main:
            write_json(self.timings_path, self.timings)


def stage_data(run: Run):
    if not run.main:
        return
    s = run.spec
    g = s.data.generator
    if g is None:
        from .converters import prepare, write_split

        train = Path(s.data.train)
        recs, reports = prepare(s.data.prepare.sources, train.parent, seed=s.run.seed)
        for rep in reports:
            run.log(
                f"data: {rep.source}: {rep.written} records"
                + "".join(f"; skipped {n}: {why}" for why, n in sorted(rep.skipped.items()))
            )
        n = write_split(recs, train, s.data.heldout, s.data.prepare.heldout_size, seed=s.run.seed)
        run.log(f"data: {n['train']} training + {n['heldout']} held-out records -> {run.rel(train.parent)}")
        return
    build_tokenizer().save(run.out / "tokenizer")
    train = Path(s.data.train)
    generate(
        train.parent,
        g.train_size,
        s.run.seed,
        g.min_side,
        g.max_side,
        name=train.name,
        image_dir=f"{train.stem}-images",
        describe_ratio=g.describe_ratio or 0.0,
    )
    run.log(f"data: {g.train_size} training records -> {run.rel(train)}")
    held = Path(s.data.heldout)
    if held.exists():
        run.log(f"data: held-out set kept as shipped: {run.rel(held)}")
    else:
        generate(
            held.parent,
            g.heldout_size,
            s.run.seed + 1,
            g.min_side,
            g.max_side,
            name=held.name,
            with_completion=False,
            snap=s.model.vision.patch_size * s.model.vision.merge_size,
        )
        run.log(f"data: {g.heldout_size} held-out records -> {run.rel(held)}")
    if g.gallery_size:
        from .data import write_gallery

        write_gallery(REPO / "public" / "samples", g.gallery_size, s.run.seed + 2)
        run.log(f"data: gallery of {g.gallery_size} -> public/samples/")


def stage_sft(run: Run):
    from .train_sft import train_sft

    s = run.spec
    seed_everything(s.run.seed + 10)
    recs = read_jsonl(s.data.train, require_completion=True)  # a bad record fails before any work
    proc = run.processor()
    model = hf_model.new_model(s.model, proc, s.run.seed + 10)
    n = hf_model.n_params(model)
    run.log(f"sft: {len(recs)} records, {type(model).__name__} {n:,} parameters ({n * 4 / 1e6:.2f} MB fp32)")
    info = train_sft(
        model,
        proc,
        recs,
        s.sft,
        seed=s.run.seed + 10,
        output_dir=run.out / "sft-trainer",
        max_response_tokens=None,
        system_prompt=s.data.system_prompt,
        world_size=run.state.num_processes,
        log=run.log,
    )
    if run.main:
        hf_model.save(model, proc, run.out / "base")
        write_json(run.out / "base" / "sft.json", info)
    run.state.wait_for_everyone()


def lora_config(spec):
    lo = spec.model.lora
    if not lo.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=lo.r,
        lora_alpha=lo.alpha,
        lora_dropout=lo.dropout or 0.0,
        task_type="CAUSAL_LM",
        target_modules=lo.target_modules if lo.target_modules != "all-linear" else "all-linear",
    )


def stage_grpo(run: Run):
    from .hf_data import grpo_dataset
    from .train_grpo import train_grpo

    s = run.spec
    seed_everything(s.run.seed + 20)
    base = run.base()
    if isinstance(base, Path):
        proc = hf_model.processor_class(base).from_pretrained(base)
    else:
        from transformers import AutoProcessor

        im = s.model.image
        # use_fast=False: with torchvision installed, AutoProcessor would pick Qwen-VL's torchvision image processor,
        # whose resize gives other pixels than the image processor the fixtures and the app follow.
        proc = AutoProcessor.from_pretrained(
            base, min_pixels=im.min_pixels, max_pixels=im.max_pixels, use_fast=False, trust_remote_code=False
        )
    ds = grpo_dataset(s.data.train, s.data.system_prompt)
    run.log(
        f"grpo: {len(ds)} prompts, from {run.rel(base) if isinstance(base, Path) else base}, rewards "
        + ", ".join(f"{r.name} x{r.weight:g}" for r in s.rewards)
    )
    res = train_grpo(
        base,
        proc,
        ds,
        s,
        output_dir=run.out / "grpo-trainer",
        world_size=run.state.num_processes,
        peft_config=lora_config(s),
        log=run.log,
    )
    model = res["model"]
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if run.main:
        hf_model.save(model, proc, run.out / "policy")
        write_json(run.out / "policy" / "grpo.json", {k: v for k, v in res.items() if k not in ("model", "trainer")})
    run.state.wait_for_everyone()


def stage_export(run: Run):
    """Both checkpoints through the ONNX exporter (sayo_train.hf_export) into export.out_dir, with its check against
    transformers (it raises above its limits)."""
    if not run.main:
        return
    from .hf_export import ExportConfig, ExportError, export_checkpoint

    e = run.spec.export
    pairs = [("sayo-mini-base", run.base())] + ([("sayo-mini", run.policy())] if run.policy() else [])
    for name, ck in pairs:
        cfg = ExportConfig(
            layers=e.attention_layers, precisions=("fp32", *(e.quantize or [])), opset=e.opset, check=True
        )
        rep = export_checkpoint(ck, Path(e.out_dir) / name, cfg)
        write_json(run.out / f"export-{name}.json", rep.to_json())
        for extra in ("export_report.json", "registry_entry.json"):  # models/registry.json lists the pair
            (rep.out_dir / extra).unlink(missing_ok=True)
        fp32 = rep.check["fp32"]
        for key, limit in (("logits", e.check.max_abs_logit_diff), ("attention", e.check.max_abs_attention_diff)):
            if fp32[key] > limit:
                raise ExportError(
                    f"export.check: {name}: fp32 {key} differ from transformers by {fp32[key]:.2e}, "
                    f"above the spec's {limit:g}"
                )
        onnx_bytes = sum(v for k, v in rep.files.items() if k.startswith("onnx/"))
        run.log(
            f"export: {run.rel(rep.out_dir)} ({onnx_bytes / 1e6:.2f} MB onnx, layers {rep.layers}) check ok: "
            f"logits {fp32['logits']:.1e}, attention {fp32['attention']:.1e}, tokens equal {fp32['tokens_equal']}"
        )
    if e.noattn_decoder and run.policy():
        # The trained decoder without attention outputs: the capture-off side of the benchmarks (ladder rung "mini").
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            export_checkpoint(
                run.policy(), Path(tmp) / "noattn", ExportConfig(layers="none", precisions=("fp32",), opset=e.opset)
            )
            Path(e.noattn_decoder).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(tmp) / "noattn" / "onnx" / "decoder_model_merged.onnx", e.noattn_decoder)
        run.log(f"export: {run.rel(e.noattn_decoder)} (trained decoder, no attention outputs)")


def stage_report(run: Run):
    if not run.main:
        return
    from .infer import chance_accuracy, evaluate
    from .report import fmt_secs, load_results, render_metrics, write_results

    s = run.spec
    seed_everything(s.run.seed + 30)
    recs = read_jsonl(s.data.heldout)
    max_new = s.report.max_new_tokens if s.report and s.report.max_new_tokens else 24
    att = s.reward("attention_region")
    p = att.params if att else None
    results, n_params = {}, {}
    for key, path in (("base", run.base()), ("trained", run.policy())):
        if path is None:
            continue
        model, proc = hf_model.load(path)
        n_params[key] = hf_model.n_params(model)
        r = evaluate(
            model,
            proc,
            recs,
            max_new=max_new,
            layer=p.layer if p else -1,
            eps=p.eps if p else 1e-8,
            top_ratio=p.top_ratio if p else 0.3,
            alignment=p.alignment if p else "produced",
            system_prompt=s.data.system_prompt,
            log=run.log,
        )
        results[key] = r
        write_json(run.out / f"eval-{key}.json", r)
        run.log(f"report: {key}: " + ", ".join(f"{k} {v:.4f}" for k, v in r["summary"].items()))
    total = sum(v for k, v in run.timings.items() if k != "report")
    label = s.run.name
    if s.rewards:
        label = (
            f"{s.run.name} (GRPO rewards: "
            + " + ".join(
                {"attention_region": "attention", "format": "format", "accuracy": "accuracy"}[r.name]
                for r in s.rewards
                if r.weight > 0
            )
            + ")"
        )
    train_size = (
        sum(1 for ln in Path(s.data.train).read_text().splitlines() if ln.strip())
        if Path(s.data.train).exists()
        else None
    )
    result = {
        "run": s.run.name,
        "label": label,
        "spec": run.rel(s.path),
        "seed": s.run.seed,
        "train_size": train_size,
        "heldout": run.rel(s.data.heldout),
        "wall_time": fmt_secs(total),
        "stage_seconds": {k: round(v, 1) for k, v in run.timings.items()},
        "chance": chance_accuracy(recs),
        "checkpoints": {k: v["summary"] for k, v in results.items()},
        "paired": paired(results),
    }
    if s.export and results:
        write_training_md(run, result, results, n_params)
    if s.report and s.report.metrics_file:
        mf = Path(s.report.metrics_file)
        if str(mf.resolve()).startswith(str(REPO / "models")):
            write_results(result)
            mf.write_text(render_metrics(load_results()))
        else:
            mf.parent.mkdir(parents=True, exist_ok=True)
            mf.write_text(render_metrics([result], notes=False))
        run.log(f"report: {run.rel(mf)}")
    write_json(run.out / "result.json", result)


def write_training_md(run: Run, result: dict, results: dict, n_params: dict) -> None:
    """TRAINING.md beside each exported checkpoint: spec, seed, data, wall times, held-out metrics, export check."""
    from .report import training_md

    s = run.spec
    g = s.grpo
    rewards = " + ".join(f"{r.name} × {r.weight:g}" for r in s.rewards if r.weight > 0)
    att = s.reward("attention_region")
    recipe = {
        "base": (
            f"Supervised fine-tuning from random weights on transformers' Trainer: {s.sft.epochs} epochs, "
            f"batch {s.sft.batch_size}, lr {s.sft.lr:g}."
        ),
        "trained": (
            f"GRPO from the base on TRL's GRPOTrainer: rewards {rewards}"
            + (
                f" (attention from the policy's own last-layer attention over its top-{100 * att.params.top_ratio:.0f} % "
                f"entropy tokens, alignment {att.params.alignment})"
                if att and att.weight > 0
                else ""
            )
            + f"; KL β {g.kl_beta:g}, {g.steps} steps × {g.prompts_per_step} prompts × {g.group_size} rollouts, "
            f"lr {g.lr:g}, temperature {g.temperature:g}."
        ),
    }
    for key, name in (("base", "sayo-mini-base"), ("trained", "sayo-mini")):
        folder = Path(s.export.out_dir) / name
        rep_file = run.out / f"export-{name}.json"
        if key not in results or not folder.exists() or not rep_file.exists():
            continue
        rep = json.loads(rep_file.read_text())
        n = n_params[key]
        fp32 = rep["check"]["fp32"]
        onnx_mb = sum(v for k, v in rep["files"].items() if k.startswith("onnx/")) / 1e6
        extra = "\n".join(
            [
                recipe[key],
                "",
                f"- model: Qwen2_5_VLForConditionalGeneration, {n:,} parameters ({n * 4 / 1e6:.2f} MB fp32)",
                "- stage wall times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in run.timings.items()),
                f"- ONNX: {onnx_mb:.2f} MB; export check (onnxruntime vs transformers, max abs diff): "
                f"logits {fp32['logits']:.1e}, attentions {fp32['attention']:.1e}",
            ]
        )
        (folder / "TRAINING.md").write_text(
            training_md(
                name,
                result["spec"],
                s.run.seed,
                result["train_size"] or 0,
                result["wall_time"],
                results[key]["summary"],
                extra,
            )
        )


def paired(results: dict) -> dict:
    """Trained − base per held-out sample: mean difference and its standard error, for each per-sample metric."""
    if "base" not in results or "trained" not in results:
        return {}
    out = {}
    for k in ("correct", "R_a", "r_v", "image_share", "pointing_hit"):
        d = [float(t[k]) - float(b[k]) for b, t in zip(results["base"]["samples"], results["trained"]["samples"])]
        n = len(d)
        mean = sum(d) / n
        sd = (sum((x - mean) ** 2 for x in d) / (n - 1)) ** 0.5 if n > 1 else 0.0
        out["accuracy" if k == "correct" else k] = {"mean": mean, "se": sd / n**0.5, "n": n}
    return out


STAGES = {"data": stage_data, "sft": stage_sft, "grpo": stage_grpo, "export": stage_export, "report": stage_report}


def run(spec, stages: list[str]) -> None:
    threads = spec.run.threads or 2
    torch.set_num_threads(threads)
    r = Run(spec)
    r.log(
        f"run {spec.run.name}: stages {stages}, seed {spec.run.seed}, threads {threads}, "
        f"processes {r.state.num_processes}, out {r.rel(r.out)}"
    )
    for st in stages:
        t = time.time()
        r.log(f"== {st}")
        STAGES[st](r)
        r.state.wait_for_everyone()
        r.timings[st] = time.time() - t
        r.save_timings()
        r.log(f"== {st} done in {r.timings[st]:.1f}s")
