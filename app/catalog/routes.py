"""Catalog pages. Coordinators and admins manage every farmer's products; a farmer sees their own."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from accounts import services as accounts
from accounts.models import User
from accounts.roles import FARMER, MANAGERS
from app.catalog import bp
from app.catalog.forms import ProductForm
from app.catalog.uploads import data_dir, photo_urls, read_photo, village_zone
from app.database import get_db
from app.home import HomeCard, register_card
from app.i18n import N_, localized
from app.inputs import parse_id
from app.security import role_required
from catalog import photos, services
from catalog.errors import CatalogError, ProductNotFound
from catalog.models import COMMON_UNITS, Product, ProductPhoto
from catalog.money import format_yuan
from catalog.spreadsheet import COLUMNS, MAX_IMPORT_BYTES
from db import utcnow
from db.notes import Note

PAGE_SIZE = 100
# Sort choices shown on the list page: (key of services.SORTS, msgid).
SORT_CHOICES = (
    ("name", N_("按名称")), ("-price", N_("价格从高到低")), ("price", N_("价格从低到高")),
    ("stock", N_("库存从少到多")), ("link_no", N_("按链接号")), ("updated", N_("最近修改")),
    ("newest", N_("最新添加")),
)
MAX_PAGE = 100_000
FIELD_LABELS = {"price_fen": N_("单价"), "promo_price_fen": N_("促销价"), "stock": N_("库存")}
# The dry run's "变化" column names a product's fields by their column headers, never by code.
CHANGE_LABELS = {**{c.key: c.header for c in COLUMNS}, "price_fen": N_("单价"), "promo_price_fen": N_("促销价"),
                 "promo_starts_at": N_("促销开始"), "promo_ends_at": N_("促销结束")}


def _count_visible(user: User) -> int:
    return services.count_products(get_db(), viewer=user)


register_card(HomeCard(title=N_("商品目录"), hint=N_("每户的商品、价格、库存和照片；从 Excel 导入"),
                       endpoint="catalog.index", roles=MANAGERS, order=20, count=_count_visible,
                       count_label=N_("件商品")))
register_card(HomeCard(title=N_("我的商品"), hint=N_("看看我的商品、价格和库存"), endpoint="catalog.index",
                       roles=(FARMER,), order=30, count=_count_visible, count_label=N_("件商品")))


@bp.app_template_filter("yuan")
def yuan_filter(fen: int | None) -> str:
    """``{{ product.price_fen|yuan }}`` → ¥25.50."""
    return format_yuan(fen)


def _is_manager() -> bool:
    return current_user.role in MANAGERS


def _visible_product(product_id: int) -> Product:
    try:
        return services.get_product(get_db(), product_id, viewer=current_user)
    except ProductNotFound:
        abort(404)


@bp.get("/")
@role_required(*services.VIEWER_ROLES)
def index() -> ResponseReturnValue:
    """The list with search (name, sku, pinyin initials), farmer filter, sort and pages."""
    session = get_db()
    q = request.args.get("q", "").strip()
    farmer = request.args.get("farmer", "").strip() if _is_manager() else ""
    shown = request.args.get("active", "")
    active = {"1": True, "0": False}.get(shown)
    sort = request.args.get("sort", "name")
    page = min(parse_id(request.args.get("page")) or 1, MAX_PAGE)  # a page past 2⁶³ rows was a 500
    filters: dict[str, Any] = {"q": q or None, "farmer": farmer or None, "active": active}
    total = services.count_products(session, viewer=current_user, **filters)
    products = services.list_products(
        session, viewer=current_user, sort=sort, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters
    )
    return render_template(
        "catalog/index.html", products=products, total=total, page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), q=q, farmer=farmer, shown=shown, sort=sort,
        sort_choices=SORT_CHOICES, farmers=services.farmers(session) if _is_manager() else [],
        manager=_is_manager(), thumb=lambda p: photo_urls(p)[0]["thumb"] if p.photos else None,
        now=utcnow(),
    )


def _form(product: Product | None = None) -> ProductForm:
    form = ProductForm()
    # Only farmers are offered: a product belongs to someone who sells it on their console. A
    # product the station owns from before keeps its owner until someone picks a farmer.
    owners = accounts.users_by_role(get_db(), FARMER)
    if product is not None and product.farmer.role != FARMER:
        owners.insert(0, product.farmer)
    form.farmer.choices = [("", _("请选择农户"))] + [(u.username, f"{u.name}{_('（')}{u.username}{_('）')}") for u in owners]
    if product is not None and request.method == "GET":
        form.fill_from(product, village_zone())
    return form


def _save(form: ProductForm, product: Product | None) -> Product | None:
    """Create or change the product from the form; None after showing errors on the form.

    A new product may come with a photo: both are saved, or neither (the typed values stay on
    the form and the photo's error is shown beside its input).
    """
    values = form.values(village_zone())
    if values is None:
        return None
    session = get_db()
    reason = (form.reason.data or "").strip()
    upload = request.files.get("photo")
    try:
        if product is None:
            picture = read_photo(upload) if upload is not None and upload.filename else None
            product = services.create_product(session, actor=current_user, reason=reason or Note("product_created"), **values)
            if picture is not None:
                photos.add_photo(session, data_dir(), product, picture, current_user)
        else:
            if values["sku"] is None:
                values.pop("sku")
            services.update_product(session, product, current_user, reason=reason or Note("page_edit"), **values)
    except CatalogError as exc:
        session.rollback()
        if not form.add_error(exc.field, localized(exc)):
            flash(localized(exc), "error")
        return None
    session.commit()
    return product


@bp.route("/new", methods=["GET", "POST"])
@role_required(*MANAGERS)
def new() -> ResponseReturnValue:
    """A new product."""
    form = _form()
    if request.method == "GET" and request.args.get("farmer"):
        form.farmer.data = request.args["farmer"]
    if form.is_submitted():
        product = _save(form, None)
        if product is not None:
            flash(_("已添加 %(name)s", name=product.name), "success")
            return redirect(url_for("catalog.detail", product_id=product.id))
        return render_template("catalog/form.html", form=form, product=None, units=COMMON_UNITS), 400
    return render_template("catalog/form.html", form=form, product=None, units=COMMON_UNITS)


@bp.route("/<int:product_id>/edit", methods=["GET", "POST"])
@role_required(*MANAGERS)
def edit(product_id: int) -> ResponseReturnValue:
    """Change a product; its photos are managed on the same page."""
    product = _visible_product(product_id)
    form = _form(product)
    if form.is_submitted():
        if _save(form, product) is not None:
            flash(_("已保存 %(name)s", name=product.name), "success")
            return redirect(url_for("catalog.detail", product_id=product.id))
        return render_template("catalog/form.html", form=form, product=product, units=COMMON_UNITS,
                               photo_pairs=_photo_pairs(product)), 400
    return render_template("catalog/form.html", form=form, product=product, units=COMMON_UNITS,
                           photo_pairs=_photo_pairs(product))


def _photo_pairs(product: Product) -> list[tuple[ProductPhoto, dict[str, str]]]:
    return list(zip(product.photos, photo_urls(product)))


@bp.get("/<int:product_id>")
@role_required(*services.VIEWER_ROLES)
def detail(product_id: int) -> ResponseReturnValue:
    """One product with its photos and the history of its price and stock."""
    product = _visible_product(product_id)
    return render_template(
        "catalog/detail.html", product=product, photo_list=photo_urls(product),
        changes=services.history(get_db(), product.id), field_labels=FIELD_LABELS, manager=_is_manager(),
        now=utcnow(), video_chars=services.NAME_SHOWN_ON_VIDEO,
    )


@bp.post("/<int:product_id>/photos")
@role_required(*MANAGERS)
def upload_photo(product_id: int) -> ResponseReturnValue:
    """Add a photo from the product's page or its edit page (``back=detail`` returns to the former)."""
    product = _visible_product(product_id)
    upload = request.files.get("photo")
    session = get_db()
    if upload is None or not upload.filename:
        flash(_("请先选择一张照片"), "error")
    else:
        try:
            photos.add_photo(session, data_dir(), product, read_photo(upload), current_user)
        except CatalogError as exc:
            session.rollback()
            flash(localized(exc), "error")
        else:
            session.commit()
            flash(_("照片已上传"), "success")
    back = "catalog.detail" if request.form.get("back") == "detail" else "catalog.edit"
    return redirect(url_for(back, product_id=product.id) + "#photos")


@bp.post("/<int:product_id>/photos/<int:photo_id>/delete")
@role_required(*MANAGERS)
def delete_photo(product_id: int, photo_id: int) -> ResponseReturnValue:
    """Remove one photo."""
    product = _visible_product(product_id)
    session = get_db()
    photo = session.get(ProductPhoto, photo_id)
    if photo is None or photo.product_id != product.id:
        abort(404)
    photos.delete_photo(session, data_dir(), photo, current_user)
    session.commit()
    flash(_("照片已删除"), "success")
    return redirect(url_for("catalog.edit", product_id=product.id) + "#photos")


@bp.get("/photos/<stem>/<kind>.jpg")
@role_required(*services.VIEWER_ROLES)
def photo(stem: str, kind: str) -> ResponseReturnValue:
    """A stored photo file, for those who may see its product."""
    session = get_db()
    product_id = session.scalar(select(ProductPhoto.product_id).where(ProductPhoto.stem == stem))
    if product_id is None or kind not in photos.KINDS:
        abort(404)
    _visible_product(product_id)
    path = photos.photo_path(data_dir(), stem, kind)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype="image/jpeg", max_age=3600)


@bp.route("/stock", methods=["GET", "POST"])
@role_required(*MANAGERS)
def stock() -> ResponseReturnValue:
    """Bulk stock adjustment: add or take away for many products at once, all or nothing."""
    session = get_db()
    farmer = request.values.get("farmer", "").strip()
    products = services.list_products(session, viewer=current_user, farmer=farmer or None, sort="name")
    errors: dict[int, str] = {}
    if request.method == "POST":
        deltas, errors = _read_deltas(request.form, {p.id for p in products})
        reason: Note | str = request.form.get("reason", "").strip() or Note("stock_count")
        if not errors and not deltas:
            flash(_("没有填写任何变化"), "error")
        elif not errors:
            try:
                services.adjust_stocks(session, deltas, current_user, reason)
            except CatalogError as exc:
                session.rollback()
                flash(_("没有保存任何变化：") + localized(exc), "error")
                return render_template("catalog/stock.html", products=products, errors=errors, farmer=farmer,
                                       farmers=services.farmers(session), form=request.form), 409
            session.commit()
            flash(ngettext("已调整 %(n)d 件商品的库存", "已调整 %(n)d 件商品的库存", len(deltas), n=len(deltas)), "success")
            return redirect(url_for("catalog.stock", farmer=farmer) if farmer else url_for("catalog.stock"))
        else:
            flash(_("有填错的地方，没有保存任何变化"), "error")
        return render_template("catalog/stock.html", products=products, errors=errors, farmer=farmer,
                               farmers=services.farmers(session), form=request.form), 400
    return render_template("catalog/stock.html", products=products, errors=errors, farmer=farmer,
                           farmers=services.farmers(session), form={})


def _read_deltas(form: Any, allowed: set[int]) -> tuple[dict[int, int], dict[int, str]]:
    """``delta-<id>`` inputs → {id: delta}; a bad number is an error under its row."""
    deltas: dict[int, int] = {}
    errors: dict[int, str] = {}
    for key, value in form.items():
        if not key.startswith("delta-") or not value.strip():
            continue
        product_id = parse_id(key.removeprefix("delta-"))
        if product_id is None or product_id not in allowed:
            continue
        text = value.strip().replace("＋", "+").replace("－", "-").replace(" ", "")
        try:
            deltas[product_id] = int(text)
        except ValueError:
            errors[product_id] = _("请填整数，例如 10 或 -5")
    return deltas, errors


@bp.get("/import")
@role_required(*MANAGERS)
def import_page() -> ResponseReturnValue:
    """Upload a spreadsheet, read the dry-run report, then confirm."""
    return render_template("catalog/import.html", columns=COLUMNS, max_mb=MAX_IMPORT_BYTES // (1024 * 1024),
                           farmers=accounts.users_by_role(get_db(), FARMER),
                           change_labels={field: _(label) for field, label in CHANGE_LABELS.items()})
