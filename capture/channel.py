"""The local channel between the web server and a broadcast worker: JSON lines over localhost TCP.

One request per connection: the client connects, sends one line ``{"token", "op", ...}`` and
reads one line back, ``{"ok": true, ...}`` or ``{"ok": false, "error": {"kind", "zh", "en"}}``.
Streams (the preview) answer with length-prefixed binary frames instead and stay open. A
connection per request keeps both sides stateless, so a restarted web server simply talks to a
worker it did not start. Every connect, send and read has a deadline; a worker that misses one is
a :class:`ChannelError`, and the caller decides to kill it. A localhost socket rather than a pipe
because it also works on Windows and does not tie the worker's life to the web server's.

The token (random, in a 0600 file) keeps other local programs from driving the broadcast.
"""
from __future__ import annotations

import hmac
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from capture.errors import N_, CaptureError

log = logging.getLogger(__name__)

MAX_LINE = 1 << 20
MAX_FRAME = 8 << 20
CONNECT_TIMEOUT_S = 1.0
Handler = Callable[[dict[str, Any]], dict[str, Any]]
StreamHandler = Callable[[dict[str, Any]], Iterator[bytes]]


class ChannelError(CaptureError):
    """The worker did not answer in time, or not at all (it is gone, stuck or busy)."""


class WorkerRefused(CaptureError):
    """The worker answered with an error of its own (``kind`` names the CaptureError class)."""

    def __init__(self, zh: str, en: str, kind: str = "CaptureError") -> None:
        super().__init__(zh, en)
        self.kind = kind


def _read_line(sock: socket.socket, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no answer before the deadline")
        sock.settimeout(remaining)
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a whole line")
        chunks.append(chunk)
        size += len(chunk)
        if b"\n" in chunk:
            return b"".join(chunks).split(b"\n", 1)[0]
        if size > MAX_LINE:
            raise ValueError("line too long")


def _read_exactly(sock: socket.socket, size: int, deadline: float) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data before the deadline")
        sock.settimeout(remaining)
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise ConnectionError("closed mid-frame")
        buf += chunk
    return bytes(buf)


def _connect(port: int, token: str, op: str, payload: dict[str, Any], deadline: float) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=max(0.05, min(CONNECT_TIMEOUT_S,
                                                                            deadline - time.monotonic())))
    try:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        sock.sendall(json.dumps({"token": token, "op": op, **payload}, ensure_ascii=False).encode() + b"\n")
    except BaseException:
        sock.close()
        raise
    return sock


def request(port: int, token: str, op: str, payload: dict[str, Any] | None = None, *,
            timeout: float = 2.0) -> dict[str, Any]:
    """Send one request and return the worker's answer within ``timeout`` seconds.

    Raises :class:`ChannelError` when the worker cannot be reached or does not answer in time,
    :class:`WorkerRefused` when it answers with an error.
    """
    deadline = time.monotonic() + timeout
    try:
        with _connect(port, token, op, payload or {}, deadline) as sock:
            answer = json.loads(_read_line(sock, deadline))
    except (OSError, ValueError) as exc:
        raise ChannelError(N_("直播程序没有响应"), f"worker channel {op}: {exc}") from exc
    if not answer.get("ok"):
        error = answer.get("error") or {}
        raise WorkerRefused(str(error.get("zh", N_("直播程序出错"))), str(error.get("en", "worker error")),
                            str(error.get("kind", "CaptureError")))
    return answer


def stream(port: int, token: str, op: str, payload: dict[str, Any] | None = None, *,
           frame_timeout: float = 3.0) -> Iterator[bytes]:
    """Binary frames from a streaming op until the worker ends it or a frame is later than
    ``frame_timeout``; closing the iterator closes the connection."""
    try:
        sock = _connect(port, token, op, payload or {}, time.monotonic() + CONNECT_TIMEOUT_S)
    except OSError as exc:
        raise ChannelError(N_("直播程序没有响应"), f"worker channel {op}: {exc}") from exc
    with sock:
        while True:
            try:
                deadline = time.monotonic() + frame_timeout
                (size,) = struct.unpack(">I", _read_exactly(sock, 4, deadline))
                if size == 0 or size > MAX_FRAME:
                    return
                yield _read_exactly(sock, size, deadline)
            except (OSError, ValueError) as exc:
                log.debug("channel stream %s ended: %s", op, exc)
                return


class ChannelServer:
    """The worker's side: answers requests on 127.0.0.1 (a port the OS picks), one short thread
    per connection. Handlers raise :class:`CaptureError` to answer with an error."""

    def __init__(self, token: str, handlers: dict[str, Handler], streams: dict[str, StreamHandler]) -> None:
        self.token = token
        self.handlers = handlers
        self.streams = streams
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.25)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._answering = 0  # requests being answered now: close() lets them finish
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._accept, name="cunbo-channel", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 1.0) -> None:
        """Stop accepting and give answers being sent up to ``timeout`` to get out (open
        streams end at their next frame)."""
        self._stop.set()
        self._thread.join(timeout)
        self._listener.close()
        with self._idle:
            self._idle.wait_for(lambda: self._answering == 0, timeout)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="cunbo-channel-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                message = json.loads(_read_line(conn, time.monotonic() + 5.0))
            except (OSError, ValueError) as exc:
                log.debug("channel: unreadable request: %s", exc)
                return
            if not isinstance(message, dict) or not hmac.compare_digest(str(message.get("token", "")), self.token):
                log.warning("channel: request with a wrong token refused")
                return
            op = str(message.get("op", ""))
            conn.settimeout(10.0)
            if op in self.streams:
                self._serve_stream(conn, op, message)
                return
            with self._idle:
                self._answering += 1
            try:
                self._answer(conn, op, message)
            finally:
                with self._idle:
                    self._answering -= 1
                    self._idle.notify_all()

    def _answer(self, conn: socket.socket, op: str, message: dict[str, Any]) -> None:
        handler = self.handlers.get(op)
        try:
            if handler is None:
                raise CaptureError(N_("直播程序不认识这个操作"), f"unknown op {op!r}")
            answer: dict[str, Any] = {"ok": True, **handler(message)}
        except CaptureError as exc:
            answer = {"ok": False, "error": {"kind": type(exc).__name__, "zh": exc.zh, "en": exc.en}}
        except Exception as exc:  # a bug in one handler must answer, not leave the caller waiting
            log.exception("channel handler %s failed", op)
            answer = {"ok": False, "error": {"kind": "CaptureError", "zh": N_("直播程序出错"), "en": repr(exc)}}
        try:
            conn.sendall(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
        except OSError as exc:
            log.debug("channel: caller left before the answer to %s: %s", op, exc)

    def _serve_stream(self, conn: socket.socket, op: str, message: dict[str, Any]) -> None:
        frames = self.streams[op](message)
        try:
            for frame in frames:
                if self._stop.is_set():
                    break
                conn.sendall(struct.pack(">I", len(frame)) + frame)
        except OSError as exc:
            log.debug("channel stream %s: viewer left: %s", op, exc)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
