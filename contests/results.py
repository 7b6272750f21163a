"""A contest's results: the final board as CSV (for Excel) and a printable certificate per winner (PDF).

Cells are formula-safe: a name such as ``=HYPERLINK(...)`` is written as text, not run by Excel.
The certificate is drawn by fpdf2 with the same embedded Chinese font as the hand-off manifest.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF

from catalog.money import yuan_text
from catalog.text import write_csv
from contests.models import METRIC_LABELS
from contests.standings import Board, Standing
from orders.manifest import find_cjk_font

RESULT_HEADER: tuple[str, ...] = (
    "名次", "用户名", "参赛人", "得分", "订单数", "销售额（元）", "已发货销售额（元）", "观看数", "点赞数",
    "加减分", "达到该分数的时间", "资格",
)
# How many places get a certificate.
WINNERS = 3
PLACE_NAMES = {1: "一等奖", 2: "二等奖", 3: "三等奖"}


def _local(when: datetime | None, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if when else ""


def results_csv(board: Board, *, zone: ZoneInfo) -> bytes:
    """The board, best first, as a CSV Excel opens (UTF-8 with BOM); disqualified participants last."""
    rows = (
        ("" if r.rank is None else r.rank, r.username, r.name, f"{r.score:g}",
         r.tally.orders, yuan_text(r.tally.gmv_fen), yuan_text(r.tally.fulfilled_gmv_fen), r.tally.views,
         r.tally.likes, f"{r.adjustment:+g}" if r.adjustment else "0", _local(r.reached_at, zone),
         "取消资格：" + r.disqualify_reason if r.disqualified else "有效")
        for r in board.rows
    )
    return write_csv(rows, RESULT_HEADER)  # every cell formula-safe


def winners(board: Board) -> list[Standing]:
    """The participants who take a certificate: places 1 to :data:`WINNERS` (shared places included)."""
    return [r for r in board.rows if r.rank is not None and r.rank <= WINNERS]


def certificate_pdf(board: Board, standing: Standing, *, zone: ZoneInfo, issued_by: str) -> bytes:
    """A one-page A4 landscape certificate for ``standing``.

    Raises :class:`orders.manifest.ManifestError` when no Chinese font is installed.
    """
    font_path, index = find_cjk_font()
    contest = board.contest
    pdf = FPDF(orientation="landscape", unit="mm", format="A4")
    pdf.set_title(f"{contest.title} 荣誉证书 {standing.name}")
    pdf.set_creator("Cunbo")
    pdf.add_font("cjk", fname=str(font_path), collection_font_number=index)
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    pdf.set_draw_color(200, 16, 46)
    pdf.set_line_width(2.0)
    pdf.rect(10, 10, 277, 190)
    pdf.set_line_width(0.6)
    pdf.rect(15, 15, 267, 180)
    pdf.set_text_color(200, 16, 46)
    pdf.set_font("cjk", size=48)
    pdf.set_y(32)
    pdf.cell(0, 22, "荣 誉 证 书", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(29, 29, 31)
    pdf.ln(10)
    pdf.set_font("cjk", size=40)
    pdf.cell(0, 20, standing.name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(29, 29, 31)
    pdf.set_line_width(0.4)
    pdf.line(108, pdf.get_y() + 1, 189, pdf.get_y() + 1)
    pdf.ln(10)
    pdf.set_font("cjk", size=20)
    place = PLACE_NAMES.get(standing.rank or 0, f"第 {standing.rank} 名")
    pdf.multi_cell(0, 12, f"在「{contest.title}」中荣获第 {standing.rank} 名（{place}），", align="C",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 12, "特发此证，以资鼓励。", align="C", new_x="LMARGIN", new_y="NEXT")
    period = f"{contest.starts_at.astimezone(zone):%Y年%m月%d日} 至 {contest.ends_at.astimezone(zone):%Y年%m月%d日}"
    score = f"{standing.score:g} 分" if contest.metric == "weighted" else (
        f"{standing.tally.orders} 单" if contest.metric == "orders" else f"{yuan_text(int(standing.score))} 元")
    pdf.set_font("cjk", size=13)
    pdf.set_text_color(91, 91, 102)
    pdf.ln(8)
    pdf.cell(0, 8, f"比赛时间：{period}    计分方式：{METRIC_LABELS[contest.metric]}    成绩：{score}", align="C",
             new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 8, f"订单 {standing.tally.orders} 单，销售额 {yuan_text(standing.tally.gmv_fen)} 元", align="C",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(29, 29, 31)
    pdf.set_font("cjk", size=15)
    pdf.set_xy(160, 166)
    pdf.cell(110, 9, f"颁发：{issued_by}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(160)
    pdf.cell(110, 9, f"{board.computed_at.astimezone(zone):%Y年%m月%d日}", align="R")
    return bytes(pdf.output())
