"""The report's chart drawn on the server as SVG shapes (no chart library, no CDN): sales per
minute as bars over the timeline, and each product's on-screen stretch as a band behind them."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Colour-blind-safe (Okabe–Ito) band colours, one per product in the order they were first shown.
BAND_COLOURS = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_w: float
    plot_h: float
    bars: list[dict[str, Any]]
    bands: list[dict[str, Any]]
    x_ticks: list[dict[str, Any]]
    max_fen: int
    legend: list[dict[str, Any]]


def sales_chart(report: dict[str, Any], segments: Sequence[tuple[int, float, float | None]],
                width: int = 960, height: int = 260) -> Chart:
    """Geometry for ``report["per_minute"]`` bars and one band per segment ``(product_id, start_s,
    end_s or None)``; x runs over the whole session, y from 0 to the best minute's sales."""
    left, top, bottom, right = 64, 12, 34, 12
    plot_w, plot_h = float(width - left - right), float(height - top - bottom)
    minutes = report["per_minute"]
    # x is the session's own time, so a short live is not squeezed into its first minute
    span_s = max(float(report["duration_s"]), 1.0)
    max_fen = max((m["gmv_fen"] for m in minutes), default=0) or 1
    slot = plot_w * 60.0 / span_s
    bars = []
    for m in minutes:
        h = plot_h * m["gmv_fen"] / max_fen
        x0 = left + m["minute"] * slot
        w = min(slot, left + plot_w - x0)
        bars.append({"x": round(x0 + w * 0.2, 1), "w": round(w * 0.6, 1),
                     "y": round(top + plot_h - h, 1), "h": round(h, 1), **m})
    names = {p["product_id"]: p["name"] for p in report["per_product"]}
    colour_of: dict[int, str] = {}
    bands = []
    for product_id, start, end in sorted(segments, key=lambda s: s[1]):
        colour = colour_of.setdefault(product_id, BAND_COLOURS[len(colour_of) % len(BAND_COLOURS)])
        stop = report["duration_s"] if end is None else end
        x0, x1 = left + plot_w * start / span_s, left + plot_w * min(stop, span_s) / span_s
        bands.append({"x": round(x0, 1), "w": round(max(1.0, x1 - x0), 1), "colour": colour,
                      "name": names.get(product_id, str(product_id)), "start_s": start, "end_s": stop})
    step = max(1, -(-len(minutes) // 10))
    ticks = [{"x": round(left + i * slot, 1), "label": f"{i}′"} for i in range(0, len(minutes), step)]
    end = int(span_s)
    ticks.append({"x": round(left + plot_w, 1), "label": f"{end // 60}:{end % 60:02d}"})
    legend = [{"name": names.get(pid, str(pid)), "colour": c} for pid, c in colour_of.items()]
    return Chart(width, height, left, top, plot_w, plot_h, bars, bands, ticks, max_fen, legend)
