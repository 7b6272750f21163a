"""The broadcast worker's allocator settings: keep frame-sized buffers out of glibc's heaps.

Why (issue 15, measured in the soak): the worker allocates and frees a 1.4 MB I420 frame several
times per frame (capture conversion, composite), on long-lived threads, while every channel
request — a scene change renders Pillow cards on it — runs on a short thread of its own. glibc
serves a large block from ``mmap`` only until the first one is freed; then it raises its mmap
threshold to that size (up to 32 MB) and serves every later frame from an arena's heap, one arena
per thread up to 8 × cores. Cached cards and other long-lived blocks land between frames, the
freed space cannot go back to the system, and the heaps only grow: Python's own memory
(tracemalloc) stayed flat at 17 MB while the heaps' free space went 50 → 80 MB in three minutes
and ``malloc_trim`` gave 40 MB back at once.

With a fixed mmap threshold every frame is its own mapping, returned to the system when freed,
and two arenas leave fewer heaps to fragment. Other C libraries (Windows, macOS, musl) have no
such settings: nothing is changed there.
"""
from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger(__name__)

# mallopt parameters (glibc <malloc.h>)
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, held fixed: a 720p card plane or frame is above it
ARENA_MAX = 2


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
        return ctypes.CDLL(None)
    except (OSError, ValueError, AttributeError):  # no confstr name, or no C library to open
        return None


def keep_frames_out_of_heap(mmap_threshold: int = MMAP_THRESHOLD, arena_max: int = ARENA_MAX) -> bool:
    """Hold glibc's mmap threshold at ``mmap_threshold`` bytes (blocks that large are mapped and
    unmapped on their own) and allow at most ``arena_max`` arenas, for this process only (children
    such as ffmpeg keep their defaults). Call it early, before the threads start. Returns whether
    the settings took (False off glibc); never raises."""
    libc = _glibc()
    if libc is None:
        return False
    try:
        mallopt = libc.mallopt
    except AttributeError:
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_ARENA_MAX, arena_max))
    if not done:
        log.warning("glibc refused the worker's allocator settings; memory may grow with fragmentation")
    return done
