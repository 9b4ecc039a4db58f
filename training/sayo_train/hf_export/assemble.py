"""One ONNX graph put together from pieces traced one at a time, its weights streamed to external data as each piece
arrives, so the graph being written never holds more than one piece's weights in memory.

A piece is a small ModelProto (a decoder layer, the stem that computes the rotary tables and the mask, the final norm).
`add` renames its values under a prefix, wires its inputs to values already in the graph, appends its nodes, and moves
each of its initializers into the data files: `<file>.onnx_data`, then `<file>.onnx_data_1`, … each at most
CHUNK_BYTES (a tensor larger than that alone in its chunk), named as transformers.js loads them
(`use_external_data_format: {"<file>.onnx": chunks}`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Largest external-data chunk (bytes): a browser fetches each chunk into one buffer, and 2 GiB is where ArrayBuffers
# and protobuf both stop.
CHUNK_BYTES = 2**31 - 1
# Initializers at most this large stay inside the .onnx file (shape constants, scalars).
INLINE_BYTES = 1024


class Assembler:
    def __init__(self, path: Path, opset: int, chunk_bytes: int | None = None):
        self.path = Path(path)
        self.opset = opset
        self.chunk_bytes = chunk_bytes or CHUNK_BYTES
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self.opsets: dict[str, int] = {}
        self.chunks: list[Path] = []
        self._file = None
        self._offset = 0
        self.bytes = 0
        for old in self.path.parent.glob(self.path.name + "_data*"):
            old.unlink()

    # -- external data -------------------------------------------------------------------------------------------
    def _chunk_for(self, n: int):
        if self._file is None or (self._offset > 0 and self._offset + n > self.chunk_bytes):
            if self._file is not None:
                self._file.close()
            name = self.path.name + "_data" + ("" if not self.chunks else f"_{len(self.chunks)}")
            self.chunks.append(self.path.with_name(name))
            self._file = open(self.chunks[-1], "wb")
            self._offset = 0
        return self.chunks[-1].name

    def store(self, name: str, array: np.ndarray | None = None, tensor: TensorProto | None = None) -> TensorProto:
        """An initializer `name` whose bytes go to the current data chunk (small ones stay inline)."""
        if tensor is None:
            tensor = numpy_helper.from_array(np.ascontiguousarray(array), name)
        if tensor.data_location == TensorProto.EXTERNAL:
            raise ValueError(f"{name}: already external")
        raw = tensor.raw_data if tensor.HasField("raw_data") else numpy_helper.to_array(tensor).tobytes()
        if len(raw) <= INLINE_BYTES:
            t = TensorProto()
            t.CopyFrom(tensor)  # the piece keeps its own names (its variants are made from it afterwards)
            t.name = name
            self.initializers.append(t)
            return t
        location = self._chunk_for(len(raw))
        offset = self._offset
        self._file.write(raw)
        self._offset += len(raw)
        self.bytes += len(raw)
        t = TensorProto(name=name, data_type=tensor.data_type, dims=list(tensor.dims))
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", str(offset)), ("length", str(len(raw)))):
            e = t.external_data.add()
            e.key, e.value = k, v
        self.initializers.append(t)
        return t

    def store_file(self, name: str, data_type: int, dims: list[int], src, nbytes: int, block: int = 64 * 2**20) -> None:
        """An initializer whose `nbytes` raw bytes are read from the open file `src` (from its start), a block at a
        time: a table larger than memory allows is never held whole."""
        location = self._chunk_for(nbytes)
        offset = self._offset
        src.seek(0)
        left = nbytes
        while left:
            b = src.read(min(block, left))
            if not b:
                raise ValueError(f"{name}: {left} bytes short")
            self._file.write(b)
            left -= len(b)
        self._offset += nbytes
        self.bytes += nbytes
        t = TensorProto(name=name, data_type=data_type, dims=list(dims))
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", str(offset)), ("length", str(nbytes))):
            e = t.external_data.add()
            e.key, e.value = k, v
        self.initializers.append(t)

    # -- pieces -----------------------------------------------------------------------------------------------------
    def add(
        self, piece: onnx.ModelProto, prefix: str, inputs: dict[str, str], outputs: dict[str, str] | None = None
    ) -> dict[str, str]:
        """Appends `piece`: each of its graph inputs is fed by the graph value `inputs[name]`; its graph outputs are
        named `outputs[name]` when given, else prefixed; every other value is prefixed. Returns output name -> graph
        value name."""
        g = piece.graph
        outputs = outputs or {}
        missing = [i.name for i in g.input if i.name not in inputs]
        if missing:
            raise ValueError(f"{prefix}: inputs {missing} are not wired")
        self.adopt(piece)
        rename = dict(inputs)
        for o in g.output:
            rename[o.name] = outputs.get(o.name, prefix + o.name)
        new = lambda n: "" if n == "" else rename.setdefault(n, prefix + n)  # noqa: E731
        for t in g.initializer:
            self.store(new(t.name), tensor=t)
        for node in g.node:
            if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
                raise ValueError(f"{prefix}: node {node.name} has a subgraph; pieces are flat graphs")
            n = onnx.NodeProto()
            n.CopyFrom(node)
            n.name = prefix + node.name
            n.input[:] = [new(x) for x in node.input]
            n.output[:] = [new(x) for x in node.output]
            self.nodes.append(n)
        return {o.name: rename[o.name] for o in g.output}

    def adopt(self, piece: onnx.ModelProto) -> None:
        """Takes `piece`'s opsets and IR version (the graph declares the highest of its pieces')."""
        for o in piece.opset_import:
            self.opsets[o.domain] = max(self.opsets.get(o.domain, 0), o.version)
        self.ir_version = max(getattr(self, "ir_version", 0), piece.ir_version)

    def node(self, op: str, inputs: list[str], outputs: list[str], name: str, domain: str = "", **attrs) -> None:
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain, **attrs))

    def input(self, name: str, elem_type: int, dims: list) -> None:
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, dims))

    def output(self, name: str, elem_type: int, dims: list) -> None:
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, dims))

    def save(self) -> list[str]:
        """Writes `<file>.onnx` (graph, external references) and closes the data chunks; returns their file names."""
        if self._file is not None:
            self._file.close()
            self._file = None
        opsets = [helper.make_opsetid(d, v) for d, v in sorted(self.opsets.items())]
        graph = helper.make_graph(self.nodes, self.path.stem, self.inputs, self.outputs, self.initializers)
        m = helper.make_model(graph, opset_imports=opsets, producer_name="sayo_train.hf_export")
        m.ir_version = getattr(self, "ir_version", 0) or 8
        onnx.save_model(m, str(self.path))
        return [c.name for c in self.chunks]
