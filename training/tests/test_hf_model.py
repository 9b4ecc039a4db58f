"""SAYO-mini as a real Hugging Face model of either family: Qwen3-VL with DeepStack (jobs/smoke.yaml, jobs/sayo-mini.yaml)
and Qwen2.5-VL. Built from the spec, saved and loaded with save_pretrained / from_pretrained, and the attention the
GRPO reward plug-in measures (one teacher-forced pass, the last layer's completion rows) is the model's own,
pad-aware, with boxes mapped through the processor's image_grid_thw; on Qwen3-VL that pass applies DeepStack (a
control removes it)."""

import contextlib
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw
from sayo_train import hf_model
from sayo_train.common import build_tokenizer
from sayo_train.geometry import box_tokens
from sayo_train.hf_data import SftCollator, prompt_text
from sayo_train.policy_attention import grid_from_thw, measure
from sayo_train.spec import load_spec

JOBS = Path(__file__).resolve().parent.parent / "jobs"
FAMILIES = ["qwen3_vl", "qwen2_5_vl"]
# The Qwen2.5-VL smoke model (jobs/smoke.yaml before it became Qwen3-VL): the family must keep working.
QWEN2_5_VL_MODEL = """  family: qwen2_5_vl
  vision: {patch_size: 14, temporal_patch_size: 2, merge_size: 2, embed_dim: 32, depth: 1, num_heads: 2, mlp_ratio: 2.0}
  text: {hidden_size: 64, num_layers: 2, num_heads: 2, num_kv_heads: 1, head_dim: 32, intermediate_size: 128,
         mrope_section: [4, 6, 6], rope_theta: 10000.0, rms_norm_eps: 1.0e-6}
  image: {min_pixels: 3136, max_pixels: 25088}
"""


def spec_of(family, tmp_dir: Path):
    """jobs/smoke.yaml (Qwen3-VL with DeepStack), or the same spec with the Qwen2.5-VL model section."""
    text = (JOBS / "smoke.yaml").read_text()
    if family == "qwen2_5_vl":
        start, end = text.index("  family:"), text.index("  lora:")
        text = text[:start] + QWEN2_5_VL_MODEL + text[end:]
    path = tmp_dir / f"smoke-{family}.yaml"
    path.write_text(text)
    spec = load_spec(path)
    assert spec.model.family == family
    return spec


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tok")
    build_tokenizer().save(d)
    return d


@pytest.fixture(scope="module", params=FAMILIES)
def smoke(request, tok_dir, tmp_path_factory):
    spec = spec_of(request.param, tmp_path_factory.mktemp("spec"))
    proc = hf_model.build_processor(spec.model, tok_dir)
    return spec, proc, hf_model.new_model(spec.model, proc, 0).eval()


@pytest.fixture(scope="module")
def qwen3(tok_dir):
    spec = load_spec(JOBS / "smoke.yaml")
    proc = hf_model.build_processor(spec.model, tok_dir)
    return spec, proc, hf_model.new_model(spec.model, proc, 0).eval()


@contextlib.contextmanager
def without_deepstack(model):
    """The control: every DeepStack merger's output replaced by zeros, so the decoder adds nothing after its first
    layers (what an export that drops DeepStack computes)."""
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: torch.zeros_like(out))
        for m in model.model.visual.deepstack_merger_list
    ]
    try:
        yield
    finally:
        for h in hooks:
            h.remove()


def image(w, h, box):
    im = Image.new("RGB", (w, h), (240, 240, 240))
    ImageDraw.Draw(im).ellipse(box, fill=(200, 30, 30))
    return im


def test_qwen3_vl_config_follows_the_spec_and_qwen3_vl_8b(qwen3):
    spec, proc, model = qwen3
    c, t, v = model.config, spec.model.text, spec.model.vision
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration" and c.model_type == "qwen3_vl"
    tc, vc = c.text_config, c.vision_config
    assert (tc.hidden_size, tc.num_hidden_layers, tc.num_attention_heads, tc.num_key_value_heads, tc.head_dim) == (
        t.hidden_size,
        t.num_layers,
        t.num_heads,
        t.num_kv_heads,
        t.head_dim,
    )
    assert tc.rope_scaling == {"rope_type": "default", "mrope_section": t.mrope_section, "mrope_interleaved": True}
    assert vc.deepstack_visual_indexes == v.deepstack_visual_indexes == [0, 1]
    assert len(model.model.visual.deepstack_merger_list) == 2
    assert all(m.use_postshuffle_norm for m in model.model.visual.deepstack_merger_list)
    assert (
        vc.num_position_embeddings == v.num_position_embeddings
        and model.model.visual.num_grid_per_side**2 == v.num_position_embeddings
    )
    assert (vc.patch_size, vc.spatial_merge_size, vc.out_hidden_size) == (16, 2, t.hidden_size)
    assert (vc.hidden_act, tc.hidden_act, tc.attention_bias) == ("gelu_pytorch_tanh", "silu", False)
    assert c.tie_word_embeddings is False and tc.tie_word_embeddings is False
    assert model.lm_head.weight.data_ptr() != model.model.language_model.embed_tokens.weight.data_ptr()
    assert c.image_token_id == proc.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert c.eos_token_id == proc.tokenizer.convert_tokens_to_ids("<|im_end|>")
    ip = proc.image_processor
    assert isinstance(proc, hf_model.Qwen3VLProcessor)
    assert (ip.patch_size, ip.merge_size, list(ip.image_mean), list(ip.image_std)) == (16, 2, [0.5] * 3, [0.5] * 3)
    assert proc.chat_template == proc.tokenizer.chat_template == hf_model.QWEN3_VL_CHAT_TEMPLATE


def test_sayo_mini_is_qwen3_vl_with_deepstack_and_fits_15_mb(tok_dir):
    mini = load_spec(JOBS / "sayo-mini.yaml")
    model = hf_model.new_model(mini.model, hf_model.build_processor(mini.model, tok_dir), 0)
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"
    ds = model.config.vision_config.deepstack_visual_indexes
    assert ds and max(ds) < model.config.vision_config.depth and len(ds) <= model.config.text_config.num_hidden_layers
    assert mini.model.cell_px == 32 and mini.model.image.max_pixels // 32**2 <= 100  # ≤ 100 image tokens
    n = hf_model.n_params(model)
    assert n * 4 <= 15e6, f"{n} parameters = {n * 4 / 1e6:.1f} MB fp32"


def test_a_family_without_a_builder_is_refused(qwen3):
    spec, proc, _ = qwen3
    spec.model.family = "qwen2_vl"
    try:
        with pytest.raises(ValueError, match="model.family: a model built from its shapes must be one of"):
            hf_model.qwen_config(spec.model, proc)
    finally:
        spec.model.family = "qwen3_vl"


def test_qwen2_5_vl_keeps_its_class_config_and_processor(tok_dir, tmp_path):
    spec = spec_of("qwen2_5_vl", tmp_path)
    proc = hf_model.build_processor(spec.model, tok_dir)
    model = hf_model.new_model(spec.model, proc, 0)
    c, v = model.config, spec.model.vision
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration" and c.model_type == "qwen2_5_vl"
    assert c.text_config.rope_scaling["mrope_section"] == spec.model.text.mrope_section
    assert c.vision_config.fullatt_block_indexes == list(range(v.depth))  # the window reorder is a no-op
    assert (c.vision_config.patch_size, c.vision_config.spatial_merge_size) == (v.patch_size, v.merge_size)
    assert type(proc) is hf_model.SayoProcessor and proc.image_processor.image_mean[0] == pytest.approx(0.48145466)
    assert "You are a helpful assistant." in proc.chat_template


def test_save_and_load_round_trip_with_processor_and_chat_template(smoke, tmp_path):
    spec, proc, model = smoke
    hf_model.save(model, proc, tmp_path / "ck")
    names = {p.name for p in (tmp_path / "ck").iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "tokenizer.json",
        "chat_template.jinja",
        "generation_config.json",
    } <= names
    m2, p2 = hf_model.load(tmp_path / "ck")
    im = image(130, 90, (20, 20, 60, 60))
    enc = proc(images=[[im]], text=[prompt_text(proc, "What color is the circle?")], return_tensors="pt")
    enc2 = p2(images=[[im]], text=[prompt_text(p2, "What color is the circle?")], return_tensors="pt")
    assert torch.equal(enc["input_ids"], enc2["input_ids"]) and torch.equal(enc["pixel_values"], enc2["pixel_values"])
    with torch.no_grad():
        assert torch.allclose(model(**enc).logits, m2(**enc2).logits, atol=1e-6)
    assert p2.image_processor.max_pixels == spec.model.image.max_pixels
    assert type(p2) is type(proc) and p2.chat_template == proc.chat_template
    import json

    saved = json.loads((tmp_path / "ck" / "preprocessor_config.json").read_text())["processor_class"]
    assert saved == {"qwen3_vl": "Qwen3VLProcessor", "qwen2_5_vl": "Qwen2_5_VLProcessor"}[spec.model.family]


def test_sft_collator_masks_the_prompt(smoke, tmp_path):
    _, proc, _ = smoke
    p = tmp_path / "a.png"
    image(100, 120, (10, 10, 50, 50)).save(p)
    recs = [
        {"_image_path": p, "question": "What color is the circle?", "completion": "<answer>red</answer>"},
        {"_image_path": p, "question": "How many objects are there?", "completion": "<answer>1</answer>"},
    ]
    b = SftCollator(proc)(recs)
    comp = proc.tokenizer("<answer>red</answer><|im_end|>", add_special_tokens=False)["input_ids"]
    lab = b["labels"][0][b["labels"][0] != -100].tolist()
    assert lab == comp
    n_img = int((b["input_ids"][0] == proc.image_token_id).sum())
    assert (b["labels"][0][: b["input_ids"].shape[1] - len(comp)] == -100).all() and n_img > 0
    assert b["image_grid_thw"].shape == (2, 3)


def test_measure_reads_the_models_own_attention_and_is_pad_aware(smoke):
    spec, proc, model = smoke
    ims = [image(140, 84, (10, 10, 60, 60)), image(84, 168, (20, 90, 70, 150))]  # different image token counts
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
            out = model(
                input_ids=ids,
                pixel_values=enc["pixel_values"],
                image_grid_thw=enc["image_grid_thw"],
                output_attentions=True,
            )
        cols = (enc["input_ids"][0] == model.config.image_token_id).nonzero()[:, 0]
        rows = torch.arange(P - 1, P - 1 + len(comps[i]))
        ref = out.attentions[-1][0][:, rows][:, :, cols].transpose(0, 1)
        assert torch.allclose(alone["image_att"], ref, atol=1e-6)
        lp = torch.log_softmax(out.logits[0, rows], -1)
        assert torch.allclose(alone["entropy"], -(lp.exp() * lp).sum(-1), atol=1e-5)
        # boxes → tokens through the processor's own grid
        g = grid_from_thw(
            alone["image_grid_thw"],
            ims[i].width,
            ims[i].height,
            spec.model.vision.patch_size,
            spec.model.vision.merge_size,
        )
        assert g.rows * g.cols == len(cols) == alone["image_att"].shape[-1]
        assert box_tokens(g, [[0, 0, ims[i].width, ims[i].height]]) == list(range(len(cols)))
    assert model.config._attn_implementation == "eager"


def test_measure_applies_deepstack_and_the_control_without_it_differs(qwen3):
    """The reward's forward pass on Qwen3-VL runs DeepStack: its attention equals transformers' own with DeepStack,
    every DeepStack merger runs in it, and with the DeepStack features zeroed both change together (so the parity
    above cannot hold by accident)."""
    spec, proc, model = qwen3
    im, text = image(150, 110, (20, 20, 80, 80)), prompt_text(proc, "What color is the circle?")
    comp = [5, 6, 7, 8, proc.tokenizer.convert_tokens_to_ids("<|im_end|>")]
    calls = []
    hooks = [m.register_forward_hook(lambda *_: calls.append(1)) for m in model.model.visual.deepstack_merger_list]
    try:
        got = measure(model, proc, [text], [im], [comp])[0]
    finally:
        for h in hooks:
            h.remove()
    assert len(calls) == len(spec.model.vision.deepstack_visual_indexes) == 2
    with without_deepstack(model):
        bare = measure(model, proc, [text], [im], [comp])[0]
    enc = proc(images=[[im]], text=[text], return_tensors="pt")
    P = enc["input_ids"].shape[1]
    ids = torch.cat([enc["input_ids"], torch.tensor([comp])], 1)
    cols = (enc["input_ids"][0] == model.config.image_token_id).nonzero()[:, 0]
    rows = torch.arange(P - 1, P - 1 + len(comp))

    def reference():
        with torch.no_grad():
            out = model(
                input_ids=ids,
                pixel_values=enc["pixel_values"],
                image_grid_thw=enc["image_grid_thw"],
                output_attentions=True,
            )
        return out.attentions[-1][0][:, rows][:, :, cols].transpose(0, 1)

    with_ds = reference()
    with without_deepstack(model):
        without_ds = reference()
    assert torch.allclose(got["image_att"], with_ds, atol=1e-6)
    assert torch.allclose(bare["image_att"], without_ds, atol=1e-6)
    gap = (got["image_att"] - bare["image_att"]).abs().max().item()
    assert gap > 1e-3, f"DeepStack changed the reward's attention by only {gap:.2e}"
    assert (got["entropy"] - bare["entropy"]).abs().max().item() > 1e-4


def test_measure_on_a_sdpa_model_equals_the_eager_one_and_leaves_it_sdpa(smoke, tmp_path):
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
    from sayo_train.hf_data import prompt_messages
    from trl.data_utils import prepare_multimodal_messages

    spec, proc, _ = smoke
    q = "What color is the circle?"
    trl_msgs = prepare_multimodal_messages(prompt_messages(q, system), [image(84, 84, (10, 10, 40, 40))])
    trl_text = proc.apply_chat_template(trl_msgs, tokenize=False, add_generation_prompt=True)
    assert trl_text == prompt_text(proc, q, system)
    if system:
        assert trl_text.startswith(f"<|im_start|>system\n{system}<|im_end|>\n")
    elif spec.model.family == "qwen3_vl":  # Qwen3-VL's template adds no default system turn
        assert trl_text.startswith("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>")
    else:
        assert "You are a helpful assistant." in trl_text


def test_qwen3_vl_prompts_render_identically_in_transformers_js(tok_dir, tmp_path):
    """SAYO-mini's Qwen3-VL processor and chat template, saved by the trainer, give the same prompt ids and
    image_grid_thw in transformers.js (training/tools/prompt_check.mjs: AutoProcessor + the folder's template, as the
    app renders prompts), in transformers and in the project's own prompt builder, over the gallery and held-out
    images and unusual questions."""
    import json
    import shutil
    import subprocess

    repo = JOBS.parents[1]
    if shutil.which("node") is None or not (repo / "node_modules" / "@huggingface" / "transformers").exists():
        pytest.skip("node or node_modules/@huggingface/transformers missing")
    mini = load_spec(JOBS / "sayo-mini.yaml")
    proc = hf_model.build_processor(mini.model, tok_dir)
    hf_model.save(hf_model.new_model(mini.model, proc, 0), proc, tmp_path / "mini")
    images = (
        sorted((repo / "public" / "samples").glob("*.png"))[:4]
        + sorted((repo / "data" / "heldout" / "images").glob("*.png"))[:4]
    )
    tall = tmp_path / "tall.png"
    image(90, 300, (10, 200, 80, 290)).save(tall)
    images.append(tall)
    questions = [
        "What color is the object below the orange triangle?",
        "How many objects? 3 or 4?",
        "Is it a naïve café — or not?",
        "Where is the big red circle,\nand what colour is it?",
    ]
    cases = []
    for i, path in enumerate(images):
        q = questions[i % len(questions)]
        enc = proc(images=[[Image.open(path).convert("RGB")]], text=[prompt_text(proc, q)], return_tensors="pt")
        cases.append(
            {
                "question": q,
                "image": str(path),
                "input_ids": enc["input_ids"][0].tolist(),
                "image_grid_thw": enc["image_grid_thw"][0].tolist(),
            }
        )
    # the project's own prompt builder (fixtures.prompt_cases, which writes fixtures/prompt-cases.json for the app's
    # engine test) gives the same ids for a Qwen3-VL folder: no default system turn, 32 px cells
    from sayo_train.fixtures import prompt_cases

    own = prompt_cases(tmp_path / "mini")
    assert len(own) >= 5
    for c in own:
        enc = proc(
            images=[[Image.open(repo / c["image"]).convert("RGB")]],
            text=[prompt_text(proc, c["question"])],
            return_tensors="pt",
        )
        assert (
            c["input_ids"] == enc["input_ids"][0].tolist() and c["image_grid_thw"] == enc["image_grid_thw"][0].tolist()
        )
    cases += own
    assert len({tuple(c["image_grid_thw"]) for c in cases}) >= 3
    assert all(c["image_grid_thw"][1] * c["image_grid_thw"][2] // 4 <= 100 for c in cases)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    r = subprocess.run(
        [
            "node",
            str(repo / "training" / "tools" / "prompt_check.mjs"),
            str(tmp_path / "mini"),
            str(tmp_path / "cases.json"),
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and f"{len(cases)} cases, 0 mismatches" in r.stdout, r.stdout + r.stderr


def test_cpu_trainer_precision_and_checkpointing_are_stated(tok_dir, tmp_path):
    """SFT runs fp32 without checkpointing; GRPO on CPU keeps TRL 0.25's defaults (bf16 autocast, gradient
    checkpointing), stated in the code path rather than inherited."""
    from sayo_train.train_grpo import grpo_config
    from sayo_train.train_sft import sft_args

    mini = load_spec(JOBS / "sayo-mini.yaml")
    assert mini.hardware is None
    g = grpo_config(mini, tmp_path / "g", hf_model.build_processor(mini.model, tok_dir))
    assert (g.bf16, g.fp16, g.gradient_checkpointing) == (True, False, True)
    a = sft_args(mini.sft, 0, tmp_path / "s")
    assert (a.bf16, a.fp16, a.gradient_checkpointing) == (False, False, False)
