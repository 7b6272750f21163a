"""Capture settings reject typos with messages a person can read, and never echo a stream key."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from capture.redact import mask_url, redact
from capture.settings import CaptureSettings

KEY_URL = "rtmp://push.example.com/live/sk-9f8e7d6c5b4a"


def test_defaults_are_a_720p30_landscape_recording_from_camera_0():
    s = CaptureSettings()
    assert (s.video, s.audio, s.preset, s.layout, s.record, s.loop) == ("0", "default", "720p30", "landscape", True, True)
    assert s.output_size == (1280, 720) and s.fps == 30
    assert CaptureSettings(layout="portrait", preset="540p30").output_size == (540, 960)
    assert all(field.description for field in CaptureSettings.model_fields.values())


def test_a_misspelt_setting_is_refused_by_name():
    with pytest.raises(ValidationError, match="recording_dri"):
        CaptureSettings(recording_dri=Path("x"))


@pytest.mark.parametrize("url, words", [
    ("http://push.example.com/live/key", "rtmp:// 或 rtmps://"),
    ("rtmp:///live/key", "has no host"),
    ("rtmp://push.example.com/key", "needs /app/streamkey"),
    ("rtmp://push.example.com/live/k ey", "spaces"),
    ("rtmp://push.example.com:99x/live/key", "bad port"),
])
def test_a_bad_destination_says_what_is_wrong(url, words):
    with pytest.raises(ValidationError) as caught:
        CaptureSettings(destinations=[url])
    assert words in str(caught.value) and "destination 1" in str(caught.value)


def test_validation_errors_never_show_the_stream_key():
    with pytest.raises(ValidationError) as caught:
        CaptureSettings(destinations=[KEY_URL, "ftp://x/live/sk-9f8e7d6c5b4a"])
    assert "9f8e7d6c5b4a" not in str(caught.value)


def test_rtmp_and_rtmps_destinations_are_accepted_and_duplicates_refused():
    s = CaptureSettings(destinations=[KEY_URL, "rtmps://live.example.com:443/app/abc?sign=xyz"])
    assert len(s.destinations) == 2
    with pytest.raises(ValidationError, match="listed twice"):
        CaptureSettings(destinations=[KEY_URL, KEY_URL])


@pytest.mark.parametrize("field, value", [("preset", "1080p60"), ("layout", "square"), ("video", "  "),
                                          ("reconnect_initial_s", 0), ("queue_frames", 1)])
def test_out_of_range_values_are_refused(field, value):
    with pytest.raises(ValidationError, match=field):
        CaptureSettings(**{field: value})


def test_backoff_max_below_initial_is_refused():
    with pytest.raises(ValidationError, match="reconnect_max_s"):
        CaptureSettings(reconnect_initial_s=5, reconnect_max_s=1)


@pytest.mark.parametrize("url, masked", [
    ("rtmp://host/app/abcdef1234yz", "rtmp://host/app/ab****yz"),
    ("rtmp://host:1935/live/short", "rtmp://host:1935/live/****"),
    ("rtmps://u:secretpw@host/app/k123456789?sign=abcdefghij&t=1", "rtmps://u:****@host/app/k1****89?sign=ab****ij&t=****"),
    ("rtmp://host/app", "rtmp://host/app"),
])
def test_mask_url_hides_keys_query_values_and_passwords(url, masked):
    assert mask_url(url) == masked


def test_redact_masks_a_key_wherever_ffmpeg_repeats_it():
    line = f"[flv @ 0x1] {KEY_URL}: Broken pipe; stream sk-9f8e7d6c5b4a"
    cleaned = redact(line, [KEY_URL])
    assert "9f8e7d6c5b4a" not in cleaned and "sk****4a" in cleaned
