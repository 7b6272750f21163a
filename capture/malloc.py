"""Cunbo's processes' allocator: two arenas (the web server and the broadcast worker), and in the
worker the heaps' free pages given back now and then.

Why (issue 15, measured in the soak): the worker allocates and frees 1.4–2.7 MB frames several
times per frame (decode, conversion, composite) on long-lived threads, while every channel request
— a scene change renders Pillow cards on it — runs on a short thread of its own. After the first
large block is freed glibc raises its mmap threshold to its size, so every later frame comes from
an arena's heap (one arena per thread, up to 8 × cores); cached cards and other long-lived blocks
settle between the frames, the space freed around them cannot go back to the system, and the
heaps only grow. In the worker, Python's own memory (tracemalloc) stayed flat at 17 MB while the
heaps' free space went 50 → 80 MB in three minutes of scene changes, and ``malloc_trim`` gave
40 MB back at once.

Holding the mmap threshold low (every frame its own mapping) cured the growth but cost about 4 ms
of CPU per frame in page faults, too much for the 30 fps loop on a 2-core PC. Two arenas (fewer
heaps to fragment, set once) and ``malloc_trim`` every few seconds (the free pages inside the
heaps returned, milliseconds of work) keep the memory flat at no per-frame cost. Other C libraries
(Windows, macOS, musl) have no such calls: nothing is done there.

The web server (app.serve) had the same kind of growth for the same kind of reason: each of
waitress's 16 threads got an arena of its own (glibc allows 8 per core), and each heap crept up
to its own high-water mark as requests of every size landed on every thread — about 1 MB a minute
in the soak (4 orders a second, a page a second, a product switch every 3 s), while Python's own
memory (tracemalloc, 6.6 → 7.2 MB in five minutes, most of it requests in flight) and SQLite's
(``sqlite3_memory_used``, flat at 1.2 MB) stayed put. With two arenas the same soak gave +0.6 MB
in four minutes, against +3.9 MB with the defaults, and started 6 MB lower. The server needs no
trimming: doing it as well every 10 s changed little (+1.6 MB over the same minutes).
"""
from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt parameter (glibc <malloc.h>)
ARENA_MAX = 2
TRIM_EVERY_S = 10.0  # how often the worker gives the heaps' free pages back


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes, libc.mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = (ctypes.c_size_t,), ctypes.c_int
    except (OSError, ValueError, AttributeError):  # no confstr name, no C library, no such function
        return None
    return libc


_LIBC = _glibc()


def limit_arenas(arena_max: int = ARENA_MAX) -> bool:
    """Allow this process at most ``arena_max`` glibc arenas (children such as ffmpeg keep their
    defaults). Call it early, before the threads start. Returns whether it took (False off
    glibc); never raises."""
    if _LIBC is None:
        return False
    done = bool(_LIBC.mallopt(M_ARENA_MAX, arena_max))
    if not done:
        log.warning("glibc refused the arena limit; the worker's memory may grow with fragmentation")
    return done


def give_back_free_memory() -> bool:
    """Return the free pages inside this process's heaps to the system (``malloc_trim(0)``).
    True when glibc released any; False when none or off glibc. Never raises."""
    return bool(_LIBC.malloc_trim(0)) if _LIBC is not None else False
