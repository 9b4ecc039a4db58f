"""SFT of the base: next-token cross-entropy on the completion tokens (`… <answer>x</answer><|im_end|>`) only."""
from __future__ import annotations

import math
import random
import time

import torch

from .common import Example, forward_batch


def train_sft(model, examples: list[Example], *, epochs: int, batch_size: int, lr: float, weight_decay: float,
              max_grad_norm: float, seed: int, warmup_steps: int = 0, log=print, max_steps: int | None = None) -> dict:
    rng = random.Random(seed)
    torch.manual_seed(seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.98))
    steps_per_epoch = math.ceil(len(examples) / batch_size)
    total = steps_per_epoch * epochs if max_steps is None else min(max_steps, steps_per_epoch * epochs)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, warmup_steps)) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, total)))))
    step = 0
    t0 = time.time()
    hist = []
    for ep in range(epochs):
        order = list(range(len(examples)))
        rng.shuffle(order)
        for bi in range(0, len(order), batch_size):
            if step >= total:
                break
            exs = [examples[i] for i in order[bi:bi + batch_size]]
            seqs = [ex.prompt + ex.completion for ex in exs]
            logits, _, _ = forward_batch(model, exs, seqs)
            loss_sum, n_tok, correct = 0.0, 0, 0
            losses = []
            for b, ex in enumerate(exs):
                P, T = len(ex.prompt), len(ex.completion)
                rows = torch.arange(P - 1, P - 1 + T)
                tgt = torch.tensor(ex.completion)
                lg = logits[b, rows]
                losses.append(torch.nn.functional.cross_entropy(lg, tgt, reduction="sum"))
                n_tok += T
                correct += int((lg.argmax(-1) == tgt).sum())
            loss = torch.stack(losses).sum() / n_tok
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            opt.step()
            sched.step()
            step += 1
            hist.append(float(loss))
            if step % 25 == 0 or step == 1 or step == total:
                log(f"sft step {step}/{total} epoch {ep + 1} loss {sum(hist[-25:]) / len(hist[-25:]):.4f} "
                    f"tok-acc {correct / n_tok:.3f} ({time.time() - t0:.0f}s)")
    model.eval()
    return {"steps": step, "final_loss": sum(hist[-25:]) / max(1, len(hist[-25:])), "seconds": time.time() - t0}
