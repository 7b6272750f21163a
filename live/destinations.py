"""A host's push destinations: platform, RTMP server and stream key (a secret, always masked)."""
from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from db import N_
from live.models import StreamDestination

PLATFORMS: dict[str, str] = {
    "douyin": "抖音",
    "kuaishou": "快手",
    "taobao": "淘宝直播",
    "channels": "视频号",
    "other": "其他",
}
SCHEMES = ("rtmp", "rtmps")


class DestinationError(ValueError):
    """Bad destination input. ``msgid`` is Chinese and ``params`` fill its slots; the app shows it
    in the person's language (``str(exc)`` is the Chinese text)."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid % params if params else msgid)
        self.msgid = msgid
        self.params = params


def split_push_url(url: str) -> tuple[str, str]:
    """Split a pasted full push URL into (server URL, stream key), as OBS does.

    ``rtmp://host/app/key?sign=…`` → ``("rtmp://host/app", "key?sign=…")``. A URL with only an
    application path has an empty key. Raises :class:`DestinationError` for anything but an
    rtmp:// or rtmps:// URL with a host.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        # The farmer reads this: no scheme names, just where the right address is found.
        raise DestinationError(N_("这不是推流地址：请在平台的直播后台复制完整的推流地址，粘贴到这里"))
    path = parts.path.lstrip("/")
    app, _, key = path.partition("/")
    if not app:
        raise DestinationError(N_("推流地址不完整：请在平台的直播后台复制完整的推流地址，粘贴到这里"))
    server = f"{parts.scheme}://{parts.netloc}/{app}"
    if parts.query:
        key = f"{key}?{parts.query}" if key else ""
        if not key:
            raise DestinationError(N_("推流地址缺少推流码"))
    return server, key


def mask_key(key: str) -> str:
    """A stream key as pages show it: the first and last two characters only."""
    if not key:
        return ""
    if len(key) <= 6:
        return "*" * len(key)
    return f"{key[:2]}{'*' * 6}{key[-2:]}"


def add_destination(session: Session, owner: User, platform: str, server_url: str, stream_key: str = "") -> StreamDestination:
    """Save a destination. A full push URL in ``server_url`` with no key is split into both.

    Raises :class:`DestinationError` for an unknown platform, a bad URL or a missing key.
    """
    if platform not in PLATFORMS:
        raise DestinationError(N_("未知平台 %(platform)s"), platform=repr(platform))
    stream_key = stream_key.strip()
    server, key_in_url = split_push_url(server_url)
    if stream_key and key_in_url:
        server = server_url.strip().rstrip("/")
        split_push_url(server)  # still validated
    key = stream_key or key_in_url
    if not key:
        raise DestinationError(N_("请填写推流码（平台直播后台里“推流码/串流密钥”）"))
    destination = StreamDestination(owner_id=owner.id, platform=platform, server_url=server, stream_key=key)
    session.add(destination)
    session.flush()
    return destination


def destinations_of(session: Session, owner_id: int, *, enabled_only: bool = False) -> list[StreamDestination]:
    """A host's destinations, oldest first."""
    query = select(StreamDestination).where(StreamDestination.owner_id == owner_id)
    if enabled_only:
        query = query.where(StreamDestination.enabled.is_(True))
    return list(session.scalars(query.order_by(StreamDestination.id)))


def get_destination(session: Session, owner_id: int, destination_id: int) -> StreamDestination:
    """One of this host's destinations. Raises :class:`DestinationError` when it is not theirs."""
    destination = session.get(StreamDestination, destination_id)
    if destination is None or destination.owner_id != owner_id:
        raise DestinationError(N_("没有这个推流地址"))
    return destination
