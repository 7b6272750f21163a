"""What each role sees on the home page: cards that areas register, each with an optional count.

An area adds its cards in its blueprint module with :func:`register_card`; the home page shows the
cards for the person's role whose endpoint exists, so a new area needs no change to the home page.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accounts.models import User


@dataclass(frozen=True)
class HomeCard:
    """One big button on a role's home page. ``title``/``hint`` are msgids (Chinese)."""

    title: str
    hint: str
    endpoint: str
    roles: tuple[str, ...]
    order: int = 50
    primary: bool = False
    count: Callable[[User], int | None] | None = None
    count_label: str = ""


HOME_CARDS: list[HomeCard] = []


def register_card(card: HomeCard) -> None:
    """Add a card (idempotent for the same endpoint and roles)."""
    if any(c.endpoint == card.endpoint and c.roles == card.roles for c in HOME_CARDS):
        return
    HOME_CARDS.append(card)


def cards_for(user: User, endpoints: set[str]) -> list[HomeCard]:
    """The cards this person should see, in order."""
    return sorted(
        (c for c in HOME_CARDS if user.role in c.roles and c.endpoint in endpoints),
        key=lambda c: (c.order, c.title),
    )


@dataclass(frozen=True)
class HomePanel:
    """A block above the cards (e.g. today's broadcast): ``context(user)`` gives the template its
    values, or None when there is nothing to show."""

    template: str
    roles: tuple[str, ...]
    context: Callable[[User], dict[str, Any] | None]
    order: int = 50


HOME_PANELS: list[HomePanel] = []


def register_panel(panel: HomePanel) -> None:
    """Add a panel (idempotent for the same template and roles)."""
    if any(p.template == panel.template and p.roles == panel.roles for p in HOME_PANELS):
        return
    HOME_PANELS.append(panel)


def panels_for(user: User) -> list[tuple[HomePanel, dict[str, Any]]]:
    """The panels this person should see with their values, in order."""
    shown = []
    for panel in sorted(HOME_PANELS, key=lambda p: p.order):
        if user.role in panel.roles:
            values = panel.context(user)
            if values is not None:
                shown.append((panel, values))
    return shown
