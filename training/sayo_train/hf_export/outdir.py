"""The export's output folder: built in a temporary sibling and renamed into place only when everything succeeded, so
a failed export never leaves a half-written folder and never destroys the previous good one. Refused up front: a
symlink, a non-folder, a folder holding anything that is not a previous export (or holding symlinks), and any alias
of an input (the output equal to, or containing, the checkpoint, the adapter or the processor folder)."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from .family import ExportError

# What an export writes (models/CONTRACT.md layout); a folder holding only these may be replaced.
EXPORT_ENTRIES = frozenset(
    {
        "config.json",
        "generation_config.json",
        "preprocessor_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "registry_entry.json",
        "export_report.json",
        "onnx",
    }
)
# Written beside an export by the pipeline's report stage: allowed in the output, and carried into the new export.
KEPT_ENTRIES = frozenset({"TRAINING.md"})
_TMP = ".sayo-export-tmp"
_OLD = ".sayo-export-old"


def _has_symlink(folder: Path) -> Path | None:
    for root, dirs, files in os.walk(folder):
        for n in dirs + files:
            if os.path.islink(os.path.join(root, n)):
                return Path(root) / n
    return None


def check_output(out: Path, inputs: Iterable[Path | None]) -> None:
    out = Path(out)
    if out.is_symlink():
        raise ExportError(f"--out {out}: is a symlink; give a real folder (an export never writes through links)")
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out}: is a file; give a folder")
    real = out.resolve()
    for inp in inputs:
        if inp is None:
            continue
        r = Path(inp).resolve()
        if r == real or real in r.parents:
            raise ExportError(
                f"--out {out}: is {'' if r == real else 'a parent of '}the input folder {inp}; "
                "give a separate output folder (an export replaces its output whole)"
            )
    if out.is_dir():
        unrelated = sorted(e.name for e in out.iterdir() if e.name not in EXPORT_ENTRIES | KEPT_ENTRIES)
        if unrelated:
            raise ExportError(
                f"--out {out}: holds {', '.join(unrelated[:3])}{' …' if len(unrelated) > 3 else ''}, "
                "which an export did not write; give an empty folder or a previous export"
            )
        link = _has_symlink(out)
        if link is not None:
            raise ExportError(
                f"--out {out}: {link.relative_to(out)} is a symlink; an export never writes through "
                "links (remove it or give another folder)"
            )
    parent = real.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"--out {out}: cannot create the folder ({e.strerror}); give a writable folder") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"--out {out}: {parent} is not writable; give a writable folder")


@contextmanager
def staged_output(out: Path, inputs: Iterable[Path | None]) -> Iterator[Path]:
    """Yields a fresh temporary sibling of `out`; on success it replaces `out` (the previous export is removed only
    after the new one is in place), on any failure it is removed and `out` is untouched."""
    out = Path(out)
    check_output(out, inputs)
    real = out.resolve()
    for stale in real.parent.glob(f".{real.name}{_TMP}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = real.parent / f".{real.name}{_TMP}-{os.getpid()}"
    try:
        tmp.mkdir()
    except OSError as e:
        raise ExportError(
            f"--out {out}: cannot create a folder beside it ({e.strerror}); give a writable folder"
        ) from None
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for name in KEPT_ENTRIES:
        if (real / name).is_file() and not (tmp / name).exists():
            shutil.copy2(real / name, tmp / name)
    old = None
    if real.exists():
        old = real.parent / f".{real.name}{_OLD}-{os.getpid()}"
        os.rename(real, old)
    os.rename(tmp, real)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
