"""The broadcast worker gives freed frames back to the system (issue 15: its memory grew 7 MB a
minute in the soak from glibc heap fragmentation; capture/malloc.py says how it was found, and the
worker calls ``give_back_free_memory`` every ``TRIM_EVERY_S``); the web server keeps two arenas,
not one per waitress thread (its memory grew about 1 MB a minute with one each).

Each case runs in a fresh interpreter with the worker's modules imported, since allocator
settings last for a process's life. On a thread, one decoded 720p source frame (BGR) is freed
first — glibc then raises its mmap threshold to its size, as at a running worker's first frame —
then 64 I420 frames are made, a smaller block is allocated above them and the frames are freed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, sys, threading
import numpy as np, psutil
import capture.worker
from capture.malloc import give_back_free_memory
FRAME = 1280 * 720 * 3 // 2  # one 720p I420 frame
figures = {}

def frames_made_and_freed():  # on a thread of its own, as the worker's capture and output threads
    rss = lambda: psutil.Process().memory_info().rss / 2**20
    np.ones(1280 * 720 * 3, np.uint8)  # a decoded BGR source frame, made and freed
    before = rss()
    frames = [np.ones(FRAME, np.uint8) for _ in range(64)]
    figures["held_mb"] = rss() - before
    pinned = np.ones(96 * 1024, np.uint8)  # a smaller long-lived block above them (a cached card plane)
    del frames
    if sys.argv[1] == "given back":
        figures["released"] = give_back_free_memory()
    figures["kept_mb"] = rss() - before

thread = threading.Thread(target=frames_made_and_freed)
thread.start()
thread.join(30)
print(json.dumps(figures))
"""

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION"),
                                reason="glibc's allocator settings")


def _kept_after_free(setup: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}  # glibc's own tunables
    done = subprocess.run([sys.executable, "-c", SCRIPT, setup], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True, env=env)
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


@glibc_only
@pytest.mark.timeout(120)
def test_freed_frames_stay_in_the_heap_with_glibc_defaults():
    """The cause, shown: with the defaults the freed frames' memory stays with the process."""
    figures = _kept_after_free("defaults")
    assert figures["held_mb"] > 80
    assert figures["kept_mb"] > 0.5 * figures["held_mb"], figures


@glibc_only
@pytest.mark.timeout(120)
def test_the_worker_gives_freed_frames_back_to_the_system():
    figures = _kept_after_free("given back")
    assert figures["released"]
    assert figures["held_mb"] > 80
    assert figures["kept_mb"] < 16, figures


def test_the_arena_limit_never_raises_and_says_whether_it_took():
    from capture.malloc import limit_arenas

    assert limit_arenas() is bool(sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION"))


ARENAS = r"""
import ctypes, sys, tempfile, threading
if sys.argv[1] == "server":
    from app.serve import set_up_process
    set_up_process()
libc = ctypes.CDLL(None)
libc.fopen.restype, libc.fopen.argtypes = ctypes.c_void_p, (ctypes.c_char_p, ctypes.c_char_p)
libc.fclose.argtypes = (ctypes.c_void_p,)
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
together = threading.Barrier(16)
held = []

def request():  # one of waitress's 16 threads, all serving at once
    together.wait(20)
    held.append([bytearray(4096) for _ in range(64)])  # past Python's small-object allocator: glibc's malloc
    together.wait(20)

threads = [threading.Thread(target=request) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(30)
with tempfile.NamedTemporaryFile("r") as report:
    fp = libc.fopen(report.name.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(report.read().count("<heap nr="))
"""


def _arenas_after_16_threads(setup: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", ARENAS, setup], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True, env=env)
    return int(done.stdout.split()[-1])


@glibc_only
@pytest.mark.timeout(120)
def test_the_web_server_keeps_two_arenas_however_many_threads_serve():
    assert _arenas_after_16_threads("defaults") > 2, "the cause, shown: by default each thread gets an arena"
    assert _arenas_after_16_threads("server") <= 2
