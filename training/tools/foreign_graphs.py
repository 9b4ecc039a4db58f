"""Foreign decoder graphs for the tests of `sayo expose-attention`: tiny random-weight decoders built from Hugging
Face's own model classes (eager attention), exported with torch.onnx.export (TorchScript, dynamo=False) under
optimum's names, each with the reference attentions and logits that Hugging Face computes for one fixed input.

Graph inputs: input_ids, attention_mask and position_ids (decoder-only models; each only where the model takes it),
encoder_hidden_states (seq2seq decoders and GPT-2 with cross-attention), past_key_values.<i>.key / .value (the
decoder's self-attention cache). Outputs: logits, present.<i>.key / .value. Cross-attention keys and values are
computed from encoder_hidden_states inside the graph (no cross cache).

Usage: .venv/bin/python training/tools/foreign_graphs.py OUT_DIR [case ...]
Writes OUT_DIR/<case>/model.onnx and OUT_DIR/<case>/case.json: {"inputs": {name: {dtype, dims, data}},
"expected": {"logits": …, "self": [per layer], "cross": [per layer]}} (tensors as {dims, data}, data flattened).
"""

import inspect
import json
import sys
import time
from pathlib import Path

import torch
import transformers as tf
from transformers import masking_utils
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

BATCH, SEQ, PAST, ENC = 2, 3, 4, 5
VOCAB = 96
TINY = dict(vocab_size=VOCAB)

# case name → (config, model class, kind). kind: "causal" (decoder-only), "cross" (decoder-only with cross-attention),
# "seq2seq" (the decoder of an encoder-decoder model, encoder states given).
CASES = {
    "gpt2": lambda: (
        tf.GPT2Config(n_layer=2, n_head=4, n_embd=32, n_positions=64, **TINY),
        tf.GPT2LMHeadModel,
        "causal",
    ),
    "gpt2_reorder": lambda: (
        tf.GPT2Config(n_layer=2, n_head=4, n_embd=32, n_positions=64, reorder_and_upcast_attn=True, **TINY),
        tf.GPT2LMHeadModel,
        "causal",
    ),
    "gpt2_cross": lambda: (
        tf.GPT2Config(n_layer=2, n_head=4, n_embd=32, n_positions=64, add_cross_attention=True, **TINY),
        tf.GPT2LMHeadModel,
        "cross",
    ),
    "opt": lambda: (
        tf.OPTConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            ffn_dim=64,
            word_embed_proj_dim=32,
            max_position_embeddings=64,
            **TINY,
        ),
        tf.OPTForCausalLM,
        "causal",
    ),
    "gpt_neox": lambda: (
        tf.GPTNeoXConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=64,
            **TINY,
        ),
        tf.GPTNeoXForCausalLM,
        "causal",
    ),
    "llama": lambda: (
        tf.LlamaConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            **TINY,
        ),
        tf.LlamaForCausalLM,
        "causal",
    ),
    "qwen2": lambda: (
        tf.Qwen2Config(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            **TINY,
        ),
        tf.Qwen2ForCausalLM,
        "causal",
    ),
    "bart": lambda: (
        tf.BartConfig(
            d_model=32,
            encoder_layers=1,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            max_position_embeddings=64,
            **TINY,
        ),
        tf.BartForConditionalGeneration,
        "seq2seq",
    ),
    # MVP keeps BART's original attention: probabilities as 3-D [batch·heads, q, k] through bmm and Reshape.
    "mvp": lambda: (
        tf.MvpConfig(
            d_model=32,
            encoder_layers=1,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            max_position_embeddings=64,
            **TINY,
        ),
        tf.MvpForConditionalGeneration,
        "seq2seq",
    ),
    "mvp_causal": lambda: (
        tf.MvpConfig(
            d_model=32,
            decoder_layers=2,
            decoder_attention_heads=4,
            decoder_ffn_dim=64,
            max_position_embeddings=64,
            is_decoder=True,
            is_encoder_decoder=False,
            **TINY,
        ),
        tf.MvpForCausalLM,
        "causal",
    ),
    "t5": lambda: (
        tf.T5Config(d_model=32, d_kv=8, d_ff=64, num_layers=1, num_decoder_layers=2, num_heads=4, **TINY),
        tf.T5ForConditionalGeneration,
        "seq2seq",
    ),
    "whisper": lambda: (
        tf.WhisperConfig(
            d_model=32,
            encoder_layers=1,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            num_mel_bins=8,
            max_source_positions=16,
            max_target_positions=64,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
            decoder_start_token_id=1,
            **TINY,
        ),
        tf.WhisperForConditionalGeneration,
        "seq2seq",
    ),
}


def sdpa_mask_broadcast(
    batch_size,
    cache_position,
    kv_length,
    kv_offset=0,
    mask_function=masking_utils.causal_mask_function,
    attention_mask=None,
    allow_is_causal_skip=True,
    **kwargs,
):
    """transformers' boolean 4-D mask built by broadcasting index tensors instead of torch.vmap, which the TorchScript
    exporter cannot trace (RuntimeError: unordered_map::at)."""
    padding_mask = masking_utils.prepare_padding_mask(attention_mask, kv_length, kv_offset, _slice=False)
    if padding_mask is not None:
        mask_function = masking_utils.and_masks(mask_function, masking_utils.padding_mask_function(padding_mask))
    kv_idx = torch.arange(kv_length, device=cache_position.device) + kv_offset
    batch_idx = torch.arange(batch_size, device=cache_position.device)
    head_idx = torch.arange(1, device=cache_position.device)
    mask = mask_function(
        batch_idx[:, None, None, None],
        head_idx[None, :, None, None],
        cache_position[None, None, :, None],
        kv_idx[None, None, None, :],
    )
    return mask.expand(batch_size, 1, cache_position.shape[0], kv_length)


masking_utils.sdpa_mask = sdpa_mask_broadcast


def text_config(config):
    """(layers, KV heads, head dim, hidden) of the decoder."""
    layers = (
        getattr(config, "decoder_layers", None)
        or getattr(config, "num_decoder_layers", None)
        or config.num_hidden_layers
    )
    heads = getattr(config, "decoder_attention_heads", None) or config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    hidden = getattr(config, "d_model", None) or config.hidden_size
    head_dim = getattr(config, "d_kv", None) or getattr(config, "head_dim", None) or hidden // heads
    return layers, kv, head_dim, hidden


class Exported(torch.nn.Module):
    """The model under optimum's flat names: tensors in, logits and the self-attention cache out."""

    def __init__(self, model, kind, names):
        super().__init__()
        self.model, self.kind, self.names = model, kind, names

    def cache(self, past):
        self_cache = DynamicCache()
        for i in range(len(past) // 2):
            self_cache.update(past[2 * i], past[2 * i + 1], i)
        return self_cache if self.kind == "causal" else EncoderDecoderCache(self_cache, DynamicCache())

    def run(self, args, output_attentions=False):
        named = dict(zip(self.names, args))
        past = [named[n] for n in self.names if n.startswith("past_key_values.")]
        kwargs = dict(
            past_key_values=self.cache(past), use_cache=True, output_attentions=output_attentions, return_dict=True
        )
        if self.kind == "seq2seq":
            kwargs.update(decoder_input_ids=named["input_ids"], encoder_outputs=(named["encoder_hidden_states"],))
        else:
            kwargs.update({k: v for k, v in named.items() if not k.startswith("past_key_values.")})
        return self.model(**kwargs)

    def forward(self, *args):
        out = self.run(args)
        cache = out.past_key_values
        cache = cache.self_attention_cache if isinstance(cache, EncoderDecoderCache) else cache
        present = []
        for layer in cache.layers:
            present += [layer.keys, layer.values]
        return (out.logits, *present)


def tensor_json(t):
    t = t.detach().contiguous()
    dtype = "int64" if t.dtype == torch.int64 else "float32"
    return {"dtype": dtype, "dims": list(t.shape), "data": t.reshape(-1).tolist()}


def build(name, out_dir: Path):
    torch.manual_seed(0)
    config, cls, kind = CASES[name]()
    config._attn_implementation = "eager"
    model = cls(config).eval()
    layers, kv, head_dim, hidden = text_config(config)
    g = torch.Generator().manual_seed(1)
    inputs = {"input_ids": torch.randint(3, VOCAB, (BATCH, SEQ), generator=g)}
    if kind != "seq2seq":
        inputs["attention_mask"] = torch.ones(BATCH, PAST + SEQ, dtype=torch.int64)
        if "position_ids" in inspect.signature(cls.forward).parameters:
            inputs["position_ids"] = torch.arange(PAST, PAST + SEQ).unsqueeze(0).repeat(BATCH, 1)
    if kind != "causal":
        inputs["encoder_hidden_states"] = torch.randn(BATCH, ENC, hidden, generator=g)
    for i in range(layers):
        for kv_name in ("key", "value"):
            inputs[f"past_key_values.{i}.{kv_name}"] = torch.randn(BATCH, kv, PAST, head_dim, generator=g)
    names = list(inputs)
    wrapper = Exported(model, kind, names).eval()  # export restores the mode it found: eval, so no dropout
    outputs = ["logits"] + [f"present.{i}.{k}" for i in range(layers) for k in ("key", "value")]
    axes = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "encoder_hidden_states": {0: "batch_size", 1: "encoder_sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    for n in names + outputs:
        if n.startswith("past_key_values."):
            axes[n] = {0: "batch_size", 2: "past_sequence_length"}
        elif n.startswith("present."):
            axes[n] = {0: "batch_size", 2: "total_sequence_length"}
    case_dir = out_dir / name
    case_dir.mkdir(parents=True, exist_ok=True)
    args = tuple(inputs[n] for n in names)
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            args,
            str(case_dir / "model.onnx"),
            input_names=names,
            output_names=outputs,
            dynamic_axes={k: v for k, v in axes.items() if k in names + outputs},
            opset_version=17,
            dynamo=False,
            do_constant_folding=True,
        )
        ref = wrapper.run(args, output_attentions=True)
    self_att = ref.decoder_attentions if kind == "seq2seq" else ref.attentions
    cross_att = ref.cross_attentions if kind != "causal" else None
    case = {
        "model_class": cls.__name__,
        "kind": kind,
        "layers": layers,
        "inputs": {n: tensor_json(inputs[n]) for n in names},
        "expected": {
            "logits": tensor_json(ref.logits),
            "self": [tensor_json(a) for a in self_att],
            "cross": [tensor_json(a) for a in cross_att] if cross_att else [],
        },
    }
    (case_dir / "case.json").write_text(json.dumps(case))


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: foreign_graphs.py OUT_DIR [case ...]  (cases: " + ", ".join(CASES) + ")")
    out_dir = Path(sys.argv[1])
    names = sys.argv[2:] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        sys.exit(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    for name in names:
        t0 = time.time()
        build(name, out_dir)
        print(f"{name}: {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
