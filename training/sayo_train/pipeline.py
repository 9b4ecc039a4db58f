"""The stages of a job spec: data → sft → grpo → export → report. Each stage reads what the previous one left in
run.output_dir, so `--stages` can resume a run."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from .common import (REPO, Logger, build_tokenizer, encode_example, model_cfg, processor_for, seed_everything,
                     write_json)
from .data import generate, read_jsonl
from .model import SayoMini, load_checkpoint, save_checkpoint
from .tokenizer import Tokenizer


class Run:
    def __init__(self, spec):
        self.spec = spec
        self.out = Path(spec.run.output_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.log = Logger(self.out / "log.txt")
        self.timings_path = self.out / "timings.json"
        self.timings = json.loads(self.timings_path.read_text()) if self.timings_path.exists() else {}
        self._tok = None

    @property
    def tok(self) -> Tokenizer:
        if self._tok is None:
            d = self.out / "tokenizer"
            if not (d / "tokenizer.json").exists():
                init = self.init_dir
                if init is not None and (init / "tokenizer.json").exists():
                    d = init
                else:
                    build_tokenizer().save(d)
            self._tok = Tokenizer.load(d)
        return self._tok

    @property
    def init_dir(self):
        return Path(self.spec.model.init_path) if self.spec.model.init_path else None

    @property
    def cfg(self):
        return model_cfg(self.spec.model, self.tok)

    @property
    def proc(self):
        return processor_for(self.spec.model)

    def rel(self, p) -> str:
        try:
            return str(Path(p).resolve().relative_to(REPO))
        except ValueError:
            return str(p)

    def examples(self, path, with_completion: bool, limit: int | None = None):
        recs = read_jsonl(path, require_completion=with_completion)
        if limit:
            recs = recs[:limit]
        cfg = self.cfg
        return [encode_example(r, self.tok, self.proc, cfg, with_completion) for r in recs]

    def base_path(self) -> Path:
        """The SFT base: this run's sft output, else model.init (a checkpoint folder with model.pt)."""
        p = self.out / "base" / "model.pt"
        if p.exists():
            return p
        if self.init_dir is not None and (self.init_dir / "model.pt").exists():
            return self.init_dir / "model.pt"
        raise FileNotFoundError(f"no SFT base: {p} (run the sft stage) nor model.init")

    def save_timings(self):
        write_json(self.timings_path, self.timings)


def stage_data(run: Run):
    s = run.spec
    g = s.data.generator
    tok = build_tokenizer()
    tok.save(run.out / "tokenizer")
    run._tok = None
    train = Path(s.data.train)
    generate(train.parent, g.train_size, s.run.seed, g.min_side, g.max_side, name=train.name,
             image_dir=f"{train.stem}-images", describe_ratio=g.describe_ratio or 0.0)
    run.log(f"data: {g.train_size} training records -> {run.rel(train)}")
    held = Path(s.data.heldout)
    if held.exists():
        run.log(f"data: held-out set kept as shipped: {run.rel(held)}")
    else:
        generate(held.parent, g.heldout_size, s.run.seed + 1, g.min_side, g.max_side, name=held.name,
                 with_completion=False, snap=s.model.vision.patch_size * s.model.vision.merge_size)
        run.log(f"data: {g.heldout_size} held-out records -> {run.rel(held)}")
    if g.gallery_size:
        from .data import write_gallery
        write_gallery(REPO / "public" / "samples", g.gallery_size, s.run.seed + 2)
        run.log(f"data: gallery of {g.gallery_size} -> public/samples/")


def stage_sft(run: Run):
    from .train_sft import train_sft
    s = run.spec
    seed_everything(s.run.seed + 10)
    exs = run.examples(s.data.train, True)
    model = SayoMini(run.cfg)
    run.log(f"sft: {len(exs)} examples, model {model.n_params():,} parameters "
            f"({model.n_params() * 4 / 1e6:.2f} MB fp32)")
    info = train_sft(model, exs, epochs=s.sft.epochs, batch_size=s.sft.batch_size, lr=s.sft.lr,
                     weight_decay=s.sft.weight_decay, max_grad_norm=s.sft.max_grad_norm, seed=s.run.seed + 10,
                     warmup_steps=s.sft.warmup_steps or 0, log=run.log)
    d = run.out / "base"
    d.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, d / "model.pt")
    run.tok.save(d)
    write_json(d / "sft.json", info)


def reward_terms(spec):
    terms = []
    for r in spec.rewards or []:
        p = r.params
        params = {k: getattr(p, k) for k in ("top_ratio", "eps", "pattern", "layer") if hasattr(p, k)}
        terms.append((r.name, r.weight, params))
    return terms


def stage_grpo(run: Run):
    from .train_grpo import train_grpo
    s = run.spec
    seed_everything(s.run.seed + 20)
    policy = load_checkpoint(run.base_path())
    from .data import DESCRIBE_QUESTION
    exs = [e for e in run.examples(s.data.train, True) if e.rec["question"] != DESCRIBE_QUESTION]
    terms = reward_terms(s)
    att = s.reward("attention_region")
    layer = att.params.layer if att else -1
    g = s.grpo
    run.log(f"grpo: {len(exs)} prompts available, terms {[(n, w) for n, w, _ in terms]}, layer {layer}")
    info = train_grpo(policy, exs, run.tok, terms=terms, steps=g.steps, prompts_per_step=g.prompts_per_step,
                      group_size=g.group_size, lr=g.lr, weight_decay=g.weight_decay, max_grad_norm=g.max_grad_norm,
                      kl_beta=g.kl_beta, clip_eps=g.clip_eps, advantage_eps=g.advantage_eps,
                      temperature=g.temperature, top_p=g.top_p, max_new=s.data.max_response_tokens, layer=layer,
                      seed=s.run.seed + 20, log=run.log)
    d = run.out / "policy"
    d.mkdir(parents=True, exist_ok=True)
    save_checkpoint(policy, d / "model.pt")
    run.tok.save(d)
    write_json(d / "grpo.json", info)


def stage_export(run: Run):
    from PIL import Image

    from .export import check_export, export_graphs, resolve_layers, write_folder
    s = run.spec
    e = s.export
    out_dir = Path(e.out_dir)
    held = read_jsonl(s.data.heldout)
    rec = held[0]
    n_layers = s.model.text.num_layers
    layers = resolve_layers(e.attention_layers, n_layers)
    pairs = [("sayo-mini-base", run.base_path())]
    pol = run.out / "policy" / "model.pt"
    if pol.exists():
        pairs.append(("sayo-mini", pol))
    for name, ck in pairs:
        model = load_checkpoint(ck)
        folder = out_dir / name
        write_folder(model, run.tok, run.proc, folder, layers, e.opset,
                     training_md=f"# {name}\n\n(pending: the report stage writes the final metrics here)\n")
        rep = check_export(model, folder / "onnx", run.tok, run.proc, Image.open(rec["_image_path"]), rec["question"],
                           layers, e.check.max_abs_logit_diff, e.check.max_abs_attention_diff)
        size = sum(f.stat().st_size for f in (folder / "onnx").glob("*.onnx"))
        run.log(f"export: {run.rel(folder)} ({size / 1e6:.2f} MB onnx) check ok: "
                + ", ".join(f"{k} {v:.2e}" if isinstance(v, float) else f"{k} {v}" for k, v in rep.items()))
        write_json(run.out / f"export-{name}.json", {"check": rep, "onnx_bytes": size})
        if name == "sayo-mini" and getattr(e, "noattn_decoder", None):
            nd = Path(e.noattn_decoder)
            tmpdir = nd.parent / ".noattn-tmp"
            export_graphs(model, tmpdir, [], e.opset, decoder_name="decoder.onnx", only_decoder=True)
            nd.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmpdir / "decoder.onnx", nd)
            tmpdir.rmdir()
            # same weights, no attention outputs: prove its logits equal the PyTorch ones too
            import shutil
            import tempfile
            with tempfile.TemporaryDirectory() as td:
                shutil.copy(nd, Path(td) / "decoder_model_merged.onnx")
                check_export(model, Path(td), run.tok, run.proc, Image.open(rec["_image_path"]), rec["question"], [],
                             e.check.max_abs_logit_diff, e.check.max_abs_attention_diff, check_vision=False)
            run.log(f"export: {run.rel(nd)} (decoder without attention outputs) check ok")


def stage_report(run: Run):
    from .infer import chance_accuracy, evaluate
    from .report import fmt_secs, load_results, render_metrics, training_md, write_results
    s = run.spec
    seed_everything(s.run.seed + 30)
    exs = run.examples(s.data.heldout, False)
    max_new = (s.report.max_new_tokens if s.report and s.report.max_new_tokens else 24)
    att = s.reward("attention_region")
    eps = att.params.eps if att else 1e-8
    ratio = att.params.top_ratio if att else 0.3
    results = {}
    for key, path in (("base", run.base_path()), ("trained", run.out / "policy" / "model.pt")):
        if not Path(path).exists():
            continue
        model = load_checkpoint(path)
        r = evaluate(model, exs, run.tok, max_new=max_new, eps=eps, top_ratio=ratio, log=run.log)
        results[key] = r
        write_json(run.out / f"eval-{key}.json", r)
        run.log(f"report: {key}: " + ", ".join(f"{k} {v:.4f}" for k, v in r["summary"].items()))
    total = sum(v for k, v in run.timings.items() if k != "report")  # data → export (this report excluded)
    weights = {n: w for n, w, _ in reward_terms(s)}
    label = s.run.name
    if weights:
        label = f"{s.run.name} (GRPO rewards: " + " + ".join(
            {"attention_region": "attention", "format": "format", "accuracy": "accuracy"}[n]
            for n, w in weights.items() if w > 0) + ")"
    train_size = None
    try:
        train_size = sum(1 for ln in Path(s.data.train).read_text().splitlines() if ln.strip())
    except OSError:
        pass
    result = {"run": s.run.name, "label": label, "spec": run.rel(s.path), "seed": s.run.seed,
              "train_size": train_size, "heldout": run.rel(s.data.heldout),
              "wall_time": fmt_secs(total), "stage_seconds": {k: round(v, 1) for k, v in run.timings.items()},
              "chance": chance_accuracy([e.rec for e in exs]),
              "checkpoints": {k: v["summary"] for k, v in results.items()}}
    if s.report and s.report.metrics_file:
        # only the shipped pipeline (metrics_file inside the repo) records results for METRICS.md
        mf = Path(s.report.metrics_file)
        if str(mf.resolve()).startswith(str(REPO / "models")):
            write_results(result)
            mf.write_text(render_metrics(load_results()))
        else:
            mf.parent.mkdir(parents=True, exist_ok=True)
            mf.write_text(render_metrics([result], notes=False))
        run.log(f"report: {run.rel(mf)}")
    write_json(run.out / "result.json", result)
    if s.export:
        for key, name in (("base", "sayo-mini-base"), ("trained", "sayo-mini")):
            folder = Path(s.export.out_dir) / name
            if folder.exists() and key in results:
                ck = load_checkpoint(run.base_path() if key == "base" else run.out / "policy" / "model.pt")
                lines = [("Base: SFT of a randomly initialised miniature Qwen2-VL on the generated data "
                          f"({s.sft.epochs} epochs, batch {s.sft.batch_size}, lr {s.sft.lr:g})."
                          if key == "base" else
                          "SAYO-mini: GRPO from the base with the rewards of the spec (SAYO attention reward r_v from "
                          "the policy's own last-layer attention over its top-30 % entropy tokens + format reward), "
                          f"KL β {s.grpo.kl_beta:g} to the base, {s.grpo.steps} steps × {s.grpo.prompts_per_step} "
                          f"prompts × {s.grpo.group_size} rollouts, lr {s.grpo.lr:g}."),
                         "",
                         f"- parameters: {ck.n_params():,} ({ck.n_params() * 4 / 1e6:.2f} MB fp32)",
                         f"- stage wall times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in run.timings.items())]
                ex = run.out / f"export-{name}.json"
                if ex.exists():
                    e = json.loads(ex.read_text())
                    c = e["check"]
                    lines.append(f"- ONNX: {e['onnx_bytes'] / 1e6:.2f} MB; export check (onnxruntime-node vs PyTorch, "
                                 f"max abs diff): logits {max(c['prefill.logits'], c['decode.logits']):.1e}, "
                                 f"attentions {max(c['prefill.attention'], c['decode.attention']):.1e}")
                folder.joinpath("TRAINING.md").write_text(training_md(
                    name, run.rel(s.path), s.run.seed, train_size or 0, fmt_secs(total), results[key]["summary"],
                    extra="\n".join(lines)))


STAGES = {"data": stage_data, "sft": stage_sft, "grpo": stage_grpo, "export": stage_export, "report": stage_report}


def run(spec, stages: list[str]) -> None:
    threads = spec.run.threads or 2
    torch.set_num_threads(threads)
    r = Run(spec)
    r.log(f"run {spec.run.name}: stages {stages}, seed {spec.run.seed}, threads {threads}, out {r.rel(r.out)}")
    for st in stages:
        t = time.time()
        r.log(f"== {st}")
        STAGES[st](r)
        r.timings[st] = time.time() - t
        r.save_timings()
        r.log(f"== {st} done in {r.timings[st]:.1f}s")
