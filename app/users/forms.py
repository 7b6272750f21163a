"""The account forms: a new user, changes to one, a new PIN."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import PasswordInput

from accounts.roles import ROLE_LABELS
from accounts.services import MIN_PASSWORD

PIN_RULE = Regexp(r"^[0-9]{4,6}$", message=_l("PIN 码是 4–6 位数字"))
# A refused form shows back what was typed (the admin retypes nothing but the mistake).
SHOWN_PASSWORD = PasswordInput(hide_value=False)


def _password(label: str) -> PasswordField:
    return PasswordField(label, widget=SHOWN_PASSWORD, render_kw={"autocomplete": "new-password"}, validators=[
        Optional(), Length(min=MIN_PASSWORD, max=200, message=_l("密码至少 %(n)d 位", n=MIN_PASSWORD))])


class _ContactFields(FlaskForm):
    display_name = StringField(_l("显示的名字"), validators=[Optional(), Length(max=40)])
    role = SelectField(_l("角色"), choices=[SelectChoice(code, label) for code, label in ROLE_LABELS.items()])
    village = StringField(_l("村"), validators=[Optional(), Length(max=60)])
    phone = StringField(_l("电话"), validators=[Optional(), Length(max=20)], render_kw={"inputmode": "tel"})
    pickup_address = StringField(_l("取件地址（发货方来这里取包裹）"), validators=[Optional(), Length(max=200)])


class UserForm(_ContactFields):
    """A new account; a PIN only for farmers, and a farmer with a PIN needs no password."""

    username = StringField(_l("用户名"), validators=[DataRequired(_l("请填写用户名")), Length(min=2, max=40)])
    password = _password(_l("密码（只用 PIN 的农户可不填）"))
    pin = StringField(_l("PIN 码（农户可选）"), validators=[Optional(), PIN_RULE], render_kw={"inputmode": "numeric"})


class EditUserForm(_ContactFields):
    """Changes to an account; the password only when a new one is typed."""

    password = _password(_l("新密码（不改就不填）"))


class PinForm(FlaskForm):
    """A farmer's new PIN."""

    pin = StringField(_l("新 PIN 码"), validators=[DataRequired(_l("请填写新 PIN 码")), PIN_RULE],
                      render_kw={"inputmode": "numeric", "autocomplete": "off"})
