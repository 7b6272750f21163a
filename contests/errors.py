"""What can go wrong with a contest. Each error carries a Chinese message id and its values;
app/ translates it (gettext) and maps the class to an HTTP status, so nothing here is bilingual."""
from __future__ import annotations

from typing import Any

from db import N_

__all__ = ["N_"]  # re-exported: contests mark their msgids with the one N_ of the domain packages


class ContestError(ValueError):
    """Bad input for a contest operation. ``msgid`` is Chinese; ``params`` fill its ``%(name)s`` slots."""

    def __init__(self, msgid: str, **params: Any) -> None:
        super().__init__(msgid % params if params else msgid)
        self.msgid = msgid
        self.params = params


class NotFound(ContestError):
    """The contest, participant, order or entry does not exist, or this person may not see it."""


class NotAllowed(ContestError):
    """This person may see the contest but may not do this to it."""


class Conflict(ContestError):
    """The request is well formed but the contest's state refuses it."""
