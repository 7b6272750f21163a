"""Child processes with deadlines: stopping ffmpeg, reading its stderr, killing a process group.

Every wait here has a timeout and an outcome when it expires (shared/style.md rule 15). One rule
comes from a hang found under load (shared/notes/media-facts.md): ``proc.stdin.close()`` blocks
while another thread is inside ``proc.stdin.write()``, so only the thread that writes a pipe may
close it; anyone else kills the process, which ends the blocked write.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import IO

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from capture.ffmpeg import parse_progress_line
from capture.redact import redact

log = logging.getLogger(__name__)

KILL_WAIT_S = 1.0


def stop_process(proc: subprocess.Popen[bytes], timeout: float, name: str, *, close_stdin: bool = True) -> int | None:
    """close stdin → wait(timeout) → terminate() → wait 1 s → kill() → wait 1 s; never hangs.

    ``close_stdin`` only from the thread that writes the pipe (or when nothing writes it).
    Returns the exit code, or None when even kill did not reap it in time.
    """
    if close_stdin and proc.stdin is not None and not proc.stdin.closed:
        try:
            proc.stdin.close()
        except OSError as exc:  # broken pipe when the child already left: nothing more to flush
            log.debug("%s: closing stdin: %s", name, exc)
    wait = timeout
    for action in (None, proc.terminate, proc.kill):
        if action is not None:
            log.warning("%s did not exit in %.1f s; %s", name, wait, action.__name__)
            try:
                action()
            except ProcessLookupError:
                pass
            wait = KILL_WAIT_S
        try:
            return proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    return proc.poll()


def kill(proc: subprocess.Popen[bytes], name: str) -> None:
    """SIGKILL now (a stalled or unwanted child); reaping is the caller's wait."""
    try:
        proc.kill()
    except ProcessLookupError:
        log.debug("%s already gone", name)


def grow_pipe(fd: int, size: int) -> int | None:
    """Ask the kernel for a pipe buffer of ``size`` bytes on ``fd`` (Linux); returns the size it
    gave, or None where pipes cannot be resized (other systems, a cap below ``size``). Never raises."""
    setter = getattr(fcntl, "F_SETPIPE_SZ", None)  # None too where fcntl is missing
    if setter is None:
        return None
    try:
        return int(fcntl.fcntl(fd, setter, size))
    except OSError as exc:  # above /proc/sys/fs/pipe-max-size: keep the default
        log.debug("pipe buffer of %d bytes refused: %s", size, exc)
        return None


def pump_stderr(stream: IO[bytes], name: str, secrets: list[str], on_progress: Callable[[dict[str, str]], None],
                on_line: Callable[[str], None] | None = None) -> None:
    """Read ffmpeg's stderr until it closes: ``-progress`` blocks go to ``on_progress``, other
    lines to the log with every stream key masked (ffmpeg repeats the output URL in its errors)
    and, unmasked, to ``on_line`` when given."""
    block: dict[str, str] = {}
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip()
        parsed = parse_progress_line(line)
        if parsed is None:
            if line:
                log.warning("%s: %s", name, redact(line, secrets))
                if on_line is not None:
                    on_line(line)
            continue
        key, value = parsed
        block[key] = value
        if key == "progress":
            on_progress(block)
            block = {}
    stream.close()


def detached_popen_kwargs() -> dict[str, object]:
    """Popen options for a child that must outlive its parent (the broadcast worker) and lead its
    own process group, so that its ffmpeg children can be killed together with it."""
    if sys.platform == "win32":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS  # type: ignore[attr-defined]
        return {"creationflags": flags}
    return {"start_new_session": True}


def pid_alive(pid: int) -> bool:
    """True while a process with this id exists (a zombie counts as gone)."""
    if pid <= 0:
        return False
    if sys.platform != "win32":
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
            return state not in (b"Z", b"X")
        except FileNotFoundError:
            return False
        except OSError:
            pass  # no /proc (macOS): fall back to a signal probe
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def command_line(pid: int) -> str:
    """The process's command line ("" when unknown): to check that a pid from a file is still
    the process it was before killing it (pids are reused)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def kill_group(pid: int) -> None:
    """SIGKILL a process and everything in its process group (POSIX); the process alone elsewhere."""
    if sys.platform == "win32":
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(pid)], capture_output=True, timeout=10, check=False)
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
