"""Broadcast plans and the scheduler that starts and stops them through :mod:`live`."""
