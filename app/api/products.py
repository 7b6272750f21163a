"""Products in the JSON API (shared/api.md): list, create, change, CSV import and export, photos.

Coordinators and admins manage products. A farmer sees only their own: another farmer's product
is 404 (its existence does not leak), and a write on their own is 403.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import model_validator

from accounts.roles import FARMER, MANAGERS
from app.api import bp
from app.api.errors import ApiError, error_code, load_body
from app.catalog.progress import JOB_ID_RE, progress_table
from app.catalog.uploads import (
    data_dir,
    flag,
    photo_urls,
    read_photo,
    read_spreadsheet,
    status_for,
    village_zone,
)
from app.database import get_db
from app.downloads import file_download
from app.i18n import localized
from app.inputs import Body, Day, Int, Moment
from catalog import photos, services, spreadsheet
from catalog.errors import CatalogError, ImportFileRejected
from catalog.models import Product
from db.notes import Note

# Keys of the answer that a client may send back unchanged in a PATCH; they are not fields.
READ_ONLY_KEYS = frozenset({"id", "farmer_name", "price_now_fen", "photos", "photo_urls", "updated_at"})


@contextmanager
def catalog_errors() -> Iterator[None]:
    """Turn a catalog error into a JSON error with its status; the session is rolled back."""
    try:
        yield
    except CatalogError as exc:
        get_db().rollback()
        extra = {"code": error_code(exc), **({"field": exc.field} if exc.field else {})}
        raise ApiError(status_for(exc), localized(exc), **extra) from exc


def _require_viewer() -> None:
    if current_user.role not in services.VIEWER_ROLES:
        raise ApiError(403, _("您的账号不能查看商品"))


def _require_manager(product: Product | None = None) -> None:
    if current_user.role in MANAGERS:
        return
    if product is not None and current_user.role == FARMER and product.farmer_id != current_user.id:
        raise ApiError(404, _("找不到商品 %(id)s", id=product.id))
    raise ApiError(403, _("只有村级服务站和管理员可以修改商品"))


def _managed_product(product_id: int) -> Product:
    """The product, if the caller may change it: 404 when they may not see it, 403 when they may
    see but not change it."""
    _require_viewer()
    with catalog_errors():
        product = services.get_product(get_db(), product_id, viewer=current_user)
    _require_manager(product)
    return product


def product_json(product: Product) -> dict[str, Any]:
    """The API shape plus photo URLs."""
    return {**services.product_to_dict(product), "photo_urls": photo_urls(product)}


class _Fields(Body):
    """What both POST and PATCH accept; answer-only keys sent back are dropped, others refused."""

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in READ_ONLY_KEYS}
        return data


class NewProduct(_Fields):
    """The body of POST /api/products."""

    name: str
    unit: str
    price_fen: Int
    stock: Int
    sku: str | None = None
    farmer: str | None = None
    name_en: str = ""
    promo_price_fen: Int | None = None
    promo_starts_at: Moment | None = None
    promo_ends_at: Moment | None = None
    link_no: Int | None = None
    origin: str = ""
    produced_on: Day | None = None
    description: str = ""
    selling_points: str | list[str] = ""
    active: bool = True


class ProductChanges(_Fields):
    """The body of PATCH /api/products/<id>: any of the fields."""

    name: str | None = None
    unit: str | None = None
    price_fen: Int | None = None
    stock: Int | None = None
    sku: str | None = None
    farmer: str | None = None
    name_en: str | None = None
    promo_price_fen: Int | None = None
    promo_starts_at: Moment | None = None
    promo_ends_at: Moment | None = None
    link_no: Int | None = None
    origin: str | None = None
    produced_on: Day | None = None
    description: str | None = None
    selling_points: str | list[str] | None = None
    active: bool | None = None
    reason: str = ""


@bp.get("/products")
def list_products() -> ResponseReturnValue:
    """Products the caller may see; ``?q=&farmer=&active=1|0&sort=``."""
    _require_viewer()
    active = request.args.get("active")
    found = services.list_products(
        get_db(),
        viewer=current_user,
        q=request.args.get("q") or None,
        farmer=request.args.get("farmer") or None,
        active=None if active in (None, "") else active.lower() in ("1", "true", "yes"),
        sort=request.args.get("sort", "name"),
    )
    return jsonify([product_json(p) for p in found])


@bp.get("/products/<int:product_id>")
def get_product(product_id: int) -> ResponseReturnValue:
    """One product (404 when the caller may not see it)."""
    _require_viewer()
    with catalog_errors():
        product = services.get_product(get_db(), product_id, viewer=current_user)
    return jsonify(product_json(product))


@bp.post("/products")
def create_product() -> ResponseReturnValue:
    """Add a product → 201. sku is generated when left out; a taken sku is 409."""
    _require_manager()
    body = load_body(NewProduct)
    session = get_db()
    with catalog_errors():
        product = services.create_product(session, actor=current_user, **body.model_dump())
    session.commit()
    return jsonify(product_json(product)), 201


@bp.patch("/products/<int:product_id>")
def update_product(product_id: int) -> ResponseReturnValue:
    """Change any fields of a product; price and stock changes go into the history."""
    session = get_db()
    product = _managed_product(product_id)
    body = load_body(ProductChanges)
    changes = body.model_dump(exclude_unset=True)
    reason: Note | str = changes.pop("reason", "") or Note("api_edit")
    with catalog_errors():
        services.update_product(session, product, current_user, reason=reason, **changes)
    session.commit()
    return jsonify(product_json(product))


@bp.post("/products/import")
def import_products() -> ResponseReturnValue:
    """CSV import (multipart ``file``; ``dry_run``/``partial`` as form fields or query parameters).

    Optional ``photos`` (several files named after skus, ``A001.jpg``) are attached to the
    products. Optional ``progress`` is a job id the page polls at /api/products/import/progress/<id>.
    Optional ``farmer`` (a user name) owns the new rows that name no farmer; a new row with no
    farmer at all is a row error.
    """
    _require_manager()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, _("请选择要导入的表格文件"), field="file")
    dry_run, partial = flag("dry_run"), flag("partial")
    job_id = request.form.get("progress") or request.args.get("progress") or ""
    report_progress = _progress_reporter(job_id)
    session = get_db()
    farmer_name = (request.form.get("farmer") or request.args.get("farmer") or "").strip()
    try:
        farmer = services.resolve_farmer(session, farmer_name) if farmer_name else None
        data = read_spreadsheet(upload)
        pictures = [(p.filename or "", read_photo(p)) for p in request.files.getlist("photos") if p.filename]
        report = spreadsheet.import_products(
            session, data, current_user, dry_run=dry_run, partial=partial, photos=pictures,
            data_dir=data_dir(), farmer=farmer, zone=village_zone(), progress=report_progress,
        )
    except ImportFileRejected as exc:
        session.rollback()
        report_progress("failed", 0, 0)
        body = spreadsheet.ImportReport(dry_run=dry_run).as_dict(localized, _("；"))
        message = localized(exc)
        return jsonify({**body, "error": message, "code": error_code(exc), "errors": [{"row": 0, "error": message}]}), 400
    except CatalogError as exc:
        session.rollback()
        report_progress("failed", 0, 0)
        raise ApiError(status_for(exc), localized(exc), code=error_code(exc)) from exc
    if report.written:
        session.commit()
    else:
        session.rollback()
    report_progress("done", 1, 1)
    body = report.as_dict(localized, _("；"))
    if not report.ok and not partial:
        body["error"] = _("有 %(count)d 处错误，没有写入任何商品",
                          count=len(report.errors) + len(report.photo_errors))
        return jsonify(body), 400
    return jsonify(body)


def _progress_reporter(job_id: str) -> Any:
    if not JOB_ID_RE.match(job_id):
        return spreadsheet.no_progress
    table, user_id = progress_table(), current_user.id

    def report(phase: str, done: int, total: int) -> None:
        table.update(user_id, job_id, phase, done, total)

    report("checking", 0, 0)
    return report


@bp.get("/products/import/progress/<job_id>")
def import_progress(job_id: str) -> ResponseReturnValue:
    """``{"phase": "checking"|"writing"|"done"|"failed", "done", "total"}`` of the caller's import."""
    job = progress_table().get(current_user.id, job_id) if JOB_ID_RE.match(job_id) else None
    if job is None:
        raise ApiError(404, _("没有这个导入任务"))
    return jsonify(job.as_dict())


@bp.get("/products/export.csv")
def export_products() -> ResponseReturnValue:
    """The catalog the caller may see as CSV: UTF-8 with BOM, Chinese headers, yuan."""
    _require_viewer()
    data = spreadsheet.export_csv(get_db(), current_user, zone=village_zone())
    return file_download(data, "catalog.csv")


@bp.post("/products/<int:product_id>/photos")
def add_photo(product_id: int) -> ResponseReturnValue:
    """Upload a photo (multipart ``photo``) → 201 the product with its photo URLs."""
    session = get_db()
    product = _managed_product(product_id)
    upload = request.files.get("photo")
    if upload is None or not upload.filename:
        raise ApiError(400, _("请选择照片"), field="photo")
    with catalog_errors():
        photos.add_photo(session, data_dir(), product, read_photo(upload), current_user)
    session.commit()
    return jsonify(product_json(product)), 201
