"""The streamed export (ExportConfig(streamed=True), `sayo_train export --streamed`): graphs put together piece by
piece from weights read one tensor at a time. On tiny random checkpoints of Hugging Face's own classes it must equal
the whole-model export (fp32 logits and attention within 1e-6 on the same inputs, and Hugging Face within the usual
1e-4), hold at most one piece's weights at a time, split external data into chunks transformers.js loads, and merge a
LoRA adapter as peft does."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from sayo_train.hf_export import ExportConfig, assemble, export_checkpoint
from sayo_train.hf_export.check import check_image, hf_reference, prompt_inputs, run_onnx
from sayo_train.hf_export.tiny import PATCH, build_tiny
from sayo_train.hf_export.weights import Live

REPO = Path(__file__).resolve().parents[2]
HAS_NODE = shutil.which("node") is not None and (REPO / "node_modules" / "@huggingface" / "transformers").exists()
CASES = {
    "qwen2_vl": ("qwen2_vl", {}),
    "qwen2_5_vl": ("qwen2_5_vl", {}),
    "qwen3_vl_ds012": ("qwen3_vl", {"deepstack": [0, 1, 2], "text_layers": 3, "vision_depth": 3}),
}
PRECISIONS = ("fp32", "fp16", "q8", "q4")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """case -> (checkpoint, whole-model export, streamed export, HF model)."""
    root = tmp_path_factory.mktemp("streamed")
    out = {}
    for i, (case, (mt, kw)) in enumerate(CASES.items()):
        src = root / f"{case}-hf"
        model = build_tiny(mt, src, seed=10 + i, **kw)
        export_checkpoint(src, root / f"{case}-whole", ExportConfig(layers="all", precisions=PRECISIONS))
        Live.now = Live.peak = 0
        rep = export_checkpoint(
            src, root / f"{case}-streamed", ExportConfig(layers="all", precisions=PRECISIONS, streamed=True, check=True)
        )
        out[case] = (src, root / f"{case}-whole", root / f"{case}-streamed", model, rep, Live.peak)
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_streamed_equals_whole_model_export(pairs, case):
    """Same logits and attention as the whole-model export in fp32 (≤ 1e-6), Hugging Face's greedy tokens, and the
    quantized variants as close to Hugging Face as the whole-model export's (within a factor of 2 + the fp16 Casts)."""
    _src, whole, streamed, model, rep, _peak = pairs[case]
    assert rep.check["fp32"]["tokens_equal"] and rep.check["fp32"]["logits"] <= 1e-4, rep.check["fp32"]
    ref = hf_reference(
        model, prompt_inputs(streamed, check_image()), list(range(model.config.text_config.num_hidden_layers)), 6
    )
    for p in PRECISIONS:
        a = run_onnx(whole, ref, p, model.config.image_token_id)
        b = run_onnx(streamed, ref, p, model.config.image_token_id)
        dl = max(float(np.abs(x - y).max()) for x, y in zip(a["logits"], b["logits"]))
        da = max(
            float(np.abs(x[layer] - y[layer]).max()) for x, y in zip(a["attentions"], b["attentions"]) for layer in x
        )
        if p in ("fp32", "q4", "q8"):
            # the same operators on the same weights (q4 / q8 quantize each weight on its own)
            assert dl <= 1e-5 and da <= 1e-6, (p, dl, da)
        else:
            # fp16 pieces keep float32 at their boundaries: closer to fp32, not bit-equal to the whole graph
            assert rep.check[p]["logits"] <= 0.25 and rep.check[p]["attention"] <= 0.02, (p, rep.check[p])


@pytest.mark.parametrize("case", list(CASES))
def test_one_piece_at_a_time(pairs, case):
    """The weights materialized at any moment never exceed the largest piece: the vision tower, or one layer."""
    _src, _whole, _streamed, model, _rep, peak = pairs[case]
    layer = max(sum(p.numel() * 4 for p in block.parameters()) for block in model.model.language_model.layers)
    vision = sum(p.numel() * 4 for p in model.model.visual.parameters())
    total = sum(p.numel() * 4 for p in model.parameters())
    assert 0 < peak <= max(layer, vision) < total, (peak, layer, vision, total)


def test_layout_declares_the_same_inputs_and_outputs(pairs):
    """Graph inputs and outputs, names, types and declared shapes, as the whole-model export's."""
    _src, whole, streamed, _m, _r, _p = pairs["qwen3_vl_ds012"]
    for g in ("embed_tokens", "decoder_model_merged", "embed_tokens_q4", "decoder_model_merged_q4"):
        a = onnx.load(str(whole / "onnx" / f"{g}.onnx"), load_external_data=False).graph
        b = onnx.load(str(streamed / "onnx" / f"{g}.onnx"), load_external_data=False).graph
        assert [str(v) for v in a.input] == [str(v) for v in b.input], g
        assert [str(v) for v in a.output] == [str(v) for v in b.output], g


@pytest.mark.skipif(not HAS_NODE, reason="node + node_modules needed for the engine")
def test_chunked_external_data_loads_in_transformers_js(tmp_path, monkeypatch):
    """Chunks forced small: the decoder's weights span several <file>.onnx_data[_i] files, config.json counts them
    as transformers.js reads them, and `npx sayo ask` (transformers.js in Node) answers with Hugging Face's tokens."""
    monkeypatch.setattr(assemble, "CHUNK_BYTES", 64 * 1024)
    build_tiny("qwen3_vl", tmp_path / "hf", seed=3, deepstack=[0, 1], text_layers=2, vision_depth=2)
    rep = export_checkpoint(tmp_path / "hf", tmp_path / "out", ExportConfig(layers="last", streamed=True))
    cfg = json.loads((tmp_path / "out" / "config.json").read_text())
    chunks = cfg["transformers.js_config"]["use_external_data_format"]
    assert chunks["decoder_model_merged.onnx"] >= 3, chunks
    dec = onnx.load(str(tmp_path / "out" / "onnx" / "decoder_model_merged.onnx"), load_external_data=False)
    per_chunk = {}
    for t in dec.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            loc = {e.key: e.value for e in t.external_data}["location"]
            per_chunk[loc] = per_chunk.get(loc, 0) + 1
    for i in range(chunks["decoder_model_merged.onnx"]):
        name = "decoder_model_merged.onnx_data" + (f"_{i}" if i else "")
        size = (tmp_path / "out" / "onnx" / name).stat().st_size
        # within the chunk size, or one tensor larger than a chunk alone in its own
        assert 0 < size <= 64 * 1024 or per_chunk[name] == 1, (name, size, per_chunk[name])
    model = build_tiny("qwen3_vl", tmp_path / "hf2", seed=3, deepstack=[0, 1], text_layers=2, vision_depth=2)
    cell = PATCH["qwen3_vl"] * 2
    img = check_image((5 * cell, 4 * cell))
    img.save(tmp_path / "img.png")
    ref = hf_reference(model, prompt_inputs(tmp_path / "out", img), [1], 6)
    r = subprocess.run(
        [
            "npx",
            "sayo",
            "ask",
            "--model",
            str(tmp_path / "out"),
            "--image",
            str(tmp_path / "img.png"),
            "--question",
            "Where is the red circle?",
            "--json",
            "--max-new-tokens",
            "6",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert [t["tokenId"] for t in json.loads(r.stdout)["tokens"]] == ref.tokens
    assert rep.external


def test_lora_adapter_merged_as_peft_does(tmp_path):
    """A peft LoRA adapter merged tensor by tensor equals peft's merge_and_unload in the whole-model export."""
    from peft import LoraConfig, get_peft_model
    from sayo_train.hf_export import load_checkpoint

    build_tiny("qwen3_vl", tmp_path / "hf", seed=4, deepstack=[0])
    torch.manual_seed(5)
    peft_model = get_peft_model(
        load_checkpoint(tmp_path / "hf"),
        LoraConfig(
            r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj", "linear_fc1"], init_lora_weights=False
        ),
    )
    peft_model.save_pretrained(tmp_path / "adapter")
    whole = export_checkpoint(tmp_path / "hf", tmp_path / "whole", ExportConfig(adapter=tmp_path / "adapter"))
    rep = export_checkpoint(
        tmp_path / "hf", tmp_path / "streamed", ExportConfig(adapter=tmp_path / "adapter", streamed=True, check=True)
    )
    assert rep.check["fp32"]["tokens_equal"] and rep.check["fp32"]["logits"] <= 1e-4, rep.check
    base = export_checkpoint(tmp_path / "hf", tmp_path / "base", ExportConfig(streamed=True))
    model = load_checkpoint(tmp_path / "hf", tmp_path / "adapter")
    ref = hf_reference(model, prompt_inputs(tmp_path / "whole", check_image()), [1], 4)
    a = run_onnx(whole.out_dir, ref, "fp32", model.config.image_token_id)["logits"]
    b = run_onnx(rep.out_dir, ref, "fp32", model.config.image_token_id)["logits"]
    c = run_onnx(base.out_dir, ref, "fp32", model.config.image_token_id)["logits"]
    assert max(float(np.abs(x - y).max()) for x, y in zip(a, b)) <= 1e-5
    assert max(float(np.abs(x - y).max()) for x, y in zip(a, c)) > 1e-3  # the adapter changes the answer
