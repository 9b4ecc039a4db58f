"""Export a SayoMini checkpoint to the transformers.js Qwen2-VL folder layout (models/CONTRACT.md) and check the
exported graphs, run in onnxruntime-node, against PyTorch (logits, presents and attentions ≤ tolerance) — or fail."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .model import SayoMini, rope_index
from .processor import Processor, prompt_ids
from .tokenizer import Tokenizer

REPO_ROOT = Path(__file__).resolve().parents[2]
ORT_CHECK = Path(__file__).resolve().parents[1] / "tools" / "ort_check.mjs"


class ExportError(RuntimeError):
    pass


class _Vision(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixel_values, grid_thw):
        return self.m.visual(pixel_values, grid_thw)


class _Embed(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m.embed_tokens(input_ids)


class _Decoder(nn.Module):
    def __init__(self, m: SayoMini, attn_layers):
        super().__init__()
        self.m = m
        self.attn_layers = list(attn_layers)

    def forward(self, inputs_embeds, attention_mask, position_ids, *past_flat):
        n = self.m.cfg.text.num_layers
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(n)]
        logits, presents, attns = self.m.decode(inputs_embeds, attention_mask, position_ids, past=past,
                                                attn_layers=set(self.attn_layers))
        flat = []
        for k, v in presents:
            flat += [k, v]
        return (logits, *flat, *[attns[i] for i in self.attn_layers])


def resolve_layers(spec, n_layers: int) -> list[int]:
    if spec in (None, "all"):
        return list(range(n_layers))
    if spec == "last":
        return [n_layers - 1]
    if spec == "none":
        return []
    return sorted({(i + n_layers) % n_layers for i in spec})


def export_graphs(model: SayoMini, onnx_dir: Path, attn_layers, opset: int = 14, decoder_name="decoder_model_merged.onnx",
                  only_decoder: bool = False) -> None:
    model = model.eval()
    onnx_dir.mkdir(parents=True, exist_ok=True)
    c = model.cfg
    with torch.no_grad():
        if not only_decoder:
            v = c.vision
            gh, gw = 4, 6
            pv = torch.randn(gh * gw, 3 * v.temporal_patch_size * v.patch_size ** 2)
            grid = torch.tensor([[1, gh, gw]], dtype=torch.int64)
            torch.onnx.export(_Vision(model), (pv, grid), str(onnx_dir / "vision_encoder.onnx"),
                              input_names=["pixel_values", "grid_thw"], output_names=["image_features"],
                              dynamic_axes={"pixel_values": {0: "num_patches"},
                                            "image_features": {0: "num_image_tokens"}},
                              opset_version=opset, do_constant_folding=True)
            ids = torch.tensor([[1, 2, 3]], dtype=torch.int64)
            torch.onnx.export(_Embed(model), (ids,), str(onnx_dir / "embed_tokens.onnx"),
                              input_names=["input_ids"], output_names=["inputs_embeds"],
                              dynamic_axes={"input_ids": {0: "batch_size", 1: "sequence_length"},
                                            "inputs_embeds": {0: "batch_size", 1: "sequence_length"}},
                              opset_version=opset, do_constant_folding=True)
        t = c.text
        B, S, P = 1, 5, 3
        emb = torch.randn(B, S, t.hidden_size)
        am = torch.ones(B, P + S, dtype=torch.int64)
        pos = torch.arange(P, P + S, dtype=torch.int64)[None, None].expand(3, B, S).contiguous()
        past = []
        in_names = ["inputs_embeds", "attention_mask", "position_ids"]
        out_names = ["logits"]
        dyn = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
               "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
               "position_ids": {1: "batch_size", 2: "sequence_length"},
               "logits": {0: "batch_size", 1: "sequence_length"}}
        for i in range(t.num_layers):
            for kv in ("key", "value"):
                past.append(torch.randn(B, t.num_kv_heads, P, t.head_dim))
                n = f"past_key_values.{i}.{kv}"
                in_names.append(n)
                dyn[n] = {0: "batch_size", 2: "past_sequence_length"}
        for i in range(t.num_layers):
            for kv in ("key", "value"):
                n = f"present.{i}.{kv}"
                out_names.append(n)
                dyn[n] = {0: "batch_size", 2: "total_sequence_length"}
        for l in attn_layers:
            n = f"decoder_attentions.{l}"
            out_names.append(n)
            dyn[n] = {0: "batch_size", 2: "sequence_length", 3: "total_sequence_length"}
        torch.onnx.export(_Decoder(model, attn_layers), (emb, am, pos, *past), str(onnx_dir / decoder_name),
                          input_names=in_names, output_names=out_names, dynamic_axes=dyn, opset_version=opset,
                          do_constant_folding=True)


def write_folder(model: SayoMini, tok: Tokenizer, proc: Processor, out: Path, attn_layers, opset=14,
                 training_md: str | None = None) -> None:
    out = Path(out)
    if out.exists():
        shutil.rmtree(out / "onnx", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    export_graphs(model, out / "onnx", attn_layers, opset)
    cfg = model.cfg.hf_config()
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    eos = [tok.token_id("<|im_end|>"), tok.token_id("<|endoftext|>")]
    (out / "generation_config.json").write_text(json.dumps({
        "bos_token_id": tok.token_id("<|endoftext|>"), "eos_token_id": eos, "pad_token_id": tok.token_id("<|endoftext|>"),
        "do_sample": False, "max_new_tokens": 24}, indent=2) + "\n")
    (out / "preprocessor_config.json").write_text(json.dumps(proc.config(), indent=2) + "\n")
    tok.save(out)
    if training_md is not None:
        (out / "TRAINING.md").write_text(training_md)


# ---------------------------------------------------------------------------------------------------------------
# Check: the exported graphs in onnxruntime-node against PyTorch
# ---------------------------------------------------------------------------------------------------------------
def _write(arr: np.ndarray, path: Path) -> dict:
    arr = np.ascontiguousarray(arr)
    path.write_bytes(arr.tobytes())
    return {"type": "int64" if arr.dtype == np.int64 else "float32", "dims": list(arr.shape), "file": str(path)}


def _run_node(runs: list[dict], tmp: Path) -> None:
    man = tmp / "manifest.json"
    man.write_text(json.dumps(runs))
    env = dict(os.environ)
    env.setdefault("SAYO_NODE_MODULES", str(REPO_ROOT / "node_modules"))
    r = subprocess.run(["node", str(ORT_CHECK), str(man)], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise ExportError(f"onnxruntime-node failed: {r.stderr.strip()[-2000:]}")


def _read_outputs(d: Path) -> dict[str, np.ndarray]:
    meta = json.loads((d / "outputs.json").read_text())
    out = {}
    for o in meta["outputs"]:
        dt = np.int64 if o["type"] == "int64" else np.float32
        out[o["name"]] = np.frombuffer((d / (o["name"] + ".bin")).read_bytes(), dtype=dt).reshape(o["dims"])
    return out


def check_export(model: SayoMini, folder: Path, tok: Tokenizer, proc: Processor, image, question: str,
                 attn_layers, max_logit_diff=1e-4, max_attn_diff=1e-4, decoder_name="decoder_model_merged.onnx",
                 check_vision=True) -> dict:
    """Prefill + one decode step through the ONNX graphs vs PyTorch. Raises ExportError beyond tolerance."""
    model = model.eval()
    folder = Path(folder)
    c = model.cfg
    pv, thw, grid = proc(image)
    ids = prompt_ids(tok, question, grid)
    pos, delta = rope_index(ids, thw, c.image_token_id, c.vision_start_token_id, c.vision.merge_size)
    S = len(ids)
    with torch.no_grad():
        feats = model.visual(pv, torch.tensor([thw]))
        ids_t = torch.tensor([ids])
        emb = model.embed(ids_t, [feats])
        am = torch.ones(1, S, dtype=torch.int64)
        pos_t = torch.tensor(pos)[:, None, :]
        logits, presents, attns = model.decode(emb, am, pos_t, attn_layers=set(attn_layers))
        nxt = int(logits[0, -1].argmax())
        emb2 = model.embed_tokens(torch.tensor([[nxt]]))
        am2 = torch.ones(1, S + 1, dtype=torch.int64)
        pos2 = torch.full((3, 1, 1), S + delta, dtype=torch.int64)
        logits2, presents2, attns2 = model.decode(emb2, am2, pos2, past=presents, attn_layers=set(attn_layers))
    report = {}
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        runs = []
        if check_vision:
            runs.append({"graph": str(folder / "vision_encoder.onnx"), "outdir": str(tmp / "vision"), "feeds": [
                dict(name="pixel_values", **_write(pv.numpy().astype(np.float32), tmp / "pv.bin")),
                dict(name="grid_thw", **_write(np.array([thw], dtype=np.int64), tmp / "thw.bin"))]})
            runs.append({"graph": str(folder / "embed_tokens.onnx"), "outdir": str(tmp / "embed"), "feeds": [
                dict(name="input_ids", **_write(np.array([ids], dtype=np.int64), tmp / "ids.bin"))]})
        nl, kvh, hd = c.text.num_layers, c.text.num_kv_heads, c.text.head_dim
        feeds = [dict(name="inputs_embeds", **_write(emb.numpy(), tmp / "emb.bin")),
                 dict(name="attention_mask", **_write(am.numpy(), tmp / "am.bin")),
                 dict(name="position_ids", **_write(pos_t.numpy(), tmp / "pos.bin"))]
        for i in range(nl):
            for kv in ("key", "value"):
                feeds.append(dict(name=f"past_key_values.{i}.{kv}",
                                  **_write(np.zeros((1, kvh, 0, hd), np.float32), tmp / f"p{i}{kv}.bin")))
        runs.append({"graph": str(folder / decoder_name), "outdir": str(tmp / "dec1"), "feeds": feeds})
        feeds = [dict(name="inputs_embeds", **_write(emb2.numpy(), tmp / "emb2.bin")),
                 dict(name="attention_mask", **_write(am2.numpy(), tmp / "am2.bin")),
                 dict(name="position_ids", **_write(pos2.numpy(), tmp / "pos2.bin"))]
        for i in range(nl):
            for j, kv in enumerate(("key", "value")):
                feeds.append(dict(name=f"past_key_values.{i}.{kv}",
                                  **_write(presents[i][j].numpy(), tmp / f"q{i}{kv}.bin")))
        runs.append({"graph": str(folder / decoder_name), "outdir": str(tmp / "dec2"), "feeds": feeds})
        _run_node(runs, tmp)

        def diff(a, b, what):
            a = np.asarray(a, dtype=np.float64)
            b = np.asarray(b, dtype=np.float64)
            if a.shape != b.shape:
                raise ExportError(f"{what}: shape {list(b.shape)} in ONNX, {list(a.shape)} in PyTorch")
            return float(np.abs(a - b).max()) if a.size else 0.0

        if check_vision:
            vo = _read_outputs(tmp / "vision")
            report["image_features"] = diff(feats.numpy(), vo["image_features"], "image_features")
            eo = _read_outputs(tmp / "embed")
            report["inputs_embeds"] = diff(model.embed_tokens(ids_t).detach().numpy(), eo["inputs_embeds"],
                                           "inputs_embeds")
        for tag, d, lg, pr, at in (("prefill", "dec1", logits, presents, attns),
                                   ("decode", "dec2", logits2, presents2, attns2)):
            o = _read_outputs(tmp / d)
            report[f"{tag}.logits"] = diff(lg.numpy(), o["logits"], f"{tag} logits")
            report[f"{tag}.present"] = max(diff(pr[i][j].numpy(), o[f"present.{i}.{kv}"], f"{tag} present.{i}.{kv}")
                                           for i in range(nl) for j, kv in enumerate(("key", "value")))
            report[f"{tag}.attention"] = max([diff(at[l].numpy(), o[f"decoder_attentions.{l}"],
                                                   f"{tag} decoder_attentions.{l}") for l in attn_layers] or [0.0])
            for l in attn_layers:
                if f"decoder_attentions.{l}" not in o:
                    raise ExportError(f"{tag}: output decoder_attentions.{l} missing")
                rs = o[f"decoder_attentions.{l}"].sum(-1)
                report[f"{tag}.row_sum_err"] = max(report.get(f"{tag}.row_sum_err", 0.0), float(np.abs(rs - 1).max()))
    bad = []
    for k, v in report.items():
        tol = max_attn_diff if ("attention" in k or "row_sum" in k) else max_logit_diff
        if not (v <= tol):
            bad.append(f"{k} = {v:.3g} > {tol:g}")
    report["image_tokens"] = grid.n_tokens
    report["prompt_tokens"] = S
    if bad:
        raise ExportError("export check failed: " + "; ".join(bad))
    return report
