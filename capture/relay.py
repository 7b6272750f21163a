"""Destinations: the encoder's MPEG-TS split into packets and one ``ffmpeg -c copy`` relay each.

Why a relay per destination instead of ``tee`` with ``onfail=ignore``: a tee slave that fails
never comes back inside that process. So the encoder writes the recording and an MPEG-TS copy of
the encoded stream on stdout; a fan-out hands that copy to one ``ffmpeg -c copy`` per destination.
Each relay is its own process with its own bounded queue, restarted with backoff when its server
goes away, and a relay that cannot keep up is killed and restarted rather than slowing the
encoder. MPEG-TS because it resynchronises anywhere: a restarted relay joins at the next PAT
(packet id 0, sent every 100 ms and before every keyframe) and ffmpeg drops packets until the
next keyframe. Relays add about 1 % of a core each (no re-encode).
"""
from __future__ import annotations

import logging
import queue
import subprocess
import threading
from collections.abc import Callable

from capture.ffmpeg import progress_number, relay_argv
from capture.process import kill, pump_stderr, stop_process
from capture.redact import mask_url

log = logging.getLogger(__name__)

TS_PACKET = 188


class TsFanout:
    """Splits the encoder's MPEG-TS into whole 188-byte packets and offers them to each relay."""

    def __init__(self) -> None:
        self.relays: list[Relay] = []
        self.bytes_total = 0  # what the destinations are sent: the stream's real bit rate
        self._rest = b""

    def feed(self, data: bytes) -> None:
        """Called from the encoder's stdout thread."""
        self.bytes_total += len(data)
        data = self._rest + data
        cut = len(data) - len(data) % TS_PACKET
        self._rest = data[cut:]
        if cut:
            chunk = data[:cut]
            for relay in self.relays:
                relay.feed(chunk)

    def reset(self) -> None:
        """A new encoder starts a new stream: drop the partial packet of the old one."""
        self._rest = b""


def pat_offset(chunk: bytes) -> int | None:
    """Offset of the first PAT packet (PID 0, payload start) in packet-aligned ``chunk``."""
    for i in range(0, len(chunk) - TS_PACKET + 1, TS_PACKET):
        if chunk[i] == 0x47 and chunk[i + 1] & 0x40 and (chunk[i + 1] & 0x1F) == 0 and chunk[i + 2] == 0:
            return i
    return None


class Relay:
    """One destination: an ``ffmpeg -c copy`` to RTMP, restarted with backoff.

    States: "connecting" (process started), "live" (data reached the server), "retrying"
    (waiting before the next attempt), "failed" (gave up after max_failures; 0 = never).
    ``on_state(relay, state)`` is called on each change. The URL is only ever logged masked.
    """

    QUEUE_CHUNKS = 64  # ~2 MB at 32 KB chunks: several seconds of a 2.5 Mbps stream

    def __init__(
        self,
        ffmpeg: str,
        url: str,
        *,
        backoff: tuple[float, float],
        max_failures: int,
        on_state: Callable[[Relay, str], None],
    ) -> None:
        self.ffmpeg, self.url, self.masked = ffmpeg, url, mask_url(url)
        self.backoff, self.max_failures, self.on_state = backoff, max_failures, on_state
        self.state = "connecting"
        self.failures = 0
        self.attempts = 0
        self.progress: dict[str, str] = {}
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=self.QUEUE_CHUNKS)
        self._proc: subprocess.Popen[bytes] | None = None
        self._synced = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cunbo-relay", daemon=True)

    def start(self) -> None:
        """Start the relay's supervising thread (the first attempt starts at once)."""
        self._thread.start()

    def feed(self, chunk: bytes) -> None:
        """Offer packet-aligned TS bytes; never blocks. A relay that cannot keep up is restarted."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        if not self._synced:
            offset = pat_offset(chunk)
            if offset is None:
                return
            chunk, self._synced = chunk[offset:], True
        try:
            self._queue.put_nowait(chunk)
        except queue.Full:
            log.warning("destination %s is not keeping up; reconnecting it", self.masked)
            kill(proc, f"relay {self.masked}")

    def restart(self) -> None:
        """Reconnect now (the encoder was restarted: a new stream begins)."""
        proc = self._proc
        if proc is not None:
            kill(proc, f"relay {self.masked}")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the relay and its process."""
        self._stop.set()
        proc = self._proc
        if proc is not None:
            kill(proc, f"relay {self.masked}")
        self._thread.join(timeout)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            log.info("destination %s: %s", self.masked, state)
            self.on_state(self, state)

    def _on_progress(self, block: dict[str, str]) -> None:
        self.progress = block
        if (progress_number(block.get("total_size")) or 0) > 0 or (progress_number(block.get("out_time_us")) or 0) > 0:
            if self.state != "live":
                self.failures = 0
                self._set_state("live")

    def _run(self) -> None:
        wait = self.backoff[0]
        while not self._stop.is_set():
            self.attempts += 1
            self._set_state("connecting")
            code = self._attempt()
            if self._stop.is_set():
                break
            if self.state == "live":
                wait = self.backoff[0]  # it worked for a while: start the backoff over
            self.failures += 1
            log.warning("destination %s ended (exit %s, failure %d); retrying in %.1f s",
                        self.masked, code, self.failures, wait)
            if self.max_failures and self.failures >= self.max_failures:
                self._set_state("failed")
                break
            self._set_state("retrying")
            if self._stop.wait(wait):
                break
            wait = min(self.backoff[1], wait * 2)

    def _attempt(self) -> int | None:
        """Run one relay process until it exits or we stop; returns its exit code."""
        while not self._queue.empty():  # stale packets from a previous attempt
            self._queue.get_nowait()
        self._synced = False
        try:
            proc = subprocess.Popen(relay_argv(self.ffmpeg, self.url, rejoin=self.attempts > 1), stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as exc:
            log.error("destination %s: cannot start ffmpeg: %s", self.masked, exc)
            return None
        assert proc.stdin is not None and proc.stderr is not None
        reader = threading.Thread(target=pump_stderr, name="cunbo-relay-stderr", daemon=True,
                                  args=(proc.stderr, f"destination {self.masked}", [self.url], self._on_progress))
        reader.start()
        self._proc = proc
        while not self._stop.is_set() and proc.poll() is None:
            try:
                chunk = self._queue.get(timeout=0.25)
            except queue.Empty:
                continue
            try:
                proc.stdin.write(chunk)
                proc.stdin.flush()
            except (OSError, ValueError):  # the relay died (server gone): the loop sees poll()
                break
        code = stop_process(proc, 2.0, f"relay {self.masked}")
        reader.join(2.0)
        return code
