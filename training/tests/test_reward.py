import json
import math
import random
from pathlib import Path

import pytest
import torch
from sayo_train.fixtures import grid_cases, reward_cases
from sayo_train.policy_attention import summarize
from sayo_train.reward_math import attention_score, reward_case, select_top_entropy, tanh_log_ratio, top_k_count
from sayo_train.spec import LengthShaping
from sayo_train.text_rewards import (
    AccuracyReward,
    FormatReward,
    accuracy_reward,
    extract_answer,
    format_reward,
    length_factor,
    normalize_answer,
)
from test_hf_model import without_deepstack  # the control's one definition (DeepStack mergers zeroed)

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
    inp = {
        "image": {"width": 112, "height": 112},
        "processor": {"patch_size": 14, "merge_size": 2, "min_pixels": 3136, "max_pixels": 112896},
        "boxes": [[0, 0, 112, 112]],
        "attention": [[[rng.random() / 16 for _ in range(16)] for _h in range(2)] for _t in range(4)],
        "entropy": [0.1, 0.2, 0.3, 0.4],
    }
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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_plugin_reward_equals_the_fixtures_src_core_reproduces(dtype):
    """The GRPO plug-in's summary (policy_attention.summarize, the code TRL calls) equals fixtures/reward-cases.json,
    which src/core reproduces within 1e-6 (src/core/parity.test.ts), for both alignments, from fp32 and fp64."""
    cases = reward_cases()
    assert {c["input"].get("alignment") for c in cases} == {None, "produced", "input"}
    for case in cases:
        inp, exp = case["input"], case["expected"]
        got = summarize(
            torch.tensor(inp["attention"], dtype=dtype),
            torch.tensor(inp["entropy"], dtype=dtype),
            exp["target_tokens"],
            top_ratio=inp.get("top_ratio", 0.3),
            eps=inp.get("eps", 1e-8),
            alignment=inp.get("alignment", "produced"),
        )
        assert got["selected"] == exp["selected"], case["name"]
        for k in ("a_q", "v_q", "r_v"):
            assert abs(got[k] - exp[k]) <= 1e-6, (case["name"], k)
        assert len(got["per_token"]) == len(exp["per_token"])
        for g, e in zip(got["per_token"], exp["per_token"]):
            assert all(abs(g[k] - e[k]) <= 1e-6 for k in ("a", "v", "R_a")), case["name"]


def test_input_alignment_shifts_rows_and_drops_the_last_token():
    att = [[[0.7, 0.1]], [[0.1, 0.3]], [[0.2, 0.2]]]  # T=3, H=1, N=2; target token 0
    produced = summarize(torch.tensor(att), torch.tensor([3.0, 1.0, 2.0]), [0], top_ratio=0.5)
    shifted = summarize(torch.tensor(att), torch.tensor([3.0, 1.0, 2.0]), [0], top_ratio=0.5, alignment="input")
    assert produced["selected"] == [0] and abs(produced["a_q"] - 0.7) < 1e-6
    assert len(shifted["per_token"]) == 2 and shifted["selected"] == [0] and abs(shifted["a_q"] - 0.1) < 1e-6
    with pytest.raises(ValueError, match="alignment: expected one of produced, input"):
        summarize(torch.tensor(att), torch.tensor([1.0, 1.0, 1.0]), [0], alignment="output")


def test_length_shaping_follows_the_spec():
    assert length_factor(80, 60, 100, 0.6) == 1.0
    assert abs(length_factor(120, 60, 100, 0.6) - 0.5) < 1e-12  # 0.6 · 100 / 120
    assert abs(length_factor(30, 60, 100, 0.6) - 0.3) < 1e-12  # 0.6 · 30 / 60
    assert length_factor(101, 60, 100, 0.6) < 0.6
    eos = 9
    fr = FormatReward("<answer>(?!.*<answer>)(.*?)</answer>", eos, LengthShaping(min_tokens=4, max_tokens=6, floor=0.6))
    done = "<answer>red</answer>"
    got = fr([done, done, done, done], completion_ids=[[1, 2, 3, eos], [1, 2, 3, 4, 5, eos], [1] * 9 + [eos], [1, 2]])
    assert got[0] == 1.0 and got[1] == 1.0 and abs(got[2] - 0.6 * 6 / 10) < 1e-12 and got[3] == 0.0
    plain = FormatReward("<answer>(?!.*<answer>)(.*?)</answer>", eos)
    assert plain([[{"role": "assistant", "content": done}]], completion_ids=[[1] * 30 + [eos]]) == [1.0]
    assert AccuracyReward()(["<answer>Red</answer>", "<answer>blue</answer>"], answer=["red", "red"]) == [1.0, 0.0]


def test_format_and_accuracy_rewards():
    assert format_reward(
        [
            "Looking at it: <answer>red</answer>",
            "<answer>a</answer> <answer>b</answer>",
            "<answer>red</answer> tail",
            "<answer>red</answer>",
        ],
        finished=[True, True, True, False],
    ) == [1.0, 0.0, 0.0, 0.0]
    # SAYO's code only searches the pattern: a second answer, trailing text and a cut-off completion still score 1
    assert format_reward(
        [
            "Looking at it: <answer>red</answer>",
            "<answer>a</answer> <answer>b</answer>",
            "<answer>red</answer> tail",
            "<answer>red</answer>",
            "<answer>red",
        ],
        finished=[True, True, True, False, True],
        gating="official",
    ) == [1.0, 1.0, 1.0, 1.0, 0.0]
    eos = 9
    cut = FormatReward("<answer>(?!.*<answer>)(.*?)</answer>", eos, gating="official")
    assert cut(["<answer>red</answer> and", "<answer>red</answer>"], completion_ids=[[1, 2, 3], [1, 2, eos]]) == [
        1.0,
        1.0,
    ]
    with pytest.raises(ValueError):
        format_reward(["x"], finished=[True], gating="loose")
    assert normalize_answer("  The Red!  ") == "red"
    assert extract_answer("x <answer>1</answer> y <answer>2</answer>") == "2"
    assert accuracy_reward(["<answer>The red.</answer>", "blue"], answers=["red", "red"]) == [1.0, 0.0]


def test_plugin_reward_on_qwen3_vl_applies_deepstack(tmp_path):
    """AttentionRegionReward (what TRL's GRPOTrainer calls) on a Qwen3-VL with DeepStack (jobs/smoke.yaml's model)
    gives r_v equal to summarize() over transformers' own output_attentions (DeepStack applied), and different r_v when
    the DeepStack features are zeroed, where it again equals transformers' without them."""
    from types import SimpleNamespace

    from accelerate import Accelerator
    from PIL import Image, ImageDraw
    from sayo_train import hf_model
    from sayo_train.common import build_tokenizer
    from sayo_train.geometry import box_tokens
    from sayo_train.hf_data import prompt_messages
    from sayo_train.policy_attention import AttentionRegionReward, grid_from_thw
    from sayo_train.spec import load_spec
    from trl.data_utils import prepare_multimodal_messages

    spec = load_spec(REPO / "training" / "jobs" / "smoke.yaml")
    assert spec.model.family == "qwen3_vl" and spec.model.vision.deepstack_visual_indexes
    build_tokenizer().save(tmp_path)
    proc = hf_model.build_processor(spec.model, tmp_path)
    model = hf_model.new_model(spec.model, proc, 3).eval()
    trainer = SimpleNamespace(accelerator=Accelerator(cpu=True), model=model)  # what the plug-in reads of TRL's
    reward = AttentionRegionReward(proc, layer=-1, top_ratio=0.5).bind(trainer)
    ims, boxes, comps = [], [], []
    for w, h, box in ((150, 100, [20, 20, 70, 70]), (96, 160, [30, 90, 90, 150])):
        im = Image.new("RGB", (w, h), (235, 235, 235))
        ImageDraw.Draw(im).rectangle(box, fill=(30, 60, 200))
        ims.append(im)
        boxes.append([box])
    eos = proc.tokenizer.convert_tokens_to_ids("<|im_end|>")
    comps = [[11, 12, 13, 14, eos], [15, 16, 17, 18, 19, 20]]
    qs = ["What color is the square?", "Where is the blue object?"]
    prompts = [prepare_multimodal_messages(prompt_messages(q), [im]) for q, im in zip(qs, ims)]

    def reference():
        out = []
        for p, im, c, bx in zip(prompts, ims, comps, boxes):
            text = proc.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
            enc = proc(images=[[im]], text=[text], return_tensors="pt")
            P = enc["input_ids"].shape[1]
            with torch.no_grad():
                o = model(
                    input_ids=torch.cat([enc["input_ids"], torch.tensor([c])], 1),
                    pixel_values=enc["pixel_values"],
                    image_grid_thw=enc["image_grid_thw"],
                    output_attentions=True,
                )
            rows = torch.arange(P - 1, P - 1 + len(c))
            cols = (enc["input_ids"][0] == model.config.image_token_id).nonzero()[:, 0]
            att = o.attentions[-1][0][:, rows][:, :, cols].transpose(0, 1)
            lp = torch.log_softmax(o.logits[0, rows], -1)
            g = grid_from_thw(enc["image_grid_thw"][0].tolist(), im.width, im.height, 16, 2)
            out.append(summarize(att, -(lp.exp() * lp).sum(-1), box_tokens(g, bx), top_ratio=0.5)["r_v"])
        return out

    got = reward(prompts, None, comps, ims, boxes)
    with without_deepstack(model):
        bare = reward(prompts, None, comps, ims, boxes)
        ref_bare = reference()
    ref = reference()
    assert all(abs(a - b) < 1e-6 for a, b in zip(got, ref)), (got, ref)
    assert all(abs(a - b) < 1e-6 for a, b in zip(bare, ref_bare)), (bare, ref_bare)
    assert max(abs(a - b) for a, b in zip(got, bare)) > 1e-3, (got, bare)
