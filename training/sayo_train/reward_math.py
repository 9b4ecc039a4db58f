"""The SAYO region reward, as models/CONTRACT.md defines it (the SAYO paper's §2 formulas), in plain Python: the
maths the parity fixtures are written with and src/core/reward.ts is tested against.

Per generated token t with attention A[t][h][k] over the N image tokens (heads h of one layer):
    a_t = mean_h mean_{k in target} A,   v_t = mean_h mean_{k < N} A,   R_a(t) = ½(1 + tanh(log((a_t+ε)/(v_t+ε))))
Selection: of the T generated tokens, the k = max(1, ⌊T·ratio⌋) with the highest entropy, ties to the lower index.
Reward: a_q, v_q = means of a_t, v_t over the selected tokens; r_v = tanh(log((a_q+ε)/(v_q+ε))).

`tanh(log x)` is evaluated as (x²−1)/(x²+1) — the same number, without overflow for extreme ratios.

Alignment (which attention row a generated token owns). Rows come in generation order: row t is the query that
PRODUCED token t (the prompt's last position for t = 0). Two choices, named:
- "produced" (default): token t owns row t, for every t < T. The row that chose the token is where the model looked
  while deciding it, the first token is scored too, and it is the row the browser records at each decoding step.
- "input" (official SAYO code): token t owns row t + 1, the row where t is the input; tokens 0…T−2 are scored, with
  their own entropies; the row that produced the first token and the last token are never scored.
"""

from __future__ import annotations

import math

from .geometry import Grid, box_tokens, cell_coverage, make_grid

DEFAULT_EPS = 1e-8
DEFAULT_TOP_RATIO = 0.3
ALIGNMENTS = ("produced", "input")
DEFAULT_ALIGNMENT = "produced"
# ⌊T·ratio⌋ with a guard so that products such as 10 × 0.3 = 3.0000000000000004 or 100 × 0.29 = 28.999999999999996
# floor to the intended integer.
FLOOR_GUARD = 1e-9


class RewardError(ValueError):
    pass


def tanh_log_ratio(a: float, v: float, eps: float = DEFAULT_EPS) -> float:
    x = (a + eps) / (v + eps)
    if x > 1e150:
        return 1.0
    x2 = x * x
    return (x2 - 1.0) / (x2 + 1.0)


def attention_score(a: float, v: float, eps: float = DEFAULT_EPS) -> float:
    """R_a = ½(1 + tanh(log((a+ε)/(v+ε)))) ∈ (0, 1)."""
    return 0.5 * (1.0 + tanh_log_ratio(a, v, eps))


def top_k_count(T: int, ratio: float = DEFAULT_TOP_RATIO) -> int:
    if T <= 0:
        raise RewardError("entropy: need at least one generated token")
    return min(T, max(1, math.floor(T * ratio + FLOOR_GUARD)))


def select_top_entropy(entropy, ratio: float = DEFAULT_TOP_RATIO) -> list[int]:
    """Indices (ascending) of the k highest-entropy tokens; among equal entropies the lower index wins."""
    T = len(entropy)
    k = top_k_count(T, ratio)
    order = sorted(range(T), key=lambda i: (-float(entropy[i]), i))
    return sorted(order[:k])


def token_a_v(att_t, target) -> tuple[float, float]:
    """att_t: [H][N] attention of one generated token. Returns (a_t, v_t)."""
    H = len(att_t)
    a = 0.0
    v = 0.0
    for row in att_t:
        a += sum(row[k] for k in target) / len(target)
        v += sum(row) / len(row)
    return a / H, v / H


def align(rows, entropy, alignment: str = DEFAULT_ALIGNMENT):
    """(rows, entropy) of the scored tokens: rows[t] is the attention row that produced token t, entropy[t] that
    token's entropy. "produced": unchanged; "input": token t gets rows[t + 1], for t < T − 1."""
    if alignment not in ALIGNMENTS:
        raise RewardError(f"alignment: expected one of {', '.join(ALIGNMENTS)}, got {alignment!r}")
    if len(rows) != len(entropy):
        raise RewardError(f"entropy: {len(entropy)} values for {len(rows)} tokens")
    if alignment == "produced":
        return rows, entropy
    return rows[1:], entropy[:-1]


def reward_from_av(per_token_av, entropy, top_ratio: float = DEFAULT_TOP_RATIO, eps: float = DEFAULT_EPS) -> dict:
    """Selection, a_q, v_q and r_v from per-token (a, v) pairs already aligned with their entropies."""
    if not per_token_av:
        raise RewardError("attention: no scored token (the input alignment needs at least two generated tokens)")
    selected = select_top_entropy(entropy, top_ratio)
    a_q = sum(per_token_av[i][0] for i in selected) / len(selected)
    v_q = sum(per_token_av[i][1] for i in selected) / len(selected)
    return {"selected": selected, "a_q": a_q, "v_q": v_q, "r_v": tanh_log_ratio(a_q, v_q, eps)}


def reward_from_attention(
    attention,
    target,
    entropy,
    top_ratio: float = DEFAULT_TOP_RATIO,
    eps: float = DEFAULT_EPS,
    alignment: str = DEFAULT_ALIGNMENT,
) -> dict:
    """attention: [T][H][N] image-token attention, row t produced token t; target: token indices; entropy: [T]."""
    if not target:
        raise RewardError("boxes: no target token")
    attention, entropy = align(attention, entropy, alignment)
    per_token = []
    for att_t in attention:
        a, v = token_a_v(att_t, target)
        per_token.append({"a": a, "v": v, "R_a": attention_score(a, v, eps)})
    r = reward_from_av([(p["a"], p["v"]) for p in per_token], entropy, top_ratio, eps)
    return {"per_token": per_token, **r}


def reward_case(inp: dict) -> dict:
    """The `sayo reward` CLI: input object → output object (models/CONTRACT.md), plus `cover` (fractional cell coverage)."""
    img = inp["image"]
    proc = inp["processor"]
    grid: Grid = make_grid(
        int(img["width"]),
        int(img["height"]),
        int(proc["patch_size"]),
        int(proc["merge_size"]),
        int(proc["min_pixels"]),
        int(proc["max_pixels"]),
    )
    att = inp["attention"]
    ent = inp["entropy"]
    if len(att) != len(ent):
        raise RewardError(f"entropy: {len(ent)} values for {len(att)} tokens")
    for t, att_t in enumerate(att):
        for h, row in enumerate(att_t):
            if len(row) != grid.n_tokens:
                raise RewardError(f"attention[{t}][{h}]: {len(row)} values, grid has {grid.n_tokens} tokens")
    alignment = inp.get("alignment", DEFAULT_ALIGNMENT)
    if alignment == "input" and len(att) < 2:
        raise RewardError("attention: the input alignment scores tokens 0…T−2: need at least 2 tokens")
    target = box_tokens(grid, inp["boxes"])
    r = reward_from_attention(
        att, target, ent, float(inp.get("top_ratio", DEFAULT_TOP_RATIO)), float(inp.get("eps", DEFAULT_EPS)), alignment
    )
    return {
        "grid": {
            "rows": grid.rows,
            "cols": grid.cols,
            "resized": {"width": grid.resized_width, "height": grid.resized_height},
        },
        "target_tokens": target,
        "cover": cell_coverage(grid, inp["boxes"]),
        "per_token": r["per_token"],
        "selected": r["selected"],
        "a_q": r["a_q"],
        "v_q": r["v_q"],
        "r_v": r["r_v"],
    }
