#!/usr/bin/env bash
# Set up (first time) and run Cunbo at http://CUNBO_HOST:CUNBO_PORT (default 127.0.0.1:8000).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
.venv/bin/flask --app wsgi setup
exec .venv/bin/python -m app.serve
