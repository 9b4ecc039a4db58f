"""The scale ladder's two smallest rungs: the shipped mini and a freshly built 25m (Qwen2VLForConditionalGeneration with
random weights, exported by sayo_train.hf_export and checked against Hugging Face in onnxruntime), then served from
the cache on the second call."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sayo_train import ladder


def test_list_names_every_rung(capsys):
    assert ladder.main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in ladder.ORDER:
        assert f"{name}:" in out
    assert "opt-in, built light: measured" in out  # the 2b rung says why


def test_unknown_rung_is_refused_with_the_accepted_names(tmp_path, capsys):
    assert ladder.main(["--rungs", "7b", "--cache", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown rung '7b'" in err and "mini, 25m, 100m, 500m, 2b" in err


def test_two_smallest_rungs_build_once_and_are_cached(tmp_path):
    first = ladder.ensure(["mini", "25m"], cache=tmp_path, log=lambda s: None, quantized=True)
    mini, r25 = first
    assert mini["shipped"] and not mini["built"] and mini["layers"] == 4
    assert 1.0e6 < mini["params"] < 2.0e6
    assert r25["built"] and r25["builder"] == "hf" and 20e6 < r25["params"] < 30e6
    folder = Path(r25["path"])
    assert folder.parent == tmp_path and folder.name == f"25m-hf-{ladder.rung_key(ladder.RUNGS['25m'])}"
    meta = json.loads((folder / "LADDER.json").read_text())
    # the exporter's check ran: onnxruntime vs Hugging Face, logits and attentions within tolerance, same tokens
    fp32 = meta["check"]["fp32"]
    assert fp32["logits"] < 1e-3 and fp32["attention"] < 1e-4 and fp32["tokens_equal"]
    fp32_bytes = (folder / "onnx" / "decoder_model_merged.onnx").stat().st_size
    assert (folder / "onnx" / "decoder_model_merged_q4.onnx").stat().st_size < fp32_bytes / 4
    assert (folder / "onnx" / "decoder_model_merged_quantized.onnx").stat().st_size < fp32_bytes / 2  # q8
    cfg = json.loads((folder / "config.json").read_text())
    assert (cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["vocab_size"]) == (8, 6, 8192)
    tok = json.loads((folder / "tokenizer.json").read_text())
    assert len(tok["model"]["vocab"]) + len(tok["added_tokens"]) == 8192  # every id the random model can pick decodes
    import onnx

    for entry, model in ((mini, mini["path"]), (r25, r25["path"])):
        outputs = lambda f: [o.name for o in onnx.load(str(f), load_external_data=False).graph.output]  # noqa: E731
        view = Path(entry["noattn"])
        assert (view / "config.json").exists()
        assert not [o for o in outputs(view / "onnx" / "decoder_model_merged.onnx") if "attentions" in o]
        assert (
            len([o for o in outputs(Path(model) / "onnx" / "decoder_model_merged.onnx") if "attentions" in o])
            == entry["layers"]
        )
    again = ladder.ensure(["25m"], cache=tmp_path, log=lambda s: None, quantized=True)
    assert not again[0]["built"] and again[0]["path"] == r25["path"]


def test_2b_is_opt_in_and_light(capsys):
    """2b is built only when named, and light; the default rungs leave it out."""
    assert ladder.RUNGS["2b"].light and "2b" in ladder.OPT_IN
    assert ladder.quantized_of(ladder.RUNGS["2b"], quantized=False) == ("q4",)
    assert ladder.quantized_of(ladder.RUNGS["25m"], quantized=False) == ()


def test_a_light_rung_has_the_last_layer_q4_and_no_view(tmp_path):
    """The light build the 2b rung gets, run at 25m's dimensions: the last layer's attention, fp32 and q4 only, no
    noattn/ view, and the entry says so (the bench measures capture against the same graph with nothing fetched)."""
    import dataclasses

    import onnx

    r = dataclasses.replace(ladder.RUNGS["25m"], light="test: built light")
    folder = tmp_path / "25m-light"
    meta = ladder.build_rung_hf(r, folder)
    assert meta["light"] == "test: built light" and meta["quantized"] == ["q4"] and meta["check"] == {}
    onnx_dir = folder / "onnx"
    assert (onnx_dir / "decoder_model_merged_q4.onnx").exists()
    assert not (onnx_dir / "decoder_model_merged_quantized.onnx").exists() and not (folder / "noattn").exists()
    outs = [
        o.name
        for o in onnx.load(str(onnx_dir / "decoder_model_merged.onnx"), load_external_data=False).graph.output
        if "attentions" in o.name
    ]
    assert outs == [f"decoder_attentions.{r.layers - 1}"]


def test_mini_view_is_rebuilt_when_its_links_point_into_another_checkout(tmp_path):
    """The cache outlives checkouts (CI clones the repository anew): a view left by a removed checkout is rebuilt."""
    other = tmp_path / "old-checkout"
    other.mkdir()
    first = ladder.mini_entry(tmp_path)
    view = Path(first["noattn"])
    decoder = view / "onnx" / "decoder_model_merged.onnx"
    decoder.unlink()
    decoder.symlink_to(other / "gone.onnx")  # dangling, as after the checkout that made it was removed
    again = ladder.mini_entry(tmp_path)
    assert again["noattn"] == str(view)
    assert decoder.resolve() == ladder.SHIPPED_MINI_NOATTN.resolve() and decoder.exists()
    for f in ladder.VIEW_FILES:
        assert (view / f).resolve() == (ladder.SHIPPED_MINI / f).resolve()


def test_a_deepstack_rung_has_a_twin_without_it(tmp_path):
    """The ds150m rung's build at tiny widths: a Qwen3-VL with DeepStack checked against Hugging Face, and its twin
    with the same weights less the DeepStack mergers, also checked; the two differ only by the DeepStack columns."""
    import dataclasses

    import onnx

    r = dataclasses.replace(
        ladder.RUNGS["ds150m"],
        hidden=64,
        layers=3,
        heads=2,
        kv_heads=1,
        head_dim=32,
        intermediate=96,
        vocab=1024,
        vision_dim=32,
        vision_depth=3,
        vision_heads=2,
        vision_mlp_ratio=1.5,
        mrope=(6, 5, 5),
        deepstack=(0, 2),
    )
    folder = tmp_path / "ds"
    meta = ladder.build_rung_hf(r, folder)
    assert meta["check"]["fp32"]["tokens_equal"] and meta["check"]["fp32"]["logits"] <= 1e-4
    twin = json.loads((folder / ladder.NO_DEEPSTACK / "export_report.json").read_text())["check"]["fp32"]
    assert twin["tokens_equal"] and twin["logits"] <= 1e-4

    def width(f):
        out = onnx.load(str(f / "onnx" / "vision_encoder.onnx"), load_external_data=False).graph.output[0]
        return out.type.tensor_type.shape.dim[1].dim_value

    assert width(folder) == 64 * 3 and width(folder / ladder.NO_DEEPSTACK) == 64
    cfg = json.loads((folder / ladder.NO_DEEPSTACK / "config.json").read_text())
    assert cfg["vision_config"]["deepstack_visual_indexes"] == []
    # the same decoder weights
    from onnx import numpy_helper

    def weights(f):  # the weight matrices (the tracer names them anew in each export), as sorted bytes
        g = onnx.load(str(f / "onnx" / "decoder_model_merged.onnx")).graph
        return sorted(numpy_helper.to_array(t).tobytes() for t in g.initializer if len(t.dims) == 2)

    a = weights(folder)
    assert len(a) >= 3 * 7 and a == weights(folder / ladder.NO_DEEPSTACK)


def test_the_8b_rung_is_written_and_exported_a_piece_at_a_time(tmp_path):
    """The 8b rung's path at tiny widths: a random bfloat16 checkpoint written tensor by tensor, in shards with an
    index, that Hugging Face loads whole (every parameter present); then the streamed export in a child process,
    whose peak RSS and the files' sizes the rung records."""
    import dataclasses

    import onnxruntime as ort
    from transformers import AutoModelForImageTextToText

    r = dataclasses.replace(
        ladder.RUNGS["8b"],
        hidden=64,
        layers=3,
        heads=2,
        kv_heads=1,
        head_dim=32,
        intermediate=96,
        vocab=1024,
        vision_dim=32,
        vision_depth=4,
        vision_heads=2,
        vision_mlp_ratio=1.5,
        mrope=(6, 5, 5),
        deepstack=(0, 2),
    )
    n = ladder.random_checkpoint(r, tmp_path / "hf", shard_bytes=100_000)
    index = json.loads((tmp_path / "hf" / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) >= 2
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "hf")
    assert sum(p.numel() for p in model.parameters()) == n
    meta = ladder.build_rung_hf(r, tmp_path / "8b", quantized=True)
    assert meta["builder"] == "hf-streamed" and meta["quantized"] == ["q4"] and meta["peak_rss_gib"]["export"] > 0
    # the 4-bit set only: a streamed export writes just the precisions asked for
    assert sorted(f.name for f in (tmp_path / "8b" / "onnx").glob("*.onnx")) == [
        "decoder_model_merged_q4.onnx",
        "embed_tokens_q4.onnx",
        "vision_encoder_q4.onnx",
    ]
    for f in ("decoder_model_merged_q4.onnx", "embed_tokens_q4.onnx", "vision_encoder_q4.onnx"):
        ort.InferenceSession(str(tmp_path / "8b" / "onnx" / f), providers=["CPUExecutionProvider"])
    # transformers.js loads the precision that was written by default
    assert json.loads((tmp_path / "8b" / "config.json").read_text())["transformers.js_config"]["dtype"] == "q4"


@pytest.mark.parametrize("verbose", [False, True])
def test_quantizer_info_logging_is_quiet_unless_verbose(verbose):
    """onnxruntime's matmul_nbits_quantizer sets the root logger to INFO when imported; after the ladder's logging
    setup its INFO lines show only with --verbose (a fresh interpreter: pytest configures logging of its own)."""
    code = (
        "import logging; from sayo_train.ladder import configure_logging; configure_logging(%r); "
        "import onnxruntime.quantization.matmul_nbits_quantizer; "
        "logging.getLogger('onnxruntime.quantization.onnx_quantizer').info('INFO-LINE'); "
        "logging.getLogger('onnxruntime.quantization').warning('WARNING-LINE')"
    ) % verbose
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "WARNING-LINE" in r.stderr
    assert ("INFO-LINE" in r.stderr) == verbose
