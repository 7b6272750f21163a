"""The ffmpeg command lines, asserted as data."""
from __future__ import annotations

from pathlib import Path

import pytest

from capture.errors import FfmpegNotFound
from capture.ffmpeg import (PRESET_VIDEO_ARGS, encoder_argv, find_ffmpeg, parse_progress_line, progress_number,
                            relay_argv)


def encoder(preset: str = "720p30", recording: Path | None = Path("/rec/a b|c.mkv")) -> list[str]:
    return encoder_argv("/usr/bin/ffmpeg", preset=preset, width=1280, height=720, audio_port=40001,
                        audio_rate=48000, audio_channels=1, recording=recording)


def after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_encoder_takes_raw_i420_on_stdin_and_pcm_over_localhost_tcp():
    argv = encoder()
    assert argv[0] == "/usr/bin/ffmpeg"
    first = argv.index("-i")
    assert argv[first + 1] == "pipe:0" and after(argv, "-pix_fmt") == "yuv420p"
    assert after(argv, "-video_size") == "1280x720" and after(argv, "-framerate") == "30"
    assert "tcp://127.0.0.1:40001" in argv and after(argv, "-ar") == "48000" and after(argv, "-ch_layout") == "mono"


@pytest.mark.parametrize("preset, kbps", [("720p30", 2500), ("540p30", 1200), ("480p30", 800)])
def test_presets_set_h264_yuv420p_2s_keyframes_and_their_bit_rate(preset, kbps):
    argv = encoder(preset)
    assert after(argv, "-c:v") == "libx264" and after(argv, "-c:a") == "aac"
    out_pix = [argv[i + 1] for i, a in enumerate(argv) if a == "-pix_fmt"]
    assert out_pix == ["yuv420p", "yuv420p"]  # input and output: never High 4:4:4
    assert after(argv, "-g") == "60" and after(argv, "-keyint_min") == "60" and after(argv, "-sc_threshold") == "0"
    assert after(argv, "-b:v") == f"{kbps}k" and after(argv, "-maxrate") == f"{kbps}k"
    assert PRESET_VIDEO_ARGS[preset][1] == f"{kbps}k"


def test_one_encode_feeds_a_crash_safe_recording_and_the_relay_stream():
    argv = encoder()
    assert argv.count("-c:v") == 1 and after(argv, "-f") != "tee" and argv[-3:-1] == ["-f", "tee"]
    outputs = argv[-1]
    assert outputs.startswith("[f=matroska:cluster_time_limit=1000:flush_packets=1]file:/rec/a b\\|c.mkv|")
    assert outputs.endswith("[f=mpegts:bsfs/v=dump_extra=freq=keyframe]pipe:1")
    assert "+global_header" in argv


def test_without_recording_only_the_relay_stream_is_written():
    assert encoder(recording=None)[-1] == "[f=mpegts:bsfs/v=dump_extra=freq=keyframe]pipe:1"


def test_relay_copies_without_reencoding_to_flv_and_times_out():
    argv = relay_argv("ffmpeg", "rtmp://h/live/key")
    assert argv[-1] == "rtmp://h/live/key" and after(argv, "-c") == "copy"
    assert argv[argv.index("-i") - 1] == "mpegts" and after(argv, "-i") == "pipe:0"
    assert after(argv, "-rw_timeout") == "10000000" and argv[-4:-1] == ["flv", "-flvflags", "no_duration_filesize"]
    assert "libx264" not in argv and not any(" " in a for a in argv[:-1])
    # A relay joining a running stream waits for the next keyframe (2 s GOP) instead of giving up.
    assert float(after(argv, "-analyzeduration")) < 1e6
    assert float(after(relay_argv("ffmpeg", "rtmp://h/live/key", rejoin=True), "-analyzeduration")) > 2e6


def test_find_ffmpeg_prefers_settings_then_env_and_names_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("CUNBO_FFMPEG", "/nowhere/ffmpeg")
    with pytest.raises(FfmpegNotFound) as missing:
        find_ffmpeg()
    assert "/nowhere/ffmpeg" in missing.value.en  # the engineer's detail (the log) names the path
    fake = tmp_path / "myffmpeg"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_ffmpeg(str(fake)) == str(fake)
    monkeypatch.delenv("CUNBO_FFMPEG")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(FfmpegNotFound, match="没有安装 ffmpeg"):
        find_ffmpeg()


def test_progress_lines_are_parsed_and_others_ignored():
    assert parse_progress_line("speed=1.01x\n") == ("speed", "1.01x")
    assert parse_progress_line("[tee @ 0x1] Slave muxer #1 failed") is None
    assert progress_number("2500.1kbits/s") == 2500.1 and progress_number("1.01x") == 1.01
    assert progress_number("N/A") is None and progress_number(None) is None
