"""Devices and pre-flight probes for the live console's checklist.

Each ``check_*`` does the real thing (gets a frame, hears the microphone, completes an RTMP
handshake, measures free space) and returns a :class:`CheckResult`; none of them raises for a
failed check — a failure is a result whose message says what to do.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cv2

from capture.audio import MicrophoneInfo, dbfs_levels, make_audio_source
from capture.audio import list_microphones as _list_microphones
from capture.errors import N_, CaptureError
from capture.redact import mask_url
from capture.sources import make_video_source, parse_camera_spec, quiet_opencv

__all__ = [
    "CameraInfo", "CheckResult", "MicrophoneInfo", "check_camera", "check_disk", "check_microphone",
    "check_rtmp", "list_cameras", "list_microphones", "mask_url",
]

RTMP_HANDSHAKE_SIZE = 1536


@dataclass(frozen=True)
class CheckResult:
    """One probe's outcome: ``ok``, a message for people, and figures for the page.

    ``message`` is a Chinese message id whose ``%(name)s`` slots ``params`` fill (the app shows it
    in the person's language); ``detail`` is the engineer's English for the log, never shown.
    """

    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    detail: str = ""

    @property
    def text(self) -> str:
        """The message in Chinese, filled."""
        return self.message % self.params if self.params else self.message


@dataclass(frozen=True)
class CameraInfo:
    """A camera the console can offer; ``spec`` is what settings ``video`` takes."""

    spec: str
    label: str
    path: str | None = None


def list_cameras() -> list[CameraInfo]:
    """Cameras present now. On Linux from /dev/video* (no device is opened: opening is slow and
    can disturb a camera in use); elsewhere by trying indices 0–3."""
    if sys.platform.startswith("linux"):
        found = []
        for node in sorted(Path("/dev").glob("video*"), key=lambda p: int(re.sub(r"\D", "", p.name) or 0)):
            sysfs = Path("/sys/class/video4linux") / node.name
            # A webcam exposes a metadata node too (index 1); only index 0 gives pictures.
            if (sysfs / "index").is_file() and (sysfs / "index").read_text().strip() != "0":
                continue
            name = (sysfs / "name").read_text().strip() if (sysfs / "name").is_file() else node.name
            number = re.sub(r"\D", "", node.name)
            found.append(CameraInfo(spec=number or str(node), label=f"{name} ({node})", path=str(node)))
        return found
    quiet_opencv()
    cameras = []
    for index in range(4):
        cap = cv2.VideoCapture(index)
        if cap.isOpened():
            cameras.append(CameraInfo(spec=str(index), label=f"摄像头 {index}"))
        cap.release()
    return cameras


def list_microphones() -> list[MicrophoneInfo]:
    """Input devices (default first); [] without PyAudio or a sound card."""
    return _list_microphones()


def check_camera(spec: str, width: int = 640, height: int = 360) -> CheckResult:
    """Open the video source and get one real frame."""
    source = make_video_source(spec.strip(), width, height, 30)
    try:
        started = time.monotonic()
        source.open()
        frame = source.read()
    except CaptureError as exc:
        return CheckResult(False, exc.msgid, params=exc.params, detail=exc.en)
    finally:
        source.close()
    if frame is None:
        return CheckResult(False, N_("画面读不出来"), detail=f"no frame from {source.label}")
    h, w = frame.shape[:2]
    shown = N_("摄像头正常，有画面（%(width)d×%(height)d）") if parse_camera_spec(spec) is not None \
        else N_("画面来源正常，有画面（%(width)d×%(height)d）")
    return CheckResult(True, shown, {"width": w, "height": h, "open_s": round(time.monotonic() - started, 2)},
                       params={"width": w, "height": h})


def check_microphone(spec: str, seconds: float = 1.0) -> CheckResult:
    """Listen for ``seconds`` and report the level; ok when sound arrives and the level moves."""
    spec = spec.strip()
    if spec.lower() == "none":
        return CheckResult(True, N_("不用麦克风：直播里是静音"), {"level_dbfs": None})
    source = make_audio_source(spec, 48000, loop=False)
    try:
        source.open()
    except CaptureError as exc:
        return CheckResult(False, exc.msgid, params=exc.params, detail=exc.en)
    levels: list[float] = []
    peaks: list[float] = []
    received = 0
    stop = threading.Event()
    try:
        chunk = int(source.rate * 0.05)
        deadline = time.monotonic() + seconds
        # Paced by our clock, 50 ms at a time: a device may hand over seconds at once.
        while not stop.wait(0.05) and time.monotonic() < deadline:
            data = source.read(chunk)
            if data:
                received += len(data)
                rms, peak = dbfs_levels(data)
                levels.append(rms)
                peaks.append(peak)
    finally:
        source.close()
    if not received:
        return CheckResult(False, N_("麦克风没有声音传进来，请检查是否插好、是否静音"), detail="no audio received")
    loudest, spread = max(peaks), (max(levels) - min(levels)) if levels else 0.0
    details = {"level_dbfs": round(sum(levels) / len(levels), 1), "peak_dbfs": loudest, "spread_db": round(spread, 1)}
    if loudest <= -90 or (spread < 0.5 and loudest < -60):
        return CheckResult(False, N_("麦克风几乎没有声音，请靠近说话或调大音量"), details, detail="level does not move")
    return CheckResult(True, N_("麦克风正常，音量 %(level)s dBFS"), details, params={"level": details["level_dbfs"]})


def check_rtmp(url: str, timeout: float = 3.0) -> CheckResult:
    """Connect to the push server and complete the RTMP handshake (C0/C1 → S0/S1 → C2).

    Needs no ffmpeg and publishes nothing; the message names the server with the key masked.
    """
    masked = mask_url(url)
    try:
        parts = urlsplit(url)
        host, scheme = parts.hostname, parts.scheme.lower()
        port = parts.port or (443 if scheme == "rtmps" else 1935)
    except ValueError:
        return CheckResult(False, N_("推流地址格式不对：%(server)s"), params={"server": masked})
    if scheme not in ("rtmp", "rtmps") or not host:
        return CheckResult(False, N_("推流地址要以 rtmp:// 或 rtmps:// 开头：%(server)s"), params={"server": masked})
    started = time.monotonic()
    try:
        sock: socket.socket = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror:
        return CheckResult(False, N_("找不到推流服务器 %(host)s，请检查网络或地址"), params={"host": host},
                           detail=f"cannot resolve {host}")
    except ConnectionRefusedError:
        return CheckResult(False, N_("推流服务器 %(host)s 拒绝连接"), params={"host": host},
                           detail=f"connection refused by {host}:{port}")
    except OSError as exc:
        return CheckResult(False, N_("连不上推流服务器 %(host)s，网络可能不通"), params={"host": host},
                           detail=f"{host}:{port}: {exc.strerror or exc}")
    try:
        if scheme == "rtmps":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        sock.settimeout(timeout)
        c1 = int(time.time()).to_bytes(4, "big") + bytes(4) + os.urandom(RTMP_HANDSHAKE_SIZE - 8)
        sock.sendall(b"\x03" + c1)
        s0 = _recv_exactly(sock, 1)[0]
        if s0 != 3:  # e.g. an HTTP server answering on that port
            return CheckResult(False, N_("%(host)s 不是推流服务器"), params={"host": host},
                               detail=f"unexpected first byte {s0} from {host}:{port}")
        sock.sendall(_recv_exactly(sock, RTMP_HANDSHAKE_SIZE))  # C2 echoes S1
        _recv_exactly(sock, RTMP_HANDSHAKE_SIZE)  # S2
    except ssl.SSLError as exc:
        return CheckResult(False, N_("和推流服务器 %(host)s 的加密连接失败"), params={"host": host},
                           detail=f"TLS error with {host}:{port}: {exc.reason}")
    except (OSError, EOFError) as exc:
        return CheckResult(False, N_("推流服务器 %(host)s 没有正常应答"), params={"host": host},
                           detail=f"RTMP handshake with {host}:{port} failed: {exc}")
    finally:
        sock.close()
    ms = round((time.monotonic() - started) * 1000)
    return CheckResult(True, N_("推流服务器可以连上（%(ms)d 毫秒）"), {"server": masked, "handshake_ms": ms},
                       params={"ms": ms})


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read exactly ``size`` bytes; raises EOFError if the peer closes first, OSError on timeout."""
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise EOFError("connection closed during handshake")
        buf.extend(chunk)
    return bytes(buf)


def check_disk(path: Path | str, need_mb: int) -> CheckResult:
    """Free space where recordings go (the nearest existing parent of ``path``)."""
    target = Path(path).resolve()
    while not target.exists() and target != target.parent:
        target = target.parent
    try:
        usage = shutil.disk_usage(target)
    except OSError as exc:
        return CheckResult(False, N_("无法查看磁盘空间"), detail=str(exc))
    free_mb = usage.free // (1024 * 1024)
    details = {"free_mb": free_mb, "need_mb": need_mb}
    hours = free_mb / (2628 * 3600 / 8 / 1024)  # MB per hour at the 720p preset's 2.6 Mbps
    if free_mb < need_mb:
        return CheckResult(False, N_("磁盘空间不够：只剩 %(free_mb)d MB，至少要 %(need_mb)d MB，请删掉旧录像"), details,
                           params=details)
    return CheckResult(True, N_("磁盘空间够用：剩 %(free_gb).1f GB（约 %(hours)d 小时录像）"), details,
                       params={"free_gb": free_mb / 1024, "hours": math.floor(hours)})
