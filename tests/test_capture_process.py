"""Small process helpers of capture.process."""
from __future__ import annotations

import os
import sys

import pytest

from capture.process import grow_pipe


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipes are resized on Linux only")
def test_a_pipe_grows_to_hold_what_the_reader_lets_gather():
    import fcntl

    read_end, write_end = os.pipe()
    try:
        assert fcntl.fcntl(read_end, fcntl.F_GETPIPE_SZ) < 1 << 20  # the default is 64 KB
        assert grow_pipe(read_end, 1 << 20) == 1 << 20
        assert fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ) == 1 << 20  # one buffer for both ends
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_pipe_that_cannot_grow_is_left_as_it_is():
    read_end, write_end = os.pipe()
    os.close(read_end)
    os.close(write_end)
    assert grow_pipe(read_end, 1 << 20) is None  # closed: refused, never raised
