"""Mainland China mobile numbers as people type them: spaces, dashes, brackets, +86 or 0086."""
from __future__ import annotations

import re

from db import N_
from orders.errors import OrderError

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS = re.compile(r"[\s\-()（）.]")


def normalise_phone(raw: str) -> str:
    """The 11-digit mobile number in ``raw`` (``+86 138-0013-8000`` → ``13800138000``).

    Raises :class:`~orders.errors.OrderError` when it is not a mainland mobile number (including
    the masked ``138****8000`` that some platforms export).
    """
    digits = _SEPARATORS.sub("", raw or "")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
            break
    else:
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
    if not MOBILE_RE.match(digits):
        # "（空）" is a msgid too: app.i18n.translated translates text values.
        raise OrderError(N_("手机号码不对：%(phone)s，应为 11 位手机号，如 13800138000"), field="buyer_phone",
                         phone=(raw or "").strip() or N_("（空）"))
    return digits
