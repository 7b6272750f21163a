"""Per-product clips (直播切片) cut from a session's recording: plan, ffmpeg argv, and the cut.

No Flask, no orders: the caller passes the times of the session's orders as plain seconds.

What a clip is:

- One per product segment of at least :data:`MIN_SEGMENT_S`; a segment longer than the limit
  (``limit_s``, default :data:`DEFAULT_LIMIT_S`) is trimmed to its best part, the window of that
  length holding the most orders (it opens :data:`ORDER_LEAD_S` before an order so the pitch that
  led to it is in the clip).
- 16:9 is a stream copy: no re-encode, a second of work, but it can only start on a keyframe. Our
  encoder puts one every 2 s (``-g 2*fps``, capture/ffmpeg.py), so the clip starts at the keyframe
  at or before the segment start, **up to 2 s early**; the clip's ``start_s`` says where it
  really starts.
- 9:16 is a crop centred on where recognition found the product (the segment's ``position``),
  else the centre, re-encoded with libx264 -pix_fmt yuv420p, cut from the 16:9 clip (a small
  file) to the exact segment start. The price card burned into a landscape recording lies outside
  such a crop, so it is cropped out of the same frame and placed, scaled, in the vertical frame.
- A recording cut by ``kill -9`` has no duration in its header and no seek index (Matroska writes
  its cues at the end); nothing here asks for the duration, and ffmpeg seeks such a file by
  reading it, which is slower but works. Where each file ends is taken from where the next one
  opens (the last runs to the end of the session).
- A segment that spans two recording files is cut piece by piece and the pieces joined with the
  concat demuxer (stream copy).

Every ffmpeg run has a deadline and can be cancelled (:class:`Cancelled`); the process is killed
then. ``nice`` and ``ionice`` run it at the lowest CPU and disk priority on POSIX, and a paused
:class:`Control` (a live is on) starts no ffmpeg and stops the running one (SIGSTOP).
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from capture.ffmpeg import progress_number
from capture.overlay import CARD_BG, Box, Layout, OverlayScene, product_card_box
from capture.process import kill, pump_stderr
from db import N_

log = logging.getLogger(__name__)

MIN_SEGMENT_S = 3.0
DEFAULT_LIMIT_S = 60.0
ORDER_LEAD_S = 5.0
# Our encoder's keyframe interval (capture/ffmpeg.py: -g 2*fps): how early a 16:9 copy may start.
KEYFRAME_INTERVAL_S = 2.0
ASPECTS = ("16:9", "9:16")
# The slowest a niced re-encode may run before it counts as stuck (a loaded 2-core PC did ~1x).
MIN_SPEED = 0.1


class ClipError(Exception):
    """A clip could not be made; the message is a msgid for people, ``detail`` is for the log."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class Cancelled(ClipError):
    """The work was cancelled; its ffmpeg was killed."""


@dataclass(frozen=True)
class ClipPlan:
    """What to cut: product ``seq``-th segment (1-based, per product), seconds from the session start."""

    product_id: int
    seq: int
    start_s: float
    end_s: float
    trimmed: bool = False


@dataclass(frozen=True)
class RecordingFile:
    path: Path
    offset_s: float  # where it starts, in seconds from the session start


@dataclass(frozen=True)
class Piece:
    path: Path
    start_s: float  # in the file's own time
    end_s: float
    offset_s: float = 0.0  # where the file starts in the session


def best_window(start_s: float, end_s: float, limit_s: float, order_times: Sequence[float]) -> float:
    """Where a ``limit_s`` window inside [start_s, end_s] holding the most orders starts (the
    earliest such window; ``start_s`` when no order falls in the segment)."""
    latest = end_s - limit_s
    candidates = sorted({start_s, *(min(latest, max(start_s, t - ORDER_LEAD_S))
                                    for t in order_times if start_s <= t < end_s)})

    def held(at: float) -> int:
        return sum(1 for t in order_times if at <= t < at + limit_s)

    return max(candidates, key=lambda at: (held(at), -at))


def plan_clips(segments: Sequence[tuple[int, float, float | None]], duration_s: float,
               order_times: Sequence[float], limit_s: float = DEFAULT_LIMIT_S) -> list[ClipPlan]:
    """One plan per segment ``(product_id, start_s, end_s or None while open)`` of at least
    :data:`MIN_SEGMENT_S`, trimmed to the best ``limit_s`` when longer. Raises ValueError for a
    limit under the minimum."""
    if limit_s < MIN_SEGMENT_S:
        raise ValueError(f"clip limit {limit_s} s is under {MIN_SEGMENT_S} s")
    plans: list[ClipPlan] = []
    seen: dict[int, int] = {}
    for product_id, start, end in sorted(segments, key=lambda s: s[1]):
        stop = min(duration_s, end if end is not None else duration_s)
        if stop - start < MIN_SEGMENT_S:
            continue
        seen[product_id] = seen.get(product_id, 0) + 1
        if stop - start > limit_s:
            at = best_window(start, stop, limit_s, order_times)
            plans.append(ClipPlan(product_id, seen[product_id], round(at, 3), round(at + limit_s, 3), True))
        else:
            plans.append(ClipPlan(product_id, seen[product_id], round(start, 3), round(stop, 3)))
    return plans


def pieces_for(plan_start: float, plan_end: float, files: Sequence[RecordingFile]) -> list[Piece]:
    """The parts of the recording files that cover [plan_start, plan_end) of the session, in each
    file's own time. Raises :class:`ClipError` when no file covers it."""
    ordered = sorted(files, key=lambda f: f.offset_s)
    pieces: list[Piece] = []
    for i, rec in enumerate(ordered):
        file_end = ordered[i + 1].offset_s if i + 1 < len(ordered) else math.inf
        lo, hi = max(plan_start, rec.offset_s), min(plan_end, file_end)
        if hi - lo > 0.05:
            pieces.append(Piece(rec.path, round(lo - rec.offset_s, 3), round(hi - rec.offset_s, 3), rec.offset_s))
    if not pieces:
        raise ClipError(N_("这一段没有录像，做不了切片"), f"no recording covers {plan_start}-{plan_end} s")
    return pieces


_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


def clip_filename(product_name: str, day: date, seq: int, aspect: str) -> str:
    """``2026-12-01_巨鹿小米_1_16x9.mp4``: the date, the product, which showing, the shape."""
    name = _UNSAFE.sub("_", product_name).strip("._") or "product"
    return f"{day.isoformat()}_{name[:40]}_{seq}_{aspect.replace(':', 'x')}.mp4"


def lowest_priority(argv: list[str]) -> list[str]:
    """``argv`` run through ``nice -n 19`` on POSIX, and in the idle I/O class (``ionice -c 3``)
    where there is ionice: the clip work must never take CPU or disk time from a live, whose
    recording is written to the same disk."""
    if sys.platform == "win32":
        return argv
    io = ["ionice", "-c", "3"] if shutil.which("ionice") else []
    return [*io, "nice", "-n", "19", *argv]


# --- ffmpeg argv as data -------------------------------------------------------------------------

BASE_ARGS = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
PROGRESS_ARGS = ["-progress", "pipe:2", "-nostats"]
MP4_ARGS = ["-movflags", "+faststart", "-f", "mp4"]
VERTICAL_VIDEO_ARGS = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                       "-profile:v", "high"]
VERTICAL_AUDIO_ARGS = ["-c:a", "aac", "-b:a", "128k"]


def copy_argv(ffmpeg: str, source: Path, start_s: float, duration_s: float, out: Path, fmt: str = "mp4") -> list[str]:
    """Stream-copy ``duration_s`` from ``start_s`` (a keyframe, in the file's time) of ``source``."""
    muxer = MP4_ARGS if fmt == "mp4" else ["-f", fmt]
    return [ffmpeg, *BASE_ARGS, *PROGRESS_ARGS, "-ss", f"{start_s:.3f}", "-i", str(source),
            "-t", f"{duration_s:.3f}", "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy",
            "-avoid_negative_ts", "make_zero", *muxer, str(out)]


def concat_argv(ffmpeg: str, list_file: Path, out: Path) -> list[str]:
    """Join stream-copied pieces listed in ``list_file`` (concat demuxer) into one MP4."""
    return [ffmpeg, *BASE_ARGS, *PROGRESS_ARGS, "-f", "concat", "-safe", "0", "-i", str(list_file),
            "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", *MP4_ARGS, str(out)]


def vertical_crop(width: int, height: int, centre_x: float = 0.5) -> tuple[int, int, int]:
    """(w, h, x) of the largest exact 9:16 crop of a ``width``×``height`` frame with even sides,
    centred on ``centre_x`` (0..1 of the width) as far as the frame allows."""
    k = min(width // 9, height // 16) & ~1
    w, h = 9 * k, 16 * k
    x = round(centre_x * width - w / 2)
    x = max(0, min(width - w, x)) & ~1
    return w, h, x


def _inside(box: Box, x: int, y: int, w: int, h: int) -> bool:
    return box.x >= x and box.y >= y and box.x + box.w <= x + w and box.y + box.h <= y + h


def price_band(card: Box, crop_y: int, crop_w: int, crop_h: int) -> tuple[Box, Box]:
    """(the band, the card in it) of a ``crop_w``×``crop_h`` vertical clip whose crop starts at row
    ``crop_y`` of the recording: the band spans the whole width from the card's top row in the
    recording to the foot of the frame; the card is scaled to the width the portrait layout gives
    it (capture/overlay.py: the safe area's, clear of the platforms' right-hand buttons), at the
    safe area's left, centred in the band."""
    top = max(0, card.y - crop_y) & ~1
    bottom = crop_h
    lay = Layout(crop_w, crop_h, portrait=True)
    w = lay.product_width
    h = min(bottom - top, round(card.h * w / card.w)) & ~1
    w = min(w, round(card.w * h / card.h)) & ~1
    return Box(0, top, crop_w, bottom - top), Box(lay.safe.x, (top + (bottom - top - h) // 2) & ~1, w, h)


def vertical_filter(size: tuple[int, int], centre_x: float = 0.5, card: Box | None = None) -> list[str]:
    """ffmpeg video filter arguments of the 9:16 crop of a ``size`` frame centred on ``centre_x``.

    ``card`` is where the recording carries the price card. When the crop leaves part or all of it
    out (a landscape recording: the card sits at the bottom left), the card's rows of the vertical
    frame become a band of the card's background (no half card shows) with the whole card,
    cropped out of the same frame and scaled, in it (:func:`price_band`). Returns ``["-vf", …]``
    or ``["-filter_complex", …]`` with the ``-map`` of the video."""
    width, height = size
    w, h, x = vertical_crop(width, height, centre_x)
    y = (height - h) // 2 & ~1
    crop = f"crop={w}:{h}:{x}:{y},setsar=1"
    if card is None or _inside(card, x, y, w, h):
        return ["-vf", crop, "-map", "0:v:0"]
    band, at = price_band(card, y, w, h)
    r, g, b, _alpha = CARD_BG  # opaque: the half card under it must not show through
    graph = ["[0:v]split=2[frame][card]",
             f"[frame]{crop},drawbox=x=0:y={band.y}:w={band.w}:h={band.h}:color=0x{r:02x}{g:02x}{b:02x}@1:t=fill[crop]",
             f"[card]crop={card.w}:{card.h}:{card.x}:{card.y},scale={at.w}:{at.h},setsar=1[price]",
             f"[crop][price]overlay={at.x}:{at.y},format=yuv420p[v]"]
    return ["-filter_complex", ";".join(graph), "-map", "[v]"]


def vertical_argv(ffmpeg: str, source: Path, skip_s: float, duration_s: float, size: tuple[int, int],
                  out: Path, centre_x: float = 0.5, card: Box | None = None) -> list[str]:
    """Re-encode a 9:16 crop of ``source`` (see :func:`vertical_filter`) from ``skip_s``
    (frame-exact) for ``duration_s``."""
    return [ffmpeg, *BASE_ARGS, *PROGRESS_ARGS, "-ss", f"{skip_s:.3f}", "-i", str(source),
            "-t", f"{duration_s:.3f}", *vertical_filter(size, centre_x, card), "-map", "0:a:0?",
            *VERTICAL_VIDEO_ARGS, *VERTICAL_AUDIO_ARGS, *MP4_ARGS, str(out)]


def keyframe_probe_argv(ffprobe: str, source: Path, at_s: float) -> list[str]:
    """ffprobe listing video packets (time, flags) from a little before ``at_s`` to just after."""
    lo = max(0.0, at_s - KEYFRAME_INTERVAL_S - 2.0)
    return [ffprobe, "-v", "error", "-select_streams", "v:0", "-read_intervals", f"{lo:.3f}%{at_s + 0.1:.3f}",
            "-show_entries", "packet=pts_time,flags:stream=width,height:format=start_time",
            "-of", "json", str(source)]


# --- running ffmpeg with a deadline ---------------------------------------------------------------

@dataclass
class Control:
    """How a running cut is steered: ``cancel`` kills it; while ``paused`` is set the ffmpeg is
    stopped (SIGSTOP) and its deadline does not run."""

    cancel: threading.Event = field(default_factory=threading.Event)
    paused: threading.Event = field(default_factory=threading.Event)


def wait_while_paused(control: Control, name: str) -> None:
    """Return once ``control`` is not paused (a live is on: no new ffmpeg or ffprobe starts until
    it ends). Raises :class:`Cancelled` when cancelled meanwhile."""
    while control.paused.is_set():
        if control.cancel.wait(0.1):
            raise Cancelled(N_("切片已取消"), name)


def run_ffmpeg(argv: list[str], timeout_s: float, control: Control, name: str,
               on_progress: Callable[[float], None] | None = None) -> None:
    """Run one ffmpeg (at the lowest priority) to its end. ``on_progress`` gets seconds written.

    Raises :class:`Cancelled` when ``control.cancel`` is set, :class:`ClipError` when it fails or
    runs past ``timeout_s`` of unpaused time (killed in both cases).
    """
    wait_while_paused(control, name)
    proc = subprocess.Popen(lowest_priority(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    assert proc.stderr is not None

    def progress(block: dict[str, str]) -> None:
        done = progress_number(block.get("out_time_us"))
        if done is not None and on_progress is not None:
            on_progress(max(0.0, done / 1e6))

    pump = threading.Thread(target=pump_stderr, args=(proc.stderr, name, [], progress), name=f"{name}-stderr",
                            daemon=True)
    pump.start()
    budget, stopped = timeout_s, False
    last = time.monotonic()
    try:
        while proc.poll() is None:
            if control.paused.is_set() != stopped and sys.platform != "win32":
                stopped = control.paused.is_set()
                proc.send_signal(signal.SIGSTOP if stopped else signal.SIGCONT)
            if control.cancel.wait(0.05):
                raise Cancelled(N_("切片已取消"), name)
            now = time.monotonic()
            if not stopped:
                budget -= now - last
            last = now
            if budget <= 0:
                raise ClipError(N_("切片超时，请稍后再试"), f"{name}: over {timeout_s:.0f} s")
    except ClipError:
        kill(proc, name)
        if stopped:
            proc.send_signal(signal.SIGCONT)
        proc.wait(5)
        raise
    finally:
        pump.join(5)
    if proc.returncode != 0:
        raise ClipError(N_("切片失败：录像文件读不了"), f"{name}: ffmpeg exit {proc.returncode}")


def probe_keyframe(ffprobe: str, source: Path, at_s: float, timeout_s: float = 60.0,
                   control: Control | None = None) -> tuple[float, tuple[int, int]]:
    """(the last keyframe at or before ``at_s`` in the file's time, the video size), once
    ``control`` is not paused. Raises :class:`ClipError` when ffprobe fails or finds no video,
    :class:`Cancelled` when cancelled while waiting."""
    if control is not None:
        wait_while_paused(control, f"probe {source.name}")
    try:
        result = subprocess.run(lowest_priority(keyframe_probe_argv(ffprobe, source, at_s)), capture_output=True,
                                timeout=timeout_s, check=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        raise ClipError(N_("切片失败：录像文件读不了"), f"ffprobe {source}: {exc}") from exc
    data = json.loads(result.stdout or b"{}")
    streams = data.get("streams") or [{}]
    size = (int(streams[0].get("width") or 0), int(streams[0].get("height") or 0))
    start = float(data.get("format", {}).get("start_time") or 0.0)
    keys = [float(p["pts_time"]) - start for p in data.get("packets", [])
            if "K" in p.get("flags", "") and p.get("pts_time") not in (None, "N/A")]
    before = [k for k in keys if k <= at_s + 1e-3]
    if not size[0] or not (before or keys):
        raise ClipError(N_("切片失败：录像文件读不了"), f"no video keyframe near {at_s} s in {source}")
    return round(max(before) if before else min(keys), 3), size


@dataclass(frozen=True)
class CutResult:
    path: Path
    start_s: float  # where the clip really starts, in session seconds
    end_s: float
    size_bytes: int


def _deadline(duration_s: float) -> float:
    return 60.0 + duration_s / MIN_SPEED


def cut_wide(ffmpeg: str, ffprobe: str, plan: ClipPlan, files: Sequence[RecordingFile], out: Path,
             control: Control, on_progress: Callable[[float], None] | None = None) -> CutResult:
    """The 16:9 stream copy of ``plan`` into ``out``, from the keyframe at or before its start
    (so up to :data:`KEYFRAME_INTERVAL_S` early); joined when it spans recording files. Written
    to a temporary name and renamed at the end, so a half-made file never has the clip's name.
    Raises :class:`ClipError` / :class:`Cancelled`."""
    pieces = pieces_for(plan.start_s, plan.end_s, files)
    first = pieces[0]
    key, _size = probe_keyframe(ffprobe, first.path, first.start_s, control=control)
    pieces[0] = Piece(first.path, key, first.end_s, first.offset_s)
    real_start = round(first.offset_s + key, 3)
    total = sum(p.end_s - p.start_s for p in pieces)
    tmp = out.with_name(out.name + ".part")
    done = 0.0

    def report(seconds: float) -> None:
        if on_progress is not None:
            on_progress(min(1.0, (done + seconds) / total))

    made: list[Path] = [tmp]  # every file this cut writes, removed again if it does not finish
    try:
        if len(pieces) == 1:
            run_ffmpeg(copy_argv(ffmpeg, first.path, key, first.end_s - key, tmp), _deadline(total), control,
                       f"clip {out.name}", report)
        else:
            parts: list[Path] = []
            for i, piece in enumerate(pieces):
                part = out.with_name(f"{out.name}.{i}.mkv")
                made.append(part)
                run_ffmpeg(copy_argv(ffmpeg, piece.path, piece.start_s, piece.end_s - piece.start_s, part, "matroska"),
                           _deadline(piece.end_s - piece.start_s), control, f"clip {out.name} piece {i}", report)
                done += piece.end_s - piece.start_s
                parts.append(part)
            listing = out.with_name(out.name + ".txt")
            made.append(listing)
            listing.write_text("".join(f"file '{p.resolve()}'\n" for p in parts), encoding="utf-8")
            run_ffmpeg(concat_argv(ffmpeg, listing, tmp), _deadline(total), control, f"clip {out.name} join")
            for leftover in (*parts, listing):
                leftover.unlink(missing_ok=True)
    except BaseException:  # cancelled, failed or timed out: no half-made file is left behind
        for leftover in made:
            leftover.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    return CutResult(out, real_start, plan.end_s, out.stat().st_size)


def cut_vertical(ffmpeg: str, ffprobe: str, plan: ClipPlan, wide: CutResult, out: Path, control: Control,
                 on_progress: Callable[[float], None] | None = None, centre_x: float | None = None,
                 card: OverlayScene | None = None) -> CutResult:
    """The 9:16 re-encode of ``plan`` from its 16:9 clip, starting exactly at the plan's start,
    centred on ``centre_x`` (where recognition found the product, 0..1 of the width; the centre
    when unknown), with the price card of ``card`` (the product's scene) kept in the picture.
    Raises :class:`ClipError` / :class:`Cancelled`."""
    _key, size = probe_keyframe(ffprobe, wide.path, 0.0, control=control)
    card_box = product_card_box(card, *size) if card is not None else None
    centre = 0.5 if centre_x is None else min(1.0, max(0.0, centre_x))
    skip = max(0.0, plan.start_s - wide.start_s)
    duration = plan.end_s - plan.start_s
    tmp = out.with_name(out.name + ".part")

    def report(seconds: float) -> None:
        if on_progress is not None:
            on_progress(min(1.0, seconds / duration))

    try:
        run_ffmpeg(vertical_argv(ffmpeg, wide.path, skip, duration, size, tmp, centre, card_box), _deadline(duration * 3),
                   control, f"clip {out.name}", report)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    return CutResult(out, plan.start_s, plan.end_s, out.stat().st_size)
