"""Export: the three graphs in the contract layout, checked in onnxruntime-node against PyTorch; a mismatch fails."""
import json
import random
import shutil
from pathlib import Path

import onnx
import pytest
import torch

from sayo_train.common import build_tokenizer, model_cfg, processor_for
from sayo_train.data import make_scene
from sayo_train.export import ExportError, check_export, write_folder
from sayo_train.model import SayoMini
from sayo_train.spec import load_spec

JOBS = Path(__file__).resolve().parents[1] / "jobs"
REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("node") is None or not (REPO / "node_modules" / "onnxruntime-node").exists(),
                                reason="node + onnxruntime-node needed")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    spec = load_spec(JOBS / "smoke.yaml")
    tok = build_tokenizer()
    torch.manual_seed(3)
    m = SayoMini(model_cfg(spec.model, tok)).eval()
    out = tmp_path_factory.mktemp("exp") / "m"
    write_folder(m, tok, processor_for(spec.model), out, [0, 1])
    return m, tok, processor_for(spec.model), out


def test_layout_and_io_names(exported):
    m, _tok, _p, out = exported
    for f in ("config.json", "generation_config.json", "preprocessor_config.json", "tokenizer.json",
              "tokenizer_config.json", "onnx/vision_encoder.onnx", "onnx/embed_tokens.onnx",
              "onnx/decoder_model_merged.onnx"):
        assert (out / f).exists(), f
    dec = onnx.load(str(out / "onnx" / "decoder_model_merged.onnx"))
    ins = [i.name for i in dec.graph.input]
    outs = [o.name for o in dec.graph.output]
    assert ins[:3] == ["inputs_embeds", "attention_mask", "position_ids"]
    assert ins[3:5] == ["past_key_values.0.key", "past_key_values.0.value"]
    assert outs[0] == "logits" and outs[-2:] == ["decoder_attentions.0", "decoder_attentions.1"]
    pk = dec.graph.input[3].type.tensor_type.shape.dim
    assert pk[0].dim_param == "batch_size" and pk[1].dim_value == m.cfg.text.num_kv_heads
    assert pk[2].dim_param == "past_sequence_length" and pk[3].dim_value == m.cfg.text.head_dim
    for i in dec.graph.input[1:3]:
        assert i.type.tensor_type.elem_type == onnx.TensorProto.INT64
    vis = onnx.load(str(out / "onnx" / "vision_encoder.onnx"))
    assert [i.name for i in vis.graph.input] == ["pixel_values", "grid_thw"]
    assert [o.name for o in vis.graph.output] == ["image_features"]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "qwen2_vl" and cfg["image_token_id"] == m.cfg.image_token_id
    pc = json.loads((out / "preprocessor_config.json").read_text())
    assert pc["do_resize"] is True and pc["do_normalize"] is True


def test_onnx_matches_torch(exported):
    m, tok, proc, out = exported
    img, _ = make_scene(random.Random(4), 84, 140)
    rep = check_export(m, out / "onnx", tok, proc, img, "What color is the circle?", [0, 1])
    assert rep["prefill.logits"] <= 1e-4 and rep["decode.attention"] <= 1e-4


def test_check_fails_on_mismatch(exported):
    m, tok, proc, out = exported
    img, _ = make_scene(random.Random(4), 84, 140)
    with torch.no_grad():
        m.lm_head.weight[0] += 0.5  # the graphs no longer match these weights
    try:
        with pytest.raises(ExportError, match="logits"):
            check_export(m, out / "onnx", tok, proc, img, "What color is the circle?", [0, 1])
    finally:
        with torch.no_grad():
            m.lm_head.weight[0] -= 0.5
