"""A host's remembered console choices (camera, microphone, quality, layout, QR text, recognition mode)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from live.models import HostProfile


CHOICES = frozenset({"video", "audio", "preset", "layout", "qr_text", "recognition"})


def profile_of(session: Session, user_id: int) -> HostProfile:
    """The host's profile, or an unsaved one with the defaults."""
    return session.get(HostProfile, user_id) or HostProfile(
        user_id=user_id, video="0", audio="default", preset="720p30", layout="landscape", qr_text="",
        recognition="off",
    )


def remember(session: Session, user_id: int, **choices: str) -> HostProfile:
    """Save the given choices (video, audio, preset, layout, qr_text, recognition) for next time.
    Raises ValueError for a choice that is not one of those."""
    profile = session.get(HostProfile, user_id)
    if profile is None:
        profile = profile_of(session, user_id)
        session.add(profile)
    for name, value in choices.items():
        if name not in CHOICES:
            raise ValueError(f"unknown console choice {name!r}")
        setattr(profile, name, value)
    session.flush()
    return profile
