"""Product changes, published after they are committed: the live video follows by itself.

Every writer of price, promotion or stock (orders, cancellations, catalog edits, bulk stock,
imports) changes products either through the ORM (caught here by a flush listener) or through
atomic SQL (which calls :func:`touched`, as :func:`stock_written` does). When the session
commits, the ids are handed to every subscriber; a rollback forgets them. So no view has to
remember to tell the live engine, and nothing is published that did not happen.

Subscribers run on the committing thread and must return at once (the live service only puts
the id in a queue). Writes made by other stations on a shared PostgreSQL are not seen here; the
live service re-reads its on-screen product every few seconds for those.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from catalog.models import Product

log = logging.getLogger(__name__)

_KEY = "cunbo.changed_products"
Subscriber = Callable[[frozenset[int]], None]
_subscribers: list[Subscriber] = []
_lock = threading.Lock()


def subscribe(callback: Subscriber) -> None:
    """Call ``callback(product_ids)`` after each commit that changed products."""
    with _lock:
        _subscribers.append(callback)


def unsubscribe(callback: Subscriber) -> None:
    with _lock:
        if callback in _subscribers:
            _subscribers.remove(callback)


def touched(session: Session, product_ids: Iterable[int]) -> None:
    """Note products changed by SQL the ORM does not see; published if the session commits."""
    session.info.setdefault(_KEY, set()).update(product_ids)


def stock_written(session: Session, product_id: int, stock: int) -> None:
    """A stock written by atomic SQL: let a Product loaded in this session see it (without
    marking it dirty or reloading) and publish the change after commit."""
    product = session.identity_map.get(session.identity_key(Product, product_id))  # type: ignore[arg-type]
    if product is not None:
        set_committed_value(product, "stock", stock)
    touched(session, (product_id,))


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context: Any) -> None:
    # After a flush the new/dirty/deleted lists still show what was flushed, ids assigned.
    ids = {obj.id for obj in (*session.new, *session.dirty, *session.deleted) if isinstance(obj, Product)}
    if ids:
        touched(session, ids)


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: nothing is committed until the outer transaction is
    ids = session.info.pop(_KEY, None)
    if not ids:
        return
    changed = frozenset(ids)
    with _lock:
        subscribers = list(_subscribers)
    for callback in subscribers:
        try:
            callback(changed)
        except Exception:  # a broken subscriber must not fail the commit that already happened
            log.exception("product change subscriber failed")


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    # A savepoint rolled back (e.g. a duplicate order number) keeps what the outer transaction
    # changed before it; only the whole transaction's rollback forgets everything.
    if not session.in_nested_transaction():
        session.info.pop(_KEY, None)
