"""Spotify response parsing and the 429 policy, without any network (spotipy calls faked)."""

from __future__ import annotations

import datetime
import email.utils
from typing import Any

import pytest
from spotipy import SpotifyException
from spotipy.oauth2 import SpotifyOauthError

from core.cache import TTLLRUCache
from core.spotify import (
    RateLimitError,
    SpotifyAuthError,
    SpotifyClient,
    SpotifyError,
    track_from_api,
)

FULL_TRACK: dict[str, Any] = {
    "id": "abc",
    "name": "Song",
    "artists": [{"name": "A"}, {"name": "B"}],
    "duration_ms": 123456,
    "disc_number": 2,
    "track_number": 7,
    "external_ids": {"isrc": "USRC17607839"},
    "external_urls": {"spotify": "https://open.spotify.com/track/abc"},
    "album": {
        "name": "Album",
        "artists": [{"name": "A"}],
        "release_date": "2010-05-01",
        "total_tracks": 12,
        "images": [
            {"url": "small", "width": 64, "height": 64},
            {"url": "big", "width": 640, "height": 640},
        ],
    },
}


def test_track_from_full_object() -> None:
    t = track_from_api(FULL_TRACK)
    assert (t.title, t.artists, t.album, t.album_artists) == ("Song", ("A", "B"), "Album", ("A",))
    assert (t.track_number, t.track_total, t.disc_number) == (7, 12, 2)
    assert (t.isrc, t.release_date, t.year, t.cover_url) == (
        "USRC17607839",
        "2010-05-01",
        "2010",
        "big",
    )
    assert t.url == "https://open.spotify.com/track/abc"


def client(sleeps: list[float], max_wait: float = 5) -> SpotifyClient:
    # Constructing the client sends nothing; every call below is faked.
    return SpotifyClient(
        "id",
        "secret",
        TTLLRUCache(10, 60),
        max_wait=max_wait,
        api_url="http://unused.invalid/v1/",
        token_url="http://unused.invalid/token",
        sleep=sleeps.append,
    )


def rate_limited(retry_after: str, times: int) -> Any:
    calls = {"n": 0}

    def fn() -> dict[str, str]:
        calls["n"] += 1
        if calls["n"] <= times:
            raise SpotifyException(429, -1, "too many", headers={"Retry-After": retry_after})
        return {"ok": "yes"}

    return fn


def test_429_waits_retry_after_then_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    sleeps: list[float] = []
    assert client(sleeps)._call("track x", rate_limited("2", 2)) == {"ok": "yes"}
    assert sleeps == [2.0, 2.0]
    assert "waiting 2s (Retry-After)" in caplog.text


def test_429_over_cap_fails_with_a_clear_message() -> None:
    sleeps: list[float] = []
    with pytest.raises(RateLimitError, match=r"Retry-After 3600s is over the 5s cap"):
        client(sleeps)._call("playlist p", rate_limited("3600", 1))
    assert sleeps == []


def test_other_http_errors_name_the_request() -> None:
    def fn() -> None:
        raise SpotifyException(404, -1, "http://x/v1/tracks/zz:\n Resource not found")

    with pytest.raises(SpotifyError, match=r"^Spotify track zz: HTTP 404: Resource not found$"):
        client([])._call("track zz", fn)


@pytest.mark.parametrize("retry_after", ["-5", "nan", "soon", ""])
def test_429_with_a_nonsense_retry_after_waits_one_second(retry_after: str) -> None:
    # time.sleep(-5) and time.sleep(nan) raise ValueError, which used to kill the whole run.
    sleeps: list[float] = []
    assert client(sleeps)._call("track x", rate_limited(retry_after, 1)) == {"ok": "yes"}
    assert sleeps == [1.0]


def test_429_with_an_http_date_retry_after_waits_until_then() -> None:
    sleeps: list[float] = []
    when = email.utils.format_datetime(
        datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30), usegmt=True
    )
    assert client(sleeps, 60)._call("track x", rate_limited(when, 1)) == {"ok": "yes"}
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 30


def test_429_without_a_header_waits_one_second() -> None:
    sleeps: list[float] = []

    def fn() -> dict[str, str]:
        if not sleeps:
            raise SpotifyException(429, -1, "too many", headers=None)
        return {"ok": "yes"}

    assert client(sleeps)._call("track x", fn) == {"ok": "yes"}
    assert sleeps == [1.0]


def test_429_retry_after_zero_forever_gives_up_saying_why() -> None:
    # Not "Retry-After 0s is over the 5s cap": 0 is under the cap; we gave up after N waits.
    sleeps: list[float] = []
    with pytest.raises(RateLimitError) as exc:
        client(sleeps)._call("album a", rate_limited("0", 100))
    assert len(sleeps) == 5
    assert str(exc.value) == (
        "Spotify album a: still rate limited (HTTP 429) after 5 waits; try again later"
    )


def test_rejected_credentials_are_a_distinct_error() -> None:
    def fn() -> None:
        raise SpotifyOauthError("bad", error="invalid_client", error_description="Invalid client")

    with pytest.raises(
        SpotifyAuthError, match=r"^Spotify login failed: the credentials were rejected"
    ):
        client([])._call("track x", fn)
