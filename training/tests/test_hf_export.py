"""sayo_train export on Hugging Face's own classes: tiny random-weight Qwen2-VL, Qwen2.5-VL and Qwen3-VL checkpoints
(Qwen3-VL without DeepStack, and with DeepStack at two index sets; save_pretrained folders), exported in fp32 / fp16 / q8 / q4 and checked in onnxruntime against HF generate() and
output_attentions=True; the vision graph at image grids it was not traced with; the folder in our Node engine
(`npx sayo ask --json`) against HF; base + LoRA through the CLI with external data; refusals."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from sayo_train.hf_export import ExportConfig, ExportError, export_checkpoint, load_checkpoint
from sayo_train.hf_export.check import check_image, hf_reference, prompt_inputs
from sayo_train.hf_export.family import parts
from sayo_train.hf_export.graphs import TRACE_GRID
from sayo_train.hf_export.tiny import PATCH, build_tiny

REPO = Path(__file__).resolve().parents[2]
TRAINING = REPO / "training"
# Test case -> (model_type, build_tiny keywords). The DeepStack cases: features into every layer of a 3-layer text model
# ([0, 1, 2] from a 3-block tower), and from blocks 1, 3, 5 of a deeper tower.
CASES = {
    "qwen2_vl": ("qwen2_vl", {}),
    "qwen2_5_vl": ("qwen2_5_vl", {}),
    "qwen3_vl": ("qwen3_vl", {}),
    "qwen3_vl_ds012": ("qwen3_vl", {"deepstack": [0, 1, 2], "text_layers": 3, "vision_depth": 3}),
    "qwen3_vl_ds135": ("qwen3_vl", {"deepstack": [1, 3, 5], "text_layers": 3, "vision_depth": 6}),
}
FAMILIES = list(CASES)
DEEPSTACK = [c for c, (_mt, kw) in CASES.items() if kw.get("deepstack")]
PRECISIONS = ("fp32", "fp16", "q8", "q4", "q4f16")
SUFFIX = {"fp32": "", "fp16": "_fp16", "q8": "_quantized", "q4": "_q4", "q4f16": "_q4f16"}
GRAPHS = ("vision_encoder", "embed_tokens", "decoder_model_merged")
# Bounds on the quantized variants of THESE tiny models (seeded): a few times the figures measured here
# (training/README.md); (logits, attention) max |Δ| against HF fp32.
TINY_BOUNDS = {"fp16": (0.25, 0.02), "q8": (0.5, 0.06), "q4": (2.5, 0.25), "q4f16": (2.5, 0.25)}
# Attention row sums: fp16 probabilities are rounded to 11-bit mantissas, so a row of them sums to 1 within fp16's
# unit roundoff 2^-11 (each p_i moves by at most p_i·2^-11); the fp32-softmax variants within 1e-4.
ROW_SUM_BOUND = {"fp16": 2.0**-11, "q8": 1e-4, "q4": 1e-4, "q4f16": 2.0**-11}
HAS_NODE = shutil.which("node") is not None and (REPO / "node_modules" / "@huggingface" / "transformers").exists()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """family -> (checkpoint folder, export folder, HF model, ExportReport); built and exported once."""
    root = tmp_path_factory.mktemp("hf_export")
    out = {}
    for i, fam in enumerate(FAMILIES):
        src = root / f"{fam}-hf"
        model = build_tiny(CASES[fam][0], src, seed=i, **CASES[fam][1])
        rep = export_checkpoint(src, root / fam, ExportConfig(layers="all", precisions=PRECISIONS, check=True))
        out[fam] = (src, root / fam, model, rep)
    print(
        "\nexport figures:",
        json.dumps(
            {
                f: {
                    "check": r.check,
                    "seconds": {k: round(v, 2) for k, v in r.seconds.items()},
                    "bytes": {k: v for k, v in r.files.items() if k.startswith("onnx/")},
                }
                for f, (_s, _o, _m, r) in out.items()
            },
            indent=1,
        ),
    )
    return out


def _dims(vi):
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


def _columns(model) -> int:
    """Hidden-size column blocks of image_features / inputs_embeds: 1 + the number of DeepStack features."""
    return 1 + len(getattr(model.config.vision_config, "deepstack_visual_indexes", None) or [])


@pytest.mark.parametrize("fam", FAMILIES)
def test_layout_names_and_files(exported, fam):
    _src, out, model, _rep = exported[fam]
    for f in (
        "config.json",
        "generation_config.json",
        "preprocessor_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "registry_entry.json",
    ):
        assert (out / f).is_file(), f
    for g in GRAPHS:
        for p in PRECISIONS:
            assert (out / "onnx" / f"{g}{SUFFIX[p]}.onnx").is_file(), (g, p)
    tc = model.config.text_config
    n, kv, d = tc.num_hidden_layers, tc.num_key_value_heads, model.model.language_model.layers[0].self_attn.head_dim
    for p in PRECISIONS:
        dec = onnx.load(str(out / "onnx" / f"decoder_model_merged{SUFFIX[p]}.onnx"), load_external_data=False)
        ins = {i.name: i for i in dec.graph.input}
        outs = {o.name: o for o in dec.graph.output}
        assert list(ins)[:3] == ["inputs_embeds", "attention_mask", "position_ids"]
        assert list(ins)[3:] == [f"past_key_values.{i}.{k}" for i in range(n) for k in ("key", "value")]
        assert list(outs) == (
            ["logits"]
            + [f"present.{i}.{k}" for i in range(n) for k in ("key", "value")]
            + [f"decoder_attentions.{i}" for i in range(n)]
        )
        assert _dims(ins["inputs_embeds"]) == ["batch_size", "sequence_length", tc.hidden_size * _columns(model)]
        assert _dims(ins["attention_mask"]) == ["batch_size", "total_sequence_length"]
        assert _dims(ins["position_ids"]) == [3, "batch_size", "sequence_length"]
        assert _dims(ins["past_key_values.0.key"]) == ["batch_size", kv, "past_sequence_length", d]
        assert _dims(outs["present.0.value"]) == ["batch_size", kv, "total_sequence_length", d]
        assert _dims(outs["decoder_attentions.0"]) == ["batch_size", tc.num_attention_heads, 1, "total_sequence_length"]
        f32, i64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64
        assert [ins[k].type.tensor_type.elem_type for k in ("inputs_embeds", "attention_mask", "position_ids")] == [
            f32,
            i64,
            i64,
        ]
        assert {o.type.tensor_type.elem_type for o in dec.graph.output} == {f32}, p
        vis = onnx.load(str(out / "onnx" / f"vision_encoder{SUFFIX[p]}.onnx"), load_external_data=False)
        grid = "grid_thw" if fam == "qwen2_vl" else "image_grid_thw"
        assert [i.name for i in vis.graph.input] == ["pixel_values", grid]
        assert [o.name for o in vis.graph.output] == ["image_features"]
        assert _dims(vis.graph.output[0]) == ["num_image_tokens", tc.hidden_size * _columns(model)]
        emb = onnx.load(str(out / "onnx" / f"embed_tokens{SUFFIX[p]}.onnx"), load_external_data=False)
        assert _dims(emb.graph.output[0]) == ["batch_size", "sequence_length", tc.hidden_size * _columns(model)]
    cfg = json.loads((out / "config.json").read_text())
    mt = CASES[fam][0]
    assert cfg["model_type"] == mt and cfg["transformers.js_config"] == {"dtype": "fp32"}
    assert cfg["image_token_id"] == model.config.image_token_id
    tok_cfg = json.loads((out / "tokenizer_config.json").read_text())
    assert "<|image_pad|>" in tok_cfg["chat_template"]
    pre = json.loads((out / "preprocessor_config.json").read_text())
    assert pre["patch_size"] == PATCH[mt] and pre["processor_class"].endswith("Processor")
    gen = json.loads((out / "generation_config.json").read_text())
    vocab = json.loads((out / "tokenizer.json").read_text())["added_tokens"]
    ids = {t["content"]: t["id"] for t in vocab}
    assert gen["eos_token_id"][:2] == [ids["<|im_end|>"], ids["<|endoftext|>"]]
    entry = json.loads((out / "registry_entry.json").read_text())
    assert entry["modelType"] == mt and [p["id"] for p in entry["precisions"]] == list(PRECISIONS)
    assert [p["dtype"] for p in entry["precisions"]] == list(PRECISIONS)


@pytest.mark.parametrize("fam", FAMILIES)
def test_fp32_equals_hf(exported, fam):
    r = exported[fam][3].check["fp32"]
    assert r["steps"] >= 4
    assert r["tokens_equal"], r
    assert r["logits"] <= 1e-4 and r["attention"] <= 1e-4 and r["row_sum"] <= 1e-5, r


@pytest.mark.parametrize("fam", FAMILIES)
@pytest.mark.parametrize("precision", ["fp16", "q8", "q4", "q4f16"])
def test_quantized_variants(exported, fam, precision):
    _src, out, _m, rep = exported[fam]
    r = rep.check[precision]
    lim_l, lim_a = TINY_BOUNDS[precision]
    assert r["logits"] <= lim_l and r["attention"] <= lim_a and r["row_sum"] <= ROW_SUM_BOUND[precision], r
    assert r["token_agreement"] >= 0.5, r
    dec = onnx.load(str(out / "onnx" / f"decoder_model_merged{SUFFIX[precision]}.onnx"))
    ops = {n.op_type for n in dec.graph.node}
    if precision == "fp16":
        assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in dec.graph.initializer)
    elif precision == "q8":
        assert "MatMulInteger" in ops and "DynamicQuantizeLinear" in ops
    elif precision == "q4f16":
        # 4-bit weights with fp16 scales, fp16 activations inside, float32 at the graph's inputs and outputs
        nbits = [n for n in dec.graph.node if n.op_type == "MatMulNBits"]
        assert nbits and any(t.data_type == onnx.TensorProto.FLOAT16 for t in dec.graph.initializer)
    else:
        assert "MatMulNBits" in ops
        # int8 compute on CPU (accuracy_level 4), the level the q4 speed figures were measured at
        levels = {
            a.i for n in dec.graph.node if n.op_type == "MatMulNBits" for a in n.attribute if a.name == "accuracy_level"
        }
        assert levels == {4}, levels
        vis = onnx.load(str(out / "onnx" / "vision_encoder_q4.onnx"))
        assert "MatMulNBits" in {n.op_type for n in vis.graph.node}
        # The embedding table is int4 too (GatherBlockQuantized), so the q4 folder is small end to end.
        emb = onnx.load(str(out / "onnx" / "embed_tokens_q4.onnx"))
        # (a DeepStack export pads the looked-up rows with zero column blocks)
        ops = [n.op_type for n in emb.graph.node]
        assert ops.count("GatherBlockQuantized") == 1 and "Gather" not in ops, ops
        assert onnx.TensorProto.INT4 in {t.data_type for t in emb.graph.initializer}
        emb_fp32 = (out / "onnx" / "embed_tokens.onnx").stat().st_size
        assert (out / "onnx" / "embed_tokens_q4.onnx").stat().st_size < emb_fp32 / 5
    src = (out / "onnx" / "decoder_model_merged.onnx").stat().st_size
    assert (out / "onnx" / f"decoder_model_merged{SUFFIX[precision]}.onnx").stat().st_size < src


def _prefill_attentions(folder: Path, model, layers):
    """HF eager attention of the prompt (every query row) and the exported decoder's decoder_attentions at prefill
    and at the first decode step (teacher-forced on HF's greedy tokens)."""
    from sayo_train.hf_export.check import run_onnx

    ref = hf_reference(model, prompt_inputs(folder, check_image()), layers, max_new_tokens=2)
    got = run_onnx(folder, ref, "fp32", model.config.image_token_id)
    return ref, got


@pytest.mark.parametrize("fam", FAMILIES)
def test_attention_outputs_carry_the_last_row(exported, fam):
    """Default export: each decoder_attentions output is [1, heads, 1, total] at prefill and at decode, equal to the
    last query row of transformers' eager attention (output_attentions=True) within 1e-5."""
    _src, out, model, rep = exported[fam]
    ref, got = _prefill_attentions(out, model, rep.layers)
    S = ref.inputs["input_ids"].shape[1]
    H = model.config.text_config.num_attention_heads
    for step, (r, g) in enumerate(zip(ref.attentions, got["attentions"])):
        for layer in rep.layers:
            assert r[layer].shape == (H, S if step == 0 else 1, S + step)
            assert g[layer].shape == (H, 1, S + step), (step, layer, g[layer].shape)
            assert float(np.abs(g[layer][:, 0, :] - r[layer][:, -1, :]).max()) <= 1e-5


def test_attention_rows_all_keeps_every_row(exported, tmp_path):
    """ExportConfig(attention_rows="all"): every query row, [1, heads, q, total], equal to eager attention within
    1e-5; an unknown value is refused before anything is written."""
    src, _out, model, _rep = exported["qwen2_vl"]
    with pytest.raises(ExportError, match="attention_rows 'first'"):
        export_checkpoint(src, tmp_path / "bad", ExportConfig(attention_rows="first"))
    assert not (tmp_path / "bad").exists()
    rep = export_checkpoint(src, tmp_path / "all", ExportConfig(layers="all", attention_rows="all"))
    dec = onnx.load(str(tmp_path / "all" / "onnx" / "decoder_model_merged.onnx"))
    outs = {o.name: o for o in dec.graph.output}
    assert _dims(outs["decoder_attentions.1"])[2] == "sequence_length"
    ref, got = _prefill_attentions(tmp_path / "all", model, rep.layers)
    S = ref.inputs["input_ids"].shape[1]
    for layer in rep.layers:
        assert got["attentions"][0][layer].shape[1] == S
        assert float(np.abs(got["attentions"][0][layer] - ref.attentions[0][layer]).max()) <= 1e-5


@pytest.mark.parametrize("fam", FAMILIES)
def test_vision_graph_serves_every_grid(exported, fam):
    """Grids unlike the traced one (several windows, non-square, two images in one call) against HF's tower."""
    _src, out, model, _rep = exported[fam]
    vis, _t, _h = parts(model)
    vc = model.config.vision_config
    C = 3 * vc.temporal_patch_size * vc.patch_size**2
    sess = ort.InferenceSession(str(out / "onnx" / "vision_encoder.onnx"), providers=["CPUExecutionProvider"])
    grid_name = sess.get_inputs()[1].name
    g = torch.Generator().manual_seed(1)
    cases = [[list(TRACE_GRID)], [[1, 10, 8]], [[1, 6, 14]], [[1, 4, 6], [1, 8, 4]]]
    for grid in cases:
        n = sum(t * h * w for t, h, w in grid)
        pv = torch.randn(n, C, generator=g)
        with torch.no_grad():
            ref = vis(pv, torch.tensor(grid))
        # Qwen3-VL's tower returns (features, [DeepStack features in block order]): the graph's column blocks
        ref = (torch.cat([ref[0], *ref[1]], -1) if isinstance(ref, tuple) else ref).numpy()
        got = sess.run(None, {"pixel_values": pv.numpy(), grid_name: np.array(grid, np.int64)})[0]
        assert got.shape == ref.shape, grid
        assert float(np.abs(got - ref).max()) <= 1e-4, (grid, float(np.abs(got - ref).max()))


@pytest.mark.skipif(not HAS_NODE, reason="node + node_modules needed for the engine")
@pytest.mark.parametrize("fam", FAMILIES)
def test_engine_matches_hf(exported, fam, tmp_path):
    """`npx sayo ask --json` on the exported folder: HF's greedy tokens and, per generated token, the head-mean
    share of the last layer's attention row on the image tokens (the figure the app draws) within 1e-4."""
    _src, out, model, _rep = exported[fam]
    cell = PATCH[CASES[fam][0]] * 2
    img = check_image((5 * cell, 4 * cell))  # already the processor's size: both resize paths are the identity
    img.save(tmp_path / "img.png")
    inputs = prompt_inputs(out, img)
    last = model.config.text_config.num_hidden_layers - 1
    ref = hf_reference(model, inputs, [last], max_new_tokens=8)
    ids = inputs["input_ids"][0].numpy()
    shares = []
    for step in ref.attentions:
        row = step[last][:, -1, :]
        cols = np.zeros(row.shape[-1], bool)
        cols[: len(ids)] = ids == model.config.image_token_id
        shares.append(float((row[:, cols].sum(-1) / row.sum(-1)).mean()))
    r = subprocess.run(
        [
            "npx",
            "sayo",
            "ask",
            "--model",
            str(out),
            "--image",
            str(tmp_path / "img.png"),
            "--question",
            "Where is the red circle?",
            "--json",
            "--max-new-tokens",
            "8",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout)
    assert [t["tokenId"] for t in got["tokens"]] == ref.tokens
    assert got["attentionNote"] is None
    diff = max(abs(a - t["imageShare"]) for a, t in zip(shares, got["tokens"]))
    assert diff <= 1e-4, diff


def _cli(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(TRAINING))
    return subprocess.run(
        [sys.executable, "-m", "sayo_train", "export", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _main(*args):
    """The CLI's main() in this process (the subprocess test above covers the entry point); (exit code, stderr)."""
    import contextlib
    import io

    from sayo_train.__main__ import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["export", *map(str, args)])
    return rc, err.getvalue()


def test_cli_lora_merge_and_external_data(exported, tmp_path):
    """Base + peft LoRA adapter through the CLI, every graph with external data (<name>.onnx_data, declared in
    config.json as transformers.js reads it), checked against the merged model; the adapter must change logits."""
    from peft import LoraConfig, get_peft_model

    src, base_out, _m, _rep = exported["qwen2_5_vl"]
    base = load_checkpoint(src)
    torch.manual_seed(5)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    peft_model.save_pretrained(tmp_path / "adapter")
    out = tmp_path / "merged"
    r = _cli(
        src, "--out", out, "--adapter", tmp_path / "adapter", "--layers", "last", "--external-data", "always", "--check"
    )
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads(r.stdout)
    assert rep["layers"] == [1] and rep["check"]["fp32"]["tokens_equal"]
    assert rep["check"]["fp32"]["logits"] <= 1e-4 and rep["check"]["fp32"]["attention"] <= 1e-4
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["transformers.js_config"]["use_external_data_format"] == {f"{g}.onnx": 1 for g in GRAPHS}
    for g in GRAPHS:
        assert (out / "onnx" / f"{g}.onnx_data").stat().st_size > (out / "onnx" / f"{g}.onnx").stat().st_size
    # The merged decoder is not the base decoder: same inputs, different logits.
    feeds = {
        "inputs_embeds": np.random.default_rng(0).standard_normal((1, 3, 64)).astype(np.float32),
        "attention_mask": np.ones((1, 3), np.int64),
        "position_ids": np.tile(np.arange(3), (3, 1, 1)),
    }
    feeds.update(
        {f"past_key_values.{i}.{k}": np.zeros((1, 2, 0, 16), np.float32) for i in range(2) for k in ("key", "value")}
    )
    a = ort.InferenceSession(str(out / "onnx" / "decoder_model_merged.onnx")).run(["logits"], feeds)[0]
    b = ort.InferenceSession(str(base_out / "onnx" / "decoder_model_merged.onnx")).run(["logits"], feeds)[0]
    assert float(np.abs(a - b).max()) > 1e-3
    if HAS_NODE:
        (tmp_path / "i.png").write_bytes(b"")
        check_image((140, 112)).save(tmp_path / "i.png")
        r = subprocess.run(
            [
                "npx",
                "sayo",
                "ask",
                "--model",
                str(out),
                "--image",
                str(tmp_path / "i.png"),
                "--question",
                "Where?",
                "--json",
                "--max-new-tokens",
                "3",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr[-2000:]
        assert len(json.loads(r.stdout)["tokens"]) >= 1


def _greedy_check(model, folder: Path, images: list, max_new_tokens: int) -> dict:
    """check.compare() of the fp32 graphs, fed their own argmax, against HF generate() on a prompt with `images`."""
    from sayo_train.hf_export.check import compare, run_onnx

    ref = hf_reference(
        model, prompt_inputs(folder, images), [model.config.text_config.num_hidden_layers - 1], max_new_tokens
    )
    return compare(ref, run_onnx(folder, ref, "fp32", model.config.image_token_id, greedy=True))


@pytest.mark.parametrize("fam", DEEPSTACK)
def test_deepstack_two_images_sixteen_tokens(exported, fam):
    """Two images of sizes the graphs were not traced with, in one prompt: the graphs' own greedy answer over 16 new
    tokens is HF's, logits ≤ 1e-4, last-layer attention ≤ 1e-5."""
    _src, out, model, _rep = exported[fam]
    r = _greedy_check(model, out, [check_image((150, 100), seed=1), check_image((90, 170), seed=2)], 16)
    assert r["steps"] == 16 and r["tokens_equal"], r
    assert r["logits"] <= 1e-4 and r["attention"] <= 1e-5, r


def test_without_deepstack_the_export_does_not_match(exported, tmp_path, monkeypatch):
    """The control: the same checkpoint exported as if it had no DeepStack (what a Qwen3-VL export without the
    feature inputs computes) fails the check against HF, so the DeepStack tests cannot pass by accident."""
    import dataclasses

    import sayo_train.hf_export as hf_export

    src, _out, model, _rep = exported["qwen3_vl_ds012"]
    real = hf_export.family_of
    monkeypatch.setattr(hf_export, "family_of", lambda cfg: dataclasses.replace(real(cfg), deepstack=()))
    export_checkpoint(src, tmp_path / "no-ds", ExportConfig(layers="last"))
    from sayo_train.hf_export.check import check_folder, failures

    rep = check_folder(model, tmp_path / "no-ds", [model.config.text_config.num_hidden_layers - 1], ["fp32"], 16)
    print("\nwithout DeepStack:", rep["fp32"])
    assert failures(rep) and rep["fp32"]["logits"] > 1e-2, rep
    onnx_cols = _dims(onnx.load(str(tmp_path / "no-ds" / "onnx" / "vision_encoder.onnx")).graph.output[0])[1]
    assert onnx_cols == model.config.text_config.hidden_size
    if HAS_NODE:
        # `sayo inspect` names the mismatch between config.json's DeepStack indexes and the graphs, with its fix
        r = subprocess.run(
            ["npx", "sayo", "inspect", str(tmp_path / "no-ds")], cwd=REPO, capture_output=True, text=True, timeout=300
        )
        bad = [line for line in r.stdout.splitlines() if "✗" in line]
        assert r.returncode != 0 and len(bad) == 3, r.stdout[-3000:]
        assert all("carries no DeepStack features" in line and "sayo_train export" in line for line in bad), bad


def test_deepstack_in_any_order_and_more_features_than_layers(tmp_path):
    """Index order as the config lists it ([3, 1] pairs block 1 with the second merger, as HF's tower does) and more
    DeepStack features than text layers (HF adds only the first `layers` of them): fp32 equals HF."""
    build_tiny("qwen3_vl", tmp_path / "hf", seed=3, deepstack=[3, 1, 2], text_layers=2, vision_depth=4)
    rep = export_checkpoint(tmp_path / "hf", tmp_path / "out", ExportConfig(layers="all", check=True, check_tokens=8))
    r = rep.check["fp32"]
    assert r["tokens_equal"] and r["logits"] <= 1e-4 and r["attention"] <= 1e-5, r


@pytest.mark.parametrize("indexes, says", [([0, 0], "distinct"), ([2], "0..1")])
def test_bad_deepstack_indexes_named(tmp_path, indexes, says):
    """A config whose DeepStack indexes name no vision block, or one twice, is refused in one line."""
    build_tiny("qwen3_vl", tmp_path / "ds", deepstack=[0])
    cfg = json.loads((tmp_path / "ds" / "config.json").read_text())
    cfg["vision_config"]["deepstack_visual_indexes"] = indexes
    (tmp_path / "ds" / "config.json").write_text(json.dumps(cfg))
    rc, err = _main(tmp_path / "ds", "--out", tmp_path / "out")
    lines = [line for line in err.splitlines() if line.startswith("sayo_train export:")]
    assert rc == 1 and len(lines) == 1 and "deepstack_visual_indexes" in lines[0] and says in lines[0], err[-2000:]
    assert not (tmp_path / "out" / "onnx").exists()


@pytest.mark.parametrize(
    "args, says",
    [
        (["--layers", "7"], "layer 7 out of range: the decoder has 2 layers"),
        (["--layers", "first"], "accepted are last, all, none"),
        (["--precisions", "fp32,int3"], "precision 'int3' unknown: accepted are fp32, fp16, q8, q4, q4f16"),
    ],
)
def test_bad_arguments_named(exported, tmp_path, args, says):
    src = exported["qwen2_vl"][0]
    rc, err = _main(src, "--out", tmp_path / "o", *args)
    assert rc == 1 and says in err, err[-1500:]
    assert not (tmp_path / "o" / "onnx").exists()


def test_not_a_checkpoint(tmp_path):
    rc, err = _main(tmp_path, "--out", tmp_path / "o")
    assert rc == 1 and "no config.json" in err


@pytest.mark.skipif(
    os.environ.get("SAYO_EXPORT_2B") != "1",
    reason="opt-in (SAYO_EXPORT_2B=1): Qwen2-VL-2B dimensions, minutes and tens of GB of RAM",
)
def test_qwen2_vl_2b_dimensions_q4_external_data(tmp_path):
    """Random weights at Qwen2-VL-2B's real widths (depth from SAYO_EXPORT_2B_LAYERS / _VISION_DEPTH, default the
    real 28 / 32), exported in fp32 + q4: external data where a graph passes 1.8 GB, every file under protobuf's 2 GB,
    the q4 set small enough for wasm32's 4 GB; prints sizes and wall times."""
    import time

    from sayo_train.hf_export.tiny import qwen2_vl_2b_config

    layers = int(os.environ.get("SAYO_EXPORT_2B_LAYERS", "28"))
    depth = int(os.environ.get("SAYO_EXPORT_2B_VISION_DEPTH", "32"))
    t0 = time.time()
    build_tiny("qwen2_vl", tmp_path / "hf", config_fn=lambda tok: qwen2_vl_2b_config(tok, layers, depth))
    built = time.time() - t0
    rep = export_checkpoint(
        tmp_path / "hf",
        tmp_path / "out",
        ExportConfig(layers="last", precisions=("fp32", "q4"), check=True, check_tokens=4),
    )
    # check=True already failed the export unless fp32 matched HF to 1e-4; q4's figures are reported
    print(f"\nQwen2-VL-2B widths, {layers} text layers, {depth} vision blocks: built in {built:.0f} s")
    print(
        json.dumps(
            {
                "seconds": {k: round(v, 1) for k, v in rep.seconds.items()},
                "external": rep.external,
                "MB": {k: round(v / 1e6, 1) for k, v in rep.files.items() if k.startswith("onnx/")},
                "check": rep.check,
            },
            indent=1,
        )
    )
    for name, size in rep.files.items():
        if name.endswith(".onnx"):
            assert size < 2**31, name
    for g in GRAPHS:
        fp32 = rep.files.get(f"onnx/{g}.onnx", 0) + rep.files.get(f"onnx/{g}.onnx_data", 0)
        assert (f"{g}.onnx" in rep.external) == (fp32 > 1.8e9 * 1.01), (g, fp32, rep.external)
    q4 = sum(v for k, v in rep.files.items() if k.startswith("onnx/") and "_q4" in k)
    assert q4 < 4 * 2**30, q4
    # The int4 embedding table (151936 × 1536): measured 145.9 MB against 933.5 MB in fp32.
    assert rep.files["onnx/embed_tokens_q4.onnx"] < rep.files["onnx/embed_tokens.onnx"] / 5
    assert rep.check["fp32"]["tokens_equal"]


def test_check_failures_named():
    from sayo_train.hf_export.check import failures

    ok = {"logits": 1e-6, "attention": 1e-7, "row_sum": 1e-7, "tokens_equal": True}
    assert failures({"fp32": ok, "q4": dict(ok, logits=3.0, tokens_equal=False)}) == []
    assert failures({"fp32": dict(ok, attention=2e-4)}) == [
        "fp32: logits 1e-06, attention 0.0002 (limit 0.0001), greedy tokens equal"
    ]
    assert failures({"fp32": dict(ok, tokens_equal=False)})[0].endswith("greedy tokens differ")
    assert failures({"q8": dict(ok, row_sum=0.01)}) == ["q8: attention rows sum to 1 ± 0.01 (limit 0.001)"]
    assert failures({"fp16": dict(ok, logits=float("nan"))}) == ["fp16: non-finite outputs"]


@pytest.mark.skipif(not HAS_NODE, reason="node + node_modules needed for the CLI")
@pytest.mark.parametrize("fam", FAMILIES)
def test_inspect_passes_on_export(exported, fam):
    """`npx sayo inspect` (the contract check, with the vision grid input each family's transformers.js class feeds:
    grid_thw for Qwen2-VL, image_grid_thw for Qwen2.5-VL / Qwen3-VL) on an exported folder: every check passes."""
    out = exported[fam][1]
    r = subprocess.run(["npx", "sayo", "inspect", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and " 0 failed" in r.stdout, r.stdout[-3000:]


def test_model_object_api(exported, tmp_path):
    """The trainer's call: a model object in memory plus the folder with its tokenizer/processor files."""
    src, _out, model, _rep = exported["qwen2_5_vl"]
    with pytest.raises(ExportError, match="pass ExportConfig.processor_dir"):
        export_checkpoint(model, tmp_path / "a")
    rep = export_checkpoint(model, tmp_path / "b", ExportConfig(processor_dir=src, check=True, check_tokens=4))
    assert rep.family == "qwen2_5_vl" and rep.layers == [1]
    assert rep.check["fp32"]["tokens_equal"] and rep.check["fp32"]["logits"] <= 1e-4
    assert json.loads((tmp_path / "b" / "export_report.json").read_text())["layers"] == [1]
