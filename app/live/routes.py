"""Console pages: the live console, push destinations, the preview stream, session summaries."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts import services as accounts
from accounts.roles import ADMIN, COORDINATOR, FARMER, MANAGERS
from app.catalog.uploads import photo_urls
from app.database import get_db
from app.home import HomeCard, register_card
from app.i18n import N_, localized
from app.live import bp, live_service
from app.live.report_chart import sales_chart
from app.security import role_required
from capture import devices
from catalog import services as catalog
from catalog.models import Product
from orders.models import CHANNEL_LABELS
from live import destinations as dest
from orders.report import session_report
from orders.services import session_totals
from live.models import END_REASONS
from live.service import LiveError, PreviewFull, visible_session
from live.profiles import profile_of
from db import utcnow
from orders.broadcasts import past_broadcasts

HOSTS = (FARMER, COORDINATOR, ADMIN)

register_card(HomeCard(title=N_("开始直播"), hint=N_("检查设备，开播，展示商品，记录订单"),
                       endpoint="live.console", roles=(FARMER,), order=1, primary=True))
register_card(HomeCard(title=N_("直播间"), hint=N_("帮农户开播、切换商品、记录订单"),
                       endpoint="live.console", roles=(COORDINATOR, ADMIN), order=30))
register_card(HomeCard(title=N_("我的直播"), hint=N_("看以前的直播：时长、订单、销售额和录像"),
                       endpoint="live.sessions", roles=HOSTS, order=2))
register_card(HomeCard(title=N_("推流地址"), hint=N_("抖音、快手、淘宝直播的推流码"),
                       endpoint="live.destinations", roles=HOSTS, order=60))


def photo_url(product: Product) -> str | None:
    """The URL of a product's square card photo, or None when it has none."""
    return photo_urls(product)[0]["card"] if product.photos else None


def _farmer_filter() -> str | None:
    """The farmer whose products a coordinator or admin runs the console for (``?farmer=``);
    a farmer always sees only their own."""
    return (request.args.get("farmer", "").strip() or None) if current_user.role in MANAGERS else None


def _lineup() -> tuple[list[Product], dict[int, int]]:
    """The host's products on sale in link order, and each one's price in force now (the one
    price the video, the cards and the orders use)."""
    products = catalog.list_products(get_db(), viewer=current_user, active=True, sort="link_no", limit=200,
                                     farmer=_farmer_filter())
    now = utcnow()
    return products, {p.id: p.price_at(now) for p in products}


@bp.get("/")
@role_required(*HOSTS)
def console() -> ResponseReturnValue:
    """The one screen a farmer uses to go live and sell."""
    session = get_db()
    products, price_now = _lineup()
    mine = dest.destinations_of(session, current_user.id)
    return render_template(
        "live/console.html",
        products=products,
        profile=profile_of(session, current_user.id),
        destinations=mine,
        # Status names a destination by its masked URL; the farmer knows it by its platform.
        platform_names={devices.mask_url(d.push_url): _(dest.PLATFORMS.get(d.platform, d.platform)) for d in mine},
        platforms=dest.PLATFORMS,
        mask_key=dest.mask_key,
        cameras=devices.list_cameras(),
        microphones=devices.list_microphones(),
        channels=CHANNEL_LABELS,
        live=live_service().status(current_user),
        photo_url=photo_url,
        price_now=price_now,
        farmer=_farmer_filter() or "",
        farmers=accounts.users_by_role(session, FARMER) if current_user.role in MANAGERS else [],
    )


@bp.get("/sessions")
@role_required(*HOSTS)
def sessions() -> ResponseReturnValue:
    """我的直播: past broadcasts with date, duration, orders, sales and how each ended."""
    return render_template("live/sessions.html", broadcasts=past_broadcasts(get_db(), current_user),
                           end_reasons=END_REASONS)


@bp.get("/cards")
@role_required(*HOSTS)
def hand_cards() -> ResponseReturnValue:
    """手卡: one printable card per product with its price and selling points."""
    products, price_now = _lineup()
    return render_template("live/cards.html", products=products, price_now=price_now)


@bp.get("/sessions/<int:session_id>/recordings/<int:recording_id>")
@role_required(*HOSTS)
def recording(session_id: int, recording_id: int) -> ResponseReturnValue:
    """A broadcast's recording file, with HTTP Range support so the player can seek;
    ``?download=1`` saves it under a name with the village's date."""
    row = visible_session(get_db(), session_id, current_user)
    found = next((r for r in row.recordings if r.id == recording_id), None) if row is not None else None
    if found is None:
        abort(404)
    folder = (Path(current_app.config["DATA_DIR"]) / "recordings").resolve()
    path = Path(found.path).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        abort(404)  # only files the live engine wrote into the recordings folder are ever served
    download = request.args.get("download") == "1"
    return send_file(path, mimetype="video/x-matroska", conditional=True, as_attachment=download,
                     download_name=f"cunbo-{session_id}-{recording_id}{path.suffix}", max_age=0)


@bp.get("/preview.mjpg")
@role_required(*HOSTS)
def preview() -> ResponseReturnValue:
    """The composited video as MJPEG; encodes only while someone watches."""
    try:
        frames = live_service().preview(current_user)
    except PreviewFull:
        abort(429)
    except LiveError:
        abort(404)

    def parts() -> Iterator[bytes]:
        for jpeg in frames:
            yield b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + str(len(jpeg)).encode() + b"\r\n\r\n"
            yield jpeg + b"\r\n"

    response = Response(parts(), mimetype="multipart/x-mixed-replace; boundary=frame",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    # Called when the response closes even if its body was never read (a HEAD request): the
    # viewer's place is given back either way.
    response.call_on_close(frames.close)
    return response


@bp.route("/destinations", methods=["GET", "POST"])
@role_required(*HOSTS)
def destinations() -> ResponseReturnValue:
    """The host's push destinations; a pasted full push URL is split into server and key."""
    session = get_db()
    status = 200
    if request.method == "POST":
        try:
            dest.add_destination(
                session, current_user,
                request.form.get("platform", ""),
                request.form.get("server_url", ""),
                request.form.get("stream_key", ""),
            )
        except dest.DestinationError as exc:
            flash(localized(exc), "error")
            status = 400
        else:
            session.commit()
            flash(_("已保存推流地址"), "success")
            return redirect(url_for("live.destinations"))
    return render_template(
        "live/destinations.html",
        destinations=dest.destinations_of(session, current_user.id),
        platforms=dest.PLATFORMS,
        mask_key=dest.mask_key,
        form=request.form,
    ), status


@bp.post("/destinations/<int:destination_id>/delete")
@role_required(*HOSTS)
def delete_destination(destination_id: int) -> ResponseReturnValue:
    """Remove one of the host's destinations."""
    session = get_db()
    try:
        session.delete(dest.get_destination(session, current_user.id, destination_id))
    except dest.DestinationError:
        abort(404)
    session.commit()
    flash(_("已删除推流地址"), "info")
    return redirect(url_for("live.destinations"))


@bp.get("/sessions/<int:session_id>")
@role_required(*HOSTS)
def session_page(session_id: int) -> ResponseReturnValue:
    """What happened in one broadcast: duration, recording, products shown, orders."""
    session = get_db()
    row = visible_session(session, session_id, current_user)
    if row is None:
        abort(404)
    orders, gmv = session_totals(session, session_id)
    products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_({s.product_id for s in row.segments})))}
    playable = [r for r in row.recordings if Path(r.path).is_file()]
    return render_template("live/session.html", row=row, orders=orders, gmv=gmv, products=products,
                           end_reasons=END_REASONS, recordings=playable,
                           sizes={r.id: Path(r.path).stat().st_size for r in playable})


@bp.get("/sessions/<int:session_id>/report")
@role_required(*HOSTS)
def report_page(session_id: int) -> ResponseReturnValue:
    """The broadcast report (直播复盘): figures, the sales chart with on-screen bands, per product,
    earlier broadcasts at the same time, and the clips with their progress, player and download."""
    session = get_db()
    row = visible_session(session, session_id, current_user)
    if row is None:
        abort(404)
    report = session_report(session, row, ZoneInfo(current_app.config["VILLAGE_TIMEZONE"]))
    for earlier in report["previous"]:
        earlier["started"] = datetime.fromisoformat(earlier["started_at"])
    chart = sales_chart(report, [(s.product_id, s.start_s, s.end_s) for s in row.segments])
    recordings = [(Path(r.path).name, Path(r.path).stat().st_size if Path(r.path).is_file() else None)
                  for r in row.recordings]
    return render_template("live/report.html", row=row, report=report, chart=chart, recordings=recordings,
                           end_reasons=END_REASONS, may_delete=current_user.role in (COORDINATOR, ADMIN),
                           clip_limit=int(current_app.config["CLIP_LIMIT_S"]))
