"""The 直播预告 poster: a PNG per plan for WeChat groups — time, host, products with photos and
prices, a QR code. Drawn by Pillow with the same CJK font as the video overlay, so the Chinese is
real glyphs, not boxes."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import segno
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy.orm import Session

from capture.overlay import fit_text, font_path
from catalog.models import Product
from catalog.money import format_yuan
from catalog.photos import card_path
from schedules.models import BroadcastPlan

WIDTH, HEIGHT = 1080, 1560
RED, RED_DARK, INK, MUTED, PAPER = "#c8102e", "#8f0a20", "#222222", "#666666", "#fff8ef"
WEEKDAYS = "一二三四五六日"
MAX_PRODUCTS = 4


@dataclass(frozen=True)
class PosterProduct:
    name: str
    price: str
    photo: Path | None = None


@dataclass(frozen=True)
class PosterInfo:
    """Everything printed on the poster, already in words (times in the village's zone)."""

    title: str
    when: str
    host: str
    products: list[PosterProduct] = field(default_factory=list)
    qr_text: str = ""


# The boxes where text is drawn, for tests that read the poster back.
TITLE_BOX = (60, 170, WIDTH - 60, 290)


def when_text(starts_at: datetime, duration_s: int, zone: str) -> str:
    """``12月3日 周四 06:00–07:00`` in the village's zone."""
    tz = ZoneInfo(zone)
    start, end = starts_at.astimezone(tz), (starts_at + timedelta(seconds=duration_s)).astimezone(tz)
    return f"{start.month}月{start.day}日 周{WEEKDAYS[start.weekday()]} {start:%H:%M}–{end:%H:%M}"


def render(info: PosterInfo, font_file: str | None = None) -> bytes:
    """The poster as PNG bytes; ``font_file`` defaults to the overlay's CJK font."""
    path = font_file or font_path()

    def f(size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(path, size)

    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 150), fill=RED)
    draw.text((WIDTH // 2, 75), "直播预告", font=f(84), fill="white", anchor="mm")
    draw.text((60, 230), fit_text(info.title, f(64), WIDTH - 120), font=f(64), fill=INK, anchor="lm")
    draw.text((60, 330), info.when, font=f(48), fill=RED_DARK, anchor="lm")
    draw.text((60, 405), f"主播：{info.host}", font=f(40), fill=MUTED, anchor="lm")
    y = 470
    for product in info.products[:MAX_PRODUCTS]:
        draw.rounded_rectangle((60, y, WIDTH - 60, y + 200), radius=20, fill="white", outline="#e5ddd0", width=2)
        if product.photo is not None:
            with Image.open(product.photo) as photo:
                image.paste(photo.convert("RGB").resize((170, 170)), (76, y + 15))
        else:
            draw.rounded_rectangle((76, y + 15, 246, y + 185), radius=14, fill="#f1e9dc")
            draw.text((161, y + 100), product.name[:1], font=f(90), fill=RED, anchor="mm")
        draw.text((276, y + 60), fit_text(product.name, f(50), WIDTH - 380), font=f(50), fill=INK, anchor="lm")
        draw.text((276, y + 140), product.price, font=f(56), fill=RED, anchor="lm")
        y += 220
    qr = segno.make(info.qr_text or info.title, error="m")
    out = io.BytesIO()
    qr.save(out, kind="png", scale=10, border=2)
    out.seek(0)
    with Image.open(out) as code_file:
        code = code_file.convert("RGB").resize((300, 300), Image.Resampling.NEAREST)
    image.paste(code, ((WIDTH - 300) // 2, HEIGHT - 400))
    draw.text((WIDTH // 2, HEIGHT - 60), "扫码进直播间 · 到点准时开播", font=f(40), fill=MUTED, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def plan_poster(session: Session, plan: BroadcastPlan, starts_at: datetime, *, data_dir: Path, zone: str) -> bytes:
    """The poster of one occurrence of ``plan``: its lineup's names, prices in force and photos."""
    products = []
    for product_id in plan.lineup[:MAX_PRODUCTS]:
        product = session.get(Product, product_id)
        if product is None:
            continue
        price = f"{format_yuan(product.price_at(starts_at))}/{product.unit}"
        products.append(PosterProduct(product.name, price, card_path(Path(data_dir), product)))
    host = plan.host.name + (f" · {plan.host.village}" if plan.host.village else "")
    info = PosterInfo(plan.title, when_text(starts_at, plan.duration_s, zone), host, products, plan.qr_text)
    return render(info)
