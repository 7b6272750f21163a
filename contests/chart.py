"""Cumulative sales over a contest's window as an SVG drawn on the server (no chart library, no CDN)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

# Distinct on a projector and for the common colour-blindnesses (Okabe–Ito), red first as the app's.
COLOURS = ("#c8102e", "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000")


@dataclass(frozen=True)
class Line:
    """One participant's steps: (time, sales so far in fen), oldest first."""

    label: str
    points: Sequence[tuple[datetime, int]]


def _yuan(fen: float) -> str:
    value = fen / 100
    return f"¥{value / 10000:.1f}万" if value >= 10000 else f"¥{value:,.0f}"


WIDTH = 960
LEFT, RIGHT = 84, 150  # room for the yuan axis and for the legend


def plot_columns(width: int = WIDTH) -> int:
    """How many pixel columns the lines are drawn over: the finest time step a line can show
    (:func:`contests.standings.sales_steps` sums each participant's orders per column)."""
    return width - LEFT - RIGHT


def cumulative_svg(lines: Sequence[Line], start: datetime, end: datetime, *, zone: ZoneInfo,
                   until: datetime | None = None, width: int = WIDTH, height: int = 360, title: str = "") -> str:
    """An ``<svg>`` with one step line per participant over ``start``–``end``, each drawn on to
    ``until`` (now, for a running contest); y in yuan. Labels are escaped; the result is safe to put in a page as markup."""
    left, top, bottom = LEFT, 24, 44
    plot_w, plot_h = plot_columns(width), height - top - bottom
    span = max((end - start).total_seconds(), 1.0)
    top_fen = max([p[1] for line in lines for p in line.points] + [100])

    def x(when: datetime) -> float:
        return left + plot_w * min(max((when - start).total_seconds() / span, 0.0), 1.0)

    def y(fen: float) -> float:
        return top + plot_h * (1 - fen / top_fen)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'class="chart" aria-label="{escape(title)}">']
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for share in (0, 0.5, 1):
        gy = y(top_fen * share)
        parts.append(f'<line x1="{left}" y1="{gy:.1f}" x2="{left + plot_w}" y2="{gy:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 8}" y="{gy + 5:.1f}" text-anchor="end" class="axis">'
                     f"{escape(_yuan(top_fen * share))}</text>")
    for share, anchor in ((0, "start"), (0.5, "middle"), (1, "end")):
        when = start + (end - start) * share
        parts.append(f'<text x="{left + plot_w * share:.1f}" y="{height - 14}" text-anchor="{anchor}" class="axis">'
                     f"{when.astimezone(zone):%m-%d %H:%M}</text>")
    for index, line in enumerate(lines):
        colour = COLOURS[index % len(COLOURS)]
        path = [f"M{x(start):.1f},{y(0):.1f}"]
        column = None
        for when, fen in line.points:
            # One step per pixel column, the last one in it: a busy day's thousands of orders
            # drew one step each (80 KB of page at 6000 orders, growing with every order).
            px = x(when)
            step = f"H{px:.1f}V{y(fen):.1f}"
            if int(px) == column:
                path[-1] = step
            else:
                path.append(step)
                column = int(px)
        path.append(f"H{x(min(until or end, end)):.1f}")
        last = line.points[-1][1] if line.points else 0
        parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="3"/>')
        ly = top + 22 * index + 10
        parts.append(f'<rect x="{left + plot_w + 12}" y="{ly - 9}" width="14" height="14" fill="{colour}"/>')
        parts.append(f'<text x="{left + plot_w + 32}" y="{ly + 3}" class="legend">{escape(line.label[:8])} '
                     f"{escape(_yuan(last))}</text>")
    parts.append("</svg>")
    return "".join(parts)
