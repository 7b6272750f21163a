"""Chinese first, English complete: the switch works and every msgid has an English text."""
from __future__ import annotations

from babel.messages.pofile import read_po

from scripts.i18n import EN_PO, template_catalog, translated


def test_pages_are_chinese_by_default(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert "登录村播" in page and 'lang="zh-CN"' in page


def test_switching_to_english_and_back(client):
    response = client.get("/lang/en", headers={"Referer": "http://localhost/auth/login"})
    assert response.status_code == 302 and response.location.endswith("/auth/login")
    page = client.get("/auth/login").get_data(as_text=True)
    assert "Log in to Cunbo" in page and "登录村播" not in page
    client.get("/lang/zh_CN")
    assert "登录村播" in client.get("/auth/login").get_data(as_text=True)


def test_language_switch_does_not_redirect_off_site(client):
    response = client.get("/lang/en", headers={"Referer": "https://evil.example/"})
    assert response.location == "/"


def test_error_pages_follow_the_language(client):
    client.get("/lang/en")
    response = client.post("/auth/login", data={})
    assert response.status_code == 400
    assert "This page has expired" in response.get_data(as_text=True)


def test_every_msgid_has_english():
    with EN_PO.open("rb") as fh:
        english = read_po(fh, locale="en")
    template = template_catalog()
    missing = [m.id for m in template if m.id and not translated(english.get(m.id))]
    fuzzy = [m.id for m in english if m.id and m.fuzzy]
    assert missing == [], "run `python -m scripts.i18n` and translate these"
    assert fuzzy == []
    # a count said with ngettext has an English form for one and one for many ("1 order", "2 orders")
    singular_only = [m.id for m in template if m.pluralizable and not isinstance(english.get(m.id).string, tuple)]
    assert singular_only == []


def test_counts_say_one_and_many_in_english(app):
    from flask_babel import force_locale, ngettext

    with app.test_request_context(), force_locale("en"):
        assert [ngettext("%(n)s 单", "%(n)s 单", n, n=n) for n in (1, 2)] == ["1 order", "2 orders"]
    with app.test_request_context(), force_locale("zh"):
        assert [ngettext("%(n)s 单", "%(n)s 单", n, n=n) for n in (1, 2)] == ["1 单", "2 单"]


def test_contest_scores_say_one_and_many_in_english_whole_or_not(app):
    """A score is a float (adjustments may add half a point): the form is picked by a whole number."""
    from types import SimpleNamespace

    from flask_babel import force_locale

    from app.contests.routes import _score_text

    orders, points = SimpleNamespace(metric="orders"), SimpleNamespace(metric="weighted")
    with app.test_request_context(), force_locale("en"):
        assert [_score_text(orders, s) for s in (1.0, 3.0)] == ["1 order", "3 orders"]  # type: ignore[arg-type]
        assert [_score_text(points, s) for s in (1.0, 1.5, 0.0)] == ["1 point", "1.5 points", "0 points"]  # type: ignore[arg-type]
