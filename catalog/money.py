"""Money as people write it and as Cunbo keeps it: integer fen (分).

``parse_yuan`` reads what a coordinator types or Excel writes (``25``, ``25.5``, ``¥25.50``,
``25元``, full-width digits, ``1,250.00``) and refuses anything else with a readable reason.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from catalog.errors import N_, InvalidProduct

# A typo guard: no farm product on a village stream costs a million yuan.
MAX_FEN = 100_000_000

_CURRENCY = re.compile(r"^(?:¥|RMB|CNY)\s*|\s*(?:元|块|RMB|CNY)$", re.IGNORECASE)
_NUMBER = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?$|^\.\d+$")


def yuan_text(fen: int) -> str:
    """``2550`` → ``"25.50"``: yuan with two decimals, as a CSV cell carries it."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def format_yuan(fen: int | None) -> str:
    """``2550`` → ``"¥25.50"``; ``None`` → ``""``."""
    if fen is None:
        return ""
    text = yuan_text(fen)
    return f"-¥{text[1:]}" if text.startswith("-") else f"¥{text}"


def parse_yuan(text: str | int | Decimal) -> int:
    """Read a price in yuan and return fen.

    Accepts ``25``, ``25.5``, ``¥25.50``, ``￥25.50``, ``25元``, ``２５．５``, ``1,250.00``.
    Raises :class:`~catalog.errors.InvalidProduct` (a ``ValueError``) with a message id for an
    empty, negative, non-numeric, too precise (more than two decimals) or absurdly large price.
    """
    if isinstance(text, int):
        text = str(text)
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    shown = str(text).strip()
    if not raw:
        raise InvalidProduct(N_("价格不能为空"))
    cleaned = _CURRENCY.sub("", raw).replace(" ", "")
    cleaned = _CURRENCY.sub("", cleaned)
    if cleaned.startswith("-"):
        raise InvalidProduct(N_("价格不能是负数：%(price)s"), price=shown)
    if not _NUMBER.match(cleaned):
        raise InvalidProduct(N_("价格不是数字：%(price)s，请写成 25.50 这样"), price=shown)
    try:
        amount = Decimal(cleaned.replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the pattern above already rules this out
        raise InvalidProduct(N_("价格不是数字：%(price)s，请写成 25.50 这样"), price=shown) from exc
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise InvalidProduct(N_("价格最多两位小数：%(price)s"), price=shown)
    if fen > MAX_FEN:
        raise InvalidProduct(N_("价格太大：%(price)s（最多 %(max)d 元）"), price=shown, max=MAX_FEN // 100)
    return int(fen)
