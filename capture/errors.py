"""Errors a person can read: a Chinese message id (what the farmer sees) and an English detail
for the engineer's log.

Every error that :mod:`capture` raises on purpose is a :class:`CaptureError`, so the app can
catch one type. ``zh`` is a message id marked with :func:`N_`: the app translates it into the
person's language (``app.i18n.localized``); ``str(exc)`` is the Chinese text alone, never
bilingual. ``en`` is for logs only. Nothing here ever carries a stream key.
"""
from __future__ import annotations


def N_(message: str) -> str:
    """Mark a Chinese message id for extraction (``python -m scripts.i18n``). capture/ imports none
    of our packages, so it has its own marker; the app translates the id where it is shown."""
    return message


class CaptureError(Exception):
    """Base class: ``zh`` is the message id shown to people, ``en`` the engineer's detail."""

    def __init__(self, zh: str, en: str, **params: object) -> None:
        super().__init__(zh % params if params else zh)
        self.zh = zh
        self.en = en
        self.msgid = zh
        self.params = params


class SettingInvalid(ValueError):
    """A capture setting is wrong (raised inside pydantic validators, so a ``ValueError``).

    ``msgid`` and ``params`` let the app show it in the person's language; ``str(exc)`` is Chinese.
    """

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid % params if params else msgid)
        self.msgid = msgid
        self.params = params


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
