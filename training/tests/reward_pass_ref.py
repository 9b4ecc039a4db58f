"""The attention reward's teacher-forced pass as it was before it computed only what the reward uses: the whole model
switched to eager attention, every position's full-vocabulary logits, the whole batch in one forward, the reward
layer's [B, H, L, L] probabilities kept by a forward hook. The reference the current pass must equal
(test_reward_pass.py) and the baseline its memory is measured against (reward_pass_peak.py)."""

import torch
from sayo_train.policy_attention import decoder_layers


class _Capture:
    def __init__(self, module):
        self.probs = None
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, _module, _inputs, output):
        self.probs = output[1]

    def close(self):
        self.handle.remove()


@torch.no_grad()
def measure_full(
    model,
    processor,
    prompt_texts: list[str],
    images: list,
    completion_ids: list[list[int]],
    *,
    layer: int = -1,
    temperature: float = 1.0,
) -> list[dict]:
    """One teacher-forced forward over each prompt + completion (right-padded batch, eager attention).
    Returns per completion: image_att [T, H, N] (row t = the query that produced token t), entropy [T],
    image_grid_thw (the processor's)."""
    enc = processor(
        images=[[im] for im in images], text=prompt_texts, return_tensors="pt", padding=True, padding_side="right"
    )
    prompt_lens = enc["attention_mask"].sum(-1).tolist()
    seqs = [enc["input_ids"][b, :p].tolist() + list(c) for b, (p, c) in enumerate(zip(prompt_lens, completion_ids))]
    pad = processor.tokenizer.pad_token_id
    B, L = len(seqs), max(len(s) for s in seqs)
    ids = torch.full((B, L), pad, dtype=torch.long)
    mask = torch.zeros((B, L), dtype=torch.long)
    for b, s in enumerate(seqs):
        ids[b, : len(s)] = torch.tensor(s)
        mask[b, : len(s)] = 1
    device = next(model.parameters()).device
    layers = decoder_layers(model)
    target_layer = layers[layer]
    previous = model.config._attn_implementation
    if previous != "eager":
        model.set_attn_implementation("eager")
    cap = _Capture(target_layer.self_attn)
    was_training = model.training
    model.eval()
    try:
        out = model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            pixel_values=enc["pixel_values"].to(device, dtype=model.dtype),
            image_grid_thw=enc["image_grid_thw"].to(device),
            use_cache=False,
        )
        probs = cap.probs
    finally:
        cap.close()
        if previous != "eager":
            model.set_attn_implementation(previous)
        model.train(was_training)
    if probs is None:
        raise RuntimeError("attention reward: the decoder layer returned no attention probabilities (eager path)")
    image_id = model.config.image_token_id
    res = []
    for b, (p, c) in enumerate(zip(prompt_lens, completion_ids)):
        T = len(c)
        rows = torch.arange(p - 1, p - 1 + T, device=device)
        cols = (ids[b, :p] == image_id).nonzero(as_tuple=True)[0].to(device)
        att = probs[b][:, rows][:, :, cols].transpose(0, 1).float().cpu()  # T, H, N
        lg = out.logits[b, rows].float() / temperature
        lp = torch.log_softmax(lg, -1)
        ent = -(lp.exp() * lp).sum(-1).cpu()
        res.append({"image_att": att, "entropy": ent, "image_grid_thw": enc["image_grid_thw"][b].tolist()})
    return res
