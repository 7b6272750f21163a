"""The overlay: a scene of plain values, rendered into cards once per change, blended per frame.

Rendering (Pillow, CJK font) happens in :meth:`Compositor.set_scene` — on the caller's thread,
only for the cards whose content changed — and once per second for a running countdown. Each
card is turned into I420 planes with a precomputed alpha, so the per-frame work is a few integer
array operations inside each card's region, never a full-frame composite.
"""
from __future__ import annotations

import functools
import logging
import math
import os
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFont

from capture.frames import i420_planes

log = logging.getLogger(__name__)

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
    "/System/Library/Fonts/PingFang.ttc",
)
NAME_MAX_CHARS = 40  # what the scene may carry; the card shows at least the first 16 in full
NAME_MIN_SHOWN = 16
CARD_CACHE_PER_KIND = 12

# Colours (RGBA). The accent bar is opaque so that it survives the encoder unchanged enough to
# be found in a frame grabbed back from the stream.
ACCENT = (229, 57, 53, 255)  # brand red
CARD_BG = (0, 0, 0, 190)
PRICE = (255, 213, 79, 255)  # warm yellow
WHITE = (255, 255, 255, 255)
MUTED = (190, 190, 190, 255)
BADGE_BG = (255, 213, 79, 255)
BADGE_FG = (40, 20, 0, 255)
SOLD_OUT_BG = (229, 57, 53, 255)
COUNTDOWN_BG = (245, 124, 0, 235)
SLATE_BG = (27, 42, 73)  # RGB, dark navy


@functools.cache
def font_path() -> str:
    """The CJK font file: $CUNBO_FONT, else the first known system font that exists.

    Raises FileNotFoundError when there is none (install fonts-wqy-microhei).
    """
    configured = os.environ.get("CUNBO_FONT")
    for candidate in ((configured,) if configured else ()) + FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise FileNotFoundError("no CJK font found: install fonts-wqy-microhei or set CUNBO_FONT")


@functools.lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont:
    """The CJK font at ``size`` pixels (cached: loading a .ttc costs milliseconds)."""
    return ImageFont.truetype(font_path(), max(8, size))


def clean_text(text: str, limit: int = NAME_MAX_CHARS) -> str:
    """Text safe to draw: control/format characters and lone surrogates removed, whitespace runs
    collapsed, at most ``limit`` characters. Markup such as "<script>" stays literal text."""
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp") or ch.isspace():
            kept.append(" ")
        elif cat not in ("Cf", "Cs"):
            kept.append(ch)
    return " ".join("".join(kept).split())[:limit]


def fit_text(text: str, fnt: ImageFont.FreeTypeFont, max_width: float) -> str:
    """``text`` cut with "…" so that it fits ``max_width`` pixels."""
    if fnt.getlength(text) <= max_width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if fnt.getlength(text[:mid] + "…") <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def format_price(fen: int, unit: str = "") -> str:
    """Integer fen to the on-screen price: 2550, "斤" → "¥25.50/斤"."""
    text = f"¥{fen // 100}.{fen % 100:02d}"
    unit = clean_text(unit, 8)
    return f"{text}/{unit}" if unit else text


@dataclass(frozen=True)
class OverlayScene:
    """What the overlay shows, as plain values. An empty scene shows no product card.

    Money is integer fen; ``countdown_ends_at`` is a wall-clock deadline (``time.time()``
    seconds), so it means the same in every process and after a restart. Raises
    ValueError for negative money, stock or link numbers.
    """

    product_name: str = ""
    price_fen: int | None = None
    unit: str = ""
    promo_price_fen: int | None = None
    show_promo: bool = False
    stock: int | None = None
    link_no: int | None = None
    origin: str = ""
    countdown_ends_at: float | None = None
    qr_text: str | None = None
    farmer_name: str = ""
    village: str = ""

    def __post_init__(self) -> None:
        for name in ("price_fen", "promo_price_fen", "stock", "link_no"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ValueError(f"{name} must be a non-negative integer or None")

    @property
    def has_product(self) -> bool:
        """True when the product card is shown."""
        return bool(self.product_name.strip()) or self.price_fen is not None


def countdown_left(ends_at: float | None, now: float | None = None) -> int | None:
    """Whole seconds a countdown still shows (rounded up: "1" until it ends), None when over or
    none. The video and every status use this one rounding."""
    if ends_at is None:
        return None
    left = math.ceil(ends_at - (time.time() if now is None else now))
    return left if left > 0 else None


# -- layout --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A rectangle in output pixels."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Layout:
    """Where cards go. Safe margins keep text clear of TV overscan (16:9) and of the platform's
    own buttons and comment stream (9:16: right column and bottom quarter on Douyin)."""

    width: int
    height: int
    portrait: bool

    @property
    def scale(self) -> float:
        return min(self.width, self.height) / 720

    @property
    def safe(self) -> Box:
        w, h = self.width, self.height
        if self.portrait:
            left, right, top, bottom = 0.04 * w, 0.16 * w, 0.10 * h, 0.22 * h
        else:
            left, right, top, bottom = 0.04 * w, 0.04 * w, 0.05 * h, 0.05 * h
        return Box(_even(left), _even(top), _even(w - left - right), _even(h - top - bottom))

    @property
    def product_width(self) -> int:
        return self.safe.w if self.portrait else _even(0.42 * self.width)


def _even(value: float) -> int:
    """Round down to even: I420 chroma is 2×2, so card edges stay on chroma boundaries."""
    return int(value) // 2 * 2


# -- card rendering (Pillow) ----------------------------------------------------------------


def _rounded(size: tuple[int, int], radius: int, fill: tuple[int, int, int, int]) -> Image.Image:
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(img).rounded_rectangle((0, 0, size[0] - 1, size[1] - 1), radius=radius, fill=fill)
    return img


def _text_w(fnt: ImageFont.FreeTypeFont, text: str) -> int:
    return math.ceil(fnt.getlength(text))


def render_product_card(scene: OverlayScene, width: int, scale: float) -> Image.Image:
    """The product card: link number and origin, name, price (promo with the original struck
    through), stock or 已售罄. ``width`` in pixels; returns RGBA."""
    pad, accent_w, gap = round(18 * scale), max(4, round(12 * scale)), round(8 * scale)
    inner_x, inner_w = accent_w + pad, width - accent_w - 2 * pad
    small, name_size = font(round(24 * scale)), min(round(36 * scale), int(inner_w / NAME_MIN_SHOWN))
    name_font, price_font, unit_font = font(name_size), font(round(58 * scale)), font(round(28 * scale))

    rows: list[tuple[float, Callable[[ImageDraw.ImageDraw, int], None]]] = []

    def badge_row(draw: ImageDraw.ImageDraw, y: int) -> None:
        x = inner_x
        if scene.link_no is not None:
            label = f"{scene.link_no}号链接"
            bw, bh = _text_w(small, label) + 2 * gap, small.size + gap
            draw.rounded_rectangle((x, y, x + bw, y + bh), radius=bh // 2, fill=BADGE_BG)
            draw.text((x + gap, y + gap // 2), label, font=small, fill=BADGE_FG)
            x += bw + gap
        origin = clean_text(scene.origin, 20)
        if origin:
            draw.text((x, y + gap // 2), fit_text(f"产地：{origin}", small, inner_x + inner_w - x), font=small, fill=MUTED)

    if scene.link_no is not None or clean_text(scene.origin):
        rows.append((small.size + gap, badge_row))

    name = clean_text(scene.product_name)
    if name:
        rows.append((round(name_size * 1.25), lambda d, y: d.text(
            (inner_x, y), fit_text(name, name_font, inner_w), font=name_font, fill=WHITE)))

    if scene.price_fen is not None:
        promo = scene.show_promo and scene.promo_price_fen is not None

        def price_row(draw: ImageDraw.ImageDraw, y: int) -> None:
            shown = scene.promo_price_fen if promo and scene.promo_price_fen is not None else scene.price_fen
            assert shown is not None
            big = format_price(shown)
            draw.text((inner_x, y), big, font=price_font, fill=PRICE, stroke_width=1, stroke_fill=PRICE)
            x = inner_x + _text_w(price_font, big) + gap // 2
            base = y + price_font.size - unit_font.size
            unit = clean_text(scene.unit, 8)
            if unit:
                draw.text((x, base), f"/{unit}", font=unit_font, fill=WHITE)
                x += _text_w(unit_font, f"/{unit}") + gap * 2
            if promo and scene.price_fen is not None:
                was = format_price(scene.price_fen)
                draw.text((x, base), was, font=unit_font, fill=MUTED)
                mid = base + unit_font.size * 0.55
                draw.line((x, mid, x + _text_w(unit_font, was), mid), fill=MUTED, width=max(2, round(3 * scale)))

        rows.append((round(price_font.size * 1.2), price_row))

    if scene.stock is not None:
        def stock_row(draw: ImageDraw.ImageDraw, y: int) -> None:
            if scene.stock == 0:
                label = "已售罄"
                bw, bh = _text_w(small, label) + 2 * gap, small.size + gap
                draw.rounded_rectangle((inner_x, y, inner_x + bw, y + bh), radius=gap, fill=SOLD_OUT_BG)
                draw.text((inner_x + gap, y + gap // 2), label, font=small, fill=WHITE)
            else:
                unit = clean_text(scene.unit, 8)
                draw.text((inner_x, y + gap // 2), f"剩余 {scene.stock} {unit}".rstrip(), font=small, fill=WHITE)

        rows.append((small.size + gap, stock_row))

    height = _even(pad * 2 + sum(h for h, _ in rows) + gap * max(0, len(rows) - 1) + 1)
    card = _rounded((width, height), round(14 * scale), CARD_BG)
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, accent_w - 1, height - 1), fill=ACCENT)
    y = pad
    for row_h, paint in rows:
        paint(draw, y)
        y += round(row_h) + gap
    return card


def place_product_card(scene: OverlayScene, layout: Layout) -> tuple[int, int, Image.Image]:
    """The product card of ``scene`` and where it goes: at the left of the safe area, its bottom
    on the safe area's bottom (in portrait the full safe width, in landscape 42 % of the frame)."""
    img = render_product_card(scene, layout.product_width, layout.scale)
    safe = layout.safe
    return safe.x, _even(safe.y + safe.h - img.height), img


def product_card_box(scene: OverlayScene, width: int, height: int) -> Box | None:
    """The box the product card of ``scene`` covers in a ``width``×``height`` frame as the
    compositor draws it (portrait when the frame is taller than wide), clipped to the frame;
    None when the scene shows no product. Clips use it to find the card in a recording."""
    if not scene.has_product:
        return None
    x, y, img = place_product_card(scene, Layout(width, height, height > width))
    x, y, w, h = _inside(x, y, img.size, width, height)
    return Box(x, y, w, h) if w > 0 and h > 0 else None


def _inside(x: int, y: int, size: tuple[int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of a card placed at (x, y) cut to the frame, even sides: a card never reaches
    past the frame (tiny outputs, very long content)."""
    x, y = max(0, x), max(0, y)
    return x, y, _even(min(size[0], width - x)), _even(min(size[1], height - y))


def render_qr_card(text: str, scale: float) -> Image.Image | None:
    """A white card with a QR code of ``text`` and "扫码下单" under it; None (and a warning) when
    the text is too long for a QR code — a bad link must not stop the broadcast."""
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cs")  # lone surrogates: not encodable
    try:
        qr = segno.make(text, error="m")
    except ValueError as exc:  # segno.DataOverflowError
        log.warning("QR code not shown: %s", exc)
        return None
    modules = np.array(list(qr.matrix_iter(scale=1, border=2)), dtype=bool)
    side = _even(150 * scale)
    code = Image.fromarray(np.where(modules, 0, 255).astype(np.uint8), "L").resize((side, side), Image.Resampling.NEAREST)
    caption_font, pad = font(round(22 * scale)), round(10 * scale)
    width, height = _even(side + 2 * pad), _even(side + 2 * pad + caption_font.size * 1.4)
    card = _rounded((width, height), round(12 * scale), WHITE)
    card.paste(code.convert("RGBA"), (pad, pad))
    caption = "扫码下单"
    ImageDraw.Draw(card).text(((width - _text_w(caption_font, caption)) // 2, pad + side + pad // 2),
                              caption, font=caption_font, fill=(20, 20, 20, 255))
    return card


def render_host_card(farmer_name: str, village: str, scale: float, max_width: int) -> Image.Image:
    """The host's name and village: "主播 张大姐 · 王家村"."""
    parts = [p for p in (clean_text(farmer_name, 20), clean_text(village, 20)) if p]
    fnt, pad = font(round(26 * scale)), round(12 * scale)
    text = fit_text("主播 " + " · ".join(parts), fnt, max_width - 2 * pad)
    size = (_even(_text_w(fnt, text) + 2 * pad + 1), _even(fnt.size + 2 * pad))
    card = _rounded(size, size[1] // 2, CARD_BG)
    ImageDraw.Draw(card).text((pad, pad - round(2 * scale)), text, font=fnt, fill=WHITE)
    return card


def render_countdown_card(seconds_left: int, scale: float) -> Image.Image:
    """"限时抢购 02:59" in an orange pill."""
    fnt, pad = font(round(30 * scale)), round(12 * scale)
    text = f"限时抢购 {seconds_left // 60:02d}:{seconds_left % 60:02d}"
    size = (_even(_text_w(fnt, text) + 2 * pad + 1), _even(fnt.size + 2 * pad))
    card = _rounded(size, size[1] // 2, COUNTDOWN_BG)
    ImageDraw.Draw(card).text((pad, pad - round(2 * scale)), text, font=fnt, fill=WHITE)
    return card


def render_text_bgr(text: str, size: int, fg: tuple[int, int, int], bg: tuple[int, int, int]) -> np.ndarray:
    """``text`` on a solid background as a BGR array (for the test pattern and the slate)."""
    fnt = font(size)
    img = Image.new("RGB", (_text_w(fnt, text) + size // 2, round(size * 1.4)), bg)
    ImageDraw.Draw(img).text((size // 4, size // 8), text, font=fnt, fill=fg)
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def render_neutral(width: int, height: int) -> np.ndarray:
    """The I420 frame shown before the first camera frame: the slate's colour, no message."""
    img = Image.new("RGB", (width, height), SLATE_BG)
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2YUV_I420)


def render_slate(width: int, height: int) -> np.ndarray:
    """The I420 frame shown while the source reconnects: "画面中断，正在重连…"."""
    bg = SLATE_BG
    img = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(img)
    big, small = font(round(height / 12)), font(round(height / 30))
    for text, fnt, fill, y in (("画面中断，正在重连…", big, (255, 255, 255), height * 0.42),
                               ("Video source lost, reconnecting", small, (170, 180, 200), height * 0.55)):
        text = fit_text(text, fnt, width * 0.9)
        draw.text(((width - fnt.getlength(text)) / 2, y), text, font=fnt, fill=fill)
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2YUV_I420)


# -- cards as blend-ready I420 --------------------------------------------------------------


@dataclass
class Card:
    """One rendered card placed at (x, y), ready to blend into I420 frames.

    For each plane: ``inv`` = 256 − α and ``fg`` = colour·α + 128, both uint16, so a blend is
    ``(roi·inv + fg) >> 8`` — exact enough, no floats, no allocation (``scratch`` is reused;
    only the output loop blends).
    """

    name: str
    x: int
    y: int
    image: Image.Image  # the RGBA source (kept for the ffmpeg reference in bench/pipeline.py)
    planes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    @classmethod
    def from_rgba(cls, name: str, x: int, y: int, image: Image.Image) -> Card:
        """Precompute the blend planes; ``x``, ``y`` and the image size must be even."""
        rgba = np.asarray(image.convert("RGBA"))
        h, w = rgba.shape[:2]
        alpha = rgba[..., 3].astype(np.uint16)
        alpha = alpha + (alpha >> 7)  # 0..255 → 0..256, so opaque means exactly the card colour
        yuv = cv2.cvtColor(np.ascontiguousarray(rgba[..., :3]), cv2.COLOR_RGB2YUV_I420)
        yc, uc, vc = i420_planes(yuv, w, h)
        a_uv = (alpha[0::2, 0::2] + alpha[1::2, 0::2] + alpha[0::2, 1::2] + alpha[1::2, 1::2] + 2) >> 2
        planes = []
        for colour, a in ((yc, alpha), (uc, a_uv), (vc, a_uv)):
            fg = colour.astype(np.uint16) * a + 128
            planes.append((256 - a, fg, np.empty(a.shape, np.uint16)))
        return cls(name, x, y, image, planes)

    @property
    def box(self) -> Box:
        return Box(self.x, self.y, self.image.width, self.image.height)

    def blend_into(self, frame: np.ndarray, width: int, height: int) -> None:
        """Blend this card into ``frame`` (I420, width×height) in place, inside its box only."""
        for plane, (inv, fg, scratch), div in zip(i420_planes(frame, width, height), self.planes, (1, 2, 2)):
            h, w = inv.shape
            x, y = self.x // div, self.y // div
            roi = plane[y:y + h, x:x + w]
            np.multiply(roi, inv, out=scratch)
            scratch += fg
            scratch >>= 8
            np.copyto(roi, scratch, casting="unsafe")


class Compositor:
    """Holds the current cards and blends them. ``set_scene`` and ``tick`` may be called from
    any thread; ``compose`` from one (the output loop). Swapping a tuple is atomic, so a frame
    sees either the old cards or the new ones, never half."""

    def __init__(self, width: int, height: int, portrait: bool = False) -> None:
        self.layout = Layout(width, height, portrait)
        self.width, self.height = width, height
        self._lock = threading.Lock()  # one render at a time
        self._scene = OverlayScene()
        # A few rendered cards per kind, by content: a farmer goes back and forth through a
        # lineup of a handful of products, and a card seen before switches in without rendering.
        self._rendered: dict[str, OrderedDict[object, Card | None]] = {}
        self._state: tuple[int, tuple[Card, ...]] = (0, ())
        self._countdown_left: int | None = None
        self.renders = 0  # card renders so far (tests check the countdown re-renders once a second)

    @property
    def scene(self) -> OverlayScene:
        return self._scene

    @property
    def version(self) -> int:
        """Increments on every set_scene."""
        return self._state[0]

    def cards(self) -> tuple[Card, ...]:
        """The cards now on the video (top-most last)."""
        return self._state[1]

    def boxes(self) -> dict[str, Box]:
        """Each visible card's box by name: "host", "countdown", "product", "qr"."""
        return {card.name: card.box for card in self._state[1]}

    def set_scene(self, scene: OverlayScene) -> int:
        """Render what changed and swap it in; returns the new version. Never raises for any text."""
        with self._lock:
            cards = self._render(scene, time.time())
            self._scene = scene
            self._state = (self._state[0] + 1, cards)
            return self._state[0]

    def tick(self, now: float | None = None) -> bool:
        """Re-render the countdown when its shown second changed (``now``: ``time.time()``);
        True if it did."""
        with self._lock:
            now = time.time() if now is None else now
            if self._countdown_seconds(self._scene, now) == self._countdown_left:
                return False
            self._state = (self._state[0], self._render(self._scene, now))
            return True

    def snapshot(self) -> tuple[int, tuple[Card, ...]]:
        """(version, cards) as one immutable value: a new object whenever the picture changes."""
        return self._state

    def compose(
        self, frame: np.ndarray, snapshot: tuple[int, tuple[Card, ...]] | None = None
    ) -> tuple[np.ndarray, int]:
        """A copy of ``frame`` (I420) with the cards of ``snapshot`` (default: the current ones)
        blended in, and the scene version it shows."""
        version, cards = snapshot if snapshot is not None else self._state
        out = frame.copy()
        for card in cards:
            card.blend_into(out, self.width, self.height)
        return out, version

    @staticmethod
    def _countdown_seconds(scene: OverlayScene, now: float) -> int | None:
        return countdown_left(scene.countdown_ends_at, now)

    def _card(self, name: str, key: object, make: Callable[[], tuple[int, int, Image.Image] | None]) -> Card | None:
        cached = self._rendered.setdefault(name, OrderedDict())
        if key in cached:
            cached.move_to_end(key)
            return cached[key]
        made = make()
        card = None
        if made is not None:
            x, y, img = made
            x, y, w, h = _inside(x, y, img.size, self.width, self.height)
            if (w, h) != img.size:
                img = img.crop((0, 0, w, h))
            card = Card.from_rgba(name, x, y, img) if w > 0 and h > 0 else None
        self.renders += made is not None
        cached[key] = card
        if len(cached) > CARD_CACHE_PER_KIND:
            cached.popitem(last=False)
        return card

    def _render(self, scene: OverlayScene, now: float) -> tuple[Card, ...]:
        lay, s = self.layout, self.layout.scale
        safe = lay.safe

        def product() -> tuple[int, int, Image.Image] | None:
            return place_product_card(scene, lay) if scene.has_product else None

        product_card = self._card("product", (
            scene.has_product, scene.product_name, scene.price_fen, scene.unit, scene.promo_price_fen,
            scene.show_promo, scene.stock, scene.link_no, scene.origin, lay), product)

        def qr() -> tuple[int, int, Image.Image] | None:
            if not scene.qr_text:
                return None
            img = render_qr_card(scene.qr_text, s)
            if img is None:
                return None
            x = _even(safe.x + safe.w - img.width)
            if lay.portrait:  # above the full-width product card, at the right
                bottom = product_card.y - round(12 * s) if product_card else safe.y + safe.h
                return x, _even(bottom - img.height), img
            return x, _even(safe.y + safe.h - img.height), img

        # The QR card sits relative to the product card in portrait, so its key includes that.
        qr_card = self._card("qr", (scene.qr_text, lay, product_card.y if (product_card and lay.portrait) else None), qr)

        def host() -> tuple[int, int, Image.Image] | None:
            if not (clean_text(scene.farmer_name) or clean_text(scene.village)):
                return None
            return safe.x, safe.y, render_host_card(scene.farmer_name, scene.village, s, safe.w // 2)

        host_card = self._card("host", (scene.farmer_name, scene.village, lay), host)

        left = self._countdown_seconds(scene, now)
        self._countdown_left = left

        def countdown() -> tuple[int, int, Image.Image] | None:
            if left is None:
                return None
            img = render_countdown_card(left, s)
            return _even(safe.x + safe.w - img.width), safe.y, img

        countdown_card = self._card("countdown", (left, lay), countdown)
        return tuple(c for c in (host_card, countdown_card, product_card, qr_card) if c is not None)
