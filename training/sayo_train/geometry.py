"""Visual-token geometry shared by the trainer, the fixtures and (by parity) the TypeScript core.

Rounding follows transformers.js (`Math.round`: half up for the positive values used here), not Python's banker's
`round`, so the grid the trainer uses is the grid the browser computes (models/CONTRACT.md, "Visual-token geometry").
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class GeometryError(ValueError):
    """Invalid image size or box; the message names the field and the problem."""


def js_round(x: float) -> int:
    """JavaScript Math.round: the nearest integer, halves towards +infinity."""
    return int(math.floor(x + 0.5))


def smart_resize(
    height: int, width: int, factor: int = 28, min_pixels: int = 56 * 56, max_pixels: int = 14 * 14 * 4 * 1280
) -> tuple[int, int]:
    """Qwen2-VL smart_resize exactly as transformers.js 4.x implements it. Returns (h_bar, w_bar)."""
    if height <= 0 or width <= 0:
        raise GeometryError(f"image: width and height must be positive, got {width}x{height}")
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height = js_round(height * scale)
        width = js_round(width * scale)
    if max(height, width) / min(height, width) > 200:
        raise GeometryError(
            f"image: absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}"
        )
    h_bar = js_round(height / factor) * factor
    w_bar = js_round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil((height * beta) / factor) * factor
        w_bar = math.ceil((width * beta) / factor) * factor
    return h_bar, w_bar


@dataclass(frozen=True)
class Grid:
    width: int  # original image size
    height: int
    resized_width: int
    resized_height: int
    cell: int  # f = patch_size * merge_size, resized pixels per LLM image token
    rows: int
    cols: int
    patch_size: int
    merge_size: int

    @property
    def n_tokens(self) -> int:
        return self.rows * self.cols

    @property
    def grid_thw(self) -> list[int]:
        """image_grid_thw of the processor: [1, H'/patch, W'/patch]."""
        return [1, self.resized_height // self.patch_size, self.resized_width // self.patch_size]


def make_grid(
    width: int,
    height: int,
    patch_size: int = 14,
    merge_size: int = 2,
    min_pixels: int = 3136,
    max_pixels: int = 12845056,
) -> Grid:
    f = patch_size * merge_size
    h, w = smart_resize(height, width, f, min_pixels, max_pixels)
    return Grid(width, height, w, h, f, h // f, w // f, patch_size, merge_size)


def _clip_box(box, width: int, height: int, index: int) -> tuple[float, float, float, float]:
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        raise GeometryError(f"boxes[{index}]: expected [x1, y1, x2, y2]")
    try:
        x1, y1, x2, y2 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise GeometryError(f"boxes[{index}]: coordinates must be numbers") from None
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise GeometryError(f"boxes[{index}]: coordinates must be finite")
    if x2 <= x1 or y2 <= y1:
        raise GeometryError(f"boxes[{index}]: zero or negative area (need x1 < x2 and y1 < y2)")
    cx1, cy1 = min(max(x1, 0.0), width), min(max(y1, 0.0), height)
    cx2, cy2 = min(max(x2, 0.0), width), min(max(y2, 0.0), height)
    if cx2 <= cx1 or cy2 <= cy1:
        raise GeometryError(f"boxes[{index}]: wholly outside the {width}x{height} image")
    return cx1, cy1, cx2, cy2


def scaled_boxes(grid: Grid, boxes) -> list[tuple[float, float, float, float]]:
    """Boxes clipped to the original image, then scaled to resized pixels (x·W'/W, y·H'/H)."""
    if not isinstance(boxes, (list, tuple)) or len(boxes) == 0:
        raise GeometryError("boxes: need at least one box")
    sx = grid.resized_width / grid.width
    sy = grid.resized_height / grid.height
    out = []
    for i, b in enumerate(boxes):
        x1, y1, x2, y2 = _clip_box(b, grid.width, grid.height, i)
        out.append((x1 * sx, y1 * sy, x2 * sx, y2 * sy))
    return out


def box_tokens(grid: Grid, boxes) -> list[int]:
    """Raster indices of the image tokens whose cell overlaps any (clipped, scaled) box with positive area."""
    f = grid.cell
    hit = set()
    for x1, y1, x2, y2 in scaled_boxes(grid, boxes):
        for r in range(grid.rows):
            if min(y2, (r + 1) * f) - max(y1, r * f) <= 0:
                continue
            for c in range(grid.cols):
                if min(x2, (c + 1) * f) - max(x1, c * f) > 0:
                    hit.add(r * grid.cols + c)
    return sorted(hit)


def _union_area(rects) -> float:
    if not rects:
        return 0.0
    xs = sorted({v for r in rects for v in (r[0], r[2])})
    area = 0.0
    for xa, xb in zip(xs, xs[1:]):
        if xb <= xa:
            continue
        spans = sorted((r[1], r[3]) for r in rects if r[0] <= xa and r[2] >= xb)
        covered, cur_a, cur_b = 0.0, None, None
        for a, b in spans:
            if cur_b is None or a > cur_b:
                if cur_b is not None:
                    covered += cur_b - cur_a
                cur_a, cur_b = a, b
            else:
                cur_b = max(cur_b, b)
        if cur_b is not None:
            covered += cur_b - cur_a
        area += covered * (xb - xa)
    return area


def cell_coverage(grid: Grid, boxes) -> list[float]:
    """Fraction of each cell's area (f×f resized pixels) covered by the union of the boxes, raster order."""
    f = grid.cell
    sb = scaled_boxes(grid, boxes)
    cover = []
    for r in range(grid.rows):
        for c in range(grid.cols):
            cx1, cy1, cx2, cy2 = c * f, r * f, (c + 1) * f, (r + 1) * f
            rects = []
            for x1, y1, x2, y2 in sb:
                a, b, cc, d = max(x1, cx1), max(y1, cy1), min(x2, cx2), min(y2, cy2)
                if cc > a and d > b:
                    rects.append((a, b, cc, d))
            cover.append(_union_area(rects) / (f * f))
    return cover
