"""fp16 / q8 / q4 / q4f16 variants of the fp32 graphs with onnxruntime's own tools, named as transformers.js loads them
(its DEFAULT_DTYPE_SUFFIX_MAPPING: fp16 -> _fp16, q8 -> _quantized, q4 -> _q4, q4f16 -> _q4f16). Graph inputs and outputs stay
float32 (keep_io_types for fp16; the quantizers only touch weights), so the engine feeds every variant alike and
decoder_attentions.<l> stay fp32. q4 covers the embedding table as well, so a q4 folder is small end to end."""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx

from .family import ExportError
from .graphs import save_model

SUFFIX = {"fp32": "", "fp16": "_fp16", "q8": "_quantized", "q4": "_q4", "q4f16": "_q4f16"}
GRAPHS = ("vision_encoder", "embed_tokens", "decoder_model_merged")
# Weight-block size of MatMulNBits (q4); the common choice of onnx-community's q4 exports.
Q4_BLOCK = 32
# MatMulNBits' accuracy_level 4: the CPU kernel quantizes each block of activations to int8 and multiplies in int8
# (MLAS's CompInt8 path) instead of unpacking the weights to fp32 at every call, several times faster in
# onnxruntime-node (docs/bench/LOG.md). onnxruntime-web's WASM build has no 4-bit kernel at any level.
Q4_ACCURACY_LEVEL = 4


def variant_name(graph: str, precision: str) -> str:
    if precision not in SUFFIX:
        raise ExportError(f"precision {precision!r} unknown: accepted are {', '.join(SUFFIX)}")
    return f"{graph}{SUFFIX[precision]}.onnx"


def _fp16(m: onnx.ModelProto, graph: str) -> onnx.ModelProto:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    return convert_float_to_float16(m, keep_io_types=True, disable_shape_infer=True)


def _q8(m: onnx.ModelProto, graph: str) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as td:
        src, out = Path(td) / "fp32.onnx", Path(td) / "q8.onnx"
        onnx.save_model(m, str(src), save_as_external_data=True, location="fp32.onnx_data")
        # uint8 weights and activations (MatMulInteger u8·u8): the combination every onnxruntime build runs.
        quantize_dynamic(
            str(src),
            str(out),
            weight_type=QuantType.QUInt8,
            op_types_to_quantize=["MatMul", "Gather"],
            use_external_data_format=True,
            extra_options={"MatMulConstBOnly": True},
        )
        return onnx.load(str(out), load_external_data=True)


def _q4(m: onnx.ModelProto, graph: str) -> onnx.ModelProto:
    """MatMul weights -> MatMulNBits (int4, blocks of Q4_BLOCK along K). In embed_tokens, the embedding table too:
    Gather -> com.microsoft GatherBlockQuantized (int4, blocks of Q4_BLOCK along the hidden axis), which needs
    opset 21 (the first with an int4 tensor type); that graph is the Gather alone, whose definition is the same at
    17 and 21, so it is declared 21 before quantizing. Other graphs keep their Gathers (index and shape lookups,
    Qwen3-VL's position table)."""
    import logging

    import numpy as np
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    # its module logs every MatMul at INFO (thousands of lines for a real model): warnings and errors only
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    ops = ("MatMul",)
    if graph == "embed_tokens":
        ops = ("MatMul", "Gather")
        for o in m.opset_import:
            if o.domain in ("", "ai.onnx"):
                o.version = max(o.version, 21)
    q = MatMulNBitsQuantizer(
        m,
        block_size=Q4_BLOCK,
        is_symmetric=True,
        accuracy_level=Q4_ACCURACY_LEVEL,
        op_types_to_quantize=ops,
        quant_axes=(("MatMul", 0), ("Gather", 1)),
    )
    # An all-zero block has scale 0; the quantizer maps it to 0 after a 0/0 it computes anyway.
    with np.errstate(invalid="ignore", divide="ignore"):
        q.process()
    return q.model.model


def _q4f16(m: onnx.ModelProto, graph: str) -> onnx.ModelProto:
    """4-bit weights with float16 activations (transformers.js's q4f16, WebGPU's precision of choice): the fp16
    graph (inputs and outputs kept float32, so every engine feeds it as the others), then its MatMul weights to
    MatMulNBits with fp16 scales."""
    return _q4(_fp16(m, graph), graph)


MAKERS = {"fp16": _fp16, "q8": _q8, "q4": _q4, "q4f16": _q4f16}


def variant_model(m: onnx.ModelProto, graph: str, precision: str) -> onnx.ModelProto:
    """The `precision` variant of the fp32 graph `m` (a whole contract graph, or a piece of `graph`), its inputs and
    outputs declared as in `m`. Consumes `m` (the tools rewrite it in place): pass a copy to keep it."""
    io = onnx.ModelProto()
    io.graph.input.extend(m.graph.input)
    io.graph.output.extend(m.graph.output)
    out = MAKERS[precision](m, graph)
    _restore_io(out, io)
    return out


def make_variant(onnx_dir: Path, graph: str, precision: str, external: bool | None = None) -> tuple[Path, bool]:
    """Write onnx/<graph><suffix>.onnx from onnx/<graph>.onnx; returns (path, saved with external data)."""
    src = Path(onnx_dir) / f"{graph}.onnx"
    dst = Path(onnx_dir) / variant_name(graph, precision)
    m = variant_model(onnx.load(str(src), load_external_data=True), graph, precision)
    return dst, save_model(m, dst, external)


def _restore_io(m: onnx.ModelProto, ref: onnx.ModelProto) -> None:
    """The tools rename symbolic dims of the outputs they wrap in Casts (fp16's keep_io_types gives e.g.
    'Castdecoder_attentions.0_dim_1'); put back the fp32 graph's declared inputs and outputs, which are the same
    names and float32 types."""
    for mine, theirs in ((m.graph.input, ref.graph.input), (m.graph.output, ref.graph.output)):
        by_name = {v.name: v for v in theirs}
        for v in mine:
            if v.name in by_name and v.type.tensor_type.elem_type == by_name[v.name].type.tensor_type.elem_type:
                v.type.CopyFrom(by_name[v.name].type)
