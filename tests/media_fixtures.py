"""Media fixtures (generated video, nginx-rtmp, file-PCM microphone): owned by the capture work.

Real parts only: videos are made by ffmpeg and read back through cv2.VideoCapture, the ingest is
nginx with the RTMP module on 127.0.0.1 (a free port, a scratch prefix, kill -QUIT at teardown),
and the microphone is an ALSA ``file`` PCM seen by PyAudio in a subprocess (its environment must
be set before the first PyAudio() of a process, so it never leaks into this one).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from capture.settings import CaptureSettings
from capture.supervisor import Supervisor
from capture.testing import NginxRtmp, make_file_microphone, make_video, make_wav

VideoFactory = Callable[..., Path]


def _need_ffmpeg() -> None:
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg/ffprobe are not installed (apt-get install ffmpeg)")


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch folder for generated media, shared by the whole run."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def video_factory(media_dir: Path) -> VideoFactory:
    """``make(seconds=2, size=(640, 360), fps=30, pattern="testsrc2"|"color", colour=...)`` → an
    H.264 MP4 made by ffmpeg, cached per parameters for the run."""
    _need_ffmpeg()
    cache: dict[tuple[Any, ...], Path] = {}
    lock = threading.Lock()

    def make(seconds: float = 2.0, size: tuple[int, int] = (640, 360), fps: int = 30,
             pattern: str = "testsrc2", colour: str = "0x336699") -> Path:
        key = (seconds, size, fps, pattern, colour)
        with lock:
            if key not in cache:
                name = f"{pattern}-{colour[2:]}-{size[0]}x{size[1]}-{fps}-{seconds}.mp4"
                cache[key] = make_video(media_dir / name, seconds=seconds, size=size, fps=fps,
                                        pattern=pattern, colour=colour)
            return cache[key]

    return make


@pytest.fixture(scope="session")
def flat_video(video_factory: VideoFactory) -> Path:
    """Two seconds of flat blue-grey (RGB 0x336699) at 640×360: any card stands out against it."""
    return video_factory(pattern="color", colour="0x336699")


@pytest.fixture(scope="session")
def wav_file(media_dir: Path) -> Path:
    """Two seconds of a 440 Hz tone, mono 48 kHz."""
    return make_wav(media_dir / "tone.wav")


@pytest.fixture
def rtmp_server(tmp_path: Path) -> Iterator[NginxRtmp]:
    """A running nginx-rtmp on 127.0.0.1 (free port); stopped with kill -QUIT at teardown."""
    _need_ffmpeg()
    reason = NginxRtmp.available()
    if reason:
        pytest.skip(reason + " (apt-get install nginx libnginx-mod-rtmp)")
    server = NginxRtmp(tmp_path / "nginx")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def file_microphone(tmp_path: Path) -> dict[str, str]:
    """Environment for a subprocess in which PyAudio sees an ALSA file-PCM microphone "filemic"
    (also the default) playing a 440 Hz tone. Skips when PyAudio cannot be imported."""
    if importlib.util.find_spec("pyaudio") is None:
        pytest.skip("PyAudio is not installed (needs portaudio19-dev to build)")
    try:
        import pyaudio  # noqa: F401  — a broken build fails here, not in the subprocess
    except ImportError as exc:
        pytest.skip(f"PyAudio cannot be imported: {exc}")
    return make_file_microphone(tmp_path / "xdg")


@pytest.fixture
def capture_settings(tmp_path: Path) -> Callable[..., CaptureSettings]:
    """``make(**overrides)``: settings for tests — 480p, recordings in tmp_path, fast backoff."""

    def make(**overrides: Any) -> CaptureSettings:
        values: dict[str, Any] = dict(video="testsrc", audio="none", preset="480p30",
                                      recording_dir=tmp_path / "recordings", reconnect_initial_s=0.3,
                                      reconnect_max_s=1.0, source_stall_s=2.0)
        values.update(overrides)
        return CaptureSettings(**values)

    return make


@pytest.fixture
def start_capture() -> Iterator[Callable[[CaptureSettings], Supervisor]]:
    """``start(settings)`` → a started Supervisor; any still running is stopped at teardown."""
    started: list[Supervisor] = []

    def start(settings: CaptureSettings, **kwargs: Any) -> Supervisor:
        supervisor = Supervisor(settings, **kwargs)
        started.append(supervisor)
        supervisor.start()
        return supervisor

    yield start
    for supervisor in started:
        if supervisor.state not in ("idle", "stopping"):
            supervisor.stop()


def _children_named(names: set[str]) -> list[int]:
    """Pids of this process's direct children whose command name is in ``names`` (Linux /proc)."""
    me, found = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended while we looked
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        state = text[text.rindex(")") + 2:].split()[0]
        if ppid == me and comm in names and state != "Z":
            found.append(int(stat.parent.name))
    return found


def stray_processes(root: Path) -> list[str]:
    """Broadcast workers and encoders a test left behind: any process whose command line names a
    path under ``root`` (a worker's spec, an encoder's recording). A worker's relays are in its
    process group, which every stop kills."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        info = proc.info
        if info["status"] == psutil.STATUS_ZOMBIE or info["pid"] == os.getpid():
            continue
        cmdline = " ".join(info["cmdline"] or [])
        if str(root) in cmdline:
            found.append(f"{info['pid']} {cmdline[:120]}")
    return found


@pytest.fixture
def no_stray_processes(tmp_path: Path) -> Iterator[None]:
    """Fails a test that leaves a broadcast worker or one of its ffmpeg processes running."""
    yield
    deadline = time.monotonic() + 5.0
    while (left := stray_processes(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for line in left:
        try:
            psutil.Process(int(line.split()[0])).kill()
        except psutil.Error:
            pass
    assert not left, f"left running after the test: {left}"


@pytest.fixture
def no_capture_leaks() -> Iterator[None]:
    """Fails a test that leaves an ffmpeg child or a capture thread behind."""
    yield
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        procs = _children_named({"ffmpeg", "ffprobe"})
        threads = [t.name for t in threading.enumerate() if t.name.startswith("cunbo-") and t.is_alive()]
        if not procs and not threads:
            return
        time.sleep(0.1)
    raise AssertionError(f"leaked after the test: ffmpeg pids {procs}, threads {threads}")
