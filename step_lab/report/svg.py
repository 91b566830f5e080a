"""A dependency-free SVG scatter plot for reports (memory vs cycles with a Pareto frontier)."""
from __future__ import annotations

import html
import math

__all__ = ["scatter_svg"]


def _scale(lo: float, hi: float, log: bool):
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.08 * span, hi + 0.08 * span
    return lambda v: ((math.log10(v) if log else v) - lo) / (hi - lo)


def _ticks(lo: float, hi: float, log: bool, n: int = 4) -> list[float]:
    if log:
        a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        return [10.0 ** e for e in range(a, b + 1) if lo <= 10.0 ** e <= hi] or [lo, hi]
    step = 10 ** math.floor(math.log10((hi - lo) / n or 1))
    for mult in (1, 2, 5, 10):
        if (hi - lo) / (step * mult) <= n:
            step *= mult
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) // step) + 1)]


def _short(v: float) -> str:
    from ..formatting import si
    return si(v)


def scatter_svg(points: list[dict], *, x: str, y: str, label: str, frontier: list[dict] = (),
                highlight=None, xlabel: str = "", ylabel: str = "", log: bool = False,
                width: int = 640, height: int = 400) -> str:
    """An inline SVG: one labelled dot per point, the frontier as a step line, one highlight."""
    m = 60
    xs, ys = [p[x] for p in points], [p[y] for p in points]
    fx, fy = _scale(min(xs), max(xs), log), _scale(min(ys), max(ys), log)
    px = lambda v: m + fx(v) * (width - 1.5 * m)                       # noqa: E731
    py = lambda v: height - m - fy(v) * (height - 1.6 * m)             # noqa: E731
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           "font-family='sans-serif' font-size='12'>",
           f"<line x1='{m}' y1='{height - m}' x2='{width - m / 2}' y2='{height - m}' "
           "stroke='#444'/>",
           f"<line x1='{m}' y1='{m / 2}' x2='{m}' y2='{height - m}' stroke='#444'/>",
           f"<text x='{width / 2}' y='{height - 15}' text-anchor='middle'>"
           f"{html.escape(xlabel)}</text>",
           f"<text x='15' y='{height / 2}' transform='rotate(-90 15 {height / 2})' "
           f"text-anchor='middle'>{html.escape(ylabel)}</text>"]
    for v in _ticks(min(xs), max(xs), log):
        out.append(f"<line x1='{px(v):.1f}' y1='{height - m}' x2='{px(v):.1f}' "
                   f"y2='{height - m + 5}' stroke='#444'/><text x='{px(v):.1f}' "
                   f"y='{height - m + 18}' text-anchor='middle'>{_short(v)}</text>")
    for v in _ticks(min(ys), max(ys), log):
        out.append(f"<line x1='{m - 5}' y1='{py(v):.1f}' x2='{m}' y2='{py(v):.1f}' "
                   f"stroke='#444'/><text x='{m - 8}' y='{py(v) + 4:.1f}' "
                   f"text-anchor='end'>{_short(v)}</text>")
    front = sorted(frontier, key=lambda p: p[x])
    if len(front) > 1:
        path = " ".join(f"{px(p[x]):.1f},{py(p[y]):.1f}" for p in front)
        out.append(f"<polyline points='{path}' fill='none' stroke='#999' stroke-dasharray='4 3'/>")
    for p in points:
        hot = p is highlight
        colour = "#d62728" if hot else "#1f77b4"
        out.append(f"<circle cx='{px(p[x]):.1f}' cy='{py(p[y]):.1f}' r='{7 if hot else 5}' "
                   f"fill='{colour}'><title>{html.escape(str(p[label]))}: {x}={p[x]:,}, "
                   f"{y}={p[y]:,}</title></circle>")
        out.append(f"<text x='{px(p[x]) + 9:.1f}' y='{py(p[y]) - 6:.1f}' fill='{colour}'>"
                   f"{html.escape(str(p[label]))}</text>")
    out.append("</svg>")
    return "".join(out)
