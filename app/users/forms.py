"""The new-user form."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from accounts.roles import ROLE_LABELS


class UserForm(FlaskForm):
    """A new account; a PIN only for farmers."""

    username = StringField(_l("用户名"), validators=[DataRequired(_l("请填写用户名")), Length(min=2, max=40)])
    display_name = StringField(_l("显示的名字"), validators=[Optional(), Length(max=40)])
    role = SelectField(_l("角色"), choices=[SelectChoice(code, label) for code, label in ROLE_LABELS.items()])
    village = StringField(_l("村"), validators=[Optional(), Length(max=60)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请填写密码")), Length(min=8, max=200)])
    pin = StringField(
        _l("PIN 码（农户可选）"),
        validators=[Optional(), Regexp(r"^[0-9]{4,6}$", message=_l("PIN 码是 4–6 位数字"))],
    )
