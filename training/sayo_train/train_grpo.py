"""GRPO for SAYO-mini: group-normalised advantages, clipped ratio, KL(β) to the frozen reference (the SFT base),
temperature / top-p sampling. Rewards are plain functions (rewards.py) combined as a weighted sum.

Per step: `prompts_per_step` prompts × `group_size` sampled completions. One teacher-forced forward of the policy per
group (with gradients) yields the log-probabilities, the entropies and the last-layer attention of the very queries
that produced each token — the attention and entropy are detached and feed the SAYO reward (no gradient flows through
the reward); the reference forward gives the KL term. One optimisation step per batch (num_iterations = 1, so the
ratio is 1 at the update but the clipped objective is kept for fidelity).
"""
from __future__ import annotations

import copy
import random
import time

import torch

from .common import Example
from .infer import generate, token_stats
from .rewards import accuracy_reward, attention_region_reward, format_reward


def combined_rewards(terms, *, tok, exs, comps, finished, stats):
    """terms: list of (name, weight, params). Returns (total list, {name: list})."""
    texts = [tok.decode(c, skip_special_tokens=True) for c in comps]
    parts = {}
    for name, weight, params in terms:
        if weight == 0:
            continue
        if name == "attention_region":
            vals = attention_region_reward(texts, image_attention=stats["image_att"], entropies=stats["entropy"],
                                           targets=[ex.target for ex in exs], top_ratio=params.get("top_ratio", 0.3),
                                           eps=params.get("eps", 1e-8))
        elif name == "format":
            vals = format_reward(texts, finished=finished, pattern=params.get("pattern",
                                                                              r"<answer>(?!.*<answer>)(.*?)</answer>"))
        elif name == "accuracy":
            vals = accuracy_reward(texts, answers=[ex.rec["answer"] for ex in exs])
        else:
            raise ValueError(f"unknown reward term {name!r}")
        parts[name] = [weight * v for v in vals]
    total = [sum(p[i] for p in parts.values()) for i in range(len(comps))]
    return total, parts


def train_grpo(policy, examples: list[Example], tok, *, terms, steps: int, prompts_per_step: int, group_size: int,
               lr: float, weight_decay: float, max_grad_norm: float, kl_beta: float, clip_eps: float,
               advantage_eps: float, temperature: float, top_p: float, max_new: int, layer: int, seed: int,
               log=print) -> dict:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    ref = copy.deepcopy(policy).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    L = policy.cfg.text.num_layers
    layer = (layer + L) % L
    opt = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=weight_decay)
    from .tokenizer import SPECIAL_TOKENS
    banned = torch.tensor([tok.token_id(t) for t in SPECIAL_TOKENS if t != "<|im_end|>"])
    t0 = time.time()
    hist = []
    order = []
    for step in range(1, steps + 1):
        if len(order) < prompts_per_step:
            more = list(range(len(examples)))
            rng.shuffle(more)
            order += more
        batch, order = order[:prompts_per_step], order[prompts_per_step:]
        policy.eval()  # no dropout anyway; sampling with the current parameters
        opt.zero_grad()
        n_tok_total = 0
        groups = []
        for idx in batch:
            ex = examples[idx]
            comps, finished = generate(policy, ex, group_size, max_new, greedy=False, temperature=temperature,
                                       top_p=top_p, gen=gen, banned=banned)
            comps = [c if c else [policy.cfg.eos_token_id] for c in comps]
            groups.append((ex, comps, finished))
            n_tok_total += sum(len(c) for c in comps)
        log_r, log_parts, log_kl = [], {}, []
        for ex, comps, finished in groups:
            exs = [ex] * len(comps)
            st = token_stats(policy, exs, comps, layer, temperature, grad=True)
            total, parts = combined_rewards(terms, tok=tok, exs=exs, comps=comps, finished=finished, stats=st)
            r = torch.tensor(total, dtype=torch.float32)
            adv = (r - r.mean()) / (r.std(unbiased=False) + advantage_eps)
            with torch.no_grad():
                rst = token_stats(ref, exs, comps, layer, temperature)
            loss = 0.0
            for i in range(len(comps)):
                lp = st["logp"][i]
                old = lp.detach()
                ratio = torch.exp(lp - old)
                pg = -torch.min(ratio * adv[i], torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * adv[i])
                d = rst["logp"][i] - lp
                kl = torch.exp(d) - d - 1  # low-variance (k3) estimator of KL(π‖π_ref)
                loss = loss + (pg + kl_beta * kl).sum()
                log_kl.append(float(kl.mean()))
            (loss / n_tok_total).backward()  # token-mean over the whole step
            log_r += total
            for k, v in parts.items():
                log_parts.setdefault(k, []).extend(v)
        gn = torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
        opt.step()
        rec = {"step": step, "reward": sum(log_r) / len(log_r), "kl": sum(log_kl) / len(log_kl),
               "grad_norm": float(gn), **{k: sum(v) / len(v) for k, v in log_parts.items()},
               "len": n_tok_total / (len(groups) * group_size)}
        hist.append(rec)
        if step % 10 == 0 or step == 1 or step == steps:
            w = hist[-10:]
            keys = [k for k in rec if k not in ("step",)]
            msg = " ".join(f"{k} {sum(h[k] for h in w) / len(w):.4f}" for k in keys)
            log(f"grpo step {step}/{steps} {msg} ({time.time() - t0:.0f}s)")
    policy.eval()
    return {"steps": steps, "seconds": time.time() - t0, "history": hist}
