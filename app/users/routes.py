"""The admin's accounts: the list, a new account, changes, a new PIN, disable and enable."""
from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from accounts import services as accounts
from accounts.models import User
from accounts.roles import ADMIN, COORDINATOR, FARMER, MANAGERS, ROLE_LABELS
from app.database import get_db
from app.home import HomeCard, register_card
from app.i18n import N_, localized
from app.inputs import parse_id
from app.security import role_required
from app.users import bp
from app.users.forms import EditUserForm, PinForm, UserForm

register_card(
    HomeCard(title=N_("用户"), hint=N_("添加农户、服务站、讲师和发货方的账号"), endpoint="users.index", roles=(ADMIN,), order=90)
)
register_card(HomeCard(title=N_("农户取件地址"), hint=N_("发货方来取包裹的地址和电话"), endpoint="users.pickups",
                       roles=(COORDINATOR,), order=80))


def _role_choices(form: UserForm | EditUserForm) -> None:
    form.role.choices = [SelectChoice(code, _(label)) for code, label in ROLE_LABELS.items()]


def _show_error(form: UserForm | EditUserForm | PinForm, exc: accounts.AccountError) -> None:
    """An account error beside its input, or at the top when it names none."""
    field = getattr(form, exc.field or "", None)
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, localized(exc)]
    else:
        flash(localized(exc), "error")


def _apply(form: UserForm | EditUserForm | PinForm, operation: Callable[[], object], done: Callable[[], str]) -> bool:
    """Run one account operation for a form: commit and flash ``done()``, or roll back and show
    the error beside its field. True when it worked."""
    session = get_db()
    try:
        operation()
    except accounts.AccountError as exc:
        session.rollback()
        _show_error(form, exc)
        return False
    session.commit()
    flash(done(), "success")
    return True


@bp.route("/", methods=["GET", "POST"])
@role_required(ADMIN)
def index() -> ResponseReturnValue:
    """Every account, and a form to add one."""
    session = get_db()
    form = UserForm()
    _role_choices(form)
    status = 200
    if form.validate_on_submit():
        created: list[User] = []
        if _apply(form, lambda: created.append(accounts.create_user(
            session, form.username.data, form.role.data, form.password.data or None,
            display_name=form.display_name.data or "", village=form.village.data or "", pin=form.pin.data or None,
            phone=form.phone.data or "", pickup_address=form.pickup_address.data or "",
        )), lambda: _("已添加 %(name)s", name=created[0].name)):
            return redirect(url_for("users.index"))
        status = 400
    elif form.is_submitted():
        status = 400
    users = session.scalars(select(User).order_by(User.role, User.username)).all()
    return render_template("users/index.html", form=form, users=users, role_labels=ROLE_LABELS), status


def _user(user_id: int) -> User:
    user = get_db().get(User, user_id)
    if user is None:
        abort(404)
    return user


def _edit_page(user: User, form: EditUserForm, pin_form: PinForm, status: int = 200) -> ResponseReturnValue:
    return render_template("users/edit.html", user=user, form=form, pin_form=pin_form, role_labels=ROLE_LABELS,
                           farmer=FARMER), status


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@role_required(ADMIN)
def edit(user_id: int) -> ResponseReturnValue:
    """Change a user's name, role, village, contact and (optionally) password."""
    session = get_db()
    user = _user(user_id)
    form = EditUserForm(obj=None if request.method == "POST" else user)
    _role_choices(form)
    if not form.is_submitted():
        form.password.data = ""
        return _edit_page(user, form, PinForm())
    if form.validate() and _apply(form, lambda: accounts.update_user(
        session, user, display_name=form.display_name.data or "", role=form.role.data,
        village=form.village.data or "", phone=form.phone.data or "",
        pickup_address=form.pickup_address.data or "", password=form.password.data or None,
    ), lambda: _("已保存 %(name)s", name=user.name)):
        return redirect(url_for("users.index") + f"#user-{user.id}")
    return _edit_page(user, form, PinForm(), 400)


@bp.post("/<int:user_id>/pin")
@role_required(ADMIN)
def reset_pin(user_id: int) -> ResponseReturnValue:
    """Give a farmer a new PIN (the old one stops working at once)."""
    user = _user(user_id)
    pin_form = PinForm()
    if pin_form.validate_on_submit() and _apply(pin_form, lambda: accounts.set_pin(user, pin_form.pin.data),
                                                lambda: _("%(name)s 的 PIN 码已改好", name=user.name)):
        return redirect(url_for("users.edit", user_id=user.id))
    form = EditUserForm(formdata=None, obj=user)
    _role_choices(form)
    form.password.data = ""
    return _edit_page(user, form, pin_form, 400)


@bp.post("/<int:user_id>/active")
@role_required(ADMIN)
def set_active(user_id: int) -> ResponseReturnValue:
    """Disable a user (no login of any kind, every session ends) or enable them again."""
    session = get_db()
    user = _user(user_id)
    enable = request.form.get("active") == "1"
    try:
        accounts.set_active(session, user, enable)
    except accounts.AccountError as exc:
        session.rollback()
        flash(localized(exc), "error")
        return redirect(url_for("users.edit", user_id=user.id))
    session.commit()
    flash(_("已启用 %(name)s", name=user.name) if enable else _("已停用 %(name)s", name=user.name), "success")
    return redirect(url_for("users.index") + f"#user-{user.id}")


@bp.route("/pickups", methods=["GET", "POST"])
@role_required(*MANAGERS)
def pickups() -> ResponseReturnValue:
    """The coordinator keeps each farmer's pick-up address and phone (shown on hand-off batches)."""
    session = get_db()
    if request.method == "POST":
        user = _user(parse_id(request.form.get("user_id")) or 0)
        if user.role != FARMER:
            abort(404)
        accounts.set_contact(session, user, phone=request.form.get("phone", ""),
                             pickup_address=request.form.get("pickup_address", ""))
        session.commit()
        flash(_("已保存 %(name)s", name=user.name), "success")
        return redirect(url_for("users.pickups") + f"#farmer-{user.id}")
    return render_template("users/pickups.html", farmers=accounts.users_by_role(session, FARMER))
