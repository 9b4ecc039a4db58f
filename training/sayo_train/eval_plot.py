"""plot.svg of `python -m sayo_train eval`: the figure `sayo eval` draws (src/cli/lib/plot.ts, d3) with the same
layout, scales and marks, written without d3. Left: each model's mean R_a against its accuracy; right: every
sample's R_a split by correctness, per model, with the group means. A sample that has a session file is a link to
it (its tooltip names the line and the file), so the plot leads to the lens."""

from __future__ import annotations

import math

W, H = 900, 420
M = {"top": 56, "right": 20, "bottom": 60, "left": 56}
COLORS = ["#4e79a7", "#f28e2c", "#e15759", "#76b7b2", "#59a14f", "#edc949", "#af7aa1", "#ff9da7", "#9c755f", "#bab0ab"]
TICKS = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]


def esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def jitter(line: int) -> float:
    """plot.ts's deterministic jitter in [-1, 1] from a sample's line number."""
    x = math.sin(line * 12.9898) * 43758.5453
    return (x - math.floor(x)) * 2 - 1


def _lin(d0, d1, r0, r1):
    return lambda v: r0 + (v - d0) / (d1 - d0) * (r1 - r0)


def _circle(size=90.0) -> str:
    r = math.sqrt(size / math.pi)
    return f"M{r:.3f},0A{r:.3f},{r:.3f},0,1,1,{-r:.3f},0A{r:.3f},{r:.3f},0,1,1,{r:.3f},0"


def _y_axis(y, x0, x1, label) -> str:
    out = []
    for t in TICKS:
        py = f"{y(t):.1f}"
        out.append(
            f'<line x1="{x0}" x2="{x1}" y1="{py}" y2="{py}" stroke="#e5e5e5"/><text x="{x0 - 6}" y="{py}" '
            f'dy="0.32em" text-anchor="end">{t:.1f}</text>'
        )
    mid = (y(0) + y(1)) / 2
    return (
        "".join(out)
        + f'<text transform="translate({x0 - 40},{mid}) rotate(-90)" text-anchor="middle">{esc(label)}</text>'
    )


def _model_panel(models, x0, x1) -> str:
    x = _lin(0, 1, x0, x1)
    y = _lin(0, 1, H - M["bottom"], M["top"])
    sym = _circle()
    parts = [
        f'<text x="{(x0 + x1) / 2}" y="{M["top"] - 16}" text-anchor="middle" font-weight="bold">mean R_a vs accuracy</text>',
        _y_axis(y, x0, x1, "mean R_a"),
    ]
    parts += [
        f'<text x="{x(t):.1f}" y="{H - M["bottom"] + 16}" text-anchor="middle">{round(t * 100)}%</text>' for t in TICKS
    ]
    parts.append(
        f'<text x="{(x0 + x1) / 2}" y="{H - M["bottom"] + 36}" text-anchor="middle">accuracy (normalised exact match)</text>'
    )
    parts.append(f'<line x1="{x0}" x2="{x1}" y1="{y(0.5)}" y2="{y(0.5)}" stroke="#999" stroke-dasharray="4 3"/>')
    for i, m in enumerate(models):
        if m["meanRa"] is not None:
            parts.append(
                f'<path transform="translate({x(m["accuracy"]):.1f},{y(m["meanRa"]):.1f})" d="{sym}" '
                f'fill="{COLORS[i % 10]}" fill-opacity="0.8"/>'
            )
    for i, m in enumerate(models):
        ly = M["top"] + 10 + 15 * i
        ra = "n/a" if m["meanRa"] is None else f"{m['meanRa']:.3f}"
        parts.append(
            f'<path transform="translate({x0 + 10},{ly})" d="{sym}" fill="{COLORS[i % 10]}"/><text x="{x0 + 20}" '
            f'y="{ly}" dy="0.32em">{esc(m["name"])} ({100 * m["accuracy"]:.1f}%, R_a {ra})</text>'
        )
    return "\n".join(parts)


def _sample_panel(models, x0, x1) -> str:
    groups = [(m, i, c) for i, m in enumerate(models) for c in (False, True)]
    n, pi, po = len(groups), 0.25, 0.1
    step = (x1 - x0) / max(1, n - pi + 2 * po)
    start = x0 + (x1 - x0 - step * (n - pi)) * 0.5
    bw = step * (1 - pi)
    y = _lin(0, 1, H - M["bottom"], M["top"])
    parts = [
        f'<text x="{(x0 + x1) / 2}" y="{M["top"] - 16}" text-anchor="middle" font-weight="bold">per-sample R_a by '
        f"correctness (bar: mean)</text>",
        _y_axis(y, x0, x1, "R_a (mean over the answer's tokens)"),
    ]
    for g, (m, i, correct) in enumerate(groups):
        left = start + g * step
        vals = [s for s in m["samples"] if s["correct"] == correct and s["R_a"] is not None]
        dots = []
        for s in vals:
            dot = (
                f'<circle cx="{left + bw / 2 + jitter(s["line"]) * bw * 0.35:.1f}" cy="{y(s["R_a"]):.1f}" r="2.2" '
                f'fill="{COLORS[i % 10]}" fill-opacity="{0.75 if correct else 0.35}">'
                f"<title>line {s['line']}: R_a {s['R_a']:.3f}"
                + (f" — {esc(s['session'])}" if s.get("session") else "")
                + "</title></circle>"
            )
            dots.append(f'<a href="{esc(s["session"])}">{dot}</a>' if s.get("session") else dot)
        line = ""
        if vals:
            mean = sum(s["R_a"] for s in vals) / len(vals)
            line = f'<path d="M{left},{y(mean)}L{left + bw},{y(mean)}" stroke="#222" stroke-width="2"/>'
        label = (
            f'<text x="{left + bw / 2}" y="{H - M["bottom"] + 16}" text-anchor="middle">'
            f"{'correct' if correct else 'wrong'} ({len(vals)})</text>"
        )
        parts.append("".join(dots) + line + label)
    for i, m in enumerate(models):
        a = start + 2 * i * step
        b = start + (2 * i + 1) * step + bw
        parts.append(
            f'<text x="{(a + b) / 2}" y="{H - M["bottom"] + 36}" text-anchor="middle" fill="{COLORS[i % 10]}" '
            f'font-weight="bold">{esc(m["name"])}</text>'
        )
    return "\n".join(parts)


def render_plot(models: list[dict], title: str) -> str:
    """models: [{name, accuracy, meanRa, samples: [{line, R_a, correct, session?}]}] → SVG markup."""
    split = M["left"] + (W - M["left"] - M["right"]) * 0.36
    return (
        "\n".join(
            [
                f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" '
                f'font-size="11">',
                f'<rect width="{W}" height="{H}" fill="white"/>',
                f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="13">{esc(title)}</text>',
                _model_panel(models, M["left"], split - 30),
                _sample_panel(models, split + 60, W - M["right"]),
                "</svg>",
            ]
        )
        + "\n"
    )
