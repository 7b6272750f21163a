"""Serve Cunbo with waitress on CUNBO_HOST:CUNBO_PORT and stop cleanly on SIGTERM/SIGINT."""
from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from waitress.server import create_server

from app import create_app

SHUTDOWN_HOOKS = "cunbo.shutdown_hooks"


class _Stop(SystemExit):
    """Raised by the signal handler to leave waitress's loop in the main thread.

    A SystemExit, because waitress's dispatcher passes any other exception raised inside a
    socket callback to ``handle_error`` and carries on: a signal landing there was lost.
    """


def main() -> int:
    """Run the server in the foreground until SIGTERM/SIGINT; then close it and run the shutdown hooks."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("cunbo")
    app = create_app()
    server = create_server(app, host=app.config["HOST"], port=app.config["PORT"], threads=16)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"村播 Cunbo: http://{app.config['HOST']}:{app.config['PORT']}/  (Ctrl+C 停止)", flush=True)
    try:
        server.run()
    except _Stop as exc:
        log.info("signal %s: stopping", exc.args[0])
    finally:
        # Hooks first (a live broadcast is stopped and its recording closed), then the sockets.
        for hook in app.extensions.get(SHUTDOWN_HOOKS, []):
            hook()
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
