"""What can go wrong with an order or a hand-off, each with a message a person can read.

The HTTP layer maps each class to a status (bad input 400, not visible 404, role 403, conflict 409)
and shows each message in the person's language: a message is a Chinese msgid (marked with
``db.N_``) and the values that fill its ``%(name)s`` slots, never a bilingual literal.
"""
from __future__ import annotations


class OrderError(ValueError):
    """Bad input for an order operation (a missing name, a wrong phone number, …).

    ``msgid`` and ``params`` let the HTTP layer show the message in the person's language
    (``app.i18n.localized``); ``str(exc)`` is the Chinese text. ``field`` names the input at fault
    (``buyer_phone``, ``quantity``…) when there is one, so a form can mark that field and show
    the message beside it.
    """

    def __init__(self, message: str, field: str | None = None, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.msgid = message
        self.params = params
        self.field = field


class NotFound(OrderError):
    """The order, product, batch or partner does not exist, or this person may not see it."""


class NotAllowed(OrderError):
    """This person may see the thing but their role may not do this to it."""


class Conflict(OrderError):
    """The request is well formed but the current state refuses it."""


class OutOfStock(Conflict):
    """Not enough stock left for the quantity asked."""


class DuplicateOrder(Conflict):
    """The same channel and platform order number was already logged: it is one order, not two."""

    def __init__(self, message: str, existing_id: int, **params: object) -> None:
        super().__init__(message, None, **params)
        self.existing_id = existing_id


class OrderFrozen(Conflict):
    """The order is in a hand-off batch and may no longer be edited or cancelled."""

    def __init__(self, message: str, handoff_id: int, **params: object) -> None:
        super().__init__(message, None, **params)
        self.handoff_id = handoff_id


class WrongState(Conflict):
    """The order or batch is not in a state that allows this step (e.g. shipping before pick-up)."""
