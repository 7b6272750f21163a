"""Clip export in the background: queue a session's clips, one worker thread cuts them one at a time.

The ``clips`` rows own the state (shared/style.md rule 13); the worker keeps only the
:class:`~live.clips.Control` of the one clip it is cutting. Rules:

- Paused while live: while a live runs on this station the worker starts no ffmpeg and stops
  (SIGSTOP) the one it was running, until the live ends; the live service calls :meth:`hold` as a
  live starts, so the cut is stopped before the broadcast worker opens. Pausing rather than only
  lowering the priority, because ``nice -n 19`` beside a 720p30 live still cost the live 62–103
  dropped frames in bench/clips.py on a 2-core PC: the encoder's deadline is per frame, and a
  re-encode at the lowest priority still takes the CPU between its frames and the disk under the
  recording. Outside a live ffmpeg runs under ``nice -n 19`` and ``ionice -c 3``.
- Restart-safe: a clip is marked done only after its file has been renamed into place; at start
  a ``running`` row (the server died mid-cut) goes back to ``pending`` and its ``.part`` is removed.
- Station-local: recordings are files on this PC, so a worker takes only clips of sessions of
  its own station (a county shares one database).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, Update, select, update
from sqlalchemy.orm import Session, sessionmaker

from catalog.models import Product
from db import N_
from live.clips import (
    DEFAULT_LIMIT_S, Cancelled, ClipError, ClipPlan, Control, CutResult, RecordingFile, clip_filename, cut_vertical,
    cut_wide, plan_clips,
)
from live.models import Clip, LiveSession, Segment
from live.service import scene_for

log = logging.getLogger(__name__)

UNFINISHED = ("pending", "running")


def _updated(session: Session, statement: Update) -> int:
    """Run an UPDATE and say how many rows it changed (conditional updates decide races here)."""
    return int(cast(CursorResult[Any], session.execute(statement)).rowcount or 0)


class ClipsRefused(Exception):
    """Clips cannot be queued for this session (still live, or no recording); a msgid."""


def _files(row: LiveSession) -> list[RecordingFile]:
    return [RecordingFile(Path(r.path), round((r.opened_at - row.started_at).total_seconds(), 3))
            for r in row.recordings]


def queue_clips(session: Session, row: LiveSession, duration_s: float, order_times: Sequence[float],
                limit_s: float = DEFAULT_LIMIT_S) -> list[Clip]:
    """Queue a 16:9 and a 9:16 clip per segment of an ended session (see :func:`plan_clips`).

    Clips already done or queued are kept; failed and cancelled ones are queued again. Returns
    every clip row of the session. Raises :class:`ClipsRefused` while the session is live or when
    it has no recording. Flushes; the caller commits.
    """
    if row.ended_at is None:
        raise ClipsRefused(N_("直播结束后才能做切片"))
    if not row.recordings:
        raise ClipsRefused(N_("这场直播没有录像，做不了切片"))
    plans = plan_clips([(s.product_id, s.start_s, s.end_s) for s in row.segments], duration_s, order_times, limit_s)
    existing = {(c.product_id, c.seq, c.aspect): c for c in session.scalars(select(Clip).where(Clip.session_id == row.id))}
    for plan in plans:
        for aspect in ("16:9", "9:16"):
            clip = existing.get((plan.product_id, plan.seq, aspect))
            if clip is None:
                clip = Clip(session_id=row.id, product_id=plan.product_id, seq=plan.seq, aspect=aspect)
                session.add(clip)
                existing[(plan.product_id, plan.seq, aspect)] = clip
            elif clip.state in ("done", *UNFINISHED):
                continue
            clip.plan_start_s, clip.plan_end_s, clip.trimmed = plan.start_s, plan.end_s, plan.trimmed
            clip.state, clip.progress, clip.error, clip.path, clip.size_bytes = "pending", 0.0, "", "", 0
    session.flush()
    return session_clips(session, row.id)


def session_clips(session: Session, session_id: int) -> list[Clip]:
    """The session's clips in the order they were shown (16:9 before 9:16)."""
    return list(session.scalars(select(Clip).where(Clip.session_id == session_id)
                                .order_by(Clip.plan_start_s, Clip.aspect, Clip.id)))


def clip_to_dict(clip: Clip) -> dict[str, Any]:
    """The API form (shared/api.md) plus id, progress, size, name and why it failed."""
    return {"id": clip.id, "product_id": clip.product_id, "aspect": clip.aspect,
            "path": clip.path if clip.state == "done" else None,
            "name": Path(clip.path).name if clip.state == "done" else None,
            "start_s": clip.start_s if clip.state == "done" else clip.plan_start_s,
            "end_s": clip.end_s if clip.state == "done" else clip.plan_end_s,
            "planned_start_s": clip.plan_start_s, "trimmed": clip.trimmed,
            "state": clip.state, "progress": round(clip.progress, 3), "size_bytes": clip.size_bytes,
            "error": clip.error}


@dataclass
class _Running:
    clip_id: int
    session_id: int
    control: Control


class ClipWorker:
    """The one background thread that cuts clips, lowest id first.

    ``live_state`` returns the live engine's state ("idle" when nothing is live); ``clips_dir``
    gets one folder per session. Call :meth:`wake` after queueing, :meth:`stop` at shutdown.
    """

    def __init__(self, sessions: sessionmaker[Session], clips_dir: Path, station_id: str,
                 live_state: Callable[[], str], ffmpeg: str = "ffmpeg", ffprobe: str = "ffprobe",
                 poll_s: float = 1.0, zone: ZoneInfo = ZoneInfo("Asia/Shanghai")) -> None:
        self.zone = zone
        self.sessions, self.clips_dir, self.station_id = sessions, clips_dir, station_id
        self.live_state, self.ffmpeg, self.ffprobe, self.poll_s = live_state, ffmpeg, ffprobe, poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running: _Running | None = None

    # --- control from request threads -----------------------------------------------------------

    def start(self) -> None:
        """Start the thread (once); clips left running by a previous server are queued again."""
        with self._lock:
            if self._thread is not None:
                return
            self.requeue_unfinished()
            self._thread = threading.Thread(target=self._loop, name="clip-worker", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Look for work now (after clips were queued); starts the thread if need be."""
        self.start()
        self._wake.set()

    def cancel(self, session: Session, session_id: int) -> int:
        """Cancel the session's unfinished clips (killing the one being cut). Flushes; returns how many."""
        count = _updated(session, update(Clip).where(Clip.session_id == session_id, Clip.state.in_(UNFINISHED))
                         .values(state="cancelled", progress=0.0))
        with self._lock:
            if self._running is not None and self._running.session_id == session_id:
                self._running.control.cancel.set()
        session.flush()
        return count

    def hold(self) -> None:
        """A live is starting on this station: stop (SIGSTOP) the running cut now, before the
        broadcast worker opens, rather than at the watcher's next look (see :meth:`_loop`)."""
        with self._lock:
            if self._running is not None:
                self._running.control.paused.set()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread: the running cut is killed (it stays queued for the next start)."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            if self._running is not None:
                self._running.control.cancel.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def requeue_unfinished(self) -> int:
        """Put this station's ``running`` clips back to ``pending`` (a cut cut short by a restart)."""
        with self.sessions() as session:
            ours = select(LiveSession.id).where(LiveSession.station_id == self.station_id)
            count = _updated(session, update(Clip).where(Clip.state == "running", Clip.session_id.in_(ours))
                             .values(state="pending", progress=0.0))
            session.commit()
        for leftover in self.clips_dir.glob("*/*.part"):
            leftover.unlink(missing_ok=True)
        return count

    # --- the thread ------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            if self.live_state() == "idle":
                try:
                    if self.run_next():
                        continue
                except Exception:  # a bug in one clip must not end the worker; it is logged and marked
                    log.exception("clip worker")
            self._wake.wait(self.poll_s)

    def _paused_while_live(self, control: Control) -> None:
        """Runs beside a cut: SIGSTOPs it while a live runs (checked every poll)."""
        while not control.cancel.wait(self.poll_s):
            live = self.live_state() != "idle"
            if live != control.paused.is_set():
                log.info("clip work %s: a live is %s", "paused" if live else "resumed", "on" if live else "over")
                (control.paused.set if live else control.paused.clear)()

    def run_next(self) -> bool:
        """Cut the next pending clip of this station; False when there was none."""
        with self.sessions() as session:
            ours = select(LiveSession.id).where(LiveSession.station_id == self.station_id)
            clip = session.scalar(select(Clip).where(Clip.state == "pending", Clip.session_id.in_(ours))
                                  .order_by(Clip.id).limit(1))
            if clip is None:
                return False
            taken = _updated(session, update(Clip).where(Clip.id == clip.id, Clip.state == "pending")
                             .values(state="running", progress=0.0))
            session.commit()
            if not taken:
                return True
            clip_id, session_id = clip.id, clip.session_id
        control = Control()
        with self._lock:
            self._running = _Running(clip_id, session_id, control)
        if self.live_state() != "idle":  # a live started since the loop looked: :meth:`hold` came first
            control.paused.set()
        watcher = threading.Thread(target=self._paused_while_live, args=(control,), name="clip-pause", daemon=True)
        watcher.start()
        try:
            result, error = self._cut(clip_id, control), ""
        except Cancelled:  # by a person, or by stop(): then it stays queued for the next start
            result, error = None, "stopped" if self._stop.is_set() else "cancelled"
        except ClipError as exc:
            log.warning("clip %s failed: %s (%s)", clip_id, exc, exc.detail)
            result, error = None, str(exc)
        except Exception:  # no ffmpeg, a full disk, a bug: the clip fails, the worker goes on
            log.exception("clip %s failed", clip_id)
            result, error = None, N_("切片失败，请稍后重试")
        finally:
            with self._lock:
                self._running = None
            control.cancel.set()  # ends the watcher
            watcher.join(5)
        self._finish(clip_id, result, error)
        return True

    def _progress(self, clip_id: int) -> Callable[[float], None]:
        last = [0.0]

        def write(fraction: float) -> None:
            if fraction - last[0] < 0.05 and fraction < 1.0:
                return  # a write per 5 % is plenty for a progress bar
            last[0] = fraction
            with self.sessions() as session:
                session.execute(update(Clip).where(Clip.id == clip_id, Clip.state == "running")
                                .values(progress=round(fraction, 3)))
                session.commit()
        return write

    def _cut(self, clip_id: int, control: Control) -> CutResult:
        with self.sessions() as session:
            clip = session.get(Clip, clip_id)
            assert clip is not None
            row = session.get(LiveSession, clip.session_id)
            assert row is not None
            product = session.get(Product, clip.product_id)
            files = _files(row)
            plan = ClipPlan(clip.product_id, clip.seq, clip.plan_start_s, clip.plan_end_s, clip.trimmed)
            day = row.started_at.astimezone(self.zone).date()  # the village's date
            name = product.name if product else str(clip.product_id)
            aspect = clip.aspect
            wide_done = session.scalar(select(Clip).where(
                Clip.session_id == clip.session_id, Clip.product_id == clip.product_id, Clip.seq == clip.seq,
                Clip.aspect == "16:9", Clip.state == "done"))
            wide = (CutResult(Path(wide_done.path), wide_done.start_s or 0.0, wide_done.end_s or 0.0, 0)
                    if wide_done is not None and Path(wide_done.path).is_file() else None)
            # Where recognition found the product in the segment this clip comes from, and the
            # product's price card (its size depends on which rows it has, not on the figures).
            segment = session.scalar(select(Segment).where(
                Segment.session_id == clip.session_id, Segment.product_id == clip.product_id,
                Segment.start_s <= clip.plan_start_s + 0.001).order_by(Segment.start_s.desc()).limit(1))
            centre_x = segment.position_x if segment is not None else None
            card = scene_for(row, product, "", "") if product is not None else None
        folder = self.clips_dir / str(row.id)
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / clip_filename(name, day, plan.seq, aspect)
        progress = self._progress(clip_id)
        if aspect == "16:9":
            return cut_wide(self.ffmpeg, self.ffprobe, plan, files, out, control, progress)
        if wide is None:  # its 16:9 failed or was deleted: cut a source of our own, then drop it
            source = cut_wide(self.ffmpeg, self.ffprobe, plan, files, folder / f".src-{clip_id}.mp4", control)
            try:
                return cut_vertical(self.ffmpeg, self.ffprobe, plan, source, out, control, progress, centre_x, card)
            finally:
                source.path.unlink(missing_ok=True)
        return cut_vertical(self.ffmpeg, self.ffprobe, plan, wide, out, control, progress, centre_x, card)

    def _finish(self, clip_id: int, result: CutResult | None, error: str) -> None:
        with self.sessions() as session:
            if result is not None:
                values: dict[str, Any] = {"state": "done", "progress": 1.0, "path": str(result.path),
                                          "start_s": result.start_s, "end_s": result.end_s,
                                          "size_bytes": result.size_bytes, "error": ""}
            elif error in ("cancelled", "stopped"):
                values = {"state": "cancelled" if error == "cancelled" else "pending", "progress": 0.0}
            else:
                values = {"state": "failed", "error": error[:200]}
            # Only a clip still running is finished: one cancelled meanwhile stays cancelled.
            done = _updated(session, update(Clip).where(Clip.id == clip_id, Clip.state == "running").values(**values))
            session.commit()
        if result is not None and not done:
            result.path.unlink(missing_ok=True)
