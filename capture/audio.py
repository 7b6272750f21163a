"""Audio sources behind one interface: a microphone (PyAudio), a WAV file, or silence.

Sources are *pulled*: the encoder's audio feeder asks for as many samples as the video it has
written calls for, and a source returns what it has now without blocking. That keeps audio and
video in step by construction, and it does not trust a device to block (an ALSA ``file`` PCM
returns seconds of audio in a millisecond).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import math
import sys
import threading
import wave
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from capture.errors import N_, AudioSourceError, MicrophoneNotFound

log = logging.getLogger(__name__)

FLOOR_DBFS = -96.0  # 16-bit floor; also what silence reports (JSON has no -infinity)
SAMPLE_BYTES = 2  # s16le
_PORTAUDIO_LOCK = threading.Lock()  # Pa_Initialize/Terminate are not thread-safe


def dbfs_levels(pcm: bytes | np.ndarray) -> tuple[float, float]:
    """(RMS, peak) of s16le samples in dBFS, floored at :data:`FLOOR_DBFS`."""
    samples = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, bytes | bytearray | memoryview) else pcm
    if samples.size == 0:
        return FLOOR_DBFS, FLOOR_DBFS
    as_float = samples.astype(np.float32)
    rms = float(np.sqrt(np.mean(as_float * as_float))) / 32768.0
    peak = float(np.max(np.abs(as_float))) / 32768.0

    def db(x: float) -> float:
        return max(FLOOR_DBFS, 20.0 * math.log10(x)) if x > 0 else FLOOR_DBFS

    return round(db(rms), 1), round(db(peak), 1)


class AudioMeter:
    """The level shown on the console's meter: last RMS, and a peak that falls 20 dB/s."""

    def __init__(self) -> None:
        self.rms_dbfs = FLOOR_DBFS
        self.peak_dbfs = FLOOR_DBFS
        self._peak_at = 0.0

    def update(self, pcm: bytes, now: float) -> None:
        """Account for samples just sent to the encoder."""
        rms, peak = dbfs_levels(pcm)
        self.rms_dbfs = rms
        held = self.peak_dbfs - 20.0 * max(0.0, now - self._peak_at)
        if peak >= held:
            self.peak_dbfs, self._peak_at = peak, now
        else:
            self.peak_dbfs = max(FLOOR_DBFS, round(held, 1))
            self._peak_at = now


class AudioSource(ABC):
    """Interleaved s16le at ``rate`` Hz, ``channels`` channels. ``open`` raises; ``read`` never."""

    label: str = ""
    rate: int = 48000
    channels: int = 1

    @abstractmethod
    def open(self) -> None:
        """Open and validate; raises :class:`MicrophoneNotFound` or :class:`AudioSourceError`."""

    @abstractmethod
    def read(self, frames: int) -> bytes:
        """Up to ``frames`` sample frames available now (may be fewer, even none)."""

    def close(self) -> None:
        """Release the device or file; safe to call twice."""


class SilenceSource(AudioSource):
    """Digital silence: platforms reject a stream without an audio track."""

    def __init__(self, rate: int = 48000) -> None:
        self.label, self.rate, self.channels = "silence", rate, 1

    def open(self) -> None:
        """Never raises."""

    def read(self, frames: int) -> bytes:
        return bytes(frames * SAMPLE_BYTES * self.channels)


class WavSource(AudioSource):
    """A 16-bit PCM WAV file, looped or followed by silence."""

    def __init__(self, path: Path, loop: bool) -> None:
        self.path, self.loop, self.label = path, loop, path.name
        self._wav: wave.Wave_read | None = None

    def open(self) -> None:
        """Raises :class:`AudioSourceError` for a missing file or one that is not 16-bit PCM."""
        try:
            wav = wave.open(str(self.path), "rb")
        except (OSError, EOFError, wave.Error) as exc:
            raise AudioSourceError(N_("音频文件打不开"), f"cannot read WAV {self.path.name}: {exc}") from exc
        if wav.getsampwidth() != SAMPLE_BYTES or wav.getnchannels() not in (1, 2):
            wav.close()
            raise AudioSourceError(N_("音频文件要 16 位的单声道或立体声 WAV"), f"{self.path.name}: need 16-bit mono/stereo PCM")
        self._wav, self.rate, self.channels = wav, wav.getframerate(), wav.getnchannels()

    def read(self, frames: int) -> bytes:
        if self._wav is None:
            return bytes(frames * SAMPLE_BYTES * self.channels)
        out = bytearray()
        frame_bytes = SAMPLE_BYTES * self.channels
        while len(out) < frames * frame_bytes:
            chunk = self._wav.readframes(frames - len(out) // frame_bytes)
            if not chunk:
                if not self.loop or self._wav.getnframes() == 0:
                    out.extend(bytes(frames * frame_bytes - len(out)))
                    break
                self._wav.rewind()
            out.extend(chunk)
        return bytes(out)

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._wav = None


# -- PyAudio -------------------------------------------------------------------------------

_ALSA_HANDLER: Any = None  # keep the ctypes callback alive for as long as ALSA may call it


@functools.cache
def _silence_alsa() -> None:
    """PyAudio's first PyAudio() makes ALSA print ~60 'ALSA lib …' lines to stderr; route them
    to a no-op handler (our own log says what matters)."""
    global _ALSA_HANDLER
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("asound")
    if not name:
        return
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        log.debug("libasound could not be loaded; ALSA messages stay on stderr")
        return
    handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)
    _ALSA_HANDLER = handler_type(lambda *args: None)
    lib.snd_lib_error_set_handler(_ALSA_HANDLER)


def _pyaudio_module() -> Any:
    """Import PyAudio; raises :class:`MicrophoneNotFound` when it is not installed."""
    try:
        import pyaudio
    except ImportError as exc:  # built from source; portaudio19-dev may be missing
        raise MicrophoneNotFound(N_("麦克风功能不可用（没有安装 PyAudio）"), f"PyAudio unavailable: {exc}") from exc
    _silence_alsa()
    return pyaudio


@dataclass(frozen=True)
class MicrophoneInfo:
    """One input device as PyAudio sees it; ``spec`` is what settings ``audio`` takes."""

    index: int
    name: str
    channels: int
    default_rate: int
    is_default: bool

    @property
    def spec(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        return self.name + ("（默认）" if self.is_default else "")


def _input_devices(pa: Any) -> tuple[list[MicrophoneInfo], int | None]:
    try:
        default = int(pa.get_default_input_device_info()["index"])
    except OSError:  # 'No Default Input Device Available'
        default = None
    found = []
    for index in range(pa.get_device_count()):
        info = pa.get_device_info_by_index(index)
        if int(info.get("maxInputChannels", 0)) > 0:
            found.append(MicrophoneInfo(index, str(info["name"]), int(info["maxInputChannels"]),
                                        int(info.get("defaultSampleRate", 44100)), index == default))
    return found, default


def list_microphones() -> list[MicrophoneInfo]:
    """Input devices, default first; [] when PyAudio is missing or there is no sound card."""
    try:
        pyaudio = _pyaudio_module()
    except MicrophoneNotFound as exc:
        log.info("%s", exc)
        return []
    with _PORTAUDIO_LOCK:
        pa = pyaudio.PyAudio()
        try:
            found, _ = _input_devices(pa)
        finally:
            pa.terminate()
    return sorted(found, key=lambda m: (not m.is_default, m.index))


def resolve_microphone(spec: str, devices: list[MicrophoneInfo], default: int | None) -> MicrophoneInfo:
    """Pick the device for ``spec``: "default", an index, an exact name, then a unique substring.

    Raises :class:`MicrophoneNotFound` naming the spec. Checking here matters: PyAudio
    segfaults the whole process when opened on an index that does not exist.
    """
    if spec == "default":
        chosen = [d for d in devices if d.index == default] or devices[:1]
        if not chosen:
            raise MicrophoneNotFound(N_("没有找到麦克风，请插好麦克风，或选“不用麦克风”"), "no input device")
        return chosen[0]
    if spec.isdigit():
        by_index = [d for d in devices if d.index == int(spec)]
        if not by_index:
            raise MicrophoneNotFound(N_("没有这个编号的麦克风"), f"microphone {spec} not found")
        return by_index[0]
    exact = [d for d in devices if d.name == spec]
    partial = [d for d in devices if spec.lower() in d.name.lower()]
    if exact or len(partial) == 1:
        return (exact or partial)[0]
    if partial:
        raise MicrophoneNotFound(N_("有好几个麦克风都叫这个名字，请写完整的名字"), f"microphone {spec!r} is ambiguous")
    raise MicrophoneNotFound(N_("没有找到这个麦克风，请插好再试"), f"microphone {spec!r} not found")


class MicrophoneSource(AudioSource):
    """A PyAudio input stream, validated before opening and read without blocking."""

    def __init__(self, spec: str, rate: int) -> None:
        self.spec, self.rate, self.channels, self.label = spec, rate, 1, f"microphone {spec}"
        self._pa: Any = None
        self._stream: Any = None

    def open(self) -> None:
        """Raises :class:`MicrophoneNotFound` (missing, PyAudio unavailable) or
        :class:`AudioSourceError` (present but refuses to open)."""
        pyaudio = _pyaudio_module()
        with _PORTAUDIO_LOCK:
            pa = pyaudio.PyAudio()
            try:
                devices, default = _input_devices(pa)
                device = resolve_microphone(self.spec, devices, default)
                rate = self.rate
                try:
                    pa.is_format_supported(rate, input_device=device.index, input_channels=1,
                                           input_format=pyaudio.paInt16)
                except ValueError:
                    rate = device.default_rate
                stream = pa.open(format=pyaudio.paInt16, channels=1, rate=rate, input=True,
                                 input_device_index=device.index, frames_per_buffer=1024)
            except (OSError, ValueError) as exc:
                pa.terminate()
                raise AudioSourceError(N_("麦克风打不开，可能被别的程序占用"), f"cannot open {self.spec!r}: {exc}") from exc
            except MicrophoneNotFound:
                pa.terminate()
                raise
        self._pa, self._stream, self.rate = pa, stream, rate
        self.label = f"microphone {device.name}"

    def read(self, frames: int) -> bytes:
        stream = self._stream
        if stream is None or frames <= 0:
            return b""
        try:
            available = stream.get_read_available()
            n = min(frames, max(0, available))
            return bytes(stream.read(n, exception_on_overflow=False)) if n else b""
        except OSError as exc:  # unplugged mid-broadcast: the feeder pads with silence
            log.warning("microphone read failed: %s", exc)
            return b""

    def close(self) -> None:
        with _PORTAUDIO_LOCK:
            if self._stream is not None:
                self._stream.stop_stream()
                self._stream.close()
                self._stream = None
            if self._pa is not None:
                self._pa.terminate()
                self._pa = None


def make_audio_source(spec: str, rate: int, loop: bool) -> AudioSource:
    """The source for a settings ``audio`` value (not opened yet)."""
    if spec.lower() == "none":
        return SilenceSource(rate)
    if spec.lower().endswith(".wav"):
        return WavSource(Path(spec), loop)
    return MicrophoneSource(spec, rate)
