"""Sinks: the encoder (recording + MPEG-TS), one relay per destination, and the MJPEG preview.

Why a relay per destination instead of ``tee`` with ``onfail=ignore``: a tee slave that fails
never comes back inside that process. So the encoder writes the recording and an MPEG-TS copy of
the encoded stream on stdout; a fan-out hands that copy to one ``ffmpeg -c copy`` per destination.
Each relay is its own process with its own bounded queue, restarted with backoff when its server
goes away, and a relay that cannot keep up is killed and restarted rather than slowing the
encoder. MPEG-TS because it resynchronises anywhere: a restarted relay joins at the next PAT
(packet id 0, sent every 100 ms and before every keyframe) and ffmpeg drops packets until the
next keyframe. Relays add about 1 % of a core each (no re-encode).

Every sink shares ``start() / write() / stop()`` and reports failure through a callback; nothing
raises into the frame loop.
"""
from __future__ import annotations

import logging
import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import IO

import cv2
import numpy as np

from capture.audio import SAMPLE_BYTES, AudioMeter, AudioSource
from capture.errors import EncoderError
from capture.ffmpeg import encoder_argv, parse_progress_line, progress_number, relay_argv
from capture.frames import i420_to_bgr
from capture.redact import mask_url, redact

log = logging.getLogger(__name__)

TS_PACKET = 188
AUDIO_MAX_LAG_S = 0.2  # a microphone this far behind the video is padded with silence


def stop_process(proc: subprocess.Popen[bytes], timeout: float, name: str) -> int | None:
    """close stdin → wait(timeout) → terminate() → kill(): give ffmpeg the chance to finish its
    file, but never hang. Returns the exit code (None only if even kill did not reap it)."""
    if proc.stdin is not None and not proc.stdin.closed:
        try:
            proc.stdin.close()
        except OSError as exc:  # broken pipe when ffmpeg already left: nothing more to flush
            log.debug("%s: closing stdin: %s", name, exc)
    for action in (None, proc.terminate, proc.kill):
        if action is not None:
            log.warning("%s did not exit in %.1f s; %s", name, timeout, action.__name__)
            action()
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timeout = 2.0
    return proc.poll()


def _pump_stderr(stream: IO[bytes], name: str, secrets: list[str], on_progress: Callable[[dict[str, str]], None]) -> None:
    """Read ffmpeg's stderr: ``-progress`` blocks go to ``on_progress``, other lines to the log
    with every stream key masked (ffmpeg repeats the output URL in its errors)."""
    block: dict[str, str] = {}
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip()
        parsed = parse_progress_line(line)
        if parsed is None:
            if line:
                log.warning("%s: %s", name, redact(line, secrets))
            continue
        key, value = parsed
        block[key] = value
        if key == "progress":
            on_progress(block)
            block = {}
    stream.close()


class EncoderSink:
    """The one ffmpeg that encodes: I420 frames in (``write``), PCM in over localhost TCP,
    recording + MPEG-TS out. ``on_failure(reason)`` is called once if it dies or stops reading.
    """

    def __init__(
        self,
        ffmpeg: str,
        *,
        preset: str,
        size: tuple[int, int],
        fps: int,
        audio: AudioSource,
        meter: AudioMeter,
        recording: Path | None,
        queue_frames: int,
        on_ts: Callable[[bytes], None],
        on_failure: Callable[[str], None],
    ) -> None:
        self.ffmpeg, self.preset, self.size, self.fps = ffmpeg, preset, size, fps
        self.audio, self.meter, self.recording = audio, meter, recording
        self.on_ts, self.on_failure = on_ts, on_failure
        self.frames_written = 0
        self.progress: dict[str, str] = {}
        self.busy_since: float | None = None  # monotonic start of the pipe write in progress
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=queue_frames)
        self._stop = threading.Event()
        self._failed = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def failed(self) -> bool:
        return self._failed.is_set()

    def start(self) -> None:
        """Start ffmpeg and the feeding threads. Raises :class:`EncoderError` if it cannot start."""
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.2)
        self._listener = listener
        width, height = self.size
        argv = encoder_argv(
            self.ffmpeg, preset=self.preset, width=width, height=height, audio_port=listener.getsockname()[1],
            audio_rate=self.audio.rate, audio_channels=self.audio.channels, recording=self.recording,
        )
        log.info("encoder: %s", " ".join(argv))
        try:
            self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            listener.close()
            raise EncoderError("编码程序 ffmpeg 启动失败", f"cannot start ffmpeg: {exc}") from exc
        for target, name in ((self._write_video, "video"), (self._feed_audio, "audio"),
                             (self._read_ts, "ts"), (self._read_stderr, "stderr")):
            thread = threading.Thread(target=target, name=f"cunbo-encoder-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def write(self, frame: np.ndarray) -> bool:
        """Queue one I420 frame without blocking; False when the queue is full (encoder behind)."""
        if self._failed.is_set() or self._stop.is_set():
            return False
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            return False
        return True

    def stop(self, timeout: float = 10.0) -> int | None:
        """Finish: drain queued frames, close stdin (ffmpeg finalises the file), then escalate.
        Returns ffmpeg's exit code."""
        if self._stop.is_set():  # already stopped (after a failure): just report
            return self._proc.poll() if self._proc else None
        self._stop.set()
        writer_alive = bool(self._threads) and self._threads[0].is_alive()
        if writer_alive:
            try:
                self._queue.put(None, timeout=min(timeout, 2.0))
            except queue.Full:  # writer stuck in a pipe write: the process is killed below
                log.warning("encoder queue still full at stop")
        deadline = time.monotonic() + timeout
        if writer_alive:
            self._threads[0].join(max(0.1, deadline - time.monotonic()))
        code = None
        if self._proc is not None:
            code = stop_process(self._proc, max(0.5, deadline - time.monotonic()), "encoder")
        if self._listener is not None:
            self._listener.close()
        for thread in self._threads:
            thread.join(2.0)
        return code

    def abort(self, reason: str) -> None:
        """Declare the encoder failed and kill it (it stalled): the supervisor restarts it."""
        self._fail(reason)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    def _fail(self, reason: str) -> None:
        if not self._stop.is_set() and not self._failed.is_set():
            self._failed.set()
            self.on_failure(reason)

    def _write_video(self) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        stdin = self._proc.stdin
        while True:
            frame = self._queue.get()
            if frame is None:
                break
            self.busy_since = time.monotonic()
            try:
                stdin.write(frame.data.cast("B"))
                stdin.flush()
            except (OSError, ValueError) as exc:  # ffmpeg died or closed its input
                self._fail(f"encoder stopped reading frames: {exc}")
                break
            self.busy_since = None
            self.frames_written += 1
        try:
            stdin.close()
        except OSError as exc:
            log.debug("encoder stdin close: %s", exc)

    def _feed_audio(self) -> None:
        """Send as many samples as the video written so far calls for: A/V sync by counting."""
        assert self._listener is not None
        conn: socket.socket | None = None
        while conn is None and not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                if self._proc is not None and self._proc.poll() is not None:
                    return
            except OSError:  # listener closed at stop
                return
        if conn is None:
            return
        rate, channels = self.audio.rate, self.audio.channels
        frame_bytes = SAMPLE_BYTES * channels
        max_lag = int(AUDIO_MAX_LAG_S * rate)
        sent = 0
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while not self._stop.wait(0.01):
                deficit = self.frames_written * rate // self.fps - sent
                if deficit <= 0:
                    continue
                data = self.audio.read(deficit)
                got = len(data) // frame_bytes
                if got:
                    self.meter.update(data, time.monotonic())
                if deficit - got > max_lag:  # the microphone stalled: keep the track going
                    data += bytes((deficit - got - max_lag) * frame_bytes)
                try:
                    conn.sendall(data)
                except OSError as exc:
                    self._fail(f"encoder audio input closed: {exc}")
                    return
                sent += len(data) // frame_bytes

    def _read_ts(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            self.on_ts(data)
        self._proc.stdout.close()
        code = self._proc.wait()
        self._fail(f"encoder exited with code {code}")

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        _pump_stderr(self._proc.stderr, "encoder", [], self._on_progress)

    def _on_progress(self, block: dict[str, str]) -> None:
        self.progress = block


class TsFanout:
    """Splits the encoder's MPEG-TS into whole 188-byte packets and offers them to each relay."""

    def __init__(self) -> None:
        self.relays: list[Relay] = []
        self.bytes_total = 0  # what the destinations are sent: the stream's real bit rate
        self._rest = b""

    def feed(self, data: bytes) -> None:
        """Called from the encoder's stdout thread."""
        self.bytes_total += len(data)
        data = self._rest + data
        cut = len(data) - len(data) % TS_PACKET
        self._rest = data[cut:]
        if cut:
            chunk = data[:cut]
            for relay in self.relays:
                relay.feed(chunk)

    def reset(self) -> None:
        """A new encoder starts a new stream: drop the partial packet of the old one."""
        self._rest = b""


def pat_offset(chunk: bytes) -> int | None:
    """Offset of the first PAT packet (PID 0, payload start) in packet-aligned ``chunk``."""
    for i in range(0, len(chunk) - TS_PACKET + 1, TS_PACKET):
        if chunk[i] == 0x47 and chunk[i + 1] & 0x40 and (chunk[i + 1] & 0x1F) == 0 and chunk[i + 2] == 0:
            return i
    return None


class Relay:
    """One destination: an ``ffmpeg -c copy`` to RTMP, restarted with backoff.

    States: "connecting" (process started), "live" (data reached the server), "retrying"
    (waiting before the next attempt), "failed" (gave up after max_failures; 0 = never).
    ``on_state(relay, state)`` is called on each change. The URL is only ever logged masked.
    """

    QUEUE_CHUNKS = 64  # ~2 MB at 32 KB chunks: several seconds of a 2.5 Mbps stream

    def __init__(
        self,
        ffmpeg: str,
        url: str,
        *,
        backoff: tuple[float, float],
        max_failures: int,
        on_state: Callable[[Relay, str], None],
    ) -> None:
        self.ffmpeg, self.url, self.masked = ffmpeg, url, mask_url(url)
        self.backoff, self.max_failures, self.on_state = backoff, max_failures, on_state
        self.state = "connecting"
        self.failures = 0
        self.attempts = 0
        self.progress: dict[str, str] = {}
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=self.QUEUE_CHUNKS)
        self._proc: subprocess.Popen[bytes] | None = None
        self._synced = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cunbo-relay", daemon=True)

    def start(self) -> None:
        """Start the relay's supervising thread (the first attempt starts at once)."""
        self._thread.start()

    def feed(self, chunk: bytes) -> None:
        """Offer packet-aligned TS bytes; never blocks. A relay that cannot keep up is restarted."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        if not self._synced:
            offset = pat_offset(chunk)
            if offset is None:
                return
            chunk, self._synced = chunk[offset:], True
        try:
            self._queue.put_nowait(chunk)
        except queue.Full:
            log.warning("destination %s is not keeping up; reconnecting it", self.masked)
            self._kill(proc)

    def restart(self) -> None:
        """Reconnect now (the encoder was restarted: a new stream begins)."""
        proc = self._proc
        if proc is not None:
            self._kill(proc)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the relay and its process."""
        self._stop.set()
        proc = self._proc
        if proc is not None:
            self._kill(proc)
        self._thread.join(timeout)

    def _kill(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            proc.kill()
        except ProcessLookupError:
            log.debug("relay for %s already gone", self.masked)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            log.info("destination %s: %s", self.masked, state)
            self.on_state(self, state)

    def _on_progress(self, block: dict[str, str]) -> None:
        self.progress = block
        if (progress_number(block.get("total_size")) or 0) > 0 or (progress_number(block.get("out_time_us")) or 0) > 0:
            if self.state != "live":
                self.failures = 0
                self._set_state("live")

    def _run(self) -> None:
        wait = self.backoff[0]
        while not self._stop.is_set():
            self.attempts += 1
            self._set_state("connecting")
            code = self._attempt()
            if self._stop.is_set():
                break
            if self.state == "live":
                wait = self.backoff[0]  # it worked for a while: start the backoff over
            self.failures += 1
            log.warning("destination %s ended (exit %s, failure %d); retrying in %.1f s",
                        self.masked, code, self.failures, wait)
            if self.max_failures and self.failures >= self.max_failures:
                self._set_state("failed")
                break
            self._set_state("retrying")
            if self._stop.wait(wait):
                break
            wait = min(self.backoff[1], wait * 2)

    def _attempt(self) -> int | None:
        """Run one relay process until it exits or we stop; returns its exit code."""
        while not self._queue.empty():  # stale packets from a previous attempt
            self._queue.get_nowait()
        self._synced = False
        try:
            proc = subprocess.Popen(relay_argv(self.ffmpeg, self.url), stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as exc:
            log.error("destination %s: cannot start ffmpeg: %s", self.masked, exc)
            return None
        assert proc.stdin is not None and proc.stderr is not None
        reader = threading.Thread(target=_pump_stderr, name="cunbo-relay-stderr", daemon=True,
                                  args=(proc.stderr, f"destination {self.masked}", [self.url], self._on_progress))
        reader.start()
        self._proc = proc
        while not self._stop.is_set() and proc.poll() is None:
            try:
                chunk = self._queue.get(timeout=0.25)
            except queue.Empty:
                continue
            try:
                proc.stdin.write(chunk)
                proc.stdin.flush()
            except (OSError, ValueError):  # the relay died (server gone): the loop sees poll()
                break
        code = stop_process(proc, 2.0, f"relay {self.masked}")
        reader.join(2.0)
        return code


class PreviewHub:
    """The MJPEG preview: JPEG-encodes on its own thread, and only while someone watches."""

    def __init__(self, fps: int, width: int) -> None:
        self.interval = 1.0 / fps
        self.width = width
        self.subscribers = 0
        self.encodes = 0
        self.encode_seconds = 0.0
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._seq = 0
        self._pending: np.ndarray | None = None
        self._last_offer = 0.0
        self._new = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cunbo-preview", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop encoding and end every subscriber's stream."""
        self._stop.set()
        self._new.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(2.0)

    def wants(self, now: float) -> bool:
        """True when a frame should be offered now (someone watches and one is due)."""
        return self.subscribers > 0 and now - self._last_offer >= self.interval

    def offer(self, frame: np.ndarray, now: float) -> None:
        """Hand over a composited I420 frame (never modified afterwards, so no copy)."""
        self._last_offer = now
        self._pending = frame
        self._new.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._new.wait(0.5):
                continue
            self._new.clear()
            frame, self._pending = self._pending, None
            if frame is None or self._stop.is_set():
                continue
            started = time.perf_counter()
            jpeg = self.encode(frame)
            self.encode_seconds += time.perf_counter() - started
            self.encodes += 1
            with self._cond:
                self._jpeg, self._seq = jpeg, self._seq + 1
                self._cond.notify_all()

    def encode(self, frame: np.ndarray) -> bytes:
        """I420 → scaled-down BGR → JPEG (quality 70)."""
        bgr = i420_to_bgr(frame)
        h, w = bgr.shape[:2]
        scale = min(1.0, self.width / max(w, h))
        if scale < 1.0:
            bgr = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 70])
        return buf.tobytes() if ok else b""

    def frames(self) -> Generator[bytes, None, None]:
        """JPEG frames as they come; subscribes on first iteration, unsubscribes on close."""
        with self._cond:
            self.subscribers += 1
        try:
            seen = self._seq
            while not self._stop.is_set():
                with self._cond:
                    self._cond.wait_for(lambda: self._seq != seen or self._stop.is_set(), timeout=1.0)
                    jpeg, seq = self._jpeg, self._seq
                if seq != seen and jpeg:
                    seen = seq
                    yield jpeg
        finally:
            with self._cond:
                self.subscribers -= 1
