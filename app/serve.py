"""Serve Cunbo with waitress on CUNBO_HOST:CUNBO_PORT and stop cleanly on SIGTERM/SIGINT."""
from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from waitress.server import create_server

from app import create_app
from app.catalog import sweep_photo_files
from capture.malloc import limit_arenas
from live.disk import settle_removals

SHUTDOWN_HOOKS = "cunbo.shutdown_hooks"


class _Stop(SystemExit):
    """Raised by the signal handler to leave waitress's loop in the main thread.

    A SystemExit, because waitress's dispatcher passes any other exception raised inside a
    socket callback to ``handle_error`` and carries on: a signal landing there was lost.
    waitress's ``run`` catches it and closes the server.
    """


def set_up_process() -> None:
    """What the server process settles before any of its threads starts (bench.orders' server too).

    Whatever it writes (database, recordings, clips, photos, backups) is for this user alone:
    buyers' phones and addresses and stream keys live there. And glibc may keep two arenas, not
    one per waitress thread: with one each the heaps only grew, about 1 MB a minute in the soak
    (capture/malloc.py says how it was found).
    """
    os.umask(0o077)
    limit_arenas()


def main() -> int:
    """Run the server in the foreground until SIGTERM/SIGINT; then run the shutdown hooks and close."""
    set_up_process()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("cunbo")
    app = create_app()
    sweep_photo_files(app)
    # A broadcast that outlived a previous server (a crash, kill -9) is taken over, or its
    # session closed with its recordings listed; only the server does this, never a CLI command.
    app.extensions["cunbo.live"].recover()
    # Then the station's one broadcast scheduler (after recover: a planned live that outlived the
    # previous server is known again, so its plan still stops it at its end).
    app.extensions["cunbo.scheduler"].start()
    # Clips a previous server left half-made are queued again and redone (never listed as done).
    app.extensions["cunbo.clips"].start()
    # A delete of clips or a recording cut short by the previous server is settled: files whose
    # rows are still there are put back, the rest removed (live/disk.py).
    with app.extensions["cunbo.sessions"]() as session:
        data_dir = Path(app.config["DATA_DIR"])
        settle_removals(session, app.config["STATION_ID"], [data_dir / "clips", data_dir / "recordings"])
    server = create_server(app, host=app.config["HOST"], port=app.config["PORT"], threads=app.config["SERVER_THREADS"])
    pending_hooks = list(app.extensions.get(SHUTDOWN_HOOKS, []))

    def run_hooks() -> None:
        while pending_hooks:
            pending_hooks.pop(0)()

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signum)
        # First the hooks: a live broadcast is stopped and its recording closed, which also ends
        # every preview stream, so waitress does not wait for those requests to finish.
        run_hooks()
        raise _Stop(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"村播 Cunbo: http://{app.config['HOST']}:{app.config['PORT']}/  (Ctrl+C 停止)", flush=True)
    try:
        server.run()
    finally:
        run_hooks()
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
