"""SAYO-mini as a real Hugging Face Qwen2.5-VL: built from the spec, saved and loaded with save_pretrained /
from_pretrained, and the attention the GRPO reward plug-in measures (one teacher-forced pass, eager attention) is the
model's own, pad-aware, with boxes mapped through the processor's image_grid_thw."""
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw

from sayo_train import hf_model
from sayo_train.attention_reward import grid_from_thw, measure
from sayo_train.common import build_tokenizer
from sayo_train.geometry import box_tokens
from sayo_train.hf_data import SftCollator, prompt_text
from sayo_train.spec import load_spec

JOBS = Path(__file__).resolve().parent.parent / "jobs"


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tok")
    build_tokenizer().save(d)
    return d


@pytest.fixture(scope="module")
def smoke(tok_dir):
    spec = load_spec(JOBS / "smoke.yaml")
    proc = hf_model.build_processor(spec.model, tok_dir)
    return spec, proc, hf_model.new_model(spec.model, proc, 0).eval()


def image(w, h, box):
    im = Image.new("RGB", (w, h), (240, 240, 240))
    ImageDraw.Draw(im).ellipse(box, fill=(200, 30, 30))
    return im


def test_config_follows_the_spec_and_the_mini_pair_fits_15_mb(smoke, tok_dir):
    spec, proc, model = smoke
    c, t, v = model.config, spec.model.text, spec.model.vision
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration" and c.model_type == "qwen2_5_vl"
    assert (c.text_config.hidden_size, c.text_config.num_hidden_layers, c.text_config.num_attention_heads,
            c.text_config.num_key_value_heads) == (t.hidden_size, t.num_layers, t.num_heads, t.num_kv_heads)
    assert c.text_config.rope_scaling["mrope_section"] == t.mrope_section
    assert c.vision_config.fullatt_block_indexes == list(range(v.depth))   # the window reorder is a no-op
    assert (c.vision_config.patch_size, c.vision_config.spatial_merge_size) == (v.patch_size, v.merge_size)
    assert c.image_token_id == proc.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert c.eos_token_id == proc.tokenizer.convert_tokens_to_ids("<|im_end|>")
    mini = load_spec(JOBS / "sayo-mini.yaml")
    n = hf_model.n_params(hf_model.new_model(mini.model, hf_model.build_processor(mini.model, tok_dir), 0))
    assert n * 4 <= 15e6, f"{n} parameters = {n * 4 / 1e6:.1f} MB fp32"


def test_family_other_than_qwen2_5_vl_is_refused(smoke):
    spec, proc, _ = smoke
    spec.model.family = "qwen3_vl"
    try:
        with pytest.raises(ValueError, match="model.family: a model built from its shapes must be qwen2_5_vl"):
            hf_model.qwen_config(spec.model, proc)
    finally:
        spec.model.family = "qwen2_5_vl"


def test_save_and_load_round_trip_with_processor_and_chat_template(smoke, tmp_path):
    spec, proc, model = smoke
    hf_model.save(model, proc, tmp_path / "ck")
    names = {p.name for p in (tmp_path / "ck").iterdir()}
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json",
            "chat_template.jinja", "generation_config.json"} <= names
    m2, p2 = hf_model.load(tmp_path / "ck")
    im = image(130, 90, (20, 20, 60, 60))
    enc = proc(images=[[im]], text=[prompt_text(proc, "What color is the circle?")], return_tensors="pt")
    enc2 = p2(images=[[im]], text=[prompt_text(p2, "What color is the circle?")], return_tensors="pt")
    assert torch.equal(enc["input_ids"], enc2["input_ids"]) and torch.equal(enc["pixel_values"], enc2["pixel_values"])
    with torch.no_grad():
        assert torch.allclose(model(**enc).logits, m2(**enc2).logits, atol=1e-6)
    assert p2.image_processor.max_pixels == spec.model.image.max_pixels


def test_sft_collator_masks_the_prompt(smoke, tmp_path):
    _, proc, _ = smoke
    p = tmp_path / "a.png"
    image(100, 120, (10, 10, 50, 50)).save(p)
    recs = [{"_image_path": p, "question": "What color is the circle?", "completion": "<answer>red</answer>"},
            {"_image_path": p, "question": "How many objects are there?", "completion": "<answer>1</answer>"}]
    b = SftCollator(proc)(recs)
    comp = proc.tokenizer("<answer>red</answer><|im_end|>", add_special_tokens=False)["input_ids"]
    lab = b["labels"][0][b["labels"][0] != -100].tolist()
    assert lab == comp
    n_img = int((b["input_ids"][0] == proc.image_token_id).sum())
    assert (b["labels"][0][:b["input_ids"].shape[1] - len(comp)] == -100).all() and n_img > 0
    assert b["image_grid_thw"].shape == (2, 3)


def test_measure_reads_the_models_own_attention_and_is_pad_aware(smoke):
    spec, proc, model = smoke
    ims = [image(140, 84, (10, 10, 60, 60)), image(84, 168, (20, 90, 70, 150))]   # different image token counts
    texts = [prompt_text(proc, "What color is the circle?"), prompt_text(proc, "What shape is the red object?")]
    comps = [[5, 6, 7, proc.tokenizer.convert_tokens_to_ids("<|im_end|>")], [8, 9]]
    both = measure(model, proc, texts, ims, comps)
    for i in range(2):
        alone = measure(model, proc, [texts[i]], [ims[i]], [comps[i]])[0]
        assert torch.allclose(both[i]["image_att"], alone["image_att"], atol=1e-5)
        assert torch.allclose(both[i]["entropy"], alone["entropy"], atol=1e-4)
        # the reference: transformers' own output_attentions of the last layer, at the rows that produced the tokens
        enc = proc(images=[[ims[i]]], text=[texts[i]], return_tensors="pt")
        P = enc["input_ids"].shape[1]
        ids = torch.cat([enc["input_ids"], torch.tensor([comps[i]])], 1)
        with torch.no_grad():
            out = model(input_ids=ids, pixel_values=enc["pixel_values"], image_grid_thw=enc["image_grid_thw"],
                        output_attentions=True)
        cols = (enc["input_ids"][0] == model.config.image_token_id).nonzero()[:, 0]
        rows = torch.arange(P - 1, P - 1 + len(comps[i]))
        ref = out.attentions[-1][0][:, rows][:, :, cols].transpose(0, 1)
        assert torch.allclose(alone["image_att"], ref, atol=1e-6)
        lp = torch.log_softmax(out.logits[0, rows], -1)
        assert torch.allclose(alone["entropy"], -(lp.exp() * lp).sum(-1), atol=1e-5)
        # boxes → tokens through the processor's own grid
        g = grid_from_thw(alone["image_grid_thw"], ims[i].width, ims[i].height, 14, 2)
        assert g.rows * g.cols == len(cols) == alone["image_att"].shape[-1]
        assert box_tokens(g, [[0, 0, ims[i].width, ims[i].height]]) == list(range(len(cols)))
    assert model.config._attn_implementation == "eager"


def test_measure_switches_a_sdpa_model_to_eager_for_the_reward_pass_only(smoke, tmp_path):
    _, proc, model = smoke
    hf_model.save(model, proc, tmp_path / "ck")
    sdpa, _ = hf_model.load(tmp_path / "ck", attn_implementation="sdpa")
    im, text, comp = image(112, 112, (10, 10, 60, 60)), prompt_text(proc, "What color is the circle?"), [5, 6, 7]
    got = measure(sdpa, proc, [text], [im], [comp])[0]
    ref = measure(model, proc, [text], [im], [comp])[0]
    assert torch.allclose(got["image_att"], ref["image_att"], atol=1e-6)
    assert sdpa.config._attn_implementation == "sdpa"


@pytest.mark.parametrize("system", [None, "Look at the image, then answer inside <answer></answer>."])
def test_prompt_text_is_what_trl_renders_for_the_grpo_prompt(smoke, system):
    """SFT, evaluation and the reward pass render prompts with prompt_text; GRPO's rollouts come from TRL's own
    rendering of prompt_messages + image. They must be the same text (with or without data.system_prompt)."""
    from trl.data_utils import prepare_multimodal_messages

    from sayo_train.hf_data import prompt_messages
    _, proc, _ = smoke
    q = "What color is the circle?"
    trl_msgs = prepare_multimodal_messages(prompt_messages(q, system), [image(84, 84, (10, 10, 40, 40))])
    trl_text = proc.apply_chat_template(trl_msgs, tokenize=False, add_generation_prompt=True)
    assert trl_text == prompt_text(proc, q, system)
    assert (system or "You are a helpful assistant.") in trl_text
