"""Push destinations: a pasted push URL is split as OBS does, keys are required and masked."""
from __future__ import annotations

import pytest

from live import destinations as dest
from tests import factories


@pytest.mark.parametrize(
    ("url", "server", "key"),
    [
        ("rtmp://push.example.com/live/abc123", "rtmp://push.example.com/live", "abc123"),
        ("rtmp://127.0.0.1:1935/live/key-1", "rtmp://127.0.0.1:1935/live", "key-1"),
        ("rtmps://live.example.com:443/rtmp/FB-1-2?s_bl=1", "rtmps://live.example.com:443/rtmp", "FB-1-2?s_bl=1"),
        ("rtmp://push.example.com/third/stream-9?expire=1&sign=ab", "rtmp://push.example.com/third", "stream-9?expire=1&sign=ab"),
        ("  rtmp://h/app  ", "rtmp://h/app", ""),
    ],
)
def test_push_url_is_split_into_server_and_key(url, server, key):
    assert dest.split_push_url(url) == (server, key)


@pytest.mark.parametrize("url", ["http://example.com/live/x", "rtmp:///live/x", "rtmp://host", "ftp://h/a/b", ""])
def test_bad_push_urls_are_refused_with_a_reason(url):
    with pytest.raises(dest.DestinationError) as info:
        dest.split_push_url(url)
    assert str(info.value)


def test_keys_are_masked():
    assert dest.mask_key("abcdefgh1234") == "ab******34"
    assert dest.mask_key("abc") == "***"
    assert dest.mask_key("") == ""


def test_adding_a_full_url_keeps_server_and_key_apart(app, session):
    farmer = factories.user(session, "farmer")
    saved = dest.add_destination(session, farmer, "douyin", "rtmp://push.example.com/live/secret-key-42")
    session.commit()
    assert (saved.server_url, saved.stream_key) == ("rtmp://push.example.com/live", "secret-key-42")
    assert saved.push_url == "rtmp://push.example.com/live/secret-key-42"


def test_server_and_key_given_apart(app, session):
    farmer = factories.user(session, "farmer")
    saved = dest.add_destination(session, farmer, "kuaishou", "rtmp://push.example.com/live/", "k-1")
    assert saved.push_url == "rtmp://push.example.com/live/k-1"


def test_a_destination_without_key_is_refused(app, session):
    farmer = factories.user(session, "farmer")
    with pytest.raises(dest.DestinationError, match="推流码"):
        dest.add_destination(session, farmer, "douyin", "rtmp://push.example.com/live")


def test_only_the_owner_can_reach_a_destination(app, session):
    wang, li = factories.user(session, "farmer"), factories.user(session, "farmer")
    saved = dest.add_destination(session, wang, "douyin", "rtmp://h/live/k1")
    session.commit()
    assert dest.get_destination(session, wang.id, saved.id) is saved
    with pytest.raises(dest.DestinationError):
        dest.get_destination(session, li.id, saved.id)
