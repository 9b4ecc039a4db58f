"""The fault suite's Python door: hostile inputs to `python -m sayo_train export` (the CLI's main(), in this process,
each case under a time limit; the custom-code case as a real subprocess answering "y" on stdin). Prints one JSON line
per case {group, name, outcome, detail} with the outcomes of lab/faults/tally.ts:
  clear  exit 1 with exactly one `sayo_train export:` line, matching the case's message, no traceback
  crash  a traceback, an exception out of main(), another exit status
  hang   over the case's time limit
  wrong  accepted what must be refused (or a refusal that does not say what the case needs)
  lost   a file that existed before the case (an input, a previous export, a file beside) changed
Run by lab/faults/faults.test.ts; standalone: OMP_NUM_THREADS=1 .venv/bin/python training/tests/fault_cases_export.py
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAINING = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAINING))

# A hostile file must not take this process past a few GB (it would take the machine instead).
resource.setrlimit(resource.RLIMIT_AS, (12 * 2**30, resource.RLIM_INFINITY))


class Timeout(Exception):
    pass


def _alarm(_sig, _frame):
    raise Timeout()


signal.signal(signal.SIGALRM, _alarm)


def tree_hash(p: Path) -> str:
    """Content hash of a file or folder (symlinks by target), to detect any change."""
    h = hashlib.sha256()
    p = Path(p)
    if p.is_symlink():
        h.update(b"L" + os.readlink(p).encode())
    elif p.is_file():
        h.update(p.read_bytes())
    elif p.is_dir():
        for f in sorted(p.rglob("*")):
            h.update(str(f.relative_to(p)).encode())
            if f.is_symlink():
                h.update(b"L" + os.readlink(f).encode())
            elif f.is_file():
                h.update(f.read_bytes())
    else:
        h.update(b"absent")
    return h.hexdigest()


def run_main(args, limit_s: float):
    from sayo_train.__main__ import main

    err = io.StringIO()
    t0 = time.time()
    signal.alarm(int(limit_s))
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(["export", *map(str, args)])
    except Timeout:
        return None, err.getvalue(), time.time() - t0
    except BaseException as e:  # noqa: BLE001 - a crash is what this records
        import traceback

        return (
            "exception",
            err.getvalue() + "Traceback\n" + "".join(traceback.format_exception_only(e)),
            time.time() - t0,
        )
    finally:
        signal.alarm(0)
    return rc, err.getvalue(), time.time() - t0


def judge(rc, err: str, message: str | None, protected: dict[Path, str]) -> tuple[str, str]:
    lost = [str(p) for p, h in protected.items() if tree_hash(p) != h]
    lines = [line for line in err.strip().splitlines() if line.strip()]
    detail = f"rc {rc}: {err.strip()[-300:]}"
    if lost:
        return "lost", f"changed: {', '.join(lost)}; {detail}"
    if rc is None:
        return "hang", detail
    if message is None:
        return ("accepted", detail) if rc == 0 else ("crash" if "Traceback" in err else "wrong", detail)
    if rc == 0:
        return "wrong", f"accepted: {detail}"
    if rc != 1 or "Traceback" in err:
        return "crash", detail
    if len(lines) != 1 or not lines[0].startswith("sayo_train export:") or not re.search(message, lines[0]):
        return "wrong", detail
    return "clear", detail


def emit(group, name, outcome, detail):
    print(json.dumps({"group": group, "name": name, "outcome": outcome, "detail": detail[:400]}), flush=True)


def main() -> int:
    import torch
    from sayo_train.hf_export import load_checkpoint
    from sayo_train.hf_export.tiny import build_tiny

    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="sayo-export-faults-"))
    try:
        return _cases(root, build_tiny, load_checkpoint)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _copy(src: Path, dst: Path, edit=None) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    if edit:
        edit(dst)
    return dst


def _edit_json(name, fn):
    def edit(folder: Path):
        p = folder / name
        d = json.loads(p.read_text())
        fn(d)
        p.write_text(json.dumps(d))

    return edit


def _cases(root: Path, build_tiny, load_checkpoint) -> int:
    src = root / "src"
    build_tiny("qwen2_vl", src, seed=0)
    other = root / "other-base"
    build_tiny("qwen2_vl", other, seed=1)
    G = "export"

    def case(group, name, args, message, protected=(), limit_s=180.0):
        prot = {Path(p): tree_hash(Path(p)) for p in (src, other, *protected)}
        rc, err, _s = run_main(args, limit_s)
        outcome, detail = judge(rc, err, message, prot)
        emit(f"{G}: {group}", name, outcome, detail)

    # -- custom code: a real subprocess, "y" on stdin; the folder's Python must never run
    evil = _copy(
        src,
        root / "evil",
        _edit_json(
            "config.json", lambda d: d.update(model_type="evil_vl", auto_map={"AutoConfig": "evil_code.EvilConfig"})
        ),
    )
    marker = root / "PWNED"
    (evil / "evil_code.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        "from transformers import Qwen2VLConfig\n"
        "class EvilConfig(Qwen2VLConfig):\n    model_type = 'evil_vl'\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(TRAINING))
    t0 = time.time()
    try:
        r = subprocess.run(
            [sys.executable, "-m", "sayo_train", "export", str(evil), "--out", str(root / "evil-out")],
            input="y\ny\n",
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=str(TRAINING),
        )
        rc, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        rc, err = None, "timeout"
    if marker.exists():
        emit(
            f"{G}: custom code",
            "auto_map in config.json, 'y' on stdin",
            "wrong",
            f"the folder's Python ran (rc {rc}): {err.strip()[-300:]}",
        )
    else:
        o, d = judge(rc, err, r"auto_map .* never run", {})
        if "custom code" in err and "[y/N]" in err:
            o, d = "wrong", "asked whether to run the folder's code: " + err.strip()[-200:]
        emit(f"{G}: custom code", "auto_map in config.json, 'y' on stdin", o, f"{d} ({time.time() - t0:.0f} s)")
    case(
        "custom code",
        "auto_map in config.json of a known family",
        [
            _copy(
                src,
                root / "am-known",
                _edit_json("config.json", lambda d: d.update(auto_map={"AutoModelForImageTextToText": "x.Y"})),
            ),
            "--out",
            root / "o-am1",
        ],
        r"auto_map",
    )
    case(
        "custom code",
        "auto_map in tokenizer_config.json",
        [
            _copy(
                src,
                root / "am-tok",
                _edit_json("tokenizer_config.json", lambda d: d.update(auto_map={"AutoTokenizer": ["x.T", None]})),
            ),
            "--out",
            root / "o-am2",
        ],
        r"auto_map",
    )

    # -- the output folder
    good = root / "good"
    case("output folder", "fresh export", [src, "--out", good], None)
    # another checkpoint's graphs would be written before the processor files are found missing
    case(
        "output folder",
        "re-export fails midway: previous export kept",
        [
            other,
            "--out",
            good,
            "--processor",
            _copy(src, root / "noproc", lambda f: (f / "preprocessor_config.json").unlink()),
        ],
        r"preprocessor_config\.json missing",
        [good],
    )
    (good / "TRAINING.md").write_text("how this model was trained")
    case("output folder", "re-export replaces the previous export", [src, "--out", good], None)
    kept = (good / "TRAINING.md").is_file() and (good / "TRAINING.md").read_text() == "how this model was trained"
    emit(f"{G}: output folder", "TRAINING.md beside the export is kept", "accepted" if kept else "lost", "")
    stale = [p.name for p in root.iterdir() if ".sayo-export-" in p.name]
    emit(f"{G}: output folder", "no temporary folder left beside", "wrong" if stale else "accepted", ", ".join(stale))
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("mine")
    (root / "link-out").symlink_to(elsewhere)
    case("output folder", "--out is a symlink", [src, "--out", root / "link-out"], r"symlink", [elsewhere])
    outside = root / "outside.json"
    outside.write_text('{"mine": true}')
    linked = _copy(good, root / "linked-export")
    (linked / "config.json").unlink()
    (linked / "config.json").symlink_to(outside)
    case("output folder", "config.json in --out is a symlink", [src, "--out", linked], r"symlink", [outside, linked])
    onnx_link = _copy(good, root / "onnx-link-export")
    shutil.rmtree(onnx_link / "onnx")
    (onnx_link / "onnx").symlink_to(elsewhere)
    case("output folder", "onnx/ in --out is a symlink", [src, "--out", onnx_link], r"symlink", [elsewhere, onnx_link])
    mixed = _copy(good, root / "mixed")
    (mixed / "thesis.tex").write_text("years of work")
    case("output folder", "--out holds unrelated files", [src, "--out", mixed], r"thesis\.tex", [mixed])
    case("output folder", "--out is the source folder", [src, "--out", src], r"input folder")
    case(
        "output folder",
        "--out is a parent of the source folder",
        [src, "--out", root],
        r"input folder",
        [root / "good"],
    )
    case("output folder", "--out /proc/sayo-x", [src, "--out", "/proc/sayo-x"], r"--out /proc/sayo-x")

    # -- the folder's files and declared sizes
    def trunc(f: Path):
        w = f / "model.safetensors"
        w.write_bytes(w.read_bytes()[:100])

    case(
        "checkpoint",
        "corrupt model.safetensors",
        [_copy(src, root / "corrupt", trunc), "--out", root / "o1"],
        r"weights cannot be loaded",
    )
    case(
        "checkpoint",
        "missing model.safetensors",
        [_copy(src, root / "noweights", lambda f: (f / "model.safetensors").unlink()), "--out", root / "o2"],
        r"no weights",
    )
    case(
        "checkpoint",
        "config.json not JSON",
        [
            _copy(src, root / "badjson", lambda f: (f / "config.json").write_text('{"model_type": "qwen2_vl",')),
            "--out",
            root / "o3",
        ],
        r"not valid JSON",
    )

    def fifo(f: Path):
        (f / "config.json").unlink()
        os.mkfifo(f / "config.json")

    case(
        "checkpoint",
        "config.json is a FIFO",
        [_copy(src, root / "fifo", fifo), "--out", root / "o4"],
        r"not a regular file",
        limit_s=60,
    )

    def zero(f: Path):
        (f / "tokenizer.json").unlink()
        (f / "tokenizer.json").symlink_to("/dev/zero")

    case(
        "checkpoint",
        "tokenizer.json -> /dev/zero",
        [_copy(src, root / "zero", zero), "--out", root / "o5"],
        r"not a regular file",
        limit_s=120,
    )

    def big_json(f: Path):
        with open(f / "tokenizer_config.json", "w") as fh:
            fh.write('{"pad": "')
            fh.truncate(70 * 2**20)

    case(
        "checkpoint",
        "tokenizer_config.json of 70 MB",
        [_copy(src, root / "bigjson", big_json), "--out", root / "o5b"],
        r"size limit",
        limit_s=120,
    )
    case(
        "checkpoint",
        "num_attention_heads 0",
        [
            _copy(
                src,
                root / "heads0",
                _edit_json(
                    "config.json",
                    lambda d: (d.update(num_attention_heads=0), d.get("text_config", {}).update(num_attention_heads=0)),
                ),
            ),
            "--out",
            root / "o6",
        ],
        r"num_attention_heads: 0",
    )
    case(
        "checkpoint",
        "vision depth 1e6",
        [
            _copy(src, root / "deep", _edit_json("config.json", lambda d: d["vision_config"].update(depth=1_000_000))),
            "--out",
            root / "o7",
        ],
        r"vision_config\.depth: 1000000",
        limit_s=120,
    )
    case(
        "checkpoint",
        "__proto__ in config.json",
        [
            _copy(src, root / "proto", _edit_json("config.json", lambda d: d.update({"__proto__": {"x": 1}}))),
            "--out",
            root / "o8",
        ],
        r"__proto__",
    )
    case(
        "checkpoint",
        "nesting 100000 deep",
        [
            _copy(
                src, root / "nest", lambda f: (f / "preprocessor_config.json").write_text("[" * 100_000 + "]" * 100_000)
            ),
            "--out",
            root / "o9",
        ],
        r"preprocessor_config\.json",
    )

    # -- arguments
    case("arguments", "--opset 1", [src, "--out", root / "o10", "--opset", "1"], r"opset 1: accepted")
    case("arguments", "--opset 99999", [src, "--out", root / "o11", "--opset", "99999"], r"opset 99999: accepted")
    case("arguments", "--layers ''", [src, "--out", root / "o12", "--layers", ""], r"layers ''")

    # -- adapters
    from peft import LoraConfig, get_peft_model

    torch = __import__("torch")
    torch.manual_seed(3)
    pm = get_peft_model(
        load_checkpoint(other), LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"], init_lora_weights=False)
    )
    pm.save_pretrained(root / "adapter-other")
    cfg = json.loads((root / "adapter-other" / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(other)
    (root / "adapter-other" / "adapter_config.json").write_text(json.dumps(cfg))
    case(
        "adapter",
        "made for another base",
        [src, "--out", root / "o13", "--adapter", root / "adapter-other"],
        r"another base",
    )
    pm = get_peft_model(
        load_checkpoint(src), LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"], init_lora_weights=False)
    )
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                p.fill_(float("nan"))
    pm.save_pretrained(root / "adapter-nan")
    cfg = json.loads((root / "adapter-nan" / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(src)
    (root / "adapter-nan" / "adapter_config.json").write_text(json.dumps(cfg))
    case(
        "adapter",
        "NaN adapter without --check",
        [src, "--out", root / "o14", "--adapter", root / "adapter-nan"],
        r"non-finite",
    )
    # an adapter whose LoRA matrices are for a wider model (hidden 96, not 64): peft's shape check, in one line
    from safetensors.torch import load_file, save_file

    wide = _copy(root / "adapter-nan", root / "adapter-wide")
    cfg = json.loads((wide / "adapter_config.json").read_text())
    weights = load_file(str(wide / "adapter_model.safetensors"))
    save_file(
        {
            k: (torch.zeros(v.shape[0], 96) if "lora_A" in k else torch.zeros(96, v.shape[1]))
            for k, v in weights.items()
        },
        str(wide / "adapter_model.safetensors"),
    )
    (wide / "adapter_config.json").write_text(json.dumps(cfg))
    case(
        "adapter",
        "LoRA shapes of another width",
        [src, "--out", root / "o15", "--adapter", wide],
        r"does not fit this base",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
