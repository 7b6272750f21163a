"""The admin's list of accounts and the new-account form."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from accounts import services as accounts
from accounts.models import User
from accounts.roles import ADMIN, ROLE_LABELS
from app.database import get_db
from app.home import HomeCard, register_card
from app.i18n import N_, localized
from app.security import role_required
from app.users import bp
from app.users.forms import UserForm

register_card(
    HomeCard(title=N_("用户"), hint=N_("添加农户、服务站、讲师和发货方的账号"), endpoint="users.index", roles=(ADMIN,), order=90)
)


@bp.route("/", methods=["GET", "POST"])
@role_required(ADMIN)
def index() -> ResponseReturnValue:
    """Every account, and a form to add one."""
    session = get_db()
    form = UserForm()
    form.role.choices = [SelectChoice(code, _(label)) for code, label in ROLE_LABELS.items()]
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                session,
                form.username.data,
                form.role.data,
                form.password.data,
                display_name=form.display_name.data or "",
                village=form.village.data or "",
                pin=form.pin.data or None,
            )
        except accounts.AccountError as exc:
            flash(localized(exc), "error")
            status = 400
        else:
            session.commit()
            flash(_("已添加 %(name)s", name=user.name), "success")
            return redirect(url_for("users.index"))
    elif form.is_submitted():
        status = 400
    users = session.scalars(select(User).order_by(User.role, User.username)).all()
    return render_template("users/index.html", form=form, users=users, role_labels=ROLE_LABELS), status

