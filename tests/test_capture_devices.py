"""The console's pre-flight checks do the real thing and answer in words a farmer can act on."""
from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from capture import devices
from capture.testing import free_port


def test_a_missing_camera_fails_the_check_in_plain_chinese_and_logs_the_camera_for_the_engineer():
    result = devices.check_camera("9")
    assert not result.ok and result.message == "摄像头没有连接，请插好摄像头再试" and result.text == result.message
    assert "camera 9" in result.detail and "camera" not in result.text


def test_the_camera_check_gets_a_real_frame_from_a_file_or_the_test_pattern(flat_video):
    from_file = devices.check_camera(str(flat_video))
    assert from_file.ok and from_file.details["width"] == 640
    assert devices.check_camera("testsrc").ok


def test_camera_and_microphone_lists_are_plain_values():
    cameras = devices.list_cameras()
    assert all(c.spec and c.label for c in cameras)
    assert isinstance(devices.list_microphones(), list)


def test_the_microphone_check_hears_a_wav_and_accepts_silence_on_purpose(wav_file, tmp_path: Path):
    heard = devices.check_microphone(str(wav_file), seconds=0.3)
    assert heard.ok and heard.details["level_dbfs"] > -12
    assert devices.check_microphone("none").ok
    missing = devices.check_microphone(str(tmp_path / "missing.wav"), seconds=0.1)
    assert not missing.ok and "打不开" in missing.message


@pytest.mark.media
def test_the_rtmp_check_completes_a_real_handshake_and_masks_the_key(rtmp_server):
    result = devices.check_rtmp(rtmp_server.url("secret-key-123456"))
    assert result.ok, result.message
    assert "secret-key-123456" not in repr(result) and result.details["server"].endswith("se****56")


def test_the_rtmp_check_fails_fast_on_a_closed_port_and_on_a_server_that_is_not_rtmp():
    refused = devices.check_rtmp(f"rtmp://127.0.0.1:{free_port()}/live/key12345678", timeout=2)
    assert not refused.ok and "拒绝连接" in refused.text and "key12345678" not in refused.text + refused.detail

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def answer_http() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(2000)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=answer_http)
        thread.start()
        wrong = devices.check_rtmp(f"rtmp://127.0.0.1:{port}/live/key", timeout=2)
        thread.join(5)
    assert not wrong.ok and wrong.text == "127.0.0.1 不是推流服务器" and "first byte" in wrong.detail


def test_the_disk_check_reports_free_space_against_the_need(tmp_path: Path):
    assert devices.check_disk(tmp_path / "not" / "yet", need_mb=1).ok
    short = devices.check_disk(tmp_path, need_mb=10**9)
    assert not short.ok and "磁盘空间不够" in short.message and short.details["need_mb"] == 10**9
