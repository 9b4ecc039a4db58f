"""The pinned stack is checked before a run: a missing or different version stops it with one line naming the pin."""

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from sayo_train.pins import REQUIREMENTS, pins, problems

TRAINING = Path(__file__).resolve().parents[1]


def test_the_installed_stack_matches_requirements_txt():
    p = pins()
    assert p["trl"] == "0.25.1" and p["transformers"] == "4.57.1" and p["peft"] == "0.18.0"
    assert p["accelerate"] == "1.12.0"
    assert problems() == []


def test_a_missing_or_wrong_version_gives_one_line_naming_the_pin(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("# comment\ntrl==0.25.1\ntransformers==9.9.9  # newer\nno-such-dist==1.0\n")
    assert pins(req) == {"trl": "0.25.1", "transformers": "9.9.9", "no-such-dist": "1.0"}
    assert problems(req) == [
        f"transformers==9.9.9 is pinned in requirements.txt but {metadata.version('transformers')} is installed",
        "no-such-dist==1.0 is pinned in requirements.txt but not installed",
    ]


def test_gpu_requirements_add_deepspeed_at_sayos_pin():
    gpu = pins(REQUIREMENTS.with_name("requirements-gpu.txt"))
    assert gpu["deepspeed"] == "0.18.3"
    assert "-r requirements.txt" in REQUIREMENTS.with_name("requirements-gpu.txt").read_text()


def test_gpu_requirements_pin_the_torchvision_built_for_the_pinned_torch():
    """torchvision 0.(N + 15).P is built against torch 2.N.P (PyTorch's release pairing: 2.9.1 ↔ 0.24.1)."""
    torch_v = pins()["torch"].split(".")
    tv = pins(REQUIREMENTS.with_name("requirements-gpu.txt"))["torchvision"].split(".")
    assert torch_v[0] == "2" and tv[0] == "0"
    assert (int(tv[1]), tv[2]) == (int(torch_v[1]) + 15, torch_v[2])


def test_launching_the_8b_spec_without_deepspeed_stops_with_the_pin(tmp_path):
    """This machine has no deepspeed: a real (not dry-run) launch of the ZeRO spec stops before any work."""
    r = subprocess.run(
        [sys.executable, "-m", "sayo_train", "launch", "jobs/sayo-qwen3-vl-8b.yaml"],
        cwd=TRAINING,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [
        "sayo_train: deepspeed==0.18.3 is pinned in requirements-gpu.txt but not installed",
        "sayo_train: torchvision==0.24.1 is pinned in requirements-gpu.txt but not installed",
    ]
