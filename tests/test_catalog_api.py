"""The products API as scripts and the aid partner's tools use it (shared/api.md)."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from catalog.models import Product
from tests import factories
from tests.conftest import csrf_token, login


@pytest.fixture
def people(session):
    return {
        "coord": factories.user(session, "coordinator", "zhang"),
        "admin": factories.user(session, "admin", "boss"),
        "wang": factories.user(session, "farmer", "wang", display_name="王大姐"),
        "li": factories.user(session, "farmer", "li"),
        "trainer": factories.user(session, "trainer", "teach"),
    }


def upload(api, data, path="/api/products/import", filename="catalog.csv", **form):
    """POST a multipart form with ``file``, encoded here: werkzeug's test client would spool a large
    body to a temporary file it never closes (a ResourceWarning under -W error)."""
    boundary = "cunbo-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in form.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: text/csv\r\n\r\n".encode("utf-8") + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return api.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")


NEW = {"name": "五常大米", "unit": "袋", "price_fen": 5990, "stock": 20, "farmer": "wang"}


def test_coordinator_creates_a_product_and_gets_201_with_a_generated_sku(session, api_as, people):
    response = api_as(people["coord"]).post("/api/products", json=NEW)
    assert response.status_code == 201
    body = response.json
    assert body["sku"].startswith("CB") and body["farmer"] == "wang" and body["link_no"] is None
    assert {k: body[k] for k in ("name", "unit", "price_fen", "promo_price_fen", "stock")} == {
        "name": "五常大米", "unit": "袋", "price_fen": 5990, "promo_price_fen": None, "stock": 20}


def test_admin_may_create_too_and_without_farmer_the_product_is_the_creators(session, api_as, people):
    response = api_as(people["admin"]).post("/api/products", json={**NEW, "farmer": None, "link_no": 3})
    assert response.status_code == 201 and response.json["farmer"] == "boss" and response.json["link_no"] == 3


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({**NEW, "sku": "DUP"}, 409, "已被使用"),
        ({**NEW, "farmer": "nobody"}, 400, "找不到农户"),
        ({**NEW, "price_fen": -1}, 400, "负数"),
        ({**NEW, "price_fen": "abc"}, 400, "price_fen"),
        ({**NEW, "stock": -5}, 400, "负数"),
        ({**NEW, "name": ""}, 400, "名称不能为空"),
        ({**NEW, "colour": "red"}, 400, "colour"),
        ({k: v for k, v in NEW.items() if k != "unit"}, 400, "unit"),
    ],
    ids=["duplicate-sku", "unknown-farmer", "negative-price", "text-price", "negative-stock", "empty-name",
         "unknown-field", "missing-unit"],
)
def test_bad_products_are_refused_with_status_and_reason(session, api_as, people, body, status, words):
    api = api_as(people["coord"])
    assert api.post("/api/products", json={**NEW, "sku": "DUP"}).status_code == 201
    response = api.post("/api/products", json=body)
    assert response.status_code == status and words in response.json["error"]
    assert len(session.scalars(select(Product)).all()) == 1


def test_farmers_see_only_their_own_products_and_may_not_write(session, api_as, people):
    mine = factories.product(session, people["wang"], sku="W1")
    theirs = factories.product(session, people["li"], sku="L1")
    api = api_as(people["wang"])
    assert [p["sku"] for p in api.get("/api/products").json] == ["W1"]
    assert api.get(f"/api/products/{theirs.id}").status_code == 404
    assert api.post("/api/products", json=NEW).status_code == 403
    assert api.patch(f"/api/products/{mine.id}", json={"price_fen": 1}).status_code == 403
    assert api.patch(f"/api/products/{theirs.id}", json={"price_fen": 1}).status_code == 404
    assert upload(api, factories.catalog_csv([["名称", "单位", "单价"], ["x", "斤", "1"]])).status_code == 403
    export = api.get("/api/products/export.csv").get_data().decode("utf-8-sig")
    assert "W1" in export and "L1" not in export
    assert api_as(people["trainer"]).get("/api/products").status_code == 403


def test_list_filters_and_searches(session, api_as, people):
    factories.product(session, people["wang"], sku="W1", name="小米", price_fen=800)
    factories.product(session, people["li"], sku="L1", name="核桃", active=False)
    api = api_as(people["coord"])
    assert [p["sku"] for p in api.get("/api/products?q=xm").json] == ["W1"]
    assert [p["sku"] for p in api.get("/api/products?farmer=li").json] == ["L1"]
    assert [p["sku"] for p in api.get("/api/products?active=1").json] == ["W1"]


def test_patch_changes_fields_and_keeps_history(session, api_as, people):
    product = factories.product(session, people["wang"], sku="W1", price_fen=1000, stock=5)
    api = api_as(people["coord"])
    body = api.get(f"/api/products/{product.id}").json
    # A client may send the whole answer back with a change: read-only keys are ignored.
    response = api.patch(f"/api/products/{product.id}", json={**body, "price_fen": 1200, "stock": 9, "link_no": 4,
                                                              "reason": "调价"})
    assert response.status_code == 200, response.json
    assert (response.json["price_fen"], response.json["stock"], response.json["link_no"]) == (1200, 9, 4)
    clear = api.patch(f"/api/products/{product.id}", json={"link_no": None})
    assert clear.json["link_no"] is None
    assert api.patch(f"/api/products/{product.id}", json={"stock": -1}).status_code == 400
    factories.product(session, people["wang"], sku="W2")
    assert api.patch(f"/api/products/{product.id}", json={"sku": "W2"}).status_code == 409
    assert api.patch("/api/products/99999", json={"stock": 1}).status_code == 404


GOOD_CSV = [["编号", "名称", "农户", "单位", "单价", "库存", "链接号"],
            ["A1", "五常大米", "wang", "袋", "¥59.90", "20", "1"],
            ["A2", "土鸡蛋", "li", "盒", "25元", "100", ""]]
BAD_CSV = GOOD_CSV + [["A3", "坏", "nobody", "斤", "-1", "x", ""]]


def test_import_creates_then_counts_unchanged(session, api_as, people):
    api = api_as(people["coord"])
    first = upload(api, factories.catalog_csv(GOOD_CSV))
    assert first.status_code == 200
    assert {k: first.json[k] for k in ("created", "updated", "unchanged", "errors")} == {
        "created": 2, "updated": 0, "unchanged": 0, "errors": []}
    again = upload(api, factories.catalog_csv(GOOD_CSV, "gbk".replace("gbk", "utf-8")))
    assert (again.json["created"], again.json["unchanged"]) == (0, 2)


def test_import_with_a_bad_row_writes_nothing_and_answers_400_with_every_error(session, api_as, people):
    response = upload(api_as(people["coord"]), factories.catalog_csv(BAD_CSV))
    assert response.status_code == 400
    assert response.json["created"] == 0 and response.json["errors"][0]["row"] == 4
    error = response.json["errors"][0]["error"]
    assert "找不到农户 nobody" in error and "负数" in error and "库存不是整数" in error
    assert session.scalars(select(Product)).all() == []


@pytest.mark.parametrize("where", ["form", "query"])
def test_partial_import_writes_good_rows_and_answers_200(session, api_as, people, where):
    api = api_as(people["coord"])
    if where == "form":
        response = upload(api, factories.catalog_csv(BAD_CSV), partial="1")
    else:
        response = upload(api, factories.catalog_csv(BAD_CSV), path="/api/products/import?partial=1")
    assert response.status_code == 200
    assert response.json["created"] == 2 and [e["row"] for e in response.json["errors"]] == [4]
    assert len(session.scalars(select(Product)).all()) == 2


@pytest.mark.parametrize("where", ["form", "query"])
def test_dry_run_never_writes(session, api_as, people, where):
    api = api_as(people["coord"])
    path = "/api/products/import?dry_run=1" if where == "query" else "/api/products/import"
    extra = {} if where == "query" else {"dry_run": "1"}
    response = upload(api, factories.catalog_csv(GOOD_CSV), path=path, **extra)
    assert response.status_code == 200 and response.json["created"] == 2 and response.json["dry_run"] is True
    with_partial = upload(api, factories.catalog_csv(BAD_CSV), path=path + ("&" if "?" in path else "?") + "partial=1", **extra)
    assert with_partial.status_code == 200 and with_partial.json["created"] == 2
    assert session.scalars(select(Product)).all() == []


@pytest.mark.parametrize(
    "data, filename, words",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, "catalog.csv", "不是表格"),
        (b"a" * (50 * 1024 * 1024), "huge.csv", "文件太大"),
    ],
    ids=["binary-named-csv", "50-MB"],
)
def test_files_that_cannot_be_imported_get_400_and_change_nothing(session, api_as, people, data, filename, words):
    response = upload(api_as(people["coord"]), data, filename=filename)
    assert response.status_code == 400
    assert words in response.json["error"] and response.json["errors"][0]["row"] == 0
    assert session.scalars(select(Product)).all() == []


def test_import_without_a_file_is_400(session, api_as, people):
    response = api_as(people["coord"]).post("/api/products/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "请选择要导入的表格文件" in response.json["error"]


def test_export_is_utf8_bom_csv_that_recreates_the_catalog(session, api_as, people):
    api = api_as(people["coord"])
    upload(api, factories.catalog_csv(GOOD_CSV))
    before = api.get("/api/products").json
    response = api.get("/api/products/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf") and "单价" in response.data.decode("utf-8-sig")
    session.execute(Product.__table__.delete().where(Product.id > 0))
    session.commit()
    recreated = upload(api, response.data)
    assert recreated.json["created"] == 2
    after = api.get("/api/products").json
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("id", "updated_at")} for r in rows]  # noqa: E731
    assert strip(after) == strip(before)


def test_import_through_the_browser_session_needs_the_csrf_token(client, session, people):
    login(client, "zhang")
    data = factories.catalog_csv(GOOD_CSV)
    refused = client.post("/api/products/import", data={"file": (io.BytesIO(data), "c.csv")},
                          content_type="multipart/form-data")
    assert refused.status_code == 400 and "CSRF" in refused.json["error"]
    ok = client.post("/api/products/import", data={"file": (io.BytesIO(data), "c.csv"), "progress": "job12345"},
                     headers={"X-CSRFToken": csrf_token(client)}, content_type="multipart/form-data")
    assert ok.status_code == 200 and ok.json["created"] == 2
    progress = client.get("/api/products/import/progress/job12345").json
    assert progress == {"phase": "done", "done": 1, "total": 1}


def test_import_progress_is_reported_while_rows_are_checked_and_written(app, session, people):
    from app.catalog.progress import ImportProgress

    table = ImportProgress()
    seen = []
    from catalog import spreadsheet

    rows = [GOOD_CSV[0]] + [[f"S{i}", f"米{i}", "wang", "斤", "1", "1", ""] for i in range(1200)]
    spreadsheet.import_products(session, factories.catalog_csv(rows), people["coord"],
                                progress=lambda phase, done, total: (table.update(1, "j" * 8, phase, done, total),
                                                                     seen.append((phase, done, total))))
    assert ("checking", 500, 1200) in seen and ("checking", 1200, 1200) in seen and seen[-1] == ("writing", 1200, 1200)
    assert table.get(1, "j" * 8).as_dict() == {"phase": "writing", "done": 1200, "total": 1200}
    assert table.get(2, "j" * 8) is None  # someone else's job is not theirs to see


def test_photo_upload_through_the_api(session, api_as, people):
    product = factories.product(session, people["wang"], sku="W1")
    api = api_as(people["coord"])
    response = api.post(f"/api/products/{product.id}/photos",
                        data={"photo": (io.BytesIO(factories.image_bytes()), "x.jpg")}, content_type="multipart/form-data")
    assert response.status_code == 201 and len(response.json["photo_urls"]) == 1
    card = api.get(response.json["photo_urls"][0]["card"])
    assert card.status_code == 200 and card.mimetype == "image/jpeg"
    card.close()
    script = api.post(f"/api/products/{product.id}/photos",
                      data={"photo": (io.BytesIO(b"<?php system($_GET['c']); ?>"), "evil.jpg")},
                      content_type="multipart/form-data")
    assert script.status_code == 400 and "不是能打开的图片" in script.json["error"]
    other = api_as(people["li"]).get(response.json["photo_urls"][0]["thumb"])
    assert other.status_code == 404  # another farmer's photo does not leak
