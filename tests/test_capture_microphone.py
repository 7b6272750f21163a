"""PyAudio for real, on an ALSA ``file`` PCM microphone. Each test runs in a subprocess because
ALSA reads XDG_CONFIG_HOME once, at the first PyAudio() of a process: this keeps it from leaking
into (or being pre-empted by) the test process."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from capture.testing import audio_levels

pytestmark = [pytest.mark.media, pytest.mark.usefixtures("no_capture_leaks")]

ROOT = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent("""
    import json, threading
    from capture.audio import MicrophoneSource, dbfs_levels, list_microphones
    from capture.devices import check_microphone
    from capture.errors import MicrophoneNotFound
    out = {"names": [m.name for m in list_microphones()]}
    mic = MicrophoneSource("filemic", 48000)
    mic.open()
    got, pause = b"", threading.Event()
    while len(got) < 48000 * 2 and not pause.wait(0.02):
        got += mic.read(4800)
    mic.close()
    out["rms"], out["peak"] = dbfs_levels(got)
    out["check"] = check_microphone("filemic", seconds=0.5).ok
    index = next(m.index for m in list_microphones() if m.name == "filemic")
    by_index = MicrophoneSource(str(index), 48000)
    by_index.open()
    by_index.close()
    for bad in ("99", "no such mic"):
        try:
            MicrophoneSource(bad, 48000).open()
        except MicrophoneNotFound as exc:
            out.setdefault("errors", []).append(str(exc))
            out.setdefault("details", []).append(exc.en)
    print(json.dumps(out, ensure_ascii=False))
""")


def test_pyaudio_reads_the_file_microphone_by_name_and_index_and_refuses_missing_ones(file_microphone):
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=file_microphone,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]  # 139 would be PyAudio's segfault
    out = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert "filemic" in out["names"]
    assert -10.5 <= out["rms"] <= -8.0 and out["peak"] > -7  # a 0.5-amplitude sine: −9 dBFS RMS
    assert out["check"] is True
    assert len(out["errors"]) == 2 and all("麦克风" in e for e in out["errors"])
    assert "microphone 99 not found" in out["details"][0] and "not found" not in out["errors"][0]


def test_a_broadcast_with_the_file_microphone_records_its_tone(file_microphone, tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "capture", "--video", "testsrc", "--audio", "filemic", "--preset", "480p30",
         "--recording-dir", str(tmp_path), "--seconds", "3"],
        cwd=ROOT, env=file_microphone, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert max(line.get("audio_level_dbfs", -96) for line in lines) > -15  # the meter saw the tone
    recording = lines[-1]["recordings"][0]
    mean_db, max_db = audio_levels(recording)
    assert mean_db > -15 and max_db > -10
