"""Contest pages: the trainer's contests, the board (updating itself), the projector, each score opened.

The board page and the projector poll ``board.json`` every few seconds (short polling, not
server-sent events: an open event stream holds one of waitress's worker threads for as long as
the page is open, and a projector stays open all day; a poll takes milliseconds and lets the
thread go). Forms post to one operation each and come back with a message.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup

from accounts import services as accounts
from accounts.roles import ADMIN, FARMER, TRAINER
from app.contests import bp
from app.errors import contest_message, contest_status
from app.home import HomeCard, register_card
from app.i18n import N_
from app.orders.common import village_zone
from app.database import get_db
from app.security import role_required, signed_in_user
from catalog.money import format_yuan
from contests import chart, results
from contests import services as contests
from contests.detail import ENTRY_STATES, ORDER_STATES, score_detail
from contests.errors import ContestError, NotFound
from contests.models import DECISION_LABELS, METRIC_LABELS, Contest
from contests.standings import Board, Standing, compute_board, sales_steps, state_of, window_end
from db import utcnow
from orders.manifest import ManifestError

POLL_SECONDS = 5
STATE_LABELS = {"running": N_("进行中"), "upcoming": N_("未开始"), "finished": N_("已结束")}
FLAG_LABELS = {"late": N_("补登"), "self_order": N_("本人电话"), "unverified_entry": N_("待核对")}

register_card(HomeCard(
    title=N_("直播大赛"), hint=N_("办比赛、看排行榜、投到大屏上"), endpoint="contests.index", roles=(TRAINER, ADMIN),
    order=10, primary=True,
    count=lambda user: len(contests.group_by_state(contests.list_contests(get_db(), user))["running"]),
    count_label=N_("场进行中"),
))
register_card(HomeCard(
    title=N_("待处理的比赛记录"), hint=N_("补登订单、本人电话下单、待核对的观看点赞"), endpoint="contests.waiting",
    roles=(TRAINER, ADMIN), order=11, count=lambda user: contests.count_waiting(get_db(), user),
    count_label=N_("条待处理"),
))
register_card(HomeCard(
    title=N_("我的比赛"), hint=N_("看看我在直播大赛里排第几"), endpoint="contests.index", roles=(FARMER,), order=40,
    count=lambda user: contests.running_rank(get_db(), user), count_label=N_("名（当前排名）"),
))


def _score_text(contest: Contest, score: float) -> str:
    if contest.metric in ("gmv", "fulfilled_gmv"):
        return format_yuan(int(score))
    # The plural form is chosen by a whole number (gettext deprecates a float, and the suite makes
    # that warning an error); 1.5 points are "points".
    count = int(score) if float(score).is_integer() else 2
    if contest.metric == "orders":
        return ngettext("%(n)s 单", "%(n)s 单", count, n=f"{score:g}")
    return ngettext("%(n)s 分", "%(n)s 分", count, n=f"{score:g}")


def template_helpers() -> dict[str, Any]:
    """Labels and formatting the contest templates share."""
    return {"metric_labels": METRIC_LABELS, "state_labels": STATE_LABELS, "flag_labels": FLAG_LABELS,
            "order_states": ORDER_STATES, "entry_states": ENTRY_STATES, "decision_labels": DECISION_LABELS,
            "yuan": format_yuan, "score_text": _score_text, "poll_seconds": POLL_SECONDS}


bp.context_processor(template_helpers)


def _contest(contest_id: int) -> Contest:
    return contests.get_contest(get_db(), signed_in_user(), contest_id)


def _board(contest: Contest, *, public: bool | None = None) -> tuple[Board, bool]:
    manager = contests.can_manage(signed_in_user(), contest)
    public = (not manager) if public is None else (public or not manager)
    return compute_board(get_db(), contest, public=public), public


def _act(operation: Callable[[], object], done: str, back: str) -> ResponseReturnValue:
    """Run one operation, commit, flash the outcome, go ``back``. 403/404 become those pages."""
    session = get_db()
    try:
        operation()
    except ContestError as exc:
        if contest_status(exc) in (403, 404):
            raise  # the error page (app/errors.py)
        session.rollback()
        flash(contest_message(exc), "error")
    else:
        session.commit()
        flash(done, "success")
    return redirect(back)


# --- lists ---------------------------------------------------------------------------------------

@bp.get("/")
def index() -> ResponseReturnValue:
    """Running, upcoming and finished contests; a farmer sees their own place in each."""
    session = get_db()
    actor = signed_in_user()
    found = contests.list_contests(session, actor)
    mine = {contest.id: row for contest, row in contests.my_standings(session, actor)} if actor.role == FARMER else {}
    return render_template("contests/index.html", groups=contests.group_by_state(found), mine=mine,
                           can_create=actor.role in contests.MANAGING_ROLES)


@bp.get("/waiting")
@role_required(TRAINER, ADMIN)
def waiting() -> ResponseReturnValue:
    """What waits for the trainer's decision, contest by contest."""
    session = get_db()
    actor = signed_in_user()
    found = [contests.waiting_decisions(session, c) for c in contests.list_contests(session, actor)
             if contests.can_manage(actor, c)]
    return render_template("contests/waiting.html", waiting=[w for w in found if w.count])


# --- making a contest ----------------------------------------------------------------------------

def _local_time(name: str) -> datetime:
    text = request.form.get(name, "").strip()
    try:
        return datetime.fromisoformat(text).replace(tzinfo=village_zone())
    except ValueError:
        raise ContestError(N_("时间格式不对：%(text)s"), text=text or "—") from None


def _number(name: str, default: float) -> float:
    text = request.form.get(name, "").strip()
    try:
        return float(text) if text else default
    except ValueError:
        raise ContestError(N_("请填数字：%(text)s"), text=text) from None


def _rules_from_form() -> contests.Rules:
    freeze = _number("freeze_min", 0)
    return contests.Rules(
        metric=request.form.get("metric", "gmv"),
        weights={key: _number(f"weight_{key}", default) for key, default in
                 (("views", 20), ("likes", 20), ("orders", 20), ("gmv", 40))},
        rank_step=_number("rank_step", 0.5), freeze_min=int(freeze) if freeze else None,
        poverty_counties=request.form.get("poverty_counties", "").splitlines(),
        poverty_multiplier=_number("poverty_multiplier", 1.0), rules_text=request.form.get("rules", ""),
    )


@bp.route("/new", methods=["GET", "POST"])
@role_required(TRAINER, ADMIN)
def new() -> ResponseReturnValue:
    """The contest form: title, window, farmers (with their own phones), how it scores."""
    session = get_db()
    status = 200
    if request.method == "POST":
        try:
            people = [(name, request.form.get(f"phone_{name}", "")) for name in request.form.getlist("participants")]
            contest = contests.create_contest(session, actor=signed_in_user(), title=request.form.get("title", ""),
                                              starts_at=_local_time("starts_at"), ends_at=_local_time("ends_at"),
                                              participants=people, rules=_rules_from_form())
        except ContestError as exc:
            session.rollback()
            flash(contest_message(exc), "error")
            status = 400
        else:
            session.commit()
            flash(_("比赛已建好"), "success")
            return redirect(url_for("contests.show", contest_id=contest.id))
    now = utcnow().astimezone(village_zone()).replace(second=0, microsecond=0, tzinfo=None)
    defaults = {"starts_at": now.isoformat(timespec="minutes"),
                "ends_at": (now + timedelta(days=7)).isoformat(timespec="minutes")}
    return render_template("contests/new.html", farmers=accounts.users_by_role(session, FARMER),
                           form=request.form, defaults=defaults, chosen=set(request.form.getlist("participants"))), status


# --- the board -----------------------------------------------------------------------------------

def _chart(board: Board, rows: list[Standing]) -> Markup:
    """The cumulative sales of ``rows`` (the board's top five, or one person) as the board sees them."""
    contest = board.contest
    steps = sales_steps(get_db(), contest, [row.user_id for row in rows], chart.plot_columns(), board.cutoff)
    svg = chart.cumulative_svg([chart.Line(row.name, steps[row.user_id]) for row in rows], contest.starts_at,
                               window_end(contest), zone=village_zone(), until=board.cutoff or utcnow(),
                               title=_("累计销售额"))
    return Markup(svg)  # built from escaped parts by contests.chart


def _top(board: Board, count: int = 5) -> list[Standing]:
    return [row for row in board.rows[:count] if not row.disqualified]


@bp.get("/<int:contest_id>")
def show(contest_id: int) -> ResponseReturnValue:
    """The board, updating itself; the trainer also sees flags and what to decide."""
    contest = _contest(contest_id)
    board, public = _board(contest)
    return render_template("contests/show.html", contest=contest, board=board, public=public,
                           manager=contests.can_manage(signed_in_user(), contest),
                           state=state_of(contest, utcnow()), chart=_chart(board, _top(board)))


def board_json(board: Board, public: bool) -> dict[str, Any]:
    """What the board page and the projector redraw from."""
    contest = board.contest
    top = max([row.score for row in board.rows if not row.disqualified] + [0])
    return {
        "frozen": board.frozen, "state": state_of(contest, board.computed_at),
        "ends_at": window_end(contest).isoformat(), "now": board.computed_at.isoformat(),
        "now_text": board.computed_at.astimezone(village_zone()).strftime("%H:%M:%S"),
        "top_score": top,
        "rows": [{**row.to_dict(public=public), "score_text": _score_text(contest, row.score),
                  "gmv_text": format_yuan(row.tally.gmv_fen),
                  "flag_texts": [] if public else [_(FLAG_LABELS[f.kind]) for f in row.flags if f.state == "pending"],
                  "url": url_for("contests.person", contest_id=contest.id, username=row.username)}
                 for row in board.rows],
    }


@bp.get("/<int:contest_id>/board.json")
def board_data(contest_id: int) -> ResponseReturnValue:
    """The board for the pages' polling; ``?as=public`` for the projector."""
    contest = _contest(contest_id)
    board, public = _board(contest, public=request.args.get("as") == "public")
    return jsonify(board_json(board, public))


@bp.get("/<int:contest_id>/chart.svg")
def chart_svg(contest_id: int) -> ResponseReturnValue:
    """The top five's cumulative sales, redrawn by the board page when the board changes."""
    contest = _contest(contest_id)
    board, _public = _board(contest)
    return Response(str(_chart(board, _top(board))), mimetype="image/svg+xml")


@bp.get("/<int:contest_id>/projector")
def projector(contest_id: int) -> ResponseReturnValue:
    """Full screen for the hall: top 10 with bars, time left; the public (frozen) board."""
    contest = _contest(contest_id)
    board, _public = _board(contest, public=True)
    return render_template("contests/projector.html", contest=contest, board=board,
                           data=board_json(board, True))


@bp.get("/<int:contest_id>/people/<username>")
def person(contest_id: int, username: str) -> ResponseReturnValue:
    """One score opened: the orders and entries that make it, those that do not and why."""
    contest = _contest(contest_id)
    participant = contests.participant_of(get_db(), contest, username)
    board, public = _board(contest)
    row = next(r for r in board.rows if r.user_id == participant.user_id)
    detail = score_detail(get_db(), contest, participant, board.cutoff)
    actor = signed_in_user()
    return render_template("contests/person.html", contest=contest, row=row, detail=detail, public=public,
                           manager=contests.can_manage(actor, contest), chart=_chart(board, [row]),
                           broadcasts=contests.broadcasts_of(get_db(), contest, participant),
                           may_enter=contests.can_manage(actor, contest) or actor.id == participant.user_id)


# --- the trainer's work ----------------------------------------------------------------------------

@bp.get("/<int:contest_id>/manage")
@role_required(TRAINER, ADMIN)
def manage(contest_id: int) -> ResponseReturnValue:
    """Flags to decide, entries to verify, ± points, the rules, and the audit trail."""
    session = get_db()
    contest = contests.managed_contest(session, signed_in_user(), contest_id)
    return render_template("contests/manage.html", contest=contest, waiting=contests.waiting_decisions(session, contest),
                           trail=contests.decisions_of(session, contest), rules=contests.rules_of(contest),
                           entries={e.id: e for e in contests.entries_of(session, contest)},
                           people={p.user_id: p.user for p in contest.participants})


@bp.post("/<int:contest_id>/entries")
def add_entry(contest_id: int) -> ResponseReturnValue:
    """Views and likes from a platform dashboard (the trainer's, or a participant's own)."""
    host = request.form.get("host", "")

    def numbers(name: str) -> int | None:
        text = request.form.get(name, "").strip()
        if not text:
            return None
        if not text.isdigit():
            raise ContestError(N_("%(what)s 应为 0 或正整数"), what=N_("观看数") if name == "views" else N_("点赞数"))
        return int(text)

    session_text = request.form.get("session_id", "").strip()
    return _act(lambda: contests.add_entry(get_db(), actor=signed_in_user(), contest_id=contest_id, host=host,
                                           views=numbers("views"), likes=numbers("likes"),
                                           session_id=int(session_text) if session_text.isdigit() else None),
                _("已登记"), url_for("contests.person", contest_id=contest_id, username=host))


@bp.post("/<int:contest_id>/entries/<int:entry_id>/verify")
@role_required(TRAINER, ADMIN)
def verify(contest_id: int, entry_id: int) -> ResponseReturnValue:
    """The trainer checked the entry against the platform dashboard."""
    return _act(lambda: contests.verify_entry(get_db(), actor=signed_in_user(), contest_id=contest_id,
                                              entry_id=entry_id),
                _("已核对，计入成绩"), request.form.get("back") or url_for("contests.manage", contest_id=contest_id))


@bp.post("/<int:contest_id>/decisions")
@role_required(TRAINER, ADMIN)
def decide(contest_id: int) -> ResponseReturnValue:
    """One decision with its reason: accept or disqualify an order, ± points, a participant out or back."""
    form = request.form
    kind = form.get("kind", "")
    order_text = form.get("order_id", "").strip()
    points_text = form.get("points", "").strip()

    def operation() -> object:
        points = None
        if kind == "points":
            try:
                points = float(points_text)
            except ValueError:
                raise ContestError(N_("请填数字：%(text)s"), text=points_text or "—") from None
        return contests.decide(
            get_db(), actor=signed_in_user(), contest_id=contest_id, host=form.get("host", ""),
            reason=form.get("reason", ""), points=points,
            order_id=int(order_text) if order_text.isdigit() and kind in ("accept_order", "disqualify_order") else None,
            disqualify=kind in ("disqualify", "disqualify_order"), accept=kind == "accept_order",
            reinstate=kind == "reinstate")

    return _act(operation, _("已记录"), form.get("back") or url_for("contests.manage", contest_id=contest_id))


@bp.post("/<int:contest_id>/rules")
@role_required(TRAINER, ADMIN)
def rules(contest_id: int) -> ResponseReturnValue:
    """Change how the contest scores; the board follows at once."""
    return _act(lambda: contests.update_rules(get_db(), actor=signed_in_user(), contest_id=contest_id,
                                              **vars(_rules_from_form())),
                _("规则已保存"), url_for("contests.manage", contest_id=contest_id))


# --- results ----------------------------------------------------------------------------------------

def _download(content: bytes, mimetype: str, filename: str) -> Response:
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/<int:contest_id>/results.csv")
def results_csv(contest_id: int) -> ResponseReturnValue:
    """The board as CSV (the public board while frozen, for anyone but the trainer)."""
    contest = _contest(contest_id)
    board, _public = _board(contest)
    return _download(results.results_csv(board, zone=village_zone()), "text/csv; charset=utf-8",
                     f"contest-{contest.id}-results.csv")


@bp.get("/<int:contest_id>/certificates/<username>.pdf")
def certificate(contest_id: int, username: str) -> ResponseReturnValue:
    """A winner's certificate (places 1–3), once the contest is over."""
    contest = _contest(contest_id)
    contests.require_finished(contest)
    board, _public = _board(contest, public=True)
    standing = next((r for r in results.winners(board) if r.username == username), None)
    if standing is None:
        raise NotFound(N_("%(name)s 没有获奖"), name=username)
    try:
        pdf = results.certificate_pdf(board, standing, zone=village_zone(), issued_by=contest.created_by.name)
    except ManifestError:
        abort(503)  # no Chinese font on this PC
    return _download(pdf, "application/pdf", f"contest-{contest.id}-{standing.rank}.pdf")

