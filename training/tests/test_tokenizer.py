import json
from pathlib import Path

import pytest
from sayo_train.common import build_tokenizer
from sayo_train.data import corpus_texts
from sayo_train.tokenizer import (
    ADDED_SET,
    SPECIAL_TOKENS,
    Tokenizer,
    byte_level,
    pre_tokenize,
    render_prompt,
    split_added,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tok():
    return Tokenizer.load(REPO / "models" / "sayo-mini")


def test_shipped_tokenizer_is_the_built_one(tok):
    built = build_tokenizer()
    assert built.vocab == tok.vocab and built.merges == tok.merges and built.added == tok.added


def test_every_corpus_word_is_one_token(tok):
    for text in corpus_texts(n=500):
        for part in split_added(text):
            if part in ADDED_SET:
                continue
            for piece in pre_tokenize(part):
                assert len(tok._bpe(byte_level(piece))) == 1, piece


@pytest.mark.parametrize(
    "text",
    [
        "What color is the big circle?",
        "Looking at the red object: <answer>red</answer>",
        "naïve café — ünïcödé 123 ☃",
        "  spaces\n\nnew lines\ttabs  ",
        "It's isn't we'll",
    ],
)
def test_round_trip(tok, text):
    assert tok.decode(tok.encode(text)) == text


def test_specials(tok):
    for t in SPECIAL_TOKENS + ["<answer>", "</answer>"]:
        assert tok.encode(t) == [tok.token_id(t)]
    ids = tok.encode("<answer>red</answer><|im_end|>")
    assert tok.decode(ids, skip_special_tokens=True) == "<answer>red</answer>"
    j = tok.tokenizer_json()
    specials = {t["content"]: t["special"] for t in j["added_tokens"]}
    assert specials["<|image_pad|>"] is True and specials["<answer>"] is False
    cfg = tok.tokenizer_config()
    assert cfg["tokenizer_class"] == "Qwen2Tokenizer" and cfg["eos_token"] == "<|im_end|>"


def test_pre_tokenizer_follows_qwen_regex():
    assert pre_tokenize("Hello world!! 12 ok\n\n  x") == [
        "Hello",
        " world",
        "!!",
        " ",
        "1",
        "2",
        " ok",
        "\n\n",
        " ",
        " x",
    ]
    assert pre_tokenize("it's") == ["it", "'s"]
    assert pre_tokenize("a  ") == ["a", "  "]


def test_prompt_fixtures_match_this_tokenizer(tok):
    """fixtures/prompt-cases.json (proved equal to transformers.js by training/tools/prompt_check.mjs)."""
    from PIL import Image
    from sayo_train.processor import Processor, prompt_ids
    from sayo_train.tokenizer import default_system

    system = default_system(json.loads((REPO / "models" / "sayo-mini" / "config.json").read_text())["model_type"])
    pc = json.loads((REPO / "models" / "sayo-mini" / "preprocessor_config.json").read_text())
    proc = Processor(pc["patch_size"], pc["merge_size"], pc["temporal_patch_size"], pc["min_pixels"], pc["max_pixels"])
    cases = json.loads((REPO / "fixtures" / "prompt-cases.json").read_text())
    assert len(cases) >= 5
    for c in cases:
        _pv, thw, g = proc(Image.open(REPO / c["image"]))
        assert thw == c["image_grid_thw"]
        assert prompt_ids(tok, c["question"], g, system) == c["input_ids"]
    assert render_prompt("Q").startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")
    assert render_prompt("Q", system=None).startswith("<|im_start|>user\n<|vision_start|>")
