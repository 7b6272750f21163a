"""Capture settings reject typos with messages a person can read, and never echo a stream key."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from capture.errors import SettingInvalid
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
    ("rtmp:///live/key", "缺少服务器地址"),
    ("rtmp://push.example.com/key", "缺少应用名或推流码"),
    ("rtmp://push.example.com/live/k ey", "空格"),
    ("rtmp://push.example.com:99x/live/key", "端口不对"),
])
def test_a_bad_destination_says_what_is_wrong_in_a_message_id_the_app_translates(url, words):
    with pytest.raises(ValidationError) as caught:
        CaptureSettings(destinations=[url])
    assert words in str(caught.value) and "第 1 个推流地址" in str(caught.value)
    cause = caught.value.errors()[0]["ctx"]["error"]
    assert isinstance(cause, SettingInvalid) and cause.params == {"n": 1} and words in cause.msgid
    assert not re.search(r"\([a-z ]{4,}", str(cause)), "no English tail"


def test_validation_errors_never_show_the_stream_key():
    with pytest.raises(ValidationError) as caught:
        CaptureSettings(destinations=[KEY_URL, "ftp://x/live/sk-9f8e7d6c5b4a"])
    assert "9f8e7d6c5b4a" not in str(caught.value)


def test_rtmp_and_rtmps_destinations_are_accepted_and_duplicates_refused():
    s = CaptureSettings(destinations=[KEY_URL, "rtmps://live.example.com:443/app/abc?sign=xyz"])
    assert len(s.destinations) == 2
    with pytest.raises(ValidationError, match="同一个推流地址填了两次"):
        CaptureSettings(destinations=[KEY_URL, KEY_URL])


@pytest.mark.parametrize("field, value", [("preset", "1080p60"), ("layout", "square"), ("video", "  "),
                                          ("reconnect_initial_s", 0), ("queue_frames", 1)])
def test_out_of_range_values_are_refused(field, value):
    with pytest.raises(ValidationError, match=field):
        CaptureSettings(**{field: value})


def test_backoff_max_below_initial_is_refused():
    with pytest.raises(ValidationError, match="重连的最长等待不能短于第一次等待"):
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
