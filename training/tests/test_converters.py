"""GQA and ReFocus converters on small files written in the published formats (GQA question / scene-graph JSON,
ReFocus parquet with `focus_areas_bbox` in both layouts), including malformed inputs."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from sayo_train.converters import (
    ConversionError,
    convert_gqa,
    convert_refocus,
    prepare,
    semantic_object_ids,
    write_split,
)
from sayo_train.data import read_jsonl
from sayo_train.spec import DataSource

SEM = "select: table (1001)->relate: apple,on,s (1234)->query: color [1]"


def gqa_files(tmp_path, questions=None, graphs=None):
    img = tmp_path / "gqa" / "images"
    img.mkdir(parents=True)
    Image.new("RGB", (500, 333), (10, 20, 30)).save(img / "2375429.jpg")
    Image.new("RGB", (64, 48)).save(img / "11.jpg")
    q = (
        questions
        if questions is not None
        else {
            "07333408": {
                "imageId": "2375429",
                "question": "What color is the apple on the table?",
                "answer": "red",
                "fullAnswer": "The apple is red.",
                "semanticStr": SEM,
                "types": {"structural": "query"},
            },
            "07333409": {
                "imageId": "2375429",
                "question": "Is there a dog?",
                "answer": "no",
                "fullAnswer": "No.",
                "semanticStr": "select: dog (-)->exist: ? [0]",
            },  # no object id: skipped
            "07333410": {
                "imageId": "11",
                "question": "What is it?",
                "answer": "cup",
                "fullAnswer": "A cup.",
                "semanticStr": "select: cup (77)",
            },  # box clipped to the image
            "07333411": {
                "imageId": "999",
                "question": "?",
                "answer": "x",
                "fullAnswer": "x",
                "semanticStr": "select: x (5)",
            },  # image not in the graphs
            "07333412": {
                "imageId": "2375429",
                "question": "Which?",
                "answer": "y",
                "fullAnswer": "y",
                "semanticStr": "select: ghost (424242)",
            },  # id not in the graph
        }
    )
    g = (
        graphs
        if graphs is not None
        else {
            "2375429": {
                "width": 500,
                "height": 333,
                "objects": {
                    "1001": {"name": "table", "x": 0, "y": 200, "w": 500, "h": 133, "attributes": [], "relations": []},
                    "1234": {
                        "name": "apple",
                        "x": 120,
                        "y": 150,
                        "w": 40,
                        "h": 35,
                        "attributes": ["red"],
                        "relations": [{"name": "on", "object": "1001"}],
                    },
                },
            },
            "11": {"width": 64, "height": 48, "objects": {"77": {"name": "cup", "x": 50, "y": 40, "w": 30, "h": 30}}},
        }
    )
    qf = tmp_path / "gqa" / "train_all_questions_0.json"
    sf = tmp_path / "gqa" / "train_sceneGraphs.json"
    qf.write_text(json.dumps(q))
    sf.write_text(json.dumps(g))
    return qf, sf, img


def test_semantic_ids_are_the_parenthesised_numbers_in_order():
    assert semantic_object_ids(SEM) == ["1001", "1234"]
    assert semantic_object_ids("select: dog (-)->exist: ?") == []
    assert semantic_object_ids("select: a (1,2)->filter: b (3)") == ["1", "2", "3"]


def test_gqa_takes_the_last_object_of_semanticStr_in_original_pixels(tmp_path):
    qf, sf, img = gqa_files(tmp_path)
    out = tmp_path / "out"
    recs, rep = convert_gqa(qf, sf, img, out)
    assert [r["id"] for r in recs] == ["07333408", "07333410"]
    apple = recs[0]
    assert apple["boxes"] == [[120, 150, 160, 185]]  # x, y, w, h -> x1, y1, x2, y2; not the table (1001)
    assert apple["answer"] == "red" and apple["question"] == "What color is the apple on the table?"
    assert recs[1]["boxes"] == [[50, 40, 64, 48]]  # clipped to the 64x48 image
    assert rep.skipped == {
        "no object id in semanticStr": 1,
        "image not in the scene graphs": 1,
        "object id not in the scene graph": 1,
    }
    # the JSONL the trainer and `sayo eval` read
    out.mkdir()
    (out / "set.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    back = read_jsonl(out / "set.jsonl")
    assert Image.open(back[0]["_image_path"]).size == (500, 333)


@pytest.mark.parametrize(
    "questions, graphs, message",
    [
        ([1, 2], None, "expected an object keyed by question id"),
        (
            {"q1": {"imageId": "11", "question": "q", "semanticStr": "select: cup (77)"}},
            None,
            "question q1: missing field 'answer'",
        ),
        (
            {"q1": {"imageId": 11, "question": "q", "answer": "a", "semanticStr": "s (77)"}},
            None,
            "question q1.imageId: expected a string",
        ),
        (
            None,
            {
                "2375429": {"width": 500, "height": 333, "objects": {"1234": {"x": 1, "y": 2, "w": 3}}},
                "11": {"objects": {}},
            },
            "object 1234: missing field 'h'",
        ),
        (
            None,
            {"2375429": {"objects": {"1234": {"x": "1", "y": 2, "w": 3, "h": 4}}}, "11": {"objects": {}}},
            "object 1234.x: expected a number",
        ),
        (
            None,
            {"2375429": {"objects": []}, "11": {"objects": {}}},
            "image 2375429: expected an object with an 'objects'",
        ),
    ],
)
def test_gqa_malformed_files_name_the_record_and_field(tmp_path, questions, graphs, message):
    qf, sf, img = gqa_files(tmp_path, questions, graphs)
    with pytest.raises(ConversionError, match=message.replace("(", r"\(").replace(".", r"\.")):
        convert_gqa(qf, sf, img, tmp_path / "out")


def test_gqa_not_json_and_missing_files(tmp_path):
    qf, sf, img = gqa_files(tmp_path)
    qf.write_text('{"q1": {')
    with pytest.raises(ConversionError, match="invalid JSON"):
        convert_gqa(qf, sf, img, tmp_path)
    with pytest.raises(ConversionError, match="file not found"):
        convert_gqa(tmp_path / "nope.json", sf, img, tmp_path)


def png_bytes(w, h):
    b = io.BytesIO()
    Image.new("RGB", (w, h), (200, 200, 200)).save(b, format="PNG")
    return b.getvalue()


def refocus_parquet(path, rows, bbox_type):
    image_t = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema(
        [("question", pa.string()), ("answer", pa.string()), ("image", image_t), ("focus_areas_bbox", bbox_type)]
    )
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


LIST_OF_BOXES = pa.list_(pa.struct([(k, pa.float64()) for k in ("x1", "y1", "x2", "y2")]))
STRUCT_OF_LISTS = pa.struct([(k, pa.list_(pa.float64())) for k in ("x1", "y1", "x2", "y2")])


def test_refocus_list_of_boxes_first_box_and_embedded_images(tmp_path):
    rows = [
        {
            "question": "Which bar is tallest?",
            "answer": "2019",
            "image": {"bytes": png_bytes(300, 200), "path": "a.png"},
            "focus_areas_bbox": [
                {"x1": 10.0, "y1": 20.0, "x2": 60.0, "y2": 180.0},
                {"x1": 0, "y1": 0, "x2": 5, "y2": 5},
            ],
        },
        {
            "question": "No box",
            "answer": "x",
            "image": {"bytes": png_bytes(10, 10), "path": "b.png"},
            "focus_areas_bbox": [],
        },
        {
            "question": "Outside",
            "answer": "y",
            "image": {"bytes": png_bytes(50, 50), "path": "c.png"},
            "focus_areas_bbox": [{"x1": 60.0, "y1": 0.0, "x2": 90.0, "y2": 10.0}],
        },
    ]
    f = tmp_path / "train-00000-of-00001.parquet"
    refocus_parquet(f, rows, LIST_OF_BOXES)
    out = tmp_path / "out"
    recs, rep = convert_refocus([f], out)
    assert len(recs) == 1 and recs[0]["boxes"] == [[10, 20, 60, 180]] and recs[0]["answer"] == "2019"
    assert rep.skipped == {"no focus box": 1, "box of zero area or outside the image": 1}
    assert Image.open(out / recs[0]["image"]).size == (300, 200)


def test_refocus_struct_of_lists_and_the_sayo_fraction(tmp_path):
    rows = [
        {
            "question": f"q{i}",
            "answer": str(i),
            "image": {"bytes": png_bytes(40, 30), "path": None},
            "focus_areas_bbox": {"x1": [float(i % 5)], "y1": [1.0], "x2": [20.0], "y2": [25.0]},
        }
        for i in range(20)
    ]
    f = tmp_path / "train.parquet"
    refocus_parquet(f, rows, STRUCT_OF_LISTS)
    recs, rep = convert_refocus(f, tmp_path / "out", fraction=0.25, seed=42)
    import datasets

    want = datasets.Dataset.from_dict({"i": list(range(20))}).train_test_split(test_size=0.25, seed=42)["test"]["i"]
    assert [r["question"] for r in recs] == [f"q{i}" for i in want] and len(recs) == 5
    assert recs[0]["boxes"] == [[float(want[0] % 5), 1, 20, 25]]


def test_refocus_malformed(tmp_path):
    f = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"question": ["q"], "answer": ["a"]}), f)
    with pytest.raises(ConversionError, match="no column 'focus_areas_bbox'; columns: question, answer"):
        convert_refocus(f, tmp_path)
    (tmp_path / "not.parquet").write_text("hello")
    with pytest.raises(ConversionError, match="not a parquet file"):
        convert_refocus(tmp_path / "not.parquet", tmp_path)
    g = tmp_path / "nobytes.parquet"
    refocus_parquet(
        g,
        [
            {
                "question": "q",
                "answer": "a",
                "image": {"bytes": b"junk", "path": "x"},
                "focus_areas_bbox": [{"x1": 1.0, "y1": 1.0, "x2": 2.0, "y2": 2.0}],
            }
        ],
        LIST_OF_BOXES,
    )
    with pytest.raises(ConversionError, match="row 0: image: the embedded bytes are not an image"):
        convert_refocus(g, tmp_path)
    h = tmp_path / "badbox.parquet"
    pq.write_table(
        pa.table(
            {
                "question": ["q"],
                "answer": ["a"],
                "image": ["a.png"],
                "focus_areas_bbox": [[{"x1": 1.0, "y1": 1.0, "x2": 2.0}]],
            }
        ),
        h,
    )
    with pytest.raises(ConversionError, match=r"row 0: focus_areas_bbox\[0\]: missing field 'y2'"):
        convert_refocus(h, tmp_path, images_dir=tmp_path)


def test_prepare_and_split_write_the_training_jsonl(tmp_path):
    qf, sf, img = gqa_files(tmp_path)
    f = tmp_path / "refocus" / "train-0.parquet"
    f.parent.mkdir()
    refocus_parquet(
        f,
        [
            {
                "question": f"q{i}",
                "answer": "a",
                "image": {"bytes": png_bytes(40, 30), "path": None},
                "focus_areas_bbox": [{"x1": 1.0, "y1": 1.0, "x2": 9.0, "y2": 9.0}],
            }
            for i in range(4)
        ],
        LIST_OF_BOXES,
    )
    (tmp_path / "gqa" / "questions").mkdir()
    qf.rename(tmp_path / "gqa" / "questions" / "train_all_questions_0.json")
    sources = [
        DataSource("gqa", "gqa_scene_graph", str(tmp_path / "gqa"), 10),
        DataSource("refocus", "refocus_focus_bbox", str(tmp_path / "refocus"), 10, "train", None),
    ]
    data = tmp_path / "data"
    recs, reps = prepare(sources, data)
    assert [r.written for r in reps] == [2, 4]
    n = write_split(recs, data / "train.jsonl", data / "heldout.jsonl", 2, seed=1)
    assert n == {"train": 4, "heldout": 2}
    assert len(read_jsonl(data / "train.jsonl")) == 4 and len(read_jsonl(data / "heldout.jsonl")) == 2
    n = write_split(recs, data / "t.jsonl", data / "held" / "h.jsonl", 1, seed=1)  # another folder
    assert len(read_jsonl(data / "held" / "h.jsonl")) == 1
    with pytest.raises(ConversionError, match="leaves no training record"):
        write_split(recs, data / "t.jsonl", data / "h.jsonl", 6)
    with pytest.raises(ConversionError, match="not found"):
        prepare([DataSource("gqa", "gqa_scene_graph", "hub:nothing", 1)], data)


def test_the_data_stage_of_a_spec_with_prepare_writes_train_and_heldout(tmp_path):
    """jobs/smoke.yaml with `data.prepare` (GQA + ReFocus folders written here) instead of the generator."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    training = Path(__file__).resolve().parent.parent
    qf, sf, img = gqa_files(tmp_path)
    (tmp_path / "gqa" / "questions").mkdir()
    qf.rename(tmp_path / "gqa" / "questions" / "train_all_questions_0.json")
    f = tmp_path / "refocus" / "data" / "train-00000-of-00001.parquet"
    f.parent.mkdir(parents=True)
    refocus_parquet(
        f,
        [
            {
                "question": f"q{i}",
                "answer": "a",
                "image": {"bytes": png_bytes(40, 30), "path": None},
                "focus_areas_bbox": [{"x1": 1.0, "y1": 1.0, "x2": 9.0, "y2": 9.0}],
            }
            for i in range(8)
        ],
        LIST_OF_BOXES,
    )
    text = (training / "jobs" / "smoke.yaml").read_text()
    text = text.replace(
        "  generator: {train_size: 16, heldout_size: 4, min_side: 84, max_side: 140}\n",
        "  prepare:\n    sources:\n"
        f"      - {{name: gqa, kind: gqa_scene_graph, uri: {tmp_path / 'gqa'}, n: 10}}\n"
        f"      - {{name: refocus, kind: refocus_focus_bbox, uri: {tmp_path / 'refocus'}, split: train,"
        " fraction: 0.25, n: 10}\n    heldout_size: 1\n",
    )
    assert "prepare:" in text
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    r = subprocess.run(
        [sys.executable, "-m", "sayo_train", "run", str(spec), "--stages", "data"],
        cwd=training,
        env=dict(os.environ, PYTHONPATH=str(training), OMP_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "data: refocus: 2 records" in r.stdout and "skipped 1: no object id in semanticStr" in r.stdout
    train, held = read_jsonl(tmp_path / "run/data/train.jsonl"), read_jsonl(tmp_path / "run/heldout/set.jsonl")
    assert len(train) + len(held) == 4 and len(held) == 1
    assert {r["source"] for r in train + held} == {"gqa", "refocus"}
