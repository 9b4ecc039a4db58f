"""Generation with a KV cache, teacher-forced token statistics and the held-out metrics of models/CONTRACT.md."""
from __future__ import annotations

import math

import torch

from .common import Example, forward_batch
from .model import SayoMini, rope_index
from .reward import attention_score, select_top_entropy, tanh_log_ratio
from .rewards import accuracy_reward, extract_answer


@torch.no_grad()
def generate(model: SayoMini, ex: Example, n: int = 1, max_new: int = 24, greedy: bool = True,
             temperature: float = 1.0, top_p: float = 1.0, gen: torch.Generator | None = None, banned=None):
    """n completions of one prompt. Returns (list of id lists, each ending with <|im_end|> when finished; finished).
    `banned`: token ids never sampled (the trainer bans the special tokens other than <|im_end|>)."""
    cfg = model.cfg
    eos = cfg.eos_token_id
    ids = torch.tensor([ex.prompt])
    P = len(ex.prompt)
    pos, delta = rope_index(ex.prompt, ex.thw, cfg.image_token_id, cfg.vision_start_token_id, cfg.vision.merge_size)
    feats = model.visual(ex.pixel_values, torch.tensor([ex.thw]))
    emb = model.embed(ids, [feats], [ex.image_start])
    logits, past, _ = model.decode(emb, torch.ones(1, P, dtype=torch.int64), torch.tensor(pos)[:, None, :])
    past = [(k.expand(n, -1, -1, -1).contiguous(), v.expand(n, -1, -1, -1).contiguous()) for k, v in past]
    last = logits[:, -1].expand(n, -1)
    out = [[] for _ in range(n)]
    done = torch.zeros(n, dtype=torch.bool)
    for step in range(max_new):
        if banned is not None:
            last = last.clone()
            last[:, banned] = float("-inf")
        if greedy:
            nxt = last.argmax(-1)
        else:
            probs = torch.softmax(last / temperature, dim=-1)
            if top_p < 1.0:
                sp, si = probs.sort(dim=-1, descending=True)
                cum = sp.cumsum(-1)
                keep = (cum - sp) < top_p
                sp = sp * keep
                probs = torch.zeros_like(probs).scatter(-1, si, sp)
                probs = probs / probs.sum(-1, keepdim=True)
            nxt = torch.multinomial(probs, 1, generator=gen)[:, 0]
        for i in range(n):
            if not done[i]:
                out[i].append(int(nxt[i]))
        done = done | (nxt == eos)
        if bool(done.all()) or step == max_new - 1:
            break
        T = P + step + 1
        am = torch.ones(n, T, dtype=torch.int64)
        p = torch.full((3, n, 1), T - 1 + delta, dtype=torch.int64)
        logits, past, _ = model.decode(model.embed_tokens(nxt[:, None]), am, p, past=past)
        last = logits[:, -1]
    finished = [len(o) > 0 and o[-1] == eos for o in out]
    return out, finished


def token_stats(model: SayoMini, exs: list[Example], comps: list[list[int]], layer: int, temperature: float = 1.0,
                grad: bool = False):
    """Teacher-forced pass over prompt + completion for each (example, completion).
    Returns dict with per-completion lists: logp [T] (of the sampled tokens, logits/temperature), entropy [T],
    image_att [T, H, N] (rows of the queries that produced the tokens, image columns), image_share [T] (head mean)."""
    seqs = [ex.prompt + c for ex, c in zip(exs, comps)]
    ctx = torch.enable_grad() if grad else torch.no_grad()
    with ctx:
        logits, attns, _am = forward_batch(model, exs, seqs, attn_layers={layer})
        res = {"logp": [], "entropy": [], "image_att": [], "image_share": []}
        att = attns[layer]
        for b, (ex, c) in enumerate(zip(exs, comps)):
            P, T = len(ex.prompt), len(c)
            rows = torch.arange(P - 1, P - 1 + T)
            lg = logits[b, rows] / temperature
            lp = torch.log_softmax(lg, dim=-1)
            res["logp"].append(lp.gather(-1, torch.tensor(c)[:, None])[:, 0])
            with torch.no_grad():
                pr = lp.detach().exp()
                res["entropy"].append(-(pr * lp.detach()).sum(-1))
                a = att[b, :, rows, :].detach().transpose(0, 1)  # T, H, L
                s, N = ex.image_start, ex.grid.n_tokens
                img = a[:, :, s:s + N]
                res["image_att"].append(img)
                res["image_share"].append(img.sum(-1).mean(-1))
    return res


@torch.no_grad()
def evaluate(model: SayoMini, exs: list[Example], tok, max_new: int = 24, layer: int | None = None,
             eps: float = 1e-8, top_ratio: float = 0.3, log=None) -> dict:
    """CONTRACT.md metrics on a dataset: greedy decoding, last layer, head mean, boxes united."""
    model.eval()
    L = model.cfg.text.num_layers
    layer = (L - 1) if layer is None else (layer + L) % L
    per = []
    for i, ex in enumerate(exs):
        comps, finished = generate(model, ex, 1, max_new, greedy=True)
        c = comps[0]
        st = token_stats(model, [ex], [c], layer)
        att = st["image_att"][0].to(torch.float64)  # T, H, N
        tgt = ex.target
        a_t = att[:, :, tgt].mean(-1).mean(-1)
        v_t = att.mean(-1).mean(-1)
        ra = [attention_score(float(a), float(v), eps) for a, v in zip(a_t, v_t)]
        sel = select_top_entropy([float(e) for e in st["entropy"][0]], top_ratio)
        a_q = float(a_t[sel].mean())
        v_q = float(v_t[sel].mean())
        point = int(att.mean(1).mean(0).argmax())
        text = tok.decode(c, skip_special_tokens=True)
        per.append({
            "image": ex.rec["image"], "question": ex.rec["question"], "answer": ex.rec["answer"],
            "generation": text, "prediction": extract_answer(text).strip(), "finished": finished[0],
            "correct": accuracy_reward([text], answers=[ex.rec["answer"]])[0] == 1.0,
            "tokens": len(c), "R_a": sum(ra) / len(ra), "r_v": tanh_log_ratio(a_q, v_q, eps),
            "image_share": float(st["image_share"][0].mean()), "pointing_hit": point in set(tgt),
        })
        if log and (i + 1) % 50 == 0:
            log(f"  eval {i + 1}/{len(exs)}")
    n = len(per)
    summary = {
        "n": n,
        "accuracy": sum(p["correct"] for p in per) / n,
        "R_a": sum(p["R_a"] for p in per) / n,
        "r_v": sum(p["r_v"] for p in per) / n,
        "image_share": sum(p["image_share"] for p in per) / n,
        "pointing_hit": sum(p["pointing_hit"] for p in per) / n,
        "format_ok": sum(p["finished"] and "</answer>" in p["generation"] for p in per) / n,
        "mean_tokens": sum(p["tokens"] for p in per) / n,
    }
    return {"summary": summary, "samples": per}


def chance_accuracy(records) -> float:
    """Accuracy of guessing uniformly among the answers of the same question kind (colour / shape / count)."""
    from .data import COLORS, SHAPES
    tot = 0.0
    for r in records:
        a = r["answer"]
        if a in COLORS:
            tot += 1 / len(COLORS)
        elif a in SHAPES:
            tot += 1 / len(SHAPES)
        else:
            tot += 1 / 6
    return tot / max(1, len(records))
