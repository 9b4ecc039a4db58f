import json
import math
import random
from pathlib import Path

import pytest
import torch

from sayo_train.fixtures import grid_cases, reward_cases
from sayo_train.reward import attention_score, reward_case, select_top_entropy, tanh_log_ratio, top_k_count
from sayo_train.rewards import (accuracy_reward, attention_region_reward, extract_answer, format_reward,
                                normalize_answer)

REPO = Path(__file__).resolve().parents[2]


def test_formulas():
    assert attention_score(0.1, 0.1) == 0.5
    assert math.isclose(tanh_log_ratio(0.2, 0.1), math.tanh(math.log((0.2 + 1e-8) / (0.1 + 1e-8))), rel_tol=1e-12)
    assert tanh_log_ratio(0.0, 0.0) == 0.0
    assert tanh_log_ratio(1e300, 0.0) == 1.0


def test_top_k_count_and_float_guard():
    assert top_k_count(10, 0.3) == 3
    assert top_k_count(100, 0.29) == 29
    assert top_k_count(1, 0.3) == 1 and top_k_count(3, 0.3) == 1 and top_k_count(7, 0.3) == 2
    assert top_k_count(5, 1.0) == 5


def test_selection_ties_to_lower_index():
    assert select_top_entropy([1.0, 2.0, 2.0, 0.5, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0]) == [1, 2, 4]
    assert select_top_entropy([1.0] * 10) == [0, 1, 2]


def test_whole_image_box_gives_half_and_moving_mass_in_raises():
    rng = random.Random(0)
    inp = {"image": {"width": 112, "height": 112}, "processor": {"patch_size": 14, "merge_size": 2,
           "min_pixels": 3136, "max_pixels": 112896}, "boxes": [[0, 0, 112, 112]],
           "attention": [[[rng.random() / 16 for _ in range(16)] for _h in range(2)] for _t in range(4)],
           "entropy": [0.1, 0.2, 0.3, 0.4]}
    out = reward_case(inp)
    assert all(abs(p["R_a"] - 0.5) < 1e-12 for p in out["per_token"]) and abs(out["r_v"]) < 1e-12
    inp["boxes"] = [[0, 0, 28, 28]]
    before = reward_case(inp)["per_token"][0]["R_a"]
    inp["attention"][0][0][0] += 0.5
    assert reward_case(inp)["per_token"][0]["R_a"] > before


def test_fixtures_are_current():
    """fixtures/*.json must be what this code writes (regenerate with `python3 -m sayo_train fixtures`)."""
    assert json.loads((REPO / "fixtures" / "grid-cases.json").read_text()) == json.loads(json.dumps(grid_cases()))
    assert json.loads((REPO / "fixtures" / "reward-cases.json").read_text()) == json.loads(json.dumps(reward_cases()))


def test_torch_reward_equals_reference():
    """The trainer's batched reward (rewards.attention_region_reward) equals the reference of the fixtures."""
    for case in reward_cases():
        inp, exp = case["input"], case["expected"]
        if inp.get("alignment") == "input":
            continue  # attention_region_reward scores the produced alignment only
        att = torch.tensor(inp["attention"], dtype=torch.float64)
        got = attention_region_reward(["x"], image_attention=[att], entropies=[torch.tensor(inp["entropy"])],
                                      targets=[exp["target_tokens"]], top_ratio=inp.get("top_ratio", 0.3),
                                      eps=inp.get("eps", 1e-8))[0]
        assert abs(got - exp["r_v"]) < 1e-9, case["name"]


def test_format_and_accuracy_rewards():
    assert format_reward(["Looking at it: <answer>red</answer>", "<answer>a</answer> <answer>b</answer>",
                          "<answer>red</answer> tail", "<answer>red</answer>"],
                         finished=[True, True, True, False]) == [1.0, 0.0, 0.0, 0.0]
    assert normalize_answer("  The Red!  ") == "red"
    assert extract_answer("x <answer>1</answer> y <answer>2</answer>") == "2"
    assert accuracy_reward(["<answer>The red.</answer>", "blue"], answers=["red", "red"]) == [1.0, 0.0]
