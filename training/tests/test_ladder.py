"""The scale ladder's two smallest rungs: the shipped mini and a freshly built 25m, exported by the trainer's exporter,
checked in onnxruntime-node, then served from the cache on the second call."""
import json
from pathlib import Path

import pytest

from sayo_train import ladder


def test_list_names_every_rung(capsys):
    assert ladder.main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in ladder.ORDER:
        assert f"{name}:" in out
    assert "not built" in out  # the 2b rung says why


def test_unknown_rung_is_refused_with_the_accepted_names(tmp_path, capsys):
    assert ladder.main(["--rungs", "7b", "--cache", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown rung '7b'" in err and "mini, 25m, 100m, 500m, 2b" in err


def test_two_smallest_rungs_build_once_and_are_cached(tmp_path):
    first = ladder.ensure(["mini", "25m"], cache=tmp_path, log=lambda s: None)
    mini, r25 = first
    assert mini["shipped"] and not mini["built"] and mini["layers"] == 4
    assert 1.0e6 < mini["params"] < 2.0e6
    assert r25["built"] and 20e6 < r25["params"] < 30e6
    folder = Path(r25["path"])
    assert folder.parent == tmp_path and folder.name == f"25m-{ladder.rung_key(ladder.RUNGS['25m'])}"
    meta = json.loads((folder / "LADDER.json").read_text())
    # the export check ran: ONNX vs PyTorch logits and attentions within tolerance, rows summing to 1
    assert meta["check"]["prefill.logits"] < 1e-3 and meta["check"]["decode.attention"] < 1e-4
    cfg = json.loads((folder / "config.json").read_text())
    assert (cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["vocab_size"]) == (8, 6, 8192)
    tok = json.loads((folder / "tokenizer.json").read_text())
    assert len(tok["model"]["vocab"]) + len(tok["added_tokens"]) == 8192  # every id the random model can pick decodes
    for view in (Path(mini["noattn"]), Path(r25["noattn"])):
        assert (view / "onnx" / "decoder_model_merged.onnx").resolve().name.endswith("noattn.onnx")
        assert (view / "config.json").exists()
    again = ladder.ensure(["25m"], cache=tmp_path, log=lambda s: None)
    assert not again[0]["built"] and again[0]["path"] == r25["path"]


def test_2b_is_opt_out_with_its_reason(tmp_path):
    with pytest.raises(ladder.LadderError, match="2 GB"):
        ladder.ensure(["2b"], cache=tmp_path)
