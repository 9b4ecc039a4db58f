"""Shared pieces of the pipeline stages: seeding, the project tokenizer, logging, JSON output."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from .data import corpus_texts
from .tokenizer import Tokenizer

REPO = Path(__file__).resolve().parents[2]
TOKENIZER_CORPUS_SEED = 0
TOKENIZER_CORPUS_SIZE = 20000


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def build_tokenizer() -> Tokenizer:
    """Deterministic: the same tokenizer for every run (the corpus is the generator's full template space)."""
    return Tokenizer.build(corpus_texts(TOKENIZER_CORPUS_SEED, TOKENIZER_CORPUS_SIZE))


class Logger:
    def __init__(self, path: Path | None = None, quiet: bool = False):
        self.path = path
        self.quiet = quiet
        self.t0 = time.time()
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, msg: str) -> None:
        if self.quiet:
            return
        line = f"[{time.time() - self.t0:7.1f}s] {msg}"
        print(line, flush=True)
        if self.path:
            with open(self.path, "a") as f:
                f.write(line + "\n")


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")
