"""Spreadsheet import and CSV export of the catalog, for coordinators who keep it in Excel.

Import reads an Excel workbook (.xlsx, its first sheet) or what Excel or WPS on a Chinese Windows
PC saves as CSV: UTF-8 with or without BOM, GBK/GB18030 (and UTF-16 "Unicode text"), comma or tab
separated. Headers may be Chinese or English, prices are read as people write them, and blank
lines are skipped. Rows are upserted by sku. Every bad row is reported with the row number
Excel shows (the header is row 1) and the reason; by default one bad row means nothing is
written. Export writes UTF-8 with BOM and Chinese headers, and import reads it back unchanged.

Speed matters (10,000 rows in well under a second, see bench/catalog_import.py): existing
products are read in a few queries, and new rows, updates and history are written in bulk.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from accounts.models import User
from catalog import photos as photo_store
from catalog.changes import touched
from catalog.text import unquote_formula, write_csv
from catalog.errors import N_, CatalogError, ImportFileRejected, InvalidProduct, UnknownFarmer
from catalog.models import Product, ProductChange
from catalog.money import parse_yuan, yuan_text
from catalog.pinyin import name_keys
from catalog.services import (
    EDITABLE_FIELDS,
    NAMED_OWNER_ROLES,
    TRACKED_FIELDS,
    check_consistency,
    clean_fields,
    diff_fields,
    list_products,
    new_sku,
    owners_by_name,
    require_manager,
)
from db import FIRST_YEAR, LAST_YEAR, in_calendar, utcnow
from db.notes import Note, split

MAX_IMPORT_BYTES = 10 * 1024 * 1024
VILLAGE_ZONE = ZoneInfo("Asia/Shanghai")
PROGRESS_EVERY = 500
# Rows the dry run lists one by one (the page shows them under the summary and says how many more).
PREVIEW_ROWS = 200
# A new row needs an owner who sells: a 农户 cell, or the farmer chosen for the whole file.
BLANK = N_("%(label)s不能为空")
NO_OWNER = N_("没有农户：请在表里写“农户”列，或在上面选这个文件的商品属于哪位农户")

Progress = Callable[[str, int, int], None]


def no_progress(phase: str, done: int, total: int) -> None:
    """The default progress callback: nobody is watching."""


# ---------------------------------------------------------------------------------------------
# Cells: text as Excel writes it → typed values. Each raises ValueError with a readable reason.


def parse_count(cell: str, label: str) -> int:
    """A whole number such as ``12``, ``1,200``, ``１２`` or Excel's ``12.0``. Raises ValueError."""
    text = unicodedata.normalize("NFKC", cell).strip().replace(",", "")
    if re.fullmatch(r"-\d+(\.0*)?", text):
        raise InvalidProduct(N_("%(label)s不能是负数：%(cell)s"), label=label, cell=cell)
    if not re.fullmatch(r"\d+(\.0*)?", text):
        raise InvalidProduct(N_("%(label)s不是整数：%(cell)s"), label=label, cell=cell)
    return int(text.split(".")[0])


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")
_TIME_FORMATS = ("%H:%M", "%H:%M:%S")


def parse_day(cell: str, label: str) -> date:
    """A date as Excel or a person writes it (2025-06-01, 2025/6/1, 2025年6月1日). Raises ValueError."""
    text = unicodedata.normalize("NFKC", cell).strip()
    for fmt in _DATE_FORMATS:
        try:
            day = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if not in_calendar(day):  # year 9999 broke the export (9999-12-31 in UTC is year 10000 here)
            raise InvalidProduct(N_("%(label)s的年份要在 %(first)d 到 %(last)d 之间：%(cell)s"), label=label,
                                 first=FIRST_YEAR, last=LAST_YEAR, cell=cell)
        return day
    raise InvalidProduct(N_("%(label)s看不懂：%(cell)s（请写成 2025-06-01）"), label=label, cell=cell)


def parse_moment(cell: str, label: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """A local date, or date and time, in ``zone`` → aware UTC. Raises ValueError.

    A bare end date means the end of that day (a promotion "until 6月3日" includes the 3rd).
    """
    text = " ".join(unicodedata.normalize("NFKC", cell).replace("T", " ").split())
    day_text, _, clock = text.partition(" ")
    day = parse_day(day_text, label)
    if not clock:
        moment = datetime.combine(day, time(0, 0)) + (timedelta(days=1) if end else timedelta())
    else:
        for fmt in _TIME_FORMATS:
            try:
                moment = datetime.combine(day, datetime.strptime(clock, fmt).time())
                break
            except ValueError:
                continue
        else:
            raise InvalidProduct(N_("%(label)s看不懂：%(cell)s（请写成 2025-06-01 08:00）"), label=label, cell=cell)
    return moment.replace(tzinfo=zone).astimezone(timezone.utc)


_YES = {"是", "yes", "y", "true", "1", "上架", "在售", "√", "✓"}
_NO = {"否", "no", "n", "false", "0", "下架", "停售", "×"}


def _parse_bool(cell: str, label: str) -> bool:
    text = unicodedata.normalize("NFKC", cell).strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise InvalidProduct(N_("%(label)s请写 是 或 否：%(cell)s"), label=label, cell=cell)


def _price(cell: str, label: str) -> int:
    try:
        return parse_yuan(cell)
    except InvalidProduct as exc:
        raise InvalidProduct(N_("%(label)s：%(reason)s"), label=label, reason=exc) from exc


@dataclass(frozen=True)
class Column:
    """One CSV column: its key, the Chinese header export writes, the headers import accepts."""

    key: str
    header: str
    aliases: tuple[str, ...]
    # Blank cell: "required" (error), "keep" (leave as it is; default on create) or "clear".
    blank: str = "clear"


COLUMNS: tuple[Column, ...] = (
    Column("sku", N_("编号"), ("编号", "商品编号", "货号", "商品编码", "sku", "code"), blank="keep"),
    Column("name", N_("名称"), ("名称", "商品名称", "品名", "商品", "name", "productname"), blank="required"),
    Column("name_en", N_("英文名"), ("英文名", "英文名称", "nameen", "englishname")),
    Column("farmer", N_("农户"), ("农户", "农户用户名", "主播", "卖家", "farmer", "owner"), blank="keep"),
    Column("unit", N_("单位"), ("单位", "规格单位", "unit"), blank="required"),
    Column("price", N_("单价"), ("单价", "价格", "售价", "原价", "price", "pricecny", "priceyuan"), blank="required"),
    Column("promo_price", N_("促销价"), ("促销价", "活动价", "优惠价", "promoprice", "promo")),
    Column("promo_starts", N_("促销开始"), ("促销开始", "促销开始时间", "promostarts", "promostart", "promostartsat")),
    Column("promo_ends", N_("促销结束"), ("促销结束", "促销结束时间", "promoends", "promoend", "promoendsat")),
    Column("stock", N_("库存"), ("库存", "库存数量", "数量", "stock", "quantity"), blank="keep"),
    Column("link_no", N_("链接号"), ("链接号", "链接序号", "购物车号", "linkno", "link", "linknumber")),
    Column("origin", N_("产地"), ("产地", "origin")),
    Column("produced_on", N_("生产日期"), ("生产日期", "采收日期", "生产/采收日期", "生产采收日期", "producedon", "harvestdate", "produced")),
    Column("description", N_("描述"), ("描述", "说明", "商品描述", "description", "desc")),
    Column("active", N_("上架"), ("上架", "在售", "是否上架", "active")),
)
_BY_ALIAS = {alias: column for column in COLUMNS for alias in column.aliases}
LABELS = {column.key: column.header for column in COLUMNS}


def _header_key(cell: str) -> str:
    """"单价（元）" / " Price (CNY) " / "*名称" → "单价" / "pricecny" / "名称"."""
    text = unicodedata.normalize("NFKC", cell).strip().lower().lstrip("*")
    text = re.sub(r"\((?:元|yuan|cny|rmb|¥)\)$", "", text)
    return re.sub(r"[\s_\-]+", "", text) if text.isascii() else text.replace(" ", "")


def read_cells(column: Column, cell: str, zone: ZoneInfo) -> tuple[str, Any]:
    """Turn one non-blank cell into ``(field, value)``. Raises ValueError with the reason."""
    label = column.header
    match column.key:
        case "price":
            return "price_fen", _price(cell, label)
        case "promo_price":
            return "promo_price_fen", _price(cell, label)
        case "promo_starts":
            return "promo_starts_at", parse_moment(cell, label, zone, end=False)
        case "promo_ends":
            return "promo_ends_at", parse_moment(cell, label, zone, end=True)
        case "stock":
            return "stock", parse_count(cell, label)
        case "link_no":
            return "link_no", parse_count(cell, label)
        case "produced_on":
            return "produced_on", parse_day(cell, label)
        case "active":
            return "active", _parse_bool(cell, label)
        case _:
            return column.key, unquote_formula(cell)


_CLEARED: dict[str, tuple[str, Any]] = {
    "name_en": ("name_en", ""),
    "promo_price": ("promo_price_fen", None),
    "promo_starts": ("promo_starts_at", None),
    "promo_ends": ("promo_ends_at", None),
    "link_no": ("link_no", None),
    "origin": ("origin", ""),
    "produced_on": ("produced_on", None),
    "description": ("description", ""),
}


# ---------------------------------------------------------------------------------------------
# The file: bytes → rows of cells


WORKBOOK_MAGIC = b"PK\x03\x04"  # an .xlsx workbook is a zip archive
OLD_EXCEL_MAGIC = b"\xd0\xcf\x11\xe0"  # .xls (Excel 97–2003)
MAX_SHEET_ROWS = 200_000
MAX_SHEET_COLUMNS = 200
# Cells read from one file, blank ones included: 10,000 products of 15 columns are 150,000. A sheet
# of millions of tiny cells (a few hundred KB packed) is stopped here instead of being read whole
# for minutes (issue 15: 13 M cells took 150–245 s and ~1 GB).
MAX_SHEET_CELLS = 1_000_000
# What a workbook may unpack to: an .xlsx within MAX_IMPORT_BYTES that inflates past this is refused
# before the XML is parsed (a zip bomb would otherwise fill the memory of the village PC).
MAX_WORKBOOK_UNPACKED_BYTES = 200 * 1024 * 1024


def read_table(data: bytes) -> Iterator[list[str]]:
    """The rows of an uploaded table as text cells, streamed; Excel's row n is the n-th.

    Reads a CSV (UTF-8 with or without BOM, GB18030/GBK, UTF-16; comma, tab or semicolon) or the
    first sheet of an Excel .xlsx workbook. A reader checks the header row before it asks for the
    next, so a file without the needed columns is answered at once. Raises (as the rows are read)
    :class:`ImportFileRejected` for anything else, or past :data:`MAX_SHEET_CELLS` cells.
    """
    rows = workbook_rows(data) if data.startswith(WORKBOOK_MAGIC) else _records(decode(data))
    cells = 0
    for row in rows:
        cells += max(len(row), 1)
        if cells > MAX_SHEET_CELLS:
            raise ImportFileRejected(
                N_("表格超过 %(cells)d 个单元格，请删掉空白的行和列，或分成几个文件"), cells=MAX_SHEET_CELLS
            )
        yield row


def file_too_large() -> ImportFileRejected:
    """The error for a file over :data:`MAX_IMPORT_BYTES` (here and where an upload is read)."""
    return ImportFileRejected(N_("文件太大：最大 %(mb)d MB，请分成几个文件"), mb=MAX_IMPORT_BYTES // (1024 * 1024))


def _check_size(data: bytes) -> None:
    if len(data) > MAX_IMPORT_BYTES:
        raise file_too_large()
    if not data.strip():
        raise ImportFileRejected(N_("文件是空的"))


def decode(data: bytes) -> str:
    """The text of an uploaded CSV. Raises :class:`ImportFileRejected` for what is not one."""
    _check_size(data)
    if data.startswith(OLD_EXCEL_MAGIC):
        raise ImportFileRejected(
            N_("这是旧版 Excel 文件（.xls）：请在 Excel 里点“另存为”，选“Excel 工作簿（.xlsx）”或“CSV UTF-8”")
        )
    text = _decode_text(data)
    if text is None or "\x00" in text or _looks_binary(text):
        raise ImportFileRejected(N_("这个文件不是表格（可能是图片或其他文件），请上传 Excel（.xlsx）或 CSV"))
    return text


_UNREADABLE_WORKBOOK = N_("这个 Excel 文件打不开（可能损坏了），请在 Excel 里重新保存，或另存为 CSV")


class _UnsizedSheet(ReadOnlyWorksheet):  # type: ignore[misc]
    """A read-only sheet that does not look for its size on opening.

    openpyxl reads a sheet without a ``<dimension>`` element to its end to learn its size, before
    the first row can be read (issue 15: ~10 s per 1.3 M cells, for a size we reset anyway).
    """

    def _get_size(self) -> None:
        return None


class _FirstSheetReader(ExcelReader):  # type: ignore[misc]
    """openpyxl's read-only workbook reader, opening only the first worksheet: every other sheet
    would cost a scan like the one above, and imports read the first one alone."""

    def read_worksheets(self) -> None:
        for sheet, rel in self.parser.find_sheets():
            if rel.target in self.valid_files and "chartsheet" not in rel.Type:
                self.wb._sheets.append(_UnsizedSheet(self.wb, sheet.name, rel.target, self.shared_strings))
                return


def _open_first_sheet(data: bytes) -> Any:
    """The workbook in ``data`` (read-only, cached values instead of formulas) with its first
    worksheet alone. Raises what openpyxl raises for a file it cannot read."""
    reader = _FirstSheetReader(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    with warnings.catch_warnings():
        # Names defined on the sheets left closed (print areas, say) cannot be bound to them.
        warnings.filterwarnings("ignore", message="Defined names for sheet index")
        reader.read()
    return reader.wb


def workbook_rows(data: bytes) -> Iterator[list[str]]:
    """The first sheet of an .xlsx workbook as rows of text cells, streamed (Excel's row n is the
    n-th); the workbook is closed when the rows end or the reader stops.

    Numbers are written as a person would type them (25.5, 13800138000), dates as 2025-06-01 and
    date-times as 2025-06-01 08:30:00; formulas give their last computed value. Raises
    :class:`ImportFileRejected` for a workbook that cannot be read or is too big.
    """
    _check_size(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
        if unpacked > MAX_WORKBOOK_UNPACKED_BYTES:
            raise ImportFileRejected(N_("这个 Excel 文件解开后太大，请分成几个文件"))
        book = _open_first_sheet(data)
    except ImportFileRejected:
        raise
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError, SyntaxError) as exc:
        # SyntaxError: malformed XML inside the archive (ElementTree's and lxml's parse errors
        # both derive from it); it was a 500 (found by Hypothesis).
        raise ImportFileRejected(_UNREADABLE_WORKBOOK) from exc
    try:
        sheet = book.worksheets[0]
        # Some programs write a wrong sheet size, which would cut rows or columns off.
        sheet.reset_dimensions()
        for number, values in enumerate(sheet.iter_rows(values_only=True)):
            if number >= MAX_SHEET_ROWS:
                raise ImportFileRejected(N_("表格超过 %(rows)d 行，请分成几个文件"), rows=MAX_SHEET_ROWS)
            yield [_cell_text(value) for value in values[:MAX_SHEET_COLUMNS]]
    except ImportFileRejected:
        raise
    except (zipfile.BadZipFile, IndexError, KeyError, ValueError, OSError, SyntaxError) as exc:
        raise ImportFileRejected(_UNREADABLE_WORKBOOK) from exc
    finally:
        book.close()


def _cell_text(value: object) -> str:
    """A workbook cell as the text a person would have typed into a CSV."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".10g")
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def _decode_text(data: bytes) -> str | None:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)
    elif data.startswith(codecs.BOM_UTF8):
        encodings = ("utf-8-sig",)
    else:
        # GBK is a subset of GB18030; UTF-8 first, since valid UTF-8 Chinese is almost never valid GBK.
        encodings = ("utf-8", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    return controls > len(sample) // 100


def _records(text: str) -> Iterator[list[str]]:
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first_line.count)
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


# ---------------------------------------------------------------------------------------------
# The report


@dataclass
class RowPlan:
    """What import does with one row: ``action`` is create, update, unchanged or error."""

    row: int
    action: str
    sku: str = ""
    name: str = ""
    changes: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # the reasons in Chinese, joined; ``problems`` keeps them as message ids
    problems: list[CatalogError] = field(default_factory=list)
    product_id: int | None = None
    values: dict[str, Any] = field(default_factory=dict)
    old: dict[str, Any] = field(default_factory=dict)
    farmer_change: tuple[str, str] | None = None
    owner: User | None = None
    # Who owns the product now (an update), for the dry run's owner column.
    owner_id: int | None = None

    def refuse(self, *problems: CatalogError) -> RowPlan:
        """Mark the row bad for these reasons (shown in the reader's language by the app)."""
        self.action, self.problems = "error", list(problems)
        self.error = "；".join(str(p) for p in problems)
        return self


@dataclass
class ImportReport:
    """What an import did (or, for a dry run or a refused file, would do)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    photo_errors: list[dict[str, str]] = field(default_factory=list)
    photos: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False
    preview: list[dict[str, Any]] = field(default_factory=list)
    # Rows of the preview left out beyond PREVIEW_ROWS.
    preview_more: int = 0
    # Each bad row's reasons (by row number) and each refused photo's (as photo_errors), as
    # message ids, for :meth:`as_dict` to put in the reader's language.
    reasons: dict[int, list[CatalogError]] = field(default_factory=dict)
    photo_reasons: list[CatalogError] = field(default_factory=list)

    def photo_refused(self, file: str, reason: CatalogError) -> None:
        """Report a photo that is not imported, and why."""
        self.photo_errors.append({"file": file, "error": str(reason)})
        self.photo_reasons.append(reason)

    @property
    def ok(self) -> bool:
        """True when no row and no photo had an error."""
        return not self.errors and not self.photo_errors

    def as_dict(self, localize: Callable[[CatalogError], str] = str, separator: str = "；") -> dict[str, Any]:
        """The API body (shared/api.md), with extra keys that never change the contract's ones.
        Each row's and photo's ``error`` is its reasons put in words by ``localize`` and joined
        with ``separator`` (Chinese by default; the app passes the reader's language)."""
        def rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{**item, "error": separator.join(localize(p) for p in self.reasons[item["row"]])}
                    if item.get("row") in self.reasons else item for item in items]

        photos = [{**item, "error": localize(reason)} for item, reason in zip(self.photo_errors, self.photo_reasons)]
        return {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "errors": rows(self.errors), "photo_errors": photos, "photos": self.photos,
            "ignored_columns": self.ignored_columns, "dry_run": self.dry_run, "written": self.written,
            "preview": rows(self.preview), "preview_more": self.preview_more,
        }


# ---------------------------------------------------------------------------------------------
# Import


@dataclass
class _Existing:
    """An existing product as plain values (faster than ORM objects for thousands of rows)."""

    id: int
    farmer_id: int
    values: dict[str, Any]


def _existing(session: Session, skus: Sequence[str]) -> dict[str, _Existing]:
    columns = [getattr(Product, f) for f in EDITABLE_FIELDS]
    found: dict[str, _Existing] = {}
    wanted = list(dict.fromkeys(skus))
    for start in range(0, len(wanted), 500):
        # Literal values let PostgreSQL hash the list instead of comparing each row with 500
        # parameters (measured: 20x faster on a fresh table); SQLAlchemy escapes them.
        chunk: Any = bindparam("skus", wanted[start:start + 500], expanding=True, literal_execute=True)
        stmt = select(Product.id, Product.farmer_id, *columns).where(Product.sku.in_(chunk))
        for row in session.execute(stmt):
            values = dict(zip(EDITABLE_FIELDS, row[2:]))
            found[values["sku"]] = _Existing(row[0], row[1], values)
    return found


def _map_header(header: list[str]) -> tuple[list[Column | None], list[str]]:
    mapped: list[Column | None] = []
    ignored: list[str] = []
    seen: dict[str, str] = {}
    for cell in header:
        column = _BY_ALIAS.get(_header_key(cell))
        if column is not None and column.key in seen:
            raise ImportFileRejected(N_("第 1 行表头里“%(first)s”和“%(second)s”是同一列，请删掉一个"),
                                     first=seen[column.key], second=cell.strip())
        if column is None and cell.strip():
            ignored.append(cell.strip())
        if column is not None:
            seen[column.key] = cell.strip()
        mapped.append(column)
    if "name" not in seen and "sku" not in seen:
        raise ImportFileRejected(
            N_("第 1 行应是表头，至少要有“名称”或“编号”列；可用的列：%(columns)s"),
            columns=tuple(c.header for c in COLUMNS),
        )
    return mapped, ignored


def _read_row(
    mapped: Sequence[Column | None], cells: Sequence[str], zone: ZoneInfo
) -> tuple[dict[str, Any], list[CatalogError], str | None]:
    """Cells → (field values, reasons for bad cells, farmer name or None)."""
    values: dict[str, Any] = {}
    problems: list[CatalogError] = []
    farmer: str | None = None
    for column, raw in zip(mapped, cells):
        if column is None:
            continue
        cell = raw.strip()
        if column.key == "farmer":
            farmer = unquote_formula(cell) or None
            continue
        if not cell:
            if column.blank == "required":
                problems.append(InvalidProduct(BLANK, label=column.header))
            elif column.blank == "clear":
                key, empty = _CLEARED.get(column.key, (column.key, None))
                values[key] = empty
            continue
        try:
            key, value = read_cells(column, cell, zone)
        except CatalogError as exc:
            problems.append(exc)
            continue
        values[key] = value
    # A short row (Excel drops trailing empty cells) leaves required columns missing.
    for column in mapped[len(cells):]:
        if column is not None and column.blank == "required":
            problems.append(InvalidProduct(BLANK, label=column.header))
    return values, problems, farmer


_NEEDED_TO_CREATE = (("name", "name"), ("unit", "unit"), ("price", "price_fen"))


def _fill_new(values: dict[str, Any]) -> dict[str, Any]:
    return {"stock": 0, "active": True, **values}


def plan_import(
    session: Session,
    data: bytes,
    actor: User,
    *,
    farmer: User | None = None,
    zone: ZoneInfo = VILLAGE_ZONE,
    progress: Progress = no_progress,
) -> tuple[list[RowPlan], list[str]]:
    """Read and check every row against the catalog, writing nothing.

    ``farmer`` owns the new rows whose 农户 cell is blank (or that have no such column); a new
    row with no owner is refused, so that no product lands with someone who does not sell it.
    Returns the plan of each non-blank row and the ignored header names. Raises
    :class:`ImportFileRejected` for a file that is not a readable CSV with a header, and
    :class:`~catalog.errors.NotAllowed` for a non-manager.
    """
    require_manager(actor)
    records = enumerate(read_table(data), start=1)
    header = next((r for _, r in records if any(c.strip() for c in r)), None)
    if header is None:
        raise ImportFileRejected(N_("文件里没有内容"))
    mapped, ignored = _map_header(header)  # before any other row is read
    body = [(row, r) for row, r in records if any(c.strip() for c in r)]
    total = len(body)
    sku_at = next((i for i, c in enumerate(mapped) if c is not None and c.key == "sku"), None)
    file_skus = [r[sku_at].strip() for _, r in body if sku_at is not None and sku_at < len(r) and r[sku_at].strip()]
    existing = _existing(session, file_skus)
    owners = owners_by_name(session)
    seen_sku: dict[str, int] = {}
    plans: list[RowPlan] = []
    for done, (row, cells) in enumerate(body, 1):
        plans.append(_plan_row(row, cells, mapped, zone, existing, owners, seen_sku, farmer))
        if done % PROGRESS_EVERY == 0:
            progress("checking", done, total)
    progress("checking", total, total)
    return plans, ignored


def _plan_row(
    row: int,
    cells: Sequence[str],
    mapped: Sequence[Column | None],
    zone: ZoneInfo,
    existing: Mapping[str, _Existing],
    owners: Mapping[str, User],
    seen_sku: dict[str, int],
    file_farmer: User | None,
) -> RowPlan:
    values, problems, farmer_name = _read_row(mapped, cells, zone)
    sku = str(values.get("sku") or "")
    name = str(values.get("name") or "")
    plan = RowPlan(row=row, action="error", sku=sku, name=name)
    if sku:
        if sku in seen_sku:
            problems.append(InvalidProduct(N_("编号 %(sku)s 与第 %(row)d 行重复"), sku=sku, row=seen_sku[sku]))
        else:
            seen_sku[sku] = row
    owner: User | None = None
    if farmer_name is not None:
        owner = owners.get(farmer_name)
        if owner is None:
            problems.append(UnknownFarmer(farmer_name))
    if problems:
        return plan.refuse(*problems)
    current = existing.get(sku) if sku else None
    try:
        cleaned = clean_fields(values if current else _fill_new(values))
        check_consistency({**(current.values if current else {}), **cleaned})
    except CatalogError as exc:
        return plan.refuse(exc)
    if current is None:
        missing = [LABELS[key] for key, f in _NEEDED_TO_CREATE if f not in cleaned]
        if missing:
            return plan.refuse(InvalidProduct(N_("新商品要填%(fields)s"), fields=tuple(missing)))
        owner = owner or file_farmer
        if owner is None:
            return plan.refuse(InvalidProduct(NO_OWNER, field="farmer"))
        plan.action, plan.values, plan.owner = "create", cleaned, owner
        plan.name = cleaned["name"]
        return plan
    plan.product_id, plan.name, plan.owner_id = current.id, current.values["name"], current.farmer_id
    plan.changes = diff_fields(current.values, cleaned)
    if owner is not None and owner.id != current.farmer_id:
        plan.changes["farmer_id"] = owner.id
    plan.old = dict(current.values)
    if owner is not None and "farmer_id" in plan.changes:
        before = next((u.username for u in owners.values() if u.id == current.farmer_id), "")
        plan.farmer_change = (before, owner.username)
        plan.owner_id = owner.id
    plan.action = "update" if plan.changes else "unchanged"
    return plan


def import_products(
    session: Session,
    data: bytes,
    actor: User,
    *,
    dry_run: bool = False,
    partial: bool = False,
    photos: Sequence[tuple[str, bytes]] = (),
    data_dir: Any = None,
    farmer: User | None = None,
    zone: ZoneInfo = VILLAGE_ZONE,
    reason: Note | str = Note("imported"),
    progress: Progress = no_progress,
) -> ImportReport:
    """Upsert products by sku from CSV ``data``; attach ``photos`` named after skus (``A001.jpg``).

    ``farmer`` owns new rows that name no farmer (see :func:`plan_import`).

    With any bad row or photo nothing is written, unless ``partial`` (then the good rows are);
    ``dry_run`` never writes. Raises :class:`ImportFileRejected` for an unreadable file and
    :class:`~catalog.errors.NotAllowed` for a non-manager; bad rows are reported, not raised.
    """
    plans, ignored = plan_import(session, data, actor, farmer=farmer, zone=zone, progress=progress)
    report = ImportReport(ignored_columns=ignored, dry_run=dry_run)
    report.errors = [{"row": p.row, "error": p.error} for p in plans if p.action == "error"]
    report.reasons = {p.row: p.problems for p in plans if p.action == "error"}
    checked_photos = _check_photos(photos, plans, session, report)
    counts = {action: sum(1 for p in plans if p.action == action) for action in ("create", "update", "unchanged")}
    listed = [p for p in plans if p.action in ("create", "update", "error")]
    names = _owner_names(session, {p.owner_id for p in listed[:PREVIEW_ROWS] if p.owner_id is not None})
    report.preview = [_preview(p, names) for p in listed[:PREVIEW_ROWS]]
    report.preview_more = max(len(listed) - PREVIEW_ROWS, 0)
    if dry_run or (not report.ok and not partial):
        if dry_run:
            report.created, report.updated, report.unchanged = counts["create"], counts["update"], counts["unchanged"]
            report.photos = len(checked_photos)
        return report
    _write(session, plans, actor, reason, progress)
    report.created, report.updated, report.unchanged = counts["create"], counts["update"], counts["unchanged"]
    report.photos = _attach_photos(session, data_dir, checked_photos, actor, report)
    # A photo that passed its header check may still fail to decode: then, as for any bad photo,
    # nothing is written unless ``partial`` (the caller rolls back what is not written).
    report.written = report.ok or partial
    return report


def _owner_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(ids)))
    return {user_id: display or username for user_id, display, username in rows}


def _preview(plan: RowPlan, names: Mapping[int, str]) -> dict[str, Any]:
    """One row of the dry run: what happens, whose product it is and its price and stock after."""
    changes = {}
    after: dict[str, Any] = plan.values
    owner = plan.owner.name if plan.owner is not None else names.get(plan.owner_id or 0, "")
    if plan.action == "update":
        changes = {f: [_shown(f, plan.old.get(f)), _shown(f, v)] for f, v in plan.changes.items() if f != "farmer_id"}
        if plan.farmer_change:
            changes["farmer"] = list(plan.farmer_change)
        after = {**plan.old, **plan.changes}
    return {"row": plan.row, "action": plan.action, "sku": plan.sku, "name": plan.name,
            "changes": changes, "error": plan.error, "owner": owner,
            "price": _shown("price_fen", after.get("price_fen")), "stock": after.get("stock")}


def _shown(field_name: str, value: Any) -> Any:
    if field_name.endswith("_fen") and value is not None:
        return yuan_text(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _check_photos(
    photos: Sequence[tuple[str, bytes]], plans: Sequence[RowPlan], session: Session, report: ImportReport
) -> list[tuple[str, photo_store.PhotoFile]]:
    """Match each photo to a sku of the file or the catalog and read its header (no pixels are
    decoded here); report the rest. Raises :class:`ImportFileRejected` when the photos together
    are too many or too big for one request."""
    if not photos:
        return []
    photo_store.check_request_photos(len(photos))
    in_file = {p.sku for p in plans if p.sku and p.action != "error"}
    names = [(filename, _photo_sku(filename)) for filename, _ in photos]
    wanted = [s for _, s in names]
    catalog_skus = {
        sku for start in range(0, len(wanted), 500)
        for sku in session.scalars(select(Product.sku).where(Product.sku.in_(wanted[start:start + 500])))
    }
    checked = []
    for (filename, sku), (_, blob) in zip(names, photos):
        if sku not in in_file and sku not in catalog_skus:
            report.photo_refused(filename, InvalidProduct(N_("没有编号为 %(sku)s 的商品（照片文件名要和编号一样）"), sku=sku))
            continue
        try:
            checked.append((sku, photo_store.inspect_image(blob)))
        except CatalogError as exc:
            report.photo_refused(filename, exc)
    photo_store.check_request_photos(len(checked), sum(file.pixels for _, file in checked))
    return checked


def _photo_sku(filename: str) -> str:
    base = unicodedata.normalize("NFKC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0].strip()


def _attach_photos(
    session: Session, data_dir: Any, checked: Sequence[tuple[str, photo_store.PhotoFile]], actor: User,
    report: ImportReport,
) -> int:
    """Decode, store and free the photos one at a time; one that fails to decode is reported."""
    if not checked:
        return 0
    if data_dir is None:
        raise ValueError("data_dir is needed to store photos")
    by_sku = {p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_([s for s, _ in checked])))}
    stored = 0
    for sku, file in checked:
        try:
            photo_store.add_photo(session, data_dir, by_sku[sku], file, actor)
        except CatalogError as exc:
            report.photo_refused(sku, exc)
            continue
        stored += 1
    return stored


def _write(session: Session, plans: Sequence[RowPlan], actor: User, reason: Note | str, progress: Progress) -> None:
    """Bulk-insert new products, bulk-update changed ones, and keep the history of both."""
    creates = [p for p in plans if p.action == "create"]
    updates = [p for p in plans if p.action == "update"]
    total = len(creates) + len(updates)
    now = utcnow()
    history: list[dict[str, Any]] = []
    rows = []
    for plan in creates:
        values = dict(plan.values)
        if not values.get("sku"):
            values["sku"] = new_sku(session)
        pinyin, initials = name_keys(values["name"])
        assert plan.owner is not None
        rows.append({**values, "farmer_id": plan.owner.id, "name_pinyin": pinyin, "name_initials": initials,
                     "created_at": now, "updated_at": now})
    if rows:
        ids = session.scalars(insert(Product).returning(Product.id, sort_by_parameter_order=True), rows).all()
        for product_id, values in zip(ids, rows):
            history += [_change(product_id, f, None, values[f], actor, reason, now)
                        for f in TRACKED_FIELDS if values.get(f) is not None]
    progress("writing", len(creates), total)
    _recheck_stock(session, updates)
    changed_rows = []
    for plan in updates:
        if not plan.changes:
            continue
        changes = dict(plan.changes)
        if "name" in changes:
            changes["name_pinyin"], changes["name_initials"] = name_keys(changes["name"])
        changed_rows.append({"id": plan.product_id, **changes, "updated_at": now})
        history += [_change(plan.product_id, f, plan.old.get(f), v, actor, reason, now)
                    for f, v in plan.changes.items() if f in TRACKED_FIELDS]
    if changed_rows:
        session.execute(update(Product), changed_rows)
        touched(session, (row["id"] for row in changed_rows))  # a bulk UPDATE the flush does not see
    if history:
        session.execute(insert(ProductChange), history)
    session.flush()
    # Objects loaded earlier in this session must not keep values the bulk statements replaced.
    session.expire_all()
    progress("writing", total, total)


def _recheck_stock(session: Session, updates: Sequence[RowPlan]) -> None:
    """Lock the rows whose stock the file sets and re-read it, since orders may have sold some
    since the plan was made: the history then shows the value really replaced. (Locking only
    these rows keeps a big unchanged import cheap; SQLite serialises writers anyway.)"""
    planned = {p.product_id: p for p in updates if "stock" in p.changes}
    ids = list(planned)
    for start in range(0, len(ids), 500):
        stmt = select(Product.id, Product.stock).where(Product.id.in_(ids[start:start + 500])).with_for_update()
        for product_id, stock in session.execute(stmt):
            plan = planned[product_id]
            plan.old["stock"] = stock
            if stock == plan.changes["stock"]:
                del plan.changes["stock"]


def _change(product_id: int | None, field_name: str, old: Any, new: Any, actor: User, reason: Note | str,
            now: datetime) -> dict[str, Any]:
    text, code, args = split(reason, 120)
    return {"product_id": product_id, "field": field_name, "old_value": old, "new_value": new,
            "reason": text, "reason_code": code, "reason_args": args, "changed_by_id": actor.id, "changed_at": now}


# ---------------------------------------------------------------------------------------------
# Export


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    local = value.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")


def export_rows(products: Sequence[Product], zone: ZoneInfo = VILLAGE_ZONE) -> Iterator[list[str]]:
    """The header and one row per product, every field import reads, as text (the CSV writer
    quotes formulas)."""
    yield [column.header for column in COLUMNS]
    for p in products:
        yield [
            # A station-owned product is written without a farmer: import names farmers only.
            p.sku, p.name, p.name_en, p.farmer.username if p.farmer.role in NAMED_OWNER_ROLES else "", p.unit,
            yuan_text(p.price_fen), "" if p.promo_price_fen is None else yuan_text(p.promo_price_fen),
            _local(p.promo_starts_at, zone), _local(p.promo_ends_at, zone), str(p.stock),
            "" if p.link_no is None else str(p.link_no), p.origin,
            p.produced_on.isoformat() if p.produced_on else "", p.description,
            "是" if p.active else "否",
        ]


def export_csv(session: Session, viewer: User, *, zone: ZoneInfo = VILLAGE_ZONE) -> bytes:
    """The catalog ``viewer`` may see as CSV: UTF-8 with BOM (Excel), CRLF, Chinese headers."""
    products = list_products(session, viewer=viewer, sort="sku")
    return write_csv(export_rows(products, zone))
