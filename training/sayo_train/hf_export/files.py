"""The non-graph files transformers.js reads: config.json (with "transformers.js_config"), generation_config.json,
preprocessor_config.json, tokenizer.json and tokenizer_config.json (with the chat template)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .family import ExportError, Family
from .untrusted import read_json, refuse_remote_code, regular_file

# A chat template is text; the largest real ones are a few KB.
MAX_TEMPLATE_BYTES = 1024 * 1024

ARCH = {
    "qwen2_vl": "Qwen2VLForConditionalGeneration",
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
    "qwen3_vl": "Qwen3VLForConditionalGeneration",
}
PROCESSOR = {"qwen2_vl": "Qwen2VLProcessor", "qwen2_5_vl": "Qwen2_5_VLProcessor", "qwen3_vl": "Qwen3VLProcessor"}
# Text fields transformers.js reads from the top level of a qwen2_vl config (its normalized-config mapping).
TOP_TEXT_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "rms_norm_eps",
    "rope_theta",
    "rope_scaling",
    "max_position_embeddings",
)


def _dump(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def config_json(model, family: Family, external: dict[str, int], dtype: str = "fp32") -> dict:
    d = model.config.to_dict()
    d["model_type"] = family.model_type
    d["architectures"] = [ARCH[family.model_type]]
    tc = d.get("text_config") or {}
    if family.model_type == "qwen2_vl":
        for k in TOP_TEXT_FIELDS:
            if k in tc:
                d[k] = tc[k]
    d.pop("_name_or_path", None)
    d.pop("auto_map", None)  # never carried into an export: it names code the engine must not run
    js = {"dtype": dtype}  # the precision transformers.js loads by default: fp32, or the first one written
    if external:
        js["use_external_data_format"] = dict(sorted(external.items()))
    d["transformers.js_config"] = js
    return d


def generation_config_json(model, tok_cfg: dict, vocab: dict) -> dict:
    g = model.generation_config.to_diff_dict() if getattr(model, "generation_config", None) else {}
    g.pop("transformers_version", None)
    eos = g.get("eos_token_id")
    eos = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
    for t in ("<|im_end|>", "<|endoftext|>"):
        if t in vocab and vocab[t] not in eos:
            eos.append(vocab[t])
    g["eos_token_id"] = eos
    if "<|endoftext|>" in vocab:
        g.setdefault("pad_token_id", vocab["<|endoftext|>"])
        g.setdefault("bos_token_id", vocab["<|endoftext|>"])
    return g


def _chat_template(src: Path, tok_cfg: dict) -> str | None:
    if tok_cfg.get("chat_template"):
        return tok_cfg["chat_template"]
    if (src / "chat_template.jinja").exists():
        regular_file(src / "chat_template.jinja", MAX_TEMPLATE_BYTES)
        return (src / "chat_template.jinja").read_text()
    if (src / "chat_template.json").exists():
        j = read_json(src / "chat_template.json", MAX_TEMPLATE_BYTES)
        return j.get("chat_template") if isinstance(j, dict) else None
    return None


def token_vocab(src: Path) -> dict[str, int]:
    j = read_json(src / "tokenizer.json")
    try:
        v = dict(j["model"]["vocab"])
        v.update({t["content"]: t["id"] for t in j.get("added_tokens", [])})
    except (KeyError, TypeError, AttributeError, ValueError):
        raise ExportError(
            f"{src}/tokenizer.json: no model.vocab object with added_tokens entries (not a BPE tokenizer.json)"
        ) from None
    if not v or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in v.values()):
        raise ExportError(f"{src}/tokenizer.json: token ids must be non-negative integers")
    return v


def write_files(model, family: Family, src: Path, out: Path, external: dict[str, int], dtype: str = "fp32") -> None:
    """`src` is the folder with the tokenizer and processor files (the checkpoint itself, usually)."""
    src, out = Path(src), Path(out)
    missing = [
        f for f in ("tokenizer.json", "tokenizer_config.json", "preprocessor_config.json") if not (src / f).exists()
    ]
    if missing:
        raise ExportError(
            f"{src}: {', '.join(missing)} missing; the exporter copies the tokenizer and image "
            "processor from the checkpoint folder (save them there with processor.save_pretrained, "
            "or pass processor_dir / --processor <folder that has them>)"
        )
    refuse_remote_code(src)
    tok_cfg = read_json(src / "tokenizer_config.json")
    if not isinstance(tok_cfg, dict):
        raise ExportError(f"{src}/tokenizer_config.json: expected a JSON object")
    tok_cfg.pop("auto_map", None)
    tmpl = _chat_template(src, tok_cfg)
    if not tmpl or "image" not in tmpl:
        raise ExportError(
            f"{src}: no chat template with an image turn (tokenizer_config.json chat_template, "
            "chat_template.jinja or chat_template.json); transformers.js renders prompts with it — "
            "copy the template of the base Qwen-VL model"
        )
    tok_cfg["chat_template"] = tmpl
    tok_cfg.setdefault("tokenizer_class", "Qwen2Tokenizer")
    vocab = token_vocab(src)
    n_emb = model.get_input_embeddings().weight.shape[0]
    if max(vocab.values()) >= n_emb:
        raise ExportError(
            f"{src}: tokenizer id {max(vocab.values())} ≥ the model's {n_emb} embedding rows; use the "
            "tokenizer the checkpoint was trained with"
        )
    shutil.copyfile(src / "tokenizer.json", out / "tokenizer.json")
    _dump(out / "tokenizer_config.json", tok_cfg)
    pre = read_json(src / "preprocessor_config.json")
    if not isinstance(pre, dict):
        raise ExportError(f"{src}/preprocessor_config.json: expected a JSON object")
    pre.pop("auto_map", None)
    if pre.get("processor_class") not in PROCESSOR.values():  # absent, or a training-side subclass
        pre["processor_class"] = PROCESSOR[family.model_type]
    pre.setdefault("image_processor_type", "Qwen2VLImageProcessor")
    vc = model.config.vision_config
    for k, want in (
        ("patch_size", vc.patch_size),
        ("merge_size", vc.spatial_merge_size),
        ("temporal_patch_size", vc.temporal_patch_size),
    ):
        if pre.get(k, want) != want:
            raise ExportError(f"{src}/preprocessor_config.json: {k} {pre[k]} but the vision tower has {want}")
        pre[k] = want
    _dump(out / "preprocessor_config.json", pre)
    _dump(out / "config.json", config_json(model, family, external, dtype))
    _dump(out / "generation_config.json", generation_config_json(model, tok_cfg, vocab))


def registry_entry(out: Path, family: Family, precisions, layers: list[int]) -> dict:
    """The models/registry.json entry for the exported folder (kind "embedded": the folder placed under models/;
    for a web host, change kind to "url" and replace path by url)."""
    out = Path(out)
    att = (
        f"decoder_attentions of layer{'s' if len(layers) != 1 else ''} {', '.join(map(str, layers))}"
        if layers
        else "no decoder_attentions outputs"
    )
    return {
        "id": out.name,
        "name": out.name,
        "kind": "embedded",
        "path": out.name,
        "modelType": family.model_type,
        "description": f"Exported by sayo_train export ({family.model_type}, {att}).",
        "precisions": [_precision(p) for p in precisions],
    }


def _precision(p: str) -> dict:
    return {"id": p, "label": p, "dtype": p}
