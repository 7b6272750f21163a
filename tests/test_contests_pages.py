"""Contest pages: home cards, making a contest, the board, a score opened, decisions, results."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from accounts.roles import COORDINATOR, FARMER, PARTNER, TRAINER
from db import utcnow
from tests import factories
from tests.conftest import csrf_token, login


def _contest(session, **kw):
    trainer = factories.user(session, TRAINER, "jiangshi", display_name="张老师")
    wang = factories.user(session, FARMER, "wang", display_name="王大姐")
    li = factories.user(session, FARMER, "li", display_name="=李大哥")  # a name Excel would run
    contest = factories.contest(session, trainer, [(wang, "13900001111"), li], **kw)
    return trainer, wang, li, contest


def test_the_trainers_home_shows_contests_and_what_waits(client, session):
    trainer, wang, _li, _contest_ = _contest(session)
    factories.order(session, factories.product(session, wang), buyer_phone="13900001111")
    login(client, "jiangshi")
    page = client.get("/").get_data(as_text=True)
    assert "直播大赛" in page and "1 场进行中" in page
    assert "待处理的比赛记录" in page and "1 条待处理" in page


def test_a_farmer_sees_their_own_rank(client, session):
    _trainer, wang, li, contest = _contest(session)
    factories.order(session, factories.product(session, li, price_fen=9900))
    factories.order(session, factories.product(session, wang, price_fen=100))
    login(client, "wang")
    assert "2 名（当前排名）" in client.get("/").get_data(as_text=True)
    listing = client.get("/contests/").get_data(as_text=True)
    assert contest.title in listing and "我排第 2 名" in listing


def test_a_trainer_makes_a_contest_from_the_form(client, session):
    factories.user(session, TRAINER, "jiangshi")
    factories.user(session, FARMER, "wang", display_name="王大姐")
    factories.user(session, FARMER, "li")
    login(client, "jiangshi")
    form = client.get("/contests/new").get_data(as_text=True)
    assert "王大姐" in form and "综合评分" in form
    answer = client.post("/contests/new", data={
        "csrf_token": csrf_token(client), "title": "高台县直播大赛", "starts_at": "2026-11-20T10:00",
        "ends_at": "2026-11-27T20:00", "participants": ["wang", "li"], "phone_wang": "139 0000 1111",
        "metric": "weighted", "weight_views": "20", "weight_likes": "20", "weight_orders": "20", "weight_gmv": "40",
        "rank_step": "0.5", "freeze_min": "30", "poverty_counties": "高台县\n", "poverty_multiplier": "1.2"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    board = client.get(answer.location).get_data(as_text=True)
    assert "高台县直播大赛" in board and "2026-11-20 10:00:00" in board and "最后 30 分钟封榜" in board


def test_a_bad_form_says_why(client, session):
    factories.user(session, TRAINER, "jiangshi")
    factories.user(session, FARMER, "wang")
    login(client, "jiangshi")
    answer = client.post("/contests/new", data={
        "csrf_token": csrf_token(client), "title": "大赛", "starts_at": "2026-11-27T10:00",
        "ends_at": "2026-11-20T10:00", "participants": ["wang"], "metric": "gmv"})
    assert answer.status_code == 400 and "结束时间要晚于开始时间" in answer.get_data(as_text=True)


def test_the_board_page_shows_places_flags_and_the_chart(client, session):
    trainer, wang, li, contest = _contest(session)
    factories.order(session, factories.product(session, wang, price_fen=2000))
    factories.order(session, factories.product(session, li, price_fen=500))
    login(client, "jiangshi")
    page = client.get(f"/contests/{contest.id}").get_data(as_text=True)
    assert page.index("王大姐") < page.index("=李大哥") and "<svg" in page and "¥20.00" in page
    data = client.get(f"/contests/{contest.id}/board.json").get_json()
    assert [r["host"] for r in data["rows"]] == ["wang", "li"] and data["frozen"] is False
    projector = client.get(f"/contests/{contest.id}/projector").get_data(as_text=True)
    assert "距结束还有" in projector and 'class="bar-row"' in projector


def test_a_score_opens_to_its_orders_and_the_trainer_decides_there(client, session):
    _trainer, wang, _li, contest = _contest(session)
    product = factories.product(session, wang, price_fen=1000)
    mine = factories.order(session, product, buyer_phone="13900001111", quantity=3)
    factories.order(session, product)
    login(client, "jiangshi")
    page = client.get(f"/contests/{contest.id}/people/wang").get_data(as_text=True)
    assert f"#{mine.id}" in page and "买家电话是本人，待讲师确认" in page
    answer = client.post(f"/contests/{contest.id}/decisions", data={
        "csrf_token": csrf_token(client), "host": "wang", "order_id": str(mine.id), "kind": "accept_order",
        "reason": "是给邻居代买", "back": f"/contests/{contest.id}/people/wang"})
    assert answer.status_code == 302
    page = client.get(f"/contests/{contest.id}/people/wang").get_data(as_text=True)
    assert "讲师确认计入" in page and "是给邻居代买" in page and "¥40.00" in page
    no_reason = client.post(f"/contests/{contest.id}/decisions", data={
        "csrf_token": csrf_token(client), "host": "wang", "kind": "points", "points": "2", "reason": ""},
        follow_redirects=True)
    assert "请写明原因" in no_reason.get_data(as_text=True)


def test_the_manage_page_and_rules_form(client, session):
    _trainer, _wang, _li, contest = _contest(session, metric="weighted")
    login(client, "jiangshi")
    page = client.get(f"/contests/{contest.id}/manage").get_data(as_text=True)
    assert "计分规则" in page and "决定记录" in page
    answer = client.post(f"/contests/{contest.id}/rules", data={
        "csrf_token": csrf_token(client), "metric": "weighted", "weight_views": "10", "weight_likes": "10",
        "weight_orders": "30", "weight_gmv": "50", "rank_step": "1"}, follow_redirects=True)
    assert "规则已保存" in answer.get_data(as_text=True)
    session.refresh(contest)
    assert (contest.weight_gmv, contest.rank_step) == (50, 1)


def test_results_csv_is_formula_safe_and_certificates_wait_for_the_end(client, session):
    now = utcnow()
    _trainer, wang, li, contest = _contest(session, starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1))
    login(client, "jiangshi")
    answer = client.get(f"/contests/{contest.id}/results.csv")
    rows = list(csv.reader(io.StringIO(answer.get_data().decode("utf-8-sig"))))
    assert rows[0][:3] == ["名次", "用户名", "参赛人"]
    assert "'=李大哥" in [cell for row in rows for cell in row]
    pdf = client.get(f"/contests/{contest.id}/certificates/wang.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    running = factories.contest(session, contest.created_by, [wang])
    assert client.get(f"/contests/{running.id}/certificates/wang.pdf").status_code == 409


def test_other_roles_see_the_public_board_and_the_partner_nothing(client, session):
    _trainer, wang, _li, contest = _contest(session)
    factories.order(session, factories.product(session, wang), buyer_phone="13900001111")
    factories.user(session, COORDINATOR, "zhan")
    login(client, "zhan")
    data = client.get(f"/contests/{contest.id}/board.json").get_json()
    assert all(row["flags"] == [] for row in data["rows"])
    assert client.get(f"/contests/{contest.id}/manage").status_code == 403
    partner_client = client.application.test_client()
    factories.user(session, PARTNER, "fahuo")
    login(partner_client, "fahuo")
    assert partner_client.get(f"/contests/{contest.id}").status_code == 404


def test_contest_pages_have_english(client, session):
    _trainer, _wang, _li, contest = _contest(session)
    login(client, "jiangshi")
    client.get("/lang/en")
    page = client.get(f"/contests/{contest.id}").get_data(as_text=True)
    assert "Projector" in page and "排行榜每" not in page


def test_a_farmer_enters_views_and_likes_which_wait_for_the_trainer(client, session):
    _trainer, _wang, _li, contest = _contest(session, metric="weighted")
    login(client, "wang")
    page = client.get(f"/contests/{contest.id}/people/wang").get_data(as_text=True)
    assert "登记平台后台的观看和点赞数" in page
    from live.models import LiveSession

    live = LiveSession(host_id=_wang.id, started_at=utcnow() - timedelta(minutes=20))
    session.add(live)
    session.commit()
    form = client.get(f"/contests/{contest.id}/people/wang").get_data(as_text=True)
    assert f'<option value="{live.id}">' in form
    answer = client.post(f"/contests/{contest.id}/entries", data={
        "csrf_token": csrf_token(client), "host": "wang", "views": "1200", "likes": "80",
        "session_id": str(live.id)}, follow_redirects=True)
    page = answer.get_data(as_text=True)
    assert "已登记" in page and "待讲师核对" in page and "不分场次" not in page.split("登记人")[1].split("</table>")[0]
    other = client.post(f"/contests/{contest.id}/entries", data={
        "csrf_token": csrf_token(client), "host": "li", "views": "99999"})
    assert other.status_code == 403


def test_the_chart_is_an_svg_of_its_own(client, session):
    _trainer, wang, _li, contest = _contest(session)
    factories.order(session, factories.product(session, wang, price_fen=2000))
    login(client, "jiangshi")
    answer = client.get(f"/contests/{contest.id}/chart.svg")
    assert answer.mimetype == "image/svg+xml" and "王大姐 ¥20" in answer.get_data(as_text=True)


def test_the_demo_data_has_one_contest_for_the_trainer(app, session):
    from sqlalchemy import select

    from contests.models import Contest

    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert session.scalars(select(Contest.title)).all() == ["巨鹿县冬季直播大赛"]
