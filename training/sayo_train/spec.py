"""Job specs: load a training/jobs/*.yaml into typed dataclasses, or fail before any work with `file: key.path: reason`.

Three layers, in order, each reporting every problem it finds:
1. YAML (1.2 core scalars as the TypeScript reader parses them: `1e-6` is a float, `yes` is a string; duplicate keys fail);
2. the one JSON Schema, training/schema/job.schema.json (also read by lab/jobspec with ajv): unknown keys, types, ranges;
3. semantic checks the schema cannot express (shapes, cross-key consistency, files that must already exist).
The layers live in spec_validate.py; this module holds the types and the loading. Relative paths resolve against the spec file's directory. The dataclasses mirror the YAML keys one to one; the schema's
`description`s document each key.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Optional, Union

import jsonschema
import yaml

from .limits import MAX_SPEC_DEPTH
from .spec_validate import Yaml12Loader, limit_errors, schema_errors, semantic_errors, show, structure_errors

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "job.schema.json"
STAGES = ("data", "sft", "grpo", "export", "report")


class SpecError(ValueError):
    """Invalid job spec. `errors` holds one `<spec file>: <key.path>: <reason>` line per problem."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class Run:
    name: str
    seed: int
    output_dir: Path
    stages: list[str]  # subset of STAGES, in that order
    threads: Optional[int] = None  # CPU runs only
    resume: bool = False


@dataclass
class Vision:
    patch_size: int
    temporal_patch_size: int
    merge_size: int
    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float
    deepstack_visual_indexes: Optional[list[int]] = None  # Qwen3-VL only (required there)
    num_position_embeddings: Optional[int] = None  # Qwen3-VL only (required there): a square number


@dataclass
class Text:
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    mrope_section: list[int]  # (t, h, w), sums to head_dim / 2
    rope_theta: float
    rms_norm_eps: float
    vocab_size: Optional[int] = None  # SAYO-mini: set by its tokenizer at the data stage
    tie_word_embeddings: Optional[bool] = None  # required for qwen3_vl
    mrope_interleaved: Optional[bool] = None  # Qwen3-VL: true (required there)


@dataclass
class Image:
    min_pixels: int
    max_pixels: int


@dataclass
class Lora:
    enabled: bool
    r: int
    alpha: float
    target_modules: Union[str, list[str]]  # "all-linear" or module-name suffixes
    dropout: Optional[float] = None
    exclude_vision: Optional[bool] = None


@dataclass
class Model:
    init: str  # "random", "hub:<org>/<name>", or a checkpoint folder (resolved, see init_path)
    family: str
    vision: Vision
    text: Text
    image: Image
    lora: Lora
    dtype: Optional[str] = None
    init_path: Optional[Path] = field(default=None, metadata={"help": "resolved folder when init is a path"})

    @property
    def cell_px(self) -> int:
        """Pixels per LLM image-token side: patch_size × merge_size."""
        return self.vision.patch_size * self.vision.merge_size


@dataclass
class Generator:
    train_size: int
    heldout_size: int
    min_side: int
    max_side: int
    gallery_size: Optional[int] = None
    describe_ratio: Optional[float] = None  # SAYO-mini: share of SFT records asking to describe every object


@dataclass
class DataSource:
    name: str
    kind: str
    uri: str  # hub:<id>, https://…, or a local path (kept as written; checked when local)
    n: int
    split: Optional[str] = None
    fraction: Optional[float] = None


@dataclass
class Prepare:
    sources: list[DataSource]
    heldout_size: int


@dataclass
class Data:
    train: Path
    heldout: Path
    max_response_tokens: int
    generator: Optional[Generator] = None
    prepare: Optional[Prepare] = None
    system_prompt: Optional[str] = None
    max_prompt_tokens: Optional[int] = None


@dataclass
class Sft:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    max_grad_norm: float
    warmup_steps: Optional[int] = None


@dataclass
class AttentionRegionParams:
    layer: int  # negative counts from the end
    head_reduce: str
    top_ratio: float
    eps: float
    cell_px: Optional[int] = None  # when given, must equal patch_size × merge_size
    alignment: str = "produced"  # which attention row a generated token owns (reward_math.py)


@dataclass
class LengthShaping:
    min_tokens: int
    max_tokens: int
    floor: float


@dataclass
class FormatParams:
    pattern: str
    length_shaping: Optional[LengthShaping] = None
    gating: str = "strict"  # text_rewards.format_reward: "strict" or "official" (SAYO's code)


@dataclass
class AccuracyParams:
    method: str


RewardParams = Union[AttentionRegionParams, FormatParams, AccuracyParams]
PARAMS_BY_REWARD = {"attention_region": AttentionRegionParams, "format": FormatParams, "accuracy": AccuracyParams}


@dataclass
class Reward:
    name: str
    weight: float
    params: RewardParams


@dataclass
class Grpo:
    prompts_per_step: int
    group_size: int
    lr: float
    weight_decay: float
    max_grad_norm: float
    kl_beta: float
    clip_eps: float
    advantage_eps: float
    temperature: float
    top_p: float
    steps: Optional[int] = None  # wins over epochs
    epochs: Optional[int] = None
    save_every: Optional[int] = None
    lr_scheduler: Optional[str] = None  # TRL lr_scheduler_type; absent: "linear" (TRL's default)
    warmup_steps: Optional[int] = None
    scale_rewards: Optional[str] = None  # TRL: "group" (SAYO), "batch" or "none"
    loss_type: Optional[str] = None  # TRL: "grpo", "bnpo", "dr_grpo" or "dapo" (TRL 0.25's default)
    reward_micro_batch: Optional[int] = None  # sequences per attention-reward forward; None: the whole batch


@dataclass
class Hardware:
    gpus: int
    gpu: str
    gpu_memory_gb: float
    per_device_batch_size: int
    gradient_accumulation_steps: int
    precision: str
    gradient_checkpointing: Optional[bool] = None
    zero_stage: Optional[int] = None
    attn_implementation: Optional[str] = None
    rollout_engine: Optional[str] = None


@dataclass
class Check:
    max_abs_logit_diff: float
    max_abs_attention_diff: float


@dataclass
class Export:
    out_dir: Path
    opset: int
    attention_layers: Union[str, list[int]]  # "all", "last" or layer indices
    check: Check
    merge_lora: Optional[bool] = None
    quantize: Optional[list[str]] = None
    noattn_decoder: Optional[Path] = None  # SAYO-mini: the trained decoder exported without attention outputs


@dataclass
class Report:
    metrics_file: Path
    max_new_tokens: Optional[int] = None


@dataclass
class JobSpec:
    spec_version: int
    run: Run
    model: Model
    data: Data
    sft: Optional[Sft] = None
    rewards: Optional[list[Reward]] = None
    grpo: Optional[Grpo] = None
    hardware: Optional[Hardware] = None
    export: Optional[Export] = None
    report: Optional[Report] = None
    path: Optional[Path] = field(default=None, metadata={"help": "the spec file, resolved"})

    def reward(self, name: str) -> Optional[Reward]:
        """The reward term called `name`, if the spec has one."""
        return next((r for r in self.rewards or [] if r.name == name), None)


def _build(cls, value, base: Path):
    """Instantiate dataclass `cls` from validated YAML data, resolving Path fields against `base`."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in fields(cls):
        if f.name in value:
            kwargs[f.name] = _convert(hints[f.name], value[f.name], base)
    if cls is Reward:
        kwargs["params"] = _build(PARAMS_BY_REWARD[value["name"]], value["params"], base)
    return cls(**kwargs)


def _convert(tp, value, base: Path):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Union:
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _convert(options[0], value, base)
        return value  # str-or-list keys (target_modules, attention_layers); Reward.params is built by _build
    if origin is list:
        return [_convert(args[0], v, base) for v in value]
    if is_dataclass(tp):
        return _build(tp, value, base)
    if tp is Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base / p).resolve()
    if tp is float:
        return float(value)
    if tp is int:
        return int(value)
    return value


def _validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def load_spec(path) -> JobSpec:
    """Read, validate and resolve a job spec. Raises SpecError (every problem, one line each) before any work."""
    path = Path(path)
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError([f"{label}: (file): cannot read: {e.strerror or e}"]) from None
    try:
        doc = yaml.load(text, Loader=Yaml12Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"line {mark.line + 1}" if mark else "(yaml)"
        raise SpecError([f"{label}: {where}: invalid YAML: {getattr(e, 'problem', None) or e}"]) from None
    except RecursionError:
        raise SpecError([f"{label}: (root): nested deeper than {MAX_SPEC_DEPTH} levels"]) from None
    if structure_errors(doc):
        raise SpecError([f"{label}: {k}: {r}" for k, r in structure_errors(doc)])
    if not isinstance(doc, dict):
        raise SpecError([f"{label}: (root): expected a mapping of keys, got {show(doc)}"])
    found = sorted({pair for e in _validator().iter_errors(doc) for pair in schema_errors(e)}) or limit_errors(doc)
    if found:
        raise SpecError([f"{label}: {k}: {r}" for k, r in found])
    base = path.resolve().parent
    spec = _build(JobSpec, doc, base)
    spec.path = path.resolve()
    if spec.model.init not in ("random",) and not spec.model.init.startswith("hub:"):
        spec.model.init_path = _convert(Path, spec.model.init, base)
    problems = semantic_errors(spec)
    if problems:
        raise SpecError([f"{label}: {k}: {r}" for k, r in problems])
    return spec
