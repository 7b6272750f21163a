"""The one ffmpeg that encodes: composited I420 frames on stdin, PCM over localhost TCP, the
Matroska recording plus an MPEG-TS copy (for the relays) out.

Stopping never hangs (a hang found under load: shared/notes/media-facts.md). Only the video
writer thread closes stdin; the audio feeder sends the samples that match the last video frame
and then closes its socket, so ffmpeg sees the end of both inputs and finishes the file. Whoever
waits gives up at a deadline and kills ffmpeg, which also ends a write blocked in the pipe.
"""
from __future__ import annotations

import io
import logging
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from capture.audio import SAMPLE_BYTES, AudioMeter, AudioSource
from capture.errors import N_, EncoderError
from capture.ffmpeg import encoder_argv
from capture.process import grow_pipe, kill, pump_stderr, stop_process

log = logging.getLogger(__name__)

AUDIO_MAX_LAG_S = 0.2  # a microphone this far behind the video is padded with silence
# How often the feeder sends the audio the video written so far calls for. Every wake-up of a
# thread costs 0.1–0.4 ms of CPU on a busy 2-core PC (measured: a bare 20 ms sleep, 0.1 ms): at
# 20 ms the feeder alone took 0.5 ms a frame, at 50 ms 0.3 (schedstat of the worker's threads on
# bench/pipeline.py's noisy source). ffmpeg's audio input queue and the muxer absorb 50 ms bursts;
# the push is at most that much later.
AUDIO_TICK_S = 0.05
# The encoder flushes its MPEG-TS after every packet (~2.5 writes a frame). Read at most this
# often and take what has gathered: each read woke the TS reader and a relay thread (0.47 ms of
# CPU a frame between them, 0.24 after; measured as for AUDIO_TICK_S) and the relay ffmpeg; the
# relays see it 40 ms later at most. Letting ffmpeg buffer instead (flush_packets=0, 32 KB writes)
# held a still, low-rate picture back a second and more.
TS_GATHER_S = 0.04
TS_PIPE_BYTES = 1 << 20  # room for a keyframe or two while the reader waits (Linux's default user cap)
# The tee muxer drops an output that fails and carries on with the others ("Slave muxer #0 failed:
# No space left on device, continuing with 1/2 slaves."): the push goes on, the recording stopped.
RECORDING_SLAVE_FAILED = "Slave muxer #0 failed"
DISK_FULL_TEXT = "No space left on device"


class EncoderSink:
    """``start()``, ``write(frame)`` from the output loop (never blocks), ``stop(timeout)``.

    ``on_failure(reason)`` is called once if ffmpeg dies or stops reading; the supervisor then
    restarts it into a new recording segment.
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
        # Why the recording stopped while the encode (and so the push) goes on: "disk_full" or
        # "write_failed"; None while it is written (or when there is no recording).
        self.recording_error: str | None = None
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=queue_frames)
        self._stop = threading.Event()
        self._failed = threading.Event()
        self._video_done = threading.Event()  # the writer has written its last frame
        self._proc: subprocess.Popen[bytes] | None = None
        self._listener: socket.socket | None = None
        self._threads: dict[str, threading.Thread] = {}

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
            raise EncoderError(N_("编码程序 ffmpeg 启动失败"), f"cannot start ffmpeg: {exc}") from exc
        for target, name in ((self._write_video, "video"), (self._feed_audio, "audio"),
                             (self._read_ts, "ts"), (self._read_stderr, "stderr")):
            thread = threading.Thread(target=target, name=f"cunbo-encoder-{name}", daemon=True)
            thread.start()
            self._threads[name] = thread

    def write(self, frame: np.ndarray) -> bool:
        """Queue one I420 frame without blocking; False when the queue is full (encoder behind)."""
        if self._failed.is_set() or self._stop.is_set():
            return False
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            return False
        return True

    def stop(self, timeout: float = 3.0) -> int | None:
        """Finish the recording within ``timeout`` seconds, killing ffmpeg if it has not by then.
        Returns ffmpeg's exit code (None if it could not even be reaped)."""
        deadline = time.monotonic() + timeout
        if self._stop.is_set():  # already stopped (after a failure): just report
            return self._proc.poll() if self._proc else None
        self._stop.set()
        writer = self._threads.get("video")
        proc = self._proc
        if writer is not None:
            try:
                self._queue.put(None, timeout=min(0.5, timeout / 4))
            except queue.Full:  # the writer is stuck in a pipe write: kill ffmpeg to free it
                log.warning("encoder queue still full at stop; killing the encoder")
                if proc is not None:
                    kill(proc, "encoder")
            writer.join(max(0.1, min(timeout / 2, deadline - time.monotonic())))
            if writer.is_alive() and proc is not None:
                log.warning("encoder writer still blocked at stop; killing the encoder")
                kill(proc, "encoder")
                writer.join(1.0)
        code = None
        if proc is not None:
            # stdin is the writer's to close (it did, or ffmpeg was killed): never close it here.
            code = stop_process(proc, max(0.2, deadline - time.monotonic()), "encoder", close_stdin=False)
        if self._listener is not None:
            self._listener.close()  # also resets a connection ffmpeg made that was never accepted
        for thread in self._threads.values():
            thread.join(1.0)
        return code

    def abort(self, reason: str) -> None:
        """Declare the encoder failed and kill it (it stalled): the supervisor restarts it."""
        self._fail(reason)
        if self._proc is not None and self._proc.poll() is None:
            kill(self._proc, "encoder")

    def _fail(self, reason: str) -> None:
        if not self._stop.is_set() and not self._failed.is_set():
            self._failed.set()
            self.on_failure(reason)

    def _write_video(self) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        stdin = self._proc.stdin
        try:
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
        finally:
            self._video_done.set()
            try:
                stdin.close()  # this thread is the pipe's only writer: closing cannot block on a write
            except OSError as exc:
                log.debug("encoder stdin close: %s", exc)

    def _feed_audio(self) -> None:
        """Send as many samples as the video written so far calls for (A/V sync by counting), and
        after the last video frame the rest, then close: ffmpeg finishes only when both inputs end."""
        assert self._listener is not None
        conn: socket.socket | None = None
        while conn is None and not self._video_done.is_set():
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
        conn.settimeout(2.0)  # ffmpeg not reading audio for 2 s: it is stuck, the stop kills it
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                last = self._video_done.wait(AUDIO_TICK_S)
                deficit = self.frames_written * rate // self.fps - sent
                if deficit > 0:
                    data = self.audio.read(deficit)
                    got = len(data) // frame_bytes
                    if got:
                        self.meter.update(data, time.monotonic())
                    if deficit - got > max_lag or last:  # the microphone stalled: keep the track going
                        data += bytes((deficit - got - (0 if last else max_lag)) * frame_bytes)
                    try:
                        conn.sendall(data)
                    except OSError as exc:
                        self._fail(f"encoder audio input closed: {exc}")
                        return
                    sent += len(data) // frame_bytes
                if last:
                    break
            try:
                conn.shutdown(socket.SHUT_WR)
            except OSError as exc:
                log.debug("encoder audio shutdown: %s", exc)

    def _read_ts(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        grow_pipe(fd, TS_PIPE_BYTES)
        # One read call each time (no buffered layer waiting to fill), into one reused buffer: a
        # fresh 1 MB block per read, cut down to the ~15 KB that came, raised the worker's memory.
        raw = io.FileIO(fd, "r", closefd=False)
        buffer = bytearray(TS_PIPE_BYTES)
        view = memoryview(buffer)
        while True:
            got = raw.readinto(buffer)
            if not got:
                break
            self.on_ts(bytes(view[:got]))
            time.sleep(TS_GATHER_S)
        self._proc.stdout.close()
        try:
            code = self._proc.wait(5.0)  # stdout closed: ffmpeg is exiting
        except subprocess.TimeoutExpired:
            kill(self._proc, "encoder")
            code = self._proc.wait(KILL_REAP_S)
        self._fail(f"encoder exited with code {code}")

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        pump_stderr(self._proc.stderr, "encoder", [], self._on_progress, self._on_line)

    def _on_line(self, line: str) -> None:
        # The recording is the tee's first output (encoder_argv puts it there) and so its slave #0.
        if self.recording is not None and self.recording_error is None and RECORDING_SLAVE_FAILED in line:
            self.recording_error = "disk_full" if DISK_FULL_TEXT in line else "write_failed"
            log.error("the recording %s stopped (%s); the push goes on", self.recording.name, self.recording_error)

    def _on_progress(self, block: dict[str, str]) -> None:
        self.progress = block


KILL_REAP_S = 2.0
