import math

import pytest
from sayo_train.geometry import GeometryError, box_tokens, cell_coverage, js_round, make_grid, smart_resize


def test_js_round_is_half_up_not_bankers():
    assert js_round(2.5) == 3 and round(2.5) == 2
    assert js_round(1.5) == 2 and js_round(0.49999) == 0


def test_smart_resize_known_values():
    assert smart_resize(480, 640, 28, 3136, 200704) == (364, 504)
    assert smart_resize(168, 224, 28, 3136, 12845056) == (168, 224)
    assert smart_resize(70, 70, 28, 3136, 12845056) == (84, 84)  # 2.5 rounds up, as Math.round
    assert smart_resize(10, 10, 28, 3136, 12845056) == (56, 56)  # upscaled, then min_pixels
    h, w = smart_resize(4032, 3024, 28, 3136, 112896)
    assert h * w <= 112896 and h % 28 == 0 and w % 28 == 0


def test_smart_resize_errors():
    with pytest.raises(GeometryError, match="aspect ratio"):
        smart_resize(9, 2000)
    with pytest.raises(GeometryError):
        smart_resize(0, 10)


def test_grid_and_thw():
    g = make_grid(224, 168, 14, 2, 3136, 112896)
    assert (g.rows, g.cols, g.n_tokens) == (6, 8, 48)
    assert g.grid_thw == [1, 12, 16]


def test_box_tokens_positive_area_overlap():
    g = make_grid(112, 112, 14, 2, 3136, 112896)  # 4x4 cells of 28 px, no resize
    assert box_tokens(g, [[28, 28, 56, 56]]) == [5]  # edges touching neighbours do not count
    assert box_tokens(g, [[27, 28, 56, 56]]) == [4, 5]
    assert box_tokens(g, [[0, 0, 112, 112]]) == list(range(16))
    assert box_tokens(g, [[0, 0, 10, 10], [100, 100, 112, 112]]) == [0, 15]


def test_box_scaled_to_resized_image():
    g = make_grid(200, 100, 14, 2, 3136, 112896)
    assert (g.resized_width, g.resized_height) == (196, 112)
    # x 100..200 of 200 px -> 98..196 resized -> columns 3..6
    toks = box_tokens(g, [[100, 0, 200, 10]])
    assert toks == [3, 4, 5, 6]


def test_box_clipping_and_errors():
    g = make_grid(112, 112, 14, 2, 3136, 112896)
    assert box_tokens(g, [[-50, -50, 10, 10]]) == [0]
    with pytest.raises(GeometryError, match="wholly outside"):
        box_tokens(g, [[200, 200, 300, 300]])
    with pytest.raises(GeometryError, match="zero or negative area"):
        box_tokens(g, [[10, 10, 10, 20]])
    with pytest.raises(GeometryError, match="at least one box"):
        box_tokens(g, [])


def test_cell_coverage_union():
    g = make_grid(112, 112, 14, 2, 3136, 112896)
    cov = cell_coverage(g, [[0, 0, 14, 28], [7, 0, 28, 14]])
    # union inside cell 0: 14x28 + (28-14)x14 = 392 + 196 = 588 of 784
    assert math.isclose(cov[0], 588 / 784)
    assert all(c == 0 for c in cov[1:])
    assert cell_coverage(g, [[0, 0, 112, 112]]) == [1.0] * 16
