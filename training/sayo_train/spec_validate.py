"""The three validation layers of a job spec, each returning (key path, reason) pairs that spec.load_spec turns into
`<spec file>: <key.path>: <reason>` lines:

1. `Yaml12Loader`: YAML with 1.2 core scalars as the TypeScript reader (`yaml` npm) parses them, duplicate keys refused;
2. `schema_errors`: jsonschema errors in the same wording as lab/jobspec/jobspec.ts (a vitest compares them);
3. `semantic_errors`: what JSON Schema cannot say (shapes, cross-key consistency, files). A file must already exist
   when no stage of the spec writes it: the data stage writes data.train and data.heldout; nothing writes model.init
   or a local data source.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

STAGE_ORDER = ("data", "sft", "grpo", "export", "report")


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core booleans / floats and duplicate keys rejected (as the `yaml` npm package)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def compose_node(self, parent, index):
        # An alias repeats a node without writing it out: a 1 KB "billion laughs" spec expands to gigabytes in any
        # consumer that walks it. Job specs have no use for them; both readers refuse the first one.
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, ALIAS_PROBLEM, event.start_mark)
        return super().compose_node(parent, index)


ALIAS_PROBLEM = "aliases (*name) are not accepted in job specs; write the value out"


Yaml12Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def structure_errors(doc) -> list[tuple[str, str]]:
    """What the YAML layer refuses in both readers (lab/jobspec/jobspec.ts says the same): numbers that are not finite
    (.nan, .inf) and nesting deeper than MAX_SPEC_DEPTH."""
    import math

    from .limits import MAX_SPEC_DEPTH

    out = []
    stack = [(doc, [])]
    while stack:
        value, parts = stack.pop()
        if len(parts) > MAX_SPEC_DEPTH:
            return [("(root)", f"nested deeper than {MAX_SPEC_DEPTH} levels")]
        if isinstance(value, float) and not math.isfinite(value):
            out.append(
                (
                    key_path(parts),
                    f"{'.nan' if math.isnan(value) else ('.inf' if value > 0 else '-.inf')} is not a finite number",
                )
            )
        elif isinstance(value, dict):
            stack.extend((v, parts + [k]) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, parts + [i]) for i, v in enumerate(value))
    return sorted(out)


def limit_errors(doc) -> list[tuple[str, str]]:
    """Numbers above SPEC_LIMITS (limits.py; the TypeScript reader applies the same table)."""
    from .limits import SPEC_LIMITS

    out = []
    for key, limit in SPEC_LIMITS.items():
        v = doc
        for part in key.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > limit:
            out.append((key, f"{json.dumps(v)} is above the limit {limit} (what can run here)"))
    return sorted(out)


def key_path(parts) -> str:
    """`rewards[1].params.top_ratio` from ['rewards', 1, 'params', 'top_ratio'] (`(root)` when empty)."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(root)"


def show(value) -> str:
    """A value as the messages quote it: strings in single quotes, the rest as JSON, long values cut."""
    text = f"'{value}'" if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(schema: dict) -> str:
    if "const" in schema:
        return show(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(show(v) for v in schema["enum"])
    if schema.get("type") == "array":
        return "a list"
    return schema.get("type", "a valid value")


def schema_errors(err: jsonschema.ValidationError) -> list[tuple[str, str]]:
    """(key path, reason) pairs for one jsonschema error, in the wording the TypeScript reader uses too."""
    path = list(err.absolute_path)
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return [(key_path(path + [k]), "unknown key") for k in extra]
    if err.validator == "required":
        why = " (needed by a stage in run.stages)" if "then" in err.schema_path else ""
        return [
            (key_path(path + [k]), f"missing required key{why}") for k in err.validator_value if k not in err.instance
        ]
    return [_schema_error(err)]


def _schema_error(err: jsonschema.ValidationError) -> tuple[str, str]:
    path, kind, inst, val = list(err.absolute_path), err.validator, err.instance, err.validator_value
    if kind == "type":
        return key_path(path), f"expected {val}, got {show(inst)}"
    if kind in ("enum", "const"):
        return key_path(path), f"expected {_describe(err.schema)}, got {show(inst)}"
    if kind == "anyOf" and all(set(s) == {"required"} for s in val):
        return key_path(path), "needs one of the keys " + ", ".join(s["required"][0] for s in val)
    if kind == "anyOf":
        return key_path(path), "expected " + " or ".join(_describe(s) for s in val) + f", got {show(inst)}"
    bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if kind in bounds:
        return key_path(path), f"must be {bounds[kind]} {val}, got {show(inst)}"
    if kind in ("minItems", "maxItems"):
        return key_path(
            path
        ), f"expected {'at least' if kind == 'minItems' else 'at most'} {val} items, got {len(inst)}"
    if kind == "uniqueItems":
        return key_path(path), "items must be unique"
    if kind == "minLength":
        return key_path(path), "must not be empty"
    if kind == "pattern":
        return key_path(path), f"must match {val}, got {show(inst)}"
    return key_path(path), err.message


def _is_remote(uri: str) -> bool:
    return uri.startswith(("hub:", "http://", "https://"))


def _layer_ok(layer: int, n: int) -> bool:
    return -n <= layer < n


def _model(spec) -> list[tuple[str, str]]:
    m, out = spec.model, []
    t, v = m.text, m.vision
    if sum(t.mrope_section) * 2 != t.head_dim:
        out.append(
            (
                "model.text.mrope_section",
                f"must sum to head_dim/2 = {t.head_dim / 2:g}, got {sum(t.mrope_section)} ({t.mrope_section})",
            )
        )
    if t.num_heads % t.num_kv_heads:
        out.append(
            (
                "model.text.num_heads",
                f"must be a multiple of num_kv_heads ({t.num_kv_heads}) for grouped-query attention, got {t.num_heads}",
            )
        )
    if v.embed_dim % v.num_heads:
        out.append(
            ("model.vision.embed_dim", f"must be divisible by vision num_heads ({v.num_heads}), got {v.embed_dim}")
        )
    out.extend(_family_keys(m))
    if m.image.min_pixels > m.image.max_pixels:
        out.append(
            ("model.image.min_pixels", f"must be <= max_pixels ({m.image.max_pixels}), got {m.image.min_pixels}")
        )
    if m.image.max_pixels < m.cell_px**2:
        out.append(("model.image.max_pixels", f"must hold at least one {m.cell_px}x{m.cell_px} image token"))
    if m.init_path is not None and not m.init_path.is_dir():
        out.append(("model.init", f"checkpoint folder not found: {m.init_path}"))
    if m.init == "random" and m.family not in ("qwen2_5_vl", "qwen3_vl"):
        out.append(
            (
                "model.family",
                f"a model built from its shapes (init: random) is qwen2_5_vl or qwen3_vl; got {m.family!r}",
            )
        )
    if m.lora.enabled and m.init == "random":
        out.append(
            ("model.lora.enabled", "LoRA adapters on random weights train nothing useful; use init: <checkpoint>")
        )
    return out


def _family_keys(m) -> list[tuple[str, str]]:
    """Keys one family has and the others do not: Qwen3-VL's DeepStack, learned position table and interleaved
    M-RoPE (as its config.json states them)."""
    t, v, out = m.text, m.vision, []
    qwen3 = m.family == "qwen3_vl"
    for key, value in (
        ("vision.deepstack_visual_indexes", v.deepstack_visual_indexes),
        ("vision.num_position_embeddings", v.num_position_embeddings),
        ("text.mrope_interleaved", t.mrope_interleaved),
    ):
        if qwen3 and value is None:
            out.append((f"model.{key}", "missing required key (family qwen3_vl)"))
        elif not qwen3 and value not in (None, False):
            out.append((f"model.{key}", f"only Qwen3-VL has it, family is {m.family!r}"))
    if not qwen3:
        return out
    if t.tie_word_embeddings is None:
        out.append(("model.text.tie_word_embeddings", "missing required key (family qwen3_vl; Qwen3-VL-8B: false)"))
    if t.mrope_interleaved is False:
        out.append(
            (
                "model.text.mrope_interleaved",
                "must be true for qwen3_vl (transformers' Qwen3-VL always interleaves its M-RoPE)",
            )
        )
    if 3 * max(t.mrope_section[1:]) > t.head_dim // 2:
        out.append(
            (
                "model.text.mrope_section",
                f"interleaved: 3 x max(h, w) must be <= head_dim/2 = {t.head_dim // 2}, got {t.mrope_section}",
            )
        )
    ds = v.deepstack_visual_indexes or []
    if any(i >= v.depth for i in ds):
        out.append(("model.vision.deepstack_visual_indexes", f"indices must be < vision depth {v.depth}, got {ds}"))
    if len(ds) > t.num_layers:
        out.append(
            (
                "model.vision.deepstack_visual_indexes",
                f"{len(ds)} DeepStack features need as many decoder layers, the model has {t.num_layers}",
            )
        )
    n = v.num_position_embeddings
    if n is not None and round(n**0.5) ** 2 != n:
        out.append(("model.vision.num_position_embeddings", f"must be a square number (an n x n table), got {n}"))
    return out


def _data(spec) -> list[tuple[str, str]]:
    d, stages, out = spec.data, spec.run.stages, []
    writes_data = "data" in stages
    if writes_data and (d.generator is None) == (d.prepare is None):
        out.append(("data", "the data stage needs exactly one of the keys generator, prepare"))
    if d.generator and d.generator.min_side > d.generator.max_side:
        out.append(("data.generator.min_side", f"must be <= max_side ({d.generator.max_side})"))
    for i, src in enumerate(d.prepare.sources if d.prepare else []):
        if not _is_remote(src.uri) and not (spec.path.parent / Path(src.uri).expanduser()).exists():
            out.append((f"data.prepare.sources[{i}].uri", f"file not found: {src.uri}"))
    needs = {"train": {"sft", "grpo"} & set(stages), "heldout": {"export", "report"} & set(stages)}
    for key, users in needs.items():
        p: Path = getattr(d, key)
        if users and not writes_data and not p.is_file():
            out.append(
                (f"data.{key}", f"file not found (no data stage writes it; needed by {', '.join(sorted(users))}): {p}")
            )
    return out


def _rewards(spec) -> list[tuple[str, str]]:
    out, names = [], [r.name for r in spec.rewards or []]
    n_layers = spec.model.text.num_layers
    for i, r in enumerate(spec.rewards or []):
        key = f"rewards[{i}]"
        if names.index(r.name) != i:
            out.append((f"{key}.name", f"duplicate reward {r.name!r}"))
        p = r.params
        if r.name == "attention_region":
            if not _layer_ok(p.layer, n_layers):
                out.append((f"{key}.params.layer", f"no such decoder layer: {p.layer} (the model has {n_layers})"))
            if p.cell_px is not None and p.cell_px != spec.model.cell_px:
                out.append(
                    (
                        f"{key}.params.cell_px",
                        f"must equal patch_size x merge_size = {spec.model.cell_px}, got {p.cell_px}",
                    )
                )
        if r.name == "format":
            try:
                re.compile(p.pattern)
            except re.error as e:
                out.append((f"{key}.params.pattern", f"invalid regular expression: {e}"))
            ls = p.length_shaping
            if ls and ls.min_tokens > ls.max_tokens:
                out.append((f"{key}.params.length_shaping.min_tokens", f"must be <= max_tokens ({ls.max_tokens})"))
            if ls and ls.min_tokens > spec.data.max_response_tokens:
                out.append(
                    (
                        f"{key}.params.length_shaping.min_tokens",
                        f"must be <= data.max_response_tokens ({spec.data.max_response_tokens})",
                    )
                )
    if "grpo" in spec.run.stages and spec.rewards and not any(r.weight > 0 for r in spec.rewards):
        out.append(("rewards", "every weight is 0: GRPO would have no signal"))
    return out


TRL_ADVANTAGE_EPS = 1e-4  # fixed in trl 0.25.1's GRPOTrainer (advantages / (std + 1e-4))


def _grpo(spec) -> list[tuple[str, str]]:
    g, h, out = spec.grpo, spec.hardware, []
    if g is None:
        return out
    if g.advantage_eps != TRL_ADVANTAGE_EPS:
        out.append(
            (
                "grpo.advantage_eps",
                f"TRL's GRPOTrainer divides by (std + {TRL_ADVANTAGE_EPS:g}); "
                f"accepted: {TRL_ADVANTAGE_EPS:g}, got {g.advantage_eps:g}",
            )
        )
    if h is None:
        return out
    per_step = h.gpus * h.per_device_batch_size * h.gradient_accumulation_steps
    if per_step != g.prompts_per_step * g.group_size:
        out.append(
            (
                "grpo.prompts_per_step",
                f"prompts_per_step x group_size = {g.prompts_per_step * g.group_size} completions, but hardware gives "
                f"gpus x per_device_batch_size x gradient_accumulation_steps = {per_step}",
            )
        )
    return out


def _export(spec) -> list[tuple[str, str]]:
    e, n = spec.export, spec.model.text.num_layers
    if e is None or isinstance(e.attention_layers, str):
        return []
    bad = [layer for layer in e.attention_layers if not _layer_ok(layer, n)]
    return [("export.attention_layers", f"no such decoder layer: {bad} (the model has {n})")] if bad else []


def semantic_errors(spec) -> list[tuple[str, str]]:
    """Every semantic problem of `spec` as (key path, reason); empty when the spec can run."""
    stages = spec.run.stages
    out = []
    if list(stages) != sorted(stages, key=STAGE_ORDER.index):
        out.append(("run.stages", f"must follow the pipeline order {', '.join(STAGE_ORDER)}, got {', '.join(stages)}"))
    for check in (_model, _data, _rewards, _grpo, _export):
        out.extend(check(spec))
    return out
