"""The hand-off manifest: what the partner picks up, as CSV (for Excel) and PDF (for paper).

Both list each order's item, quantity, parcels, receiver, phone and address, the package count
and, on paper, the lines both sides sign. The PDF is drawn by fpdf2 with a Chinese font embedded
(subset), so it prints the same on any PC.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.fonts import FontFace

from accounts.models import User
from catalog.text import write_csv
from db import N_
from orders.errors import OrderError
from orders.models import CHANNEL_LABELS, STATUS_LABELS, Handoff

# (path, index in a .ttc collection). CUNBO_CJK_FONT, if set, is tried first.
CJK_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # Debian fonts-wqy-microhei
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),  # Debian fonts-wqy-zenhei
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # Debian fonts-noto-cjk (SC)
    ("C:/Windows/Fonts/msyh.ttc", 0),  # Microsoft YaHei on a Windows village PC
    ("C:/Windows/Fonts/simhei.ttf", 0),
)

MANIFEST_HEADER: tuple[str, ...] = (
    "交接单", "订单号", "渠道", "平台订单号", "农户", "商品", "数量", "单位", "件数",
    "收货人", "电话", "地址", "状态", "快递公司", "运单号",
)


class ManifestError(OrderError):
    """The manifest cannot be drawn (no Chinese font on this PC)."""


@dataclass(frozen=True)
class ManifestLine:
    """One order on the manifest, as plain values."""

    order_id: int
    channel: str
    platform_order_no: str
    farmer: str
    product: str
    quantity: int
    unit: str
    packages: int
    receiver: str
    phone: str
    address: str
    status: str
    carrier: str
    tracking_no: str


def manifest_lines(handoff: Handoff) -> list[ManifestLine]:
    """The batch's orders in order id order."""
    return [
        ManifestLine(
            order_id=o.id, channel=o.channel, platform_order_no=o.platform_order_no or "",
            farmer=o.farmer.name, product=o.product.name, quantity=o.quantity, unit=o.unit,
            packages=o.packages, receiver=o.buyer_name, phone=o.buyer_phone, address=o.address,
            status=o.status, carrier=o.carrier, tracking_no=o.tracking_no,
        )
        for o in handoff.orders
    ]


@dataclass(frozen=True)
class PickupPoint:
    """Where the partner picks up one farmer's parcels of a batch, and whom to call.

    A farmer with no pick-up address of their own hands parcels over at the station that made the
    batch (``at_station``): then the address and phone are the station's, and the farmer's phone
    is still given when there is one.
    """

    farmer: str
    farmer_phone: str
    address: str
    phone: str
    at_station: bool
    orders: int
    packages: int


def pickup_points(handoff: Handoff) -> list[PickupPoint]:
    """One pick-up point per farmer of the batch, in the order their first order appears."""
    station = handoff.created_by
    by_farmer: dict[int, list[int]] = {}
    farmers: dict[int, User] = {}
    for o in handoff.orders:
        counts = by_farmer.setdefault(o.farmer_id, [0, 0])
        counts[0] += 1
        counts[1] += o.packages
        farmers[o.farmer_id] = o.farmer
    points: list[PickupPoint] = []
    for farmer_id, (count, packages) in by_farmer.items():
        farmer = farmers[farmer_id]
        own = bool(farmer.pickup_address.strip())
        points.append(PickupPoint(
            farmer=farmer.name, farmer_phone=farmer.phone,
            address=farmer.pickup_address if own else station.pickup_address,
            phone=(farmer.phone if own else station.phone) or farmer.phone,
            at_station=not own, orders=count, packages=packages,
        ))
    return points


def manifest_csv(handoff: Handoff) -> bytes:
    """The manifest as a CSV Excel opens (UTF-8 with BOM). The partner may fill 快递公司/运单号
    and upload it back."""
    rows = (
        (handoff.id, line.order_id, CHANNEL_LABELS[line.channel], line.platform_order_no, line.farmer,
         line.product, line.quantity, line.unit, line.packages, line.receiver, line.phone, line.address,
         STATUS_LABELS[line.status], line.carrier, line.tracking_no)
        for line in manifest_lines(handoff)
    )
    return write_csv(rows, MANIFEST_HEADER)


def find_cjk_font() -> tuple[Path, int]:
    """A font file with Chinese glyphs and its collection index. Raises :class:`ManifestError`."""
    candidates: list[tuple[str, int]] = []
    if os.environ.get("CUNBO_CJK_FONT"):
        candidates.append((os.environ["CUNBO_CJK_FONT"], 0))
    candidates.extend(CJK_FONTS)
    for path, index in candidates:
        if Path(path).is_file():
            return Path(path), index
    raise ManifestError(N_("这台电脑上没有中文字体，无法生成 PDF 交接单；请安装 fonts-wqy-microhei，"
                           "或设置 CUNBO_CJK_FONT 指向一个中文字体文件"))


def _local(when: datetime | None, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M") if when else "—"


class _ManifestPDF(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self.title_text = title
        self.set_auto_page_break(auto=True, margin=14)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(size=9)
        self.cell(0, 5, f"{self.title_text}    第 {self.page_no()} 页 / 共 {{nb}} 页", align="C")


def manifest_pdf(handoff: Handoff, *, zone: ZoneInfo = ZoneInfo("Asia/Shanghai")) -> bytes:
    """The printable manifest as PDF bytes, with the Chinese font embedded.

    Raises :class:`ManifestError` when no Chinese font is installed.
    """
    font_path, index = find_cjk_font()
    lines = manifest_lines(handoff)
    title = f"村播 交接单 #{handoff.id}"
    pdf = _ManifestPDF(title)
    pdf.set_title(title)
    pdf.set_creator("Cunbo")
    pdf.add_font("cjk", fname=str(font_path), collection_font_number=index)
    pdf.set_font("cjk", size=10)
    pdf.add_page()

    pdf.set_font(size=18)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(size=11)
    facts = [
        f"发货方：{handoff.partner.name}",
        f"交接人：{handoff.created_by.name}",
        f"交接时间：{_local(handoff.created_at, zone)}",
        f"取件确认：{handoff.acked_by.name + ' ' + _local(handoff.acked_at, zone) if handoff.acked_by else '未确认'}",
    ]
    pdf.cell(0, 7, "    ".join(facts), new_x="LMARGIN", new_y="NEXT")
    packages = sum(line.packages for line in lines)
    pdf.cell(0, 7, f"共 {len(lines)} 单，{packages} 件包裹", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    pdf.set_font(size=10)
    header = ("订单号", "商品", "数量", "件数", "收货人", "电话", "地址", "运单号")
    with pdf.table(
        col_widths=(14, 38, 20, 12, 24, 28, 100, 36),
        headings_style=FontFace(emphasis=None, fill_color=(235, 232, 226)),
        line_height=6,
        text_align=("CENTER", "LEFT", "RIGHT", "CENTER", "LEFT", "LEFT", "LEFT", "LEFT"),
    ) as table:
        table.row(header)
        for line in lines:
            tracking = f"{line.carrier} {line.tracking_no}".strip()
            table.row((f"#{line.order_id}", line.product, f"{line.quantity} {line.unit}", str(line.packages),
                       line.receiver, line.phone, line.address, tracking))
    _signature_lines(pdf, ("交货人（村级服务站）签字", "取件人（发货方）签字"))
    return bytes(pdf.output())


def _signature_lines(pdf: FPDF, who: Sequence[str]) -> None:
    pdf.ln(10)
    pdf.set_font(size=12)
    for label in who:
        pdf.cell(0, 12, f"{label}：______________________    日期：______________", new_x="LMARGIN", new_y="NEXT")
