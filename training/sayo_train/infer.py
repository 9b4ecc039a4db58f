"""Held-out metrics of models/CONTRACT.md on a Hugging Face checkpoint: greedy decoding with transformers' generate,
then one teacher-forced pass (policy_attention.measure: the last layer's completion rows) for the per-token numbers."""

from __future__ import annotations

import torch
from PIL import Image

from .geometry import box_tokens
from .hf_data import prompt_text
from .hf_model import banned_token_ids
from .policy_attention import grid_from_thw, measure
from .reward_math import DEFAULT_ALIGNMENT, align, attention_score, select_top_entropy, tanh_log_ratio
from .text_rewards import accuracy_reward, extract_answer


@torch.no_grad()
def greedy(model, processor, image, question: str, max_new: int, system_prompt=None) -> tuple[list[int], bool]:
    """Greedy completion ids (ending with <|im_end|> when finished) and whether it finished."""
    enc = processor(images=[[image]], text=[prompt_text(processor, question, system_prompt)], return_tensors="pt")
    eos = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    out = model.generate(
        **enc,
        max_new_tokens=max_new,
        do_sample=False,
        eos_token_id=eos,
        pad_token_id=processor.tokenizer.pad_token_id,
        bad_words_ids=[[i] for i in banned_token_ids(processor.tokenizer)],
    )
    c = out[0, enc["input_ids"].shape[1] :].tolist()
    if eos in c:
        c = c[: c.index(eos) + 1]
    return c, bool(c) and c[-1] == eos


@torch.no_grad()
def evaluate(
    model,
    processor,
    records: list[dict],
    *,
    max_new: int = 24,
    layer: int = -1,
    eps: float = 1e-8,
    top_ratio: float = 0.3,
    alignment: str = DEFAULT_ALIGNMENT,
    system_prompt=None,
    log=None,
) -> dict:
    """CONTRACT.md metrics: greedy decoding, `layer` (last), mean over heads, boxes united; R_a over every scored
    token, r_v over the top-entropy ones, both with the spec's alignment."""
    model.eval()
    ip = processor.image_processor
    per = []
    for i, rec in enumerate(records):
        img = Image.open(rec["_image_path"]).convert("RGB")
        c, finished = greedy(model, processor, img, rec["question"], max_new, system_prompt)
        if not c:
            c = [processor.tokenizer.convert_tokens_to_ids("<|im_end|>")]
        st = measure(
            model, processor, [prompt_text(processor, rec["question"], system_prompt)], [img], [c], layer=layer
        )[0]
        grid = grid_from_thw(st["image_grid_thw"], img.width, img.height, ip.patch_size, ip.merge_size)
        tgt = box_tokens(grid, rec["boxes"])
        att = st["image_att"].to(torch.float64)  # T, H, N (row t produced token t)
        rows, ent = align(list(att), [float(e) for e in st["entropy"]], alignment)
        if not rows:  # one token under the input alignment
            rows, ent = list(att), [float(e) for e in st["entropy"]]
        a_t = [float(r[:, tgt].mean(-1).mean()) for r in rows]
        v_t = [float(r.mean(-1).mean()) for r in rows]
        sel = select_top_entropy(ent, top_ratio)
        a_q = sum(a_t[j] for j in sel) / len(sel)
        v_q = sum(v_t[j] for j in sel) / len(sel)
        heat = torch.stack(rows).mean(1).mean(0)
        text = processor.tokenizer.decode(c, skip_special_tokens=True)
        per.append(
            {
                "image": rec["image"],
                "question": rec["question"],
                "answer": rec["answer"],
                "generation": text,
                "prediction": extract_answer(text).strip(),
                "finished": finished,
                "correct": accuracy_reward([text], answers=[rec["answer"]])[0] == 1.0,
                "tokens": len(c),
                "R_a": sum(attention_score(a, v, eps) for a, v in zip(a_t, v_t)) / len(a_t),
                "r_v": tanh_log_ratio(a_q, v_q, eps),
                "image_share": float(torch.stack(rows).sum(-1).mean(-1).mean()),
                "pointing_hit": int(heat.argmax()) in set(tgt),
            }
        )
        if log and (i + 1) % 50 == 0:
            log(f"  eval {i + 1}/{len(records)}")
    n = len(per)
    keys = ("accuracy", "R_a", "r_v", "image_share", "pointing_hit", "format_ok", "mean_tokens")
    vals = {
        "accuracy": [p["correct"] for p in per],
        "R_a": [p["R_a"] for p in per],
        "r_v": [p["r_v"] for p in per],
        "image_share": [p["image_share"] for p in per],
        "pointing_hit": [p["pointing_hit"] for p in per],
        "format_ok": [p["finished"] and "</answer>" in p["generation"] for p in per],
        "mean_tokens": [p["tokens"] for p in per],
    }
    summary = {"n": n, **{k: sum(float(x) for x in vals[k]) / n for k in keys}}
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
