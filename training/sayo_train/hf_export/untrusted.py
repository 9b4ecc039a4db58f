"""A model folder is untrusted input (it comes from strangers): nothing in it is executed, every file is read only when
it is a regular file under a size cap, and every size it declares is bounded before anything is allocated from it.

CONFIG_LIMITS and VISION_LIMITS (sayo_train/limits.py) mirror src/core/limits.ts, where the engine, `sayo inspect`
and the app read the same numbers. A breach is an ExportError of one line naming the field."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

from ..limits import CONFIG_LIMITS, VISION_LIMITS
from .family import ExportError

# Same as DOWNLOAD_LIMITS.maxJsonBytes in src/core/limits.ts: a Qwen tokenizer.json is about 11 MB.
MAX_JSON_BYTES = 64 * 1024 * 1024
# Keys that make transformers import Python from the folder (AutoConfig / AutoTokenizer / AutoModel... / processors).
REMOTE_CODE_KEYS = ("auto_map",)
# Files of a folder that transformers reads and that may name custom code.
CODE_NAMING_FILES = (
    "config.json",
    "tokenizer_config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "image_processor_config.json",
    "video_preprocessor_config.json",
)
MAX_JSON_DEPTH = 64


def regular_file(path: Path, max_bytes: int | None, what: str | None = None) -> int:
    """The size of `path` when it is a regular file (a symlink to one is fine) of at most `max_bytes`; else an
    ExportError. A FIFO, a device (/dev/zero) or a folder is never opened."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as e:
        raise ExportError(f"{what or path}: cannot be read ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ExportError(f"{what or path}: not a regular file (a FIFO, device or folder is never read)")
    if max_bytes is not None and st.st_size > max_bytes:
        raise ExportError(f"{what or path}: {st.st_size:,} bytes, more than {max_bytes:,} (size limit)")
    return st.st_size


def _depth(obj, limit: int) -> int:
    stack = [(obj, 1)]
    deepest = 0
    while stack:
        o, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return deepest


def read_json(path: Path, max_bytes: int = MAX_JSON_BYTES):
    """A JSON file of the folder: regular, under `max_bytes`, valid, finite, nested at most MAX_JSON_DEPTH deep."""
    regular_file(path, max_bytes)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ExportError(f"{path}: cannot be read as UTF-8 text ({e})") from None

    def bad_constant(name):
        raise ExportError(f"{path}: {name} is not a JSON number (accepted: finite numbers)")

    try:
        obj = json.loads(text, parse_constant=bad_constant)
    except RecursionError:
        raise ExportError(f"{path}: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as e:
        raise ExportError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    if _depth(obj, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ExportError(f"{path}: nested deeper than {MAX_JSON_DEPTH} levels")
    return obj


def refuse_remote_code(folder: Path) -> None:
    """A folder whose config or tokenizer / processor config names custom code (auto_map) is refused: transformers
    would import that Python (or ask whether to), and a model folder never runs code here."""
    folder = Path(folder)
    for name in CODE_NAMING_FILES:
        p = folder / name
        if not p.exists():
            continue
        d = read_json(p)
        if isinstance(d, dict):
            for k in REMOTE_CODE_KEYS:
                if k in d:
                    names = ", ".join(sorted(d[k])) if isinstance(d[k], dict) else type(d[k]).__name__
                    raise ExportError(
                        f"{p}: {k} ({names}) names custom code; a model folder's Python is never run "
                        "here — remove auto_map or export a folder of a supported family"
                    )


def _bounded_int(d: dict, prefix: str, key: str, limit: int) -> None:
    v = d.get(key)
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= limit:
        shown = json.dumps(v)[:40] if not isinstance(v, float) or math.isfinite(v) else str(v)
        raise ExportError(
            f"config.json {prefix}{key}: {shown} is not plausible (accepted: an integer from 1 to {limit:,})"
        )


def check_config(config: dict, where: Path) -> None:
    """The sizes config.json declares, before transformers allocates a model from them."""
    if not isinstance(config, dict):
        raise ExportError(f"{where}: expected a JSON object")
    for k in config:
        if k in ("__proto__", "constructor", "prototype"):
            raise ExportError(
                f"config.json {k}: not a config field (refused: the engine's JavaScript would read it "
                "as an object property)"
            )
    parts = [("", config)] + [
        (f"{s}.", config[s]) for s in ("text_config", "vision_config") if isinstance(config.get(s), dict)
    ]
    for prefix, d in parts:
        for k in d:
            if k in ("__proto__", "constructor", "prototype"):
                raise ExportError(f"config.json {prefix}{k}: not a config field")
        limits = {**CONFIG_LIMITS, **VISION_LIMITS} if prefix == "vision_config." else CONFIG_LIMITS
        for key, limit in limits.items():
            _bounded_int(d, prefix, key, limit)
        heads, kv = d.get("num_attention_heads"), d.get("num_key_value_heads")
        if isinstance(heads, int) and isinstance(kv, int) and (kv > heads or heads % kv):
            raise ExportError(
                f"config.json {prefix}num_key_value_heads: {kv} does not divide num_attention_heads {heads}"
            )


def checked_folder(folder: Path) -> dict:
    """config.json of a checkpoint folder, read and bounded, after refusing custom code; the weight files are
    regular files."""
    folder = Path(folder)
    if not (folder / "config.json").exists():
        raise ExportError(f"{folder}: no config.json; pass a Hugging Face checkpoint folder (save_pretrained output)")
    refuse_remote_code(folder)
    config = read_json(folder / "config.json")
    check_config(config, folder / "config.json")
    weights = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
    if not weights:
        raise ExportError(
            f"{folder}: no weights (model.safetensors or model-*.safetensors); pass a complete save_pretrained folder"
        )
    for w in weights:
        regular_file(w, None)
    for idx in folder.glob("*.index.json"):
        index = read_json(idx)
        missing = (
            sorted(
                {
                    f
                    for f in (index.get("weight_map") or {}).values()
                    if isinstance(f, str) and not (folder / f).exists()
                }
            )
            if isinstance(index, dict)
            else []
        )
        if missing:
            raise ExportError(
                f"{idx}: names {', '.join(missing[:3])}, which {'is' if len(missing) == 1 else 'are'} "
                "missing from the folder"
            )
    return config
