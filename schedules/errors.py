"""Domain errors of broadcast plans; messages are Chinese msgids (app/ translates and maps them)."""
from __future__ import annotations


class PlanError(Exception):
    """A plan request that cannot be done; the message is a Chinese message id, ``params`` fill it."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.params = params


class PlanNotFound(PlanError):
    """No such plan, or not one this person may see."""


class PlanConflict(PlanError):
    """The plan overlaps another plan of the same station (``params["other"]`` names it)."""


class PlanInvalid(PlanError):
    """Bad plan input: a repeat rule, a duration, a host or a product that does not fit."""
