"""Project JSONL records → what transformers' Trainer (SFT) and TRL's GRPOTrainer read.

Prompts are conversational: one user turn holding the question; TRL (and `prompt_text` below) put the image block in
front of it, and Qwen's chat template renders `<|vision_start|><|image_pad|><|vision_end|>` + question, with its
default system turn. The processor expands `<|image_pad|>` to the image's tokens from its own image_grid_thw.
"""

from __future__ import annotations

import datasets
import torch
from PIL import Image

from .data import DESCRIBE_QUESTION, read_jsonl

IGNORE = -100


def _system(system_prompt: str | None) -> list[dict]:
    return [{"role": "system", "content": system_prompt}] if system_prompt else []


def prompt_messages(question: str, system_prompt: str | None = None) -> list[dict]:
    """A TRL conversational prompt (TRL puts the image block in front of the user's text)."""
    return _system(system_prompt) + [{"role": "user", "content": question}]


def prompt_text(processor, question: str, system_prompt: str | None = None) -> str:
    """The rendered prompt with the image block, as TRL renders prompt_messages + image; `data.system_prompt`
    replaces the template's default system turn."""
    sys_turn = [{"role": "system", "content": [{"type": "text", "text": system_prompt}]}] if system_prompt else []
    msgs = sys_turn + [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    return processor.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


class SftCollator:
    """Batches of records → input_ids (prompt ids as the processor writes them + the completion + <|im_end|>),
    labels with every prompt position masked (-100), right padding, pixel_values and image_grid_thw."""

    def __init__(self, processor, max_response_tokens: int | None = None, system_prompt: str | None = None):
        self.processor = processor
        self.system_prompt = system_prompt
        self.tok = processor.tokenizer
        self.max_response = max_response_tokens

    def __call__(self, recs: list[dict]) -> dict:
        images = [[Image.open(r["_image_path"]).convert("RGB")] for r in recs]
        enc = self.processor(
            images=images,
            text=[prompt_text(self.processor, r["question"], self.system_prompt) for r in recs],
            return_tensors="pt",
            padding=True,
            padding_side="right",
        )
        plen = enc["attention_mask"].sum(-1).tolist()
        seqs, labels = [], []
        for b, r in enumerate(recs):
            comp = self.tok(r["completion"] + "<|im_end|>", add_special_tokens=False)["input_ids"]
            if self.max_response:
                comp = comp[: self.max_response]
            p = enc["input_ids"][b, : plen[b]].tolist()
            seqs.append(p + comp)
            labels.append([IGNORE] * len(p) + comp)
        L = max(len(s) for s in seqs)
        pad = self.tok.pad_token_id
        ids = torch.full((len(seqs), L), pad, dtype=torch.long)
        lab = torch.full((len(seqs), L), IGNORE, dtype=torch.long)
        am = torch.zeros((len(seqs), L), dtype=torch.long)
        for b, (s, y) in enumerate(zip(seqs, labels)):
            ids[b, : len(s)] = torch.tensor(s)
            lab[b, : len(y)] = torch.tensor(y)
            am[b, : len(s)] = 1
        return {
            "input_ids": ids,
            "attention_mask": am,
            "labels": lab,
            "pixel_values": enc["pixel_values"],
            "image_grid_thw": enc["image_grid_thw"],
        }


def grpo_dataset(path, system_prompt: str | None = None) -> datasets.Dataset:
    """GRPO prompts: every training record but the SFT-only "describe" ones, with columns prompt, image (decoded to
    PIL by datasets), boxes, answer."""
    recs = [r for r in read_jsonl(path) if r["question"] != DESCRIBE_QUESTION]
    ds = datasets.Dataset.from_dict(
        {
            "prompt": [prompt_messages(r["question"], system_prompt) for r in recs],
            "image": [r["_image_path"] for r in recs],
            "boxes": [[[float(x) for x in b] for b in r["boxes"]] for r in recs],
            "answer": [r["answer"] for r in recs],
        }
    )
    return ds.cast_column("image", datasets.Image())
