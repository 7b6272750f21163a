"""The live session: the one broadcast of this station, its durable record and its worker.

:mod:`live.service` starts, reattaches to and stops the broadcast worker (:mod:`capture.worker`)
and keeps the session row — the truth about what runs and what is on screen — in step with it.
:mod:`live.models` holds sessions, segments, recordings, push destinations and host profiles.
"""
