"""Money as people write it and as Cunbo keeps it: integer fen (分).

``parse_yuan`` reads what a coordinator types or Excel writes (``25``, ``25.5``, ``¥25.50``,
``25元``, full-width digits, ``1,250.00``) and refuses anything else with a readable reason.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

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
    Raises ``ValueError`` with a readable message for an empty, negative, non-numeric, too
    precise (more than two decimals) or absurdly large price.
    """
    if isinstance(text, int):
        text = str(text)
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    shown = str(text).strip()
    if not raw:
        raise ValueError("价格不能为空 (price is empty)")
    cleaned = _CURRENCY.sub("", raw).replace(" ", "")
    cleaned = _CURRENCY.sub("", cleaned)
    if cleaned.startswith("-"):
        raise ValueError(f"价格不能是负数：{shown} (negative price)")
    if not _NUMBER.match(cleaned):
        raise ValueError(f"价格不是数字：{shown} (not a number; write e.g. 25.50)")
    try:
        amount = Decimal(cleaned.replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the pattern above already rules this out
        raise ValueError(f"价格不是数字：{shown} (not a number)") from exc
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"价格最多两位小数：{shown} (at most two decimals)")
    if fen > MAX_FEN:
        raise ValueError(f"价格太大：{shown}（最多 {MAX_FEN // 100} 元） (price too large)")
    return int(fen)
