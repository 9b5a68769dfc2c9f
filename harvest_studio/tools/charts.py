"""Small charts drawn as inline SVG (no library, no script: a saved notebook keeps them)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from .profile import seconds_text

COLOURS = ("#4c8bf5", "#e3873b")


def histogram_svg(samples: Sequence[np.ndarray], labels: Sequence[str], width: int = 520,
                  height: int = 170) -> str:
    """Distributions of seconds as overlaid step histograms, p50 (solid) and p90 (dashed)
    marked."""
    joined = np.concatenate(list(samples))
    low, high = float(np.quantile(joined, 0.001)), float(np.quantile(joined, 0.999))
    high = max(high, low + 1e-6)
    edges = np.linspace(low, high, 41)
    left, bottom = 40, height - 24
    scale_x = (width - left - 10) / (high - low)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="Helvetica, Arial, sans-serif" font-size="11" class="hs-histogram">']
    counts = [np.histogram(np.clip(s, low, high), bins=edges)[0] / len(s) for s in samples]
    top = max(float(c.max()) for c in counts) or 1.0
    for i, (share, label) in enumerate(zip(counts, labels, strict=True)):
        colour = COLOURS[i % len(COLOURS)]
        points = [f"{left},{bottom}"]
        for k, value in enumerate(share):
            y = bottom - value / top * (bottom - 14)
            points += [f"{left + (edges[k] - low) * scale_x:.1f},{y:.1f}",
                       f"{left + (edges[k + 1] - low) * scale_x:.1f},{y:.1f}"]
        points.append(f"{left + (high - low) * scale_x:.1f},{bottom}")
        parts.append(f'<polyline points="{" ".join(points)}" fill="{colour}" '
                     f'fill-opacity="0.25" stroke="{colour}" stroke-width="1.5"/>')
        for q, dash in ((0.5, ""), (0.9, ' stroke-dasharray="4 3"')):
            x = left + (float(np.quantile(samples[i], q)) - low) * scale_x
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="10" y2="{bottom}" '
                         f'stroke="{colour}"{dash}><title>{html.escape(label)} p{q * 100:.0f}'
                         f'</title></line>')
        parts.append(f'<text x="{width - 10}" y="{14 + 14 * i}" text-anchor="end" '
                     f'fill="{colour}">{html.escape(label)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{bottom}" y2="{bottom}" '
                 'stroke="#888"/>')
    for k in range(5):
        value = low + (high - low) * k / 4
        parts.append(f'<text x="{left + (value - low) * scale_x:.1f}" y="{height - 8}" '
                     f'text-anchor="middle">{seconds_text(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)
