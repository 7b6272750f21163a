"""The admin's page for this PC's settings."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from accounts.roles import ADMIN
from app.home import HomeCard, register_card
from app.i18n import N_
from app.security import role_required
from app.site import bp, lan_addresses, load, save

register_card(HomeCard(title=N_("本机设置"), hint=N_("是否允许手机、平板从局域网连进来"),
                       endpoint="site.settings", roles=(ADMIN,), order=95))


@bp.route("/", methods=["GET", "POST"])
@role_required(ADMIN)
def settings() -> ResponseReturnValue:
    """Turn LAN access on or off; shows the addresses a phone should open."""
    if request.method == "POST":
        enabled = request.form.get("lan_access") == "on"
        save(lan_access=enabled)
        flash(_("已开启局域网访问") if enabled else _("已关闭局域网访问"), "success")
        return redirect(url_for("site.settings"))
    host = current_app.config["HOST"]
    return render_template(
        "site/settings.html",
        settings=load(),
        listening_on_lan=host not in ("127.0.0.1", "localhost", "::1"),
        addresses=lan_addresses(),
        port=current_app.config["PORT"],
    )
