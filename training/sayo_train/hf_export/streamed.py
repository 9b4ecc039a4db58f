"""The decoder and embedding graphs exported with memory bounded by one decoder layer, not by the model.

The whole-model path (graphs.py) traces the float32 model in one piece and holds about four times its weights; an
8 B checkpoint does not fit a workstation that way. Here the model is built on the meta device (weights.py), and:
- the decoder graph is put together from pieces traced one at a time (assemble.py): the stem (the first hidden-size
  block of inputs_embeds, the rotary tables, the causal mask, the DeepStack blocks), each decoder layer with its own
  weights read from the safetensors files just before it is traced and released right after, the final norm; the LM
  head is a MatMul per column chunk of lm_head.weightᵀ, read a chunk at a time (a Concat joins the chunks when there
  are several). Each piece's weights are written to the graph's external data as it is added, in every precision at
  once (the fp16 / q8 / q4 variant of each piece is made from the piece, so a variant never needs the whole graph);
- the embedding graph is a Gather on the token table written to external data in row chunks (a Pad adds the
  DeepStack column blocks), quantized in row chunks for q4 / q8 the same way.
The pieces are the same Hugging Face modules and functions the whole-model path traces (decoder.layer_forward,
causal_bias, the text rotary module), so the graphs compute the same values; tests compare the two paths and both
with Hugging Face. fp16 pieces keep float32 at their boundaries (keep_io_types per piece), which only adds Casts.

Peak memory: the largest of one decoder layer in float32 (plus its trace), one LM-head or table chunk, and the vision
tower (traced whole: graphs.py's VisionExport; a Qwen3-VL-8B tower is 0.58 B parameters)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import TensorProto

from .assemble import Assembler
from .decoder import EmbedExport, causal_bias, layer_forward
from .family import Family, text_config
from .quantize import variant_model, variant_name
from .weights import Checkpoint, materialize, release, trim

# Column chunks of the LM head and row chunks of the token table: at most this many float32 bytes each.
TABLE_CHUNK_BYTES = 256 * 2**20
F32 = TensorProto.FLOAT


class StemExport(nn.Module):
    """(inputs_embeds [B, S, H·C], attention_mask, position_ids) -> hidden states [B, S, H], rotary cos and sin, the
    additive causal mask, and the DeepStack column blocks 1…K' (K' = DeepStack features the decoder adds)."""

    def __init__(self, rotary: nn.Module, hidden: int, deepstack: int):
        super().__init__()
        self.rotary, self.hidden, self.deepstack = rotary, hidden, deepstack

    def forward(self, inputs_embeds, attention_mask, position_ids):
        H = self.hidden
        x = inputs_embeds[..., :H] if inputs_embeds.shape[-1] != H else inputs_embeds
        cos, sin = self.rotary(x, position_ids)
        bias = causal_bias(attention_mask, x.shape[1], x.dtype)
        blocks = [inputs_embeds[..., H * (j + 1) : H * (j + 2)] for j in range(self.deepstack)]
        return (x, cos, sin, bias, *blocks)


class LayerExport(nn.Module):
    """One decoder layer: (x, cos, sin, bias, past key, past value[, DeepStack block]) -> (x, present key, present
    value[, attention])."""

    def __init__(
        self, family: Family, mrope_section, layer: nn.Module, captured: bool, last_row: bool, deepstack: bool
    ):
        super().__init__()
        self.family, self.mrope_section, self.layer = family, mrope_section, layer
        self.captured, self.last_row, self.deepstack = captured, last_row, deepstack

    def forward(self, x, cos, sin, bias, pk, pv, *block):
        x, k, v, w = layer_forward(
            self.family,
            self.mrope_section,
            self.layer,
            x,
            cos,
            sin,
            bias,
            pk,
            pv,
            last_row=self.captured and self.last_row,
        )
        if self.deepstack:
            x = x + block[0]
        return (x, k, v, w) if self.captured else (x, k, v)


class NormExport(nn.Module):
    def __init__(self, norm: nn.Module):
        super().__init__()
        self.norm = norm

    def forward(self, x):
        return self.norm(x)


def _trace(
    module: nn.Module, args: tuple, names_in: list[str], names_out: list[str], dynamic: dict, opset: int
) -> onnx.ModelProto:
    with tempfile.TemporaryDirectory() as td:
        path = Path(td) / "piece.onnx"
        with torch.no_grad():
            torch.onnx.export(
                module,
                args,
                str(path),
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
                input_names=names_in,
                output_names=names_out,
                dynamic_axes=dynamic,
            )
        return onnx.load(str(path), load_external_data=True)


def _rope_axes(cos: torch.Tensor) -> dict:
    """Dynamic axes of a rotary table: [B, S, D] (Qwen3-VL, interleaved) or [3, B, S, D] (Qwen2 / 2.5-VL)."""
    return {0: "batch_size", 1: "sequence_length"} if cos.dim() == 3 else {1: "batch_size", 2: "sequence_length"}


class _Variants:
    """One Assembler per precision; `add` puts a piece into every one (fp32 as is, the others made from it)."""

    def __init__(self, onnx_dir: Path, graph: str, precisions: list[str], opset: int):
        self.graph = graph
        self.by = {p: Assembler(onnx_dir / variant_name(graph, p), opset) for p in precisions}

    def add(self, piece: onnx.ModelProto, prefix: str, inputs: dict, outputs: dict | None = None) -> dict:
        got = None
        for p, asm in self.by.items():
            m = piece
            if p != "fp32":
                m = onnx.ModelProto()
                m.CopyFrom(piece)
                m = variant_model(m, self.graph, p)
            names = asm.add(m, prefix, inputs, outputs)
            got = got or names
        return got

    def each(self, fn) -> None:
        for asm in self.by.values():
            fn(asm)


def export_decoder(
    model,
    ckpt: Checkpoint,
    family: Family,
    onnx_dir: Path,
    attn_layers: list[int],
    opset: int,
    precisions: list[str],
    attention_rows: str = "last",
    log=None,
) -> dict:
    """decoder_model_merged<suffix>.onnx for every precision, piece by piece; returns {"chunks": {file: n},
    "seconds": s, "peak_piece_bytes": ...}."""
    t0 = time.time()
    cfg = model.config
    tc = text_config(cfg)
    txt, H, L = model.model.language_model, tc.hidden_size, tc.num_hidden_layers
    cols = family.deepstack_columns
    K = min(len(family.deepstack), L)
    kv, D = tc.num_key_value_heads, txt.layers[0].self_attn.head_dim
    mrope = (tc.rope_scaling or {}).get("mrope_section")
    last_row = attention_rows == "last"
    out = _Variants(onnx_dir, "decoder_model_merged", precisions, opset)

    B, S, P = 1, 4, 3
    T = P + S
    emb = torch.randn(B, S, H * cols)
    am = torch.ones(B, T, dtype=torch.int64)
    pos = torch.arange(P, T, dtype=torch.int64)[None, None].expand(3, B, S).contiguous()
    out.each(
        lambda a: (
            a.input("inputs_embeds", F32, ["batch_size", "sequence_length", H * cols]),
            a.input("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
            a.input("position_ids", TensorProto.INT64, [3, "batch_size", "sequence_length"]),
        )
    )
    for i in range(L):
        for k in ("key", "value"):
            out.each(
                lambda a, i=i, k=k: a.input(
                    f"past_key_values.{i}.{k}", F32, ["batch_size", kv, "past_sequence_length", D]
                )
            )

    stem = StemExport(txt.rotary_emb, H, K).eval()
    with torch.no_grad():
        x, cos, sin, bias, *blocks = stem(emb, am, pos)
    bias_axes = {0: "batch_size", 2: "sequence_length", 3: "total_sequence_length"}
    seq = {0: "batch_size", 1: "sequence_length"}
    names = ["x", "cos", "sin", "bias"] + [f"deepstack.{j}" for j in range(K)]
    dyn = {
        "inputs_embeds": seq,
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "position_ids": {1: "batch_size", 2: "sequence_length"},
        "x": seq,
        "cos": _rope_axes(cos),
        "sin": _rope_axes(sin),
        "bias": bias_axes,
        **{n: seq for n in names[4:]},
    }
    piece = _trace(stem, (emb, am, pos), ["inputs_embeds", "attention_mask", "position_ids"], names, dyn, opset)
    wired = out.add(
        piece,
        "/stem/",
        {"inputs_embeds": "inputs_embeds", "attention_mask": "attention_mask", "position_ids": "position_ids"},
    )
    hidden = wired["x"]
    peak = 0
    for i in range(L):
        layer = txt.layers[i]
        materialize(layer, f"model.language_model.layers.{i}.", ckpt)
        peak = max(peak, sum(p.numel() * 4 for p in layer.parameters()))
        captured = i in attn_layers
        mod = LayerExport(family, mrope, layer, captured, last_row, i < K).eval()
        pk, pv = torch.randn(B, kv, P, D), torch.randn(B, kv, P, D)
        args = (x, cos, sin, bias, pk, pv) + ((blocks[i],) if i < K else ())
        ins = ["x", "cos", "sin", "bias", "past_key", "past_value"] + (["deepstack"] if i < K else [])
        outs = ["x_out", "present_key", "present_value"] + (["attention"] if captured else [])
        dyn = {
            "x": seq,
            "cos": _rope_axes(cos),
            "sin": _rope_axes(sin),
            "bias": bias_axes,
            "past_key": {0: "batch_size", 2: "past_sequence_length"},
            "past_value": {0: "batch_size", 2: "past_sequence_length"},
            "deepstack": seq,
            "x_out": seq,
            "present_key": {0: "batch_size", 2: "total_sequence_length"},
            "present_value": {0: "batch_size", 2: "total_sequence_length"},
            "attention": {0: "batch_size", 3: "total_sequence_length"}
            if last_row
            else {0: "batch_size", 2: "sequence_length", 3: "total_sequence_length"},
        }
        with torch.no_grad():
            x_next = mod(*args)[0]
        piece = _trace(mod, args, ins, outs, {k: v for k, v in dyn.items() if k in ins + outs}, opset)
        release(layer)
        feeds = {
            "x": hidden,
            "cos": wired["cos"],
            "sin": wired["sin"],
            "bias": wired["bias"],
            "past_key": f"past_key_values.{i}.key",
            "past_value": f"past_key_values.{i}.value",
        }
        if i < K:
            feeds["deepstack"] = wired[f"deepstack.{i}"]
        named = {"present_key": f"present.{i}.key", "present_value": f"present.{i}.value"}
        if captured:
            named["attention"] = f"decoder_attentions.{i}"
        hidden = out.add(piece, f"/layers.{i}/", feeds, named)["x_out"]
        x = x_next
        del piece
        trim()
        if log:
            log(f"decoder layer {i + 1}/{L} ({time.time() - t0:.0f} s)")

    materialize(txt.norm, "model.language_model.norm.", ckpt)
    piece = _trace(NormExport(txt.norm).eval(), (x,), ["x"], ["y"], {"x": seq, "y": seq}, opset)
    release(txt.norm)
    normed = out.add(piece, "/norm/", {"x": hidden})["y"]
    _lm_head(out, ckpt, cfg, normed, opset)

    vocab = ckpt.shape(_lm_head_name(ckpt, cfg))[0]
    out.each(lambda a: a.output("logits", F32, ["batch_size", "sequence_length", vocab]))
    for i in range(L):
        for k in ("key", "value"):
            out.each(
                lambda a, i=i, k=k: a.output(f"present.{i}.{k}", F32, ["batch_size", kv, "total_sequence_length", D])
            )
    for layer in attn_layers:
        out.each(
            lambda a, layer=layer: a.output(
                f"decoder_attentions.{layer}",
                F32,
                ["batch_size", tc.num_attention_heads, 1 if last_row else "sequence_length", "total_sequence_length"],
            )
        )
    chunks = {}
    for p, asm in out.by.items():
        chunks[asm.path.name] = len(asm.save())
    return {"chunks": chunks, "seconds": time.time() - t0, "largest_layer_bytes": peak}


def _lm_head_name(ckpt: Checkpoint, cfg) -> str:
    if ckpt.has("lm_head.weight"):
        return "lm_head.weight"
    return "model.language_model.embed_tokens.weight"  # tied embeddings


def _lm_head(out: _Variants, ckpt: Checkpoint, cfg, normed: str, opset: int) -> None:
    """logits = normed · Wᵀ, one MatMul per column chunk of Wᵀ (rows of W), each chunk a piece of its own so a
    quantized variant is made a chunk at a time; a Concat joins the chunks."""
    name = _lm_head_name(ckpt, cfg)
    V, H = ckpt.shape(name)
    rows = max(1, TABLE_CHUNK_BYTES // (4 * H))
    parts = []
    for c, start in enumerate(range(0, V, rows)):
        w = ckpt.rows(name, start, min(V, start + rows)).t().contiguous().numpy()
        piece = _matmul_piece(w, opset)
        del w
        parts.append(
            out.add(piece, f"/lm_head.{c}/", {"x": normed}, {"y": "logits"} if start + rows >= V and c == 0 else None)[
                "y"
            ]
        )
    if len(parts) > 1:
        out.each(lambda a: a.node("Concat", parts, ["logits"], name="/lm_head/Concat", axis=-1))


def _matmul_piece(w: np.ndarray, opset: int) -> onnx.ModelProto:
    from onnx import helper, numpy_helper

    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="MatMul")],
        "lm_head",
        [helper.make_tensor_value_info("x", F32, ["batch_size", "sequence_length", w.shape[0]])],
        [helper.make_tensor_value_info("y", F32, ["batch_size", "sequence_length", w.shape[1]])],
        [numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def export_embed(model, ckpt: Checkpoint, family: Family, onnx_dir: Path, opset: int, precisions: list[str]) -> dict:
    """embed_tokens<suffix>.onnx: the token table in row chunks, each chunk a Gather piece whose fp16 / q4 variants
    are made on their own and whose rows are joined back into one table per precision (q8 from the fp32 graph)."""
    from .quantize import make_variant

    t0 = time.time()
    name = "model.language_model.embed_tokens.weight"
    V, H = ckpt.shape(name)
    rows = max(1, TABLE_CHUNK_BYTES // (4 * H))
    # q8 is made from the fp32 graph (one scale for the whole table), so fp32 is written when q8 is asked
    chunked = list(dict.fromkeys([p for p in precisions if p != "q8"] + (["fp32"] if "q8" in precisions else [])))
    out = {
        p: _EmbedWriter(onnx_dir / variant_name("embed_tokens", p), H, family.deepstack_columns, opset) for p in chunked
    }
    for start in range(0, V, rows):
        table = ckpt.rows(name, start, min(V, start + rows))
        n = table.shape[0]
        mod = EmbedExport(nn.Embedding.from_pretrained(table, freeze=True), 1).eval()
        piece = _trace(
            mod,
            (torch.tensor([[0, 1]], dtype=torch.int64),),
            ["input_ids"],
            ["rows"],
            {"input_ids": {0: "batch_size", 1: "sequence_length"}, "rows": {0: "batch_size", 1: "sequence_length"}},
            opset,
        )
        del mod, table
        trim()
        for p, w in out.items():
            m = piece
            if p != "fp32":
                m = onnx.ModelProto()
                m.CopyFrom(piece)
                m = variant_model(m, "embed_tokens", p)
            w.append(m, n)
    chunks = {w.asm.path.name: w.finish() for w in out.values()}
    if "q8" in precisions:
        path, ext = make_variant(onnx_dir, "embed_tokens", "q8")
        if ext:
            chunks[path.name] = 1
    _drop_unasked(onnx_dir, "embed_tokens", precisions, chunks)
    return {"chunks": chunks, "seconds": time.time() - t0}


def _drop_unasked(onnx_dir: Path, graph: str, precisions: list[str], chunks: dict) -> None:
    """Removes the fp32 graph written only to derive a variant from, when fp32 was not asked for."""
    if "fp32" in precisions:
        return
    name = variant_name(graph, "fp32")
    for f in onnx_dir.glob(name + "*"):
        f.unlink()
    chunks.pop(name, None)


class _EmbedWriter:
    """Collects the row chunks of one precision's embedding graph: the first chunk's nodes are kept as the graph (a
    Gather, or the 4-bit lookup); each initializer with the chunk's rows as its first dimension (the table, and its
    per-block scales when quantized) is appended chunk after chunk to the graph's one, through a temporary file, and
    streamed from there into the external data. Chunking is exact for fp32, fp16 (element-wise) and q4 (scales per
    block of a row), not for q8 (one scale for the whole table): q8 is made from the finished fp32 graph."""

    def __init__(self, path: Path, hidden: int, columns: int, opset: int):
        self.asm = Assembler(path, opset)
        self.hidden, self.columns = hidden, columns
        self.first: onnx.ModelProto | None = None
        self.tables: dict[str, list] = {}

    def append(self, piece: onnx.ModelProto, rows: int) -> None:
        from onnx import numpy_helper

        if self.first is None:
            self.first = piece
        for t in piece.graph.initializer:
            if len(t.dims) >= 2 and t.dims[0] == rows:
                raw = t.raw_data if t.HasField("raw_data") else numpy_helper.to_array(t).tobytes()
                entry = self.tables.setdefault(t.name, [tempfile.TemporaryFile(), list(t.dims[1:]), 0, t.data_type, 0])
                entry[0].write(raw)
                entry[2] += rows
                entry[4] += len(raw)
        if self.first is not piece:
            del piece

    def finish(self) -> int:
        """Writes the graph with the whole table; returns its number of data chunks."""
        g = self.first.graph
        self.asm.adopt(self.first)
        for t in g.initializer:
            if t.name in self.tables:
                f, tail, n, data_type, nbytes = self.tables.pop(t.name)
                self.asm.store_file(t.name, data_type, [n, *tail], f, nbytes)
                f.close()
            else:
                self.asm.store(t.name, tensor=t)
        last = g.output[0].name
        final = last if self.columns > 1 else "inputs_embeds"  # the lookup's rows, or the graph's output itself
        for n in g.node:
            n.output[:] = [final if o == last else o for o in n.output]
        self.asm.nodes.extend(g.node)
        self.asm.input("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
        if self.columns > 1:
            pads = np.array([0, 0, 0, 0, 0, self.hidden * (self.columns - 1)], np.int64)
            self.asm.store("/deepstack/pads", pads)
            self.asm.node("Pad", [last, "/deepstack/pads"], ["inputs_embeds"], name="/deepstack/Pad")
        self.asm.output("inputs_embeds", F32, ["batch_size", "sequence_length", self.hidden * self.columns])
        return len(self.asm.save())


def open_checkpoint(folder: Path, adapter=None):
    """(the model on the meta device, its Checkpoint) for a save_pretrained folder; refuses what family_of refuses
    before any weight is read."""
    from transformers import AutoConfig

    from .family import ExportError, family_of
    from .untrusted import checked_folder

    if not (folder / "config.json").exists():
        raise ExportError(f"{folder}: no config.json; pass a Hugging Face checkpoint folder (save_pretrained output)")
    checked_folder(folder)  # no custom code, plausible sizes, before transformers reads anything
    try:
        cfg = AutoConfig.from_pretrained(str(folder), trust_remote_code=False)
    except Exception as e:
        raise ExportError(f"{folder}/config.json: transformers cannot read it ({str(e).splitlines()[0]})") from None
    family_of(cfg)
    from .weights import empty_model

    model = empty_model(cfg)
    model.config._attn_implementation = "eager"
    return model, Checkpoint(folder, type(model), adapter)


def export_streamed(
    model,
    ckpt: Checkpoint,
    family: Family,
    onnx_dir: Path,
    attn_layers: list[int],
    opset: int,
    precisions: list[str],
    attention_rows: str,
    seconds: dict,
) -> dict[str, int]:
    """The three graphs in every precision; returns {file with external data: chunks} for config.json and fills
    `seconds` per graph."""
    from .graphs import export_vision
    from .quantize import make_variant

    onnx_dir = Path(onnx_dir)
    onnx_dir.mkdir(parents=True, exist_ok=True)
    chunks: dict[str, int] = {}
    t0 = time.time()
    vis = model.model.visual
    materialize(vis, "model.visual.", ckpt)
    if export_vision(model, family, onnx_dir, opset):
        chunks["vision_encoder.onnx"] = 1
    release(vis)
    for p in precisions:
        if p != "fp32":
            path, ext = make_variant(onnx_dir, "vision_encoder", p)
            if ext:
                chunks[path.name] = 1
    _drop_unasked(onnx_dir, "vision_encoder", precisions, chunks)
    trim()
    seconds["vision_encoder"] = time.time() - t0
    emb = export_embed(model, ckpt, family, onnx_dir, opset, precisions)
    seconds["embed_tokens"] = emb["seconds"]
    dec = export_decoder(model, ckpt, family, onnx_dir, attn_layers, opset, precisions, attention_rows)
    seconds["decoder_model_merged"] = dec["seconds"]
    for name, n in {**emb["chunks"], **dec["chunks"]}.items():
        if n:
            chunks[name] = n
    return chunks
