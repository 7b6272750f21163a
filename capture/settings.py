"""Validated capture settings: a typo is an error a person can read at start-up, not mid-broadcast.

Errors hide the input value (``hide_input_in_errors``): a rejected push URL carries its stream key,
and a ValidationError is exactly the kind of text that ends up in a log.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from capture.errors import N_, SettingInvalid


@dataclass(frozen=True)
class VideoPreset:
    """Output size, frame rate and bit rates of one preset (landscape numbers; portrait swaps)."""

    width: int
    height: int
    fps: int
    video_kbps: int
    audio_kbps: int


PRESETS: dict[str, VideoPreset] = {
    "720p30": VideoPreset(1280, 720, 30, 2500, 128),
    "540p30": VideoPreset(960, 540, 30, 1200, 128),
    "480p30": VideoPreset(854, 480, 30, 800, 96),
}

PresetName = Literal["720p30", "540p30", "480p30"]
LayoutName = Literal["landscape", "portrait"]
PUSH_SCHEMES = ("rtmp", "rtmps")


class CaptureSettings(BaseModel):
    """Everything one broadcast needs: source, audio, destinations, recording, timings."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    video: str = Field(
        "0",
        description='Video source: a webcam index ("0") or device path (/dev/video0), "testsrc" for '
        "the test pattern, otherwise a video file path or a URL.",
    )
    audio: str = Field(
        "default",
        description='Audio source: "default" microphone, a microphone name or index, a .wav file, '
        'or "none" for silence (platforms reject streams without audio).',
    )
    destinations: list[str] = Field(
        default_factory=list, description="Push URLs (rtmp:// or rtmps://), each with its stream key."
    )
    record: bool = Field(True, description="Keep a local recording (Matroska segments).")
    recording_dir: Path = Field(Path("recordings"), description="Folder for recordings; created on start.")
    preset: PresetName = Field("720p30", description="Output size, frame rate and bit rate.")
    layout: LayoutName = Field("landscape", description="16:9 landscape, or 9:16 portrait (Douyin).")
    loop: bool = Field(True, description="Loop a video or WAV file when it ends.")
    ffmpeg: str | None = Field(
        None, description="ffmpeg binary; default: $CUNBO_FFMPEG, then ffmpeg on PATH."
    )
    audio_rate: int = Field(48000, ge=8000, le=96000, description="Microphone sample rate asked for (Hz).")
    reconnect_initial_s: float = Field(
        1.0, gt=0, le=60, description="First wait before reconnecting a source or destination (s)."
    )
    # 8 s, not 30: with 30 a platform back after a 30 s outage got no push for up to 30 s more
    # (tests/test_live_fault_suite.py); an attempt against a dead server costs one short ffmpeg.
    reconnect_max_s: float = Field(8.0, gt=0, le=600, description="Longest reconnect wait; doubles up to it (s).")
    destination_max_failures: int = Field(
        0, ge=0, description="Give a destination up after this many failures in a row (0: never)."
    )
    source_stall_s: float = Field(
        3.0, gt=0, le=60, description="No new frame for this long: show the slate and reconnect the source (s)."
    )
    encoder_stall_s: float = Field(
        8.0, gt=0, le=120, description="Encoder accepts no frame for this long: restart it in a new segment (s)."
    )
    preview_fps: int = Field(15, ge=1, le=15, description="MJPEG preview frame rate while watched.")
    preview_width: int = Field(640, ge=160, le=1280, description="MJPEG preview width in pixels.")
    queue_frames: int = Field(
        15, ge=2, le=120, description="Frames buffered between the output loop and the encoder pipe."
    )

    @field_validator("video", "audio")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise SettingInvalid(N_("不能为空"))
        if any(ord(c) < 32 for c in value):
            raise SettingInvalid(N_("含有控制字符"))
        return value

    @field_validator("destinations")
    @classmethod
    def _push_urls(cls, urls: list[str]) -> list[str]:
        cleaned: list[str] = []
        for n, raw in enumerate(urls, start=1):
            url = raw.strip()
            if any(c.isspace() or ord(c) < 32 for c in url):
                raise SettingInvalid(N_("第 %(n)d 个推流地址含有空格或控制字符"), n=n)
            parts = urlsplit(url)
            if parts.scheme.lower() not in PUSH_SCHEMES:
                raise SettingInvalid(N_("第 %(n)d 个推流地址必须以 rtmp:// 或 rtmps:// 开头"), n=n)
            if not parts.hostname:
                raise SettingInvalid(N_("第 %(n)d 个推流地址缺少服务器地址"), n=n)
            try:
                parts.port  # noqa: B018 — raises for a port that is not a number
            except ValueError as exc:
                raise SettingInvalid(N_("第 %(n)d 个推流地址端口不对"), n=n) from exc
            if len([s for s in parts.path.split("/") if s]) < 2:
                raise SettingInvalid(N_("第 %(n)d 个推流地址缺少应用名或推流码"), n=n)
            cleaned.append(url)
        if len(set(cleaned)) != len(cleaned):
            raise SettingInvalid(N_("同一个推流地址填了两次"))
        return cleaned

    @field_validator("ffmpeg")
    @classmethod
    def _ffmpeg_path(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _backoff_order(self) -> CaptureSettings:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise SettingInvalid(N_("重连的最长等待不能短于第一次等待"))
        return self

    @property
    def output_size(self) -> tuple[int, int]:
        """(width, height) of the encoded video, after the layout."""
        p = PRESETS[self.preset]
        return (p.height, p.width) if self.layout == "portrait" else (p.width, p.height)

    @property
    def fps(self) -> int:
        """Output frame rate of the preset."""
        return PRESETS[self.preset].fps
