"""The product form. Prices are typed in yuan, as people write them; the catalog keeps fen."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from app.i18n import localized
from catalog.money import parse_yuan, yuan_text
from catalog.models import Product
from catalog.spreadsheet import parse_count, parse_day, parse_moment

# Inputs a new product cannot do without, each named in its own error beside it (label msgid).
REQUIRED = (("name", _l("名称")), ("farmer", _l("农户")), ("unit", _l("单位")), ("price", _l("单价")),
            ("stock", _l("库存")))

# Catalog field → form field, so that a domain error lands under the right input.
FORM_FIELD = {
    "price_fen": "price", "promo_price_fen": "promo_price", "promo_starts_at": "promo_starts",
    "promo_ends_at": "promo_ends",
}


class ProductForm(FlaskForm):
    """A new product or changes to one. Everything is checked again by catalog.services."""

    name = StringField(_l("名称"), render_kw={"maxlength": 40, "autocomplete": "off"})
    name_en = StringField(_l("英文名（可不填）"), render_kw={"maxlength": 80})
    farmer = SelectField(_l("农户"), choices=[])
    unit = StringField(_l("单位"), render_kw={"list": "units", "maxlength": 8})
    price = StringField(_l("单价（元）"), render_kw={"inputmode": "decimal", "placeholder": "25.50"})
    stock = StringField(_l("库存"), render_kw={"inputmode": "numeric"})
    promo_price = StringField(_l("促销价（元，可不填）"), render_kw={"inputmode": "decimal"})
    promo_starts = StringField(_l("促销开始（可不填）"), render_kw={"type": "datetime-local"})
    promo_ends = StringField(_l("促销结束（可不填）"), render_kw={"type": "datetime-local"})
    link_no = StringField(_l("链接号（购物车里的序号）"), render_kw={"inputmode": "numeric"})
    sku = StringField(_l("商品编号（不填自动生成）"), render_kw={"maxlength": 64})
    origin = StringField(_l("产地"), render_kw={"maxlength": 60})
    produced_on = StringField(_l("生产/采收日期"), render_kw={"type": "date"})
    description = TextAreaField(_l("描述"), render_kw={"rows": 3, "maxlength": 2000})
    selling_points = TextAreaField(_l("卖点（一行一条，3 到 5 条，直播时给主播看）"),
                                   render_kw={"rows": 5, "maxlength": 220})
    active = BooleanField(_l("上架销售"), default=True)
    reason = StringField(_l("修改原因（记入历史，可不填）"), render_kw={"maxlength": 120})
    # Only on the new-product page; a product's photos are managed on its own pages after that.
    photo = FileField(_l("照片（可不选；JPG 或 PNG，最大 10 MB）"),
                      render_kw={"accept": "image/jpeg,image/png,image/webp"})

    def fill_from(self, product: Product, zone: ZoneInfo) -> None:
        """Show a product's current values."""
        for name in ("name", "name_en", "unit", "sku", "origin", "description", "selling_points", "active"):
            getattr(self, name).data = getattr(product, name)
        self.farmer.data = product.farmer.username
        self.price.data = yuan_text(product.price_fen)
        self.stock.data = str(product.stock)
        self.promo_price.data = "" if product.promo_price_fen is None else yuan_text(product.promo_price_fen)
        self.promo_starts.data = _local_input(product.promo_starts_at, zone)
        self.promo_ends.data = _local_input(product.promo_ends_at, zone)
        self.link_no.data = "" if product.link_no is None else str(product.link_no)
        self.produced_on.data = product.produced_on.isoformat() if product.produced_on else ""

    def values(self, zone: ZoneInfo) -> dict[str, Any] | None:
        """The typed values for catalog.services, or None after adding errors to the fields."""
        out: dict[str, Any] = {
            "name": self.name.data or "", "name_en": self.name_en.data or "", "unit": self.unit.data or "",
            "origin": self.origin.data or "", "description": self.description.data or "",
            "selling_points": self.selling_points.data or "",
            "active": bool(self.active.data), "farmer": self.farmer.data or None,
            "sku": (self.sku.data or "").strip() or None,
        }
        readers = {
            "price_fen": (self.price, lambda t: parse_yuan(t)),
            "promo_price_fen": (self.promo_price, lambda t: parse_yuan(t) if t.strip() else None),
            "stock": (self.stock, lambda t: parse_count(t, str(_l("库存")))),
            "link_no": (self.link_no, lambda t: parse_count(t, str(_l("链接号"))) if t.strip() else None),
            "promo_starts_at": (self.promo_starts,
                                lambda t: parse_moment(t, str(_l("促销开始")), zone, end=False) if t.strip() else None),
            "promo_ends_at": (self.promo_ends,
                              lambda t: parse_moment(t, str(_l("促销结束")), zone, end=True) if t.strip() else None),
            "produced_on": (self.produced_on, lambda t: parse_day(t, str(_l("生产日期"))) if t.strip() else None),
        }
        ok = True
        for name, label in REQUIRED:
            field = getattr(self, name)
            if not str(field.data or "").strip():
                field.errors = [*field.errors, str(_l("%(field)s不能为空", field=label))]
                ok = False
        for key, (field, read) in readers.items():
            if field.errors:
                continue
            try:
                out[key] = read(field.data or "")
            except ValueError as exc:
                field.errors = [*field.errors, localized(exc)]
                ok = False
        return out if ok else None

    def add_error(self, catalog_field: str | None, message: str) -> bool:
        """Show a catalog error under its input; False when no input matches."""
        field = getattr(self, FORM_FIELD.get(catalog_field or "", catalog_field or ""), None)
        if field is None or not hasattr(field, "errors"):
            return False
        field.errors = [*field.errors, message]
        return True


def _local_input(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if value else ""
