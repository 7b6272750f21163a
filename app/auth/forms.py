"""Login forms (Flask-WTF: every form carries a CSRF token)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, StringField
from wtforms.validators import DataRequired, Length, Regexp


class LoginForm(FlaskForm):
    """User name and password."""

    username = StringField(_l("用户名"), validators=[DataRequired(_l("请填写用户名")), Length(max=40)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请填写密码")), Length(max=200)])


class PinForm(FlaskForm):
    """A farmer taps their name and types a 4–6 digit PIN."""

    username = RadioField(_l("我是"), validators=[DataRequired(_l("请点选您的名字"))], choices=[])
    pin = PasswordField(
        _l("PIN 码"),
        validators=[DataRequired(_l("请输入 PIN 码")), Regexp(r"^[0-9]{4,6}$", message=_l("PIN 码是 4–6 位数字"))],
    )
