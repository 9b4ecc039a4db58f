"""External grounded VQA sets → the project JSONL (`{"image", "question", "answer", "boxes"}`, image paths relative to
the JSONL, boxes `[x1, y1, x2, y2]` in ORIGINAL-image pixels).

Boxes are never mapped to a token grid here: SAYO's own converter resizes to 448 px and cuts 28-px cells, which is
wrong for Qwen3-VL (16-px patches × 2 merge = 32-px cells) and for any dynamic resolution. The token indices are
computed at training / evaluation time from the processor of the model in use (geometry.box_tokens on its
image_grid_thw), so one JSONL serves every model.

- GQA: a questions file `{qid: {imageId, question, answer, fullAnswer, semanticStr, …}}` and
  `train_sceneGraphs.json` `{imageId: {width, height, objects: {objId: {name, x, y, w, h, …}}}}` (x, y top-left,
  pixels). The box is the scene-graph object of the LAST object id in `semanticStr` (SAYO's choice: the object the
  program ends on, e.g. `select: table (7)->relate: apple,on,s (1234)->query: color` → 1234); the answer is the
  short `answer`. Images are `<images_dir>/<imageId>.jpg`.
- ReFocus (`ReFocus/ReFocus_Data` parquet splits): `focus_areas_bbox` holds the boxes, either as a list of
  `{x1, y1, x2, y2}` or as one `{x1: [...], y1: [...], x2: [...], y2: [...]}` struct of lists; the FIRST box is
  used (SAYO), rows without a box are skipped. The image is a datasets Image struct `{bytes, path}` (written out
  as a file) or a path relative to `images_dir`.

Structural problems (a file that is not the format) raise ConversionError naming the file, the record and the field;
records that are well-formed but unusable (no object id, an id missing from the scene graph, no box, a box outside
its image, a missing image) are skipped and counted by reason in the returned report.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


class ConversionError(ValueError):
    """A source file that is not in the expected format; the message names the file, the record and the field."""


@dataclass
class Report:
    source: str
    written: int = 0
    skipped: Counter = field(default_factory=Counter)

    def to_json(self) -> dict:
        return {"source": self.source, "written": self.written, "skipped": dict(self.skipped)}


OBJECT_ID = re.compile(r"\(([^()]*)\)")


def semantic_object_ids(semantic_str: str) -> list[str]:
    """Object ids referenced by a GQA `semanticStr`, in order: every `(…)` group of digits / commas ("-" = none)."""
    ids = []
    for grp in OBJECT_ID.findall(semantic_str):
        for part in grp.split(","):
            part = part.strip()
            if part.isdigit():
                ids.append(part)
    return ids


def _load_json(path: Path, what: str):
    if not path.exists():
        raise ConversionError(f"{path}: file not found ({what})")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ConversionError(f"{path}: invalid JSON ({e.msg} at line {e.lineno})") from None


def _num(v, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConversionError(f"{where}: expected a number, got {json.dumps(v)[:40]}")
    return float(v)


def _str(v, where: str) -> str:
    if not isinstance(v, str):
        raise ConversionError(f"{where}: expected a string, got {json.dumps(v)[:40]}")
    return v


def _clip(box, width, height):
    """[x1, y1, x2, y2] clipped to the image; None when nothing of positive area is left."""
    x1, y1, x2, y2 = box
    if width is not None:
        x1, x2 = max(0.0, min(x1, width)), max(0.0, min(x2, width))
    if height is not None:
        y1, y2 = max(0.0, min(y1, height)), max(0.0, min(y2, height))
    if x2 <= x1 or y2 <= y1:
        return None
    return [int(v) if float(v).is_integer() else v for v in (x1, y1, x2, y2)]


def _rel(image: Path, out_dir: Path) -> str:
    return os.path.relpath(image.resolve(), out_dir.resolve())


def convert_gqa(
    questions_file, scene_graphs_file, images_dir, out_dir, *, limit: int | None = None, seed: int = 0
) -> tuple[list[dict], Report]:
    """GQA questions + scene graphs → records (image paths relative to out_dir). `limit`: a seeded sample of that
    many questions (in the questions file's order otherwise)."""
    qf, sf, images_dir, out_dir = Path(questions_file), Path(scene_graphs_file), Path(images_dir), Path(out_dir)
    questions = _load_json(qf, "GQA questions")
    graphs = _load_json(sf, "GQA scene graphs")
    if not isinstance(questions, dict):
        raise ConversionError(f"{qf}: expected an object keyed by question id, got {type(questions).__name__}")
    if not isinstance(graphs, dict):
        raise ConversionError(f"{sf}: expected an object keyed by image id, got {type(graphs).__name__}")
    rep = Report("gqa")
    out = []
    for qid, q in questions.items():
        where = f"{qf}: question {qid}"
        if not isinstance(q, dict):
            raise ConversionError(f"{where}: expected an object")
        for key in ("imageId", "question", "answer", "semanticStr"):
            if key not in q:
                raise ConversionError(f"{where}: missing field '{key}'")
        image_id = _str(q["imageId"], f"{where}.imageId")
        question = _str(q["question"], f"{where}.question")
        answer = _str(q["answer"], f"{where}.answer")
        ids = semantic_object_ids(_str(q["semanticStr"], f"{where}.semanticStr"))
        if not ids:
            rep.skipped["no object id in semanticStr"] += 1
            continue
        g = graphs.get(image_id)
        if g is None:
            rep.skipped["image not in the scene graphs"] += 1
            continue
        gwhere = f"{sf}: image {image_id}"
        if not isinstance(g, dict) or not isinstance(g.get("objects"), dict):
            raise ConversionError(f"{gwhere}: expected an object with an 'objects' object")
        obj = g["objects"].get(ids[-1])
        if obj is None:
            rep.skipped["object id not in the scene graph"] += 1
            continue
        owhere = f"{gwhere}: object {ids[-1]}"
        if not isinstance(obj, dict):
            raise ConversionError(f"{owhere}: expected an object")
        for key in ("x", "y", "w", "h"):
            if key not in obj:
                raise ConversionError(f"{owhere}: missing field '{key}'")
        x, y, w, h = (_num(obj[k], f"{owhere}.{k}") for k in ("x", "y", "w", "h"))
        width = _num(g["width"], f"{gwhere}.width") if "width" in g else None
        height = _num(g["height"], f"{gwhere}.height") if "height" in g else None
        box = _clip([x, y, x + w, y + h], width, height)
        if box is None:
            rep.skipped["box of zero area or outside the image"] += 1
            continue
        img = images_dir / f"{image_id}.jpg"
        if not img.exists():
            rep.skipped["image file not found"] += 1
            continue
        out.append(
            {
                "image": _rel(img, out_dir),
                "question": question,
                "answer": answer,
                "boxes": [box],
                "source": "gqa",
                "id": str(qid),
            }
        )
    if limit is not None and len(out) > limit:
        out = random.Random(seed).sample(out, limit)
    rep.written = len(out)
    return out, rep


def _first_box(v, where: str):
    """The first focus box of a ReFocus row, or None: a list of {x1, y1, x2, y2} or a struct of lists."""
    if v is None:
        return None
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, dict):
        for k in ("x1", "y1", "x2", "y2"):
            if k not in v:
                raise ConversionError(f"{where}: missing field '{k}'")
        cols = [v[k].tolist() if hasattr(v[k], "tolist") else v[k] for k in ("x1", "y1", "x2", "y2")]
        if any(c is None for c in cols):
            return None
        if not all(isinstance(c, list) for c in cols):  # a single box stored as scalars
            return [_num(c, f"{where}.{k}") for c, k in zip(cols, ("x1", "y1", "x2", "y2"))]
        if len({len(c) for c in cols}) != 1:
            raise ConversionError(f"{where}: x1, y1, x2, y2 have different lengths")
        if not cols[0]:
            return None
        return [_num(c[0], f"{where}.{k}[0]") for c, k in zip(cols, ("x1", "y1", "x2", "y2"))]
    if isinstance(v, list):
        if not v:
            return None
        b = v[0]
        if not isinstance(b, dict):
            raise ConversionError(f"{where}[0]: expected an object {{x1, y1, x2, y2}}")
        for k in ("x1", "y1", "x2", "y2"):
            if k not in b:
                raise ConversionError(f"{where}[0]: missing field '{k}'")
        return [_num(b[k], f"{where}[0].{k}") for k in ("x1", "y1", "x2", "y2")]
    raise ConversionError(f"{where}: expected a list of boxes or a struct of lists, got {type(v).__name__}")


QUESTION_COLUMNS = ("question", "query")
ANSWER_COLUMNS = ("answer", "label")
IMAGE_COLUMNS = ("image", "imgname", "image_path")


def _pick(columns, wanted, candidates, path, what):
    if wanted:
        if wanted not in columns:
            raise ConversionError(f"{path}: no column '{wanted}' ({what}); columns: {', '.join(columns)}")
        return wanted
    for c in candidates:
        if c in columns:
            return c
    raise ConversionError(
        f"{path}: no {what} column (looked for {', '.join(candidates)}); columns: {', '.join(columns)}"
    )


def convert_refocus(
    parquet_files,
    out_dir,
    *,
    images_dir=None,
    fraction: float | None = None,
    seed: int = 42,
    limit: int | None = None,
    question_column=None,
    answer_column=None,
    image_column=None,
) -> tuple[list[dict], Report]:
    """ReFocus parquet split(s) → records. `fraction`: SAYO's subset, `datasets`' train_test_split(test_size=fraction,
    seed=42)["test"] of the rows. Embedded images are written to `<out_dir>/refocus-images/`."""
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is pinned (datasets needs it)
        raise ConversionError("reading ReFocus needs pyarrow (pip install pyarrow)") from None
    out_dir = Path(out_dir)
    files = [Path(p) for p in ([parquet_files] if isinstance(parquet_files, (str, Path)) else parquet_files)]
    rep = Report("refocus")
    rows = []
    for f in files:
        if not f.exists():
            raise ConversionError(f"{f}: file not found (ReFocus parquet split)")
        try:
            table = pq.read_table(f)
        except Exception as e:  # pyarrow raises ArrowInvalid / OSError for a file that is not parquet
            raise ConversionError(f"{f}: not a parquet file ({str(e).splitlines()[0][:120]})") from None
        cols = table.column_names
        if "focus_areas_bbox" not in cols:
            raise ConversionError(f"{f}: no column 'focus_areas_bbox'; columns: {', '.join(cols)}")
        qc = _pick(cols, question_column, QUESTION_COLUMNS, f, "question")
        ac = _pick(cols, answer_column, ANSWER_COLUMNS, f, "answer")
        ic = _pick(cols, image_column, IMAGE_COLUMNS, f, "image")
        for i, r in enumerate(table.to_pylist()):
            rows.append((f, i, r, qc, ac, ic))
    if fraction is not None and 0 < fraction < 1:
        import datasets

        idx = datasets.Dataset.from_dict({"i": list(range(len(rows)))}).train_test_split(test_size=fraction, seed=seed)[
            "test"
        ]["i"]
        rows = [rows[i] for i in idx]
    img_out = out_dir / "refocus-images"
    out = []
    for f, i, r, qc, ac, ic in rows:
        where = f"{f}: row {i}"
        box = _first_box(r["focus_areas_bbox"], f"{where}: focus_areas_bbox")
        if box is None:
            rep.skipped["no focus box"] += 1
            continue
        question = _str(r[qc], f"{where}: {qc}")
        ans = r[ac]
        if isinstance(ans, list):  # ChartQA-style label lists
            ans = ans[0] if ans else None
        if isinstance(ans, (int, float)) and not isinstance(ans, bool):
            ans = f"{ans:g}"
        answer = _str(ans, f"{where}: {ac}")
        image, size = _refocus_image(r[ic], f"{where}: {ic}", images_dir, img_out, f"{f.stem}-{i:06d}")
        if image is None:
            rep.skipped["image file not found"] += 1
            continue
        box = _clip(box, *size)
        if box is None:
            rep.skipped["box of zero area or outside the image"] += 1
            continue
        out.append(
            {
                "image": _rel(image, out_dir),
                "question": question,
                "answer": answer,
                "boxes": [box],
                "source": "refocus",
                "id": f"{f.stem}:{i}",
            }
        )
    if limit is not None and len(out) > limit:
        out = random.Random(seed).sample(out, limit)
    rep.written = len(out)
    return out, rep


def _refocus_image(v, where, images_dir, img_out: Path, stem: str):
    """(path of the image file, (width, height)) or (None, None) when a referenced file is missing."""
    from PIL import Image

    if isinstance(v, dict) and ("bytes" in v or "path" in v):
        data, ref = v.get("bytes"), v.get("path")
        if data:
            try:
                im = Image.open(io.BytesIO(data))
                im.load()
            except Exception:
                raise ConversionError(f"{where}: the embedded bytes are not an image") from None
            img_out.mkdir(parents=True, exist_ok=True)
            ext = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}.get(im.format, ".png")
            p = img_out / f"{stem}{ext}"
            if ext == ".png" and im.format != "PNG":
                im.save(p)
            else:
                p.write_bytes(data)
            return p, im.size
        v = ref
    if isinstance(v, str) and v:
        if images_dir is None:
            raise ConversionError(f"{where}: the image is a path ({v}); give images_dir")
        p = Path(images_dir) / v
        if not p.exists():
            return None, None
        with Image.open(p) as im:
            return p, im.size
    raise ConversionError(f"{where}: expected an image struct {{bytes, path}} or a path, got {type(v).__name__}")


def write_split(records: list[dict], train_path, heldout_path, heldout_size: int, seed: int = 0, base_dir=None) -> dict:
    """A seeded split of the records into train / held-out JSONL files. The records' image paths are relative to
    `base_dir` (default: the train file's folder); each file gets them relative to its own folder."""
    train_path, heldout_path = Path(train_path), Path(heldout_path)
    base_dir = Path(base_dir) if base_dir is not None else train_path.parent
    if heldout_size >= len(records):
        raise ConversionError(f"heldout_size {heldout_size} leaves no training record ({len(records)} converted)")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    held = sorted(order[:heldout_size])
    hs = set(held)
    train = [records[i] for i in range(len(records)) if i not in hs]
    for p, recs in ((train_path, train), (heldout_path, [records[i] for i in held])):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("".join(json.dumps({**r, "image": _rel(base_dir / r["image"], p.parent)}) + "\n" for r in recs))
    return {"train": len(train), "heldout": heldout_size}


def prepare(sources, out_dir, *, seed: int = 0, fetch_root=None) -> tuple[list[dict], list[Report]]:
    """The spec's `data.prepare.sources` → records. A source `uri` is a local folder here (the GPU host downloads
    GQA / ReFocus into it first): GQA `<uri>/questions/<split>.json`, `<uri>/train_sceneGraphs.json` (or
    `<uri>/sceneGraphs/…`), `<uri>/images/`; ReFocus `<uri>/**/<split>*.parquet`; jsonl: a project JSONL."""
    out_dir = Path(out_dir)
    recs, reports = [], []
    for s in sources:
        root = Path(s.uri if fetch_root is None else Path(fetch_root) / s.name)
        if not root.exists():
            raise ConversionError(f"data.prepare: {s.name}: {root} not found (download {s.uri} there first)")
        if s.kind == "gqa_scene_graph":
            split = s.split or "train_all_questions_0"
            qf = next(
                (
                    p
                    for p in (
                        root / "questions" / f"{split}.json",
                        root / f"{split}.json",
                        root / "questions" / "train_all_questions" / f"{split}.json",
                    )
                    if p.exists()
                ),
                root / "questions" / f"{split}.json",
            )
            sg = next(
                (
                    p
                    for p in (root / "train_sceneGraphs.json", root / "sceneGraphs" / "train_sceneGraphs.json")
                    if p.exists()
                ),
                root / "train_sceneGraphs.json",
            )
            r, rep = convert_gqa(qf, sg, root / "images", out_dir, limit=s.n, seed=seed)
        elif s.kind == "refocus_focus_bbox":
            split = s.split or "train"
            files = sorted(root.rglob(f"{split}*.parquet"))
            if not files:
                raise ConversionError(f"data.prepare: {s.name}: no {split}*.parquet under {root}")
            r, rep = convert_refocus(files, out_dir, images_dir=root, fraction=s.fraction, limit=s.n)
        elif s.kind == "jsonl":
            from .data import read_jsonl

            r = []
            for rec in read_jsonl(root):
                rec = {k: v for k, v in rec.items() if k != "_image_path"}
                rec["image"] = _rel(root.parent / rec["image"], out_dir)
                r.append(rec)
            r = r[: s.n]
            rep = Report(s.name, written=len(r))
        else:
            raise ConversionError(f"data.prepare: {s.name}: unknown kind {s.kind!r}")
        recs += r
        reports.append(rep)
    return recs, reports
