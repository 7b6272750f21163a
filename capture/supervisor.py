"""The supervisor: one broadcast from start to stop, and the watchdog that keeps it alive.

States: idle → starting → live ↔ reconnecting → stopping → idle. Threads:

- capture (:class:`~capture.sources.Grabber`): reads and converts source frames, reconnects;
- output loop: constant frame rate — takes the newest due frame (repeating or skipping, and
  counting both), blends the overlay, hands the frame to the encoder's bounded queue (never
  blocks on a pipe), offers it to the preview when someone watches;
- watchdog: countdown ticks, source stall → slate, encoder death or stall → restart in a new
  recording segment, state changes and events, output-fps measurement;
- inside the sinks: pipe writer, audio feeder, stdout fan-out, stderr readers, one thread per
  destination relay, the preview encoder.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from capture.audio import AudioMeter, AudioSource, make_audio_source
from capture.errors import N_, CaptureError, EncoderError, NotRunning
from capture.ffmpeg import find_ffmpeg, progress_number
from capture.frames import FrameBuffer, Timeline, i420_to_bgr
from capture.encoder import EncoderSink
from capture.preview import PreviewHub
from capture.relay import Relay, TsFanout
from capture.overlay import Compositor, OverlayScene, render_neutral, render_slate
from capture.settings import CaptureSettings
from capture.sources import Grabber, VideoSource, make_video_source

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 3.0  # a whole stop, encoder finishing its file included; then kill
MAX_LATE_S = 0.5  # the output loop catches up by writing back-to-back up to this; beyond, it drops
WATCHDOG_S = 0.1
EventCallback = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class StopResult:
    """What a finished broadcast left: recording segments (in order) and its length."""

    recordings: list[Path]
    duration_s: float


class Supervisor:
    """Runs one broadcast. ``start`` once, ``set_scene`` any time (also before start), ``stop``.

    ``on_event(kind, data)`` is called from the watchdog thread for "state", "source",
    "destination", "segment" and "encoder" changes; it must return quickly.
    """

    def __init__(self, settings: CaptureSettings, on_event: EventCallback | None = None) -> None:
        self.settings = settings
        self.size = settings.output_size
        self.fps = settings.fps
        self.compositor = Compositor(*self.size, portrait=settings.layout == "portrait")
        self._on_event = on_event
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._state = "idle"
        self._used = False
        self._source_state = "connecting"
        self._timeline = Timeline()
        self._buffer = FrameBuffer()
        self._meter = AudioMeter()
        self._fanout = TsFanout()
        self._preview = PreviewHub(settings.preview_fps, settings.preview_width)
        self._slate = render_slate(*self.size)
        # Until the first camera frame the video shows a calm plain picture (with the host's card),
        # not the slate: the slate says the source was lost, and nothing was lost yet.
        self._neutral = render_neutral(*self.size)
        self._had_frame = False
        self._grabber: Grabber | None = None
        self._audio: AudioSource | None = None
        self._encoder: EncoderSink | None = None
        self._ffmpeg = ""
        self._threads: list[threading.Thread] = []
        self._segments: list[Path] = []
        self._encoder_failures = 0
        self._encoder_retry_at: float | None = None
        self._started_mono = 0.0
        # Counters: written by the output loop only, read anywhere (int reads are atomic).
        self.frames_out = 0
        self.duplicated = 0
        self.dropped_source = 0
        self.dropped_output = 0
        self.scene_frames = 0
        self.slate_frames = 0  # frames that showed "source lost": 0 unless the source really was
        self._latest: np.ndarray | None = None
        self._measured_fps = 0.0
        self._measured_kbps = 0.0
        self._scene_out: dict[int, float] = {}
        self._scene_cond = threading.Condition()

    # -- control --------------------------------------------------------------------------

    def start(self) -> None:
        """Open the source, microphone and encoder, then return while the broadcast starts.

        Raises :class:`~capture.errors.CameraNotFound`, ``VideoSourceError``,
        ``MicrophoneNotFound``, ``AudioSourceError``, ``FfmpegNotFound`` or ``EncoderError``
        (all :class:`CaptureError`, with a message for people) when something cannot open at
        all — nothing keeps running then — and :class:`NotRunning` if already started once.
        """
        with self._lock:
            if self._used:
                raise NotRunning("这次直播已经开始过了", "a Supervisor starts once; make a new one")
            self._used = True
            self._set_state("starting")
            video: VideoSource | None = None
            try:
                self._ffmpeg = find_ffmpeg(self.settings.ffmpeg)
                width, height = self.size
                video = make_video_source(self.settings.video, width, height, self.fps)
                video.open()
                audio = make_audio_source(self.settings.audio, self.settings.audio_rate, self.settings.loop)
                audio.open()
                self._audio = audio
                if self.settings.record:
                    try:
                        self.settings.recording_dir.mkdir(parents=True, exist_ok=True)
                    except OSError as exc:
                        raise EncoderError(N_("录像文件夹无法创建"), f"cannot create {self.settings.recording_dir}: {exc}") from exc
                self._timeline = Timeline()
                self._started_mono = time.monotonic()
                backoff = (self.settings.reconnect_initial_s, self.settings.reconnect_max_s)
                self._grabber = Grabber(video, self._buffer, self._timeline, self.size, loop=self.settings.loop,
                                        backoff=backoff, on_state=self._on_source_state)
                self._fanout.relays = [
                    Relay(self._ffmpeg, url, backoff=backoff, max_failures=self.settings.destination_max_failures,
                          on_state=self._on_relay_state)
                    for url in self.settings.destinations
                ]
                self._encoder = self._new_encoder()
            except CaptureError:
                if video is not None:
                    video.close()
                if self._audio is not None:
                    self._audio.close()
                self._set_state("idle")
                raise
            self._grabber.start(already_open=True)
            for relay in self._fanout.relays:
                relay.start()
            self._preview.start()
            for target, name in ((self._output_loop, "output"), (self._watchdog, "watchdog")):
                thread = threading.Thread(target=target, name=f"cunbo-{name}", daemon=True)
                thread.start()
                self._threads.append(thread)
            log.info("capture started: %s → %d destination(s), recording %s", video.label,
                     len(self.settings.destinations), "on" if self.settings.record else "off")

    def set_scene(self, scene: OverlayScene) -> int:
        """Show ``scene`` from the very next output frame (thread-safe; renders on this thread).
        Returns the scene version, for :meth:`wait_scene_out`. Never raises for any text."""
        return self.compositor.set_scene(scene)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> StopResult:
        """Stop everything and finish the recording within about ``timeout`` seconds (what has not
        finished by then is killed). Raises :class:`NotRunning` when not started."""
        deadline = time.monotonic() + timeout

        def left(share: float = 1.0) -> float:
            return max(0.1, (deadline - time.monotonic()) * share)

        with self._lock:
            if self._state in ("idle", "stopping"):
                raise NotRunning("现在没有在直播", "capture is not running")
            self._set_state("stopping")
            duration = time.monotonic() - self._started_mono
            self._stop.set()
            for thread in self._threads:
                thread.join(min(1.0, left(0.25)))
            encoder, self._encoder = self._encoder, None
            if encoder is not None:
                code = encoder.stop(left(0.7))
                log.info("encoder finished with exit code %s", code)
            for relay in self._fanout.relays:
                relay.stop(min(1.0, left(0.5)))
            if self._grabber is not None:
                self._grabber.stop(min(1.0, left(0.5)))
            if self._audio is not None:
                self._audio.close()
            self._preview.stop()
            self._set_state("idle")
            recordings = [p for p in self._segments if p.exists()]
            return StopResult(recordings=recordings, duration_s=duration)

    # -- reading --------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    def status(self) -> dict[str, Any]:
        """JSON-ready live figures; destination URLs are masked."""
        encoder = self._encoder
        progress = encoder.progress if encoder else {}
        return {
            "state": self._state,
            "fps": round(self._measured_fps, 2),
            "frames_out": self.frames_out,
            "dropped": self.dropped_source + self.dropped_output,
            "dropped_source": self.dropped_source,
            "dropped_output": self.dropped_output,
            "duplicated": self.duplicated,
            "encoder_speed": progress_number(progress.get("speed")),
            "bitrate_kbps": round(self._measured_kbps, 1),
            "encoder_pid": encoder.pid if encoder else None,
            "audio_level_dbfs": self._meter.rms_dbfs,
            "audio_peak_dbfs": self._meter.peak_dbfs,
            "recording": str(self._segments[-1]) if self._segments and self._state != "idle" else None,
            "recordings": [str(p) for p in self._segments],
            "recording_error": encoder.recording_error if encoder else None,
            "destinations": [{"url": r.masked, "state": r.state, "failures": r.failures} for r in self._fanout.relays],
            "source_state": self._source_state,
            "scene_frames": self.scene_frames,
            "cards": sorted(self.compositor.boxes()),
            "slate_frames": self.slate_frames,
            "preview_subscribers": self._preview.subscribers,
        }

    def latest_frame(self) -> np.ndarray | None:
        """The last composited frame as BGR (a new array), or None before the first."""
        frame = self._latest
        return i420_to_bgr(frame) if frame is not None else None

    def source_gray(self) -> np.ndarray | None:
        """The newest source frame's luma plane (a view of the I420 frame: grayscale for free,
        no overlay on it), or None while the source gives no picture. Never blocks the loop."""
        if self._source_state not in ("ok", "ended"):
            return None
        frame = self._buffer.newest()
        return frame.image[: self.size[1]] if frame is not None else None

    def mjpeg_frames(self) -> Generator[bytes, None, None]:
        """JPEG preview frames (≤ preview_fps, scaled down); encoding runs only while at least one
        such generator is being iterated. Close the generator to unsubscribe."""
        return self._preview.frames()

    def preview_stats(self) -> tuple[int, float]:
        """(JPEG frames encoded, CPU-ish seconds spent encoding them) — for tests and benchmarks."""
        return self._preview.encodes, self._preview.encode_seconds

    def wait_scene_out(self, version: int, timeout: float) -> float | None:
        """time.monotonic() when the first frame showing scene ``version`` was handed to the
        encoder, waiting up to ``timeout``; None if it did not happen in time."""
        with self._scene_cond:
            self._scene_cond.wait_for(lambda: version in self._scene_out, timeout)
            return self._scene_out.get(version)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> bool:
        """Poll :meth:`status` until ``predicate`` holds (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while not predicate(self.status()):
            if time.monotonic() >= deadline:
                return False
            if self._stop.wait(0.05) and self._state == "idle":
                return predicate(self.status())
        return True

    # -- internals ------------------------------------------------------------------------

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(kind, data)
        except Exception:  # a broken listener must not take the broadcast down; it is logged
            log.exception("on_event listener failed for %s", kind)

    def _set_state(self, state: str) -> None:
        if state != self._state:
            previous, self._state = self._state, state
            log.info("capture state %s → %s", previous, state)
            self._emit("state", {"state": state, "previous": previous})

    def _on_source_state(self, state: str, reason: str) -> None:
        log.info("video source: %s %s", state, reason)
        if state == "lost":
            self._buffer.clear()  # never show a stale picture after the slate

    def _on_relay_state(self, relay: Relay, state: str) -> None:
        self._emit("destination", {"url": relay.masked, "state": state})

    def _recording_path(self) -> Path:
        """A recording file name not used yet: a pipeline restarted within the same second (a
        layout switch) must never overwrite the file before it."""
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        number = len(self._segments) + 1
        while True:
            path = self.settings.recording_dir / f"cunbo-{stamp}-{number:02d}.mkv"
            if not path.exists():
                return path
            number += 1

    def _new_encoder(self) -> EncoderSink:
        """Start an encoder writing the next recording segment. Raises EncoderError."""
        recording = None
        if self.settings.record:
            recording = self._recording_path()
            self._segments.append(recording)
        assert self._audio is not None
        encoder = EncoderSink(
            self._ffmpeg, preset=self.settings.preset, size=self.size, fps=self.fps, audio=self._audio,
            meter=self._meter, recording=recording, queue_frames=self.settings.queue_frames,
            on_ts=self._fanout.feed, on_failure=self._on_encoder_failure,
        )
        encoder.start()
        if recording is not None:
            self._emit("segment", {"path": str(recording)})
        return encoder

    def _on_encoder_failure(self, reason: str) -> None:
        log.error("encoder failed: %s", reason)

    def _output_loop(self) -> None:
        period = 1.0 / self.fps
        tick = 0
        last_seq = 0
        last_key: tuple[object, ...] = ()
        out: np.ndarray | None = None
        version = 0
        shown_version = -1
        while True:
            due = tick * period
            delay = due - self._timeline.now()
            if delay > 0 and self._stop.wait(delay):
                break
            if self._stop.is_set():
                break
            late = self._timeline.now() - due
            if late > MAX_LATE_S:
                # Too far behind (the machine stalled): skip the missed ticks and count them,
                # rather than a burst that would make every later frame late too.
                skipped = int(late / period)
                tick += skipped
                self.dropped_output += skipped
                continue
            tick += 1
            frame = self._buffer.due(due + period / 2) if self._source_state in ("ok", "ended") else None
            key: tuple[object, ...]
            if frame is not None:
                if frame.seq == last_seq:
                    self.duplicated += 1
                elif last_seq and frame.seq > last_seq + 1:
                    self.dropped_source += frame.seq - last_seq - 1
                last_seq = frame.seq
                base, key = frame.image, ("frame", frame.seq)
                self._had_frame = True
            elif self._had_frame:
                base, key = self._slate, ("slate",)
                self.slate_frames += 1
            else:
                base, key = self._neutral, ("neutral",)
            snapshot = self.compositor.snapshot()
            # A repeated source frame under unchanged cards is the same picture: reuse it.
            if out is None or key + (id(snapshot),) != last_key:
                out, version = self.compositor.compose(base, snapshot)
                last_key = key + (id(snapshot),)
            encoder = self._encoder
            if encoder is None or not encoder.write(out):
                self.dropped_output += 1
                continue
            self.frames_out += 1
            self._latest = out
            if version != shown_version:
                shown_version = version
                self.scene_frames = self.frames_out
                with self._scene_cond:
                    self._scene_out[version] = time.monotonic()
                    for old in [v for v in self._scene_out if v < version - 64]:
                        del self._scene_out[old]
                    self._scene_cond.notify_all()
            now = time.monotonic()
            if self._preview.wants(now):
                self._preview.offer(out, now)

    def _watchdog(self) -> None:
        window: list[tuple[float, int, int]] = []
        while not self._stop.wait(WATCHDOG_S):
            now = time.monotonic()
            self.compositor.tick(time.time())
            # Output fps and stream bit rate over the last two seconds.
            window = [w for w in window if now - w[0] <= 2.0] + [(now, self.frames_out, self._fanout.bytes_total)]
            span = window[-1][0] - window[0][0]
            if span > 0.5:
                self._measured_fps = (window[-1][1] - window[0][1]) / span
                self._measured_kbps = (window[-1][2] - window[0][2]) * 8 / 1000 / span
            self._check_source()
            self._check_encoder(now)
            healthy = self._source_state in ("ok", "ended") and self._encoder is not None and not self._encoder.failed
            if healthy and (self._state == "reconnecting" or (self._state == "starting" and self._encoder
                                                              and self._encoder.frames_written > 0)):
                self._set_state("live")
            elif not healthy and self._state == "live":
                self._set_state("reconnecting")

    def _check_source(self) -> None:
        grabber = self._grabber
        assert grabber is not None
        state = grabber.state
        if state == "ok" and self._timeline.now() - self._buffer.last_arrival > self.settings.source_stall_s:
            state = "lost"  # no frame for too long: a stuck camera reads as lost until frames flow
        if state != self._source_state:
            log.log(logging.WARNING if state == "lost" else logging.INFO, "video source %s: %s",
                    grabber.source.label, state)
            self._source_state = state
            self._emit("source", {"state": state})

    def _check_encoder(self, now: float) -> None:
        encoder = self._encoder
        if encoder is None:
            return
        if not encoder.failed:
            if encoder.frames_written > 10 * self.fps:
                self._encoder_failures = 0  # healthy again: the next failure restarts at once
            busy = encoder.busy_since
            if busy is not None and now - busy > self.settings.encoder_stall_s:
                encoder.abort(f"accepted no frame for {now - busy:.1f} s")
            return
        if self._encoder_retry_at is None:
            self._encoder_failures += 1
            wait = min(self.settings.reconnect_max_s,
                       self.settings.reconnect_initial_s * 2 ** (self._encoder_failures - 1))
            if self._encoder_failures == 1:
                wait = 0.0  # the first restart is immediate: the recording has a gap otherwise
            self._encoder_retry_at = now + wait
            self._emit("encoder", {"state": "restarting", "failures": self._encoder_failures})
            encoder.stop(timeout=1.0)
        if now < self._encoder_retry_at:
            return
        self._encoder_retry_at = None
        self._fanout.reset()
        if self._stop.is_set():
            return  # the broadcast is stopping: no new encoder
        try:
            encoder = self._new_encoder()
        except CaptureError as exc:
            log.error("encoder restart failed: %s", exc)
            return
        if self._stop.is_set():  # stop() began while it started: it would never be stopped
            encoder.stop(1.0)
            return
        self._encoder = encoder
        for relay in self._fanout.relays:
            relay.restart()  # the relays' streams restart with the new encoder's timestamps
        log.warning("encoder restarted (failure %d), recording continues in %s", self._encoder_failures,
                    self._segments[-1] if self._segments else "no file")
