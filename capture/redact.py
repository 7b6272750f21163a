"""Masking of stream keys: they never appear in logs, status or pages.

A push URL is ``rtmp://host[:port]/app/KEY[?query]``; the key (everything after the application
name, slashes included, as OBS splits it), any query values (platforms sign URLs there) and any
password are secrets.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

_MASK = "****"
# A secret shorter than this is masked inside its URL and as ``name=value``, not wherever the same
# few characters occur: masking "1" everywhere mangled every number in a log line.
MIN_LOOSE_SECRET = 6


def mask_secret(secret: str) -> str:
    """``abcdefyz`` → ``ab****yz``; short secrets are masked whole (keeping 4 of 6 would reveal them)."""
    if len(secret) >= 8:
        return f"{secret[:2]}{_MASK}{secret[-2:]}"
    return _MASK if secret else ""


def _secrets(url: str) -> list[str]:
    """The secret parts of a push URL, longest first (so replacing never leaves a suffix behind)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url] if url else []
    found: list[str] = []
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) >= 2:  # app/key: the app name is public, the rest is the key
        found.append("/".join(segments[1:]))
        found.append(segments[-1])
    found.extend(value for _, value in parse_qsl(parts.query, keep_blank_values=False) if value)
    if parts.password:
        found.append(parts.password)
    return sorted({s for s in found if s}, key=len, reverse=True)


def mask_url(url: str) -> str:
    """Return ``url`` with its stream key, query values and password masked.

    ``rtmp://live.example.com/app/abcdef123yz`` → ``rtmp://live.example.com/app/ab****yz``.
    Never raises: text that is not a URL comes back masked whole when it could be a key.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_secret(url)
    if not parts.scheme or not parts.netloc:
        return url if "/" in url else mask_secret(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.username:
        host = f"{parts.username}:{_MASK}@{host}" if parts.password else f"{parts.username}@{host}"
    segments = parts.path.split("/")
    nonempty = [i for i, s in enumerate(segments) if s]
    path = parts.path
    if len(nonempty) >= 2:  # the whole key, even one with slashes in it, not only its last part
        start = nonempty[1]
        path = "/".join(segments[:start]) + "/" + mask_secret("/".join(segments[start:]))
    query = "&".join(f"{k}={mask_secret(v)}" for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return f"{parts.scheme}://{host}{path}" + (f"?{query}" if query else "")


def redact(text: str, urls: list[str]) -> str:
    """Replace every URL in ``urls`` and each of its secret parts inside ``text`` by masked forms.

    Used on ffmpeg's stderr before it reaches a log: ffmpeg repeats the output URL in its errors.
    """
    for url in urls:
        if url:
            text = text.replace(url, mask_url(url))
        for secret in _secrets(url):
            if len(secret) >= MIN_LOOSE_SECRET:
                text = text.replace(secret, mask_secret(secret))
        try:
            query = parse_qsl(urlsplit(url).query, keep_blank_values=False)
        except ValueError:
            query = []
        for name, value in query:
            if len(value) < MIN_LOOSE_SECRET:
                text = text.replace(f"{name}={value}", f"{name}={mask_secret(value)}")
    return text
