"""What can go wrong in the catalog, each with a message a person can read as it is.

Every message is a Chinese msgid marked with :func:`N_` and formatted from ``params`` after the
HTTP layer has translated it (``app.i18n.localized``), so that an English page gets English and a
Chinese one Chinese alone: never a bilingual literal.
"""
from __future__ import annotations

from db import N_

__all__ = ["N_"]  # re-exported: catalog's msgids are marked with the one N_ of every domain package


def plain(value: object) -> object:
    """A message value in Chinese: another error as its text, a list of labels joined with 、."""
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    if isinstance(value, CatalogError):
        return str(value)
    return value


class CatalogError(ValueError):
    """Bad input for a catalog operation; ``str(exc)`` is shown to the person.

    ``msgid`` and ``params`` let the HTTP layer show it in the person's language.
    """

    def __init__(self, message: str, field: str | None = None, **params: object) -> None:
        text = message % {k: plain(v) for k, v in params.items()} if params else message
        super().__init__(text)
        self.message = text
        self.msgid = message
        self.params = params
        self.field = field


class InvalidProduct(CatalogError):
    """A product field is missing or wrong; ``field`` names it."""


class ProductNotFound(CatalogError):
    """No product with that id (or one the viewer may not see)."""

    def __init__(self, product_id: int | str) -> None:
        super().__init__(N_("找不到商品 %(id)s"), id=product_id)
        self.product_id = product_id


class DuplicateSku(CatalogError):
    """Another product already has this sku."""

    def __init__(self, sku: str) -> None:
        super().__init__(N_("商品编号 %(sku)s 已被使用"), field="sku", sku=sku)
        self.sku = sku


class UnknownFarmer(CatalogError):
    """The named owner does not exist or cannot own products."""

    def __init__(self, name: str, reason: str = "", **params: object) -> None:
        super().__init__(reason or N_("找不到农户 %(name)s"), field="farmer", name=name, **params)
        self.name = name


class OutOfStock(CatalogError):
    """A stock change would make stock negative; nothing was changed."""

    def __init__(self, product_id: int, name: str, available: int, wanted: int) -> None:
        super().__init__(N_("%(name)s 库存不足：现有 %(available)d，需要 %(wanted)d"), field="stock",
                         name=name, available=available, wanted=wanted)
        self.product_id = product_id
        self.available = available
        self.wanted = wanted


class NotAllowed(CatalogError):
    """The actor's role may not change the catalog."""

    def __init__(self) -> None:
        super().__init__(N_("只有村级服务站和管理员可以修改商品"))


class PhotoRejected(CatalogError):
    """An uploaded file is not an acceptable image."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message, field="photo", **params)


class ImportFileRejected(CatalogError):
    """The uploaded spreadsheet as a whole cannot be read (too big, binary, no header...)."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message, field="file", **params)
