"""The attention reward's teacher-forced pass computes only what the reward uses (policy_attention.measure) and gives
the numbers of the full pass it replaced (reward_pass_ref.measure_full: whole model eager, full logits, one batch),
in fp32, for any micro-batch, through a peft LoRA wrapper; its measured peak is below the full pass's and within the
memory plan's formula (plan.reward_pass_lines)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from reward_pass_peak import tiny_case
from reward_pass_ref import measure_full
from sayo_train.plan import reward_pass_lines
from sayo_train.policy_attention import measure

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def case():
    return tiny_case("sdpa", batch=4)


def _max_gaps(got, ref):
    att = max((g["image_att"] - r["image_att"]).abs().max().item() for g, r in zip(got, ref))
    ent = max(((g["entropy"] - r["entropy"]).abs() / r["entropy"].abs()).max().item() for g, r in zip(got, ref))
    return att, ent


def test_the_pass_equals_the_full_pass_for_any_micro_batch_and_keeps_the_models_attention(case):
    _, proc, model, texts, images, comps = case
    ref = measure_full(model, proc, texts, images, comps)
    assert model.config._attn_implementation == "sdpa"
    for mb in (None, 1, 3):
        got = measure(model, proc, texts, images, comps, micro_batch=mb)
        assert [g["image_grid_thw"] for g in got] == [r["image_grid_thw"] for r in ref]
        att, ent = _max_gaps(got, ref)
        # the other layers ran sdpa here and eager in the reference: the same maths, summed in another order
        assert att <= 1e-6 and ent <= 1e-6, (mb, att, ent)
    assert model.config._attn_implementation == "sdpa"
    assert all(layer.self_attn.config is model.config.text_config for layer in model.model.language_model.layers)
    model.set_attn_implementation("eager")  # the same implementation in every other layer: the same numbers
    try:
        got = measure(model, proc, texts, images, comps, micro_batch=3)
    finally:
        model.set_attn_implementation("sdpa")
    assert _max_gaps(got, ref) == (0.0, 0.0)


def test_the_pass_runs_through_a_peft_lora_wrapper(case):
    from peft import LoraConfig, get_peft_model

    _, proc, model, texts, images, comps = case
    import copy

    wrapped = get_peft_model(
        copy.deepcopy(model), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    )
    ref = measure_full(wrapped, proc, texts[:2], images[:2], comps[:2])
    got = measure(wrapped, proc, texts[:2], images[:2], comps[:2], micro_batch=1)
    assert max(_max_gaps(got, ref)) <= 1e-6
    base = measure(model, proc, texts[:2], images[:2], comps[:2])
    assert (got[0]["image_att"] - base[0]["image_att"]).abs().max() > 1e-4  # the adapters did run


def test_the_measured_peak_is_below_the_full_pass_and_within_the_plans_formula():
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, str(HERE / "reward_pass_peak.py"), "2"], env=env, capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    d = r["dims"]

    def bound(m):
        lines = reward_pass_lines(
            m=m,
            seq=d["L"],
            resp=d["T"],
            n_img=d["n_img"],
            patches=d["patches"],
            h=d["h"],
            i=d["i"],
            heads=d["heads"],
            vocab=d["vocab"],
            b=4,
            embed=d["embed"],
            vision_heads=d["vision_heads"],
            n_deepstack=d["n_deepstack"],
            attn="sdpa",
        )
        return sum(x.bytes for x in lines)

    print(
        f"reward pass peak (B={d['B']}, L={d['L']}, V={d['vocab']}): full pass {r['old'] / 1e6:.1f} MB, "
        f"now {r['new'] / 1e6:.1f} MB (plan {bound(d['B']) / 1e6:.1f} MB), micro-batch {r['micro_batch']} "
        f"{r['micro'] / 1e6:.1f} MB (plan {bound(r['micro_batch']) / 1e6:.1f} MB)"
    )
    # the full pass holds B × L × V logits; the old pass is far above the new one, micro-batching lowers it further
    assert r["old"] > d["B"] * d["L"] * d["vocab"] * 4
    assert r["new"] < r["old"] / 4 and r["micro"] < r["new"]
    # the plan's formula bounds what was measured, and is an estimate, not a ceiling far above it
    for m, peak in ((d["B"], r["new"]), (r["micro_batch"], r["micro"])):
        assert peak <= bound(m) <= 2.5 * peak, (m, peak, bound(m))
