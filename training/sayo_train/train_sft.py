"""SFT of the base on transformers' Trainer: next-token cross-entropy on the completion tokens
(`… <answer>x</answer><|im_end|>`) only, the prompt masked by hf_data.SftCollator."""

from __future__ import annotations

import time

import torch
from transformers import Trainer, TrainingArguments

from .hf_data import SftCollator


class _Records(list):
    """The training records as a map-style dataset (the collator reads images and tokenises)."""


def sft_args(sft, seed: int, output_dir, *, world_size: int = 1) -> TrainingArguments:
    """TrainingArguments from the spec's `sft:` keys: AdamW, cosine schedule after `warmup_steps`."""
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=sft.epochs,
        per_device_train_batch_size=max(1, sft.batch_size // world_size),
        learning_rate=sft.lr,
        weight_decay=sft.weight_decay,
        max_grad_norm=sft.max_grad_norm,
        warmup_steps=sft.warmup_steps or 0,
        lr_scheduler_type="cosine",
        adam_beta2=0.98,
        seed=seed,
        data_seed=seed,
        logging_steps=25,
        save_strategy="no",
        report_to=[],
        remove_unused_columns=False,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
        bf16=False,
        fp16=False,
        gradient_checkpointing=False,
    )  # transformers' defaults, stated: fp32, no checkpointing


def train_sft(
    model,
    processor,
    records: list[dict],
    sft,
    *,
    seed: int,
    output_dir,
    max_response_tokens=None,
    system_prompt=None,
    world_size: int = 1,
    log=print,
) -> dict:
    t0 = time.time()
    args = sft_args(sft, seed, output_dir, world_size=world_size)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=_Records(records),
        data_collator=SftCollator(processor, max_response_tokens, system_prompt),
    )
    out = trainer.train()
    hist = [h for h in trainer.state.log_history if "loss" in h]
    for h in hist:
        log(f"sft step {h['step']} loss {h['loss']:.4f} lr {h.get('learning_rate', 0):.2e}")
    model.eval()
    return {
        "steps": trainer.state.global_step,
        "final_loss": hist[-1]["loss"] if hist else out.training_loss,
        "train_loss": out.training_loss,
        "seconds": time.time() - t0,
    }
