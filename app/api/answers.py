"""The shapes of the API's answers, for the OpenAPI document only (app/api/openapi.py).

The views build their answers as plain dicts (``product_to_dict``, ``order_to_dict``, …); these
models describe them: the keys every answer carries and their types. Answers may carry more keys
than listed (shared/api.md: "responses may add display strings"), so every model allows extra
ones. tests/test_app_openapi.py validates real answers against them, and the Schemathesis run
(tests/test_app_schemathesis.py) every answer it gets.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    """An answer object: the listed keys are there; others may be added."""

    model_config = ConfigDict(extra="allow")


Iso = str  # ISO 8601 with an offset (documented on each field below)
ORDER_STATUS = Literal["new", "handed_off", "shipped", "delivered", "cancelled"]
CHANNEL = Literal["taobao", "douyin", "kuaishou", "channels", "wechat", "phone", "other"]


class FieldError(Answer):
    field: str = Field(description="where: a body key, or `body`")
    error: str


class Error(Answer):
    """Every error: a message for people, and for bad fields which field it is about."""

    error: str = Field(description="a message in the caller's language")
    field: str | None = Field(None, description="the body key the message is about (forms mark it)")
    fields: list[FieldError] | None = Field(None, description="each bad field of a body")
    id: int | None = Field(None, description="409 for a duplicate platform order: the order already logged")
    handoff_id: int | None = Field(None, description="409 for an order already handed off: its batch")


class Me(Answer):
    username: str
    role: Literal["farmer", "coordinator", "trainer", "partner", "admin"]
    display_name: str


class PhotoUrls(Answer):
    thumb: str
    card: str
    full: str


class Product(Answer):
    id: int
    sku: str
    name: str
    name_en: str
    unit: str
    price_fen: int
    promo_price_fen: int | None
    promo_starts_at: Iso | None
    promo_ends_at: Iso | None
    price_now_fen: int = Field(description="the price in force now (the promotional one inside its window)")
    stock: int
    link_no: int | None
    farmer: str = Field(description="the farmer's user name")
    origin: str
    produced_on: str | None = Field(description="a date, 2025-06-01")
    description: str
    selling_points: list[str]
    active: bool
    photos: list[str]
    photo_urls: list[PhotoUrls]
    updated_at: Iso | None


class RowError(Answer):
    row: int = Field(description="the row number Excel shows (the header is row 1); 0 for the whole file")
    error: str


class CatalogImport(Answer):
    created: int
    updated: int
    unchanged: int
    errors: list[RowError]
    photo_errors: list[dict[str, str]]
    photos: int
    dry_run: bool
    written: bool
    preview: list[dict[str, Any]]
    error: str | None = Field(None, description="with any error: what was (not) written")


class ImportProgress(Answer):
    phase: Literal["checking", "writing", "done", "failed"]
    done: int
    total: int


class Order(Answer):
    id: int
    product_id: int
    product_name: str
    quantity: int
    unit: str
    packages: int
    unit_price_fen: int
    total_fen: int
    status: ORDER_STATUS
    channel: CHANNEL
    platform_order_no: str | None
    buyer_name: str
    buyer_phone: str
    address: str
    session_id: int | None
    handoff_id: int | None
    carrier: str
    tracking_no: str
    farmer: str
    logged_by: str
    created_at: Iso
    updated_at: Iso


class OrderEvent(Answer):
    from_: str | None = Field(alias="from")
    to: str
    by: str
    at: Iso
    note: str
    note_code: str | None  # a note the system wrote (db.notes.NOTES); null: typed by a person
    note_args: dict[str, Any] | None


class OrderWithEvents(Order):
    events: list[OrderEvent]


class RowOutcome(Answer):
    row: int
    outcome: Literal["created", "updated", "unchanged", "error"]
    message: str
    order_id: int | None


class RowReport(Answer):
    """An order or tracking-number upload, row by row."""

    created: int
    updated: int
    unchanged: int
    errors: list[RowError]
    rows: list[RowOutcome]


class Handoff(Answer):
    id: int
    partner: str
    created_by: str
    created_at: Iso
    acked_at: Iso | None
    acked_by: str | None
    orders: int = Field(description="how many orders the batch holds")
    packages: int
    shipped: int
    note: str


class HandoffWithOrders(Handoff):
    order_list: list[Order]


class LiveStarted(Answer):
    session_id: int


class LiveShown(Answer):
    product_id: int | None
    session_id: int | None


class Overlay(Answer):
    layout: Literal["landscape", "portrait"]
    show_promo: bool
    qr: bool
    qr_text: str
    countdown_left_s: float | int | None
    recognition: Literal["off", "suggest", "follow"]


class Destination(Answer):
    url: str = Field(description="the push URL with its key masked")
    state: str


class LiveStatus(Answer):
    state: Literal["idle", "starting", "live", "reconnecting", "stopping"]
    session_id: int | None
    fps: float
    frames_out: int
    dropped: int
    duplicated: int
    product_id: int | None
    recording: str | None
    destinations: list[Destination]
    recognized: dict[str, Any] | None
    orders: int | None = Field(None, description="while live: this live's orders so far")
    gmv_fen: int | None = None


class LiveStopped(Answer):
    session_id: int
    recording: str | None
    duration_s: float


class Check(Answer):
    ok: bool | None = None
    say: str | None = None


class Checklist(Answer):
    ready: bool
    checks: list[Check]


class Segment(Answer):
    product_id: int
    start_s: float
    end_s: float | None


class SessionDetail(Answer):
    id: int
    host: str
    started_at: Iso
    ended_at: Iso | None
    end_reason: str | None
    recording: str | None
    recordings: list[str]
    segments: list[Segment]
    orders: int
    gmv_fen: int


class ProductReport(Answer):
    product_id: int
    orders: int
    gmv_fen: int
    on_screen_s: float
    sold_out_at: Any


class MinuteReport(Answer):
    minute: int
    orders: int
    gmv_fen: int


class SessionReport(Answer):
    session_id: int
    duration_s: float
    orders: int
    gmv_fen: int
    per_product: list[ProductReport]
    per_minute: list[MinuteReport]
    best_minute: Any
    previous: list[dict[str, Any]]


class Clip(Answer):
    id: int
    product_id: int | None
    aspect: Literal["16:9", "9:16"]
    path: str | None = Field(description="only once done")
    start_s: float
    end_s: float
    state: Literal["pending", "cutting", "done", "failed", "cancelled"] | str
    progress: float


class Cancelled(Answer):
    cancelled: int


class Deleted(Answer):
    deleted: int
    size_bytes: int  # what the delete freed on disk


class Plan(Answer):
    id: int
    title: str
    host: str
    station_id: str
    starts_at: Iso
    duration_min: float
    repeat: str | None
    lineup: list[int]
    video: str
    audio: str
    destinations: list[str] | None = Field(description="push URLs with their keys masked")
    preset: str
    layout: str
    auto_start: bool
    cancelled: bool
    next_run: Iso | None


class PlanRun(Answer):
    planned_at: Iso | None
    state: Literal["planned", "started", "ran", "missed", "cancelled", "skipped"] | str
    started_at: Iso | None
    late_s: float | None
    reason: str | None
    session_id: int | None


class Contest(Answer):
    id: int
    title: str
    starts_at: Iso
    ends_at: Iso
    metric: Literal["gmv", "orders", "fulfilled_gmv", "weighted"] | str
    weights: dict[str, float] | None
    rank_step: float
    freeze_min: int | None
    state: str
    participants: list[str]
    created_by: str


class BoardRow(Answer):
    rank: int | None
    host: str
    score: float
    gmv_fen: int
    orders: int
    flags: list[dict[str, Any]]
    breakdown: dict[str, Any]


class Entry(Answer):
    id: int
    host: str
    session_id: int | None
    views: int | None
    likes: int | None
    entered_by: str
    entered_at: Iso


class Decision(Answer):
    id: int
    kind: str
    host: str
    order_id: int | None
    points: float | None
    reason: str
    by: str
    at: Iso


class OpenApiDocument(Answer):
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
