import torch

from sayo_train.common import build_tokenizer, model_cfg
from sayo_train.model import SayoMini, rope_index
from sayo_train.spec import load_spec

from pathlib import Path

JOBS = Path(__file__).resolve().parents[1] / "jobs"


def _model(spec_name="sayo-mini.yaml"):
    spec = load_spec(JOBS / spec_name)
    tok = build_tokenizer()
    torch.manual_seed(0)
    return SayoMini(model_cfg(spec.model, tok)), spec


def test_size_and_shapes():
    m, spec = _model()
    assert m.n_params() * 4 <= 15 * 1024 * 1024
    c = m.cfg
    pv = torch.randn(4 * 6, 3 * 2 * 14 * 14)
    f = m.visual(pv, torch.tensor([[1, 4, 6]]))
    assert f.shape == (6, c.text.hidden_size)
    B, S = 2, 7
    emb = torch.randn(B, S, c.text.hidden_size)
    am = torch.ones(B, S, dtype=torch.int64)
    pos = torch.arange(S)[None, None].expand(3, B, S)
    logits, presents, attns = m.decode(emb, am, pos, attn_layers={0, c.text.num_layers - 1})
    assert logits.shape == (B, S, c.vocab_size)
    assert presents[0][0].shape == (B, c.text.num_kv_heads, S, c.text.head_dim)
    a = attns[c.text.num_layers - 1]
    assert a.shape == (B, c.text.num_heads, S, S)
    assert torch.allclose(a.sum(-1), torch.ones(B, c.text.num_heads, S), atol=1e-5)
    assert float(a[0, 0, 0, 1:].abs().max()) == 0.0  # causal


def test_kv_cache_matches_full_forward():
    m, _ = _model()
    c = m.cfg
    S = 6
    emb = torch.randn(1, S, c.text.hidden_size)
    pos = torch.arange(S)[None, None].expand(3, 1, S)
    with torch.no_grad():
        full, _, fa = m.decode(emb, torch.ones(1, S, dtype=torch.int64), pos, attn_layers={3})
        _, past, _ = m.decode(emb[:, :-1], torch.ones(1, S - 1, dtype=torch.int64), pos[:, :, :-1])
        last, _, la = m.decode(emb[:, -1:], torch.ones(1, S, dtype=torch.int64), pos[:, :, -1:], past=past,
                               attn_layers={3})
    assert torch.allclose(full[:, -1], last[:, 0], atol=1e-5)
    assert torch.allclose(fa[3][:, :, -1], la[3][:, :, 0], atol=1e-6)


def test_rope_index_qwen2vl():
    # 3 text tokens, vision_start, 2x3 merged image (grid_thw [1, 4, 6]), 2 text tokens
    ids = [1, 2, 3, 9, 7, 7, 7, 7, 7, 7, 4, 5]
    pos, delta = rope_index(ids, [1, 4, 6], 7, 9, 2)
    assert pos[0][:4] == [0, 1, 2, 3]
    assert pos[0][4:10] == [4] * 6
    assert pos[1][4:10] == [4, 4, 4, 5, 5, 5]
    assert pos[2][4:10] == [4, 5, 6, 4, 5, 6]
    assert [p[10] for p in pos] == [7, 7, 7]
    assert delta == 9 - 12


def test_vision_rot_pos_matches_merge_order():
    m, _ = _model()
    h, w = m.visual.rot_pos(4 * 6, torch.tensor([[1, 4, 6]]))
    # first 2x2 merge group covers (0,0),(0,1),(1,0),(1,1), then the next group to the right
    assert h[:8].tolist() == [0, 0, 1, 1, 0, 0, 1, 1]
    assert w[:8].tolist() == [0, 1, 0, 1, 2, 3, 2, 3]
