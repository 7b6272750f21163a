"""Every page, for each role, read as its user meets it (issue 16's "done when").

The demo data (``flask demo``) plus what it lacks (an admin, a broadcast plan, a hand-off batch,
a finished broadcast with its recording, a push destination) is loaded; then each role logs in
through the login form and opens every HTML page of the URL map, in Chinese and in English, at
1366×768 and at 1024×600. ``tests/page_audit.js`` measures each page in Chromium:

- no horizontal scrolling (the document is no wider than the viewport);
- contrast of every visible text element ≥ 4.5:1 (≥ 3:1 for large text: 24 px, or 18.66 px bold),
  from the rendered colours: the text colour (with its alpha and the opacity of its ancestors)
  against the backgrounds behind it, composited from the first opaque ancestor background up.
  Text on a gradient must pass on every colour stop; text on a url() picture cannot be measured
  from colours and is listed apart (none today). Disabled controls are exempt, as in WCAG;
- no control cut off where nobody can scroll to it (a clipping ancestor, or a page that does not
  scroll, as the console's one-screen layout), and no words spilling out of their button;
- tap targets (links, buttons, inputs, selects, labels of a control, [role=button], summary)
  ≥ 44 × 44 px, except a link inside a sentence (display:inline in a block with words of its own
  outside any control), a checkbox or radio whose label is the target (the label is measured),
  and a label beside a field that is itself big enough (WCAG's equivalent target);
- on Chinese pages no Latin word of two letters or more except :data:`ALLOWED_LATIN`; on English
  pages no Chinese character or full-width punctuation. User data (names of products, people and
  villages, units, SKUs, addresses: the strings of the database the pages render) and parts
  marked with another ``lang`` (the 中文 | English switch) are left out of both; so is a file
  name's extension (A001.jpg).

While a modal dialog is open, what is behind its backdrop is inert and not measured. Not measured:
text placed over a sibling picture or video (the background walk follows ancestors only), the
browser's own text inside native controls (a date field's 年/月/日 follows the PC's locale).
States that only submitting a form reaches (an import's dry run, a form with its fields flagged, a
hand-off batch just created, a refused tracking number, a failed login: :data:`FORM_STATES`) and the
console live, with 记一单 open and after 结束直播 are walked by the tests after the page walk.

Every violation of every page is collected, written to ``screenshots/every-page-audit.txt`` and
asserted at once. Pages are taken from ``app.url_map``: a GET page missing from :data:`PAGES`
and :data:`LEFT_OUT` fails :func:`test_every_html_page_of_the_url_map_is_walked_or_left_out_with_a_reason`.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from accounts.models import User
from app.demo import DEMO_PASSWORD
from app.i18n import LANG_COOKIE
from catalog.models import Product
from contests.models import Contest
from db import utcnow
from live.models import LiveSession, Recording, Segment
from orders.models import Order
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
AUDIT = (Path(__file__).parent / "page_audit.js").read_text(encoding="utf-8")
SIZES = {"1366x768": {"width": 1366, "height": 768}, "1024x600": {"width": 1024, "height": 600}}
LANGUAGES = {"zh": "zh_CN", "en": "en"}
# Latin words a Chinese page may show, each because Chinese users meet it so in their own world:
# PIN is what phones and bank cards call the code (PIN 码); Excel and WPS are the programs a
# spreadsheet comes from; MB, GB and kB are the units phones and computers show file sizes in; xm
# is pinyin (the initials of 小米 in the catalog search's example), not English. Nothing else:
# fps, kbps, rtmp, URL, ID, default and the like are engineer words, said in Chinese (画面, 推流地址…).
ALLOWED_LATIN = ("PIN", "Excel", "WPS", "MB", "GB", "kB", "xm")
# The coordinator, partner, trainer and admin also save and open files: CSV, PDF, JPG and PNG are
# the names their computer's file lists (Excel's and WPS's 另存为, the photo picker) give those file
# types. Never on a farmer's page (issue 16, finding 6).
ALLOWED_LATIN_FOR_FILES = ("CSV", "PDF", "JPG", "PNG")
ROLES = {  # role → who logs in (demo people; admin added below); "guest" is nobody logged in
    "guest": None, "farmer": "wangdajie", "coordinator": "zhanzhang", "trainer": "laoshi",
    "partner": "bangfu", "admin": "boss",
}


@dataclass
class Ids:
    """Real ids from the data, for routes with parameters."""

    product: int
    order: int
    contest: int
    handoff: int
    plan: int
    live_session: int
    farmer: str
    farmer_id: int


# endpoint → its path, with {fields} of Ids for the parameters
PAGES: dict[str, str] = {
    "auth.login": "/auth/login",
    "auth.pin_login": "/auth/pin",
    "main.home": "/",
    "live.console": "/live/",
    "live.hand_cards": "/live/cards",
    "live.destinations": "/live/destinations",
    "live.sessions": "/live/sessions",
    "live.session_page": "/live/sessions/{live_session}",
    "live.report_page": "/live/sessions/{live_session}/report",
    "catalog.index": "/catalog/",
    "catalog.new": "/catalog/new",
    "catalog.detail": "/catalog/{product}",
    "catalog.edit": "/catalog/{product}/edit",
    "catalog.import_page": "/catalog/import",
    "catalog.stock": "/catalog/stock",
    "orders.index": "/orders/",
    "orders.new": "/orders/new",
    "orders.show": "/orders/{order}",
    "orders.import_csv": "/orders/import",
    "orders.earnings_page": "/orders/earnings",
    "handoffs.index": "/handoffs/",
    "handoffs.new": "/handoffs/new",
    "handoffs.show": "/handoffs/{handoff}",
    "handoffs.manifest_page": "/handoffs/{handoff}/manifest",
    "broadcasts.week": "/broadcasts/",
    "broadcasts.new": "/broadcasts/new",
    "broadcasts.detail": "/broadcasts/{plan}",
    "broadcasts.edit": "/broadcasts/{plan}/edit",
    "contests.index": "/contests/",
    "contests.new": "/contests/new",
    "contests.waiting": "/contests/waiting",
    "contests.show": "/contests/{contest}",
    "contests.manage": "/contests/{contest}/manage",
    "contests.person": "/contests/{contest}/people/{farmer}",
    "contests.projector": "/contests/{contest}/projector",
    "users.index": "/users/",
    "users.edit": "/users/{farmer_id}/edit",
    "users.pickups": "/users/pickups",
    "site.settings": "/settings/",
}
# GET routes that are no page for people to read, each with why.
LEFT_OUT = {
    "static": "CSS, JS and fonts",
    "main.healthz": "a plain-text health answer for scripts",
    "main.set_language": "redirects back to the page it was clicked on (used by this test to switch)",
    "live.recording": "the recording file itself (video)",
}
# Files by their name (CSV, PDF, JSON, pictures, the console's MJPEG preview) and the JSON API
# are no HTML either.
FILE_SUFFIXES = (".csv", ".pdf", ".json", ".svg", ".jpg", ".png", ".mjpg")
GUEST_PAGES = ("auth.login", "auth.pin_login")
# A few pages per role photographed at both sizes, to be looked at.
SHOTS = {"guest": ("auth.login", "auth.pin_login"), "farmer": ("main.home", "live.console", "live.session_page"),
         "coordinator": ("main.home", "catalog.index", "catalog.detail", "orders.index", "orders.show"), "trainer": ("main.home", "contests.show"),
         "partner": ("main.home", "handoffs.show"), "admin": ("main.home", "users.index", "site.settings")}


def html_endpoints(app) -> set[str]:  # type: ignore[no-untyped-def]
    """The GET endpoints of the URL map that answer with a page (not the API, not a file)."""
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and not rule.endpoint.startswith("api.")
            and not rule.rule.endswith(FILE_SUFFIXES)}


def test_every_html_page_of_the_url_map_is_walked_or_left_out_with_a_reason(app):
    endpoints = html_endpoints(app)
    forgotten = endpoints - set(PAGES) - set(LEFT_OUT)
    assert not forgotten, f"pages no role walks: add them to PAGES (or LEFT_OUT, saying why): {sorted(forgotten)}"
    gone = (set(PAGES) | set(LEFT_OUT)) - endpoints
    assert not gone, f"listed but no longer in the URL map: {sorted(gone)}"


def stage(app, session, video: Path) -> Ids:  # type: ignore[no-untyped-def]
    """The demo data, plus the things it has none of, so that every page has something to show."""
    from live import destinations
    from schedules import services as schedules

    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    people = {u.username: u for u in session.scalars(select(User))}
    factories.user(session, "admin", "boss", display_name="管理员", password=DEMO_PASSWORD)
    farmer, coordinator = people["wangdajie"], people["zhanzhang"]
    millet = session.scalar(select(Product).where(Product.sku == "JL-XM-01"))
    honey = session.scalar(select(Product).where(Product.sku == "JL-FM-01"))
    millet.selling_points = "小米粒粒金黄\n熬粥有米油\n自家种的"
    orders = list(session.scalars(select(Order).order_by(Order.id)))
    batch = factories.handoff(session, orders[:2], coordinator, people["bangfu"])
    plan = schedules.create_plan(session, coordinator, station_id=app.config["STATION_ID"],
                                 zone=app.config["VILLAGE_TIMEZONE"], host=farmer, title="早市直播",
                                 starts_at=utcnow() + timedelta(days=1), duration_s=3600, lineup=[millet.id])
    destinations.add_destination(session, farmer, "douyin", "rtmp://push.example.com/live/stream-key-1234")
    started = utcnow() - timedelta(hours=2)
    row = LiveSession(host_id=farmer.id, station_id=app.config["STATION_ID"], started_at=started,
                      ended_at=started + timedelta(minutes=40))
    session.add(row)
    session.flush()
    recording = Path(app.config["DATA_DIR"]) / "recordings" / "early-market.mp4"
    shutil.copyfile(video, recording)
    session.add_all([Recording(session_id=row.id, path=str(recording), opened_at=started),
                     Segment(session_id=row.id, product_id=millet.id, start_s=5.0, end_s=600.0),
                     Segment(session_id=row.id, product_id=honey.id, start_s=600.0, end_s=2400.0)])
    orders[0].session_id = row.id
    session.commit()
    contest = session.scalar(select(Contest))
    return Ids(product=millet.id, order=orders[0].id, contest=contest.id, handoff=batch.id, plan=plan.id,
               live_session=row.id, farmer=farmer.username, farmer_id=farmer.id)


def data_strings(session) -> list[str]:  # type: ignore[no-untyped-def]
    """What people typed in, as the pages render it: left out of the language checks."""
    from contests.models import Participant
    from live.destinations import mask_key
    from live.models import StreamDestination
    from orders.models import Handoff
    from schedules.models import BroadcastPlan

    columns = (User.username, User.display_name, User.village, Product.sku, Product.name, Product.name_en,
               Product.unit, Product.origin, Product.description, Product.selling_points, Order.unit,
               Order.buyer_name, Order.buyer_phone, Order.address, Order.platform_order_no, Order.carrier,
               Order.tracking_no, Handoff.note, Contest.title, Contest.poverty_counties, Participant.phone,
               BroadcastPlan.title, BroadcastPlan.qr_text)
    found: set[str] = set()
    for column in columns:
        for value in session.scalars(select(column)):
            found.update(line.strip() for line in str(value or "").splitlines() if line.strip())
    # A push destination as its owner pasted it from the platform (the key masked, as shown).
    found.update(session.scalars(select(StreamDestination.server_url)))
    found.update(mask_key(key) for key in session.scalars(select(StreamDestination.stream_key)))
    found.add("early-market.mp4")  # the recording's file name, as the report lists it
    return sorted(found)


def log_in(page: Page, server_url: str, username: str) -> None:
    """Through the real login form, as each role does."""
    page.goto(f"{server_url}/auth/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.locator("form button[type=submit]").first.click()
    expect(page.locator("h1")).to_contain_text(re.compile("您好|Hello"))


@dataclass
class Finding:
    role: str
    lang: str
    size: str
    page: str
    check: str
    selector: str
    value: str
    text: str

    def line(self) -> str:
        return (f"{self.check:<24} {self.role:<11} {self.lang} {self.size:<8} {self.page:<28} "
                f"{self.selector}  [{self.value}]  “{self.text}”")


def settle(page: Page) -> None:
    """Wait for the fonts and two frames, so that the page's own scripts have drawn it."""
    page.evaluate("""async () => { await document.fonts.ready;
        await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); }""")


def role_page(browser: Browser, server_url: str, role: str):  # type: ignore[no-untyped-def]
    """A new browser context with one page, logged in as ``role`` (not for the guest), and the
    Latin words that role's pages may show."""
    context = browser.new_context(viewport=SIZES["1366x768"], locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    if ROLES[role]:
        log_in(page, server_url, ROLES[role])
    return context, page, list(ALLOWED_LATIN) + ([] if role == "farmer" else list(ALLOWED_LATIN_FOR_FILES))


def walk(browser: Browser, server_url: str, ids: Ids, data: list[str], screenshot_dir: Path,
         ) -> tuple[list[Finding], list[str], list[str]]:
    """Every page for every role; returns the findings, what could not be measured, and a log of
    which pages each role may not open (those answer an error page, audited once per role)."""
    findings: list[Finding] = []
    unmeasured: list[str] = []
    refused: list[str] = []
    for role in ROLES:
        context, page, allowed = role_page(browser, server_url, role)
        for lang, code in LANGUAGES.items():
            context.add_cookies([{"name": LANG_COOKIE, "value": code, "url": server_url}])
            error_page_seen = False
            for endpoint, pattern in PAGES.items():
                if (role == "guest") != (endpoint in GUEST_PAGES):
                    continue
                path = pattern.format(**vars(ids))
                # Ask first (same cookies, nothing rendered): a refused page is rendered once per
                # language, the walk stays fast.
                status = page.request.get(server_url + path, max_redirects=0).status
                name = endpoint
                if status in (403, 404):
                    refused.append(f"{role} {lang} {endpoint} → {status}")
                    if error_page_seen:
                        continue
                    error_page_seen, name = True, f"error {status} ({endpoint})"
                page.set_viewport_size(SIZES["1366x768"])
                response = page.goto(server_url + path, wait_until="load")
                status = response.status if response else 0
                if status in (403, 404) and name != endpoint:
                    pass  # the role's error page, measured below
                elif status != 200 or not page.url.endswith(path):
                    findings.append(Finding(role, lang, "-", endpoint, "status", page.url, str(status), ""))
                    continue
                shot = screenshot_dir if endpoint in SHOTS[role] and name == endpoint else None
                audit(page, Finding(role, lang, "", name, "", "", "", ""), data, allowed, findings, unmeasured, shot)
        context.close()
    return findings, unmeasured, refused


def audit(page: Page, where: Finding, data: list[str], allowed: list[str], findings: list[Finding],
          unmeasured: list[str], shots: Path | None = None) -> None:
    """Measure the open page at both sizes (``where`` names role, language and page); with
    ``shots``, photograph it there at each size."""
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        settle(page)
        result = page.evaluate(AUDIT, {"lang": where.lang, "data": data, "allow": allowed})
        findings += [Finding(where.role, where.lang, size, where.page, v["check"], v["selector"], v["value"], v["text"])
                     for v in result["violations"]]
        unmeasured += [f"{where.role} {where.lang} {size} {where.page} {u['selector']} “{u['text']}”"
                       for u in result["unmeasured"]]
        if shots:
            page.screenshot(path=str(shots / f"every-page-{where.role}-{where.lang}-{where.page}-{size}.png"))


def test_every_page_reads_well_for_every_role_at_both_sizes_in_both_languages(
        browser: Browser, app, server_url, session, flat_video, screenshot_dir):
    ids = stage(app, session, flat_video)
    findings, unmeasured, refused = walk(browser, server_url, ids, data_strings(session), screenshot_dir)
    # Notes the server wrote into a history (新建商品, 订单 #12, 交接单 #1 → …) are server messages: an
    # English page showing them in Chinese fails like any other (they are stored as codes, db/notes.py).
    report = [f.line() for f in findings]
    (screenshot_dir / "every-page-audit.txt").write_text("\n".join([
        f"{len(report)} violations", *report,
        "", f"{len(unmeasured)} unmeasured (text on a picture)", *unmeasured,
        "", "refused (a role's error page is audited once per language)", *refused]) + "\n", encoding="utf-8")
    assert not report, f"{len(report)} violations:\n" + "\n".join(report)


# States that only submitting a form reaches, per role: (name, what to do on the page). Each runs
# once per language and is measured at both sizes like the pages above.
CATALOG_CSV = ("编号,名称,单位,价格,库存\nJL-XM-01,巨鹿小米,斤,19,180\n,新米,斤,12,30\nJL-BAD-1,坏行,斤,不知道,很多\n")
ORDERS_CSV = ("订单号,商品名称,数量,收货人,手机,收货地址\nDY-0001,巨鹿小米,2,刘六,13900139000,河北省巨鹿县城关镇 1 号\n"
              "DY-0002,没有这个商品,1,刘七,123,\n")


def _submit(page: Page, button: str = "main form button[type=submit]") -> None:
    """Submit as typed, letting the server judge it (what a browser without form checks sends)."""
    page.evaluate("document.querySelectorAll('form').forEach(f => { f.noValidate = true; })")
    with page.expect_navigation(wait_until="load"):
        page.locator(button).last.click()


def _catalog_dry_run(page: Page) -> None:
    page.locator("#import-file").set_input_files(
        {"name": "商品.csv", "mimeType": "text/csv", "buffer": CATALOG_CSV.encode("utf-8-sig")})
    page.locator("#import-farmer").select_option("wangdajie")
    page.locator("#check-button").click()
    expect(page.locator("#preview-table")).to_be_visible()


def _orders_dry_run(page: Page) -> None:
    page.locator("input[type=file]").set_input_files(
        {"name": "orders.csv", "mimeType": "text/csv", "buffer": ORDERS_CSV.encode("utf-8-sig")})
    page.locator("input[name=dry_run]").check()
    _submit(page)


def _empty_form(page: Page) -> None:
    _submit(page)
    expect(page.locator(".field-error, .flash.error").first).to_be_visible()


def _bad_stock(page: Page) -> None:
    page.locator("td.delta input").first.fill("三十")
    _submit(page, "form.stock-form button[type=submit]")
    expect(page.locator(".field-error").first).to_be_visible()


def _hand_off(page: Page) -> None:
    page.locator("input[name=order_ids]").first.check()
    _submit(page, "#hand-off")
    expect(page).to_have_url(re.compile(r"/handoffs/\d+$"))


def _short_password(page: Page) -> None:
    page.locator("input[name=username]").fill("xinren")
    page.locator("select[name=role]").select_option("coordinator")
    page.locator("input[name=password]").fill("123")
    _empty_form(page)


def _bad_destination(page: Page) -> None:
    page.locator("input[name=server_url]").fill("不是地址")
    _empty_form(page)


def _wrong_tracking_number(page: Page) -> None:
    if page.locator("#ack").count():
        _submit(page, "#ack")
    row = page.locator("form.ship-form").first
    row.locator("input[name=carrier]").fill("顺丰")
    row.locator("input[name=tracking_no]").fill("不对的号")
    row.locator("button[type=submit]").click()
    expect(row.locator(".ship-message")).not_to_be_empty()


def _wrong_password(page: Page) -> None:
    page.locator("input[name=username]").fill("nobody")
    page.locator("input[name=password]").fill("wrong-password")
    _empty_form(page)


FORM_STATES: dict[str, tuple[tuple[str, str, object], ...]] = {  # role → (endpoint, state, action)
    "guest": (("auth.login", "wrong password", _wrong_password),),
    "farmer": (("live.destinations", "refused address", _bad_destination),
               ("orders.new", "fields flagged", _empty_form)),
    "coordinator": (("catalog.import_page", "dry-run preview", _catalog_dry_run),
                    ("catalog.new", "fields flagged", _empty_form),
                    ("catalog.stock", "fields flagged", _bad_stock),
                    ("orders.new", "fields flagged", _empty_form),
                    ("orders.import_csv", "dry-run report", _orders_dry_run),
                    ("broadcasts.new", "fields flagged", _empty_form),
                    ("handoffs.new", "batch just created", _hand_off)),
    "trainer": (("contests.new", "fields flagged", _empty_form),),
    "partner": (("handoffs.show", "refused tracking number", _wrong_tracking_number),),
    "admin": (("users.index", "fields flagged", _short_password),),
}


def test_pages_reached_by_a_form_read_well_for_their_role_at_both_sizes_in_both_languages(
        browser: Browser, app, server_url, session, flat_video, screenshot_dir):
    """The states a GET never shows (issue 16): an import's dry run, forms with fields flagged, a
    hand-off batch just created, a refused tracking number, a failed login; the same checks."""
    ids = stage(app, session, flat_video)
    millet = session.get(Product, ids.product)
    coordinator = session.scalar(select(User).where(User.username == "zhanzhang"))
    for _ in LANGUAGES:  # one complete new order per batch to create
        factories.order(session, millet, coordinator)
    # What the files and fields above hold is user data too, though a dry run stores none of it.
    rows = CATALOG_CSV.splitlines()[1:] + ORDERS_CSV.splitlines()[1:]  # not the headers: labels are checked
    typed = sorted({cell for line in rows for cell in line.split(",") if len(cell) > 1}
                   | {"nobody", "xinren", "顺丰", "不对的号", "三十", "不是地址"})
    findings: list[Finding] = []
    unmeasured: list[str] = []
    for role, states in FORM_STATES.items():
        context, page, allowed = role_page(browser, server_url, role)
        for lang, code in LANGUAGES.items():
            context.add_cookies([{"name": LANG_COOKIE, "value": code, "url": server_url}])
            for endpoint, state, action in states:
                page.set_viewport_size(SIZES["1366x768"])
                page.goto(server_url + PAGES[endpoint].format(**vars(ids)), wait_until="load")
                action(page)  # type: ignore[operator]
                session.rollback()  # see what the form just stored
                name = f"{endpoint} ({state})"
                audit(page, Finding(role, lang, "", name, "", "", "", ""), data_strings(session) + typed, allowed,
                      findings, unmeasured, screenshot_dir)
        context.close()
    report = [f.line() for f in findings]
    (screenshot_dir / "every-form-state-audit.txt").write_text(
        "\n".join([f"{len(report)} violations", *report, "", f"{len(unmeasured)} unmeasured", *unmeasured]) + "\n",
        encoding="utf-8")
    assert not report, f"{len(report)} violations:\n" + "\n".join(report)


@pytest.mark.media
def test_the_live_console_reads_well_while_live_with_the_order_form_open_and_after_stopping(
        browser: Browser, app, server_url, session, api_as, flat_video, screenshot_dir):
    """The farmer's main screen in its live state (a video file as the camera), which the walk
    above sees only before going live; then with 记一单 open; then after 结束直播, with the result."""
    from tests.live_helpers import wait_until

    stage(app, session, flat_video)
    farmer = session.scalar(select(User).where(User.username == "wangdajie"))
    api = api_as(farmer)
    data, findings, unmeasured = data_strings(session), [], []
    context = browser.new_context(viewport=SIZES["1366x768"], locale="zh-CN")
    page = context.new_page()
    log_in(page, server_url, farmer.username)
    for lang, code in LANGUAGES.items():
        started = api.post("/api/live/start", json={"video": str(flat_video), "audio": "none", "destinations": [],
                                                    "preset": "480p30"})
        assert started.status_code == 201, started.json
        assert wait_until(lambda: api.get("/api/live/status").json["state"] == "live", timeout=30)
        context.add_cookies([{"name": LANG_COOKIE, "value": code, "url": server_url}])
        page.set_viewport_size(SIZES["1366x768"])
        page.goto(f"{server_url}/live/")
        expect(page.locator("#btn-order")).to_be_enabled()
        page.wait_for_timeout(1500)  # the status poll has filled the health, time and meters
        audit(page, Finding("farmer", lang, "", "live.console (live)", "", "", "", ""), data, list(ALLOWED_LATIN),
              findings, unmeasured, screenshot_dir)
        page.locator("#btn-order").click()
        expect(page.locator("#order-dialog")).to_be_visible()
        audit(page, Finding("farmer", lang, "", "live.console (记一单)", "", "", "", ""), data, list(ALLOWED_LATIN),
              findings, unmeasured, screenshot_dir)
        # 结束直播 (and the browser's 确定): the result the console shows only after a stop.
        page.keyboard.press("Escape")
        expect(page.locator("#order-dialog")).to_be_hidden()
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#btn-stop").click()
        expect(page.locator("#summary-link")).to_be_visible(timeout=20_000)
        expect(page.locator("#after")).to_be_visible()
        assert wait_until(lambda: api.get("/api/live/status").json["state"] == "idle", timeout=30)
        audit(page, Finding("farmer", lang, "", "live.console (after stop)", "", "", "", ""), data,
              list(ALLOWED_LATIN), findings, unmeasured, screenshot_dir)
    context.close()
    report = [f.line() for f in findings]
    assert not report and not unmeasured, f"{len(report)} violations:\n" + "\n".join(report + unmeasured)


BAD_PAGE = """<!doctype html><html lang="zh-CN"><head><style>
  body { margin: 0; font: 16px sans-serif; background: #fff; }
  .red { background: #c8102e; padding: 8px; } .red .hint { color: #5b5b66; }
  .glass { background: rgba(0, 0, 0, 0.5); } .glass p { color: #333; }
  .sky { background: linear-gradient(#ffffff, #1d1d1f); color: #1d1d1f; }
  .wide { width: 1400px; } .big { font-size: 26px; color: #949494; }
  .tiny { font-size: 12px; padding: 2px; }
</style></head><body>
  <div class="red"><span class="hint">先点检查设备</span></div>
  <div class="glass"><p>半透明的底</p></div>
  <div class="sky">渐变上的字</div>
  <p class="big">大字可以浅一点</p>
  <button class="tiny">小按钮</button>
  <p>没有账号？请<a href="#">联系管理员</a>开一个。</p>
  <p><a href="#" id="alone">单独的链接</a></p>
  <label for="f">名称</label><input id="f" style="height: 56px">
  <label><input type="checkbox"> 太小的勾选</label>
  <p>导出 CSV 文件 A001.jpg · 10 MB</p>
  <p>王大姐 (wangdajie)</p>
  <div class="wide">宽</div>
  <div style="height: 60px; overflow: hidden"><div style="height: 50px"></div><button style="height: 48px">切掉一半</button></div>
  <button style="width: 60px; height: 48px; white-space: nowrap">字太多出了按钮</button>
</body></html>"""


def test_the_audit_finds_each_kind_of_problem_and_passes_what_is_allowed(page: Page):
    """The measuring script itself, on a page made to fail each check once (and to pass the
    exceptions: large text at 3:1, a link in a sentence, a label beside a big field, a file name,
    a unit, and user data)."""
    page.set_viewport_size(SIZES["1024x600"])
    page.set_content(BAD_PAGE)
    result = page.evaluate(AUDIT, {"lang": "zh", "data": ["wangdajie"], "allow": list(ALLOWED_LATIN)})
    found = {(v["check"], v["text"]) for v in result["violations"]}
    assert ("contrast", "先点检查设备") in found  # grey on red: 1.14:1
    assert ("contrast", "半透明的底") in found  # #333 on black at 50% over white
    assert ("contrast", "渐变上的字") in found  # dark text on the dark end of the gradient
    assert not any(text == "大字可以浅一点" for _, text in found), "26 px text needs 3:1 only"
    assert ("tap-target", "小按钮") in found
    assert ("tap-target", "单独的链接") in found
    assert not any(text == "联系管理员" for _, text in found), "a link inside a sentence is exempt"
    assert ("tap-target", "名称") not in found, "a label beside a 56 px field"
    assert ("tap-target", "太小的勾选") in found
    assert ("english-on-chinese-page", "导出 CSV 文件 A001.jpg · 10 MB") in found
    words = {v["value"] for v in result["violations"] if v["check"] == "english-on-chinese-page"}
    assert words == {"CSV"}, "jpg is a file name, MB a unit, wangdajie user data"
    assert any(v["check"] == "horizontal-scroll" and "div.wide" in v["selector"] for v in result["violations"])
    assert ("cut-off", "切掉一半") in found
    assert ("spills-out", "字太多出了按钮") in found

    page.set_content(BAD_PAGE.replace('lang="zh-CN"', 'lang="en"').replace("小按钮", "Small").replace("宽", "wide"))
    english = page.evaluate(AUDIT, {"lang": "en", "data": ["王大姐"], "allow": []})
    chinese = {v["text"] for v in english["violations"] if v["check"] == "chinese-on-english-page"}
    assert "先点检查设备" in chinese and "王大姐 (wangdajie)" not in chinese
