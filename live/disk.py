"""Disk: deleting a session's clips or its recording, and what the clips still to cut will need.

Files and rows go together, and a delete that fails half-way loses nothing:

1. every file is first renamed aside (``<name>.deleting``, same folder, so the rename is atomic);
   if one rename fails, those already moved are put back and :class:`DeleteFailed` is raised;
2. the rows are deleted (flushed; the caller commits);
3. after the commit the caller calls :meth:`Removal.finish`, which unlinks the files set aside;
   if the commit fails it calls :meth:`Removal.undo`, which puts them back.

A server killed between 1 and 3 leaves ``.deleting`` files: :func:`settle_removals` at start
puts back those a row still names (the commit never happened) and unlinks the rest.

Recordings and clips are files on the PC that made them, so only that station deletes them (a
county shares one database, not its disks).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import N_
from live.clip_jobs import UNFINISHED
from live.models import Clip, LiveSession, Recording

log = logging.getLogger(__name__)

ASIDE = ".deleting"
# What a second of 720p30 recording takes when no recording is there to measure (the 720p
# preset's 2.5 Mbps video + 128 kbps audio), and a 9:16 re-encode against its 16:9 copy (CRF 23
# on a 396×704 crop: about 40 % in bench/clips.py).
RECORDING_BYTES_PER_S = 2628 * 1000 // 8
VERTICAL_SHARE = 0.4
# A 16:9 copy starts on the keyframe before its segment: up to 2 s more.
KEYFRAME_S = 2.0


class DeleteRefused(Exception):
    """This delete may not happen (the live still runs, another PC has the files); a msgid."""


class DeleteFailed(Exception):
    """A file could not be removed; nothing was deleted. The message is a msgid, ``detail`` for the log."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@dataclass
class Removal:
    """Files set aside for a delete whose rows are flushed: :meth:`finish` after the commit,
    :meth:`undo` if it fails."""

    count: int = 0
    size_bytes: int = 0
    moved: list[tuple[Path, Path]] = field(default_factory=list)

    def finish(self) -> None:
        """Unlink the files set aside (one that will not go is logged; it is settled at the next start)."""
        for _original, aside in self.moved:
            try:
                aside.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not remove %s: %s", aside, exc)
        self.moved = []

    def undo(self) -> None:
        """Put every file set aside back under its name."""
        for original, aside in reversed(self.moved):
            os.replace(aside, original)
        self.moved = []


def _set_aside(paths: Iterable[Path]) -> Removal:
    removal = Removal()
    try:
        for path in paths:
            if not path.is_file():
                continue  # already gone: its row goes, nothing to lose
            size = path.stat().st_size
            aside = path.with_name(path.name + ASIDE)
            os.replace(path, aside)
            removal.moved.append((path, aside))
            removal.size_bytes += size
    except OSError as exc:
        removal.undo()
        raise DeleteFailed(N_("删除失败，文件都还在：请关掉正在播放它的程序再试"), f"{exc}") from exc
    return removal


def _local(row: LiveSession, station_id: str) -> None:
    if row.station_id != station_id:
        raise DeleteRefused(N_("这场直播的文件在开播的那台电脑上，请在那台电脑上删除"))


def delete_clips(session: Session, row: LiveSession, station_id: str) -> Removal:
    """Delete the session's finished clips, files and rows (unfinished ones are cancelled first
    by the caller). Raises :class:`DeleteRefused` for another station's session,
    :class:`DeleteFailed` when a file cannot be moved (nothing deleted). Flushes."""
    _local(row, station_id)
    clips = [c for c in session.scalars(select(Clip).where(Clip.session_id == row.id)) if c.state not in UNFINISHED]
    removal = _set_aside(Path(c.path) for c in clips if c.path)
    for clip in clips:
        session.delete(clip)
    session.flush()
    removal.count = len(clips)
    return removal


def delete_recordings(session: Session, row: LiveSession, station_id: str, recordings_dir: Path) -> Removal:
    """Delete the session's recording files and their rows; the session, its report and its clips
    stay. Raises :class:`DeleteRefused` while the session is live (its worker writes the file) or
    for another station's session or a file outside ``recordings_dir``, :class:`DeleteFailed`
    when a file cannot be moved (nothing deleted). Flushes."""
    if row.ended_at is None:
        raise DeleteRefused(N_("直播还没结束，不能删除录像"))
    _local(row, station_id)
    folder = recordings_dir.resolve()
    recordings = list(row.recordings)
    paths = [Path(r.path) for r in recordings]
    if any(not p.resolve().is_relative_to(folder) for p in paths):
        raise DeleteRefused(N_("录像不在录像文件夹里，没有删除"))
    removal = _set_aside(paths)
    for recording in recordings:
        session.delete(recording)
    session.flush()
    removal.count = len(recordings)
    return removal


def settle_removals(session: Session, station_id: str, folders: Iterable[Path]) -> int:
    """At start: ``.deleting`` files in ``folders`` that a row of this station still names are
    put back (their delete was never committed), the others are unlinked. Returns how many were
    put back."""
    ours = select(LiveSession.id).where(LiveSession.station_id == station_id)
    named = {p for (p,) in session.execute(select(Recording.path).where(Recording.session_id.in_(ours)))} | {
        p for (p,) in session.execute(select(Clip.path).where(Clip.path != "", Clip.session_id.in_(ours)))}
    restored = 0
    for folder in folders:
        for aside in folder.glob(f"**/*{ASIDE}"):
            original = aside.with_name(aside.name[:-len(ASIDE)])
            if str(original) in named:
                os.replace(aside, original)
                restored += 1
            else:
                aside.unlink(missing_ok=True)
    return restored


def pending_clips_mb(session: Session, station_id: str) -> int:
    """MB the clips queued on this station and not yet cut will take: each 16:9 copy its length
    (plus a keyframe) at its recording's bytes per second, each 9:16 :data:`VERTICAL_SHARE` of it."""
    rows = session.execute(
        select(Clip.session_id, Clip.aspect, Clip.plan_start_s, Clip.plan_end_s)
        .join(LiveSession, LiveSession.id == Clip.session_id)
        .where(LiveSession.station_id == station_id, Clip.state.in_(UNFINISHED))
    ).all()
    rates: dict[int, float] = {}
    total = 0.0
    for session_id, aspect, start, end in rows:
        if session_id not in rates:
            rates[session_id] = _bytes_per_s(session, session_id)
        seconds = end - start + (KEYFRAME_S if aspect == "16:9" else 0.0)
        total += seconds * rates[session_id] * (1.0 if aspect == "16:9" else VERTICAL_SHARE)
    return int(-(-total // (1024 * 1024)))  # rounded up


def _bytes_per_s(session: Session, session_id: int) -> float:
    row = session.get(LiveSession, session_id)
    if row is None or row.ended_at is None:
        return float(RECORDING_BYTES_PER_S)
    files = [Path(r.path) for r in row.recordings]
    size = sum(p.stat().st_size for p in files if p.is_file())
    seconds = (row.ended_at - row.started_at).total_seconds()
    return size / seconds if size and seconds > 0 else float(RECORDING_BYTES_PER_S)
