"""A checkpoint's weights read one tensor at a time, never the whole model: the model is built on the meta device
(accelerate's `init_empty_weights`, which keeps the rotary tables' buffers real), and a submodule is given its
tensors from the safetensors files (`safe_open`, lazily, one at a time) right before it is traced, then sent back to
the meta device. A peft LoRA adapter is merged tensor by tensor as it is read: W + (α / r) · B·A, peft's own formula
for a plain LoRA linear (`merge_and_unload`), so the merged weights equal the whole-model path's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from .family import ExportError


class Checkpoint:
    """The tensors of a save_pretrained folder by the model's own parameter names (the class's
    `_checkpoint_conversion_mapping` applied, as `from_pretrained` does), in float32."""

    def __init__(self, folder: Path, model_class, adapter: Path | None = None):
        from safetensors import safe_open

        self.folder = Path(folder)
        index = self.folder / "model.safetensors.index.json"
        if index.exists():
            files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        elif (self.folder / "model.safetensors").exists():
            files = ["model.safetensors"]
        else:
            raise ExportError(
                f"{self.folder}: no model.safetensors or model.safetensors.index.json; a streamed export "
                "reads safetensors weights (save the checkpoint with safe_serialization=True)"
            )
        mapping = getattr(model_class, "_checkpoint_conversion_mapping", None) or {}
        self._where: dict[str, tuple[str, str]] = {}
        for f in files:
            for key in safe_open(str(self.folder / f), "pt").keys():
                name = key
                for pattern, repl in mapping.items():
                    name, n = re.subn(pattern, repl, name)
                    if n:
                        break
                self._where[name] = (f, key)
        self.lora = _Lora(Path(adapter)) if adapter is not None else None

    def has(self, name: str) -> bool:
        return name in self._where

    def get(self, name: str) -> torch.Tensor:
        """The float32 tensor of parameter `name`, with the adapter's LoRA delta when it has one for it."""
        if name not in self._where:
            raise ExportError(f"{self.folder}: the checkpoint has no tensor for {name}")
        f, key = self._where[name]
        t = self._open(f).get_tensor(key).to(torch.float32)
        return self.lora.merged(name, t) if self.lora else t

    def _open(self, f: str):
        """A fresh handle per read: safetensors maps the file, and the pages a read touches stay in the process
        (its RSS) for as long as the handle lives; a handle per read lets them go with the tensor."""
        from safetensors import safe_open

        return safe_open(str(self.folder / f), "pt")

    def rows(self, name: str, start: int, stop: int) -> torch.Tensor:
        """Rows [start, stop) of a 2-D tensor, read without the rest (a vocabulary table or LM head)."""
        f, key = self._where[name]
        t = self._open(f).get_slice(key)[start:stop].to(torch.float32)
        if self.lora and self.lora.touches(name):
            raise ExportError(
                f"{name}: a LoRA adapter on the embedding or LM head is not supported by the streamed "
                "export; merge it with peft first"
            )
        return t

    def shape(self, name: str) -> list[int]:
        f, key = self._where[name]
        return list(self._open(f).get_slice(key).get_shape())


class _Lora:
    """A peft LoRA adapter folder (adapter_config.json + adapter_model.safetensors), plain LoRA only."""

    def __init__(self, folder: Path):
        from safetensors.torch import load_file

        cfg_path = folder / "adapter_config.json"
        if not cfg_path.exists():
            raise ExportError(
                f"{folder}: no adapter_config.json; --adapter takes a peft LoRA folder "
                "(PeftModel.save_pretrained output)"
            )
        cfg = json.loads(cfg_path.read_text())
        unsupported = [k for k in ("use_dora", "fan_in_fan_out") if cfg.get(k)]
        if cfg.get("peft_type", "LORA") != "LORA" or unsupported or cfg.get("rank_pattern") or cfg.get("alpha_pattern"):
            raise ExportError(
                f"{folder}: the streamed export merges plain LoRA adapters (peft_type LORA, one r and "
                f"alpha, no DoRA / fan_in_fan_out); this one has {unsupported or cfg.get('peft_type')}"
            )
        r, alpha = int(cfg["r"]), float(cfg["lora_alpha"])
        self.scale = alpha / (r**0.5) if cfg.get("use_rslora") else alpha / r
        weights = load_file(str(folder / "adapter_model.safetensors"))
        self.pairs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for k, a in weights.items():
            if ".lora_A." not in k:
                continue
            module = k.split(".lora_A.")[0]
            module = re.sub(r"^base_model\.model\.", "", module)
            b = weights[k.replace(".lora_A.", ".lora_B.")]
            self.pairs[module + ".weight"] = (a.to(torch.float32), b.to(torch.float32))

    def touches(self, name: str) -> bool:
        return name in self.pairs

    def merged(self, name: str, w: torch.Tensor) -> torch.Tensor:
        if name not in self.pairs:
            return w
        a, b = self.pairs[name]
        if a.shape[1] != w.shape[1] or b.shape[0] != w.shape[0]:
            raise ExportError(
                f"{name}: the adapter's LoRA shapes {list(b.shape)}·{list(a.shape)} do not fit the "
                f"weight {list(w.shape)}; it was made for another base"
            )
        merged = w + (b @ a) * self.scale
        if not torch.isfinite(merged).all():
            raise ExportError(
                f"{name}: merging the adapter gives non-finite weights (NaN or inf); the adapter is broken"
            )
        return merged


def empty_model(config):
    """The ...ForConditionalGeneration of `config` with every parameter on the meta device (no memory) and real
    buffers, eager attention, eval mode."""
    from accelerate import init_empty_weights
    from transformers import AutoModelForImageTextToText

    with init_empty_weights():
        model = AutoModelForImageTextToText.from_config(config, attn_implementation="eager", dtype=torch.float32)
    return model.eval()


class Live:
    """Bytes of parameters materialized right now, and the most there ever were (what a test holds the streamed
    export to: one piece at a time)."""

    now = 0
    peak = 0


def _size(module: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters() if p.device.type != "meta")


def materialize(module: torch.nn.Module, prefix: str, ckpt: Checkpoint) -> torch.nn.Module:
    """Gives `module` (parameters on meta) its float32 tensors `prefix + name` from the checkpoint."""
    from accelerate.utils import set_module_tensor_to_device

    for name, p in list(module.named_parameters()):
        set_module_tensor_to_device(module, name, "cpu", value=ckpt.get(prefix + name), dtype=torch.float32)
    Live.now += _size(module)
    Live.peak = max(Live.peak, Live.now)
    return module


def release(module: torch.nn.Module) -> None:
    """Sends `module`'s parameters back to the meta device, freeing their memory."""
    from accelerate.utils import set_module_tensor_to_device

    Live.now -= _size(module)
    for name, _p in list(module.named_parameters()):
        set_module_tensor_to_device(module, name, "meta")
    trim()


def trim() -> None:
    """Hands freed heap memory back to the system (glibc's malloc_trim). Blocks of a piece's size freed after each
    piece otherwise stay in glibc's heap (its mmap threshold rises to the size of the blocks freed), and the process
    grows by about one piece per piece: measured +45 MB per 60 MB layer without, +0 with. No-op off glibc."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
