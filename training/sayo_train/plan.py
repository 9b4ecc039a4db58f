"""The plan of a job spec, printed by `python -m sayo_train run <spec> --dry-run`: stages and their commands, the data
to prepare, and a memory estimate per device with its arithmetic shown.

The estimate is deliberately rough (±30 %): it counts parameters from the spec's shapes, LoRA adapters for the targeted
linears, AdamW state, the rollout KV cache and the training activations at the longest sequence the spec allows
(max_pixels image tokens + an assumed text prompt + max_response_tokens). GB = 10^9 bytes.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from .spec import JobSpec

TEXT_PROMPT_TOKENS = 128  # assumed template + system prompt + question tokens around the image
GB = 1e9
STAGE_TEXT = {
    "data": "write train / held-out JSONL ({image, question, answer, boxes})",
    "sft": "supervised fine-tuning of the base",
    "grpo": "GRPO with the SAYO reward from the policy's own attention",
    "export": "ONNX export in the models/CONTRACT.md layout, checked against PyTorch",
    "report": "held-out accuracy, R_a, r_v, image share, pointing hit",
}


@dataclass
class Stage:
    name: str
    where: str  # "here" or "GPU host"
    command: str
    does: str


@dataclass
class MemoryLine:
    label: str
    bytes: float
    arithmetic: str


@dataclass
class Plan:
    name: str
    spec_path: str
    stages: list[Stage]
    data: list[str]  # preparation lines: sources, sizes, steps
    device: str  # what the memory lines are per
    params: dict[str, int]  # vision, text, total, trainable
    static: list[MemoryLine]  # weights, grads, optimizer, reference: held for the whole run
    phases: dict[str, list[MemoryLine]]  # transient per phase (rollout, train, sft)
    capacity_gb: float | None
    warnings: list[str] = field(default_factory=list)

    def peak_bytes(self) -> float:
        """Static memory plus the largest phase."""
        return sum(m.bytes for m in self.static) + max(
            (sum(m.bytes for m in ls) for ls in self.phases.values()), default=0
        )


def _g(n: float) -> str:
    return f"{n / GB:.2f} GB" if n >= 0.1 * GB else f"{n / 1e6:.1f} MB"


def count_params(spec: JobSpec) -> dict[str, int]:
    """Parameter counts from the spec's shapes (biases, norms and Qwen3-VL's learned position table included)."""
    v, t = spec.model.vision, spec.model.text
    e, m2 = v.embed_dim, v.merge_size**2
    mlp = round(v.mlp_ratio * e)
    qwen3 = spec.model.family == "qwen3_vl"
    qwen25 = spec.model.family == "qwen2_5_vl"
    patch = 3 * v.temporal_patch_size * v.patch_size**2 * e + (e if qwen3 else 0)  # Conv3d bias only in Qwen3-VL
    if qwen25:  # RMSNorms (weight only), SwiGLU MLP with biases
        block = (e * 3 * e + 3 * e) + (e * e + e) + 2 * (e * mlp + mlp) + (mlp * e + e) + 2 * e
        merger = e + (e * m2) ** 2 + e * m2 + e * m2 * t.hidden_size + t.hidden_size
    else:  # LayerNorms (weight and bias), two-layer MLP
        block = (e * 3 * e + 3 * e) + (e * e + e) + (e * mlp + mlp) + (mlp * e + e) + 4 * e
        merger = 2 * e + (e * m2) ** 2 + e * m2 + e * m2 * t.hidden_size + t.hidden_size
    n_ds = len(v.deepstack_visual_indexes or [])
    ds_merger = merger + 2 * e * m2 - 2 * e  # DeepStack mergers normalise after the 2x2 concatenation (post-shuffle)
    vision = patch + v.depth * block + merger + n_ds * ds_merger + (v.num_position_embeddings or 0) * e
    h, d = t.hidden_size, t.head_dim
    attn = h * t.num_heads * d + 2 * h * t.num_kv_heads * d + t.num_heads * d * h
    qkv_bias_or_qk_norm = 2 * d if qwen3 else (t.num_heads + 2 * t.num_kv_heads) * d
    layer = attn + qkv_bias_or_qk_norm + 3 * h * t.intermediate_size + 2 * h
    vocab = t.vocab_size or 0
    embeds = vocab * h * (1 if t.tie_word_embeddings in (None, True) else 2)
    text = t.num_layers * layer + h + embeds
    return {"vision": vision, "text": text, "total": vision + text, "lora": count_lora(spec)}


def count_lora(spec: JobSpec) -> int:
    """LoRA adapter parameters r·(in + out) over the targeted linears (peft 'all-linear': every linear but lm_head)."""
    lo = spec.model.lora
    if not lo.enabled:
        return 0
    v, t = spec.model.vision, spec.model.text
    h, i, hd = t.hidden_size, t.intermediate_size, t.head_dim
    text = {
        "q_proj": (h, t.num_heads * hd),
        "k_proj": (h, t.num_kv_heads * hd),
        "v_proj": (h, t.num_kv_heads * hd),
        "o_proj": (t.num_heads * hd, h),
        "gate_proj": (h, i),
        "up_proj": (h, i),
        "down_proj": (i, h),
    }
    e, mlp, em = v.embed_dim, round(v.mlp_ratio * v.embed_dim), v.embed_dim * v.merge_size**2
    vision = (
        {"qkv": (e, 3 * e), "proj": (e, e), "gate_proj": (e, mlp), "up_proj": (e, mlp), "down_proj": (mlp, e)}
        if spec.model.family == "qwen2_5_vl"
        else {"qkv": (e, 3 * e), "proj": (e, e), "fc1": (e, mlp), "fc2": (mlp, e)}
    )
    mergers = 1 + len(v.deepstack_visual_indexes or [])
    wanted = None if lo.target_modules == "all-linear" else set(lo.target_modules)
    total = sum(lo.r * (a + b) for k, (a, b) in text.items() if wanted is None or k in wanted) * t.num_layers
    if not lo.exclude_vision:
        total += sum(lo.r * (a + b) for k, (a, b) in vision.items() if wanted is None or k in wanted) * v.depth
        if wanted is None:
            total += mergers * lo.r * ((em + em) + (em + t.hidden_size))
    return total


def _stages(spec: JobSpec, gpu: bool) -> list[Stage]:
    rel = os.path.relpath(spec.path)
    here = f"python -m sayo_train run {rel}"
    hw, out = spec.hardware, []
    for name in spec.run.stages:
        if not gpu:
            out.append(Stage(name, "here", f"{here} --stages {name}", STAGE_TEXT[name]))
        elif name == "data":
            fetch = (
                "; ".join(f"fetch {s.name} from {s.uri}" for s in spec.data.prepare.sources)
                if spec.data.prepare
                else here
            )
            out.append(Stage(name, "GPU host", fetch, STAGE_TEXT[name] + " (converters: training/README.md)"))
        elif name in ("sft", "grpo"):
            cmd = (
                f"python -m sayo_train launch {rel} --stages {name}   # accelerate launch --num_processes "
                f"{hw.gpus} --mixed_precision {hw.precision}"
                + (f" --use_deepspeed (ZeRO-{hw.zero_stage})" if hw.zero_stage is not None else "")
                + "; --dry-run prints it"
            )
            out.append(Stage(name, "GPU host", cmd, STAGE_TEXT[name] + " (TRL GRPOTrainer / transformers Trainer)"))
        elif name == "export":
            cmd = (
                f"python -m sayo_train run {rel} --stages export   # LoRA merged at the end of grpo; "
                f"sayo_train.hf_export, decoder_attentions of layers: {_layers(spec)}"
            )
            out.append(Stage(name, "GPU host", cmd, STAGE_TEXT[name]))
        else:
            out.append(
                Stage(
                    name, "GPU host", f"npx sayo eval --model <export dir> --data {spec.data.heldout}", STAGE_TEXT[name]
                )
            )
    return out


def _layers(spec: JobSpec) -> str:
    a = spec.export.attention_layers
    return a if isinstance(a, str) else ",".join(str(x % spec.model.text.num_layers) for x in a)


def _data_lines(spec: JobSpec, train_n: int) -> list[str]:
    d, lines = spec.data, []
    if d.generator:
        g = d.generator
        lines.append(
            f"synthetic grounded VQA: {g.train_size} train + {g.heldout_size} held-out, sides {g.min_side}-{g.max_side} px"
        )
    if d.prepare:
        for s in d.prepare.sources:
            part = f", split {s.split}" if s.split else ""
            frac = f", {s.fraction:.0%} of it" if s.fraction else ""
            lines.append(f"{s.name} ({s.kind}) from {s.uri}{part}{frac}: ~{s.n} records")
        lines.append(f"held out: {d.prepare.heldout_size}; train ≈ {train_n}")
    lines.append(f"train file: {d.train}")
    lines.append(f"held-out file: {d.heldout}")
    lines.append(
        f"images: {spec.model.image.min_pixels}-{spec.model.image.max_pixels} px → "
        f"{_tokens(spec, spec.model.image.min_pixels)}-{_tokens(spec, spec.model.image.max_pixels)} image tokens "
        f"of {spec.model.cell_px}x{spec.model.cell_px} px"
    )
    g = spec.grpo
    if g:
        steps = g.steps or g.epochs * math.ceil(train_n / g.prompts_per_step)
        how = f"{g.steps} (set)" if g.steps else f"{g.epochs} epochs x ceil({train_n} / {g.prompts_per_step})"
        lines.append(f"GRPO steps: {steps} = {how}; {g.prompts_per_step} prompts x {g.group_size} rollouts per step")
    return lines


def _tokens(spec: JobSpec, pixels: int) -> int:
    return max(1, pixels // spec.model.cell_px**2)


def _train_size(spec: JobSpec) -> int:
    d = spec.data
    if d.generator:
        return d.generator.train_size
    if d.prepare:
        return sum(s.n for s in d.prepare.sources) - d.prepare.heldout_size
    return 0


ENTROPY_CHUNK = 256  # completion rows per lm_head call in the reward pass (policy_attention._entropies)


def reward_pass_lines(
    *,
    m: int,
    seq: int,
    resp: int,
    n_img: int,
    patches: int,
    h: int,
    i: int,
    heads: int,
    vocab: int,
    b: int,
    embed: int,
    vision_heads: int,
    n_deepstack: int,
    attn: str,
) -> list[MemoryLine]:
    """Transient memory of the attention reward's teacher-forced pass (policy_attention.measure) for `m` sequences
    per forward (the micro-batch), no gradients. attn: the model's attention implementation for every layer
    (flash_attention_2 keeps no score matrix; sdpa's math kernel and eager do, one layer at a time)."""
    scores = 0 if attn == "flash_attention_2" else 2
    rows = min(resp, ENTROPY_CHUNK)
    out = [
        MemoryLine(
            "reward: ViT block + features",
            m * patches * embed * b * 6
            + (1 + n_deepstack) * m * n_img * h * b
            + scores * vision_heads * patches**2 * b,
            f"{m} img x {patches} patches x {embed} x {b} B x 6 + (1 + {n_deepstack} DeepStack) x {m} x "
            f"{n_img} tok x h {h} x {b} B"
            + (f" + {scores} x {vision_heads} heads x {patches}² x {b} B (one image's scores)" if scores else ""),
        ),
        MemoryLine(
            "reward: one decoder layer",
            m * seq * (8 * h + 4 * i) * b,
            f"{m} seq x {seq} tok x (8h + 4i = {8 * h + 4 * i}) x {b} B",
        ),
        MemoryLine("reward: last hidden states", m * seq * h * b, f"{m} x {seq} tok x h {h} x {b} B"),
        MemoryLine(
            "reward: completion-row scores",
            heads * resp * seq * 4 * 3 + m * resp * heads * n_img * 4,
            f"{heads} heads x {resp} rows x {seq} keys x 4 B x 3 (one sequence) + {m} x {resp} x {heads} x "
            f"{n_img} image tok x 4 B (kept)",
        ),
        MemoryLine(
            "reward: entropy chunk",
            rows * vocab * 4 * 4,
            f"{rows} rows x V {vocab} x 4 B x 4 (logits, log p, p, p log p)",
        ),
    ]
    if scores:
        out.append(
            MemoryLine(
                "reward: one layer's scores",
                scores * m * heads * seq**2 * b,
                f"{scores} x {m} x {heads} heads x {seq}² x {b} B ({attn})",
            )
        )
    return out


def memory_lines(spec: JobSpec, params: dict[str, int]):
    """(static lines, {phase: lines}, device label, capacity GB or None, warnings) for one device."""
    t, hw, g, warnings = spec.model.text, spec.hardware, spec.grpo, []
    gpu = hw is not None
    b = {"bf16": 2, "fp16": 2, "fp32": 4}[hw.precision] if gpu else 4
    shards = hw.gpus if gpu and (hw.zero_stage or 0) >= 1 else 1
    total, lora = params["total"], params["lora"]
    static = [
        MemoryLine(
            "weights",
            total * b,
            f"{total / 1e6:,.1f} M params x {b} B"
            + (" (replicated: ZeRO-1 shards optimizer state only)" if gpu else ""),
        )
    ]
    if lora:
        # peft keeps adapter weights in float32 even on a bf16 model (autocast_adapter_dtype), so their gradients
        # are float32 too and AdamW needs no master copy: m and v, 4 B each.
        static.append(MemoryLine("LoRA adapters", lora * 4, f"{lora / 1e6:,.2f} M params x 4 B (fp32)"))
        static.append(MemoryLine("gradients", lora * 4, f"{lora / 1e6:,.2f} M LoRA params x 4 B"))
        static.append(
            MemoryLine(
                "AdamW state",
                lora * 8 / shards,
                f"{lora / 1e6:,.2f} M x 8 B (m, v)" + (f" / {shards} GPUs" if shards > 1 else ""),
            )
        )
    else:
        static.append(MemoryLine("gradients", total * b, f"{total / 1e6:,.1f} M trainable x {b} B"))
        opt_b = 12 if b == 2 else 8
        static.append(
            MemoryLine(
                "AdamW state",
                total * opt_b / shards,
                f"{total / 1e6:,.1f} M x {opt_b} B ({'fp32 master + ' if b == 2 else ''}m, v)"
                + (f" / {shards} GPUs" if shards > 1 else ""),
            )
        )
    if g and g.kl_beta > 0 and "grpo" in spec.run.stages:
        ref = 0 if lora else total * b
        static.append(
            MemoryLine(
                "KL reference",
                ref,
                "LoRA disabled = reference, no copy" if lora else f"frozen copy: {total / 1e6:,.1f} M x {b} B",
            )
        )
    n_img = _tokens(spec, spec.model.image.max_pixels)
    resp = spec.data.max_response_tokens
    seq = n_img + TEXT_PROMPT_TOKENS + resp
    if spec.data.max_prompt_tokens and n_img + TEXT_PROMPT_TOKENS > spec.data.max_prompt_tokens:
        warnings.append(f"max_pixels allows {n_img} image tokens: prompts exceed max_prompt_tokens")
    h, i, layers, vocab = t.hidden_size, t.intermediate_size, t.num_layers, t.vocab_size or 0
    ckpt = bool(gpu and hw.gradient_checkpointing)
    eager = not gpu or hw.attn_implementation in (None, "eager")
    phases: dict[str, list[MemoryLine]] = {}

    v = spec.model.vision
    patches = n_img * v.merge_size**2
    vision_trains = (spec.model.lora.enabled and not spec.model.lora.exclude_vision) or not spec.model.lora.enabled

    def vision_lines(n: int) -> list[MemoryLine]:
        if not vision_trains:
            return [MemoryLine("image features (frozen ViT)", n * n_img * h * b, f"{n} x {n_img} tok x h {h} x {b} B")]
        per = v.embed_dim * b * (v.depth if ckpt else v.depth * 6)
        how = f"{v.depth} blocks" + ("" if ckpt else " x ~6 tensors")
        return [
            MemoryLine(
                "ViT activations", n * patches * per, f"{n} img x {patches} patches x {v.embed_dim} x {b} B x {how}"
            )
        ]

    def train_phase(n: int) -> list[MemoryLine]:
        per_tok = (8 * h + 4 * i) * b
        work = n * seq * per_tok
        lines = []
        if ckpt:
            lines.append(
                MemoryLine(
                    "checkpointed layer inputs",
                    n * seq * h * b * layers,
                    f"{n} seq x {seq} tok x h {h} x {b} B x {layers} layers",
                )
            )
            lines.append(MemoryLine("one layer recomputed", work, f"{n} x {seq} x (8h + 4i = {8 * h + 4 * i}) x {b} B"))
        else:
            lines.append(MemoryLine("activations", work * layers, f"{n} x {seq} x (8h + 4i) x {b} B x {layers} layers"))
        if eager:
            probs = n * t.num_heads * seq * seq * b * (1 if ckpt else layers)
            lines.append(
                MemoryLine(
                    "attention probabilities",
                    probs,
                    f"{n} x {t.num_heads} heads x {seq}² x {b} B" + ("" if ckpt else f" x {layers}"),
                )
            )
        lines.extend(vision_lines(n))
        lines.append(
            MemoryLine("completion logits", n * resp * vocab * (b + 4), f"{n} x {resp} tok x V {vocab} x ({b} + 4) B")
        )
        return lines

    if spec.sft and "sft" in spec.run.stages:
        phases["sft"] = train_phase(spec.sft.batch_size)
    if g and "grpo" in spec.run.stages:
        n = hw.per_device_batch_size * hw.gradient_accumulation_steps if gpu else g.prompts_per_step * g.group_size
        kv = n * seq * layers * 2 * t.num_kv_heads * t.head_dim * b
        phases["rollout"] = [
            MemoryLine(
                "KV cache",
                kv,
                f"{n} seq x {seq} tok x {layers} layers x 2 x {t.num_kv_heads} kv x {t.head_dim} x {b} B",
            )
        ]
        phases["grpo update"] = train_phase(hw.per_device_batch_size if gpu else n)
        if spec.reward("attention_region"):
            m = min(n, g.reward_micro_batch or n)
            impl = (hw.attn_implementation or "eager") if gpu else "eager"
            phases["reward pass"] = reward_pass_lines(
                m=m,
                seq=seq,
                resp=resp,
                n_img=n_img,
                patches=patches,
                h=h,
                i=i,
                heads=t.num_heads,
                vocab=vocab,
                b=b,
                embed=v.embed_dim,
                vision_heads=v.num_heads,
                n_deepstack=len(v.deepstack_visual_indexes or []),
                attn=impl,
            )
    device = f"GPU ({hw.gpu}, {hw.gpus} in all)" if gpu else "process (CPU RAM, fp32, no micro-batching assumed)"
    return static, phases, device, (hw.gpu_memory_gb if gpu else None), warnings


# GPU memory per device, GB (10^9 B) as the vendors state it, for `--dry-run --hardware NAME[xN]`.
GPU_PRESETS = {"H200": 141, "H100": 80, "A100-80GB": 80, "A100-40GB": 40, "L40S": 48, "A6000": 48, "RTX4090": 24}
HARDWARE_KEYS = {
    "gpus": int,
    "gpu": str,
    "gpu_memory_gb": float,
    "per_device_batch_size": int,
    "gradient_accumulation_steps": int,
    "zero_stage": int,
    "attn_implementation": str,
    "gradient_checkpointing": lambda v: v.lower() in ("1", "true", "yes"),
    "reward_micro_batch": int,
}


def apply_hardware(spec: JobSpec, text: str) -> list[str]:
    """Replace the spec's hardware for a plan: `NAME[xN]` (a GPU_PRESETS name, N GPUs) and/or comma-separated
    `key=value` of HARDWARE_KEYS (e.g. `H100x8,per_device_batch_size=16`). The completions per step
    (prompts_per_step × group_size) stay the spec's: when they are not given, gradient accumulation is derived.
    Returns notes on what changed; raises ValueError on an unknown name or key."""
    from .spec import Hardware

    hw = spec.hardware or Hardware(
        gpus=1,
        gpu="GPU",
        gpu_memory_gb=80,
        per_device_batch_size=1,
        gradient_accumulation_steps=1,
        precision="bf16",
        gradient_checkpointing=True,
        attn_implementation="flash_attention_2",
    )
    given, notes = set(), []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        if "=" in part:
            k, v = (x.strip() for x in part.split("=", 1))
            if k not in HARDWARE_KEYS:
                raise ValueError(f"--hardware: unknown key {k!r} (known: {', '.join(HARDWARE_KEYS)})")
            val = HARDWARE_KEYS[k](v)
            if k == "reward_micro_batch":
                spec.grpo.reward_micro_batch = val
            else:
                setattr(hw, k, val)
            given.add(k)
            continue
        name, _, n = part.partition("x") if part.rsplit("x", 1)[-1].isdigit() else (part, "", "")
        if name not in GPU_PRESETS:
            raise ValueError(f"--hardware: unknown GPU {name!r} (known: {', '.join(GPU_PRESETS)}; or key=value)")
        hw.gpu, hw.gpu_memory_gb = name, GPU_PRESETS[name]
        given |= {"gpu", "gpu_memory_gb"}
        if n:
            hw.gpus = int(n)
            given.add("gpus")
    spec.hardware = hw
    g = spec.grpo
    if g:
        want = g.prompts_per_step * g.group_size
        if "gradient_accumulation_steps" not in given:
            per = hw.gpus * hw.per_device_batch_size
            if want % per == 0:
                hw.gradient_accumulation_steps = want // per
                notes.append(
                    f"gradient_accumulation_steps = {want} completions / ({hw.gpus} GPUs x "
                    f"{hw.per_device_batch_size} per device) = {hw.gradient_accumulation_steps}"
                )
        got = hw.gpus * hw.per_device_batch_size * hw.gradient_accumulation_steps
        if got != want:
            notes.append(
                f"{hw.gpus} GPUs x {hw.per_device_batch_size} x {hw.gradient_accumulation_steps} = {got} "
                f"completions per step, but the spec's prompts_per_step x group_size = {want}"
            )
    return notes


def build_plan(spec: JobSpec) -> Plan:
    """Everything `--dry-run` prints, computed from a loaded spec (see the module docstring for the assumptions)."""
    gpu = spec.hardware is not None
    params = count_params(spec)
    static, phases, device, capacity, warnings = memory_lines(spec, params)
    if "grpo" in spec.run.stages and "sft" not in spec.run.stages and spec.model.init == "random":
        warnings.append("model.init is random and there is no sft stage: GRPO starts from an untrained model")
    written = [("run.output_dir", spec.run.output_dir)]
    if "data" in spec.run.stages:
        written += [("data.train", spec.data.train)]
    for key, path in written:
        if path.is_relative_to(spec.path.parent):
            warnings.append(
                f"{key} resolves to {path}, next to the spec files (relative paths resolve against the "
                "spec file's directory): run outputs belong in a git-ignored folder such as ../runs/"
            )
    if spec.model.text.vocab_size is None:
        warnings.append(
            "text.vocab_size not set: embeddings and logits are left out (the tokenizer decides the vocabulary)"
        )
    plan = Plan(
        spec.run.name,
        str(spec.path),
        _stages(spec, gpu),
        _data_lines(spec, _train_size(spec)),
        device,
        params,
        static,
        phases,
        capacity,
        warnings,
    )
    if capacity and plan.peak_bytes() > capacity * GB:
        warnings.append(
            f"the estimate exceeds {capacity:g} GB per GPU: lower hardware.per_device_batch_size and raise "
            "gradient_accumulation_steps (same completions per step), or lower model.image.max_pixels"
        )
    return plan


def format_plan(plan: Plan) -> str:
    """The plan as plain text, one section per topic."""
    out = [f"plan: {plan.name}  ({plan.spec_path})", "", "stages:"]
    for i, s in enumerate(plan.stages, 1):
        out += [f"  {i}. {s.name} [{s.where}]: {s.does}", f"       $ {s.command}"]
    if plan.stages and all(s.where == "here" for s in plan.stages):
        out.append(f"  all in order: $ {plan.stages[0].command.rsplit(' --stages ', 1)[0]}")
    out += ["", "data:"] + [f"  {line}" for line in plan.data]
    p = plan.params
    out += [
        "",
        f"parameters: vision {p['vision'] / 1e6:,.1f} M + text {p['text'] / 1e6:,.1f} M = {p['total'] / 1e6:,.1f} M; "
        f"LoRA trainable {p['lora'] / 1e6:,.2f} M",
        "",
        f"memory per {plan.device}:",
    ]
    for title, lines in [("held for the whole run", plan.static)] + [(f"phase {k}", v) for k, v in plan.phases.items()]:
        out.append(f"  {title}: {_g(sum(m.bytes for m in lines))}")
        out += [f"    {m.label:<28} {_g(m.bytes):>10}   {m.arithmetic}" for m in lines]
    peak = plan.peak_bytes()
    verdict = ""
    if plan.capacity_gb:
        verdict = f" of {plan.capacity_gb:g} GB: " + ("fits" if peak <= plan.capacity_gb * GB else "DOES NOT FIT")
    out.append(f"  peak ≈ static + largest phase = {_g(peak)}{verdict}")
    if plan.warnings:
        out += ["", "warnings:"] + [f"  - {w}" for w in plan.warnings]
    return "\n".join(out)
