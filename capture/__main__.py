"""``python -m capture``: run one broadcast from the command line, printing status as JSON lines.

Used by operators for a rehearsal and by the crash tests (a process killed with -9 mid-stream).
Stops after ``--seconds`` or on SIGTERM/SIGINT, then prints the stop result.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from pydantic import ValidationError

from capture.errors import CaptureError
from capture.overlay import OverlayScene
from capture.settings import CaptureSettings
from capture.supervisor import Supervisor


def main(argv: list[str] | None = None) -> int:
    """Returns the process exit code: 0 done, 2 bad settings, 3 capture could not start."""
    parser = argparse.ArgumentParser(prog="python -m capture", description=__doc__)
    parser.add_argument("--video", default="testsrc")
    parser.add_argument("--audio", default="none")
    parser.add_argument("--dest", action="append", default=[], help="push URL (repeatable)")
    parser.add_argument("--recording-dir", type=Path, default=Path("recordings"))
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--preset", default="720p30")
    parser.add_argument("--layout", default="landscape")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: until signalled)")
    parser.add_argument("--product", default="", help="product name for the card")
    parser.add_argument("--price-fen", type=int, default=None)
    parser.add_argument("--unit", default="斤")
    parser.add_argument("--status-every", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        settings = CaptureSettings(video=args.video, audio=args.audio, destinations=args.dest,
                                   record=not args.no_record, recording_dir=args.recording_dir,
                                   preset=args.preset, layout=args.layout)
    except ValidationError as exc:
        print(json.dumps({"error": str(exc)}, ensure_ascii=False), flush=True)
        return 2
    supervisor = Supervisor(settings)
    supervisor.set_scene(OverlayScene(product_name=args.product, price_fen=args.price_fen, unit=args.unit))
    try:
        supervisor.start()
    except CaptureError as exc:
        print(json.dumps({"error": str(exc)}, ensure_ascii=False), flush=True)
        return 3
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    deadline = time.monotonic() + args.seconds if args.seconds else None
    while not done.wait(args.status_every):
        print(json.dumps(supervisor.status(), ensure_ascii=False), flush=True)
        if deadline is not None and time.monotonic() >= deadline:
            break
    result = supervisor.stop()
    print(json.dumps({"stopped": True, "recordings": [str(p) for p in result.recordings],
                      "duration_s": round(result.duration_s, 3)}, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
