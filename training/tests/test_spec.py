"""Job spec loading: every shipped spec loads; bad specs fail before any work with `<file>: <key.path>: <reason>`."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from sayo_train.spec import SpecError, load_spec

JOBS = Path(__file__).resolve().parent.parent / "jobs"

# A small valid spec of our own (not a shipped one, so the pipeline can retune those freely).
BASE = {
    "spec_version": 1,
    "run": {"name": "t", "seed": 1, "output_dir": "out", "stages": ["data", "sft", "grpo", "export", "report"]},
    "model": {
        "init": "random",
        "family": "qwen2_5_vl",
        "vision": {
            "patch_size": 14,
            "temporal_patch_size": 2,
            "merge_size": 2,
            "embed_dim": 32,
            "depth": 1,
            "num_heads": 2,
            "mlp_ratio": 2.0,
        },
        "text": {
            "hidden_size": 32,
            "num_layers": 2,
            "num_heads": 4,
            "num_kv_heads": 2,
            "head_dim": 8,
            "intermediate_size": 64,
            "mrope_section": [2, 1, 1],
            "rope_theta": 10000.0,
            "rms_norm_eps": 1e-6,
        },
        "image": {"min_pixels": 3136, "max_pixels": 50176},
        "lora": {"enabled": False, "r": 8, "alpha": 16, "target_modules": "all-linear"},
    },
    "data": {
        "generator": {"train_size": 10, "heldout_size": 4, "min_side": 56, "max_side": 112},
        "train": "out/data/train.jsonl",
        "heldout": "out/data/heldout.jsonl",
        "max_response_tokens": 8,
    },
    "sft": {"epochs": 1, "batch_size": 2, "lr": 1e-3, "weight_decay": 0.0, "max_grad_norm": 1.0},
    "rewards": [
        {
            "name": "attention_region",
            "weight": 1.0,
            "params": {"layer": -1, "head_reduce": "mean", "top_ratio": 0.3, "eps": 1e-8},
        },
        {"name": "format", "weight": 1.0, "params": {"pattern": "<answer>(.*?)</answer>"}},
    ],
    "grpo": {
        "steps": 2,
        "prompts_per_step": 2,
        "group_size": 2,
        "lr": 1e-4,
        "weight_decay": 0.0,
        "max_grad_norm": 0.8,
        "kl_beta": 1e-3,
        "clip_eps": 0.2,
        "advantage_eps": 1e-4,
        "temperature": 1.0,
        "top_p": 0.9,
    },
    "export": {
        "out_dir": "out/models",
        "opset": 14,
        "attention_layers": "all",
        "check": {"max_abs_logit_diff": 1e-4, "max_abs_attention_diff": 1e-4},
    },
    "report": {"metrics_file": "out/METRICS.md"},
}


def write(tmp_path: Path, doc, name="job.yaml") -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return p


def variant(edit) -> dict:
    doc = copy.deepcopy(BASE)
    edit(doc)
    return doc


def errors_of(tmp_path: Path, doc) -> list[str]:
    p = write(tmp_path, doc)
    with pytest.raises(SpecError) as e:
        load_spec(p)
    return e.value.errors


RUNS = JOBS.parent / "runs"  # git-ignored outputs of runs


@pytest.mark.parametrize("path", sorted(JOBS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_spec_loads(path):
    try:
        spec = load_spec(path)
    except SpecError as e:
        # A spec may start from another spec's run output (e.g. an ablation from SAYO-mini's SFT base): in a fresh
        # clone that file does not exist yet. Anything else is a real error.
        pending = [line for line in e.errors if "not found" in line and str(RUNS) in line]
        assert pending == e.errors, "\n".join(e.errors)
        return
    assert spec.run.name and spec.run.stages
    assert spec.run.output_dir.is_absolute()


def test_base_loads_and_resolves_paths_against_the_spec_directory(tmp_path):
    spec = load_spec(write(tmp_path, BASE))
    assert spec.run.output_dir == (tmp_path / "out").resolve()
    assert spec.data.train == (tmp_path / "out/data/train.jsonl").resolve()
    assert spec.rewards[0].params.top_ratio == 0.3 and spec.reward("format").params.pattern.startswith("<answer>")
    assert not spec.run.output_dir.exists()  # loading does no work


def test_unknown_key_names_its_path(tmp_path):
    errs = errors_of(tmp_path, variant(lambda d: d["grpo"].update(stepz=3)))
    assert errs == [f"{tmp_path / 'job.yaml'}: grpo.stepz: unknown key"]


def test_unknown_key_inside_a_list_item(tmp_path):
    errs = errors_of(tmp_path, variant(lambda d: d["rewards"][1]["params"].update(flags="s")))
    assert errs[0].endswith("job.yaml: rewards[1].params.flags: unknown key")


def test_wrong_type_names_path_expected_and_got(tmp_path):
    errs = errors_of(tmp_path, variant(lambda d: d["model"]["text"].update(num_heads="four")))
    assert errs == [f"{tmp_path / 'job.yaml'}: model.text.num_heads: expected integer, got 'four'"]


def test_range_enum_and_missing_key(tmp_path):
    def edit(d):
        d["rewards"][0]["params"]["top_ratio"] = 1.5
        d["model"]["family"] = "llava"
        del d["grpo"]["lr"]

    errs = errors_of(tmp_path, variant(edit))
    assert any(e.endswith("rewards[0].params.top_ratio: must be <= 1, got 1.5") for e in errs), errs
    assert any("model.family: expected one of 'qwen2_vl', 'qwen2_5_vl', 'qwen3_vl', got 'llava'" in e for e in errs), (
        errs
    )
    assert any(e.endswith("grpo.lr: missing required key") for e in errs), errs
    assert len(errs) == 3  # every problem at once


def test_a_listed_stage_requires_its_section(tmp_path):
    errs = errors_of(tmp_path, variant(lambda d: d.pop("sft")))
    assert errs == [f"{tmp_path / 'job.yaml'}: sft: missing required key (needed by a stage in run.stages)"]


def test_grpo_needs_steps_or_epochs(tmp_path):
    errs = errors_of(tmp_path, variant(lambda d: d["grpo"].pop("steps")))
    assert errs[0].endswith("grpo: needs one of the keys steps, epochs")


def test_missing_checkpoint_folder(tmp_path):
    errs = errors_of(tmp_path, variant(lambda d: d["model"].update(init="ckpt/base")))
    assert errs == [f"{tmp_path / 'job.yaml'}: model.init: checkpoint folder not found: {tmp_path / 'ckpt/base'}"]
    (tmp_path / "ckpt/base").mkdir(parents=True)
    assert load_spec(tmp_path / "job.yaml").model.init_path == tmp_path / "ckpt/base"


def test_data_files_must_exist_when_no_stage_writes_them(tmp_path):
    doc = variant(lambda d: d["run"].update(stages=["grpo", "report"]))
    errs = errors_of(tmp_path, doc)
    assert [e.split(": ")[1] for e in errs] == ["data.train", "data.heldout"]
    assert "no data stage writes it; needed by grpo" in errs[0]
    for f in ("out/data/train.jsonl", "out/data/heldout.jsonl"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("", encoding="utf-8")
    assert load_spec(tmp_path / "job.yaml").run.stages == ["grpo", "report"]


def test_local_data_source_must_exist(tmp_path):
    def edit(d):
        d["data"].pop("generator")
        d["data"]["prepare"] = {
            "heldout_size": 2,
            "sources": [
                {"name": "mine", "kind": "jsonl", "uri": "raw/set.jsonl", "n": 5},
                {"name": "gqa", "kind": "gqa_scene_graph", "uri": "https://example.org/gqa", "n": 5},
            ],
        }

    errs = errors_of(tmp_path, variant(edit))
    assert errs == [f"{tmp_path / 'job.yaml'}: data.prepare.sources[0].uri: file not found: raw/set.jsonl"]


@pytest.mark.parametrize(
    "edit, key, reason",
    [
        (
            lambda d: d["model"]["text"].update(mrope_section=[2, 2, 2]),
            "model.text.mrope_section",
            "must sum to head_dim/2 = 4",
        ),
        (
            lambda d: d["model"]["text"].update(num_kv_heads=3),
            "model.text.num_heads",
            "must be a multiple of num_kv_heads (3)",
        ),
        (
            lambda d: d["rewards"][0]["params"].update(cell_px=32),
            "rewards[0].params.cell_px",
            "must equal patch_size x merge_size = 28",
        ),
        (lambda d: d["rewards"][0]["params"].update(layer=2), "rewards[0].params.layer", "no such decoder layer: 2"),
        (
            lambda d: d["rewards"][1]["params"].update(pattern="<answer>(.*"),
            "rewards[1].params.pattern",
            "invalid regular expression",
        ),
        (lambda d: d["run"].update(stages=["sft", "data"]), "run.stages", "must follow the pipeline order"),
        (
            lambda d: d["data"].pop("generator"),
            "data",
            "the data stage needs exactly one of the keys generator, prepare",
        ),
        (lambda d: d["model"]["image"].update(min_pixels=60000), "model.image.min_pixels", "must be <= max_pixels"),
        (
            lambda d: d["export"].update(attention_layers=[0, 5]),
            "export.attention_layers",
            "no such decoder layer: [5]",
        ),
        (lambda d: [r.update(weight=0.0) for r in d["rewards"]], "rewards", "every weight is 0"),
        (
            lambda d: d["model"].update(family="qwen2_vl"),
            "model.family",
            "a model built from its shapes (init: random) is qwen2_5_vl or qwen3_vl",
        ),
        (
            lambda d: d["model"]["vision"].update(deepstack_visual_indexes=[0]),
            "model.vision.deepstack_visual_indexes",
            "only Qwen3-VL has it, family is 'qwen2_5_vl'",
        ),
        (
            lambda d: d["grpo"].update(advantage_eps=1e-6),
            "grpo.advantage_eps",
            "TRL's GRPOTrainer divides by (std + 0.0001); accepted: 0.0001, got 1e-06",
        ),
    ],
)
def test_semantic_errors_name_the_key(tmp_path, edit, key, reason):
    errs = errors_of(tmp_path, variant(edit))
    assert len(errs) == 1 and errs[0].startswith(f"{tmp_path / 'job.yaml'}: {key}: {reason}"), errs


def qwen3(d):
    """BASE as a Qwen3-VL with DeepStack (32 px cells)."""
    d["model"].update(family="qwen3_vl")
    d["model"]["vision"].update(patch_size=16, depth=2, deepstack_visual_indexes=[0, 1], num_position_embeddings=64)
    d["model"]["text"].update(mrope_section=[2, 1, 1], mrope_interleaved=True, tie_word_embeddings=False)
    d["model"]["image"].update(min_pixels=4096, max_pixels=65536)


def test_qwen3_vl_spec_loads():
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        spec = load_spec(write(Path(tmp), variant(qwen3)))
    assert spec.model.vision.deepstack_visual_indexes == [0, 1] and spec.model.text.mrope_interleaved is True
    assert spec.model.cell_px == 32


@pytest.mark.parametrize(
    "edit, key, reason",
    [
        (
            lambda d: d["model"]["vision"].pop("deepstack_visual_indexes"),
            "model.vision.deepstack_visual_indexes",
            "missing required key (family qwen3_vl)",
        ),
        (
            lambda d: d["model"]["vision"].pop("num_position_embeddings"),
            "model.vision.num_position_embeddings",
            "missing required key (family qwen3_vl)",
        ),
        (
            lambda d: d["model"]["text"].pop("mrope_interleaved"),
            "model.text.mrope_interleaved",
            "missing required key (family qwen3_vl)",
        ),
        (
            lambda d: d["model"]["text"].pop("tie_word_embeddings"),
            "model.text.tie_word_embeddings",
            "missing required key (family qwen3_vl",
        ),
        (lambda d: d["model"]["text"].update(mrope_interleaved=False), "model.text.mrope_interleaved", "must be true"),
        (
            lambda d: d["model"]["vision"].update(num_position_embeddings=60),
            "model.vision.num_position_embeddings",
            "must be a square number",
        ),
        (
            lambda d: d["model"]["vision"].update(deepstack_visual_indexes=[0, 2]),
            "model.vision.deepstack_visual_indexes",
            "indices must be < vision depth 2",
        ),
        (
            lambda d: d["model"]["vision"].update(depth=4, deepstack_visual_indexes=[0, 1, 2]),
            "model.vision.deepstack_visual_indexes",
            "3 DeepStack features need as many decoder layers, the model has 2",
        ),
        (
            lambda d: d["model"]["text"].update(head_dim=16, mrope_section=[2, 3, 3]),
            "model.text.mrope_section",
            "interleaved: 3 x max(h, w) must be <= head_dim/2 = 8",
        ),
    ],
)
def test_qwen3_vl_semantic_errors_name_the_key(tmp_path, edit, key, reason):
    def both(d):
        qwen3(d)
        edit(d)

    errs = errors_of(tmp_path, variant(both))
    assert len(errs) == 1 and errs[0].startswith(f"{tmp_path / 'job.yaml'}: {key}: {reason}"), errs


def test_trainer_keys_load_and_bad_values_name_the_key(tmp_path):
    def edit(d):
        d["rewards"][0]["params"]["alignment"] = "input"
        d["rewards"][1]["params"]["length_shaping"] = {"min_tokens": 2, "max_tokens": 6, "floor": 0.6}
        d["grpo"].update(lr_scheduler="cosine", warmup_steps=3, scale_rewards="batch", loss_type="grpo")

    spec = load_spec(write(tmp_path, variant(edit)))
    assert spec.reward("attention_region").params.alignment == "input"
    assert spec.reward("format").params.length_shaping.floor == 0.6
    g = spec.grpo
    assert (g.lr_scheduler, g.warmup_steps, g.scale_rewards, g.loss_type) == ("cosine", 3, "batch", "grpo")
    assert load_spec(write(tmp_path, BASE)).reward("attention_region").params.alignment == "produced"
    errs = errors_of(
        tmp_path,
        variant(
            lambda d: (
                d["rewards"][0]["params"].update(alignment="output"),
                d["grpo"].update(scale_rewards="std", loss_type="ppo"),
            )
        ),
    )
    job = tmp_path / "job.yaml"
    assert sorted(e.split(": ")[1] for e in errs) == [
        "grpo.loss_type",
        "grpo.scale_rewards",
        "rewards[0].params.alignment",
    ]
    assert all(e.startswith(f"{job}: ") and ": expected one of " in e for e in errs), errs


def test_hardware_must_give_the_completions_grpo_asks_for(tmp_path):
    hw = {
        "gpus": 2,
        "gpu": "H200",
        "gpu_memory_gb": 141,
        "per_device_batch_size": 4,
        "gradient_accumulation_steps": 1,
        "precision": "bf16",
    }
    errs = errors_of(tmp_path, variant(lambda d: d.update(hardware=hw)))
    assert "grpo.prompts_per_step: prompts_per_step x group_size = 4 completions" in errs[0]
    assert "gives gpus x per_device_batch_size x gradient_accumulation_steps = 8" in errs[0]


def test_yaml_is_read_as_yaml_1_2_like_the_typescript_reader(tmp_path):
    text = yaml.safe_dump(BASE, sort_keys=False).replace("lr: 0.0001", "lr: 1e-4")
    assert "lr: 1e-4" in text
    assert load_spec(write(tmp_path, text)).grpo.lr == 1e-4  # YAML 1.1 would read the string '1e-4'
    errs = errors_of(tmp_path, text.replace("enabled: false", "enabled: no"))
    assert errs[0].endswith("model.lora.enabled: expected boolean, got 'no'")


def test_duplicate_keys_and_broken_yaml_name_the_line(tmp_path):
    errs = errors_of(tmp_path, "spec_version: 1\nspec_version: 1\n")
    assert errs == [f"{tmp_path / 'job.yaml'}: line 2: invalid YAML: duplicate key 'spec_version'"]
    errs = errors_of(tmp_path, "run: [1, 2\n")
    assert errs[0].startswith(f"{tmp_path / 'job.yaml'}: line 2: invalid YAML")
    errs = errors_of(tmp_path, "- 1\n")
    assert errs == [f"{tmp_path / 'job.yaml'}: (root): expected a mapping of keys, got [1]"]


def test_unreadable_file(tmp_path):
    with pytest.raises(SpecError, match=r"nope.yaml: \(file\): cannot read"):
        load_spec(tmp_path / "nope.yaml")


SHARED = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "jobspec-cases.json").read_text())


@pytest.mark.parametrize("case", SHARED["cases"], ids=[c["name"] for c in SHARED["cases"]])
def test_job_spec_cases_shared_with_the_typescript_reader(tmp_path, case):
    """fixtures/jobspec-cases.json: aliases (billion laughs), non-finite numbers, nesting and SPEC_LIMITS give the
    same lines here as in lab/jobspec/jobspec.ts, in well under a second."""
    import time

    base = (Path(__file__).resolve().parents[2] / SHARED["base"]).read_text()
    text = case.get("text") or (base.replace(*case["replace"], 1) if case.get("replace") else base)
    if case.get("replace"):
        assert text != base, case["replace"][0]
    path = tmp_path / "job.yaml"
    path.write_text(text)
    t0 = time.time()
    try:
        load_spec(path)
        errors = []
    except SpecError as e:
        errors = [line.replace(str(path), "job.yaml") for line in e.errors]
    assert errors == case["errors"]
    assert time.time() - t0 < 5


def test_limits_mirror_the_typescript_limits():
    """CONFIG_LIMITS, VISION_LIMITS and SPEC_LIMITS of sayo_train/limits.py equal those of src/core/limits.ts."""
    import re

    from sayo_train import limits

    ts = (Path(__file__).resolve().parents[2] / "src" / "core" / "limits.ts").read_text()
    for name in ("CONFIG_LIMITS", "VISION_LIMITS", "SPEC_LIMITS"):
        body = re.search(rf"export const {name} = \{{(.*?)\}} as const;", ts, re.S).group(1)
        body = re.sub(r"/\*\*.*?\*/", "", body, flags=re.S)
        pairs = dict(
            (k.strip("'"), int(v.replace("_", ""))) for k, v in re.findall(r"('[\w.]+'|\w+):\s*([\d_]+)", body)
        )
        assert pairs == getattr(limits, name), name
    assert int(re.search(r"MAX_SPEC_DEPTH = (\d+)", ts).group(1)) == limits.MAX_SPEC_DEPTH
