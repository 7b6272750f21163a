"""The broadcast worker: one OS process per broadcast, outside the web server.

``python -m capture.worker SPEC`` runs the :class:`~capture.supervisor.Supervisor` for the
settings and first scene in ``SPEC`` (a 0600 JSON file the web server writes) and answers the
local :mod:`~capture.channel` (hello, status, scene, layout, stop; preview and snapshot streams).
It writes ``<key>.channel.json`` beside the spec — its pid, channel port, phase and every
recording file as it opens — so that a restarted web server can find it, check it is the same
process and reattach, or, if it died, still list its recordings.

Why a process of its own: the 30 fps loop no longer shares the web server's GIL with 16 request
threads, a crash in a native library (PortAudio, a camera driver) takes only the broadcast down
(the web server restarts it), and a crash or upgrade of the web server leaves the push and the
recording running.

:class:`Worker` is the web server's handle on one worker: spawn, attach, ask, stop, kill. Every
call has a deadline; when one passes the worker is killed with its whole process group.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
from pydantic import ValidationError

from capture.channel import ChannelError, ChannelServer, WorkerRefused, request, stream
from capture.errors import N_, CaptureError
from capture.malloc import TRIM_EVERY_S, give_back_free_memory, limit_arenas
from capture.overlay import OverlayScene
from capture.recognition import RecognitionLoop, remove_group_leftovers
from capture.process import command_line, detached_popen_kwargs, kill_group, pid_alive
from capture.settings import CaptureSettings
from capture.supervisor import Supervisor

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SUPERVISOR_STOP_S = 2.0  # inside the web side's STOP_TIMEOUT_S, leaving time to answer and exit
LAYOUT_STOP_S = 1.5
STATUS_TIMEOUT_S = 1.5
STOP_TIMEOUT_S = 4.0
EXIT_WAIT_S = 1.0
# The recognition process's own stop, before it is terminated; inside the web side's
# RECOGNITION_TIMEOUT_S (1 s) with the terminate and kill waits added.
RECOGNITION_STOP_S = 0.3


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically with ``data``, readable by its owner only (it holds a token)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def spec_path(directory: Path, key: str) -> Path:
    return directory / f"{key}.spec.json"


def channel_path(directory: Path, key: str) -> Path:
    return directory / f"{key}.channel.json"


def scene_to_dict(scene: OverlayScene) -> dict[str, Any]:
    return asdict(scene)


def scene_from_dict(data: dict[str, Any]) -> OverlayScene:
    """Raises CaptureError for a scene that is not one (a bug on the other side of the channel)."""
    try:
        return OverlayScene(**data)
    except (TypeError, ValueError) as exc:
        raise CaptureError(N_("画面内容不对"), f"bad scene: {exc}") from exc


# -- inside the worker process ------------------------------------------------------------------


class BroadcastWorker:
    """The worker process's state: the running supervisor and what the channel file says."""

    def __init__(self, spec_file: Path, spec: dict[str, Any], settings: CaptureSettings) -> None:
        self.directory = spec_file.parent
        self.key = str(spec["key"])
        self.settings = settings
        self.scene = scene_from_dict(spec.get("scene") or {})
        self.phase = "opening"
        self.error: dict[str, str] | None = None
        self.recordings: list[str] = []
        self.supervisor: Supervisor | None = None
        self.started = time.time()
        self.done = threading.Event()
        self._op = threading.Lock()  # one stop or layout switch at a time
        self._files = threading.Lock()
        # Reads whichever supervisor runs now, so a layout switch (a new supervisor) carries on.
        self.recognition = RecognitionLoop(self._recognition_frame)
        self.server = ChannelServer(
            str(spec["token"]),
            handlers={"hello": self._hello, "status": self._status, "scene": self._scene,
                      "layout": self._layout, "stop": self._stop, "recognition": self._recognition},
            streams={"preview": self._preview, "snapshot": self._snapshot},
        )

    def run(self) -> int:
        """Start, serve until stopped; the process exit code (0 stopped, 3 could not start)."""
        self.server.start()
        self._write_channel()
        try:
            self.supervisor = self._start(self.settings)
        except CaptureError as exc:
            log.error("broadcast could not start: %s", exc)
            self.phase, self.error = "failed", {"kind": type(exc).__name__, "zh": exc.zh, "en": exc.en}
            self._write_channel()
            self.server.close()
            return 3
        self.phase = "live"
        self._write_channel()
        signal.signal(signal.SIGTERM, lambda *_: self.done.set())
        trimmed = time.monotonic()
        while not self.done.wait(1.0):
            if self.phase == "failed":
                break
            if time.monotonic() - trimmed >= TRIM_EVERY_S:  # freed frames back to the system (capture/malloc.py)
                give_back_free_memory()
                trimmed = time.monotonic()
        self._finish()
        return 0 if self.phase == "stopped" else 4

    def _start(self, settings: CaptureSettings) -> Supervisor:
        supervisor = Supervisor(settings, on_event=self._on_event)
        supervisor.set_scene(self.scene)
        supervisor.start()
        return supervisor

    def _finish(self) -> None:
        self.recognition.stop(timeout=RECOGNITION_STOP_S)
        with self._op:
            self._stop_supervisor(SUPERVISOR_STOP_S)
            if self.phase != "failed":
                self.phase = "stopped"
            self._write_channel()
        self.server.close()

    def _stop_supervisor(self, timeout: float) -> float:
        supervisor, self.supervisor = self.supervisor, None
        if supervisor is None or supervisor.state in ("idle", "stopping"):
            return 0.0
        result = supervisor.stop(timeout)
        return result.duration_s

    def _on_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "segment":
            self.recordings.append(str(data["path"]))
            self._write_channel()

    def _write_channel(self) -> None:
        with self._files:
            _write_json(channel_path(self.directory, self.key), {
                "pid": os.getpid(), "port": self.server.port, "phase": self.phase, "error": self.error,
                "recordings": self.recordings, "started": self.started, "updated": time.time(),
                "layout": self.settings.layout,
            })

    # -- channel handlers (each on its own short thread) ---------------------------------------

    def _hello(self, _msg: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid(), "key": self.key, "phase": self.phase}

    def _status(self, _msg: dict[str, Any]) -> dict[str, Any]:
        supervisor = self.supervisor
        status: dict[str, Any] = supervisor.status() if supervisor is not None else {"state": "starting"}
        width, height = self.settings.output_size
        status["recognized"] = self.recognition.status()
        loop = self.recognition
        # "crashed": the recognition process ended unasked (its exit code in "exit_code"); the
        # next {"on": true} starts a new one.
        status["recognition"] = {"on": loop.running, "checks": loop.checks, "pid": loop.pid,
                                 "products": loop.products, "crashed": loop.crashed is not None,
                                 "exit_code": loop.crashed,
                                 "check_ms": round(1000 * loop.check_s / loop.checks, 1) if loop.checks else None}
        return {"status": status, "phase": self.phase, "recordings": list(self.recordings),
                "layout": self.settings.layout, "size": [width, height], "pid": os.getpid()}

    def _scene(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Show a scene from the next frame. With ``wait_shown`` the answer waits (≤ 1 s) for the
        first frame showing it and says how long that took and how many frames later it was."""
        received = time.monotonic()
        self.scene = scene_from_dict(msg.get("scene") or {})
        supervisor = self.supervisor
        if supervisor is None:  # the pipeline is (re)starting: it takes self.scene when it is up
            raise CaptureError(N_("画面正在重新启动"), "the pipeline is restarting; send the scene again")
        frames_before = supervisor.frames_out
        version = supervisor.set_scene(self.scene)
        if not msg.get("wait_shown"):
            return {"version": version}
        shown = supervisor.wait_scene_out(version, timeout=1.0)
        return {"version": version, "shown_after_s": None if shown is None else shown - received,
                "frames_late": supervisor.scene_frames - frames_before}

    def _recognition_frame(self) -> Any:
        supervisor = self.supervisor
        return supervisor.source_gray() if supervisor is not None else None

    def _recognition(self, msg: dict[str, Any]) -> dict[str, Any]:
        """``{"on": bool, "catalog": {product id: [photo paths]}}``: look for these products in
        the picture (a few checks a second in a process of their own), or stop looking."""
        catalog = msg.get("catalog")
        if isinstance(catalog, dict):
            try:
                self.recognition.set_catalog({int(k): [str(p) for p in v] for k, v in catalog.items()})
            except (TypeError, ValueError) as exc:
                raise CaptureError(N_("商品照片清单不对"), f"bad recognition catalog: {exc}") from exc
        if msg.get("on"):
            try:
                self.recognition.start()
            except OSError as exc:
                raise CaptureError(N_("商品识别启动失败"), f"cannot start recognition: {exc}") from exc
        else:
            self.recognition.stop(timeout=RECOGNITION_STOP_S)
        return {"on": self.recognition.running}

    def _layout(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Restart the pipeline at the new picture size; the old layout comes back if it fails."""
        layout = msg.get("layout")
        if layout not in ("landscape", "portrait"):
            raise CaptureError(N_("画面方向不对"), f"bad layout {layout!r}")
        with self._op:
            if self.phase != "live" or layout == self.settings.layout:
                return {"layout": self.settings.layout}
            old = self.settings
            self._stop_supervisor(LAYOUT_STOP_S)
            for settings in (old.model_copy(update={"layout": layout}), old):
                try:
                    self.supervisor = self._start(settings)
                except CaptureError as exc:
                    log.warning("could not restart the pipeline as %s: %s", settings.layout, exc)
                    continue
                self.supervisor.set_scene(self.scene)  # a scene sent while it was starting
                self.settings = settings
                self._write_channel()
                return {"layout": settings.layout}
            self.phase, self.error = "failed", {"kind": "EncoderError", "zh": N_("画面重新启动失败"), "en": "restart failed"}
            self._write_channel()
            self.done.set()
            raise CaptureError(N_("画面重新启动失败"), "the pipeline could not restart")

    def _stop(self, _msg: dict[str, Any]) -> dict[str, Any]:
        with self._op:
            duration = self._stop_supervisor(SUPERVISOR_STOP_S)
            self.phase = "stopped"
            self._write_channel()
        self.done.set()
        return {"recordings": [p for p in self.recordings if Path(p).exists()], "duration_s": round(duration, 3)}

    def _preview(self, _msg: dict[str, Any]) -> Iterator[bytes]:
        supervisor = self.supervisor
        if supervisor is None:
            return iter(())
        return supervisor.mjpeg_frames()

    def _snapshot(self, _msg: dict[str, Any]) -> Iterator[bytes]:
        supervisor = self.supervisor
        frame = supervisor.latest_frame() if supervisor is not None else None
        if frame is None:
            return iter(())
        ok, png = cv2.imencode(".png", frame)  # lossless: tests compare pixels
        return iter([png.tobytes()] if ok else [])


def main(argv: list[str] | None = None) -> int:
    """``python -m capture.worker SPEC``: exit 0 stopped, 2 bad spec, 3 could not start."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    limit_arenas()  # before any thread of the broadcast starts (capture/malloc.py says why)
    # OpenCV's own thread pool splits each colour conversion over the cores and its idle workers
    # spin between frames: 0.4 ms of CPU per 720p frame (bench/pipeline.py), on a PC whose second
    # core the encoder needs. The worker's threads already overlap capture and output.
    cv2.setNumThreads(1)
    if len(args) != 1:
        print("usage: python -m capture.worker SPEC", file=sys.stderr)
        return 2
    spec_file = Path(args[0])
    spec = _read_json(spec_file)
    if spec is None or "key" not in spec or "token" not in spec:
        log.error("unreadable worker spec %s", spec_file)
        return 2
    try:
        settings = CaptureSettings.model_validate(spec.get("settings") or {})
    except ValidationError as exc:
        _write_json(channel_path(spec_file.parent, str(spec["key"])), {
            "pid": os.getpid(), "port": None, "phase": "failed", "recordings": [],
            "error": {"kind": "CaptureError", "zh": N_("直播设置不对"), "en": str(exc)}})
        return 2
    return BroadcastWorker(spec_file, spec, settings).run()


# -- the web server's handle --------------------------------------------------------------------


class Worker:
    """One broadcast worker as the web server sees it. Not thread-safe on its own: the live
    service serialises starts, stops and layout switches."""

    def __init__(self, directory: Path, key: str, token: str, proc: subprocess.Popen[bytes] | None = None,
                 pid: int | None = None, port: int | None = None) -> None:
        self.directory, self.key, self.token = directory, key, token
        self.proc = proc
        self.pid = proc.pid if proc is not None else pid
        self.port = port

    # -- making one -------------------------------------------------------------------------

    @classmethod
    def spawn(cls, directory: Path, key: str, settings: CaptureSettings, scene: OverlayScene) -> Worker:
        """Start a worker process (detached: it outlives this one). Raises :class:`CaptureError`
        when the process cannot be started at all."""
        directory.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(16)
        spec = spec_path(directory, key)
        channel_path(directory, key).unlink(missing_ok=True)
        _write_json(spec, {"key": key, "token": token, "settings": settings.model_dump(mode="json"),
                           "scene": scene_to_dict(scene)})
        log_file = open(directory / f"{key}.log", "ab")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "capture.worker", str(spec)], cwd=PROJECT_ROOT,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file,
                **detached_popen_kwargs(),  # type: ignore[call-overload]
            )
        except OSError as exc:
            raise CaptureError(N_("直播程序启动失败"), f"cannot start the worker: {exc}") from exc
        finally:
            log_file.close()
        return cls(directory, key, token, proc=proc)

    @classmethod
    def attach(cls, directory: Path, key: str, *, timeout: float = 2.0) -> Worker | None:
        """The running worker of ``key`` if there is one and it answers as itself, else None."""
        spec = _read_json(spec_path(directory, key))
        channel = _read_json(channel_path(directory, key))
        if spec is None or channel is None or not channel.get("port") or not channel.get("pid"):
            return None
        worker = cls(directory, key, str(spec["token"]), pid=int(channel["pid"]), port=int(channel["port"]))
        if not pid_alive(worker.pid or 0):
            return None
        try:
            hello = worker.request("hello", timeout=timeout)
        except CaptureError:
            return None
        if hello.get("pid") != worker.pid or hello.get("key") != key:
            return None
        return worker

    # -- asking it --------------------------------------------------------------------------

    def channel(self) -> dict[str, Any]:
        """What the worker last wrote about itself ({} before it wrote anything)."""
        return _read_json(channel_path(self.directory, self.key)) or {}

    def settings(self) -> CaptureSettings:
        """The settings the worker was started with (from its spec file). Raises ValueError
        when the spec is missing or unreadable."""
        spec = _read_json(spec_path(self.directory, self.key))
        if spec is None:
            raise ValueError(f"no spec for worker {self.key}")
        return CaptureSettings.model_validate(spec.get("settings") or {})

    def recordings(self) -> list[str]:
        return [str(p) for p in self.channel().get("recordings") or []]

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and pid_alive(self.pid)

    def wait_opened(self, timeout: float, cancel: threading.Event) -> None:
        """Wait until the pipeline runs. Raises the worker's own :class:`CaptureError` when it
        could not start, :class:`ChannelError` (the worker killed) when it took too long or the
        start was cancelled."""
        deadline = time.monotonic() + timeout
        while not cancel.wait(0.05):
            channel = self.channel()
            phase = channel.get("phase")
            if channel.get("port"):
                self.port = int(channel["port"])
            if phase in ("live", "stopped"):
                return
            error = channel.get("error")
            if phase == "failed" or not self.alive():
                self.kill()
                if isinstance(error, dict):
                    raise WorkerRefused(str(error.get("zh")), str(error.get("en")), str(error.get("kind")))
                raise CaptureError(N_("直播程序意外退出"), "the worker exited while starting")
            if time.monotonic() >= deadline:
                self.kill()
                raise ChannelError(N_("视频源打开太慢，请检查摄像头或视频地址"), f"the pipeline did not start in {timeout:.0f} s")
        self.kill()
        raise ChannelError(N_("开播已取消"), "the start was cancelled")

    def request(self, op: str, payload: dict[str, Any] | None = None, *, timeout: float = STATUS_TIMEOUT_S) -> dict[str, Any]:
        """One channel request. Raises ChannelError (no answer in time) or WorkerRefused."""
        if self.port is None:
            raise ChannelError(N_("直播程序还没准备好"), "the worker has no channel yet")
        return request(self.port, self.token, op, payload, timeout=timeout)

    def stream(self, op: str) -> Iterator[bytes]:
        if self.port is None:
            raise ChannelError(N_("直播程序还没准备好"), "the worker has no channel yet")
        return stream(self.port, self.token, op)

    # -- ending it --------------------------------------------------------------------------

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> dict[str, Any]:
        """Ask the worker to finish its recording and exit; kill its process group if it has not
        within ``timeout``. Returns {"recordings", "duration_s"} ({} when it did not answer)."""
        deadline = time.monotonic() + timeout
        answer: dict[str, Any] = {}
        try:
            answer = self.request("stop", timeout=max(0.2, deadline - time.monotonic() - EXIT_WAIT_S))
        except CaptureError as exc:
            log.warning("worker %s did not stop when asked (%s); killing it", self.key, exc.en)
        self._wait_exit(max(0.1, deadline - time.monotonic()))
        self.kill()
        return answer

    def kill(self) -> None:
        """SIGKILL the worker and its process group (its ffmpeg children), and reap it."""
        if self.pid is None:
            return
        if self.proc is None and self.alive() and "capture.worker" not in command_line(self.pid):
            if command_line(self.pid):  # the pid was reused by another program: not ours to kill
                return
        kill_group(self.pid)
        self._wait_exit(2.0)
        remove_group_leftovers(self.pid)

    def _wait_exit(self, timeout: float) -> bool:
        if self.proc is not None:
            try:
                self.proc.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        gone = threading.Event()
        while self.alive():
            if time.monotonic() >= deadline:
                return False
            gone.wait(0.05)
        return True

    def kill_if_running(self) -> None:
        """Kill this key's worker if its channel file names a live process that is a worker of this
        key (its command line says so), even when it did not answer: a broadcast nobody can reach
        must not go on pushing with the farmer's stream key."""
        pid = int(self.channel().get("pid") or 0)
        if pid and pid_alive(pid):
            cmdline = command_line(pid)
            if "capture.worker" in cmdline and self.key in cmdline:
                kill_group(pid)
                remove_group_leftovers(pid)

    def remove_files(self) -> None:
        """Forget the worker once its session is closed (the log stays for diagnosis)."""
        for path in (spec_path(self.directory, self.key), channel_path(self.directory, self.key)):
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
