"""ffmpeg command lines as data: pure functions from validated values to ``list[str]``.

One encoder process encodes once (H.264 + AAC) and writes, through the ``tee`` muxer, the
Matroska recording plus an MPEG-TS copy on stdout. Each destination gets its own light
``-c copy`` relay fed from that MPEG-TS (see :mod:`capture.relay` for why).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from capture.errors import N_, FfmpegNotFound
from capture.settings import PRESETS

# Per-preset rate control; constant-ish bit rate because platforms cap ingest bit rate.
PRESET_VIDEO_ARGS: dict[str, list[str]] = {
    name: ["-b:v", f"{p.video_kbps}k", "-maxrate", f"{p.video_kbps}k", "-bufsize", f"{2 * p.video_kbps}k"]
    for name, p in PRESETS.items()
}

# Shared H.264 settings: yuv420p because raw input would otherwise become High 4:4:4 that
# platforms refuse; veryfast because a village PC has two cores.
# zerolatency: no B-frames and no lookahead — less CPU and ~0.7 s less delay, and several
# Chinese platforms ask for B-frames off anyway.
H264_ARGS: list[str] = ["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
                        "-profile:v", "high"]

# Matroska: every packet decodes after a crash. Clusters are closed at least every 1 s and
# flushed to the file at once, so a kill -9 loses about a second, not the default five (mkv
# buffers a cluster in memory, then ffmpeg's 32 KB write buffer).
RECORDING_MUXER = "matroska:cluster_time_limit=1000:flush_packets=1"

# MPEG-TS on stdout: self-synchronising, so a relay started mid-stream can join at any PAT.
# With +global_header (Matroska needs codec headers up front) SPS/PPS are not repeated in-band,
# so dump_extra puts them back on every keyframe for the relays.
RELAY_MUXER = "mpegts:bsfs/v=dump_extra=freq=keyframe"

# The relay reads our own MPEG-TS, whose streams are known: probing it the default 5 s delayed
# every push by 5.2 s (shared/notes/media-facts.md). A short probe still finds the H.264 and AAC
# parameters; with none at all (probesize 32, analyzeduration 0) the relay never went live.
RELAY_INPUT_ARGS: list[str] = ["-fflags", "nobuffer", "-probesize", "65536", "-analyzeduration", "300000"]
# A relay that starts again while the stream runs (after its own crash or an outage) joins
# mid-GOP: the codec parameters come only with the next keyframe (every 2 s), which the short probe
# above gives up before, so every retry failed until one happened to start near a keyframe. Probing
# ends as soon as the parameters are known, so this costs only the wait for that keyframe.
RELAY_REJOIN_ARGS: list[str] = ["-fflags", "nobuffer", "-probesize", "2000000", "-analyzeduration", "2500000"]

PROGRESS_ARGS: list[str] = ["-progress", "pipe:2", "-stats_period", "1", "-nostats"]


def find_ffmpeg(configured: str | None = None) -> str:
    """Return the ffmpeg binary to run: ``configured``, then $CUNBO_FFMPEG, then PATH.

    Raises :class:`FfmpegNotFound` when none of them is an executable file.
    """
    for candidate in (configured, os.environ.get("CUNBO_FFMPEG")):
        if candidate:
            found = shutil.which(candidate)
            if found:
                return found
            raise FfmpegNotFound(N_("找不到 ffmpeg 程序，请检查设置"), f"ffmpeg not found at {candidate}")
    found = shutil.which("ffmpeg")
    if found:
        return found
    raise FfmpegNotFound(N_("电脑上没有安装 ffmpeg，请先运行 ./run.sh 安装"), "ffmpeg not found on PATH")


def find_ffprobe(ffmpeg: str) -> str | None:
    """ffprobe next to ``ffmpeg`` or on PATH, or None (the pip ffmpeg ships none)."""
    sibling = Path(ffmpeg).with_name("ffprobe" + Path(ffmpeg).suffix)
    if sibling.is_file():
        return str(sibling)
    return shutil.which("ffprobe")


def _tee_escape(target: str) -> str:
    # The tee muxer splits on '|' and reads options in '[...]' with av_get_token rules.
    for ch in ("\\", "'", "|", "[", "]"):
        target = target.replace(ch, "\\" + ch)
    return target


def encoder_argv(
    ffmpeg: str,
    *,
    preset: str,
    width: int,
    height: int,
    audio_port: int,
    audio_rate: int,
    audio_channels: int,
    recording: Path | None,
) -> list[str]:
    """The one encoder: raw I420 frames on stdin, s16le PCM from ``tcp://127.0.0.1:audio_port``.

    Writes the recording (when given) and MPEG-TS to stdout, progress lines to stderr.
    Raises KeyError for an unknown preset (settings validation prevents it).
    """
    p = PRESETS[preset]
    outputs = [f"[f={RELAY_MUXER}]pipe:1"]
    if recording is not None:
        outputs.insert(0, f"[f={RECORDING_MUXER}]" + _tee_escape("file:" + str(recording)))
    return [
        ffmpeg, "-hide_banner", "-loglevel", "warning", *PROGRESS_ARGS,
        # Input 0: composited frames. Timestamps come from the frame count, so the output loop
        # must write exactly fps frames per second (it does: constant frame rate).
        # Raw inputs need no probing; probing would wait for data the other pipe has to unblock.
        "-probesize", "32", "-analyzeduration", "0",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-video_size", f"{width}x{height}",
        "-framerate", str(p.fps), "-thread_queue_size", "64", "-i", "pipe:0",
        # Input 1: PCM over a localhost socket (portable, unlike pass_fds); timestamps come from
        # the sample count, which the audio feeder ties to the video frame count.
        "-probesize", "32", "-analyzeduration", "0",
        "-f", "s16le", "-ar", str(audio_rate), "-ch_layout", "stereo" if audio_channels == 2 else "mono",
        "-thread_queue_size", "1024", "-i", f"tcp://127.0.0.1:{audio_port}",
        "-map", "0:v:0", "-map", "1:a:0",
        *H264_ARGS, *PRESET_VIDEO_ARGS[preset],
        # Keyframe every 2 s, and only there, so segments and late viewers start within 2 s.
        "-g", str(2 * p.fps), "-keyint_min", str(2 * p.fps), "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", f"{p.audio_kbps}k", "-ar", "48000", "-ac", "2",
        "-flags", "+global_header",
        "-f", "tee", "|".join(outputs),
    ]


def relay_argv(ffmpeg: str, url: str, *, rejoin: bool = False) -> list[str]:
    """One destination: MPEG-TS on stdin copied (no re-encode) to ``url`` as FLV; ``rejoin``
    when the stream is already running (see :data:`RELAY_REJOIN_ARGS`).

    ``-rw_timeout`` makes a silently dead server an exit (then a reconnect) instead of a hang.
    """
    return [
        ffmpeg, "-hide_banner", "-loglevel", "warning", *PROGRESS_ARGS,
        *(RELAY_REJOIN_ARGS if rejoin else RELAY_INPUT_ARGS), "-f", "mpegts", "-i", "pipe:0",
        "-map", "0", "-c", "copy",
        "-rw_timeout", "10000000",
        "-f", "flv", "-flvflags", "no_duration_filesize", url,
    ]


def overlay_reference_argv(
    ffmpeg: str,
    *,
    source: Path,
    card_png: Path,
    card_xy: tuple[int, int],
    preset: str,
    recording: Path,
    url: str,
    seconds: float,
) -> list[str]:
    """ffmpeg alone doing the pipeline's job (for bench/pipeline.py): file in, PNG overlay, same
    encoder settings, recording plus one RTMP push. Raises KeyError for an unknown preset."""
    p = PRESETS[preset]
    outputs = [f"[f={RECORDING_MUXER}]" + _tee_escape("file:" + str(recording)), f"[f=flv]{url}"]
    return [
        ffmpeg, "-hide_banner", "-loglevel", "warning", "-nostats",
        "-re", "-stream_loop", "-1", "-i", str(source),
        "-loop", "1", "-i", str(card_png),
        "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono",
        "-filter_complex", f"[0:v][1:v]overlay={card_xy[0]}:{card_xy[1]}:shortest=1,fps={p.fps}[v]",
        "-map", "[v]", "-map", "2:a", "-t", f"{seconds:.3f}",
        *H264_ARGS, *PRESET_VIDEO_ARGS[preset],
        "-g", str(2 * p.fps), "-keyint_min", str(2 * p.fps), "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", f"{p.audio_kbps}k", "-ar", "48000", "-ac", "2",
        "-flags", "+global_header",
        "-f", "tee", "|".join(outputs),
    ]


PROGRESS_KEYS = frozenset(
    {"frame", "fps", "bitrate", "total_size", "out_time_us", "out_time_ms", "out_time", "dup_frames",
     "drop_frames", "speed", "progress", "stream_0_0_q", "stream_0_1_q"}
)


def parse_progress_line(line: str) -> tuple[str, str] | None:
    """``"speed=1.01x"`` → ``("speed", "1.01x")``; None for a line that is not progress output."""
    key, sep, value = line.strip().partition("=")
    if not sep or key not in PROGRESS_KEYS:
        return None
    return key, value.strip()


def progress_number(value: str | None) -> float | None:
    """``"2500.1kbits/s"`` → 2500.1, ``"1.01x"`` → 1.01, ``"N/A"`` or None → None."""
    if not value:
        return None
    digits = value.rstrip("kbits/sx ").strip()
    try:
        return float(digits)
    except ValueError:
        return None
