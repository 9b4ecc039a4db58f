"""The pinned stack (training/requirements.txt) checked before a run: a missing or different version stops the run
with one line naming the pin."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"


def pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """{distribution: version} of every `name==version` line."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s#;]+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def problems(path: Path = REQUIREMENTS, installed=metadata.version) -> list[str]:
    """One line per pin that is missing or installed at another version."""
    out = []
    for name, want in pins(path).items():
        try:
            have = installed(name)
        except metadata.PackageNotFoundError:
            out.append(f"{name}=={want} is pinned in {path.name} but not installed")
            continue
        if have.split("+")[0] != want.split("+")[0]:
            out.append(f"{name}=={want} is pinned in {path.name} but {have} is installed")
    return out
