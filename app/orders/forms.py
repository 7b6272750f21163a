"""Forms for logging and correcting an order and for uploading a seller-centre export."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from orders.services import MAX_QUANTITY


class OrderForm(FlaskForm):
    """A new order as a farmer or coordinator types it from a comment, call or WeChat message."""

    product_id = SelectField(_l("商品"), coerce=int, validators=[DataRequired(_l("请选择商品"))])
    quantity = IntegerField(_l("数量"), default=1, validators=[
        DataRequired(_l("请填写数量")), NumberRange(min=1, max=MAX_QUANTITY, message=_l("数量要在 1 以上"))])
    buyer_name = StringField(_l("收货人"), validators=[DataRequired(_l("请填写收货人")), Length(max=40)])
    buyer_phone = StringField(_l("手机号"), validators=[DataRequired(_l("请填写手机号")), Length(max=40)])
    address = TextAreaField(_l("收货地址"), validators=[DataRequired(_l("请填写收货地址")), Length(max=200)])
    channel = SelectField(_l("渠道"), default="wechat")
    platform_order_no = StringField(_l("平台订单号（可不填）"), validators=[Optional(), Length(max=64)])
    packages = IntegerField(_l("包裹件数"), default=1, validators=[
        Optional(), NumberRange(min=1, max=1000, message=_l("件数要在 1 以上"))])


class EditOrderForm(FlaskForm):
    """Corrections before hand-off; the unit price stays as it was."""

    quantity = IntegerField(_l("数量"), validators=[
        DataRequired(_l("请填写数量")), NumberRange(min=1, max=MAX_QUANTITY, message=_l("数量要在 1 以上"))])
    buyer_name = StringField(_l("收货人"), validators=[DataRequired(_l("请填写收货人")), Length(max=40)])
    buyer_phone = StringField(_l("手机号"), validators=[DataRequired(_l("请填写手机号")), Length(max=40)])
    address = TextAreaField(_l("收货地址"), validators=[DataRequired(_l("请填写收货地址")), Length(max=200)])
    packages = IntegerField(_l("包裹件数"), validators=[
        DataRequired(_l("请填写件数")), NumberRange(min=1, max=1000, message=_l("件数要在 1 以上"))])


class ImportForm(FlaskForm):
    """A CSV exported from a platform's seller centre."""

    channel = SelectField(_l("来自哪个平台"), default="taobao")
    file = FileField(_l("订单表格文件"), validators=[FileRequired(_l("请选择文件"))])
    dry_run = BooleanField(_l("只检查，不导入"))
    partial = BooleanField(_l("有错的行跳过，其余照常导入"))
