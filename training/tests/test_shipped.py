"""The shipped SAYO-mini pair and fixtures follow models/CONTRACT.md (read-only checks; nothing is retrained)."""

import json
from pathlib import Path

import onnx
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["sayo-mini-base", "sayo-mini"])
def test_model_folder(name):
    d = REPO / "models" / name
    cfg = json.loads((d / "config.json").read_text())
    # SAYO-Qwen-8B's class: Qwen3-VL with DeepStack, 32 px cells, its DeepStack carried as column blocks
    assert cfg["model_type"] == "qwen3_vl" and cfg["transformers.js_config"] == {"dtype": "fp32"}
    assert cfg["architectures"] == ["Qwen3VLForConditionalGeneration"]
    ds = cfg["vision_config"]["deepstack_visual_indexes"]
    assert ds and cfg["vision_config"]["patch_size"] * cfg["vision_config"]["spatial_merge_size"] == 32
    gen = json.loads((d / "generation_config.json").read_text())
    tokc = json.loads((d / "tokenizer_config.json").read_text())
    tj = json.loads((d / "tokenizer.json").read_text())
    added = {t["content"]: t["id"] for t in tj["added_tokens"]}
    assert gen["eos_token_id"] == [added["<|im_end|>"], added["<|endoftext|>"]]
    assert cfg["image_token_id"] == added["<|image_pad|>"]
    assert cfg["vision_start_token_id"] == added["<|vision_start|>"]
    assert tokc["chat_template"]
    size = sum(p.stat().st_size for p in (d / "onnx").glob("*.onnx"))
    assert size <= 15 * 1024 * 1024
    dec = onnx.load(str(d / "onnx" / "decoder_model_merged.onnx"), load_external_data=False)
    outs = [o.name for o in dec.graph.output]
    L = cfg["text_config"]["num_hidden_layers"]
    assert outs[-L:] == [f"decoder_attentions.{i}" for i in range(L)]
    width = dec.graph.input[0].type.tensor_type.shape.dim[2].dim_value
    assert width == cfg["text_config"]["hidden_size"] * (1 + len(ds))
    assert (d / "TRAINING.md").exists()


def test_noattn_decoder_fixture():
    p = REPO / "fixtures" / "onnx" / "sayo-mini-decoder-noattn.onnx"
    if not p.exists():
        pytest.skip("written by the sayo-mini export stage")
    dec = onnx.load(str(p), load_external_data=False)
    outs = [o.name for o in dec.graph.output]
    assert outs[0] == "logits" and not any(o.startswith("decoder_attentions") for o in outs)
