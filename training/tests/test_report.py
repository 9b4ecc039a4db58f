"""Paired held-out differences (trained − base, per question) with their standard errors, and their METRICS table."""

import math

from sayo_train.pipeline import paired
from sayo_train.report import render_metrics


def sample(correct, ra, rv):
    return {"correct": correct, "R_a": ra, "r_v": rv, "image_share": 0.3, "pointing_hit": False}


def test_paired_mean_and_standard_error():
    base = [sample(True, 0.5, 0.0), sample(False, 0.5, 0.1), sample(False, 0.6, 0.2)]
    trained = [sample(True, 0.6, 0.3), sample(True, 0.7, 0.1), sample(False, 0.6, 0.5)]
    p = paired({"base": {"samples": base}, "trained": {"samples": trained}})
    d = [0.1, 0.2, 0.0]
    m = sum(d) / 3
    se = math.sqrt(sum((x - m) ** 2 for x in d) / 2) / math.sqrt(3)
    assert abs(p["R_a"]["mean"] - m) < 1e-12 and abs(p["R_a"]["se"] - se) < 1e-12 and p["R_a"]["n"] == 3
    assert abs(p["accuracy"]["mean"] - 1 / 3) < 1e-12 and p["image_share"] == {"mean": 0.0, "se": 0.0, "n": 3}
    assert paired({"base": {"samples": base}}) == {}
    s = {
        "n": 3,
        "accuracy": 0.5,
        "R_a": 0.5,
        "r_v": 0.1,
        "image_share": 0.3,
        "pointing_hit": 0.5,
        "format_ok": 1.0,
        "mean_tokens": 3.0,
    }
    text = render_metrics([{"run": "x", "checkpoints": {"base": s, "trained": s}, "paired": p}], notes=False)
    assert f"| x | 3 | +0.3333 ± {p['accuracy']['se']:.4f} | +{m:.4f} ± {se:.4f} |" in text
