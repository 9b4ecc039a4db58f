"""Held-out evaluation → training/results/<run>.json, models/METRICS.md (every run's results) and the TRAINING.md of
each exported model folder. Metric definitions: models/CONTRACT.md ("Metrics")."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .common import REPO

RESULTS_DIR = REPO / "training" / "results"


def _row(label, s):
    return (
        f"| {label} | {s['n']} | {100 * s['accuracy']:.1f} % | {s['R_a']:.4f} | {s['r_v']:+.4f} | "
        f"{s['image_share']:.3f} | {100 * s['pointing_hit']:.1f} % | {100 * s['format_ok']:.1f} % | "
        f"{s['mean_tokens']:.1f} |"
    )


def render_metrics(results: list[dict], notes: bool = True) -> str:
    lines = [
        "# SAYO-mini metrics (held-out set)",
        "",
        "Written by `python3 -m sayo_train run <spec>` (report stage) from `training/results/*.json`; reproducible from "
        'the job spec and its seed. Definitions: models/CONTRACT.md ("Metrics"): greedy decoding, 24 new tokens at '
        "most, last decoder layer, mean over heads, boxes united, ε = 1e-8. **R_a** = mean over generated tokens of "
        "½(1 + tanh(log((a+ε)/(v+ε)))) (0.5 = no preference for the box); **r_v** = SAYO reward over the top-30 % "
        "entropy tokens (0 = no preference); **image share** = head-mean attention mass on image tokens; **pointing** "
        "= the most-attended image token lies in a box; **format** = the answer is tagged and the model stopped.",
        "",
        "| checkpoint | n | accuracy | mean R_a | mean r_v | image share | pointing | format | tokens |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    seen_base = False
    notes = []
    for r in results:
        for key, label in (("base", "SAYO-mini-base (SFT)"), ("trained", r.get("label", r["run"]))):
            s = r["checkpoints"].get(key)
            if s is None:
                continue
            if key == "base":
                if seen_base:
                    continue
                seen_base = True
            lines.append(_row(label, s))
        if "chance" in r:
            notes.append(
                f"- `{r['run']}`: chance accuracy (uniform guess within the answer type) "
                f"{100 * r['chance']:.1f} %; spec `{r['spec']}`, seed {r['seed']}, "
                f"{r.get('train_size', '?')} training records, wall time {r.get('wall_time', '?')}."
            )
    paired = [r for r in results if r.get("paired")]
    if paired:
        lines += [
            "",
            "Paired differences, trained − base, per held-out question (mean ± standard error):",
            "",
            "| run | n | accuracy | R_a | r_v | image share | pointing |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in paired:
            p = r["paired"]

            def cell(k: str, p: dict = p) -> str:
                return f"{p[k]['mean']:+.4f} ± {p[k]['se']:.4f}"

            lines.append(
                f"| {r['run']} | {p['r_v']['n']} | {cell('accuracy')} | {cell('R_a')} | {cell('r_v')} | "
                f"{cell('image_share')} | {cell('pointing_hit')} |"
            )
    lines += ["", "Runs:", ""] + notes + [""]
    notes_file = RESULTS_DIR / "NOTES.md"
    if notes and notes_file.exists():
        lines += [notes_file.read_text().rstrip(), ""]
    return "\n".join(lines)


def write_results(result: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    p = RESULTS_DIR / f"{result['run']}.json"
    p.write_text(json.dumps(result, indent=2) + "\n")
    return p


def load_results(order=("sayo-mini", "sayo-mini-ablation-accuracy", "sayo-mini-ablation-attention-accuracy")):
    if not RESULTS_DIR.exists():
        return []
    res = [json.loads(p.read_text()) for p in sorted(RESULTS_DIR.glob("*.json"))]
    rank = {n: i for i, n in enumerate(order)}
    return sorted(res, key=lambda r: (rank.get(r["run"], 99), r["run"]))


def training_md(
    name: str, spec_path: str, seed: int, data_size: int, wall: str, summary: dict | None, extra: str = ""
) -> str:
    out = [
        f"# {name}",
        "",
        f"- job spec: `{spec_path}`",
        f"- seed: {seed}",
        f"- training records: {data_size}",
        f"- wall time of the run: {wall}",
        "",
    ]
    if summary:
        out += [
            "Held-out metrics (models/CONTRACT.md definitions; see models/METRICS.md):",
            "",
            "| n | accuracy | mean R_a | mean r_v | image share | pointing | format |",
            "|---|---|---|---|---|---|---|",
            f"| {summary['n']} | {100 * summary['accuracy']:.1f} % | {summary['R_a']:.4f} | {summary['r_v']:+.4f} | "
            f"{summary['image_share']:.3f} | {100 * summary['pointing_hit']:.1f} % | "
            f"{100 * summary['format_ok']:.1f} % |",
            "",
        ]
    if extra:
        out += [extra, ""]
    return "\n".join(out)


def fmt_secs(s: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(s)) + f" ({s / 60:.1f} min)"
