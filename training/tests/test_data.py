import hashlib
import json
from pathlib import Path

import pytest
from sayo_train.data import DatasetError, generate, read_jsonl


def _digest(d: Path):
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_generator_is_deterministic(tmp_path):
    generate(tmp_path / "a", 12, 5, 84, 200)
    generate(tmp_path / "b", 12, 5, 84, 200)
    generate(tmp_path / "c", 12, 6, 84, 200)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_records_are_grounded_and_varied(tmp_path):
    p = generate(tmp_path, 40, 3, 84, 336)
    recs = read_jsonl(p, require_completion=True)
    from PIL import Image

    sizes = set()
    for r in recs:
        img = Image.open(r["_image_path"])
        sizes.add(img.size)
        for x1, y1, x2, y2 in r["boxes"]:
            assert 0 <= x1 < x2 <= img.width and 0 <= y1 < y2 <= img.height
        assert r["completion"].endswith(f"<answer>{r['answer']}</answer>")
    assert len(sizes) > 20
    assert len({r["question"].split()[0] for r in recs}) >= 2


def test_shipped_heldout_and_gallery():
    repo = Path(__file__).resolve().parents[2]
    recs = read_jsonl(repo / "data" / "heldout" / "set.jsonl")
    assert 50 <= len(recs) <= 200
    assert set(recs[0]) >= {"image", "question", "answer", "boxes"}
    samples = json.loads((repo / "public" / "samples" / "samples.json").read_text())
    assert 6 <= len(samples) <= 8
    for s in samples:
        assert set(s) == {"id", "image", "question", "answer", "boxes"}
        assert (repo / "public" / "samples" / s["image"]).exists()


@pytest.mark.parametrize(
    "line,msg",
    [
        ("{not json", "invalid JSON"),
        ('{"image": "x.png", "question": "q", "answer": "a"}', "missing field 'boxes'"),
        ('{"image": "x.png", "question": "q", "answer": 3, "boxes": [[0,0,1,1]]}', "field 'answer' must be a str"),
        ('{"image": "x.png", "question": "q", "answer": "a", "boxes": [[0,0,1]]}', "boxes[0] must be"),
        ('{"image": "x.png", "question": "q", "answer": "a", "boxes": [[5,5,1,1]]}', "zero or negative area"),
        ('{"image": "missing.png", "question": "q", "answer": "a", "boxes": [[0,0,1,1]]}', "image not found"),
    ],
)
def test_corrupt_line_names_file_and_line(tmp_path, line, msg):
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "x.png")
    good = '{"image": "x.png", "question": "q", "answer": "a", "boxes": [[0,0,1,1]]}'
    p = tmp_path / "set.jsonl"
    p.write_text(good + "\n" + good + "\n" + line + "\n")
    with pytest.raises(DatasetError) as e:
        read_jsonl(p)
    assert f"{p}:3:" in str(e.value) and msg in str(e.value)
