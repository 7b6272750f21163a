"""The live-session service: the one broadcast of this station.

The console, the JSON API and the scheduler all drive the same :class:`LiveService`. The
broadcast itself runs in a worker process (:mod:`capture.worker`); this service starts it,
reattaches to it after a restart of the web server, restarts it when it dies, and stops it.

One owner per fact:
- the session row (:class:`~live.models.LiveSession`) is the truth: which product is on screen,
  promo, QR code, countdown and layout, its recordings (added as each file opens) and its
  segments. Every change is committed first, then the scene derived from the row is sent to the
  worker; if that send fails, the monitor sends it again, so video and record converge;
- the worker shows what it is told; ``_Live.scene`` is only the last scene sent (a cache for
  status, replaced on every send);
- the page shows what :meth:`LiveService.status` says, which never waits on the worker: the
  monitor thread refreshes it twice a second.

Locks, and why nothing waits long on them: ``_op`` serialises start, stop, layout switch and
worker restart, each bounded by its own deadlines (a start can be cancelled by a stop); it is
taken with a timeout. ``_screen`` serialises the short database writes of show/hide/overlay.
``_scene`` serialises scene sends (a read of the row and one channel call with a 1 s deadline).
Orders never take any of them: a committed product change only puts an id in a queue.
"""
from __future__ import annotations

import logging
import queue
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import User
from accounts.roles import FARMER
from capture.channel import ChannelError, WorkerRefused
from capture.errors import CaptureError
from capture.overlay import OverlayScene, countdown_left
from capture.settings import CaptureSettings, LayoutName, PresetName
from capture.sources import TEST_PATTERN
from capture.worker import Worker, scene_to_dict
from catalog import changes
from catalog import services as catalog
from catalog.errors import ProductNotFound
from catalog.models import Product
from catalog.photos import photo_path
from db import N_, utcnow
from live.models import LiveSession, Recording, Segment
from live.profiles import profile_of, remember

log = logging.getLogger(__name__)

COUNTDOWN_MIN_S = 10
COUNTDOWN_MAX_S = 300
START_TIMEOUT_S = 15.0  # opening a camera or a stream URL; then the start is given up
OP_WAIT_S = 1.5  # waiting for another start/stop/switch (each cancellable or short) before "busy"
STOP_TIMEOUT_S = 3.5  # the worker finishes its recording and exits, or is killed: with OP_WAIT_S ≤ 5 s
LAYOUT_TIMEOUT_S = 3.0
SCENE_TIMEOUT_S = 1.0
TICK_S = 0.25  # the monitor: worker status (a few ms), new recordings, a dead worker
HEARTBEAT_S = 5.0  # last_seen_at: where a session that crashed with its server is taken to end
SAFETY_NET_S = 5.0  # re-read the on-screen product for writes other stations made
MISSES_BEFORE_KILL = 3  # status requests in a row without an answer: the worker is stuck
RESTART_ATTEMPTS = 5  # worker restarts in a row that fail before the session is ended
PREVIEW_VIEWERS = 4  # in total: each holds a request thread of the web server
PREVIEW_VIEWERS_PER_USER = 2
RECOGNITION_MODES = ("off", "suggest", "follow")
# After the host taps a card (or takes it off), follow mode leaves the card alone this long: the
# farmer is talking about what they chose, even if another product is in the picture.
MANUAL_WINS_S = 20.0
# Follow mode switches only on a match this sure (capture.recognition.Match.score: 0.5 is a match
# just past the inlier threshold with a 2x lead; 0.6 wants ~20 % more inliers than that). Suggest
# mode shows any confirmed match: the host decides.
FOLLOW_MIN_SCORE = 0.6
RECOGNITION_TIMEOUT_S = 1.0


class LiveError(Exception):
    """A live-session request that cannot be done now; the message is a Chinese message id."""


def _check_recognition_mode(mode: str | None) -> None:
    """Raises :class:`LiveError` for a recognition mode that is not off / suggest / follow."""
    if mode is not None and mode not in RECOGNITION_MODES:
        raise LiveError(N_("认商品只能选：关闭、提示或自动跟随"))


class AlreadyLive(LiveError):
    """Another broadcast is running on this station."""


class NotLive(LiveError):
    """There is no broadcast running."""


class LiveBusy(LiveError):
    """Another start, stop or layout switch is still under way."""


class UnknownProduct(LiveError):
    """The product does not exist or is not this host's to show."""


class PreviewFull(LiveError):
    """Too many preview viewers already."""


@dataclass
class _Live:
    """The running broadcast as this process knows it; the row holds the durable part."""

    session_id: int
    host_id: int
    host_name: str
    village: str
    started_at: datetime
    settings: CaptureSettings
    worker: Worker | None
    scene: OverlayScene = field(default_factory=OverlayScene)
    product_id: int | None = None  # cache of row.product_id, set after each commit that changes it
    status: dict[str, Any] = field(default_factory=dict)
    recordings: list[str] = field(default_factory=list)
    misses: int = 0
    restart_failures: int = 0
    next_restart: float = 0.0
    last_heartbeat: float = 0.0
    last_safety: float = 0.0
    scene_stale: bool = False
    recognition: str = "off"  # off / suggest / follow, for this broadcast
    recognition_stale: bool = False  # the worker has not been told the mode and catalog yet
    recognized: dict[str, Any] | None = None  # the worker's last confirmed match, while on
    manual_at: float = float("-inf")  # time.monotonic() of the host's last tap on a card
    followed: dict[str, Any] | None = None  # the last switch recognition made: product, when


# Where a broadcast may take its picture from. Files only from the media folders, URLs only of
# kinds that cameras and encoders send: anything else would let a host make the server fetch
# any address or read any file (another farmer's recording, the secret key). Every refusal says
# the same words, so the answer never tells whether a file exists.
CAMERA_SPEC = re.compile(r"\d{1,2}|/dev/video\d{1,3}")
SOURCE_URL_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "srt"})
AUDIO_DEVICE_WORDS = frozenset({"default", "none"})


class SourceRefused(LiveError):
    """A video or audio source that is not a camera, the test pattern, a media file or a stream."""


def _in_media(spec: str, media_dirs: tuple[Path, ...], suffixes: tuple[str, ...] | None = None) -> bool:
    if spec.startswith(("\\\\", "//")):
        return False  # a network path: resolving it would already connect to that machine
    try:
        path = Path(spec).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    if suffixes is not None and path.suffix.lower() not in suffixes:
        return False
    return path.is_file() and any(path.is_relative_to(d) for d in media_dirs)


def check_sources(video: str, audio: str, media_dirs: tuple[Path, ...]) -> tuple[str, str]:
    """The video and audio specs to use (files as absolute paths). Raises :class:`SourceRefused`
    with one message for every refusal."""
    refused = SourceRefused(N_("这个画面或声音来源不能用：请选摄像头、麦克风、测试画面，或放在视频文件夹里的文件"))
    video, audio = video.strip(), audio.strip()
    media = tuple(d.resolve() for d in media_dirs)
    if not (CAMERA_SPEC.fullmatch(video) or video == TEST_PATTERN):
        scheme = urlsplit(video).scheme.lower()
        if len(scheme) > 1:  # a URL ("C:" is a Windows drive, not a scheme)
            if scheme not in SOURCE_URL_SCHEMES:
                raise refused
        elif not _in_media(video, media):
            raise refused
        else:
            video = str(Path(video).resolve())
    if audio.lower().endswith(".wav") or "/" in audio or "\\" in audio:
        if not _in_media(audio, media, (".wav",)):
            raise refused
        audio = str(Path(audio).resolve())
    return video, audio


class PreviewStream:
    """One viewer's preview: iterate for JPEG frames; ``close()`` gives the viewer's place back,
    exactly once, whether or not the frames were ever read (a HEAD request reads none)."""

    def __init__(self, worker: Worker, on_close: Callable[[], None]) -> None:
        self._frames = worker.stream("preview")
        self._on_close: Callable[[], None] | None = on_close

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._frames
        except ChannelError as exc:
            log.info("preview ended: %s", exc.en)
        finally:
            self.close()

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            close = getattr(self._frames, "close", None)
            if close is not None:
                close()
            on_close()


def scene_for(row: LiveSession, product: Product | None, host_name: str, village: str,
              now: datetime | None = None) -> OverlayScene:
    """The overlay scene the session row describes: derived, never stored."""
    qr = row.qr_text if row.qr_on and row.qr_text else None
    ends = row.countdown_ends_at.timestamp() if row.countdown_ends_at is not None else None
    base = OverlayScene(farmer_name=host_name, village=village, qr_text=qr)
    if product is None:
        return base
    in_force = product.price_at(now or utcnow())
    promo = in_force if in_force != product.price_fen else None
    return OverlayScene(
        product_name=product.name, price_fen=product.price_fen, unit=product.unit, promo_price_fen=promo,
        show_promo=row.show_promo and promo is not None, stock=product.stock, link_no=product.link_no,
        origin=product.origin, countdown_ends_at=ends, qr_text=qr, farmer_name=host_name, village=village,
    )


def _elapsed(started_at: datetime, at: datetime | None = None) -> float:
    return max(0.0, ((at or utcnow()) - started_at).total_seconds())


class LiveService:
    """Start, drive, reattach to and stop the one live broadcast of this station. Thread-safe."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        data_dir: Path,
        *,
        station_id: str = "",
        ffmpeg: str | None = None,
        media_dirs: tuple[Path, ...] = (),
    ) -> None:
        self._sessions = sessions
        self._data_dir = data_dir
        self._media_dirs = (data_dir / "media", *media_dirs)
        self._workers_dir = data_dir / "live"
        self._recording_dir = data_dir / "recordings"
        self.station_id = station_id
        self._ffmpeg = ffmpeg
        self._lock = threading.Lock()
        self._op = threading.Lock()
        self._screen = threading.Lock()
        self._scene = threading.Lock()
        self._cancel = threading.Event()
        self._starting_host: int | None = None  # the host whose start is under way
        self._state = "idle"
        self._live: _Live | None = None
        self._changes: queue.Queue[frozenset[int]] = queue.Queue(maxsize=1000)
        self._closed = threading.Event()
        self._monitor: threading.Thread | None = None
        self._viewers: Counter[int] = Counter()
        self._start_listeners: list[Callable[[], None]] = []
        changes.subscribe(self._on_products_changed)

    def on_start(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` as each live starts, before its worker opens (the clip worker
        pauses then). It must return at once; what it raises is logged, never stops the start."""
        self._start_listeners.append(listener)

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
        recognition: str | None = None,
    ) -> int:
        """Go live; returns the new session id once the worker's pipeline runs. ``recognition``
        is the mode to start in (None: the one the host last chose, kept in their profile).

        Raises :class:`SourceRefused` for a source that is not allowed, pydantic
        ``ValidationError`` for bad settings (both before anything starts), :class:`AlreadyLive`, :class:`LiveBusy`, and :class:`capture.errors.CaptureError` when the
        camera, microphone or encoder cannot start, the start took too long or was cancelled by a
        stop (nothing is recorded in the database then, and no worker is left).
        """
        video, audio = self.check_sources(video, audio)
        _check_recognition_mode(recognition)
        settings = CaptureSettings(video=video, audio=audio, destinations=destinations, record=record,
                                   recording_dir=self._recording_dir, preset=preset, layout=layout,
                                   ffmpeg=self._ffmpeg)
        self._take_op()
        try:
            with self._lock:
                if self._live is not None:
                    raise AlreadyLive(N_("已经在直播中，请先结束当前直播"))
            with self._sessions() as session:
                stale = bool(self._open_rows(session))
                mode = recognition or profile_of(session, host.id).recognition
            # An open row of this station with no broadcast here: a worker to take over, or a
            # session a failed write left open, to close now rather than refuse every start.
            if stale and (self._recover_rows() is not None or self._live is not None):
                raise AlreadyLive(N_("已经在直播中，请先结束当前直播"))
            self._cancel.clear()
            self._state, self._starting_host = "starting", host.id
            for listener in self._start_listeners:
                try:
                    listener()
                except Exception:  # a listener's bug must not keep the farmer off the air
                    log.exception("start listener %r", listener)
            qr = (qr_text or "").strip()[:255]
            scene = OverlayScene(farmer_name=host.name, village=host.village, qr_text=qr or None)
            key = secrets.token_hex(8)
            worker = Worker.spawn(self._workers_dir, key, settings, scene)
            try:
                worker.wait_opened(START_TIMEOUT_S, self._cancel)
                with self._sessions() as session:
                    row = LiveSession(host_id=host.id, station_id=self.station_id, video=video[:255],
                                      audio=audio[:255], preset=preset, layout=layout, worker_key=key,
                                      qr_on=bool(qr), qr_text=qr, last_seen_at=utcnow())
                    session.add(row)
                    session.flush()
                    for path in worker.recordings():
                        session.add(Recording(session_id=row.id, path=path))
                    session.commit()
                    session_id, started_at = row.id, row.started_at
            except BaseException:
                worker.stop(timeout=2.0)  # no broadcast may run without its session record
                worker.remove_files()
                raise
            live = _Live(session_id=session_id, host_id=host.id, host_name=host.name, village=host.village,
                         started_at=started_at, settings=settings, worker=worker, scene=scene,
                         recordings=worker.recordings(), last_heartbeat=time.monotonic(),
                         recognition=mode, recognition_stale=mode != "off")  # the monitor tells the worker
            try:  # the first figures now, so status never shows a live without its destinations
                live.status = dict(worker.request("status").get("status") or {})
            except CaptureError as exc:
                log.warning("no first status from the worker: %s", exc.en)
            with self._lock:
                self._live = live
            self._ensure_monitor()
            log.info("live session %s started by %s (worker %s, pid %s)", session_id, host.username, key, worker.pid)
            return session_id
        finally:
            with self._lock:
                self._state = "idle" if self._live is None else "live"
                self._starting_host = None
            self._op.release()

    def stop(self, actor: User | None = None) -> dict[str, Any]:
        """End the broadcast: the worker finishes its recording and exits (or is killed at the
        deadline). Returns ``{"session_id", "recording", "recordings", "duration_s"}``.

        Also cancels a start under way. Raises :class:`NotLive` when nothing runs (or it is another
        host's), :class:`LiveBusy` if another operation did not finish in time.
        """
        live = self._live
        host_id = live.host_id if live is not None else self._starting_host
        if actor is not None and actor.role == FARMER and host_id is not None and actor.id != host_id:
            raise NotLive(N_("现在没有在直播"))
        self._cancel.set()
        try:
            self._take_op()
        except LiveBusy:
            self._cancel.clear()  # a later start or worker restart must not see this stop's cancel
            raise
        try:
            live = self._live
            if live is None:
                raise NotLive(N_("现在没有在直播"))
            with self._lock:
                self._state = "stopping"
            answer = live.worker.stop(STOP_TIMEOUT_S) if live.worker is not None else {}
            return self._close(live, answer.get("recordings") or [])
        finally:
            with self._lock:
                self._state = "idle" if self._live is None else self._state
            self._cancel.clear()
            self._op.release()

    def check_sources(self, video: str, audio: str) -> tuple[str, str]:
        """:func:`check_sources` against this station's media folders."""
        return check_sources(video, audio, self._media_dirs)

    def shutdown(self) -> None:
        """The app is closing on purpose: stop the broadcast (never leave a worker behind) and
        the monitor. Never raises NotLive."""
        try:
            if self._live is not None:
                self.stop()
        except LiveError as exc:
            log.warning("could not stop the broadcast at shutdown: %s", exc)
        finally:
            self.close()

    def close(self) -> None:
        """Stop listening and monitoring; a broadcast still running carries on in its worker
        (a restarted server reattaches to it)."""
        self._closed.set()
        changes.unsubscribe(self._on_products_changed)
        monitor = self._monitor
        if monitor is not None and monitor is not threading.current_thread():
            monitor.join(2.0)

    def recover(self) -> int | None:
        """At server start: see :meth:`_recover_rows`."""
        return self._recover_rows()

    def _recover_rows(self) -> int | None:
        """At server start: reattach to this station's running worker, and close every session
        left open with no live worker (ended at the last time known, recordings listed, marked
        abnormal with the reason). Workers with no open session are killed. Returns the session id
        reattached to, or None."""
        current = self._live
        attached: int | None = current.session_id if current is not None else None
        with self._sessions() as session:
            rows = self._open_rows(session)
            known = {row.worker_key for row in rows}
            for row in rows:
                if current is not None and row.id == current.session_id:
                    continue  # already running here: nothing to recover
                worker = Worker.attach(self._workers_dir, row.worker_key, timeout=3.0) if row.worker_key else None
                if worker is not None and attached is None:
                    try:
                        self._reattach(session, row, worker)
                        attached = row.id
                        continue
                    except (CaptureError, SQLAlchemyError, ValueError) as exc:
                        log.error("could not reattach to live session %s: %s", row.id, exc)
                if worker is not None:
                    worker.kill()
                self._close_crashed(session, row)
            session.commit()
        for path in self._workers_dir.glob("*.spec.json"):
            key = path.name.removesuffix(".spec.json")
            if key not in known:
                log.warning("forgetting broadcast worker %s that has no open session", key)
                orphan = Worker(self._workers_dir, key, "")
                orphan.kill_if_running()
                orphan.remove_files()
        return attached

    # -- what is on the video ---------------------------------------------------------------

    def show(self, product_id: int, viewer: User | None = None, *, position: tuple[float, float] | None = None,
             manual: bool = True) -> OverlayScene:
        """Put a product's card on the video, starting a new segment (committed first).

        ``position`` is where recognition found the product (shares of the frame), kept on the
        segment; ``manual`` (a tap) holds follow mode off for :data:`MANUAL_WINS_S`. Raises
        :class:`NotLive`, or :class:`UnknownProduct` when it does not exist or (for a farmer
        ``viewer``) is not theirs.
        """
        live = self._require_live(viewer)
        if manual:
            live.manual_at = time.monotonic()
        with self._screen, self._sessions() as session:
            try:
                product = catalog.get_product(session, product_id, viewer=viewer)
            except ProductNotFound:
                raise UnknownProduct(N_("没有这个商品")) from None
            row = self._row(session, live)
            if row.product_id != product_id:
                now = utcnow()
                self._close_segment(session, live, now)
                x, y = position if position is not None else (None, None)
                session.add(Segment(session_id=live.session_id, product_id=product_id,
                                    start_s=round(_elapsed(live.started_at, now), 3), position_x=x, position_y=y))
                row.product_id = product_id
                row.show_promo = product.price_at(now) != product.price_fen
                row.countdown_ends_at = None
            session.commit()
            live.product_id = product_id
        return self._push_scene(live)

    def hide_product(self, actor: User | None = None) -> OverlayScene:
        """Take the product card off the video (the host talks about something else)."""
        live = self._require_live(actor)
        live.manual_at = time.monotonic()
        with self._screen, self._sessions() as session:
            row = self._row(session, live)
            self._close_segment(session, live, utcnow())
            row.product_id, row.countdown_ends_at = None, None
            session.commit()
            live.product_id = None
        return self._push_scene(live)

    def set_overlay(
        self,
        *,
        show_promo: bool | None = None,
        qr: bool | None = None,
        qr_text: str | None = None,
        countdown_s: int | None = None,
        cancel_countdown: bool = False,
        recognition: str | None = None,
        actor: User | None = None,
    ) -> OverlayScene:
        """Change the overlay controls and the recognition mode (off / suggest / follow). Raises
        :class:`NotLive`, or :class:`LiveError` for a countdown outside 10–300 s or without a
        product on the video, or an unknown recognition mode."""
        live = self._require_live(actor)
        if countdown_s is not None and not COUNTDOWN_MIN_S <= countdown_s <= COUNTDOWN_MAX_S:
            raise LiveError(N_("倒计时要在 10–300 秒之间"))
        _check_recognition_mode(recognition)
        if recognition is not None and recognition != live.recognition:
            live.recognition, live.recognized = recognition, None
            self._send_recognition(live)
        with self._screen, self._sessions() as session:
            row = self._row(session, live)
            if recognition is not None:  # the host's next live starts in the mode they chose
                remember(session, live.host_id, recognition=recognition)
            if show_promo is not None:
                row.show_promo = show_promo
            if qr_text is not None:
                row.qr_text = qr_text.strip()[:255]
            if qr is not None:
                row.qr_on = qr
            if cancel_countdown:
                row.countdown_ends_at = None
            if countdown_s is not None:
                if row.product_id is None:
                    raise LiveError(N_("请先选一个商品，再开始限时抢购倒计时"))
                row.countdown_ends_at = utcnow() + timedelta(seconds=countdown_s)
            session.commit()
        return self._push_scene(live)

    def set_layout(self, layout: LayoutName, actor: User | None = None) -> None:
        """Switch between landscape (16:9) and portrait (9:16) while live.

        The worker restarts its pipeline at the new size (the session, timeline and overlay carry
        on; the recording continues in a new file). Raises :class:`NotLive`, :class:`LiveBusy`,
        or :class:`LiveError` when the switch failed (the old layout stays, or the monitor
        restarts the worker).
        """
        self._require_live(actor)
        self._take_op()
        try:
            live = self._require_live(actor)
            if live.settings.layout == layout or live.worker is None:
                return
            try:
                answer = live.worker.request("layout", {"layout": layout}, timeout=LAYOUT_TIMEOUT_S)
            except WorkerRefused as exc:
                raise LiveError(N_("画面重新启动失败，正在重连")) from exc
            except ChannelError as exc:
                live.worker.kill()  # stuck mid-switch: the monitor restarts it in the row's layout
                raise LiveError(N_("画面重新启动失败，正在重连")) from exc
            got = answer.get("layout", live.settings.layout)
            live.settings = live.settings.model_copy(update={"layout": got})
            with self._sessions() as session:
                session.execute(update(LiveSession).where(LiveSession.id == live.session_id).values(layout=got))
                session.commit()
            if got != layout:
                raise LiveError(N_("切换横竖屏失败，已恢复原来的画面方向"))
            log.info("live session %s switched to %s", live.session_id, layout)
        finally:
            self._op.release()

    # -- reading ----------------------------------------------------------------------------

    def status(self, viewer: User | None = None) -> dict[str, Any]:
        """The API's status shape (shared/api.md), plus overlay and audio details for the
        console. Never waits on the worker: figures are at most a quarter second old. A farmer
        who is not the host sees the idle shape: nothing of another host's broadcast."""
        with self._lock:
            live, state = self._live, self._state
        if live is not None and not self._may_control(viewer, live):
            live, state = None, "idle"
        if live is None:
            return {"state": state if state == "starting" else "idle", "session_id": None, "fps": 0.0,
                    "frames_out": 0, "dropped": 0, "duplicated": 0, "product_id": None, "recording": None,
                    "destinations": [], "recognized": None}
        stats = dict(live.status)
        worker_state = stats.get("state") or "starting"
        if live.worker is None and state != "stopping":
            worker_state = "reconnecting"
        elif state in ("stopping", "reconnecting") or worker_state == "idle":
            worker_state = "reconnecting" if state != "stopping" else "stopping"
        scene = live.scene
        stats.update(
            state=worker_state,
            session_id=live.session_id,
            product_id=live.product_id,
            elapsed_s=round(_elapsed(live.started_at), 1),
            product={"id": live.product_id, "stock": scene.stock} if live.product_id else None,
            started_at=live.started_at.isoformat(),
            recordings=list(live.recordings),
            overlay={
                "layout": live.settings.layout,
                "show_promo": scene.show_promo,
                "qr": scene.qr_text is not None,
                "qr_text": scene.qr_text or "",
                "countdown_left_s": countdown_left(scene.countdown_ends_at),
                "recognition": live.recognition,
            },
            recognized=self._recognized(live),
            recognition={
                "mode": live.recognition,
                # The console says so when the card was switched by recognition, not by a tap.
                "followed": dict(live.followed) if live.followed else None,
                "manual_hold_s": round(max(0.0, MANUAL_WINS_S - (time.monotonic() - live.manual_at)), 1),
                "check_ms": (stats.get("recognition") or {}).get("check_ms"),  # the worker's mean per check
                # The check process ended unasked; the monitor starts a new one within seconds.
                "crashed": bool((stats.get("recognition") or {}).get("crashed")),
            },
        )
        stats.setdefault("recording", live.recordings[-1] if live.recordings else None)
        stats.setdefault("destinations", [])
        return stats

    @property
    def scene(self) -> OverlayScene | None:
        """The scene last sent to the worker, or None when nothing is live."""
        live = self._live
        return live.scene if live else None

    @property
    def session_id(self) -> int | None:
        live = self._live
        return live.session_id if live else None

    @property
    def worker(self) -> Worker | None:
        live = self._live
        return live.worker if live else None

    def latest_frame(self) -> np.ndarray | None:
        """The last composited frame as BGR (lossless), or None (not live, no frame yet)."""
        worker = self.worker
        if worker is None:
            return None
        try:
            png = next(iter(worker.stream("snapshot")), None)
        except ChannelError:
            return None
        if png is None:
            return None
        return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)

    def preview(self, viewer: User) -> PreviewStream:
        """JPEG frames of the preview for one viewer, until the broadcast ends or the stream is
        closed. Raises :class:`NotLive`, or :class:`PreviewFull` past the viewer limits (each
        viewer holds a request thread, and the web server must keep threads for orders)."""
        worker = self._require_live(viewer).worker
        viewer_id = viewer.id  # ``viewer`` may be a request-bound proxy, gone when the stream closes
        if worker is None:
            raise NotLive(N_("现在没有在直播"))
        with self._lock:
            if sum(self._viewers.values()) >= PREVIEW_VIEWERS or self._viewers[viewer_id] >= PREVIEW_VIEWERS_PER_USER:
                raise PreviewFull(N_("看画面的人太多了，请关掉别的画面窗口"))
            self._viewers[viewer_id] += 1
        return PreviewStream(worker, lambda: self._leave_preview(viewer_id))

    def _leave_preview(self, viewer_id: int) -> None:
        with self._lock:
            self._viewers[viewer_id] -= 1

    # -- the monitor ------------------------------------------------------------------------

    def _ensure_monitor(self) -> None:
        with self._lock:
            if self._monitor is not None and self._monitor.is_alive():
                return
            self._monitor = threading.Thread(target=self._watch, name="cunbo-live-monitor", daemon=True)
            self._monitor.start()

    def _on_products_changed(self, product_ids: frozenset[int]) -> None:
        live = self._live
        if live is None or live.product_id not in product_ids:
            return
        try:
            self._changes.put_nowait(product_ids)
        except queue.Full:  # the monitor is behind; the safety net re-reads the product anyway
            log.warning("product change queue full; the card catches up at the next check")

    def _wait_change(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for a change to the product shown; True if one came. Changes
        queued behind it are taken too: a burst of orders on the product shown is one card refresh,
        since the refresh reads the row as it is after all of them."""
        try:
            self._changes.get(timeout=timeout)
        except queue.Empty:
            return False
        try:
            while True:
                self._changes.get_nowait()
        except queue.Empty:
            return True

    def _watch(self) -> None:
        next_tick = time.monotonic()
        while not self._closed.is_set():
            changed = self._wait_change(max(0.0, next_tick - time.monotonic()))
            live = self._live
            if live is None:
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + TICK_S
                continue
            try:
                if changed:
                    self._push_scene(live)
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + TICK_S
                    self._tick(live)
            except SQLAlchemyError:
                # A database hiccup must not end the broadcast; the next tick tries again.
                log.warning("live monitor: database error", exc_info=True)
            except Exception:  # the monitor must outlive any single bug, or nothing restarts workers
                log.exception("live monitor failed for session %s", live.session_id)

    def _tick(self, live: _Live) -> None:
        if self._state == "stopping":
            return  # the stop owns the worker now
        worker = live.worker
        now = time.monotonic()
        if worker is None or not worker.alive():
            self._restart(live, "the worker exited")
            return
        try:
            answer = worker.request("status")
        except CaptureError as exc:
            live.misses += 1
            log.warning("worker of session %s did not answer (%d): %s", live.session_id, live.misses, exc.en)
            if live.misses >= MISSES_BEFORE_KILL:
                worker.kill()
                self._restart(live, "the worker stopped answering")
            return
        live.misses = 0
        live.status = dict(answer.get("status") or {})
        self._add_recordings(live, [str(p) for p in answer.get("recordings") or []])
        if live.scene_stale:
            self._push_scene(live)
        if live.recognition_stale:
            self._send_recognition(live)
        recognized = live.status.pop("recognized", None)
        live.recognized = recognized if live.recognition != "off" and isinstance(recognized, dict) else None
        if live.recognition == "follow":
            self._follow(live)
        if now - live.last_heartbeat >= HEARTBEAT_S:
            live.last_heartbeat = now
            with self._sessions() as session:
                session.execute(update(LiveSession).where(LiveSession.id == live.session_id)
                                .values(last_seen_at=utcnow()))
                session.commit()
        if now - live.last_safety >= SAFETY_NET_S:
            live.last_safety = now
            if live.recognition != "off":
                self._send_recognition(live)  # photos added or changed since; the worker keeps its index if not
            before = live.scene
            if self._push_scene(live, only_if_changed=True) != before:
                log.info("the on-screen product changed elsewhere; card updated")

    def _restart(self, live: _Live, reason: str) -> None:
        """Start a new worker for the same broadcast (a new recording segment); after
        :data:`RESTART_ATTEMPTS` failures in a row the session is ended as abnormal."""
        if time.monotonic() < live.next_restart or not self._op.acquire(blocking=False):
            return  # backing off, or a stop/switch is under way (it decides)
        try:
            if self._live is not live:
                return
            log.warning("live session %s: %s; restarting it", live.session_id, reason)
            with self._lock:
                self._state = "reconnecting"
            live.status = {}  # the dead worker's figures are not the broadcast's any more
            old = live.worker
            if old is not None:
                self._add_recordings(live, old.recordings())
                old.kill()
                old.remove_files()
            live.worker = None
            key = secrets.token_hex(8)
            try:
                with self._sessions() as session:
                    row = self._row(session, live)
                    if row.ended_at is not None:  # closed elsewhere: nothing to continue
                        raise NotLive(N_("这场直播的记录不见了"))
                    product = session.get(Product, row.product_id) if row.product_id else None
                    scene = scene_for(row, product, live.host_name, live.village)
                    row.worker_key = key
                    session.commit()
                worker = Worker.spawn(self._workers_dir, key, live.settings, scene)
                try:
                    worker.wait_opened(START_TIMEOUT_S, self._cancel)
                except CaptureError:
                    worker.remove_files()
                    raise
            except (CaptureError, SQLAlchemyError, OSError, LiveError) as exc:
                live.restart_failures += 1
                live.next_restart = time.monotonic() + min(8.0, 0.5 * 2 ** live.restart_failures)
                log.error("restart %d of session %s failed: %s", live.restart_failures, live.session_id, exc)
                if isinstance(exc, NotLive):  # the session was closed elsewhere: let it go
                    with self._lock:
                        self._live, self._state = None, "idle"
                elif live.restart_failures >= RESTART_ATTEMPTS:
                    self._close(live, [], end_reason="restart_failed")
                return
            live.worker, live.scene, live.misses, live.restart_failures = worker, scene, 0, 0
            live.recognition_stale = live.recognition != "off"
            self._add_recordings(live, worker.recordings())
            log.info("live session %s continues in worker %s (pid %s)", live.session_id, key, worker.pid)
        finally:
            with self._lock:
                if self._state == "reconnecting" and (self._live is None or live.worker is not None):
                    self._state = "live" if self._live is not None else "idle"
            self._op.release()

    # -- helpers ----------------------------------------------------------------------------

    def _take_op(self) -> None:
        if not self._op.acquire(timeout=OP_WAIT_S):
            raise LiveBusy(N_("正在开播或结束直播，请稍等再试"))

    def _require_live(self, actor: User | None = None) -> _Live:
        """The running broadcast, if ``actor`` may drive it (None: the station itself, e.g. the
        scheduler). Raises :class:`NotLive` otherwise: another host's live is not there for them."""
        live = self._live
        if live is None or not self._may_control(actor, live):
            raise NotLive(N_("现在没有在直播，请先点“开始直播”"))
        return live

    @staticmethod
    def _may_control(actor: User | None, live: _Live) -> bool:
        """The host, and the managers who help hosts (coordinator, admin), drive a live."""
        return actor is None or actor.role != FARMER or actor.id == live.host_id

    def _open_rows(self, session: Session) -> list[LiveSession]:
        query = select(LiveSession).where(LiveSession.ended_at.is_(None), LiveSession.station_id == self.station_id)
        return list(session.scalars(query.order_by(LiveSession.started_at.desc())))

    @staticmethod
    def _row(session: Session, live: _Live) -> LiveSession:
        row = session.get(LiveSession, live.session_id)
        if row is None:
            raise NotLive(N_("这场直播的记录不见了"))
        return row

    @staticmethod
    def _close_segment(session: Session, live: _Live, at: datetime) -> None:
        session.execute(
            update(Segment).where(Segment.session_id == live.session_id, Segment.end_s.is_(None))
            .values(end_s=round(_elapsed(live.started_at, at), 3))
        )

    def _push_scene(self, live: _Live, *, only_if_changed: bool = False) -> OverlayScene:
        """Send the scene the row describes to the worker; returns it. A failed send is retried
        by the monitor (``scene_stale``); it never raises for the worker."""
        with self._scene:
            with self._sessions() as session:
                row = self._row(session, live)
                product = session.get(Product, row.product_id) if row.product_id else None
                scene = scene_for(row, product, live.host_name, live.village)
            if only_if_changed and scene == live.scene and not live.scene_stale:
                return scene
            worker = live.worker
            live.scene = scene
            if worker is None:
                live.scene_stale = True
                return scene
            try:
                worker.request("scene", {"scene": scene_to_dict(scene)}, timeout=SCENE_TIMEOUT_S)
                live.scene_stale = False
            except CaptureError as exc:
                live.scene_stale = True
                log.warning("scene not delivered to the worker (%s); retrying", exc.en)
            return scene

    def _recognition_catalog(self, live: _Live) -> dict[int, list[str]]:
        """Product id → photo files of what this host may show (a farmer: their own active
        products; a coordinator or admin hosting: every active product)."""
        with self._sessions() as session:
            host = session.get(User, live.host_id)
            query = select(Product).where(Product.active.is_(True))
            if host is None or host.role == FARMER:
                query = query.where(Product.farmer_id == live.host_id)
            catalog: dict[int, list[str]] = {}
            for product in session.scalars(query):
                paths = [photo_path(self._data_dir, photo.stem) for photo in product.photos]
                if existing := [str(p) for p in paths if p.exists()]:
                    catalog[product.id] = existing
            return catalog

    def _send_recognition(self, live: _Live) -> None:
        """Tell the worker the mode (on or off) and the catalog; retried by the monitor on failure."""
        worker = live.worker
        on = live.recognition != "off"
        payload: dict[str, Any] = {"on": on}
        try:
            if on:
                payload["catalog"] = {str(k): v for k, v in self._recognition_catalog(live).items()}
            if worker is None:
                raise ChannelError("直播程序还没准备好", "no worker")
            worker.request("recognition", payload, timeout=RECOGNITION_TIMEOUT_S)
            live.recognition_stale = False
        except CaptureError as exc:
            live.recognition_stale = True
            log.warning("recognition mode not delivered to the worker (%s); retrying", exc.en)

    @staticmethod
    def _recognized(live: _Live) -> dict[str, Any] | None:
        """The API's ``recognized``: {"product_id", "score"} of a confirmed match, else None."""
        match = live.recognized
        if match is None or live.recognition == "off":
            return None
        return {"product_id": match.get("product_id"), "score": match.get("score")}

    def _follow(self, live: _Live) -> None:
        """Follow mode: put the recognised product on the card (through :meth:`show`, so the
        segment is committed first) — never on a weak match, never within :data:`MANUAL_WINS_S`
        of a tap, and never a product this host may not show (the catalog sent is theirs)."""
        match = live.recognized
        if match is None or not isinstance(match.get("product_id"), int):
            return
        product_id = int(match["product_id"])
        if product_id == live.product_id or float(match.get("score") or 0.0) < FOLLOW_MIN_SCORE:
            return
        if time.monotonic() - live.manual_at < MANUAL_WINS_S:
            return
        position = match.get("position")
        at = (float(position[0]), float(position[1])) if isinstance(position, list) and len(position) == 2 else None
        before, live.followed = live.followed, {"product_id": product_id, "elapsed_s": round(_elapsed(live.started_at), 1)}
        try:  # ``followed`` first: a status read never sees the new card without who switched it
            self.show(product_id, position=at, manual=False)
        except LiveError as exc:  # the product was deleted since the catalog was sent
            live.followed = before
            log.info("recognition found product %s but it cannot be shown: %s", product_id, exc)
            return
        log.info("live session %s: recognition switched the card to product %s (score %s)",
                 live.session_id, product_id, match.get("score"))

    def _add_recordings(self, live: _Live, paths: list[str]) -> None:
        new = [p for p in dict.fromkeys(paths) if p not in live.recordings]
        if not new:
            return
        with self._sessions() as session:
            have = set(session.scalars(select(Recording.path).where(Recording.session_id == live.session_id)))
            for path in new:
                if path not in have:
                    session.add(Recording(session_id=live.session_id, path=path))
            session.commit()
        live.recordings += new

    def _close(self, live: _Live, recordings: list[str], *, end_reason: str | None = None) -> dict[str, Any]:
        """Close the session record once its worker is gone; this station is idle after it."""
        if live.worker is not None:
            recordings = [*live.worker.recordings(), *recordings]
        try:
            self._add_recordings(live, recordings)
            ended = utcnow()
            with self._sessions() as session:
                self._close_segment(session, live, ended)
                row = self._row(session, live)
                row.ended_at, row.last_seen_at, row.end_reason = ended, ended, end_reason
                session.commit()
        finally:
            with self._lock:
                self._live = None
                self._state = "idle"
            if live.worker is not None:
                live.worker.remove_files()
        duration = _elapsed(live.started_at, ended)
        log.info("live session %s ended after %.1f s%s", live.session_id, duration,
                 f" ({end_reason})" if end_reason else "")
        existing = [p for p in live.recordings if Path(p).exists()]
        return {"session_id": live.session_id, "recording": existing[0] if existing else None,
                "recordings": existing, "duration_s": round(duration, 3)}

    def _reattach(self, session: Session, row: LiveSession, worker: Worker) -> None:
        # The row knows the layout (a switch after the worker was spawned); the spec does not.
        settings = worker.settings().model_copy(update={"layout": row.layout})
        live = _Live(session_id=row.id, host_id=row.host_id, host_name=row.host.name, village=row.host.village,
                     started_at=row.started_at, settings=settings, worker=worker, product_id=row.product_id,
                     recordings=[r.path for r in row.recordings], last_heartbeat=time.monotonic())
        have = set(live.recordings)
        for path in worker.recordings():
            if path not in have:
                session.add(Recording(session_id=row.id, path=path))
                live.recordings.append(path)
        row.last_seen_at = utcnow()
        session.commit()
        self._push_scene(live)
        # The mode the host chose last, from their profile: a restarted server carries on as the
        # host left it (the worker is told either way: it may have been told something else).
        live.recognition, live.recognition_stale = profile_of(session, row.host_id).recognition, True
        with self._lock:
            self._live, self._state = live, "live"
        self._ensure_monitor()
        log.info("reattached to live session %s (worker pid %s)", row.id, worker.pid)

    def _close_crashed(self, session: Session, row: LiveSession) -> None:
        """A session whose worker is gone: ended at the last time known, recordings listed."""
        stale = Worker(self._workers_dir, row.worker_key, "") if row.worker_key else None
        have = {r.path for r in row.recordings}
        paths = [p for p in (stale.recordings() if stale else []) if p not in have]
        for path in paths:
            session.add(Recording(session_id=row.id, path=path))
        times = [t for t in (row.last_seen_at, row.started_at) if t is not None]
        for path in [*have, *paths]:
            try:
                times.append(datetime.fromtimestamp(Path(path).stat().st_mtime, tz=timezone.utc))
            except OSError:
                continue
        ended = max(times)
        row.ended_at, row.end_reason = ended, "worker_lost"
        session.execute(
            update(Segment).where(Segment.session_id == row.id, Segment.end_s.is_(None))
            .values(end_s=round(_elapsed(row.started_at, ended), 3))
        )
        if stale is not None:
            stale.kill_if_running()  # alive but not answering: nobody could ever stop it otherwise
            stale.remove_files()
        log.warning("live session %s had no running worker: closed as ended at %s", row.id, ended.isoformat())


def visible_session(session: Session, session_id: int, viewer: User) -> LiveSession | None:
    """A live session with its segments, or None when it does not exist or is another farmer's."""
    row = session.scalar(select(LiveSession).where(LiveSession.id == session_id))
    if row is None or (viewer.role == FARMER and row.host_id != viewer.id):
        return None
    return row
