"""Trace the three contract graphs (vision_encoder, embed_tokens, decoder_model_merged) with torch.onnx's
TorchScript exporter (dynamo=False, dynamic axes) and save them, with external data when a graph is too large for
one protobuf (2 GB)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import onnx
import torch

from .decoder import DecoderExport, EmbedExport
from .family import Family, parts, text_config
from .vision import VisionExport

# Above this many bytes of weights a graph is saved as <name>.onnx + <name>.onnx_data (protobuf's limit is 2 GiB).
EXTERNAL_DATA_BYTES = int(1.8e9)
# The image grid the vision graph is traced with; the graph must serve every other grid (tests prove it).
TRACE_GRID = (1, 4, 6)


def _weights_bytes(m: onnx.ModelProto) -> int:
    return sum(t.ByteSize() for t in m.graph.initializer)


def save_model(m: onnx.ModelProto, path: Path, external: bool | None = None) -> bool:
    """Save `m` to `path`; weights go to `<file>.onnx_data` (one file, the name transformers.js asks for) when
    `external` is true, or when None and the weights exceed EXTERNAL_DATA_BYTES. Returns whether external was used."""
    path = Path(path)
    data = path.with_name(path.name + "_data")
    if data.exists():
        data.unlink()
    if external is None:
        external = _weights_bytes(m) > EXTERNAL_DATA_BYTES
    if external:
        onnx.save_model(
            m,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data.name,
            size_threshold=1024,
        )
    else:
        onnx.save_model(m, str(path))
    return external


def declare_shapes(m: onnx.ModelProto, shapes: dict[str, list]) -> None:
    """Set the declared shape of graph inputs/outputs: int = static, str = symbolic. The tracer leaves generated
    names (e.g. 'Castdecoder_attentions.1_dim_1') where it could not tell a static size."""
    for v in list(m.graph.input) + list(m.graph.output):
        if v.name in shapes:
            dims = v.type.tensor_type.shape.dim
            del dims[:]
            for d in shapes[v.name]:
                nd = dims.add()
                if isinstance(d, str):
                    nd.dim_param = d
                else:
                    nd.dim_value = int(d)


def _export(module, args, path: Path, opset: int, external: bool | None, shapes: dict[str, list], **kw) -> bool:
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td) / path.name
        torch.onnx.export(module, args, str(tmp), opset_version=opset, do_constant_folding=True, dynamo=False, **kw)
        m = onnx.load(str(tmp), load_external_data=True)
    declare_shapes(m, shapes)
    return save_model(m, path, external)


def export_vision(model, family: Family, onnx_dir: Path, opset: int, external: bool | None = None) -> bool:
    """onnx/vision_encoder.onnx from the model's vision tower (VisionExport); returns whether external data was
    used."""
    cfg = model.config
    vis = parts(model)[0]
    vc = cfg.vision_config
    C = vc.in_channels * vc.temporal_patch_size * vc.patch_size**2
    t, h, w = TRACE_GRID
    pv = torch.randn(t * h * w, C)
    grid = torch.tensor([TRACE_GRID], dtype=torch.int64)
    out_hidden = getattr(vc, "out_hidden_size", None) or vc.hidden_size
    shapes = {
        "pixel_values": ["num_patches", C],
        family.grid_input: ["num_images", 3],
        "image_features": ["num_image_tokens", out_hidden * family.deepstack_columns],
    }
    with torch.no_grad():
        return _export(
            VisionExport(vis, family, cfg).eval(),
            (pv, grid),
            Path(onnx_dir) / "vision_encoder.onnx",
            opset,
            external,
            shapes,
            input_names=["pixel_values", family.grid_input],
            output_names=["image_features"],
            dynamic_axes={
                "pixel_values": {0: "num_patches"},
                family.grid_input: {0: "num_images"},
                "image_features": {0: "num_image_tokens"},
            },
        )


def export_graphs(
    model,
    family: Family,
    onnx_dir: Path,
    attn_layers: list[int],
    opset: int,
    external: bool | None = None,
    attention_rows: str = "last",
) -> dict:
    """Write onnx/{vision_encoder,embed_tokens,decoder_model_merged}.onnx; returns {file: seconds, ...,
    "external": [files saved with external data]}. attention_rows "last": each decoder_attentions output is
    [batch, heads, 1, total] (the call's last query row); "all": [batch, heads, sequence_length, total]."""
    if attention_rows not in ("last", "all"):
        raise ValueError(f"attention_rows {attention_rows!r}: last or all")
    last_row = attention_rows == "last"
    onnx_dir = Path(onnx_dir)
    onnx_dir.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    vis, txt, head = parts(model)
    tc = text_config(cfg)
    cols = family.deepstack_columns
    times, ext = {}, []
    with torch.no_grad():
        t0 = time.time()
        if export_vision(model, family, onnx_dir, opset, external):
            ext.append("vision_encoder.onnx")
        times["vision_encoder.onnx"] = time.time() - t0

        t0 = time.time()
        ids = torch.tensor([[1, 2, 3]], dtype=torch.int64)
        shapes = {
            "input_ids": ["batch_size", "sequence_length"],
            "inputs_embeds": ["batch_size", "sequence_length", tc.hidden_size * cols],
        }
        if _export(
            EmbedExport(txt.embed_tokens, cols).eval(),
            (ids,),
            onnx_dir / "embed_tokens.onnx",
            opset,
            external,
            shapes,
            input_names=["input_ids"],
            output_names=["inputs_embeds"],
            dynamic_axes={
                "input_ids": {0: "batch_size", 1: "sequence_length"},
                "inputs_embeds": {0: "batch_size", 1: "sequence_length"},
            },
        ):
            ext.append("embed_tokens.onnx")
        times["embed_tokens.onnx"] = time.time() - t0

        t0 = time.time()
        n_layers = tc.num_hidden_layers
        kv, D = tc.num_key_value_heads, txt.layers[0].self_attn.head_dim
        B, S, P = 1, 4, 3
        emb = torch.randn(B, S, tc.hidden_size * cols)
        am = torch.ones(B, P + S, dtype=torch.int64)
        pos = torch.arange(P, P + S, dtype=torch.int64)[None, None].expand(3, B, S).contiguous()
        past = [torch.randn(B, kv, P, D) for _ in range(2 * n_layers)]
        ins = ["inputs_embeds", "attention_mask", "position_ids"]
        outs = ["logits"]
        dyn = {
            "inputs_embeds": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {1: "batch_size", 2: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"},
        }
        for i in range(n_layers):
            for kind in ("key", "value"):
                ins.append(f"past_key_values.{i}.{kind}")
                dyn[ins[-1]] = {0: "batch_size", 2: "past_sequence_length"}
        for i in range(n_layers):
            for kind in ("key", "value"):
                outs.append(f"present.{i}.{kind}")
                dyn[outs[-1]] = {0: "batch_size", 2: "total_sequence_length"}
        for layer in attn_layers:
            outs.append(f"decoder_attentions.{layer}")
            dyn[outs[-1]] = (
                {0: "batch_size", 3: "total_sequence_length"}
                if last_row
                else {0: "batch_size", 2: "sequence_length", 3: "total_sequence_length"}
            )
        H = tc.num_attention_heads
        shapes = {
            "inputs_embeds": ["batch_size", "sequence_length", tc.hidden_size * cols],
            "attention_mask": ["batch_size", "total_sequence_length"],
            "position_ids": [3, "batch_size", "sequence_length"],
            "logits": ["batch_size", "sequence_length", head.out_features],
        }
        shapes.update({n: ["batch_size", kv, "past_sequence_length", D] for n in ins if n.startswith("past_")})
        shapes.update({n: ["batch_size", kv, "total_sequence_length", D] for n in outs if n.startswith("present.")})
        shapes.update(
            {
                n: ["batch_size", H, 1 if last_row else "sequence_length", "total_sequence_length"]
                for n in outs
                if n.startswith("decoder_attentions.")
            }
        )
        dec = DecoderExport(txt, head, family, cfg, attn_layers, last_row=last_row).eval()
        if _export(
            dec,
            (emb, am, pos, *past),
            onnx_dir / "decoder_model_merged.onnx",
            opset,
            external,
            shapes,
            input_names=ins,
            output_names=outs,
            dynamic_axes=dyn,
        ):
            ext.append("decoder_model_merged.onnx")
        times["decoder_model_merged.onnx"] = time.time() - t0
    times["external"] = ext
    return times
