"""The merged decoder graph (prefill and decode in one) and the embedding graph, on Hugging Face's own layers.

The layer loop is written out so the graph takes past keys/values as plain tensors and returns every layer's present
and the softmax probabilities of the chosen layers; each step inside it (norms, projections, q/k norms, the M-RoPE
cos/sin and their application, repeat_kv, the MLP) is the Hugging Face module or function itself, and the attention
arithmetic is that of Hugging Face's eager_attention_forward (scores·scaling + additive mask, softmax in float32).

A decoder_attentions output carries by default only the last query row of the call ([B, H, 1, total]): the row of
the query that produces the next token, the only one the engine reads, so a prefill over a long prompt hands out
heads × total floats per layer instead of heads × prompt × total. The row is sliced off the probabilities and the
layer's output takes its last row from that slice (the row times the values), so the slice runs inside the layer
and the full probabilities die there: a slice left as a graph leaf is run by onnxruntime's default node order after
the whole decoder, keeping every layer's heads × prompt² probabilities alive until then (measured: +950 MB at 113 M
parameters and 1,324 prompt tokens). At a decode step this costs a Slice, a MatMul and a Concat per captured layer;
the previous layout computed the row on its own (the last query against the keys), repeating the layer's attention
(100m, idle machine: capture cost 6.2 % of decode then, −0.1 % with the slice, both within the rounds' spread). With
full rows (`last_row=False`) the outputs carry every query row ([B, H, q, total])."""

from __future__ import annotations

import torch
import torch.nn as nn

from .family import Family, text_config


class EmbedExport(nn.Module):
    """input_ids -> inputs_embeds [B, S, hidden · columns]: the token embedding, then zeros in the DeepStack column
    blocks (columns = 1 + K), so a text row adds nothing where the decoder adds DeepStack features."""

    def __init__(self, embed_tokens: nn.Module, columns: int = 1):
        super().__init__()
        self.embed_tokens = embed_tokens
        self.pad = int(embed_tokens.embedding_dim) * (columns - 1)  # a constant in the graph, not a Shape chain

    def forward(self, input_ids):
        e = self.embed_tokens(input_ids)
        return torch.nn.functional.pad(e, (0, self.pad)) if self.pad else e


def causal_bias(attention_mask: torch.Tensor, q_len: int | torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """[B, 1, q, total] additive mask: 0 where key j ≤ past + i and attention_mask[b, j] = 1, else dtype's min."""
    total = attention_mask.shape[1]
    past = total - q_len
    i = torch.arange(q_len, dtype=torch.int64)
    j = torch.arange(total, dtype=torch.int64)
    ok = (j[None, :] <= (i[:, None] + past))[None, None] & (attention_mask[:, None, None, :] > 0)
    return torch.where(ok, 0.0, torch.finfo(dtype).min).to(dtype)


def layer_forward(family: Family, mrope_section, layer, x, cos, sin, bias, pk, pv, last_row: bool = False):
    """One decoder layer on Hugging Face's modules: (hidden states, rotary cos/sin, additive mask, past keys and
    values) -> (hidden states, present keys, present values, attention probabilities: the last query row with
    `last_row`, else every row)."""
    a = layer.self_attn
    B, S, _ = x.shape
    D = a.head_dim
    h = layer.input_layernorm(x)
    q = a.q_proj(h).view(B, S, -1, D)
    k = a.k_proj(h).view(B, S, -1, D)
    v = a.v_proj(h).view(B, S, -1, D).transpose(1, 2)
    if family.qk_norm:
        q, k = a.q_norm(q), a.k_norm(k)
    q, k = q.transpose(1, 2), k.transpose(1, 2)
    q, k = family.apply_text_rotary(q, k, cos, sin, mrope_section)
    k = torch.cat([pk, k], dim=2)
    v = torch.cat([pv, v], dim=2)
    ks = family.repeat_kv(k, a.num_key_value_groups)
    vs = family.repeat_kv(v, a.num_key_value_groups)
    w = torch.matmul(q, ks.transpose(2, 3)) * a.scaling + bias
    w = torch.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
    o = torch.matmul(w, vs)
    if last_row:
        w = w[:, :, -1:, :]
        o = torch.cat([o[:, :, :-1, :], torch.matmul(w, vs)], dim=2)
    o = o.transpose(1, 2).reshape(B, S, -1)
    x = x + a.o_proj(o)
    x = x + layer.mlp(layer.post_attention_layernorm(x))
    return x, k, v, w


class DecoderExport(nn.Module):
    """inputs_embeds [B, S, hidden · (1 + K)] (K DeepStack column blocks after the embedding, K = 0 but for Qwen3-VL
    with DeepStack), attention_mask, position_ids [3, B, S], past_key_values.{i}.key|value ->
    logits, present.{i}.key|value, decoder_attentions.{l} for l in attn_layers ([B, H, 1, total] with last_row,
    else [B, H, q, total])."""

    def __init__(
        self, text_model: nn.Module, lm_head: nn.Module, family: Family, config, attn_layers, last_row: bool = True
    ):
        super().__init__()
        self.text = text_model
        self.lm_head = lm_head
        self.family = family
        tc = text_config(config)
        self.mrope_section = (tc.rope_scaling or {}).get("mrope_section")
        self.attn_layers = list(attn_layers)
        self.last_row = last_row
        self.hidden = tc.hidden_size
        # Hugging Face adds DeepStack feature i after decoder layer i, for i < min(K, layers).
        self.deepstack = min(len(family.deepstack), tc.num_hidden_layers)

    def _layer(self, layer, x, cos, sin, bias, pk, pv, last_row: bool = False):
        return layer_forward(self.family, self.mrope_section, layer, x, cos, sin, bias, pk, pv, last_row)

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        H = self.hidden
        x = inputs_embeds[..., :H] if self.family.deepstack else inputs_embeds
        cos, sin = self.text.rotary_emb(x, position_ids)
        bias = causal_bias(attention_mask, x.shape[1], x.dtype)
        presents, attns = [], []
        for i, layer in enumerate(self.text.layers):
            captured = i in self.attn_layers
            x, k, v, w = self._layer(
                layer, x, cos, sin, bias, past[2 * i], past[2 * i + 1], last_row=captured and self.last_row
            )
            if i < self.deepstack:
                # Zero on text rows and in every decode call (embed_tokens pads with zeros): x + 0 is x exactly.
                x = x + inputs_embeds[..., H * (i + 1) : H * (i + 2)]
            presents += [k, v]
            if captured:
                attns.append(w)
        logits = self.lm_head(self.text.norm(x))
        return (logits, *presents, *attns)
