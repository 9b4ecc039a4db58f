"""GRPO on TRL's GRPOTrainer (trl 0.25.1, SAYO's own pin: the trainer SAYO subclassed), with the SAYO attention
reward as a plug-in (policy_attention.AttentionRegionReward), the format reward with the spec's length shaping and the
optional accuracy reward. The mini spec and the 8B spec go through this same code; only the spec differs.

Spec → GRPOConfig: group_size → num_generations; prompts_per_step × group_size completions per optimizer step
(per_device_train_batch_size × processes × gradient_accumulation_steps); lr, weight_decay, max_grad_norm, kl_beta →
beta, clip_eps → epsilon, temperature, top_p, data.max_response_tokens → max_completion_length,
data.max_prompt_tokens → max_prompt_length (None when absent: TRL truncates nothing); lr_scheduler,
warmup_steps, scale_rewards and loss_type when the spec gives them (else TRL's defaults). advantage_eps is TRL's fixed
1e-4 (checked by the spec). Special tokens other than <|im_end|> are never sampled (bad_words_ids).
"""

from __future__ import annotations

import time

import torch
from trl import GRPOConfig, GRPOTrainer

from .hf_model import banned_token_ids
from .policy_attention import AttentionRegionReward
from .text_rewards import AccuracyReward, FormatReward


def grpo_config(spec, output_dir, processor, *, world_size: int = 1) -> GRPOConfig:
    g, h = spec.grpo, spec.hardware
    completions = g.prompts_per_step * g.group_size
    if h is not None:
        per_device, accum = h.per_device_batch_size, h.gradient_accumulation_steps
    else:
        if completions % world_size:
            raise ValueError(f"grpo: {completions} completions per step do not split over {world_size} processes")
        per_device, accum = completions // world_size, 1
    kw = {}
    if g.lr_scheduler:
        kw["lr_scheduler_type"] = g.lr_scheduler
    if g.warmup_steps is not None:
        kw["warmup_steps"] = g.warmup_steps
    if g.scale_rewards:
        kw["scale_rewards"] = g.scale_rewards
    if g.loss_type:
        kw["loss_type"] = g.loss_type
    if g.save_every:
        kw.update(save_strategy="steps", save_steps=g.save_every)
    else:
        kw["save_strategy"] = "no"
    if g.steps:
        kw["max_steps"] = g.steps
    else:
        kw["num_train_epochs"] = g.epochs
    if h is not None:
        kw.update(
            bf16=h.precision == "bf16",
            fp16=h.precision == "fp16",
            gradient_checkpointing=bool(h.gradient_checkpointing),
        )
    else:
        # CPU runs (no hardware section): TRL 0.25's GRPOConfig defaults, stated so that a TRL upgrade cannot change
        # them silently: bf16 autocast (its default when fp16 is off, on CPU too) and gradient checkpointing. The
        # SAYO-mini GRPO settings (training/results/NOTES.md) were chosen under them.
        kw.update(bf16=True, fp16=False, gradient_checkpointing=True)
    weights = [r.weight for r in spec.rewards]
    attn = h.attn_implementation if h is not None and h.attn_implementation else "eager"
    kw["model_init_kwargs"] = {"attn_implementation": attn, "dtype": spec.model.dtype or "float32"}
    return GRPOConfig(
        output_dir=str(output_dir),
        seed=spec.run.seed,
        data_seed=spec.run.seed,
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=accum,
        num_generations=g.group_size,
        learning_rate=g.lr,
        weight_decay=g.weight_decay,
        max_grad_norm=g.max_grad_norm,
        beta=g.kl_beta,
        epsilon=g.clip_eps,
        temperature=g.temperature,
        top_p=g.top_p,
        max_completion_length=spec.data.max_response_tokens,
        max_prompt_length=spec.data.max_prompt_tokens,
        reward_weights=weights,
        logging_steps=1,
        report_to=[],
        remove_unused_columns=False,
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
        dataloader_num_workers=0,
        generation_kwargs={"bad_words_ids": [[i] for i in banned_token_ids(processor.tokenizer)]},
        **kw,
    )


def reward_functions(spec, processor):
    """The spec's rewards, in its order, as TRL reward functions (the attention one still to be bound)."""
    eos = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    out = []
    for r in spec.rewards:
        p = r.params
        if r.name == "attention_region":
            out.append(
                AttentionRegionReward(
                    processor,
                    layer=p.layer,
                    top_ratio=p.top_ratio,
                    eps=p.eps,
                    alignment=p.alignment,
                    temperature=spec.grpo.temperature,
                    cell_px=p.cell_px,
                    micro_batch=spec.grpo.reward_micro_batch,
                )
            )
        elif r.name == "format":
            out.append(FormatReward(p.pattern, eos, p.length_shaping, p.gating))
        elif r.name == "accuracy":
            out.append(AccuracyReward())
        else:
            raise ValueError(f"rewards: unknown reward {r.name!r}")
    return out


def train_grpo(
    model_path,
    processor,
    dataset,
    spec,
    *,
    output_dir,
    world_size: int = 1,
    peft_config=None,
    log=print,
    callbacks=None,
) -> dict:
    """GRPO from the checkpoint folder `model_path` (TRL loads the policy and its KL reference from it); `callbacks`:
    transformers TrainerCallbacks added to the trainer's."""
    t0 = time.time()
    args = grpo_config(spec, output_dir, processor, world_size=world_size)
    funcs = reward_functions(spec, processor)
    trainer = GRPOTrainer(
        model=str(model_path),
        reward_funcs=funcs,
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    for f in funcs:
        if isinstance(f, AttentionRegionReward):
            f.bind(trainer)
    trainer.train()
    hist = [h for h in trainer.state.log_history if "reward" in h]
    for h in hist:
        if h["step"] % 10 == 0 or h["step"] in (1, trainer.state.global_step):
            parts = " ".join(
                f"{k.split('/')[1]} {v:+.4f}" for k, v in h.items() if k.startswith("rewards/") and k.endswith("/mean")
            )
            log(
                f"grpo step {h['step']}: reward {h['reward']:+.4f} ({parts}) kl {h.get('kl', 0):.4f} "
                f"len {h.get('completions/mean_length', 0):.1f}"
            )
    model = trainer.accelerator.unwrap_model(trainer.model)
    model.eval()
    return {
        "model": model,
        "trainer": trainer,
        "steps": trainer.state.global_step,
        "seconds": time.time() - t0,
        "history": hist,
    }
