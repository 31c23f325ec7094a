"""The real spotipy-based client against the fake Spotify Web API on 127.0.0.1."""

from __future__ import annotations

import os
import time

import pytest

from core.cache import TTLLRUCache
from core.spotify import RateLimitError, SpotifyClient, SpotifyError
from tests.fixtures.fake_spotify import FakeSpotify


def client(fake: FakeSpotify, max_wait: float = 5, secret: str | None = None) -> SpotifyClient:
    return SpotifyClient(
        fake.client_id,
        secret or fake.client_secret,
        TTLLRUCache(1000, 3600),
        max_wait=max_wait,
        api_url=fake.api_url,
        token_url=fake.url + "/api/token",
    )


@pytest.fixture
def fake(no_proxy_env: None) -> FakeSpotify:
    server = FakeSpotify().start()
    yield server
    server.stop()


def tracks(n: int, prefix: str = "Song", isrc: bool = True) -> list[dict[str, object]]:
    return [
        {
            "name": f"{prefix} {i:03d}",
            "duration_ms": 1500 + i,
            "isrc": f"QZ{prefix[:3].upper()}{i:07d}" if isrc else None,
        }
        for i in range(1, n + 1)
    ]


def test_track(fake: FakeSpotify) -> None:
    a = fake.add_artist("Artist")
    al = fake.add_album("Album", [a], tracks(1), cover_url="http://img/1.jpg")
    tid = fake.album_tracks[al][0]
    t = client(fake).track(tid)
    assert (t.title, t.artists, t.album, t.isrc, t.cover_url) == (
        "Song 001",
        ("Artist",),
        "Album",
        "QZSON0000001",
        "http://img/1.jpg",
    )
    assert fake.token_requests == 1


def test_album_with_more_tracks_than_a_page_and_two_discs(fake: FakeSpotify) -> None:
    a = fake.add_artist("Artist", ["ambient"])
    specs = tracks(55)
    for spec in specs[40:]:
        spec["disc_number"] = 2
    al = fake.add_album("Long", [a], specs)
    coll = client(fake).album(al)
    assert [t.title for t in coll.tracks] == [f"Song {i:03d}" for i in range(1, 56)]
    assert all(t.isrc for t in coll.tracks)  # completed from the full track objects
    assert (
        coll.tracks[-1].disc_number,
        coll.tracks[-1].disc_total,
        coll.tracks[-1].track_number,
    ) == (2, 2, 15)
    assert any("/albums/" in r and "offset=50" in r for r in fake.requests)


def test_artist_albums_and_singles_paged_and_deduplicated(fake: FakeSpotify) -> None:
    a = fake.add_artist("Prolific", ["synthpop"])
    album = fake.add_album("LP", [a], tracks(2, "Hit"))
    first_hit = fake.tracks[fake.album_tracks[album][0]]
    # the same recording as a single (same ISRC) and a radio edit re-release (same name+length)
    fake.add_album(
        "Hit 001 (single)",
        [a],
        [{"name": "Hit 001", "duration_ms": 1501, "isrc": first_hit["external_ids"]["isrc"]}],
        album_type="single",
    )
    fake.add_album(
        "Hit 002",
        [a],
        [{"name": "Hit 002", "duration_ms": 1502, "isrc": None}],
        album_type="single",
    )
    for i in range(55):  # more releases than one page of 50
        fake.add_album(
            f"Single {i}",
            [a],
            [{"name": f"Other {i:02d}", "duration_ms": 2000, "isrc": f"QZOTH{i:07d}"}],
            album_type="single",
        )
    fake.add_album("Compilation", [a], tracks(1, "Comp"), album_type="compilation")
    coll = client(fake).artist(a)
    titles = [t.title for t in coll.tracks]
    assert titles[:2] == ["Hit 001", "Hit 002"]
    assert titles.count("Hit 001") == 1 and titles.count("Hit 002") == 1
    assert len(titles) == 2 + 55
    assert "Comp 001" not in titles
    assert coll.tracks[0].genres == ("synthpop",)
    assert any(
        "include_groups=album%2Csingle" in r or "include_groups=album,single" in r
        for r in fake.requests
    )


def test_playlist_all_pages_with_null_local_and_episode(fake: FakeSpotify) -> None:
    a = fake.add_artist("Various")
    al = fake.add_album("Pool", [a], tracks(130))
    ids = fake.album_tracks[al]
    entries: list[str | None] = [*ids[:10], None, *ids[10:100], "local:My Demo.mp3"]
    entries += [*ids[100:110], "episode:Episode 12", *ids[110:120]]
    entries += ["track-shaped-episode:Episode 13", *ids[120:130]]
    pid = fake.add_playlist("Big Mix", entries)
    coll = client(fake).playlist(pid)
    assert coll.name == "Big Mix"
    assert [t.id for t in coll.tracks] == ids  # order kept, specials removed
    assert coll.warnings == [
        "playlist 'Big Mix' position 11: empty entry, skipped",
        "playlist 'Big Mix' position 102: local file 'My Demo.mp3' is not on Spotify, skipped",
        "playlist 'Big Mix' position 113: episode 'Episode 12' is not a song, skipped",
        "playlist 'Big Mix' position 124: episode 'Episode 13' is not a song, skipped",
    ]
    assert any(f"/playlists/{pid}/tracks" in r and "offset=100" in r for r in fake.requests)


def test_429_short_retry_after_waits_and_succeeds(
    fake: FakeSpotify, caplog: pytest.LogCaptureFixture
) -> None:
    a = fake.add_artist("A")
    tid = fake.album_tracks[fake.add_album("B", [a], tracks(1))][0]
    fake.rate_limit(f"/v1/tracks/{tid}", retry_after=1, times=1)
    start = time.monotonic()
    assert client(fake).track(tid).title == "Song 001"
    assert time.monotonic() - start >= 1.0
    assert "waiting 1s (Retry-After)" in caplog.text


def test_429_over_the_cap_fails_fast(fake: FakeSpotify) -> None:
    a = fake.add_artist("A")
    al = fake.add_album("B", [a], tracks(1))
    pid = fake.add_playlist("P", fake.album_tracks[al])
    fake.rate_limit(f"/v1/playlists/{pid}", retry_after=86400, times=1)
    start = time.monotonic()
    with pytest.raises(RateLimitError, match=r"Retry-After 86400s is over the 5s cap"):
        client(fake, max_wait=5).playlist(pid)
    assert time.monotonic() - start < 5


def test_responses_are_cached(fake: FakeSpotify) -> None:
    a = fake.add_artist("A")
    tid = fake.album_tracks[fake.add_album("B", [a], tracks(1))][0]
    c = client(fake)
    c.track(tid)
    c.track(tid)
    assert sum(1 for r in fake.requests if r.startswith(f"/v1/tracks/{tid}")) == 1


def test_wrong_credentials_and_unknown_ids_fail_clearly(fake: FakeSpotify) -> None:
    with pytest.raises(SpotifyError, match="Spotify login failed"):
        client(fake, secret="wrong").track("x")
    with pytest.raises(SpotifyError, match="HTTP 404"):
        client(fake).track("doesnotexist")


@pytest.mark.skipif(
    not os.environ.get("SPOTIFY_CLIENT_ID"),
    reason="needs real Spotify credentials (SPOTIFY_CLIENT_ID)",
)
def test_real_spotify_track() -> None:
    c = SpotifyClient(
        os.environ["SPOTIFY_CLIENT_ID"],
        os.environ.get("SPOTIFY_CLIENT_SECRET", ""),
        TTLLRUCache(10, 60),
        api_url="https://api.spotify.com/v1/",
        token_url="https://accounts.spotify.com/api/token",
    )
    assert c.track("4PTG3Z6ehGkBFwjybzWkR8").title == "Never Gonna Give You Up"
