"""The contest chart's size does not grow with the number of orders."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from contests.chart import Line, cumulative_svg

START = datetime(2026, 12, 1, tzinfo=timezone.utc)
END = START + timedelta(days=1)


def steps(svg: str) -> list[tuple[float, float]]:
    path = re.search(r'<path d="([^"]+)"', svg)
    assert path is not None
    return [(float(h), float(v)) for h, v in re.findall(r"H([\d.]+)V([\d.]+)", path.group(1))]


def test_thousands_of_orders_draw_at_most_one_step_per_pixel_column_and_end_at_the_total():
    points = [(START + timedelta(seconds=10 * n), 100 * (n + 1)) for n in range(6000)]  # 16.7 hours
    svg = cumulative_svg([Line("王大姐", points)], START, END, zone=ZoneInfo("Asia/Shanghai"), width=960)
    drawn = steps(svg)
    assert len(drawn) <= 960 - 84 - 150 + 1  # the plot's width in pixels
    assert all(a[0] < b[0] for a, b in zip(drawn, drawn[1:]))  # never two steps at one x
    top = min(v for _, v in drawn)  # y grows downwards: the highest point is the last total
    assert drawn[-1][1] == top and "¥6,000" in svg and len(svg) < 20_000


def test_orders_far_apart_keep_a_step_each():
    points = [(START + timedelta(hours=n), 1000 * (n + 1)) for n in range(5)]
    drawn = steps(cumulative_svg([Line("李大哥", points)], START, END, zone=ZoneInfo("Asia/Shanghai")))
    assert len(drawn) == 5 and [h for h, _ in drawn] == sorted(h for h, _ in drawn)
