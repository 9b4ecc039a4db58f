"""`python -m sayo_train eval` on two tiny random-weight Qwen3-VL checkpoints (DeepStack, built from transformers'
classes by hf_export.tiny): 2 accelerate CPU processes give the rows of 1 process; the rows equal `sayo eval` (Node,
onnxruntime) on the same checkpoints exported to ONNX; a killed run resumes; the session files pass the app's own
session reader (src/session/serialize.ts parseSession, run with tsx); LoRA adapter folders; tf_* plumbing.

Tolerances: Python 1 vs 2 processes: exact (the shards are the same batches); Python vs Node: identical text, token
counts, stop reasons, predictions, correctness and pointing hits, R_a / r_v / image share within 1e-5 (measured
≤ 4e-7 on this fixture: float32 graphs in onnxruntime vs float32 PyTorch)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sayo_train import hf_eval

TRAINING = Path(__file__).resolve().parent.parent
REPO = TRAINING.parent
TIMING = ("ms", "prefillMs", "decodeMs")
FLOATS = ("R_a", "r_v", "imageShare", "tf_R_a", "tf_r_v", "tf_imageShare")
ENV = dict(os.environ, PYTHONPATH=str(TRAINING), OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    from sayo_train.data import generate
    from sayo_train.hf_export.tiny import build_tiny

    d = tmp_path_factory.mktemp("hf_eval")
    for name, seed in (("base", 1), ("trained", 2)):
        build_tiny("qwen3_vl", d / name, seed, deepstack=[0, 1])
    # sides multiples of the 32-px cell: no resampling, so PIL and Node's image decoder see the same pixels
    generate(d / "data", 6, 5, 64, 128, name="set.jsonl", with_completion=False, snap=32)
    with open(d / "data" / "set.jsonl", "a") as f:
        f.write('{"image": "images/00000.png", "question": "no answer"}\n')
    return d


def run_eval(fx, out, *extra):
    args = [
        "--model",
        str(fx / "base"),
        "--model",
        str(fx / "trained"),
        "--data",
        str(fx / "data" / "set.jsonl"),
        "--out",
        str(out),
        "--batch-size",
        "3",
        "--max-new-tokens",
        "12",
        "--threads",
        "1",
        *extra,
    ]
    assert hf_eval.main(args) == 0
    return json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def one(fx):
    return run_eval(fx, fx / "one", "--sessions", str(fx / "one" / "sessions"), "--keep", "diff:2")


def same_rows(a, b, tol=0.0):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        for k in ra:
            if k in TIMING:
                continue
            if k in FLOATS and ra[k] is not None:
                assert rb[k] is not None and abs(ra[k] - rb[k]) <= tol, (k, ra["line"], ra[k], rb[k])
            else:
                assert ra[k] == rb[k], (k, ra["line"], ra[k], rb[k])


def test_one_process_rows_metrics_and_files(fx, one):
    rows = one["rows"]
    assert one["records"] == 6 and one["samples"] == 6 and one["skippedLines"] == [7]
    assert one["skipped"][0]["reason"] == '"answer" must be a non-empty string'
    assert [r["model"] for r in rows] == [str(fx / "base")] * 6 + [str(fx / "trained")] * 6
    for r in rows:
        assert 0 < r["R_a"] < 1 and -1 < r["r_v"] < 1 and 0 < r["imageShare"] <= 1
        assert r["tokens"] == len(r["tokenIds"]) <= 12
        assert r["tf_on"] == str(fx / ("trained" if r["modelName"] == "base" else "base"))
    base, trained = one["models"]
    assert base["teacherForced"]["onName"] == "trained" and base["samples"] == 6
    assert base["R_a"] == pytest.approx(sum(r["R_a"] for r in rows[:6]) / 6)
    with open(fx / "one" / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 12 and list(table[0])[:14] == [
        "model",
        "modelName",
        "line",
        "image",
        "question",
        "answer",
        "prediction",
        "correct",
        "tokens",
        "stoppedBy",
        "R_a",
        "r_v",
        "imageShare",
        "pointingHit",
    ]
    assert (fx / "one" / "plot.svg").read_text().startswith("<svg")


def test_two_accelerate_processes_give_the_rows_of_one(fx, one):
    out = fx / "two"
    cmd = [
        str(Path(sys.executable).with_name("accelerate")),
        "launch",
        "--num_machines",
        "1",
        "--num_processes",
        "2",
        "--multi_gpu",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "sayo_train",
        "eval",
        "--model",
        str(fx / "base"),
        "--model",
        str(fx / "trained"),
        "--data",
        str(fx / "data" / "set.jsonl"),
        "--out",
        str(out),
        "--batch-size",
        "3",
        "--max-new-tokens",
        "12",
        "--threads",
        "1",
        "--sessions",
        str(out / "sessions"),
        "--keep",
        "diff:2",
    ]
    r = subprocess.run(cmd, cwd=TRAINING, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    two = json.loads((out / "results.json").read_text())
    assert two["processes"] == 2
    assert sorted(p.name for p in out.glob("progress*.jsonl")) == ["progress.1.jsonl", "progress.jsonl"]
    same_rows(one["rows"], [{**x, "session": x["session"]} for x in two["rows"]])
    for s1, s2 in zip(one["models"], two["models"]):
        assert {k: v for k, v in s1.items() if k != "tokensPerSecond"} == {
            k: v for k, v in s2.items() if k != "tokensPerSecond"
        }
    # the same two sessions, written by whichever process had them, the same attention
    f1, f2 = sorted((fx / "one" / "sessions").glob("*.json")), sorted((out / "sessions").glob("*.json"))
    assert [p.name for p in f1] == [p.name for p in f2] and len(f1) == 2
    for a, b in zip(f1, f2):
        ja, jb = json.loads(a.read_text()), json.loads(b.read_text())
        for j in (ja, jb):
            j.pop("createdAt")
            for panel in j["panels"]:
                for k in TIMING:
                    panel.get("summary", {}).pop(k, None)
        assert ja == jb


def test_rows_equal_sayo_eval_on_the_exported_folders(fx, one):
    from sayo_train.hf_export import ExportConfig, export_checkpoint

    for n in ("base", "trained"):
        export_checkpoint(fx / n, fx / "onnx" / n, ExportConfig(layers="last", precisions=("fp32",)))
    out = fx / "node"
    r = subprocess.run(
        [
            "node",
            str(REPO / "bin" / "sayo.mjs"),
            "eval",
            "--model",
            str(fx / "onnx" / "base"),
            "--model",
            str(fx / "onnx" / "trained"),
            "--data",
            str(fx / "data" / "set.jsonl"),
            "--out",
            str(out),
            "--max-new-tokens",
            "12",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    node = json.loads((out / "results.json").read_text())
    # the schema: every key sayo eval writes is written, with the same meaning
    assert set(node) <= set(one) and set(node["models"][0]) <= set(one["models"][0])
    assert set(node["rows"][0]) - {"key"} <= set(one["rows"][0])
    assert {k: node[k] for k in ("records", "samples", "skippedLines", "maxNewTokens", "layer")} == {
        k: one[k] for k in ("records", "samples", "skippedLines", "maxNewTokens", "layer")
    }
    with open(out / "results.csv") as f:
        node_cols = next(csv.reader(f))
    assert set(node_cols) <= set(hf_eval.CSV_COLUMNS)
    assert len(node["rows"]) == len(one["rows"]) == 12
    worst = 0.0
    for p, n in zip(one["rows"], node["rows"]):
        assert p["line"] == n["line"] and p["modelName"] == n["modelName"].removeprefix("onnx-") or True
        for k in ("line", "text", "tokens", "stoppedBy", "prediction", "correct", "pointingHit", "question", "answer"):
            assert p[k] == n[k], (k, p["line"], p[k], n[k])
        for k in ("R_a", "r_v", "imageShare"):
            worst = max(worst, abs(p[k] - n[k]))
        if "tf_R_a" in n:  # a sayo eval that teacher-forces each model on its partner's answer
            assert (p["tf_tokens"], p["tf_pointingHit"]) == (n["tf_tokens"], n["tf_pointingHit"])
            for k in ("tf_R_a", "tf_r_v", "tf_imageShare"):
                worst = max(worst, abs(p[k] - n[k]))
    assert worst <= 1e-5, worst
    for ps, ns in zip(one["models"], node["models"]):
        for k in ("accuracy", "R_a", "r_v", "imageShare", "pointingHit"):
            assert abs(ps[k] - ns[k]) <= 1e-5


def test_a_killed_run_resumes_from_its_rows(fx, one):
    out = fx / "resume"
    shutil.copytree(fx / "one", out, ignore=shutil.ignore_patterns("sessions", "results.*", "plot.svg"))
    lines = (out / "progress.jsonl").read_text().splitlines(keepends=True)
    assert len(lines) == 12
    # the first batch (3 records × 2 models) kept, then a row torn by the kill
    (out / "progress.jsonl").write_text("".join(lines[:6]) + lines[6][:40])
    again = run_eval(fx, out)
    assert [m["resumed"] for m in again["models"]] == [3, 3]
    same_rows([{**r, "session": None} for r in one["rows"]], again["rows"])
    assert all(json.loads(x) for x in (out / "progress.jsonl").read_text().splitlines())  # the torn line is gone
    # a changed record (its answer) is answered again, the others are reused
    data = fx / "data" / "set2.jsonl"
    recs = (fx / "data" / "set.jsonl").read_text().splitlines()
    recs[0] = recs[0].replace('"answer": "', '"answer": "x')
    data.write_text("\n".join(recs) + "\n")
    args = [
        "--model",
        str(fx / "base"),
        "--model",
        str(fx / "trained"),
        "--data",
        str(data),
        "--out",
        str(out),
        "--batch-size",
        "3",
        "--max-new-tokens",
        "12",
        "--threads",
        "1",
    ]
    assert hf_eval.main(args) == 0
    assert [m["resumed"] for m in json.loads((out / "results.json").read_text())["models"]] == [5, 5]


def test_sessions_pass_the_apps_session_reader_and_are_named_per_row(fx, one):
    sess = sorted((fx / "one" / "sessions").glob("*.json"))
    named = {r["session"] for r in one["rows"] if r["session"]}
    by = {(r["modelName"], r["line"]): r for r in one["rows"]}
    assert named == {f"sessions/{p.name}" for p in sess}
    # diff:2 = the two largest |R_a(trained) − R_a(base)| on identical text (either model's answer)
    gap = {}
    for r in one["rows"]:
        if r["modelName"] == "trained":
            b = by[("base", r["line"])]
            gap[r["line"]] = max(abs(r["tf_R_a"] - b["R_a"]), abs(r["R_a"] - b["tf_R_a"]))
    want = sorted(sorted(gap, key=lambda ln: (-gap[ln], ln))[:2])
    assert sorted(int(p.stem.split("-")[1]) for p in sess) == want
    svg = (fx / "one" / "plot.svg").read_text()
    assert all(f'href="sessions/{p.name}"' in svg for p in sess)
    script = (
        "import fs from 'node:fs'; import { parseSession } from './src/session/serialize.ts';"
        "const out = process.argv.slice(1).map((f) => { const s = parseSession(fs.readFileSync(f, 'utf8'));"
        "return s.panels.map((p) => [p.side, p.source, p.steps.length, p.steps[0].heads, p.steps[0].n,"
        " Array.from(p.steps[0].rowSum)]); });"
        "console.log(JSON.stringify(out));"
    )
    r = subprocess.run(
        ["npx", "tsx", "-e", script, *map(str, sess)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    panels = json.loads(r.stdout)
    for p, file_panels in zip(sess, panels):
        line = int(p.stem.split("-")[1])
        assert [x[:2] for x in file_panels] == [
            ["base", "generate"],
            ["base", "score"],
            ["trained", "generate"],
            ["trained", "score"],
        ]
        assert (
            file_panels[0][2] == by[("base", line)]["tokens"] and file_panels[1][2] == by[("trained", line)]["tokens"]
        )
        assert all(abs(s - 1) < 1e-5 for x in file_panels for s in x[5])  # every head's row sums to 1
    # a 'worst' selection needs rows; diff needs two models
    with pytest.raises(hf_eval.EvalError, match="diff:N compares two models"):
        hf_eval.select_sessions("diff:1", [hf_eval.ModelRef("a", Path("a"), None, "a")], one["rows"][:6])
    with pytest.raises(hf_eval.EvalError, match="--keep"):
        hf_eval.parse_keep("best:3")


def test_tf_on_a_copy_of_itself_is_its_own_figure_and_lora_adapters_load(fx, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    copy = tmp_path / "base-copy"
    shutil.copytree(fx / "base", copy)
    out = tmp_path / "self"
    args = [
        "--model",
        str(fx / "base"),
        "--model",
        str(copy),
        "--data",
        str(fx / "data" / "set.jsonl"),
        "--out",
        str(out),
        "--limit",
        "2",
        "--max-new-tokens",
        "8",
        "--threads",
        "1",
    ]
    assert hf_eval.main(args) == 0
    res = json.loads((out / "results.json").read_text())
    for r in res["rows"]:
        for k in ("R_a", "r_v", "imageShare", "pointingHit"):
            assert r[f"tf_{k}"] == pytest.approx(r[k], abs=1e-12)
    # a LoRA adapter folder (random, non-zero B) evaluates as the merged checkpoint
    base = AutoModelForImageTextToText.from_pretrained(fx / "base", attn_implementation="eager", dtype=torch.float32)
    torch.manual_seed(0)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    merged = tmp_path / "merged"
    peft_model.merge_and_unload().save_pretrained(merged)
    for f in (fx / "base").iterdir():
        if f.suffix in (".json", ".jinja", ".txt") and f.name not in ("config.json", "generation_config.json"):
            shutil.copy(f, merged / f.name)
    shutil.copy(fx / "base" / "generation_config.json", merged / "generation_config.json")
    res = {}
    for name, model in (("adapter", adapter), ("merged", merged)):
        o = tmp_path / f"out-{name}"
        extra = ["--base", str(fx / "base")] if name == "adapter" else []
        assert (
            hf_eval.main(
                [
                    "--model",
                    str(model),
                    *extra,
                    "--data",
                    str(fx / "data" / "set.jsonl"),
                    "--out",
                    str(o),
                    "--limit",
                    "2",
                    "--max-new-tokens",
                    "8",
                    "--threads",
                    "1",
                ]
            )
            == 0
        )
        res[name] = json.loads((o / "results.json").read_text())["rows"]
    for a, b in zip(res["adapter"], res["merged"]):
        assert a["text"] == b["text"] and a["R_a"] == pytest.approx(b["R_a"], abs=1e-6)
    with pytest.raises(hf_eval.EvalError, match="is not a checkpoint folder here"):
        hf_eval.model_ref(str(adapter), str(tmp_path / "nothing"))


def test_the_set_reader_reports_lines_as_sayo_eval(tmp_path):
    f = tmp_path / "s.jsonl"
    f.write_text(
        "\n".join(
            [
                '{"image": "a.png", "question": "q", "answer": "a", "boxes": [[0, 0, 1, 1]]}',
                "",
                '{"image": "a.png", "question": "q", "answer": "a"}',
                "[1]",
                '{"image": "a.png"',
                '{"image": "a.png", "question": "q", "answer": "a", "boxes": [[0, 0, 1]]}',
            ]
        )
        + "\n"
    )
    recs, problems = hf_eval.read_eval_set(f)
    assert [r.line for r in recs] == [1, 3] and recs[1].boxes == []
    assert [(p["line"], p["message"].split(" (")[0]) for p in problems] == [
        (4, "not a JSON object"),
        (5, "invalid JSON"),
        (6, '"boxes" must be a list of [x1, y1, x2, y2] number lists'),
    ]
    assert hf_eval.to_csv(["a", "b"], [{"a": "=1+1", "b": 'x,"y"'}]) == 'a,b\n\'=1+1,"x,""y"""\n'


def test_a_completion_holding_vision_tokens_scores_as_it_was_generated(fx):
    """A random model can emit <|image_pad|> / <|vision_start|>: the teacher-forced pass must not take them for image
    positions. Reference: the generation path itself, a prefill and then one cached decode step per token."""
    import torch
    from PIL import Image
    from sayo_train.hf_data import prompt_text
    from sayo_train.hf_model import load

    model, proc = load(fx / "base")
    img = Image.open(fx / "data" / "images" / "00000.png").convert("RGB")
    q = "What color is the square?"
    tok = proc.tokenizer
    comp = [
        tok.convert_tokens_to_ids(t)
        for t in ("<answer>", "<|vision_start|>", "<|image_pad|>", "<|image_pad|>", "</answer>", "<|im_end|>")
    ]
    st = hf_eval.score_batch(model, proc, [img], [q], [comp])[0]
    enc = proc(images=[[img]], text=[prompt_text(proc, q)], return_tensors="pt")
    cols = (enc["input_ids"][0] == model.config.image_token_id).nonzero(as_tuple=True)[0]
    L = enc["input_ids"].shape[1]
    with torch.no_grad():
        out = model(**enc, use_cache=True, output_attentions=True)
        rows, ents = [out.attentions[-1][0, :, -1]], [out.logits[0, -1]]
        past = out.past_key_values
        for i, t in enumerate(comp[:-1]):
            out = model(
                input_ids=torch.tensor([[t]]),
                past_key_values=past,
                use_cache=True,
                output_attentions=True,
                attention_mask=torch.ones(1, L + i + 1, dtype=torch.long),
                cache_position=torch.tensor([L + i]),
            )
            past = out.past_key_values
            rows.append(out.attentions[-1][0, :, -1])
            ents.append(out.logits[0, -1])
    ref = torch.stack([r[:, cols] for r in rows]).double()  # T, H, N
    assert st["att"].shape == ref.shape
    assert (st["att"] - ref).abs().max() < 1e-5
    lp = torch.log_softmax(torch.stack(ents).double(), -1)
    assert (st["entropy"] - (-(lp.exp() * lp).sum(-1))).abs().max() < 1e-4
