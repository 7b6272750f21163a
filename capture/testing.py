"""Real stand-ins for rehearsals, tests and benchmarks: a local nginx-rtmp ingest, generated video
and audio files, and ffprobe read-backs. Nothing here is used by a broadcast itself.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

NGINX_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")

NGINX_CONF = """\
load_module {module};
daemon off; master_process on; worker_processes 1;
pid logs/nginx.pid; error_log logs/error.log info;
events {{ worker_connections 64; }}
rtmp {{ server {{ listen 127.0.0.1:{port}; chunk_size 4096;
  application live {{ live on; record off;
    allow publish 127.0.0.1; deny publish all; allow play 127.0.0.1; deny play all; }} }} }}
"""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float, up: bool = True) -> bool:
    """Wait until 127.0.0.1:port accepts connections (``up``) or refuses them; True if so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return True
        except OSError:
            if not up:
                return True
        time.sleep(0.05)
    return False


class NginxRtmp:
    """nginx with the RTMP module, in the foreground from a scratch prefix, on 127.0.0.1.

    ``stop`` is kill -QUIT (graceful), ``kill`` is SIGKILL of master and worker (a crash).
    """

    def __init__(self, prefix: Path, port: int | None = None) -> None:
        self.prefix, self.port = prefix, port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        (prefix / "conf").mkdir(parents=True, exist_ok=True)
        (prefix / "logs").mkdir(exist_ok=True)
        (prefix / "conf" / "nginx.conf").write_text(NGINX_CONF.format(module=NGINX_MODULE, port=self.port))

    @staticmethod
    def available() -> str | None:
        """None when nginx and its RTMP module are installed, else the reason."""
        if not shutil.which("nginx"):
            return "nginx is not installed"
        if not NGINX_MODULE.is_file():
            return "libnginx-mod-rtmp is not installed"
        return None

    def url(self, key: str, app: str = "live") -> str:
        return f"rtmp://127.0.0.1:{self.port}/{app}/{key}"

    def start(self) -> None:
        """Start and wait until it listens; raises RuntimeError with nginx's log if it does not."""
        nginx = shutil.which("nginx") or "nginx"
        self.proc = subprocess.Popen([nginx, "-p", str(self.prefix), "-e", "logs/error.log", "-c", "conf/nginx.conf"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        if not wait_port(self.port, 5.0):
            self.kill()
            raise RuntimeError("nginx-rtmp did not start: " + self.log()[-2000:])

    def log(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 5.0) -> None:
        """Graceful stop: kill -QUIT to the master, then SIGKILL to the group if it lingers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:  # a publisher still connected holds a graceful quit
                self.kill()
                return
        self._reap_group()
        self.proc = None

    def kill(self) -> None:
        """Crash it: SIGKILL master and worker at once (its process group)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):  # already gone: the goal of this method
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)
        wait_port(self.port, 5.0, up=False)
        self.proc = None

    def _reap_group(self) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # a worker left behind by a graceful stop
        except ProcessLookupError:
            return


def make_video(path: Path, *, seconds: float = 2.0, size: tuple[int, int] = (640, 360), fps: int = 30,
               pattern: str = "testsrc2", colour: str = "0x336699") -> Path:
    """An H.264 MP4 made by ffmpeg: ``pattern`` "testsrc2" (moving) or "color" (flat ``colour``).
    Raises subprocess.CalledProcessError if ffmpeg fails."""
    w, h = size
    src = f"testsrc2=s={w}x{h}:r={fps}" if pattern == "testsrc2" else f"color=c={colour}:s={w}x{h}:r={fps}"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", src, "-t", str(seconds),
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(fps), str(path)],
                   check=True, timeout=60)
    return path


def tone(seconds: float, rate: int = 48000, freq: float = 440.0, amplitude: float = 0.5) -> bytes:
    """A sine tone as s16le mono."""
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * math.pi * freq * t) * amplitude * 32767).astype("<i2").tobytes()


def make_wav(path: Path, seconds: float = 2.0, rate: int = 48000, freq: float = 440.0) -> Path:
    """A mono 16-bit WAV with a tone."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(tone(seconds, rate, freq))
    return path


ASOUNDRC = """\
pcm.filemic {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{raw}"
    format "raw"
}}
pcm.!default "filemic"
"""


def make_file_microphone(root: Path, seconds: float = 10.0, rate: int = 48000) -> dict[str, str]:
    """An ALSA ``file`` PCM named "filemic" (and default) that plays a tone as a microphone.

    Returns the environment (a copy of os.environ plus XDG_CONFIG_HOME) under which PyAudio sees
    it; it must be set before the first PyAudio() of a process, so use it for a subprocess.
    """
    root.mkdir(parents=True, exist_ok=True)
    raw = root / "mic.raw"
    raw.write_bytes(tone(seconds, rate))
    (root / "alsa").mkdir(parents=True, exist_ok=True)
    (root / "alsa" / "asoundrc").write_text(ASOUNDRC.format(raw=raw))
    return {**os.environ, "XDG_CONFIG_HOME": str(root)}


def ffprobe(target: str | Path, *extra: str, timeout: float = 20.0) -> dict[str, Any]:
    """ffprobe's JSON for streams and format (and whatever ``extra`` asks). Network reads time out
    after 5 s of silence. Raises subprocess.CalledProcessError / TimeoutExpired."""
    argv = ["ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format", *extra]
    if "://" in str(target):
        argv += ["-rw_timeout", "5000000"]
    out = subprocess.run([*argv, str(target)], check=True, capture_output=True, timeout=timeout).stdout
    return dict(json.loads(out))


def decode_count(target: str | Path, timeout: float = 60.0) -> tuple[int, float, str]:
    """Decode every video frame: (frames, seconds of the last frame, errors printed)."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
         "stream=nb_read_frames:frame=pts_time", "-of", "json", str(target)],
        capture_output=True, timeout=timeout, check=False)
    data = json.loads(result.stdout or b"{}")
    frames = int(data.get("streams", [{}])[0].get("nb_read_frames", 0) or 0)
    times = [float(f["pts_time"]) for f in data.get("frames", []) if f.get("pts_time") not in (None, "N/A")]
    return frames, max(times, default=0.0), result.stderr.decode(errors="replace")


def grab_frame(url: str, size: tuple[int, int], *, skip_s: float = 1.0, timeout: float = 20.0) -> np.ndarray:
    """One BGR frame of a live stream, ``skip_s`` after joining (past the first keyframe).
    Raises subprocess.CalledProcessError / TimeoutExpired, or ValueError for a short read."""
    w, h = size
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-rw_timeout", "5000000", "-i", url, "-ss", str(skip_s),
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "pipe:1"],
        check=True, capture_output=True, timeout=timeout).stdout
    if len(out) != w * h * 3:
        raise ValueError(f"got {len(out)} bytes, expected one {w}x{h} frame")
    return np.frombuffer(out, np.uint8).reshape(h, w, 3)


def audio_levels(target: str | Path, timeout: float = 60.0) -> tuple[float, float]:
    """(mean, max) volume in dB of the first audio track, through ffmpeg's volumedetect."""
    err = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(target), "-map", "0:a:0",
                          "-af", "volumedetect", "-f", "null", "-"],
                         capture_output=True, timeout=timeout, check=False).stderr.decode(errors="replace")

    def value(name: str) -> float:
        for line in err.splitlines():
            if f"{name}:" in line:
                return float(line.split(f"{name}:")[1].split()[0])
        return -math.inf

    return value("mean_volume"), value("max_volume")
