"""The live-session service: the one broadcast running on this PC.

The console, the JSON API and (later) the scheduler all drive the same :class:`LiveService`. It
owns the capture :class:`~capture.supervisor.Supervisor`, turns catalog products into plain
:class:`~capture.overlay.OverlayScene` values, and keeps the session record: when it started and
ended, its recording files and the timeline of which product was on screen (segments).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import User
from accounts.roles import FARMER
from capture.errors import CaptureError
from capture.overlay import OverlayScene
from capture.settings import CaptureSettings, LayoutName, PresetName
from capture.supervisor import Supervisor
from catalog import services as catalog
from catalog.errors import ProductNotFound
from catalog.models import Product
from db import utcnow
from schedules.models import LiveSession, Segment

log = logging.getLogger(__name__)

# How often the on-screen product is re-read, to catch changes made elsewhere (a coordinator's
# stock count, another station's order on a shared county database). Orders logged through this
# app refresh the card at once; this is the safety net.
WATCH_INTERVAL_S = 1.0
COUNTDOWN_MIN_S = 10
COUNTDOWN_MAX_S = 300


class LiveError(Exception):
    """A live-session request that cannot be done now; ``status`` is the fitting HTTP status."""

    status = 400


class AlreadyLive(LiveError):
    """Another broadcast is running on this PC."""

    status = 409


class NotLive(LiveError):
    """There is no broadcast running."""

    status = 409


class UnknownProduct(LiveError):
    """The product does not exist or is not this host's to show."""

    status = 404


@dataclass
class _Running:
    session_id: int
    host_id: int
    supervisor: Supervisor
    started_mono: float
    started_at: datetime
    scene: OverlayScene
    product_id: int | None = None
    open_segment_id: int | None = None
    qr_text: str = ""
    qr_on: bool = False
    watch_stop: threading.Event = field(default_factory=threading.Event)
    watcher: threading.Thread | None = None
    settings: CaptureSettings | None = None
    # Recording files of this session so far (a layout switch starts a new pipeline and file).
    recordings: list[str] = field(default_factory=list)


SupervisorFactory = Callable[[CaptureSettings], Supervisor]


class LiveService:
    """Start, drive and stop the one live broadcast on this PC. Thread-safe."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        recording_dir: Path,
        *,
        ffmpeg: str | None = None,
        supervisor_factory: SupervisorFactory | None = None,
    ) -> None:
        self._sessions = sessions
        self._recording_dir = recording_dir
        self._ffmpeg = ffmpeg
        self._make_supervisor: SupervisorFactory = supervisor_factory or (lambda s: Supervisor(s))
        self._lock = threading.RLock()
        self._running: _Running | None = None

    # -- starting and stopping -------------------------------------------------------------

    def start(
        self,
        host: User,
        *,
        video: str,
        audio: str,
        destinations: list[str],
        record: bool = True,
        preset: PresetName = "720p30",
        layout: LayoutName = "landscape",
        qr_text: str | None = None,
    ) -> int:
        """Go live; returns the new session id.

        Raises :class:`AlreadyLive` while another broadcast runs, pydantic ``ValidationError`` for
        bad settings and :class:`capture.errors.CaptureError` when the camera, microphone or
        encoder cannot start (its message says what to do).
        """
        with self._lock:
            if self._running is not None:
                raise AlreadyLive("已经在直播中，请先结束当前直播 (a broadcast is already running)")
            settings = CaptureSettings(
                video=video,
                audio=audio,
                destinations=destinations,
                record=record,
                recording_dir=self._recording_dir,
                preset=preset,
                layout=layout,
                ffmpeg=self._ffmpeg,
            )
            supervisor = self._make_supervisor(settings)
            base_scene = OverlayScene(farmer_name=host.name, village=host.village, qr_text=qr_text or None)
            supervisor.set_scene(base_scene)
            supervisor.start()  # raises CaptureError: nothing recorded in the database then
            try:
                with self._sessions() as session:
                    record_row = LiveSession(host_id=host.id, video=video[:255], audio=audio[:255])
                    session.add(record_row)
                    session.commit()
                    session_id = record_row.id
            except BaseException:
                supervisor.stop()  # no broadcast may run without its session record
                raise
            self._running = _Running(
                session_id=session_id,
                host_id=host.id,
                supervisor=supervisor,
                started_mono=time.monotonic(),
                started_at=record_row.started_at,
                scene=base_scene,
                qr_text=qr_text or "",
                qr_on=bool(qr_text),
                settings=settings,
            )
            running = self._running
            running.watcher = threading.Thread(
                target=self._watch, args=(running,), name=f"live-watch-{session_id}", daemon=True
            )
            running.watcher.start()
            log.info("live session %s started by %s", session_id, host.username)
            return session_id

    def stop(self) -> dict[str, Any]:
        """End the broadcast; returns ``{"session_id", "recording", "recordings", "duration_s"}``.

        Raises :class:`NotLive` when nothing runs.
        """
        with self._lock:
            running = self._running
            if running is None:
                raise NotLive("现在没有在直播 (no broadcast is running)")
            result = running.supervisor.stop()
            running.recordings += [str(p) for p in result.recordings]
            return self._finish(running)

    def _finish(self, running: _Running) -> dict[str, Any]:
        """Close the session record once its pipeline has stopped."""
        elapsed = self._elapsed(running)
        running.watch_stop.set()
        self._running = None
        recordings = running.recordings
        with self._sessions() as session:
            self._close_segment(session, running, elapsed)
            row = session.get(LiveSession, running.session_id)
            assert row is not None
            row.ended_at = utcnow()
            row.recordings = "\n".join(recordings)
            session.commit()
        log.info("live session %s stopped after %.1f s", running.session_id, elapsed)
        return {
            "session_id": running.session_id,
            "recording": recordings[0] if recordings else None,
            "recordings": recordings,
            "duration_s": round(elapsed, 3),
        }

    def shutdown(self) -> None:
        """Stop the broadcast if one runs (the app is closing); never raises NotLive."""
        with self._lock:
            if self._running is not None:
                self.stop()

    # -- what is on the video ---------------------------------------------------------------

    def show(self, product_id: int, viewer: User | None = None) -> OverlayScene:
        """Put a product's card on the video from the next frame, and start a new segment.

        Raises :class:`NotLive`, or :class:`UnknownProduct` when it does not exist or (for a
        farmer ``viewer``) is not theirs.
        """
        with self._lock:
            running = self._require_running()
            with self._sessions() as session:
                try:
                    product = catalog.get_product(session, product_id, viewer=viewer)
                except ProductNotFound:
                    raise UnknownProduct(f"没有编号为 {product_id} 的商品 (no such product)") from None
                scene = self._product_scene(running.scene, product, same=running.product_id == product_id)
                running.supervisor.set_scene(scene)
                elapsed = self._elapsed(running)
                if running.product_id != product_id:
                    self._close_segment(session, running, elapsed)
                    segment = Segment(session_id=running.session_id, product_id=product_id, start_s=round(elapsed, 3))
                    session.add(segment)
                    session.commit()
                    running.open_segment_id = segment.id
            running.scene = scene
            running.product_id = product_id
            return scene

    def hide_product(self) -> None:
        """Take the product card off the video (the host talks about something else)."""
        with self._lock:
            running = self._require_running()
            # What stays on the video without a product: the host card and the QR code.
            shown = running.scene
            scene = OverlayScene(farmer_name=shown.farmer_name, village=shown.village, qr_text=shown.qr_text)
            running.supervisor.set_scene(scene)
            with self._sessions() as session:
                self._close_segment(session, running, self._elapsed(running))
                session.commit()
            running.scene, running.product_id = scene, None

    def refresh_product(self, product_id: int, *, only_if_changed: bool = False) -> None:
        """Re-read a product after its stock or price changed; the card follows on the next frame.

        Does nothing when that product is not on the video or nothing is live.
        """
        with self._lock:
            running = self._running
            if running is None or running.product_id != product_id:
                return
            with self._sessions() as session:
                product = session.get(Product, product_id)
                if product is None:
                    return
                scene = self._product_scene(running.scene, product, same=True)
            if only_if_changed and scene == running.scene:
                return
            running.supervisor.set_scene(scene)
            running.scene = scene

    def set_overlay(
        self,
        *,
        show_promo: bool | None = None,
        qr: bool | None = None,
        qr_text: str | None = None,
        countdown_s: int | None = None,
        cancel_countdown: bool = False,
    ) -> OverlayScene:
        """Change the overlay controls. Raises :class:`NotLive`, or :class:`LiveError` for a countdown
        outside 10–300 s or without a product on the video."""
        with self._lock:
            running = self._require_running()
            scene = running.scene
            if show_promo is not None:
                scene = replace(scene, show_promo=show_promo)
            if qr_text is not None:
                running.qr_text = qr_text.strip()[:255]
            if qr is not None:
                running.qr_on = qr
            scene = replace(scene, qr_text=running.qr_text if running.qr_on and running.qr_text else None)
            if cancel_countdown:
                scene = replace(scene, countdown_ends_at=None)
            if countdown_s is not None:
                if not COUNTDOWN_MIN_S <= countdown_s <= COUNTDOWN_MAX_S:
                    raise LiveError(f"倒计时要在 {COUNTDOWN_MIN_S}–{COUNTDOWN_MAX_S} 秒之间")
                if running.product_id is None:
                    raise LiveError("请先选一个商品，再开始限时抢购倒计时")
                scene = replace(scene, countdown_ends_at=time.monotonic() + countdown_s)
            running.supervisor.set_scene(scene)
            running.scene = scene
            return scene

    def set_layout(self, layout: LayoutName) -> None:
        """Switch between landscape (16:9) and portrait (9:16) while live.

        The picture size changes, so the pipeline is restarted with the same sources and
        destinations: the session, its timeline and the overlay carry on, the recording continues
        in a new file and the platforms see a short reconnect. Raises :class:`NotLive`, or
        :class:`LiveError` when the new pipeline cannot start (the old layout is restored then).
        """
        with self._lock:
            running = self._require_running()
            old = running.settings
            assert old is not None
            if old.layout == layout:
                return
            result = running.supervisor.stop()
            running.recordings += [str(p) for p in result.recordings]
            for settings in (old.model_copy(update={"layout": layout}), old):
                supervisor = self._make_supervisor(settings)
                supervisor.set_scene(running.scene)
                try:
                    supervisor.start()
                except CaptureError as exc:
                    log.warning("could not restart the pipeline as %s: %s", settings.layout, exc)
                    continue
                running.supervisor, running.settings = supervisor, settings
                if settings.layout == layout:
                    log.info("live session %s switched to %s", running.session_id, layout)
                    return
                raise LiveError("切换横竖屏失败，已恢复原来的画面方向 (layout switch failed)")
            self._finish(running)
            raise LiveError("画面重新启动失败，直播已结束，请重新开播 (the pipeline could not restart; the live ended)")

    # -- reading ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The API's status shape (shared/api.md), plus overlay and audio details for the console."""
        with self._lock:
            running = self._running
            if running is None:
                return {
                    "state": "idle", "session_id": None, "fps": 0.0, "frames_out": 0, "dropped": 0,
                    "duplicated": 0, "product_id": None, "recording": None, "destinations": [],
                }
            stats = dict(running.supervisor.status())
            scene = running.scene
            stats.update(
                session_id=running.session_id,
                product_id=running.product_id,
                elapsed_s=round(self._elapsed(running), 1),
                product={"id": running.product_id, "stock": scene.stock} if running.product_id else None,
                started_at=running.started_at.isoformat(),
                overlay={
                    "layout": running.settings.layout if running.settings else None,
                    "show_promo": scene.show_promo,
                    "qr": scene.qr_text is not None,
                    "qr_text": running.qr_text,
                    "countdown_left_s": self._countdown_left(scene),
                },
            )
            return stats

    @property
    def supervisor(self) -> Supervisor | None:
        """The running supervisor (for the preview stream), or None."""
        with self._lock:
            return self._running.supervisor if self._running else None

    @property
    def scene(self) -> OverlayScene | None:
        """What the overlay shows now, or None when nothing is live."""
        with self._lock:
            return self._running.scene if self._running else None

    @property
    def session_id(self) -> int | None:
        """The running session's id, or None."""
        with self._lock:
            return self._running.session_id if self._running else None

    # -- helpers ----------------------------------------------------------------------------

    def _watch(self, running: _Running) -> None:
        while not running.watch_stop.wait(WATCH_INTERVAL_S):
            product_id = running.product_id
            if product_id is not None:
                try:
                    self.refresh_product(product_id, only_if_changed=True)
                except SQLAlchemyError:
                    # A database hiccup must not end the broadcast; the next tick tries again.
                    log.warning("could not re-read product %s for the overlay", product_id, exc_info=True)

    def _require_running(self) -> _Running:
        if self._running is None:
            raise NotLive("现在没有在直播，请先点“开始直播” (no broadcast is running)")
        return self._running

    @staticmethod
    def _elapsed(running: _Running) -> float:
        return time.monotonic() - running.started_mono

    @staticmethod
    def _countdown_left(scene: OverlayScene) -> int | None:
        if scene.countdown_ends_at is None:
            return None
        return max(0, round(scene.countdown_ends_at - time.monotonic()))

    def _close_segment(self, session: Session, running: _Running, elapsed: float) -> None:
        if running.open_segment_id is None:
            return
        session.execute(
            update(Segment).where(Segment.id == running.open_segment_id).values(end_s=round(elapsed, 3))
        )
        running.open_segment_id = None

    @staticmethod
    def _product_scene(base: OverlayScene, product: Product, *, same: bool) -> OverlayScene:
        """The scene for ``product``; ``same`` keeps the host's promo and countdown choices."""
        in_force = product.price_at(utcnow())
        promo = in_force if in_force != product.price_fen else None
        return replace(
            base,
            product_name=product.name,
            price_fen=product.price_fen,
            unit=product.unit,
            promo_price_fen=promo,
            show_promo=base.show_promo if same else promo is not None,
            stock=product.stock,
            link_no=product.link_no,
            origin=product.origin,
            countdown_ends_at=base.countdown_ends_at if same else None,
        )


def visible_session(session: Session, session_id: int, viewer: User) -> LiveSession | None:
    """A live session with its segments, or None when it does not exist or is another farmer's."""
    row = session.scalar(select(LiveSession).where(LiveSession.id == session_id))
    if row is None or (viewer.role == FARMER and row.host_id != viewer.id):
        return None
    return row
