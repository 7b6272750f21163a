"""Demo data for trying Cunbo out: ``flask --app wsgi demo`` (never loaded unless asked)."""
from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy import select

from accounts import services as accounts
from accounts.models import User
from accounts.roles import COORDINATOR, FARMER, PARTNER, TRAINER
from app.database import session_factory
from catalog import services as catalog
from contests import services as contests
from db import utcnow
from orders import services as orders

DEMO_PASSWORD = "cunbo-demo-2026"
PEOPLE = (
    # user name, role, display name, village, PIN
    ("wangdajie", FARMER, "王大姐", "巨鹿县西王庄", "1234"),
    ("lidage", FARMER, "李大哥", "巨鹿县东张村", "5678"),
    ("zhanzhang", COORDINATOR, "张站长", "巨鹿县服务站", None),
    ("bangfu", PARTNER, "县电商物流合作社", "", None),
    ("laoshi", TRAINER, "刘老师", "", None),
)
PRODUCTS = (
    # farmer, sku, name, unit, price (fen), promo (fen) or None, stock, link no, origin
    ("wangdajie", "JL-XM-01", "巨鹿小米", "斤", 1800, 1500, 200, 1, "河北巨鹿"),
    ("wangdajie", "JL-JYH-01", "巨鹿金银花", "盒", 3800, None, 60, 2, "河北巨鹿"),
    ("wangdajie", "JL-FM-01", "槐花蜂蜜", "瓶", 4500, 3990, 40, 3, "河北巨鹿"),
    ("lidage", "JL-HZ-01", "红枣", "袋", 2500, None, 120, 4, "河北巨鹿"),
    ("lidage", "JL-XM-02", "有机杂粮礼盒", "箱", 8800, 7800, 25, 5, "河北巨鹿"),
)


def init_app(app: Flask) -> None:
    """Register ``flask demo``."""
    app.cli.add_command(demo_command)


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load demo people, products and orders (skips what is already there)."""
    with session_factory()() as session:
        people: dict[str, User] = {}
        for username, role, display, village, pin in PEOPLE:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                user = accounts.create_user(session, username, role, DEMO_PASSWORD,
                                            display_name=display, village=village, pin=pin)
            people[username] = user
        coordinator = people["zhanzhang"]
        made = []
        for farmer, sku, name, unit, price, promo, stock, link_no, origin in PRODUCTS:
            if catalog.sku_taken(session, sku):
                continue
            made.append(catalog.create_product(
                session, actor=coordinator, farmer=people[farmer], name=name, unit=unit, price_fen=price,
                stock=stock, sku=sku, promo_price_fen=promo, link_no=link_no, origin=origin))
        for index, product in enumerate(made[:3]):
            orders.log_order(session, actor=coordinator, product_id=product.id, quantity=index + 1,
                             buyer_name=f"买家{index + 1}", buyer_phone=f"1380013800{index}",
                             address="北京市朝阳区建国路 1 号", channel="phone")
        trainer = people["laoshi"]
        if not contests.list_contests(session, trainer):
            now = utcnow()
            contests.create_contest(
                session, actor=trainer, title="巨鹿县冬季直播大赛", starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=6), participants=[("wangdajie", ""), ("lidage", "")],
                rules=contests.Rules(metric="weighted", freeze_min=30))
        session.commit()
    click.echo(_("演示数据已载入，密码：%(password)s", password=DEMO_PASSWORD))
    for username, role, display, _village, pin in PEOPLE:
        click.echo(f"  {username:<10} {role:<12} {display}" + (f"  PIN {pin}" if pin else ""))
