"""A copy of an exported model folder whose decoder carries extra weights that every step computes with, stored as
external data in chunks the way the exporter writes them (sayo_train.hf_export.assemble.Assembler): the large-folder
test of the browser engine (a folder over 4 GiB on WebGPU; a small one in CI).

Each padding tensor W_i [hidden, cols] (fp32, random) is multiplied by the sum of `inputs_embeds` over the sequence;
the sums of all products, times 0, are added to `inputs_embeds` before the decoder reads it. So every padding weight
is a live MatMul operand on every step (no runtime can drop it or fold it away), and the answers equal the source
folder's: the test compares them token for token.

    python training/tools/pad_folder.py models/sayo-mini /tmp/big --pad-bytes 4.4e9
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sayo_train.hf_export.assemble import CHUNK_BYTES, Assembler  # noqa: E402

DECODER = "decoder_model_merged.onnx"


def pad_folder(
    src: Path, out: Path, pad_bytes: int, tensor_bytes: int, chunk_bytes: int = CHUNK_BYTES, seed: int = 0
) -> dict:
    """Writes the padded copy of `src` to `out`; returns what was written (bytes, chunks, tensors)."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out, ignore=shutil.ignore_patterns(DECODER, DECODER + "_data*"))
    model = onnx.load(str(src / "onnx" / DECODER))  # external data of the source, if any, is read in
    g = model.graph
    embeds = next(i for i in g.input if i.name == "inputs_embeds")
    hidden = embeds.type.tensor_type.shape.dim[-1].dim_value
    if hidden <= 0:
        raise ValueError("inputs_embeds has no numeric last dim")
    cols = max(1, tensor_bytes // (4 * hidden))
    n = max(1, -(-pad_bytes // (4 * hidden * cols)))

    asm = Assembler(
        out / "onnx" / DECODER,
        opset=max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
        chunk_bytes=chunk_bytes,
    )
    asm.adopt(model)
    for t in g.initializer:
        asm.store(t.name, tensor=t)
    padded = "inputs_embeds_padded"
    for node in g.node:
        node.input[:] = [padded if x == "inputs_embeds" else x for x in node.input]
        asm.nodes.append(node)
    asm.inputs.extend(g.input)
    asm.outputs.extend(g.output)

    asm.store("pad_axes", np.array([1], np.int64))
    asm.store("pad_zero", np.array(0, np.float32))
    asm.node("ReduceSum", ["inputs_embeds", "pad_axes"], ["pad_v"], "pad_sum", keepdims=1)  # [B, 1, hidden]
    rng = np.random.default_rng(seed)
    acc = None
    for i in range(n):
        w = rng.standard_normal((hidden, cols), dtype=np.float32) * 0.02
        asm.store(f"pad_w{i}", w)
        del w
        asm.node("MatMul", ["pad_v", f"pad_w{i}"], [f"pad_y{i}"], f"pad_matmul{i}")  # [B, 1, cols]
        asm.node("ReduceSum", [f"pad_y{i}"], [f"pad_s{i}"], f"pad_reduce{i}", keepdims=0)  # scalar
        if acc is None:
            acc = f"pad_s{i}"
        else:
            asm.node("Add", [acc, f"pad_s{i}"], [f"pad_acc{i}"], f"pad_acc{i}")
            acc = f"pad_acc{i}"
    asm.node("Mul", [acc, "pad_zero"], ["pad_nothing"], "pad_times_zero")
    asm.node("Add", ["inputs_embeds", "pad_nothing"], [padded], "pad_into_embeds")
    chunks = asm.save()

    config_path = out / "config.json"
    config = json.loads(config_path.read_text())
    tjs = config.setdefault("transformers.js_config", {})
    ext = tjs.get("use_external_data_format")
    ext = dict(ext) if isinstance(ext, dict) else {}
    ext[DECODER] = len(chunks)
    tjs["use_external_data_format"] = ext
    config_path.write_text(json.dumps(config, indent=2))
    sizes = {c: (out / "onnx" / c).stat().st_size for c in chunks}
    weights = sum(
        p.stat().st_size for p in (out / "onnx").iterdir() if p.name.endswith((".onnx",)) or "_data" in p.name
    )
    return {
        "padding_tensors": n,
        "tensor_shape": [hidden, cols],
        "padding_bytes": n * hidden * cols * 4,
        "chunks": sizes,
        "weight_bytes": weights,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("src", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--pad-bytes", type=float, required=True, help="bytes of padding weights (fp32)")
    p.add_argument("--tensor-bytes", type=float, default=96 * 2**20, help="bytes of one padding tensor")
    p.add_argument("--chunk-bytes", type=float, default=CHUNK_BYTES, help="largest external-data chunk")
    a = p.parse_args(argv)
    print(json.dumps(pad_folder(a.src, a.out, int(a.pad_bytes), int(a.tensor_bytes), int(a.chunk_bytes)), indent=2))


if __name__ == "__main__":
    main()
