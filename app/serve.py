"""Serve Cunbo with waitress on CUNBO_HOST:CUNBO_PORT and stop cleanly on SIGTERM/SIGINT."""
from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from waitress.server import create_server

from app import create_app

SHUTDOWN_HOOKS = "cunbo.shutdown_hooks"


def main() -> int:
    """Run the server in the foreground until a signal arrives; then run the shutdown hooks."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    server = create_server(app, host=app.config["HOST"], port=app.config["PORT"], threads=16)

    def stop(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("cunbo").info("signal %s: stopping", signum)
        server.close()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"村播 Cunbo: http://{app.config['HOST']}:{app.config['PORT']}/  (Ctrl+C 停止)", flush=True)
    try:
        server.run()
    except OSError as exc:
        if server.socket.fileno() != -1:  # a real socket error, not our own close()
            raise
        logging.getLogger("cunbo").debug("server loop ended: %s", exc)
    finally:
        for hook in app.extensions.get(SHUTDOWN_HOOKS, []):
            hook()
    return 0


if __name__ == "__main__":
    sys.exit(main())
