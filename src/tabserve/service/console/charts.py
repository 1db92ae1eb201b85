"""Small charts as inline SVG, built on the server: no charting library, no script, nothing fetched.

SVG presentation attributes (not ``style``) carry every colour and size, so the
pages keep a Content-Security-Policy with no inline styles or scripts. Every
text that comes from data is escaped here, because the result is inserted into
templates as markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

ACCENT = "#1f5fa8"
GRID = "#c8ccd2"
INK = "#1d2330"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def metric_line(
    points: Sequence[tuple[int, float | None]], title: str, width: int = 560, height: int = 160
) -> Markup:
    """A line of a metric across versions (x: version, y: metric); versions without it are skipped."""
    known = [(v, y) for v, y in points if isinstance(y, int | float) and math.isfinite(y)]
    label = escape(title)
    if not known:
        return Markup(f'<p class="muted">No {label} recorded yet.</p>')
    left, right, top, bottom = 48, 12, 12, 28
    low = min(y for _, y in known)
    high = max(y for _, y in known)
    if high - low < 1e-9:
        low, high = low - 0.05, high + 0.05
    span_x = max(1, len(known) - 1)

    def x_at(i: int) -> float:
        return left + (width - left - right) * (i / span_x if len(known) > 1 else 0.5)

    def y_at(y: float) -> float:
        return top + (height - top - bottom) * (1 - (y - low) / (high - low))

    coords = [(x_at(i), y_at(y)) for i, (_, y) in enumerate(known)]
    path = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in coords)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="chart-title"><title id="chart-title">{label} by version: '
        + escape(", ".join(f"v{v} {y:.4f}" for v, y in known))
        + "</title>",
    ]
    for value in (low, high):
        y = _fmt(y_at(value))
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y}" y2="{y}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" '
            f'font-size="11" fill="{INK}">{value:.3f}</text>'
        )
    parts.append(f'<polyline points="{path}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
    step = max(1, len(known) // 12)
    for i, ((version, _), (x, y)) in enumerate(zip(known, coords, strict=True)):
        parts.append(f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="3" fill="{ACCENT}"/>')
        if i % step == 0 or i == len(known) - 1:
            parts.append(
                f'<text x="{_fmt(x)}" y="{height - 8}" text-anchor="middle" font-size="11" '
                f'fill="{INK}">v{version}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _cell_fill(share: float) -> str:
    """White to the accent blue by share of the row (0..1)."""
    share = max(0.0, min(1.0, share))
    r, g, b = (round(255 + (c - 255) * share) for c in (31, 95, 168))
    return f"#{r:02x}{g:02x}{b:02x}"


def confusion_matrix(labels: Sequence[str], matrix: Sequence[Sequence[int]], title: str) -> Markup:
    """A confusion-matrix heat map (rows: true class, columns: predicted), shaded by row share."""
    n = len(labels)
    if n == 0 or len(matrix) != n:
        return Markup('<p class="muted">No confusion matrix recorded.</p>')
    cell, left, top = 44, 110, 96
    width, height = left + cell * n + 56, top + cell * n + 8  # room for the last rotated label
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img"><title>{escape(title)}</title>',
        f'<text x="{left + cell * n / 2}" y="14" text-anchor="middle" font-size="12" fill="{INK}">'
        "predicted</text>",
    ]
    for j, name in enumerate(labels):
        x = left + cell * j + cell / 2
        parts.append(
            f'<text transform="translate({_fmt(x)},{top - 6}) rotate(-40)" font-size="11" '
            f'fill="{INK}">{escape(str(name)[:14])}</text>'
        )
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        y = top + cell * i
        parts.append(
            f'<text x="{left - 6}" y="{y + cell / 2}" text-anchor="end" dominant-baseline="middle" '
            f'font-size="11" fill="{INK}">{escape(str(labels[i])[:16])}</text>'
        )
        for j, count in enumerate(row):
            share = count / total
            text_fill = "#ffffff" if share > 0.55 else INK
            x = left + cell * j
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{_cell_fill(share)}" '
                f'stroke="{GRID}"/><text x="{x + cell / 2}" y="{y + cell / 2}" text-anchor="middle" '
                f'dominant-baseline="middle" font-size="12" fill="{text_fill}">{int(count)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram(
    bins: Sequence[tuple[float, float, int]], title: str, width: int = 560, height: int = 160
) -> Markup:
    """Bars of row counts over value ranges ``(low, high, rows)``, lowest range on the left."""
    label = escape(title)
    if not bins:
        return Markup(f'<p class="muted">No values to draw for {label}.</p>')
    left, right, top, bottom = 12, 12, 12, 28
    tallest = max(rows for _, _, rows in bins) or 1
    step = (width - left - right) / len(bins)
    described = ", ".join(f"{low:.4g} to {high:.4g}: {rows}" for low, high, rows in bins)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="histogram-title"><title id="histogram-title">{label}: '
        + escape(described)
        + "</title>"
    ]
    for i, (_, _, rows) in enumerate(bins):
        bar = (height - top - bottom) * rows / tallest
        parts.append(
            f'<rect x="{_fmt(left + i * step + 1)}" y="{_fmt(height - bottom - bar)}" '
            f'width="{_fmt(max(step - 2, 1))}" height="{_fmt(bar)}" fill="{ACCENT}"/>'
        )
    for x, value in ((left, bins[0][0]), (width - right, bins[-1][1])):
        anchor = "start" if x == left else "end"
        parts.append(
            f'<text x="{x}" y="{height - 8}" text-anchor="{anchor}" font-size="11" '
            f'fill="{INK}">{value:.4g}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
