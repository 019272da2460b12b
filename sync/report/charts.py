"""Inline SVG charts: the HTML report draws without scripts or network requests."""

from __future__ import annotations

from html import escape

PALETTE = ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777")


def bar_chart(title: str, data: list[tuple[str, float]], width: int = 360) -> str:
    """Horizontal bars, one per label; an empty data set says so instead of drawing nothing."""
    if not data:
        return '<p class="empty">none</p>'
    row, label_w = 22, 120
    top = max((v for _, v in data), default=0) or 1
    height = row * len(data) + 8
    bars = []
    for i, (label, value) in enumerate(data):
        w = (width - label_w - 50) * (value / top)
        y = 4 + i * row
        bars.append(
            f'<text x="0" y="{y + 14}">{escape(label[:18])}</text>'
            f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{value:g}</text>'
        )
    return (
        f'<svg role="img" aria-label="{escape(title)}" width="100%" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(bars)}</svg>'
    )


def funnel_chart(stages: list[tuple[str, int]], width: int = 360) -> str:
    """Centred bars narrowing stage by stage, with counts."""
    if not stages or not any(n for _, n in stages):
        return '<p class="empty">none</p>'
    row = 26
    top = max(n for _, n in stages) or 1
    shapes = []
    for i, (stage, n) in enumerate(stages):
        w = max(2.0, (width - 20) * n / top)
        x = (width - w) / 2
        y = i * row
        shapes.append(
            f'<rect class="bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 4}" '
            f'fill="{PALETTE[i % len(PALETTE)]}" opacity="0.85"><title>{escape(stage)}: {n}</title></rect>'
            f'<text x="{width / 2}" y="{y + 16}" text-anchor="middle">{escape(stage)} {n}</text>'
        )
    return (
        f'<svg role="img" aria-label="Funnel" width="100%" viewBox="0 0 {width} {row * len(stages)}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(shapes)}</svg>'
    )
