"""Errors a person can read: Chinese first (what the farmer sees), English in parentheses.

Every error that :mod:`capture` raises on purpose is a :class:`CaptureError`, so the app can
catch one type and show ``str(exc)``; nothing here ever carries a stream key.
"""
from __future__ import annotations


class CaptureError(Exception):
    """Base class: ``str(exc)`` is ``"中文说明 (English detail)"``, ready to show."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} ({en})")
        self.zh = zh
        self.en = en


class CameraNotFound(CaptureError):
    """The webcam (index or device path) is not there or cannot be opened."""


class VideoSourceError(CaptureError):
    """A video file or URL cannot be opened or read."""


class MicrophoneNotFound(CaptureError):
    """The microphone named in the settings does not exist, or PyAudio is unavailable."""


class AudioSourceError(CaptureError):
    """A WAV file cannot be read, or a microphone opened but cannot deliver audio."""


class FfmpegNotFound(CaptureError):
    """No usable ffmpeg binary (settings, CUNBO_FFMPEG, PATH)."""


class EncoderError(CaptureError):
    """ffmpeg could not be started, or the recording folder is not writable."""


class NotRunning(CaptureError):
    """An operation needs a running capture (or an idle one, for start)."""
