"""Cunbo's media pipeline: sources → overlay compositor → one ffmpeg encode → recording and RTMP.

No Flask, no database, none of the project's other packages: it takes plain values
(:class:`~capture.settings.CaptureSettings`, :class:`~capture.overlay.OverlayScene`) and reports
plain values (:meth:`~capture.supervisor.Supervisor.status`). Importing it starts nothing.

Entry points: :class:`capture.supervisor.Supervisor`, :mod:`capture.devices` (lists and
pre-flight checks), ``python -m capture`` (a broadcast from the command line).
"""
